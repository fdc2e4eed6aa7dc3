//! The client side of the wire protocol as the benchmark needs it, plus the
//! few facts read from the system (/proc, the fd limit, the machine id).

use crate::opts::Target;
use flom::protocol::{self, LockRequestArgs, Message};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;

use flom::net::Stream as Socket;
use flom::tls::{Role, TlsContext, TlsFiles};
use std::sync::OnceLock;

/// A connection to a daemon, plain or TLS.
pub type Stream = flom::tls::Transport;

/// `--tls`: the daemon under test speaks TLS with this client context (the
/// tool's own floor responder stays plain).
static TLS: OnceLock<(Target, TlsContext)> = OnceLock::new();

/// Makes every connection to `target` a TLS one with these files.
pub fn use_tls(target: &Target, files: &TlsFiles) -> Result<(), String> {
    let ctx = TlsContext::new(Role::Client, files).map_err(|e| e.message)?;
    let _ = TLS.set((target.clone(), ctx));
    Ok(())
}

/// Connects to the daemon under test, UNIX or TCP, and does the TLS
/// handshake when `--tls` is given.
pub fn connect(t: &Target) -> io::Result<Stream> {
    let socket = match t {
        Target::Unix(p) => UnixStream::connect(p).map(Socket::Unix)?,
        Target::Tcp(a) => {
            let s = TcpStream::connect(a)?;
            s.set_nodelay(true)?;
            Socket::Tcp(s)
        }
    };
    let ctx = TLS.get().filter(|(tt, _)| tt == t).map(|(_, c)| c);
    Stream::connect(ctx, socket, flom::tls::HANDSHAKE_TIMEOUT)
        .map_err(|e| io::Error::other(e.message))
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// Takes one complete message out of `buf` if it holds one.
pub fn take_message(buf: &mut Vec<u8>) -> io::Result<Option<Message>> {
    match protocol::find_message_end(buf, 0) {
        None if buf.len() > protocol::CLIENT_MAX_MESSAGE => Err(bad("answer too long")),
        None => Ok(None),
        Some(end) => {
            let m = protocol::parse_message(&buf[..end])
                .map_err(|e| bad(format!("unparsable answer: {e:?}")))?;
            buf.drain(..end);
            Ok(Some(m))
        }
    }
}

/// Receives one message; `buf` keeps bytes that follow it.
pub fn recv_message(s: &mut Stream, buf: &mut Vec<u8>) -> io::Result<Message> {
    let mut tmp = [0u8; 1024];
    loop {
        if let Some(m) = take_message(buf)? {
            return Ok(m);
        }
        let n = s.read(&mut tmp)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "daemon closed the connection",
            ));
        }
        buf.extend_from_slice(&tmp[..n]);
    }
}

/// The rc of a lock answer, checking verb and step.
pub fn answer_rc(m: &Message, steps: &[i32]) -> io::Result<i32> {
    if m.verb != protocol::VERB_LOCK || !steps.contains(&m.step) {
        return Err(bad(format!(
            "unexpected message verb={} step={}",
            m.verb, m.step
        )));
    }
    m.answer
        .as_ref()
        .map(|a| a.rc)
        .ok_or_else(|| bad("lock answer without <answer>"))
}

/// What a lock request came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockOutcome {
    /// Granted; `queued` when it was first enqueued (rc 1 or 2).
    Granted { queued: bool },
    /// Refused with this rc (busy, can't wait, impossible, invalid name...).
    Refused(i32),
}

/// Waits for the grant that follows an rc 1/2 first answer.
pub fn wait_later_grant(s: &mut Stream, buf: &mut Vec<u8>) -> io::Result<LockOutcome> {
    loop {
        let m = recv_message(s, buf)?;
        match answer_rc(&m, &[16, 24, 32])? {
            1 => continue,
            0 => return Ok(LockOutcome::Granted { queued: true }),
            rc => return Ok(LockOutcome::Refused(rc)),
        }
    }
}

/// Sends a lock request and waits until it is granted or refused.
pub fn lock(s: &mut Stream, buf: &mut Vec<u8>, request: &[u8]) -> io::Result<LockOutcome> {
    s.write_all(request)?;
    let m = recv_message(s, buf)?;
    match answer_rc(&m, &[16])? {
        0 => Ok(LockOutcome::Granted { queued: false }),
        1 | 2 => wait_later_grant(s, buf),
        rc => Ok(LockOutcome::Refused(rc)),
    }
}

