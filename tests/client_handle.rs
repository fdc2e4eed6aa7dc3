//! The client library (`flom::handle::FlomHandle`) against a real daemon
//! started by the test: state machine, locked elements, refusals and their
//! return codes, rollback of transactional sequences, release on drop, and
//! no daemon started unless asked.

mod common;
use common::*;
use flom::config::Config;
use flom::error::FlomError;
use flom::handle::{FlomHandle, HandleState, Rollback};

fn handle(env: &Env, resource: &str) -> FlomHandle {
    let mut h = FlomHandle::new(Config::default());
    h.set_socket_name(Some(&env.sock)).unwrap();
    h.set_resource_name(resource).unwrap();
    h
}

#[test]
fn lock_unlock_and_state() {
    let env = Env::new("handle-lock");
    env.start_daemon();
    let mut h = handle(&env, "alpha");
    assert_eq!(h.state(), HandleState::Init);
    assert_eq!(h.lock(), Ok(None));
    assert_eq!(h.state(), HandleState::Locked);
    env.assert_busy("alpha");
    assert_eq!(h.unlock(), Ok(()));
    assert_eq!(h.state(), HandleState::Disconnected);
    env.assert_free("alpha");
    // A disconnected handle locks again on a new connection.
    assert_eq!(h.lock(), Ok(None));
    env.assert_busy("alpha");
    drop(h);
    env.assert_free("alpha");
}

#[test]
fn busy_and_timeout_are_refusals() {
    let env = Env::new("handle-busy");
    env.start_daemon();
    let mut holder = handle(&env, "beta");
    holder.lock().unwrap();
    let mut other = handle(&env, "beta");
    other.set_resource_timeout(0).unwrap();
    let e = other.lock().unwrap_err();
    assert_eq!(e, FlomError::LockBusy);
    assert_eq!(e.flom_rc(), 4);
    assert_eq!(other.state(), HandleState::Connected);
    other.set_resource_timeout(100).unwrap();
    other.disconnect().unwrap();
    let e = other.lock().unwrap_err();
    assert_eq!(e, FlomError::LockTimeout { timeout_ms: 100 });
    assert_eq!(e.flom_rc(), 9);
    other.disconnect().unwrap();
    holder.unlock().unwrap();
    other.set_resource_timeout(-1).unwrap();
    assert_eq!(other.lock(), Ok(None));
    other.unlock().unwrap();
}

#[test]
fn set_elements_and_sequences() {
    let env = Env::new("handle-elements");
    env.start_daemon();
    let mut a = handle(&env, "red.green");
    let mut b = handle(&env, "red.green");
    let first = a.lock().unwrap().map(str::to_string);
    let second = b.lock().unwrap().map(str::to_string);
    assert!(first.is_some() && second.is_some() && first != second);
    assert_eq!(a.locked_element(), first.as_deref());
    a.unlock().unwrap();
    assert_eq!(a.locked_element(), None);
    b.unlock().unwrap();

    let mut t = handle(&env, "_S_trans[1]");
    assert_eq!(t.lock(), Ok(Some("1")));
    assert_eq!(t.unlock_rollback(), Ok(Rollback::Requested));
    assert_eq!(t.lock(), Ok(Some("1")));
    t.unlock().unwrap();
    assert_eq!(t.lock(), Ok(Some("2")));
    t.unlock().unwrap();

    let mut n = handle(&env, "_s_plain[1]");
    assert_eq!(n.lock(), Ok(Some("1")));
    assert_eq!(n.unlock_rollback(), Ok(Rollback::NotTransactional));
    assert_eq!(n.lock(), Ok(Some("2")));
    n.unlock().unwrap();
}

#[test]
fn no_daemon_is_started_unless_asked() {
    let env = Env::new("handle-nostart");
    let mut h = handle(&env, "gamma");
    assert!(!h.auto_start());
    let e = h.lock().unwrap_err();
    assert!(
        matches!(&e, FlomError::Connect { rc: -105, target } if *target == env.sock),
        "{e:?}"
    );
    assert_eq!(h.state(), HandleState::Init);
    assert!(!exists(&env.sock));
    assert!(daemon_pids(&env.sock).is_empty());
}

#[test]
fn shutdown_request_ends_the_daemon() {
    let env = Env::new("handle-shutdown");
    let pid = env.start_daemon();
    let mut h = handle(&env, "delta");
    h.shutdown_daemon(true).unwrap();
    assert_eq!(h.state(), HandleState::Disconnected);
    wait_until(T, "the daemon to exit", || !pid_alive(pid));
}
