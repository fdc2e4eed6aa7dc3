"""FLoM, the Free LOck Manager, from Python: the C API of ``libflom.so.0``
through ctypes.

Two ways to use it:

* the C binding's names: ``flom_handle_t()``, ``flom_handle_init(h)``,
  ``flom_handle_lock(h)``, ``flom_handle_set_resource_name(h, "x")``,
  ``flom_strerror(rc)``, ``FLOM_RC_OK`` ... (as C FLoM's SWIG module);
* ``with flom.lock("name", mode="EX", timeout=1000) as element:`` which
  raises :class:`FlomError` when the lock is not obtained and unlocks at the
  end of the block.

The library is ``$FLOM_LIBRARY`` when set, else ``libflom.so.0`` from the
dynamic linker's search path.
"""

import contextlib
import ctypes
import os

from ._codes import *  # noqa: F401,F403  (FLOM_RC_*, FLOM_ES_*)
from ._codes import RETURN_CODES

__all__ = []  # filled below: every public name of the C API plus the helpers

TRUE = 1
FALSE = 0

FLOM_LOCK_MODE_NL = 0
FLOM_LOCK_MODE_CR = 1
FLOM_LOCK_MODE_CW = 2
FLOM_LOCK_MODE_PR = 3
FLOM_LOCK_MODE_PW = 4
FLOM_LOCK_MODE_EX = 5
FLOM_LOCK_MODE_N = 6
FLOM_LOCK_MODE_INVALID = 7

FLOM_HANDLE_STATE_INIT = 22
FLOM_HANDLE_STATE_CONNECTED = 23
FLOM_HANDLE_STATE_LOCKED = 24
FLOM_HANDLE_STATE_DISCONNECTED = 25
FLOM_HANDLE_STATE_CLEANED = 26

_MODES = {"NL": 0, "CR": 1, "CW": 2, "PR": 3, "PW": 4, "EX": 5}


class flom_handle_t(ctypes.Structure):
    """The C handle (same layout as ``flom_handle_t``); pass it to the
    ``flom_handle_*`` functions."""

    _fields_ = [
        ("state", ctypes.c_int),
        ("conn", ctypes.c_void_p),
        ("config", ctypes.c_void_p),
        ("locked_element", ctypes.c_char_p),
    ]


_HandleP = ctypes.POINTER(flom_handle_t)


def _load():
    name = os.environ.get("FLOM_LIBRARY") or "libflom.so.0"
    try:
        return ctypes.CDLL(name)
    except OSError as e:
        raise ImportError(
            "flom: cannot load %s (%s): install libflom (make install) or set "
            "FLOM_LIBRARY to the library's path" % (name, e)
        ) from e


_lib = _load()


def _text(value):
    return None if value is None else value.decode("utf-8", "replace")


def _arg(value):
    if value is None:
        return None
    if isinstance(value, bytes):
        return value
    return str(value).encode("utf-8")


def _bind(name, restype, argtypes):
    fn = getattr(_lib, name)
    fn.restype = restype
    fn.argtypes = argtypes
    return fn


def _export(name, fn):
    fn.__name__ = name
    globals()[name] = fn
    __all__.append(name)


_strerror = _bind("flom_strerror", ctypes.c_char_p, [ctypes.c_int])


def flom_strerror(ret_cod):
    """The text of a return code."""
    return _text(_strerror(int(ret_cod)))


_export("flom_strerror", flom_strerror)

for _name in ("init", "clean", "lock", "unlock", "unlock_rollback"):
    _export("flom_handle_" + _name,
            _bind("flom_handle_" + _name, ctypes.c_int, [_HandleP]))

_new = _bind("flom_handle_new", _HandleP, [])
_delete = _bind("flom_handle_delete", None, [_HandleP])


def flom_handle_new():
    """A new initialised handle allocated by the library (None on failure);
    free it with flom_handle_delete."""
    h = _new()
    return h if h else None


def flom_handle_delete(handle):
    """Cleans and frees a handle returned by flom_handle_new (None accepted)."""
    _delete(handle)


_export("flom_handle_new", flom_handle_new)
_export("flom_handle_delete", flom_handle_delete)

_get_element = _bind("flom_handle_get_locked_element", ctypes.c_char_p, [_HandleP])


def flom_handle_get_locked_element(handle):
    """The element of the last lock (set member, sequence number,
    timestamp) or None."""
    return _text(_get_element(handle))


_export("flom_handle_get_locked_element", flom_handle_get_locked_element)

_INT_PROPERTIES = (
    "discovery_attempts", "discovery_timeout", "discovery_ttl", "lock_mode",
    "multicast_port", "resource_create", "resource_idle_lifespan",
    "resource_quantity", "resource_timeout", "unicast_port",
    "tls_check_peer_id",
)
_STRING_PROPERTIES = (
    "multicast_address", "network_interface", "resource_name", "socket_name",
    "trace_filename", "unicast_address", "tls_certificate", "tls_private_key",
    "tls_ca_certificate",
)


def _int_accessors(prop):
    get = _bind("flom_handle_get_" + prop, ctypes.c_int, [_HandleP])
    put = _bind("flom_handle_set_" + prop, ctypes.c_int, [_HandleP, ctypes.c_int])

    def getter(handle):
        return get(handle)

    def setter(handle, value):
        return put(handle, int(value))

    return getter, setter


