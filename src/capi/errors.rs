//! `flom_strerror`: the literal text C FLoM gives for every return code, as
//! static NUL-terminated strings that C callers may keep for ever.

use std::ffi::{c_char, c_int, CStr};

/// Return codes the C API itself produces (the others come from `crate::rc`).
pub const RC_NULL_OBJECT: c_int = -4;
pub const RC_OBJ_CORRUPTED: c_int = -6;
pub const RC_API_INVALID_SEQUENCE: c_int = -17;
pub const RC_INVALID_IPV6_NETWORK_INTERFACE: c_int = -20;
pub const RC_CONNECTION_CLOSED_BY_SERVER: c_int = -27;
pub const RC_INTERNAL_ERROR: c_int = -1;
pub const RC_API_IMMUTABLE_HANDLE: c_int = 11;
pub const RC_RESOURCE_IS_NOT_TRANSACTIONAL: c_int = 12;
pub const RC_LOCK_CANT_LOCK: c_int = 3;
pub const RC_GETADDRINFO_ERROR: c_int = -110;
pub const RC_GETIFADDRS_ERROR: c_int = -111;
pub const RC_G_KEY_FILE_LOAD_FROM_FILE_ERROR: c_int = -203;

const UNKNOWN: &CStr = c"ERROR: unknown error";

/// The text for `rc` (`ERROR: unknown error` for a code C FLoM does not know).
pub fn text(rc: c_int) -> &'static CStr {
    fixed(rc)
        .or_else(|| system_call(rc))
        .or_else(|| glib(rc))
        .or_else(|| jni(rc))
        .or_else(|| openssl(rc))
        .unwrap_or(UNKNOWN)
}

fn fixed(rc: c_int) -> Option<&'static CStr> {
    Some(match rc {
        13 => c"WARNING: a feature is inactive and a piece of code was skipped",
        12 => c"WARNING: a transactional operations has been requested for a non transactional resource",
        11 => c"WARNING: the handle can not be changed at this time",
        10 => c"WARNING: the name of the locked element is not available",
        9 => c"WARNING: network operation timeout",
        8 => c"WARNING: peer has closed socket connection",
        7 => c"WARNING: peer is not ready to accept a connection",
        6 => c"INFO: the lock can not be obtained because the resource will never satisfy the lock request",
        5 => c"INFO: the lock can not be obtained because the requester can not wait resource availability",
        4 => c"INFO: the lock can not be obtained because the resource is already locked",
        3 => c"INFO: the lock can not be obtained, generic issue",
        2 => c"INFO: the asked resource is not available, the task must wait resource creation by a something else",
        1 => c"INFO: the lock can not be obtained now, but the request was enqueued",
        0 => c"OK: no error",
        -1 => c"ERROR: internal error / unexpected condition / code bug",
        -2 => c"ERROR: flom command was not able to start a new daemon and/or connect to it",
        -3 => c"ERROR: an unespected network event raised",
        -4 => c"ERROR: the object is null",
        -5 => c"ERROR: a specified option is not valid",
        -6 => c"ERROR: object is corrupted",
        -7 => c"ERROR: an argument is out of range",
        -8 => c"ERROR: the number of chars of the prefix of the message is wrong",
        -9 => c"ERROR: the process has been stopped to avoid a buffer overflow",
        -10 => c"ERROR: the length of the message differs from prefix",
        -11 => c"ERROR: a value of a property is invalid",
        -12 => c"ERROR: the container is full and cannot store more elements",
        -13 => c"ERROR: client/server protocol error, an unexpected packet of data was received",
        -14 => c"ERROR: invalid name for a resource",
        -15 => c"ERROR: client and server are not aligned to the same communication level",
        -16 => c"ERROR: XML message deserialization",
        -17 => c"ERROR: API function called using an invalid sequence",
        -18 => c"ERROR: address family is not a valid IP address family (AF_INET, AF_INET6)",
        -19 => c"ERROR: the specified IP address is not valid for the current function",
        -20 => c"ERROR: the specified network interface is not valid for IPv6 networking",
        -21 => c"ERROR: creation of a new object in the heap failed",
        -22 => c"ERROR: the peer did not supply a valid certificate for a TLS/SSL connection",
        -23 => c"ERROR: the unique ID sent by the peer does not match the CN field inside the X.509 provided certificate",
        -24 => c"ERROR: the connection is not a TLS connection, but a TLS operation was requested",
        -25 => c"ERROR: format not valid for a timestamp resource",
        -26 => c"ERROR: the resource can not be initialized",
        -27 => c"ERROR: the server has unilaterally closed the connection",
        -28 => c"ERROR: object not found",
        -140 => c"ERROR: 'snprintf' function was not able to write the complete content due to insufficient buffer space",
        -413 => c"ERROR: no valid TLS/SSL method was found",
        _ => return None,
    })
}

