//! Return codes of FLoM (the numbers that travel on the wire and appear in
//! `ret_cod=N (TEXT)` messages) and the exit statuses of the `flom` command.

pub const OK: i32 = 0;
pub const LOCK_ENQUEUED: i32 = 1;
pub const LOCK_WAIT_RESOURCE: i32 = 2;
pub const LOCK_CANT_LOCK: i32 = 3;
pub const LOCK_BUSY: i32 = 4;
pub const LOCK_CANT_WAIT: i32 = 5;
pub const LOCK_IMPOSSIBLE: i32 = 6;
pub const CONNECTION_REFUSED: i32 = 7;
pub const NETWORK_TIMEOUT: i32 = 9;
pub const API_IMMUTABLE_HANDLE: i32 = 11;
pub const RESOURCE_IS_NOT_TRANSACTIONAL: i32 = 12;
pub const DAEMON_NOT_STARTED: i32 = -2;
pub const INVALID_OPTION: i32 = -5;
pub const BUFFER_OVERFLOW: i32 = -9;
pub const PROTOCOL_ERROR: i32 = -13;
pub const INVALID_RESOURCE_NAME: i32 = -14;
pub const PROTOCOL_LEVEL_MISMATCH: i32 = -15;
pub const API_INVALID_SEQUENCE: i32 = -17;
pub const INVALID_IP_ADDRESS: i32 = -19;
pub const INVALID_IPV6_NETWORK_INTERFACE: i32 = -20;
pub const BIND_ERROR: i32 = -101;
pub const CONNECT_ERROR: i32 = -105;
pub const FLOCK_ERROR: i32 = -108;
pub const FORK_ERROR: i32 = -109;
pub const GETADDRINFO_ERROR: i32 = -110;
pub const LISTEN_ERROR: i32 = -117;
pub const OPEN_ERROR: i32 = -120;
pub const OPENDIR_ERROR: i32 = -121;
pub const PIPE_ERROR: i32 = -122;
pub const REALPATH_ERROR: i32 = -125;
pub const RECV_ERROR: i32 = -126;
pub const SEND_ERROR: i32 = -130;
pub const SENDTO_ERROR: i32 = -131;
pub const SOCKET_ERROR: i32 = -139;
pub const G_KEY_FILE_LOAD_FROM_FILE_ERROR: i32 = -203;

/// Exit statuses of the `flom` command (chosen only by `error::exit_status`).
pub const ES_OK: i32 = 0;
pub const ES_REQUESTER_CANT_WAIT: i32 = 96;
pub const ES_UNABLE_TO_EXECUTE_COMMAND: i32 = 97;
pub const ES_RESOURCE_BUSY: i32 = 98;
pub const ES_GENERIC_ERROR: i32 = 99;

