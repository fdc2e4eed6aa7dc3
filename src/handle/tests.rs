//! The handle's state machine, against a scripted daemon on a socket pair
//! (no daemon, no file system) or with nothing listening.

use super::*;
use crate::net::Stream;
use crate::protocol;
use crate::rc;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::thread::{self, JoinHandle};

/// A scripted daemon: reads one message, answers with `answers`, then
/// records everything it receives until the client closes.
fn scripted_daemon(answers: Vec<String>) -> (Stream, JoinHandle<String>) {
    let (client, mut daemon) = UnixStream::pair().expect("socketpair");
    let worker = thread::spawn(move || {
        let mut seen = Vec::new();
        let mut chunk = [0u8; 1024];
        while protocol::find_message_end(&seen, 0).is_none() {
            match daemon.read(&mut chunk) {
                Ok(0) | Err(_) => return String::from_utf8_lossy(&seen).into_owned(),
                Ok(n) => seen.extend_from_slice(&chunk[..n]),
            }
        }
        for a in &answers {
            daemon.write_all(a.as_bytes()).expect("answer");
        }
        loop {
            match daemon.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&chunk[..n]),
            }
        }
        String::from_utf8_lossy(&seen).into_owned()
    });
    (Stream::Unix(client), worker)
}

fn answer(step: i32, code: i32, element: Option<&str>) -> String {
    let mut out = String::new();
    protocol::encode_lock_answer(&mut out, step, "p", code, element);
    out
}

fn config(resource: &str) -> Config {
    Config {
        resource_name: resource.to_string(),
        ..Config::default()
    }
}

#[test]
fn new_handle_is_init_and_allows_no_unlock() {
    let mut h = FlomHandle::new(Config::default());
    assert_eq!(h.state(), HandleState::Init);
    assert_eq!(h.state().code(), 22);
    assert!(!h.auto_start());
    let e = h.unlock().unwrap_err();
    assert_eq!(e.flom_rc(), rc::API_INVALID_SEQUENCE);
    assert_eq!(h.state(), HandleState::Init);
    assert_eq!(h.disconnect(), Ok(()));
}

#[test]
fn lock_grant_then_unlock() {
    let (stream, daemon) = scripted_daemon(vec![answer(16, rc::OK, Some("red"))]);
    let mut h = FlomHandle::with_connection(config("colors.red.blue"), stream);
    assert_eq!(h.lock(), Ok(Some("red")));
    assert_eq!(h.state(), HandleState::Locked);
    assert_eq!(h.locked_element(), Some("red"));
    assert_eq!(h.lock().unwrap_err().flom_rc(), rc::API_INVALID_SEQUENCE);
    assert_eq!(
        h.disconnect().unwrap_err().flom_rc(),
        rc::API_INVALID_SEQUENCE
    );
    assert!(matches!(
        h.set_socket_name(Some("/tmp/x")),
        Err(FlomError::ImmutableHandle { .. })
    ));
    assert_eq!(h.unlock(), Ok(()));
    assert_eq!(h.state(), HandleState::Disconnected);
    assert_eq!(h.locked_element(), None);
    let seen = daemon.join().unwrap();
    let mut unlock = String::new();
    protocol::encode_unlock(&mut unlock, "colors.red.blue", false);
    assert!(seen.ends_with(&unlock), "{seen}");
    assert!(seen.contains("verb=\"1\" step=\"8\""), "{seen}");
}

#[test]
fn enqueued_then_granted() {
    let answers = vec![
        answer(16, rc::LOCK_ENQUEUED, None),
        answer(24, rc::OK, None),
    ];
    let (stream, daemon) = scripted_daemon(answers);
    let mut h = FlomHandle::with_connection(config("r"), stream);
    assert_eq!(h.lock(), Ok(None));
    assert_eq!(h.state(), HandleState::Locked);
    drop(h);
    let seen = daemon.join().unwrap();
    assert!(seen.contains("rollback=\"0\""), "the drop unlocks: {seen}");
}

#[test]
fn busy_leaves_the_handle_connected() {
    let (stream, daemon) = scripted_daemon(vec![answer(16, rc::LOCK_BUSY, None)]);
    let mut h = FlomHandle::with_connection(config("r"), stream);
    assert_eq!(h.lock(), Err(FlomError::LockBusy));
    assert_eq!(h.state(), HandleState::Connected);
    assert_eq!(h.set_resource_timeout(10), Ok(()));
    assert!(h.set_unicast_port(1).is_err());
    assert_eq!(h.disconnect(), Ok(()));
    assert_eq!(h.state(), HandleState::Disconnected);
    let seen = daemon.join().unwrap();
    assert!(!seen.contains("rollback"), "no unlock was sent: {seen}");
}

