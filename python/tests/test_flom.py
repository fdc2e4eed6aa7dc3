"""The Python package against a daemon of our own: the C binding's names,
the `with flom.lock(...)` form, errors. FLOM_BIN names the flom command and
FLOM_LIBRARY the library under test (make check sets both)."""

import os
import shutil
import subprocess
import tempfile
import threading
import time

import pytest

import flom
from flom import *  # noqa: F401,F403

FLOM_BIN = os.environ.get("FLOM_BIN", "flom")


@pytest.fixture
def sock():
    """A daemon on a private socket (flom -s SOCK -d -1 -- true), shut
    down at the end of the test."""
    d = tempfile.mkdtemp(prefix="flom-pytest-")
    path = os.path.join(d, "s")
    subprocess.run([FLOM_BIN, "-s", path, "-d", "-1", "--", "true"], check=True, timeout=10)
    try:
        yield path
    finally:
        if os.path.exists(path):
            subprocess.run([FLOM_BIN, "-s", path, "-X"], stdout=subprocess.DEVNULL, timeout=10)
        deadline = time.monotonic() + 10
        while os.path.exists(path) and time.monotonic() < deadline:
            time.sleep(0.01)
        shutil.rmtree(d, ignore_errors=True)


def connections(path):
    """Connections the daemon listening on path has: /proc/net/unix lists
    them with the listener's path (flags other than the listening flag,
    state connected)."""
    with open("/proc/net/unix") as f:
        next(f)
        rows = [line.split() for line in f]
    return sum(1 for r in rows if len(r) >= 8 and r[7] == path and r[3] != "00010000" and r[5] == "03")


def test_strerror_and_constants():
    assert flom_strerror(FLOM_RC_OK) == "OK: no error"
    assert FLOM_RC_API_INVALID_SEQUENCE == -17
    assert flom_strerror(-17) == "ERROR: API function called using an invalid sequence"
    assert flom_strerror(-999) == "ERROR: unknown error"
    assert FLOM_LOCK_MODE_EX == 5 and FLOM_HANDLE_STATE_LOCKED == 24


def test_c_names_happy_path_static_and_dynamic(sock):
    handle = flom_handle_t()
    assert flom_handle_init(handle) == FLOM_RC_OK
    assert handle.state == FLOM_HANDLE_STATE_INIT
    assert flom_handle_set_socket_name(handle, sock) == FLOM_RC_OK
    assert flom_handle_get_socket_name(handle) == sock
    assert flom_handle_set_resource_name(handle, "red.green.blue") == FLOM_RC_OK
    assert flom_handle_lock(handle) == FLOM_RC_OK
    assert flom_handle_get_locked_element(handle) == "red"
    assert handle.locked_element == b"red"
    assert flom_handle_unlock(handle) == FLOM_RC_OK
    assert flom_handle_get_locked_element(handle) is None
    assert flom_handle_clean(handle) == FLOM_RC_OK
    dyn = flom_handle_new()
    assert dyn is not None
    assert flom_handle_set_socket_name(dyn, sock) == FLOM_RC_OK
    assert flom_handle_lock(dyn) == FLOM_RC_OK
    assert flom_handle_get_locked_element(dyn) is None
    assert flom_handle_unlock(dyn) == FLOM_RC_OK
    flom_handle_delete(dyn)
    flom_handle_delete(None)


def test_missing_calls():
    handle = flom_handle_t()
    assert flom_handle_lock(handle) == FLOM_RC_API_INVALID_SEQUENCE
    assert flom_handle_unlock(handle) == FLOM_RC_API_INVALID_SEQUENCE
    assert flom_handle_clean(handle) == FLOM_RC_API_INVALID_SEQUENCE
    assert flom_handle_init(handle) == FLOM_RC_OK
    assert flom_handle_unlock(handle) == FLOM_RC_API_INVALID_SEQUENCE
    assert flom_handle_clean(handle) == FLOM_RC_OK
    assert flom_handle_lock(None) == FLOM_RC_NULL_OBJECT


def test_getters_and_setters():
    h = flom_handle_t()
    flom_handle_init(h)
    assert flom_handle_get_resource_name(h) == "_RESOURCE"
    assert flom_handle_get_unicast_address(h) is None
    assert flom_handle_get_resource_timeout(h) == -1
    assert flom_handle_set_resource_quantity(h, -3) == FLOM_RC_OK
    assert flom_handle_get_resource_quantity(h) == 3
    assert flom_handle_set_resource_name(h, "not a name") == FLOM_RC_OK
    assert flom_handle_get_resource_name(h) == "_RESOURCE"
    assert flom_handle_set_unicast_address(h, "127.0.0.1") == FLOM_RC_OK
    assert flom_handle_get_socket_name(h) is None
    assert flom_handle_set_socket_name(h, "/" + "x" * 107) == FLOM_RC_BUFFER_OVERFLOW
    assert flom_handle_set_tls_certificate(h, "/nonexistent") == FLOM_RC_REALPATH_ERROR
    assert flom_handle_set_lock_mode(h, FLOM_LOCK_MODE_PR) == FLOM_RC_OK
    assert flom_handle_get_lock_mode(h) == FLOM_LOCK_MODE_PR
    assert flom_handle_clean(h) == FLOM_RC_OK