/// Reads until the daemon closes its side.
pub fn drain_eof(s: &mut Stream) -> io::Result<()> {
    let mut tmp = [0u8; 256];
    loop {
        match s.read(&mut tmp) {
            Ok(0) => return Ok(()),
            Ok(_) => continue,
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Sends the unlock and performs the graceful disconnect of the C client:
/// half-close, wait for the daemon to close, close.
pub fn unlock_and_close(mut s: Stream, unlock: &[u8]) -> io::Result<()> {
    s.write_all(unlock)?;
    s.shutdown_write()?;
    drain_eof(&mut s)
}

/// A lock request for a simple resource in EX mode.
pub fn lock_request(
    peerid: &str,
    name: &str,
    wait: bool,
    create: bool,
    lifespan_ms: u64,
) -> Vec<u8> {
    let mut out = String::with_capacity(256);
    protocol::encode_lock_request(
        &mut out,
        &LockRequestArgs {
            peerid,
            name,
            mode: 5,
            wait,
            quantity: 1,
            create,
            lifespan: lifespan_ms.min(i64::MAX as u64) as i64,
        },
    );
    out.into_bytes()
}

pub fn unlock_message(name: &str) -> Vec<u8> {
    let mut out = String::with_capacity(160);
    protocol::encode_unlock(&mut out, name, false);
    out.into_bytes()
}

/// The host's D-Bus machine id, as C FLoM sends it; empty when unavailable.
pub fn peer_id() -> String {
    flom::config::unique_id()
}

/// What /proc/PID/status says about the daemon.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProcStat {
    pub rss_kib: u64,
    pub threads: u64,
}

/// Extracts VmRSS (KiB) and Threads from the text of /proc/PID/status.
pub fn parse_status(text: &str) -> Option<ProcStat> {
    let field = |key: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(key))?;
        line[key.len()..].split_whitespace().next()?.parse().ok()
    };
    Some(ProcStat {
        rss_kib: field("VmRSS:")?,
        threads: field("Threads:")?,
    })
}

pub fn proc_status(pid: Option<u32>) -> Option<ProcStat> {
    let text = std::fs::read_to_string(format!("/proc/{}/status", pid?)).ok()?;
    parse_status(&text)
}

/// Raises the soft RLIMIT_NOFILE to the hard limit; returns the soft limit now in force.
pub fn raise_nofile() -> u64 {
    flom::net::raise_fd_limit()
}

/// File descriptors kept free for the tool itself (std, probes, /proc reads).
pub const FD_RESERVE: u64 = 64;

/// How many simultaneous connections the fd limit allows.
pub fn max_connections(soft_limit: u64) -> u64 {
    soft_limit.saturating_sub(FD_RESERVE).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_fields() {
        let t = "Name:\tflom\nVmPeak:\t  9000 kB\nVmRSS:\t    1234 kB\nThreads:\t3\n";
        assert_eq!(
            parse_status(t),
            Some(ProcStat {
                rss_kib: 1234,
                threads: 3
            })
        );
        assert_eq!(parse_status("Name:\tx\n"), None);
    }

    #[test]
    fn messages_split_and_joined() {
        let mut a = String::new();
        protocol::encode_lock_answer(&mut a, 16, "p", 1, None);
        let mut b = String::new();
        protocol::encode_lock_answer(&mut b, 24, "", 0, None);
        let mut buf = a.as_bytes()[..10].to_vec();
        assert_eq!(take_message(&mut buf).unwrap(), None);
        buf.extend_from_slice(&a.as_bytes()[10..]);
        buf.extend_from_slice(b.as_bytes());
        let m1 = take_message(&mut buf).unwrap().unwrap();
        assert_eq!(answer_rc(&m1, &[16]).unwrap(), 1);
        let m2 = take_message(&mut buf).unwrap().unwrap();
        assert_eq!(answer_rc(&m2, &[24]).unwrap(), 0);
        assert!(answer_rc(&m2, &[16]).is_err());
        assert!(buf.is_empty());
    }

    #[test]
    fn requests() {
        let r = String::from_utf8(lock_request("", "fb1c0", true, true, 600000)).unwrap();
        assert!(r.ends_with("<resource name=\"ZmIxYzA=\" mode=\"5\" wait=\"1\" create=\"1\" lifespan=\"600000\"/></msg>"));
        let u = String::from_utf8(unlock_message("fb1c0")).unwrap();
        assert!(u.ends_with("<resource name=\"ZmIxYzA=\" rollback=\"0\" /></msg>"));
        assert_eq!(max_connections(20000), 20000 - FD_RESERVE);
        assert_eq!(max_connections(10), 1);
    }
}
