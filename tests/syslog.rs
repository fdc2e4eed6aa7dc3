//! The daemon's system log: the catalogue ids reach syslog with ident
//! `flom` and the pid; a TLS daemon logs its clients' certificates
//! (FLM011I issuer, FLM012I subject). The test listens on /dev/log itself,
//! so it runs only where no syslog daemon owns that socket (it says so when
//! it skips).

mod common;
#[path = "../src/tls/test_pki.rs"]
mod pki;

use common::*;
use std::os::unix::net::UnixDatagram;
use std::sync::{Arc, Condvar, Mutex};
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
    // Every daemon of the parallel tests logs here while this test runs:
    // a reader thread drains the socket at once (a full receive queue
    // would block their syslog calls) and keeps every line.
    let log = Log::drain(sock);
    let env = Env::new("syslog");
    env.start_daemon();
    env.flom(&["-x"]).expect_code(0);
    let all = log.wait_for(|lines| {
        lines
            .iter()
            .skip_while(|l| !l.contains(&env.sock))
            .any(|l| l.contains("FLM004N"))
    });
    let seen: Vec<String> = all
        .into_iter()
        .skip_while(|l| !l.contains(&env.sock))
        .collect();
    let has = |id: &str| seen.iter().any(|l| l.contains(" flom[") && l.contains(id));
    for id in ["FLM000I", "FLM003N", "FLM008N", "FLM004N"] {
        assert!(has(id), "{id} not logged; got {seen:?}");
    }
    assert!(seen[0].contains(&format!("FLM000I listening on UNIX socket '{}'", env.sock)));
    tls_daemon_logs_its_clients_certificates(&log);
}

/// The lines received on the test's `/dev/log`, drained by a thread.
struct Log {
    lines: Arc<(Mutex<Vec<String>>, Condvar)>,
}

impl Log {
    fn drain(sock: UnixDatagram) -> Log {
        let lines = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // Ends with the test process (the socket is never closed).
            while let Ok(n) = sock.recv(&mut buf) {
                let line = String::from_utf8_lossy(&buf[..n]).into_owned();
                sink.0.lock().unwrap().push(line);
                sink.1.notify_all();
            }
        });
        Log { lines }
    }

    /// Every line so far, once `done` says they are enough (bounded: 10 s).
    fn wait_for(&self, done: impl Fn(&[String]) -> bool) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let (lock, arrived) = &*self.lines;
        let mut lines = lock.lock().unwrap();
        loop {
            let now = Instant::now();
            if done(&lines) || now >= deadline {
                return lines.clone();
            }
            lines = arrived.wait_timeout(lines, deadline - now).unwrap().0;
        }
    }
}

/// Lines of `pid` until one contains `until` (bounded).
fn lines_of(log: &Log, pid: i32, until: &str) -> Vec<String> {
    let tag = format!(" flom[{pid}]: ");
    let of_pid = |lines: &[String]| -> Vec<String> {
        lines.iter().filter(|l| l.contains(&tag)).cloned().collect()
    };
    of_pid(&log.wait_for(|lines| of_pid(lines).iter().any(|l| l.contains(until))))
}

fn tls_daemon_logs_its_clients_certificates(log: &Log) {
    let env = Env::new("syslog-tls");
    let id = machine_id();
    let pki = pki::Pki::generate(&env.dir.join("pki"), &id);
    let tls = |peer: &pki::Peer| {
        vec![
            format!("--tls-certificate={}", peer.cert.display()),
            format!("--tls-private-key={}", peer.key.display()),
            format!("--tls-ca-certificate={}", pki.ca1.display()),
        ]
    };
    let run = |peer: &pki::Peer, args: &[&str]| {
        let mut a: Vec<String> = vec!["-s".into(), env.sock.clone()];
        a.extend(tls(peer));
        a.extend(args.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        run_flom(&refs)
    };
    run(&pki.peer1, &["-d", "-1", "--", "true"]).expect_code(0);
    let pid = the_daemon(&env.sock);
    env.track(pid);
    // A client whose certificate is CA2's: logged, then refused.
    run(&pki.ca2_peer, &["--", "true"]).expect_code(99);
    run(&pki.peer1, &["-X"]).expect_code(0);
    let seen = lines_of(log, pid, "FLM004N");
    let logged = |id: &str, what: &str| {
        seen.iter()
            .filter(|l| l.contains(id) && l.contains(what))
            .count()
    };
    let ca = |n: &str| {
        format!("C=(null)/ST=(null)/L=(null)/O=FLoM tests/OU=(null)/emailAddress=(null)/CN=FLoM test {n}")
    };
    let subject =
        format!("C=(null)/ST=(null)/L=(null)/O=FLoM tests/OU=(null)/emailAddress=(null)/CN={id}");
    // The first run, the refused client (CA2) and the shutdown request.
    assert_eq!(logged("FLM011I", &ca("ca1")), 2, "{seen:#?}");
    assert_eq!(logged("FLM011I", &ca("ca2")), 1, "{seen:#?}");
    assert_eq!(logged("FLM012I", &subject), 3, "{seen:#?}");
    let refused = seen.iter().position(|l| l.contains(&ca("ca2"))).unwrap();
    assert!(
        seen[refused + 1..].iter().any(|l| l.contains("FLM017E")),
        "{seen:#?}"
    );
}