def test_sequence_rollback(sock):
    h = flom_handle_t()
    flom_handle_init(h)
    flom_handle_set_socket_name(h, sock)
    flom_handle_set_resource_name(h, "_S_transactional[1]")
    elements = []
    for finish in (flom_handle_unlock_rollback, flom_handle_unlock, flom_handle_unlock):
        assert flom_handle_lock(h) == FLOM_RC_OK
        elements.append(flom_handle_get_locked_element(h))
        assert finish(h) == FLOM_RC_OK
    assert elements == ["1", "1", "2"]
    flom_handle_set_resource_name(h, "_s_nontransactional[1]")
    assert flom_handle_lock(h) == FLOM_RC_OK
    assert flom_handle_unlock_rollback(h) == FLOM_RC_RESOURCE_IS_NOT_TRANSACTIONAL
    assert flom_handle_clean(h) == FLOM_RC_OK


def test_with_lock_gives_the_element_and_unlocks(sock):
    with flom.lock("red.green.blue", socket_name=sock) as a:
        with flom.lock("red.green.blue", socket_name=sock, timeout=0) as b:
            assert {a, b} <= {"red", "green", "blue"} and a != b
    with flom.lock("simple", mode="PR", socket_name=sock) as e:
        assert e is None
        with flom.lock("simple", mode="pr", socket_name=sock, timeout=0):
            pass
    # everything was released: an exclusive lock is free at once
    with flom.lock("simple", mode="EX", socket_name=sock, timeout=0):
        pass


def test_with_lock_busy_and_timeout_raise(sock):
    with flom.lock("held", socket_name=sock):
        with pytest.raises(flom.FlomError) as busy:
            with flom.lock("held", socket_name=sock, timeout=0):
                pass
        assert busy.value.code == FLOM_RC_LOCK_BUSY
        assert "already locked" in str(busy.value)
        started = time.monotonic()
        with pytest.raises(flom.FlomError) as late:
            with flom.lock("held", socket_name=sock, timeout=200):
                pass
        assert late.value.code == FLOM_RC_NETWORK_TIMEOUT
        assert time.monotonic() - started >= 0.19


def test_with_lock_waits_for_the_holder(sock):
    got = []
    release = threading.Event()

    def holder():
        with flom.lock("queue", socket_name=sock):
            got.append("holder")
            release.wait(10)

    t = threading.Thread(target=holder)
    t.start()
    deadline = time.monotonic() + 10
    while not got and time.monotonic() < deadline:
        time.sleep(0.005)
    threading.Timer(0.1, release.set).start()
    with flom.lock("queue", socket_name=sock, timeout=5000):
        got.append("waiter")
    t.join(10)
    assert got == ["holder", "waiter"]


def test_rollback_on_error_returns_the_sequence_value(sock):
    with pytest.raises(RuntimeError):
        with flom.lock("_S_seq[1]", socket_name=sock, rollback_on_error=True) as v:
            assert v == "1"
            raise RuntimeError("task failed")
    with flom.lock("_S_seq[1]", socket_name=sock) as v:
        assert v == "1"


def test_bad_arguments():
    with pytest.raises(flom.FlomError) as bad:
        with flom.lock("not a name"):
            pass
    assert bad.value.code == FLOM_RC_INVALID_RESOURCE_NAME
    with pytest.raises(ValueError):
        with flom.lock("x", mode="READ"):
            pass


def test_no_daemon_is_never_started():
    d = tempfile.mkdtemp(prefix="flom-pytest-")
    path = os.path.join(d, "none")
    try:
        with pytest.raises(flom.FlomError) as none:
            with flom.lock("x", socket_name=path):
                pass
        assert none.value.code == FLOM_RC_CONNECT_ERROR
        assert not os.path.exists(path)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_daemon_vanishing_under_a_waiter_gives_an_error(sock):
    holder = flom_handle_t()
    flom_handle_init(holder)
    flom_handle_set_socket_name(holder, sock)
    flom_handle_set_resource_name(holder, "vanish")
    assert flom_handle_lock(holder) == FLOM_RC_OK
    result = []

    def waiter():
        h = flom_handle_t()
        flom_handle_init(h)
        flom_handle_set_socket_name(h, sock)
        flom_handle_set_resource_name(h, "vanish")
        result.append(flom_handle_lock(h))
        flom_handle_unlock(h)
        flom_handle_clean(h)

    t = threading.Thread(target=waiter)
    t.start()
    # the waiter is queued once the daemon holds its second connection
    deadline = time.monotonic() + 10
    while connections(sock) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    subprocess.run([FLOM_BIN, "-s", sock, "-X"], stdout=subprocess.DEVNULL, timeout=10)
    t.join(10)
    assert not t.is_alive(), "the waiter hangs after the daemon exited"
    assert result and result[0] < 0, result
    rc = flom_handle_unlock(holder)
    assert rc in (FLOM_RC_OK, FLOM_RC_SEND_ERROR)
    if holder.state == FLOM_HANDLE_STATE_LOCKED:
        assert flom_handle_clean(holder) == FLOM_RC_SEND_ERROR
    else:
        assert flom_handle_clean(holder) == FLOM_RC_OK


