//! The daemon's system log: the catalogue ids reach syslog with ident
//! `flom` and the pid. The test listens on /dev/log itself, so it runs only
//! where no syslog daemon owns that socket (it says so when it skips).

mod common;
use common::*;
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

#[test]
fn daemon_logs_start_quiesce_and_end() {
    let path = "/dev/log";
    if std::path::Path::new(path).exists() {
        eprintln!("SKIPPED: /dev/log exists (a syslog daemon owns it); cannot listen on it");
        return;
    }
    let sock = match UnixDatagram::bind(path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("SKIPPED: cannot bind /dev/log ({e})");
            return;
        }
    };
    struct Unlink;
    impl Drop for Unlink {
        fn drop(&mut self) {
            let _ = std::fs::remove_file("/dev/log");
        }
    }
    let _unlink = Unlink;
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let env = Env::new("syslog");
    env.start_daemon();
    env.flom(&["-x"]).expect_code(0);
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 2048];
    while Instant::now() < deadline && !seen.iter().any(|l: &String| l.contains("FLM004N")) {
        if let Ok(n) = sock.recv(&mut buf) {
            let line = String::from_utf8_lossy(&buf[..n]).into_owned();
            if line.contains(&env.sock) || !seen.is_empty() {
                seen.push(line);
            }
        }
    }
    let has = |id: &str| seen.iter().any(|l| l.contains(" flom[") && l.contains(id));
    for id in ["FLM000I", "FLM003N", "FLM008N", "FLM004N"] {
        assert!(has(id), "{id} not logged; got {seen:?}");
    }
    assert!(seen[0].contains(&format!("FLM000I listening on UNIX socket '{}'", env.sock)));
}