fn system_call(rc: c_int) -> Option<&'static CStr> {
    Some(match rc {
        -100 => c"ERROR: 'accept' function returned an error condition",
        -101 => c"ERROR: 'bind' function returned an error condition",
        -102 => c"ERROR: 'chdir' function returned an error condition",
        -103 => c"ERROR: 'close' function returned an error condition",
        -104 => c"ERROR: 'closedir' function returned an error condition",
        -105 => c"ERROR: 'connect' function returned an error condition",
        -106 => c"ERROR: 'execvp' function returned an error condition",
        -107 => c"ERROR: 'fcntl' function returned an error condition",
        -108 => c"ERROR: 'flock' function returned an error condition",
        -109 => c"ERROR: 'fork' function returned an error condition",
        -110 => c"ERROR: 'getaddrinfo' function returned an error condition",
        -111 => c"ERROR: 'getifaddrs' function returned an error condition",
        -112 => c"ERROR: 'getnameinfo' function returned an error condition",
        -113 => c"ERROR: 'getsockname' function returned an error condition",
        -114 => c"ERROR: 'getsockopt' function returned an error condition",
        -115 => c"ERROR: 'gettimeofday' function returned an error condition",
        -116 => c"ERROR: 'inet_ntop' function returned an error condition",
        -117 => c"ERROR: 'listen' function returned an error condition",
        -118 => c"ERROR: 'localtime_r' function returned an error condition",
        -119 => c"ERROR: 'malloc'/'g_malloc' function returned an error condition",
        -120 => c"ERROR: 'open' function returned an error condition",
        -121 => c"ERROR: 'opendir' function returned an error condition",
        -122 => c"ERROR: 'pipe' function returned an error condition",
        -123 => c"ERROR: 'poll' function returned an error condition",
        -124 => c"ERROR: 'read' function returned an error condition",
        -125 => c"ERROR: 'realpath' function returned an error condition",
        -126 => c"ERROR: 'recv' function returned an error condition",
        -127 => c"ERROR: 'recvfrom' function returned an error condition",
        -128 => c"ERROR: 'regcomp' function returned an error condition",
        -129 => c"ERROR: 'regexec' function returned an error condition",
        -130 => c"ERROR: 'send' function returned an error condition",
        -131 => c"ERROR: 'sendto' function returned an error condition",
        -132 => c"ERROR: 'setsid' function returned an error condition",
        -133 => c"ERROR: 'setsockopt' function returned an error condition",
        -134 => c"ERROR: 'sigaction' function returned an error condition",
        -135 => c"ERROR: 'sigaddset' function returned an error condition",
        -136 => c"ERROR: 'sigemptyset' function returned an error condition",
        -137 => c"ERROR: 'signal' function returned an error condition",
        -138 => c"ERROR: 'sigprocmask' function returned an error condition",
        -139 => c"ERROR: 'socket' function returned an error condition",
        -141 => c"ERROR: 'unlink' function returned an error condition",
        -142 => c"ERROR: 'wait' function returned an error condition",
        -143 => c"ERROR: 'write' function returned an error condition",
        _ => return None,
    })
}

