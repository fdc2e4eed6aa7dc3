//! A TCP relay that delays every byte by a fixed time each way, run inside
//! a test's network namespace: latency on a link where the kernel has no
//! `tc netem`. The listener and the connections it makes are created by a
//! thread that entered the namespace (setns), so the relayed traffic stays
//! inside the namespaces of the test.

use nix::sched::{setns, CloneFlags};
use std::fs::File;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::io::AsRawFd;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// Starts a relay in network namespace `ns` listening on 127.0.0.1:`port`,
/// forwarding each accepted connection to `to` with `delay` added to every
/// chunk in both directions. It lives as long as the test process.
pub fn start(ns: &str, port: u16, to: SocketAddr, delay: Duration) {
    let ns = ns.to_string();
    let (ready_tx, ready_rx) = mpsc::channel();
    thread::spawn(move || {
        let file = File::open(format!("/var/run/netns/{ns}")).expect("namespace file");
        setns(file.as_raw_fd(), CloneFlags::CLONE_NEWNET).expect("setns");
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("relay bind");
        ready_tx.send(()).unwrap();
        for client in listener.incoming().flatten() {
            // The connection to `to` is made from this (namespaced) thread.
            let Ok(server) = TcpStream::connect(to) else {
                continue;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            pump(
                client.try_clone().unwrap(),
                server.try_clone().unwrap(),
                delay,
            );
            pump(server, client, delay);
        }
    });
    ready_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("relay did not start");
}

/// Copies `from` to `to`, each chunk sent `delay` after it was read; the
/// end of stream is passed on (half-close) once the data before it is.
fn pump(mut from: TcpStream, to: TcpStream, delay: Duration) {
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    thread::spawn(move || {
        let mut buf = [0u8; 16384];
        loop {
            let n = from.read(&mut buf).unwrap_or(0);
            // An empty chunk marks the end of stream.
            if tx
                .send((Instant::now() + delay, buf[..n].to_vec()))
                .is_err()
                || n == 0
            {
                return;
            }
        }
    });
    thread::spawn(move || {
        let mut to = to;
        for (due, bytes) in rx {
            // Emulated latency: hold the chunk until its time has come.
            let now = Instant::now();
            if due > now {
                thread::sleep(due - now);
            }
            if bytes.is_empty() {
                let _ = to.shutdown(Shutdown::Write);
                return;
            }
            if to.write_all(&bytes).is_err() {
                return;
            }
        }
    });
}