/// The text C FLoM's `flom_strerror` gives for a return code.
pub fn strerror(rc: i32) -> String {
    let fixed = match rc {
        13 => "WARNING: a feature is inactive and a piece of code was skipped",
        12 => "WARNING: a transactional operations has been requested for a non transactional resource",
        11 => "WARNING: the handle can not be changed at this time",
        10 => "WARNING: the name of the locked element is not available",
        9 => "WARNING: network operation timeout",
        8 => "WARNING: peer has closed socket connection",
        7 => "WARNING: peer is not ready to accept a connection",
        6 => "INFO: the lock can not be obtained because the resource will never satisfy the lock request",
        5 => "INFO: the lock can not be obtained because the requester can not wait resource availability",
        4 => "INFO: the lock can not be obtained because the resource is already locked",
        3 => "INFO: the lock can not be obtained, generic issue",
        2 => "INFO: the asked resource is not available, the task must wait resource creation by a something else",
        1 => "INFO: the lock can not be obtained now, but the request was enqueued",
        0 => "OK: no error",
        -1 => "ERROR: internal error / unexpected condition / code bug",
        -2 => "ERROR: flom command was not able to start a new daemon and/or connect to it",
        -3 => "ERROR: an unespected network event raised",
        -4 => "ERROR: the object is null",
        -5 => "ERROR: a specified option is not valid",
        -6 => "ERROR: object is corrupted",
        -7 => "ERROR: an argument is out of range",
        -8 => "ERROR: the number of chars of the prefix of the message is wrong",
        -9 => "ERROR: the process has been stopped to avoid a buffer overflow",
        -10 => "ERROR: the length of the message differs from prefix",
        -11 => "ERROR: a value of a property is invalid",
        -12 => "ERROR: the container is full and cannot store more elements",
        -13 => "ERROR: client/server protocol error, an unexpected packet of data was received",
        -14 => "ERROR: invalid name for a resource",
        -15 => "ERROR: client and server are not aligned to the same communication level",
        -16 => "ERROR: XML message deserialization",
        -17 => "ERROR: API function called using an invalid sequence",
        -18 => "ERROR: address family is not a valid IP address family (AF_INET, AF_INET6)",
        -19 => "ERROR: the specified IP address is not valid for the current function",
        -20 => "ERROR: the specified network interface is not valid for IPv6 networking",
        -21 => "ERROR: creation of a new object in the heap failed",
        -22 => "ERROR: the peer did not supply a valid certificate for a TLS/SSL connection",
        -23 => "ERROR: the unique ID sent by the peer does not match the CN field inside the X.509 provided certificate",
        -24 => "ERROR: the connection is not a TLS connection, but a TLS operation was requested",
        -25 => "ERROR: format not valid for a timestamp resource",
        -26 => "ERROR: the resource can not be initialized",
        -27 => "ERROR: the server has unilaterally closed the connection",
        -28 => "ERROR: object not found",
        -140 => "ERROR: 'snprintf' function was not able to write the complete content due to insufficient buffer space",
        _ => "",
    };
    if !fixed.is_empty() {
        return fixed.to_string();
    }
    if let Some(text) = crate::tls::code::text(rc) {
        return text.to_string();
    }
    let func = match rc {
        -100 => "accept",
        -101 => "bind",
        -102 => "chdir",
        -103 => "close",
        -104 => "closedir",
        -105 => "connect",
        -106 => "execvp",
        -107 => "fcntl",
        -108 => "flock",
        -109 => "fork",
        -110 => "getaddrinfo",
        -111 => "getifaddrs",
        -112 => "getnameinfo",
        -113 => "getsockname",
        -114 => "getsockopt",
        -115 => "gettimeofday",
        -116 => "inet_ntop",
        -117 => "listen",
        -118 => "localtime_r",
        -119 => "malloc'/'g_malloc",
        -120 => "open",
        -121 => "opendir",
        -122 => "pipe",
        -123 => "poll",
        -124 => "read",
        -125 => "realpath",
        -126 => "recv",
        -127 => "recvfrom",
        -128 => "regcomp",
        -129 => "regexec",
        -130 => "send",
        -131 => "sendto",
        -132 => "setsid",
        -133 => "setsockopt",
        -134 => "sigaction",
        -135 => "sigaddset",
        -136 => "sigemptyset",
        -137 => "signal",
        -138 => "sigprocmask",
        -139 => "socket",
        -141 => "unlink",
        -142 => "wait",
        -143 => "write",
        -203 => "g_key_file_load_from_file",
        _ => return "ERROR: unknown error".to_string(),
    };
    format!("ERROR: '{func}' function returned an error condition")
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn texts() {
        assert_eq!(
            strerror(CONNECT_ERROR),
            "ERROR: 'connect' function returned an error condition"
        );
        assert_eq!(
            strerror(RECV_ERROR),
            "ERROR: 'recv' function returned an error condition"
        );
        assert_eq!(
            strerror(-9),
            "ERROR: the process has been stopped to avoid a buffer overflow"
        );
    }
}