def _openssl(directory, *args):
    subprocess.run(["openssl", *args], cwd=directory, check=True, timeout=60,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _make_pki(directory):
    """Two CAs and two peers (peer1 of CA1, peer2 of CA2) whose CN is this
    host's unique id, made with the openssl command."""
    uid = subprocess.run([FLOM_BIN, "--unique-id"], check=True, timeout=10,
                         capture_output=True, text=True).stdout.strip()
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for ca in ("ca1", "ca2"):
        _openssl(directory, "req", "-x509", *ec, "-keyout", ca + ".key", "-out", ca + ".pem",
                 "-days", "3650", "-subj", "/O=FLoM tests/CN=FLoM test " + ca)
    for peer, ca, serial in (("peer1", "ca1", "11"), ("peer2", "ca2", "21")):
        _openssl(directory, "req", *ec, "-keyout", peer + ".key", "-out", peer + ".csr",
                 "-subj", "/O=FLoM tests/CN=" + uid)
        _openssl(directory, "x509", "-req", "-in", peer + ".csr", "-CA", ca + ".pem",
                 "-CAkey", ca + ".key", "-set_serial", serial, "-days", "365",
                 "-out", peer + ".pem")
    return {name: os.path.join(directory, name) for name in os.listdir(directory)}


@pytest.fixture
def tls_daemon():
    """A TLS daemon (peer1 of CA1, checking peer ids) on a private socket;
    gives (socket, files)."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is missing")
    d = tempfile.mkdtemp(prefix="flom-pytest-tls-")
    files = _make_pki(d)
    path = os.path.join(d, "s")
    tls = ["--tls-certificate=" + files["peer1.pem"], "--tls-private-key=" + files["peer1.key"],
           "--tls-ca-certificate=" + files["ca1.pem"], "--tls-check-peer-id=yes"]
    subprocess.run([FLOM_BIN, "-s", path, *tls, "-d", "-1", "--", "true"], check=True, timeout=10)
    try:
        yield path, files
    finally:
        subprocess.run([FLOM_BIN, "-s", path, *tls, "-X"], stdout=subprocess.DEVNULL, timeout=10)
        deadline = time.monotonic() + 10
        while os.path.exists(path) and time.monotonic() < deadline:
            time.sleep(0.01)
        shutil.rmtree(d, ignore_errors=True)


def test_tls_setters_lock_over_tls(tls_daemon):
    path, files = tls_daemon
    handle = flom_handle_t()
    assert flom_handle_init(handle) == FLOM_RC_OK
    assert flom_handle_set_socket_name(handle, path) == FLOM_RC_OK
    assert flom_handle_set_tls_certificate(handle, files["peer1.pem"]) == FLOM_RC_OK
    assert flom_handle_set_tls_private_key(handle, files["peer1.key"]) == FLOM_RC_OK
    assert flom_handle_set_tls_ca_certificate(handle, files["ca1.pem"]) == FLOM_RC_OK
    assert flom_handle_set_tls_check_peer_id(handle, 1) == FLOM_RC_OK
    assert flom_handle_get_tls_certificate(handle) == os.path.realpath(files["peer1.pem"])
    assert flom_handle_set_resource_name(handle, "red.green") == FLOM_RC_OK
    assert flom_handle_lock(handle) == FLOM_RC_OK
    assert flom_handle_get_locked_element(handle) in ("red", "green")
    assert flom_handle_unlock(handle) == FLOM_RC_OK
    assert flom_handle_clean(handle) == FLOM_RC_OK
    tls = dict(tls_certificate=files["peer1.pem"], tls_private_key=files["peer1.key"],
               tls_check_peer_id=True)
    with flom.lock("tls", socket_name=path, tls_ca_certificate=files["ca1.pem"], **tls) as e:
        assert e is None
    # Trusting the wrong CA: C FLoM's code.
    with pytest.raises(flom.FlomError) as wrong:
        with flom.lock("tls", socket_name=path, tls_ca_certificate=files["ca2.pem"], **tls):
            pass
    assert wrong.value.code == FLOM_RC_SSL_GET_VERIFY_RESULT_ERROR
    # A certificate the daemon's CA did not sign.
    with pytest.raises(flom.FlomError) as refused:
        with flom.lock("tls", socket_name=path, tls_certificate=files["peer2.pem"],
                       tls_private_key=files["peer2.key"], tls_ca_certificate=files["ca1.pem"]):
            pass
    assert refused.value.code == FLOM_RC_SSL_READ_ERROR