def _string_accessors(prop):
    get = _bind("flom_handle_get_" + prop, ctypes.c_char_p, [_HandleP])
    put = _bind("flom_handle_set_" + prop, ctypes.c_int, [_HandleP, ctypes.c_char_p])

    def getter(handle):
        return _text(get(handle))

    def setter(handle, value):
        return put(handle, _arg(value))

    return getter, setter


for _prop in _INT_PROPERTIES:
    _g, _s = _int_accessors(_prop)
    _export("flom_handle_get_" + _prop, _g)
    _export("flom_handle_set_" + _prop, _s)
for _prop in _STRING_PROPERTIES:
    _g, _s = _string_accessors(_prop)
    _export("flom_handle_get_" + _prop, _g)
    _export("flom_handle_set_" + _prop, _s)

__all__ += ["flom_handle_t", "TRUE", "FALSE"]
__all__ += [n for n in globals() if n.startswith(("FLOM_LOCK_MODE_", "FLOM_HANDLE_STATE_", "FLOM_ES_"))]
__all__ += list(RETURN_CODES)


class FlomError(Exception):
    """A FLoM call that did not return FLOM_RC_OK; ``code`` is its return
    code and ``str()`` gives the flom_strerror text."""

    def __init__(self, code, function=None):
        self.code = code
        self.function = function
        text = flom_strerror(code)
        super().__init__("%s: %s (ret_cod=%d)" % (function, text, code) if function else text)


def _check(function, rc):
    if rc != FLOM_RC_OK:  # noqa: F405
        raise FlomError(rc, function)


@contextlib.contextmanager
def lock(name, mode="EX", timeout=None, quantity=None, socket_name=None,
         unicast_address=None, unicast_port=None, multicast_address=None,
         multicast_port=None, create=None, idle_lifespan=None,
         tls_certificate=None, tls_private_key=None, tls_ca_certificate=None,
         tls_check_peer_id=None, rollback_on_error=False):
    """Holds the lock on resource ``name`` for the ``with`` block and gives
    its element (a set member, a sequence number, a timestamp; None for
    other resources).

    ``mode``: "NL", "CR", "CW", "PR", "PW", "EX" (or the number);
    ``timeout``: milliseconds to wait (0: do not wait, None or negative:
    forever). The other arguments set the handle property of the same name
    (the three TLS files together make the connection a TLS one).
    With ``rollback_on_error`` an exception leaving the block gives a
    transactional sequence's value back. Raises FlomError when the lock is
    not obtained (e.g. ``code == FLOM_RC_LOCK_BUSY`` with ``timeout=0``).
    """
    handle = flom_handle_t()
    _check("flom_handle_init", flom_handle_init(handle))  # noqa: F405
    try:
        settings = [
            (flom_handle_set_socket_name, socket_name),  # noqa: F405
            (flom_handle_set_unicast_address, unicast_address),  # noqa: F405
            (flom_handle_set_unicast_port, unicast_port),  # noqa: F405
            (flom_handle_set_multicast_address, multicast_address),  # noqa: F405
            (flom_handle_set_multicast_port, multicast_port),  # noqa: F405
            (flom_handle_set_resource_create, create),  # noqa: F405
            (flom_handle_set_resource_idle_lifespan, idle_lifespan),  # noqa: F405
            (flom_handle_set_resource_quantity, quantity),  # noqa: F405
            (flom_handle_set_resource_timeout, timeout),  # noqa: F405
            (flom_handle_set_tls_certificate, tls_certificate),  # noqa: F405
            (flom_handle_set_tls_private_key, tls_private_key),  # noqa: F405
            (flom_handle_set_tls_ca_certificate, tls_ca_certificate),  # noqa: F405
            (flom_handle_set_tls_check_peer_id, tls_check_peer_id),  # noqa: F405
        ]
        for setter, value in settings:
            if value is not None:
                _check(setter.__name__, setter(handle, value))
        mode_number = _MODES.get(str(mode).upper(), mode) if not isinstance(mode, int) else mode
        if not isinstance(mode_number, int):
            raise ValueError("flom: lock mode %r is not one of NL, CR, CW, PR, PW, EX" % (mode,))
        _check("flom_handle_set_lock_mode", flom_handle_set_lock_mode(handle, mode_number))  # noqa: F405
        flom_handle_set_resource_name(handle, name)  # noqa: F405
        if flom_handle_get_resource_name(handle) != name:  # noqa: F405
            raise FlomError(FLOM_RC_INVALID_RESOURCE_NAME, "flom_handle_set_resource_name")  # noqa: F405
        _check("flom_handle_lock", flom_handle_lock(handle))  # noqa: F405
        failed = False
        try:
            yield flom_handle_get_locked_element(handle)  # noqa: F405
        except BaseException:
            failed = True
            raise
        finally:
            if failed and rollback_on_error:
                rc = flom_handle_unlock_rollback(handle)  # noqa: F405
                if rc == FLOM_RC_RESOURCE_IS_NOT_TRANSACTIONAL:  # noqa: F405
                    rc = FLOM_RC_OK  # noqa: F405
            else:
                rc = flom_handle_unlock(handle)  # noqa: F405
            if not failed:
                _check("flom_handle_unlock", rc)
    finally:
        if handle.state == FLOM_HANDLE_STATE_CONNECTED:
            flom_handle_unlock(handle)  # noqa: F405  (a refused lock stays connected)
        flom_handle_clean(handle)  # noqa: F405


__all__ += ["FlomError", "lock"]