fn glib(rc: c_int) -> Option<&'static CStr> {
    Some(match rc {
        -200 => c"ERROR: 'g_array_new' function returned an error condition",
        -201 => c"ERROR: 'g_base64_decode' function returned an error condition",
        -202 => c"ERROR: 'g_base64_encode' function returned an error condition",
        -203 => c"ERROR: 'g_key_file_load_from_file' function returned an error condition",
        -204 => c"ERROR: 'g_key_file_new' function returned an error condition",
        -205 => c"ERROR: 'g_markup_parse_context_new' function returned an error condition",
        -206 => c"ERROR: 'g_markup_parse_context_parse' function returned an error condition",
        -207 => c"ERROR: 'g_node_append_data' function returned an error condition",
        -208 => c"ERROR: 'g_node_new' function returned an error condition",
        -209 => c"ERROR: 'g_node_prepend_data' function returned an error condition",
        -210 => c"ERROR: 'g_ptr_array_remove_index_fast' function returned an error condition",
        -211 => c"ERROR: 'g_queue_new' function returned an error condition",
        -212 => c"ERROR: 'g_strdup' function returned an error condition",
        -213 => c"ERROR: 'g_strndup' function returned an error condition",
        -214 => c"ERROR: 'g_strsplit' function returned an error condition",
        -215 => c"ERROR: 'g_thread_new' function returned an error condition",
        -216 => c"ERROR: 'g_try_malloc'/'g_try_malloc0' function returned an error condition",
        -217 => c"ERROR: 'g_try_realloc' function returned an error condition",
        _ => return None,
    })
}

fn jni(rc: c_int) -> Option<&'static CStr> {
    Some(match rc {
        -300 => c"ERROR: 'JNI GetFieldID' function returned NULL pointer",
        -301 => c"ERROR: 'JNI GetObjectClass' function returned NULL pointer",
        -302 => c"ERROR: 'JNI NewDirectByteBuffer' function returned NULL pointer",
        _ => return None,
    })
}

fn openssl(rc: c_int) -> Option<&'static CStr> {
    Some(match rc {
        -400 => c"ERROR: 'OpenSSL SSL_CTX_check_private_key' function returned an error",
        -401 => c"ERROR: 'OpenSSL SSL_CTX_load_verify_locations' function returned an error",
        -402 => c"ERROR: 'OpenSSL SSL_CTX_new' function returned an error",
        -403 => c"ERROR: 'OpenSSL SSL_CTX_use_certificate_file' function returned an error",
        -404 => c"ERROR: 'OpenSSL SSL_CTX_use_PrivateKey_file' function returned an error",
        -406 => c"ERROR: 'OpenSSL SSL_connect' function returned an error",
        -407 => c"ERROR: 'OpenSSL SSL_get_verify_result' function returned an error",
        -408 => c"ERROR: 'OpenSSL SSL_new' function returned an error",
        -409 => c"ERROR: 'OpenSSL SSL_read' function returned an error",
        -410 => c"ERROR: 'OpenSSL SSL_set_ex_data' function returned an error",
        -411 => c"ERROR: 'OpenSSL SSL_set_fd' function returned an error",
        -412 => c"ERROR: 'OpenSSL SSL_write' function returned an error",
        _ => return None,
    })
}

/// `const char *flom_strerror(int ret_cod)`.
#[no_mangle]
pub extern "C" fn flom_strerror(ret_cod: c_int) -> *const c_char {
    text(ret_cod).as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_agree_with_the_cli_table() {
        for rc in -500..=20 {
            let ours = text(rc).to_str().unwrap();
            // The CLI's table knows fewer codes; where it knows one, both agree.
            let cli = crate::rc::strerror(rc);
            if cli != "ERROR: unknown error" {
                assert_eq!(ours, cli, "rc {rc}");
            }
        }
        assert_eq!(text(-405).to_str().unwrap(), "ERROR: unknown error");
        assert_eq!(text(-999).to_str().unwrap(), "ERROR: unknown error");
        assert_eq!(
            text(-216).to_str().unwrap(),
            "ERROR: 'g_try_malloc'/'g_try_malloc0' function returned an error condition"
        );
    }
}
