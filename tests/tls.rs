//! TLS between the `flom` client and its daemon, over the UNIX socket and
//! over TCP on loopback, with certificates made by the `openssl` command in
//! each test's own directory: agreement with and without the peer-id check,
//! a wrong CA on either side, a wrong CN with and without the check, a key
//! that does not match its certificate, an expired certificate, plain
//! against TLS both ways, `-x`/`-X` over TLS, a stalled handshake that costs
//! the other clients nothing, and the tls.server/tls.client debug features.
//! Every test ends its daemons (`-X` with the right files, then a kill of
//! any process whose command line names the test's directory).

mod common;
#[path = "../src/tls/test_pki.rs"]
mod pki;

use common::*;
use pki::{Peer, Pki};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

/// How a test reaches its daemon.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Via {
    Unix,
    Tcp,
}

/// One test's place: its directory, socket or port, and certificates.
struct Site {
    env: Env,
    via: Via,
    port: u16,
    pki: Pki,
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().unwrap().port()
}

impl Site {
    fn new(name: &str, via: Via) -> Site {
        let env = Env::new(name);
        let pki = Pki::generate(&env.dir.join("pki"), &machine_id());
        Site {
            env,
            via,
            port: free_port(),
            pki,
        }
    }

    /// The transport options of this site.
    fn at(&self) -> Vec<String> {
        match self.via {
            Via::Unix => vec!["-s".into(), self.env.sock.clone()],
            Via::Tcp => vec![
                "-a".into(),
                "127.0.0.1".into(),
                "-p".into(),
                self.port.to_string(),
            ],
        }
    }

    /// Runs `flom AT TLS ARGS` to its end.
    fn flom(&self, tls: &[String], args: &[&str]) -> Out {
        let mut a: Vec<String> = self.at();
        a.extend_from_slice(tls);
        a.extend(args.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        run_flom(&refs)
    }

    /// Starts a daemon that lives until shut down, with `tls`; returns its pid.
    fn start_daemon(&self, tls: &[String]) -> i32 {
        self.flom(tls, &["-d", "-1", "-r", "warmup", "--", "true"])
            .expect_code(0)
            .expect_stderr("");
        let pids = self.daemons();
        assert_eq!(pids.len(), 1, "daemons of this test: {pids:?}");
        pids[0]
    }

    /// Live detached processes (daemons) whose command line names this
    /// test's directory or port.
    fn daemons(&self) -> Vec<i32> {
        let dir = self.env.dir.to_string_lossy().into_owned();
        let port = self.port.to_string();
        // SAFETY: getsid on ourselves and on pids read from /proc.
        let my_sid = unsafe { libc::getsid(0) };
        let mut v = Vec::new();
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let args = cmdline(pid);
            let ours = args.iter().any(|a| a.starts_with(&dir))
                || (self.via == Via::Tcp && args.windows(2).any(|w| w[0] == "-p" && w[1] == port));
            // SAFETY: see above.
            if ours && pid_alive(pid) && unsafe { libc::getsid(pid) } != my_sid {
                v.push(pid);
            }
        }
        v
    }

