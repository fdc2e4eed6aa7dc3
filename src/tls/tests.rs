//! Unit tests of the contexts, the handshake state machine and the
//! messages, with certificates made by the `openssl` command.

use super::test_pki::{Pki, WRONG_ID};
use super::*;
use crate::net::Stream;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::OnceLock;
use std::time::Instant;

const ID: &str = "00112233445566778899aabbccddeeff";

fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("flom-tls-unit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Pki::generate(&dir, ID)
    })
}

fn files(p: &test_pki::Peer, ca: &Path) -> TlsFiles {
    TlsFiles {
        certificate: p.cert.clone(),
        private_key: p.key.clone(),
        ca_certificate: ca.to_path_buf(),
    }
}

fn ctx(role: Role, p: &test_pki::Peer, ca: &Path) -> TlsContext {
    TlsContext::new(role, &files(p, ca)).expect("context")
}

type Outcome = Result<TlsStream, TlsError>;

/// Drives both ends of a socket pair until each is established or failed.
fn handshake_pair(client: &TlsContext, server: &TlsContext) -> (Outcome, Outcome) {
    let (a, b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    b.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + HANDSHAKE_TIMEOUT;
    let mut c = Some(Handshake::start(client, Stream::Unix(a), deadline).unwrap());
    let mut s = Some(Handshake::start(server, Stream::Unix(b), deadline).unwrap());
    let (mut co, mut so): (Option<Outcome>, Option<Outcome>) = (None, None);
    for _ in 0..1000 {
        for (hs, out) in [(&mut c, &mut co), (&mut s, &mut so)] {
            if out.is_some() {
                continue;
            }
            let Some(h) = hs.as_mut() else { continue };
            match h.advance() {
                Ok(Progress::Established) => *out = Some(hs.take().unwrap().finish()),
                Ok(_) => {}
                Err(e) => {
                    *out = Some(Err(e));
                    hs.take(); // closes its end
                }
            }
        }
        if co.is_some() && so.is_some() {
            break;
        }
    }
    (co.expect("client ended"), so.expect("server ended"))
}

#[test]
fn contexts_build_for_both_roles() {
    let p = pki();
    let c = ctx(Role::Client, &p.peer1, &p.ca1);
    assert_eq!(c.role(), Role::Client);
    let s = ctx(Role::Server, &p.peer2, &p.ca1);
    assert_eq!(s.files().certificate, p.peer2.cert);
}

#[test]
fn key_not_matching_certificate_is_named() {
    let p = pki();
    let f = TlsFiles {
        certificate: p.peer1.cert.clone(),
        private_key: p.peer2.key.clone(),
        ca_certificate: p.ca1.clone(),
    };
    let e = TlsContext::new(Role::Server, &f).err().expect("refused");
    assert!([
        code::SSL_CTX_USE_PRIVATEKEY_FILE_ERROR,
        code::SSL_CTX_CHECK_PRIVATE_KEY_ERROR
    ]
    .contains(&e.rc));
    assert!(
        e.message.starts_with("flom: the private key"),
        "{}",
        e.message
    );
    assert!(e.message.contains(&p.peer2.key.display().to_string()));
    assert!(e.message.contains(&p.peer1.cert.display().to_string()));
}

#[test]
fn expired_certificate_is_refused_at_load() {
    let p = pki();
    let e = TlsContext::new(Role::Client, &files(&p.expired, &p.ca1))
        .err()
        .expect("refused");
    assert!(e.message.contains("expired on"), "{}", e.message);
    assert!(e.message.contains("expired.pem"), "{}", e.message);
}

#[test]
fn files_that_are_not_pem_are_named() {
    let p = pki();
    let bogus = p.dir.join("bogus.pem");
    std::fs::write(&bogus, "hello\n").unwrap();
    let mut f = files(&p.peer1, &p.ca1);
    f.certificate = bogus.clone();
    let e = TlsContext::new(Role::Client, &f).err().unwrap();
    assert_eq!(e.rc, code::SSL_CTX_USE_CERTIFICATE_FILE_ERROR);
    assert!(
        e.message.contains("does not hold a PEM certificate"),
        "{}",
        e.message
    );
    let mut f = files(&p.peer1, &p.ca1);
    f.private_key = bogus.clone();
    let e = TlsContext::new(Role::Client, &f).err().unwrap();
    assert_eq!(e.rc, code::SSL_CTX_USE_PRIVATEKEY_FILE_ERROR);
    assert!(e.message.contains("bogus.pem"), "{}", e.message);
    let mut f = files(&p.peer1, &p.ca1);
    f.ca_certificate = bogus;
    let e = TlsContext::new(Role::Client, &f).err().unwrap();
    assert_eq!(e.rc, code::SSL_CTX_LOAD_VERIFY_LOCATIONS_ERROR);
}

#[test]
fn agreeing_peers_establish_and_see_each_others_cn() {
    let p = pki();
    let (c, s) = handshake_pair(
        &ctx(Role::Client, &p.peer1, &p.ca1),
        &ctx(Role::Server, &p.wrong_cn, &p.ca1),
    );
    let (mut c, mut s) = (c.expect("client"), s.expect("server"));
    assert_eq!(c.peer_cn(), Some(WRONG_ID));
    assert_eq!(s.peer_cn(), Some(ID));
    assert!(check_peer_id(Role::Server, s.peer_cn(), Some(ID)).is_ok());
    let e = check_peer_id(Role::Client, c.peer_cn(), Some(ID)).unwrap_err();
    assert_eq!(e.rc, code::UNIQUE_ID_DOES_NOT_MATCH);
    assert!(
        e.message.contains(WRONG_ID) && e.message.contains("the daemon"),
        "{}",
        e.message
    );
    // Data flows both ways over the non-blocking pair.
    c.write_all(b"<msg>hello</msg>").unwrap();
    let mut buf = [0u8; 64];
    let n = loop {
        match s.read(&mut buf) {
            Ok(n) => break n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => panic!("{e}"),
        }
    };
    assert_eq!(&buf[..n], b"<msg>hello</msg>");
    assert_eq!(s.pending(), 0);
    // A close is an ordinary end of stream.
    c.shutdown_write().unwrap();
    let n = loop {
        match s.read(&mut buf) {
            Ok(n) => break n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => panic!("{e}"),
        }
    };
    assert_eq!(n, 0);
}

#[test]
fn wrong_ca_on_the_client_side_is_explained() {
    let p = pki();
    // The client trusts CA2 only; the daemon's certificate is from CA1.
    let (c, _s) = handshake_pair(
        &ctx(Role::Client, &p.ca2_peer, &p.ca2),
        &ctx(Role::Server, &p.peer1, &p.ca1),
    );
    let e = c.err().expect("client refuses");
    assert!(
        e.message
            .contains("the daemon's certificate is not signed by the CA in"),
        "{}",
        e.message
    );
    assert!(e.message.contains("ca2.pem"), "{}", e.message);
    // C FLoM's code: its handshake accepts the chain, SSL_get_verify_result refuses it.
    assert_eq!(e.rc, code::SSL_GET_VERIFY_RESULT_ERROR);
}

#[test]
fn wrong_ca_on_the_server_side_is_explained() {
    let p = pki();
    // The client's certificate is from CA2; the daemon trusts CA1 only.
    let (c, s) = handshake_pair(
        &ctx(Role::Client, &p.ca2_peer, &p.ca1),
        &ctx(Role::Server, &p.peer1, &p.ca1),
    );
    let e = s.err().expect("server refuses");
    assert!(
        e.message
            .contains("the client's certificate is not signed by the CA in"),
        "{}",
        e.message
    );
    // TLS 1.3: the client may finish first and learn it from the alert on
    // its first read.
    match c {
        Err(e) => assert!(
            e.message.contains("refused our certificate"),
            "{}",
            e.message
        ),
        Ok(mut c) => {
            let mut buf = [0u8; 16];
            let err = loop {
                match c.read(&mut buf) {
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                    other => break other.expect_err("refused"),
                }
            };
            let m = diagnose::stream_failure(Role::Client, &files(&p.ca2_peer, &p.ca1), &err)
                .expect("explained");
            assert!(
                m.contains("refused our certificate") && m.contains("peer4.pem"),
                "{m}"
            );
        }
    }
}

#[test]
fn plain_text_client_is_told_apart() {
    let p = pki();
    let (mut a, b) = UnixStream::pair().unwrap();
    b.set_nonblocking(true).unwrap();
    let server = ctx(Role::Server, &p.peer1, &p.ca1);
    let mut h =
        Handshake::start(&server, Stream::Unix(b), Instant::now() + HANDSHAKE_TIMEOUT).unwrap();
    assert_eq!(h.advance().unwrap(), Progress::WantRead);
    a.write_all(b"<msg><level>3</level></msg>").unwrap();
    let e = h.advance().unwrap_err();
    assert!(
        e.message.contains("the client speaks plain text"),
        "{}",
        e.message
    );
}

#[test]
fn closed_and_stalled_handshakes_end() {
    let p = pki();
    let server = ctx(Role::Server, &p.peer1, &p.ca1);
    let (a, b) = UnixStream::pair().unwrap();
    b.set_nonblocking(true).unwrap();
    let mut h =
        Handshake::start(&server, Stream::Unix(b), Instant::now() + HANDSHAKE_TIMEOUT).unwrap();
    drop(a);
    let e = h.advance().unwrap_err();
    assert!(
        e.message
            .contains("closed the connection during the TLS handshake"),
        "{}",
        e.message
    );
    let (_a, b) = UnixStream::pair().unwrap();
    b.set_nonblocking(true).unwrap();
    let mut h = Handshake::start(&server, Stream::Unix(b), Instant::now()).unwrap();
    let e = h.advance().unwrap_err();
    assert!(e.message.contains("did not finish within"), "{}", e.message);
}

#[test]
fn tls_return_code_texts() {
    assert_eq!(
        code::text(code::SSL_CONNECT_ERROR),
        Some("ERROR: 'OpenSSL SSL_connect' function returned an error")
    );
    assert_eq!(code::text(-1), None);
}

/// Live heap of an established daemon-side connection (run by hand with
/// `--ignored --nocapture`): OpenSSL 3.0 keeps ~15 KB per SSL object, plus
/// the peer's certificate.
#[test]
#[ignore]
fn measure_live_heap_per_server_connection() {
    let p = pki();
    let client = ctx(Role::Client, &p.peer1, &p.ca1);
    let server = ctx(Role::Server, &p.peer2, &p.ca1);
    let live = || unsafe { libc::mallinfo2().uordblks };
    let mut servers = Vec::new();
    let mut clients = Vec::new();
    let _ = handshake_pair(&client, &server);
    let before = live();
    for _ in 0..200 {
        let (c, s) = handshake_pair(&client, &server);
        clients.push(c.unwrap());
        servers.push(s.unwrap());
    }
    let both = live();
    drop(clients);
    let after = live();
    for s in servers.iter_mut() {
        let mut b = [0u8; 8];
        let _ = s.read(&mut b);
    }
    let after_read = live();
    eprintln!(
        "after a read attempt: per server side {} B",
        (after_read - before) / 200
    );
    eprintln!(
        "per pair {} B, per server side {} B",
        (both - before) / 200,
        (after - before) / 200
    );
}