#[test]
fn refusals_and_their_codes() {
    for (code, error) in [
        (rc::LOCK_CANT_WAIT, FlomError::LockCantWait),
        (rc::LOCK_IMPOSSIBLE, FlomError::LockImpossible),
    ] {
        let (stream, daemon) = scripted_daemon(vec![answer(16, code, None)]);
        let mut h = FlomHandle::with_connection(config("r"), stream);
        let e = h.lock().unwrap_err();
        assert_eq!(e, error);
        assert_eq!(e.flom_rc(), code);
        drop(h);
        daemon.join().unwrap();
    }
}

#[test]
fn timeout_is_a_refusal() {
    let (stream, daemon) = scripted_daemon(vec![answer(16, rc::LOCK_ENQUEUED, None)]);
    let mut c = config("r");
    c.resource_timeout = 50;
    let mut h = FlomHandle::with_connection(c, stream);
    assert_eq!(h.lock(), Err(FlomError::LockTimeout { timeout_ms: 50 }));
    assert_eq!(h.state(), HandleState::Connected);
    drop(h);
    daemon.join().unwrap();
}

#[test]
fn protocol_error_disconnects() {
    let (stream, daemon) = scripted_daemon(vec![
        "<msg level=\"3\" verb=\"2\" step=\"16\"></msg>".to_string()
    ]);
    let mut h = FlomHandle::with_connection(config("r"), stream);
    assert_eq!(
        h.lock(),
        Err(FlomError::Lock {
            rc: rc::PROTOCOL_ERROR
        })
    );
    assert_eq!(h.state(), HandleState::Disconnected);
    daemon.join().unwrap();
}

#[test]
fn unlock_rollback_drops_the_rollback_of_other_resources() {
    let (stream, daemon) = scripted_daemon(vec![answer(16, rc::OK, Some("1"))]);
    let mut h = FlomHandle::with_connection(config("_s_seq[2]"), stream);
    assert_eq!(h.lock(), Ok(Some("1")));
    assert_eq!(h.unlock_rollback(), Ok(Rollback::NotTransactional));
    assert!(daemon.join().unwrap().contains("rollback=\"0\""));

    let (stream, daemon) = scripted_daemon(vec![answer(16, rc::OK, Some("1"))]);
    let mut h = FlomHandle::with_connection(config("_S_seq[2]"), stream);
    assert_eq!(h.lock(), Ok(Some("1")));
    assert_eq!(h.unlock_rollback(), Ok(Rollback::Requested));
    assert!(daemon.join().unwrap().contains("rollback=\"1\""));
}

#[test]
fn no_daemon_and_no_auto_start() {
    let dir = std::env::temp_dir().join(format!("flom-handle-unit-{}", std::process::id()));
    let c = Config {
        socket_name: Some(dir.join("absent").to_string_lossy().into_owned()),
        ..Config::default()
    };
    let mut h = FlomHandle::new(c);
    let e = h.lock().unwrap_err();
    assert!(
        matches!(&e, FlomError::Connect { rc: rc::CONNECT_ERROR, target } if target.ends_with("absent"))
    );
    assert_eq!(h.state(), HandleState::Init);
    let e = h.shutdown_daemon(false).unwrap_err();
    assert_eq!(e.flom_rc(), rc::CONNECT_ERROR);
}

#[test]
fn settings_follow_c_libflom() {
    let mut h = FlomHandle::new(Config::default());
    h.set_resource_quantity(-3).unwrap();
    assert_eq!(h.resource_quantity(), 3);
    h.set_resource_quantity(0).unwrap();
    assert_eq!(h.resource_quantity(), 3);
    h.set_discovery_attempts(0).unwrap();
    assert_eq!(h.discovery_attempts(), 1);
    h.set_resource_name("bad name with spaces").unwrap();
    assert_eq!(h.resource_name(), crate::resource::DEFAULT_RESOURCE_NAME);
    h.set_unicast_address(Some("127.0.0.1")).unwrap();
    assert_eq!(h.socket_name(), None);
    h.set_socket_name(Some("/tmp/s")).unwrap();
    assert_eq!(h.unicast_address(), None);
    assert_eq!(h.socket_name().as_deref(), Some("/tmp/s"));
    let long = "x".repeat(108);
    assert_eq!(
        h.set_socket_name(Some(&long)).unwrap_err().flom_rc(),
        rc::BUFFER_OVERFLOW
    );
}