    fn wait_no_daemon(&self) {
        wait_until(T, "the daemon to exit", || self.daemons().is_empty());
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        for pid in self.daemons() {
            // SAFETY: a daemon this test started (its argv names our directory).
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// The TLS options for `peer` trusting `ca`.
fn tls(peer: &Peer, ca: &std::path::Path) -> Vec<String> {
    vec![
        format!("--tls-certificate={}", peer.cert.display()),
        format!("--tls-private-key={}", peer.key.display()),
        format!("--tls-ca-certificate={}", ca.display()),
    ]
}

fn with_check(mut v: Vec<String>) -> Vec<String> {
    v.push("--tls-check-peer-id=yes".into());
    v
}

#[track_caller]
fn expect_flom_sentence(out: &Out, words: &str) {
    assert!(
        out.stderr
            .lines()
            .any(|l| l.starts_with("flom: ") && l.contains(words)),
        "expected a `flom: ` line containing {words:?} in {}",
        out.describe()
    );
}

fn both(f: impl Fn(Via)) {
    f(Via::Unix);
    f(Via::Tcp);
}

// ------------------------------------------------------------ agreement

#[test]
fn tls_client_and_daemon_agree_with_and_without_peer_id_check() {
    both(|via| {
        let s = Site::new(&format!("tlsagree{via:?}"), via);
        let p1 = tls(&s.pki.peer1, &s.pki.ca1);
        // Auto-started daemon with the same files, with and without the check.
        let out = s.flom(&p1, &["-d", "300", "--", "echo", "locked"]);
        out.expect_code(0)
            .expect_stdout("locked\n")
            .expect_stderr("");
        s.wait_no_daemon();
        let out = s.flom(&with_check(p1.clone()), &["-d", "300", "--", "true"]);
        out.expect_code(0).expect_stderr("");
        s.wait_no_daemon();
        // A lasting daemon with the check; another identity of the same CA.
        s.start_daemon(&with_check(p1.clone()));
        let p2 = tls(&s.pki.peer2, &s.pki.ca1);
        s.flom(&p2, &["-o", "0", "--", "true"])
            .expect_code(0)
            .expect_stderr("");
        s.flom(&with_check(p2.clone()), &["-o", "0", "--", "true"])
            .expect_code(0)
            .expect_stderr("");
        s.flom(&p2, &["-X"]).expect_code(0);
        s.wait_no_daemon();
    });
}

// ------------------------------------------------------------ wrong CA

#[test]
fn wrong_ca_on_either_side_fails_with_a_sentence() {
    both(|via| {
        let s = Site::new(&format!("tlsca{via:?}"), via);
        s.start_daemon(&tls(&s.pki.peer1, &s.pki.ca1));
        // The client's certificate comes from CA2, which the daemon does
        // not trust (the client trusts CA1 and so accepts the daemon).
        let out = s.flom(
            &tls(&s.pki.ca2_peer, &s.pki.ca1),
            &["-o", "0", "--", "true"],
        );
        out.expect_code(99);
        expect_flom_sentence(&out, "refused our certificate");
        // The client trusts CA2 only: the daemon's certificate is refused.
        let out = s.flom(
            &tls(&s.pki.ca2_peer, &s.pki.ca2),
            &["-o", "0", "--", "true"],
        );
        out.expect_code(99);
        expect_flom_sentence(&out, "the daemon's certificate is not signed by the CA in");
        s.flom(&tls(&s.pki.peer2, &s.pki.ca1), &["-X"])
            .expect_code(0);
        s.wait_no_daemon();
        // A daemon that trusts CA2 refuses a CA1 client.
        s.start_daemon(&tls(&s.pki.ca2_peer, &s.pki.ca2));
        let out = s.flom(&tls(&s.pki.peer1, &s.pki.ca2), &["-o", "0", "--", "true"]);
        out.expect_code(99);
        expect_flom_sentence(&out, "refused our certificate");
        s.flom(&tls(&s.pki.ca2_peer, &s.pki.ca2), &["-X"])
            .expect_code(0);
        s.wait_no_daemon();
    });
}

// ------------------------------------------------------------ wrong CN

#[test]
fn wrong_client_cn_matters_only_with_the_daemons_check() {
    both(|via| {
        let s = Site::new(&format!("tlscncli{via:?}"), via);
        let wrong = tls(&s.pki.wrong_cn, &s.pki.ca1);
        s.start_daemon(&tls(&s.pki.peer1, &s.pki.ca1));
        s.flom(&wrong, &["-o", "0", "--", "true"])
            .expect_code(0)
            .expect_stderr("");
        s.flom(&wrong, &["-X"]).expect_code(0);
        s.wait_no_daemon();
        s.start_daemon(&with_check(tls(&s.pki.peer1, &s.pki.ca1)));
        // The daemon drops the request without an answer (C: exit 99).
        let out = s.flom(&wrong, &["-o", "0", "--", "true"]);
        out.expect_code(99);
        expect_flom_sentence(&out, "closed the TLS connection without answering");
        s.flom(&tls(&s.pki.peer2, &s.pki.ca1), &["-X"])
            .expect_code(0);
        s.wait_no_daemon();
    });
}

#[test]
fn wrong_daemon_cn_matters_only_with_the_clients_check() {
    both(|via| {
        let s = Site::new(&format!("tlscnsrv{via:?}"), via);
        s.start_daemon(&tls(&s.pki.wrong_cn, &s.pki.ca1));
        let p1 = tls(&s.pki.peer1, &s.pki.ca1);
        s.flom(&p1, &["-o", "0", "--", "true"])
            .expect_code(0)
            .expect_stderr("");
        let out = s.flom(&with_check(p1.clone()), &["-o", "0", "--", "true"]);
        out.expect_code(99);
        // one sentence, no internal return code
        assert!(
            !out.stderr.contains("ret_cod") && out.stderr.lines().count() == 1,
            "{}",
            out.describe()
        );
        expect_flom_sentence(&out, pki::WRONG_ID);
        s.flom(&p1, &["-X"]).expect_code(0);
        s.wait_no_daemon();
    });
}

// ------------------------------------------------------------ bad files

#[test]
fn key_not_matching_and_expired_certificates_fail_before_any_daemon() {
    both(|via| {
        let s = Site::new(&format!("tlsfiles{via:?}"), via);
        let mismatched = vec![
            format!("--tls-certificate={}", s.pki.peer1.cert.display()),
            format!("--tls-private-key={}", s.pki.peer2.key.display()),
            format!("--tls-ca-certificate={}", s.pki.ca1.display()),
        ];
        let out = s.flom(&mismatched, &["--", "true"]);
        out.expect_code(99).expect_stdout("");
        expect_flom_sentence(&out, "does not match the certificate");
        let out = s.flom(&tls(&s.pki.expired, &s.pki.ca1), &["--", "true"]);
        out.expect_code(99);
        expect_flom_sentence(&out, "expired on");
        assert!(s.daemons().is_empty(), "a daemon was started");
        // A running daemon refuses nothing of that: the client stops first.
        s.start_daemon(&tls(&s.pki.peer1, &s.pki.ca1));
        let out = s.flom(&mismatched, &["-X"]);
        out.expect_code(99);
        assert_eq!(s.daemons().len(), 1, "a bad -X must not stop the daemon");
        s.flom(&tls(&s.pki.peer1, &s.pki.ca1), &["-X"])
            .expect_code(0);
        s.wait_no_daemon();
    });
}

// ------------------------------------------------------------ plain vs TLS

#[test]
fn plain_and_tls_do_not_mix() {
    both(|via| {
        let s = Site::new(&format!("tlsplain{via:?}"), via);
        let p1 = tls(&s.pki.peer1, &s.pki.ca1);
        s.start_daemon(&p1);
        let out = s.flom(&[], &["-o", "0", "--", "true"]);
        out.expect_code(99);
        expect_flom_sentence(&out, "speaks TLS");
        // A plain -X is not taken for an accepted shutdown: the daemon
        // answered with a TLS alert and is still there.
        let out = s.flom(&[], &["-X"]);
        out.expect_code(99);
        expect_flom_sentence(&out, "speaks TLS");
        assert_eq!(s.daemons().len(), 1, "the plain -X stopped the daemon");
        s.flom(&p1, &["-X"]).expect_code(0);
        s.wait_no_daemon();
        s.start_daemon(&[]);
        let out = s.flom(&p1, &["-o", "0", "--", "true"]);
        out.expect_code(99);
        expect_flom_sentence(&out, "TLS handshake");
        s.flom(&[], &["-X"]).expect_code(0);
        s.wait_no_daemon();
    });
}

// ------------------------------------------------------------ -x / -X

#[test]
fn shutdown_requests_over_tls() {
    both(|via| {
        let s = Site::new(&format!("tlsexit{via:?}"), via);
        let p1 = tls(&s.pki.peer1, &s.pki.ca1);
        let p2 = tls(&s.pki.peer2, &s.pki.ca1);
        // -X with CA2 files fails and leaves the daemon alive.
        s.start_daemon(&p1);
        s.flom(&tls(&s.pki.ca2_peer, &s.pki.ca2), &["-X"])
            .expect_code(99);
        assert_eq!(s.daemons().len(), 1);
        s.flom(&p2, &["-X"]).expect_code(0);
        s.wait_no_daemon();
        // -x (quiesce) over TLS.
        s.start_daemon(&p1);
        s.flom(&p2, &["-x"]).expect_code(0);
        s.wait_no_daemon();
        // With the daemon's check, a wrong id's -X is dropped (exit 0, C),
        // the right one is obeyed.
        s.start_daemon(&with_check(p1.clone()));
        s.flom(&tls(&s.pki.wrong_cn, &s.pki.ca1), &["-X"])
            .expect_code(0);
        let daemons = s.daemons();
        assert_eq!(daemons.len(), 1, "the dropped -X stopped the daemon");
        s.flom(&p2, &["-X"]).expect_code(0);
        s.wait_no_daemon();
    });
}

/// `--status` and `--fencing` (our extensions) over TLS; a status request
/// whose id fails the daemon's check is dropped with a sentence.
#[test]
fn status_and_fencing_over_tls() {
    both(|via| {
        let s = Site::new(&format!("tlsstatus{via:?}"), via);
        let p1 = with_check(tls(&s.pki.peer1, &s.pki.ca1));
        s.start_daemon(&p1);
        let shown = |token: &str| {
            let out = s.flom(&p1, &["--status", "--json"]);
            out.expect_code(0).expect_stderr("");
            out.stdout.contains(token)
        };
        assert!(shown("\"warmup\"") || shown("\"resources\": []"));
        let out = s.flom(
            &p1,
            &[
                "--fencing",
                "-r",
                "tlsres",
                "--",
                "sh",
                "-c",
                "echo \"[${FLOM_FENCING_TOKEN-unset}]\"",
            ],
        );
        out.expect_code(0);
        assert!(
            out.stdout
                .trim()
                .trim_matches(['[', ']'])
                .parse::<u64>()
                .is_ok(),
            "{}",
            out.describe()
        );
        assert!(shown("\"tlsres\""));
        let out = s.flom(&tls(&s.pki.wrong_cn, &s.pki.ca1), &["--status"]);
        out.expect_code(99).expect_stdout("");
        expect_flom_sentence(&out, "without answering");
        assert!(
            out.stderr
                .starts_with("flom: the status request failed: the daemon closed"),
            "{}",
            out.describe()
        );
        s.flom(&p1, &["-X"]).expect_code(0);
        s.wait_no_daemon();
    });
}

// ------------------------------------------------------------ stalled handshake

/// A raw connection to the site's daemon.
fn raw_connect(s: &Site) -> Box<dyn Read + Send> {
    match s.via {
        Via::Unix => Box::new(UnixStream::connect(&s.env.sock).unwrap()),
        Via::Tcp => Box::new(TcpStream::connect(("127.0.0.1", s.port)).unwrap()),
    }
}

#[test]
fn a_stalled_handshake_does_not_delay_other_clients() {
    both(|via| {
        let s = Site::new(&format!("tlsstall{via:?}"), via);
        let p1 = tls(&s.pki.peer1, &s.pki.ca1);
        s.start_daemon(&p1);
        // Connects and never says a word; a second one sends half a hello.
        let mut silent = raw_connect(&s);
        let mut half: Box<dyn Write> = match via {
            Via::Unix => Box::new(UnixStream::connect(&s.env.sock).unwrap()),
            Via::Tcp => Box::new(TcpStream::connect(("127.0.0.1", s.port)).unwrap()),
        };
        half.write_all(&[0x16, 0x03, 0x01, 0x01, 0x00, 0x01])
            .unwrap();
        let t = Instant::now();
        for i in 0..3 {
            s.flom(&p1, &["-r", &format!("r{i}"), "-o", "0", "--", "true"])
                .expect_code(0)
                .expect_stderr("");
        }
        assert!(
            t.elapsed() < Duration::from_secs(4),
            "three clients took {:?} beside a stalled handshake",
            t.elapsed()
        );
        // The daemon gives up on the silent peer after its handshake timeout.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut b = [0u8; 64];
            let _ = tx.send(silent.read(&mut b));
        });
        let got = rx
            .recv_timeout(Duration::from_secs(12))
            .expect("the daemon closes a stalled handshake");
        assert!(matches!(got, Ok(0) | Err(_)), "{got:?}");
        drop(half);
        s.flom(&p1, &["-X"]).expect_code(0);
        s.wait_no_daemon();
    });
}

// ------------------------------------------------------------ debug features

#[test]
fn tls_debug_features_talk_to_each_other() {
    let s = Site::new("tlsdebug", Via::Tcp);
    let p1 = tls(&s.pki.peer1, &s.pki.ca1);
    let p2 = tls(&s.pki.peer2, &s.pki.ca1);
    let wrong = tls(&s.pki.wrong_cn, &s.pki.ca1);
    let port = s.port.to_string();
    let at = ["-a", "127.0.0.1", "-p", port.as_str()];
    let run_pair = |server: &[String], client: &[String]| -> (Out, Out) {
        let mut a: Vec<&str> = at.to_vec();
        a.extend(server.iter().map(String::as_str));
        a.push("--debug-feature=tls.server");
        let mut srv = spawn_flom(&a);
        wait_until(T, "the tls.server to listen", || tcp_listening(s.port));
        let mut c: Vec<&str> = at.to_vec();
        c.extend(client.iter().map(String::as_str));
        c.push("--debug-feature=TLS.Client");
        let cli = run_flom(&c);
        (srv.wait(T), cli)
    };
    let (srv, cli) = run_pair(&p1, &p2);
    srv.expect_code(0);
    cli.expect_code(0);
    let (srv, cli) = run_pair(&with_check(p1.clone()), &wrong);
    srv.expect_code(1);
    expect_flom_sentence(&srv, "certificate's CN");
    let _ = cli;
    let (srv, cli) = run_pair(&wrong, &with_check(p1.clone()));
    let _ = srv;
    cli.expect_code(1);
    expect_flom_sentence(&cli, "certificate's CN");
}

/// Whether something listens on 127.0.0.1:`port` (from /proc/net/tcp).
fn tcp_listening(port: u16) -> bool {
    let text = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let want = format!("0100007F:{port:04X}");
    text.lines().skip(1).any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() > 3 && f[1] == want && f[3] == "0A"
    })
}
