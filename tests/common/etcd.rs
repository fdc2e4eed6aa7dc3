//! A 3-member etcd cluster on loopback ports for the etcd tests (data on
//! tmpfs), stopped and removed on drop; a TCP forwarder that can cut a
//! daemon off from etcd; small reads of the cluster through its JSON gateway.
//! `Cluster::start_in` runs the members inside a network namespace instead
//! (a command prefix such as `ip netns exec NS`, clients listening on every
//! address of the namespace), read through a thread that entered it.
//! Included by `tests/etcd.rs` and `tests/etcd_hosts.rs` with `#[path]`
//! (each uses part of it).
#![allow(dead_code)]

use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::io::AsRawFd;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The shell script of a holder: writes `tag` to `log`, holds until
/// `fifo` is released, then writes `tag-out`.
pub fn hold_script(tag: &str, fifo: &str, log: &str) -> String {
    format!("echo {tag} >> {log}; cat {fifo} > /dev/null; echo {tag}-out >> {log}")
}

/// A free loopback port (bound, then given back).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

pub fn etcd_installed() -> bool {
    Command::new("etcd")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

pub struct Member {
    pub name: String,
    pub client: u16,
    pub peer: u16,
    child: Option<Child>,
}

pub struct Cluster {
    pub dir: PathBuf,
    pub members: Vec<Member>,
    initial: String,
    token: String,
    /// Where the members run: the command prefix (empty: here), the
    /// namespace file whose network the reads enter (None: ours), and the
    /// address the client URLs listen on.
    prefix: Vec<String>,
    netns: Option<PathBuf>,
    listen: String,
}

impl Cluster {
    /// Starts 3 members and waits until the cluster serves writes.
    pub fn start(test: &str) -> Cluster {
        Cluster::start_with(test, Vec::new(), None, "127.0.0.1")
    }

    /// Starts 3 members inside the network namespace `netns` (its file,
    /// e.g. `/run/netns/NAME`), each run as `PREFIX... etcd ...` (e.g.
    /// `ip netns exec NAME`): peers talk over the namespace's loopback,
    /// clients listen on `listen` (e.g. `0.0.0.0`: every address of the
    /// namespace), and the cluster is read from a thread that entered it.
    pub fn start_in(test: &str, prefix: &[&str], netns: &str, listen: &str) -> Cluster {
        Cluster::start_with(
            test,
            prefix.iter().map(|s| s.to_string()).collect(),
            Some(PathBuf::from(netns)),
            listen,
        )
    }

    fn start_with(
        test: &str,
        prefix: Vec<String>,
        netns: Option<PathBuf>,
        listen: &str,
    ) -> Cluster {
        let base = if std::path::Path::new("/dev/shm").is_dir() {
            "/dev/shm"
        } else {
            "/tmp"
        };
        let dir = PathBuf::from(format!("{base}/flom-etcd-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let members: Vec<Member> = (0..3)
            .map(|i| Member {
                name: format!("m{i}"),
                client: free_port(),
                peer: free_port(),
                child: None,
            })
            .collect();
        let initial = members
            .iter()
            .map(|m| format!("{}=http://127.0.0.1:{}", m.name, m.peer))
            .collect::<Vec<_>>()
            .join(",");
        let mut c = Cluster {
            dir,
            members,
            initial,
            token: format!("{test}-{}", std::process::id()),
            prefix,
            netns,
            listen: listen.to_string(),
        };
        for i in 0..3 {
            c.start_member(i);
        }
        c.wait_ready(Duration::from_secs(20));
        c
    }

    pub fn start_member(&mut self, i: usize) {
        let m = &self.members[i];
        let data = self.dir.join(&m.name);
        let log = std::fs::File::create(self.dir.join(format!("{}.log", m.name))).unwrap();
        let client = format!("http://127.0.0.1:{}", m.client);
        let listen = format!("http://{}:{}", self.listen, m.client);
        let peer = format!("http://127.0.0.1:{}", m.peer);
        let mut cmd = match self.prefix.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg("etcd");
                c
            }
            None => Command::new("etcd"),
        };
        let child = cmd
            .args(["--name", &m.name])
            .arg("--data-dir")
            .arg(&data)
            .args([
                "--listen-client-urls",
                &listen,
                "--advertise-client-urls",
                &client,
            ])
            .args([
                "--listen-peer-urls",
                &peer,
                "--initial-advertise-peer-urls",
                &peer,
            ])
            .args(["--initial-cluster", &self.initial])
            .args(["--initial-cluster-state", "new"])
            .args(["--initial-cluster-token", &self.token])
            .args(["--heartbeat-interval", "100", "--election-timeout", "1000"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start etcd");
        self.members[i].child = Some(child);
    }

    /// Kills member `i` with SIGKILL.
    pub fn kill_member(&mut self, i: usize) {
        if let Some(mut c) = self.members[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn url(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.members[i].client)
    }

    /// Every member's URL on address `host` (one of the addresses the
    /// clients listen on), comma-separated.
    pub fn endpoints_on(&self, host: &str) -> String {
        (0..3)
            .map(|i| format!("http://{host}:{}", self.members[i].client))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// `post` to member `i`, from inside the cluster's namespace.
    fn post(&self, i: usize, path: &str, body: &Value) -> Option<Value> {
        let port = self.members[i].client;
        let Some(ns) = self.netns.clone() else {
            return post(port, path, body);
        };
        let (path, body) = (path.to_string(), body.clone());
        std::thread::spawn(move || {
            let f = std::fs::File::open(&ns).ok()?;
            // SAFETY: setns on this short-lived thread only, with a
            // namespace descriptor we opened.
            if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                return None;
            }
            post(port, &path, &body)
        })
        .join()
        .ok()
        .flatten()
    }

    /// Every member's URL, comma-separated.
    pub fn endpoints(&self) -> String {
        (0..3).map(|i| self.url(i)).collect::<Vec<_>>().join(",")
    }

    /// Members still running.
    fn alive(&self) -> Vec<usize> {
        (0..3)
            .filter(|&i| self.members[i].child.is_some())
            .collect()
    }

    pub fn wait_ready(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let ok = self.alive().iter().all(|&i| {
                self.post(
                    i,
                    "/v3/kv/put",
                    &json!({"key": b64("/ready"), "value": b64("1")}),
                )
                .is_some_and(|v| v.get("header").is_some())
            });
            if ok {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "etcd cluster not ready in {timeout:?} ({:?})",
                self.dir
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The index of the current leader.
    pub fn leader(&self) -> Option<usize> {
        for i in self.alive() {
            let v = self.post(i, "/v3/maintenance/status", &json!({}))?;
            let leader = v["leader"].as_str()?.to_string();
            for j in self.alive() {
                let w = self.post(j, "/v3/maintenance/status", &json!({}))?;
                if w["header"]["member_id"].as_str() == Some(&leader) {
                    return Some(j);
                }
            }
        }
        None
    }

    /// The keys under `prefix` (from any live member).
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        let mut end = prefix.as_bytes().to_vec();
        *end.last_mut().unwrap() += 1;
        for i in self.alive() {
            let body = json!({"key": b64(prefix), "range_end": b64_bytes(&end), "keys_only": true});
            if let Some(v) = self.post(i, "/v3/kv/range", &body) {
                return v["kvs"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|kv| kv["key"].as_str().map(unb64))
                            .collect()
                    })
                    .unwrap_or_default();
            }
        }
        Vec::new()
    }

    /// Waits until `n` keys are under `prefix`.
    #[track_caller]
    pub fn wait_keys(&self, prefix: &str, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let k = self.keys(prefix);
            if k.len() == n {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "waiting for {n} keys under {prefix}, have {k:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..3 {
            self.kill_member(i);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub fn b64(s: &str) -> String {
    b64_bytes(s.as_bytes())
}

fn b64_bytes(d: &[u8]) -> String {
    let mut out = String::new();
    for c in d.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            out.push(if i <= c.len() {
                B64[(n >> (18 - 6 * i) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    out
}

fn unb64(s: &str) -> String {
    let (mut acc, mut bits, mut out) = (0u32, 0, Vec::new());
    for c in s.bytes().take_while(|&c| c != b'=') {
        acc = acc << 6 | B64.iter().position(|&x| x == c).unwrap_or(0) as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One JSON POST to a member (None: no 200 answer within 2 s).
pub fn post(port: u16, path: &str, body: &Value) -> Option<Value> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let b = body.to_string();
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{b}",
        b.len()
    );
    s.write_all(req.as_bytes()).ok()?;
    let mut resp = Vec::new();
    let _ = s.read_to_end(&mut resp);
    let text = String::from_utf8_lossy(&resp);
    if !text.starts_with("HTTP/1.1 200") {
        return None;
    }
    let body = text.split_once("\r\n\r\n")?.1;
    // Chunked or not: the JSON object is the text between the outer braces.
    let start = body.find('{')?;
    let end = body.rfind('}')?;
    serde_json::from_str(&body[start..=end]).ok()
}

/// A TCP forwarder from a loopback port to a member: `cut` closes every
/// forwarded connection and refuses new ones (the daemon behind it is cut
/// off from etcd).
pub struct Forwarder {
    pub port: u16,
    cut: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
}

impl Forwarder {
    pub fn start(to: u16) -> Forwarder {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        l.set_nonblocking(true).unwrap();
        let cut = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (c2, k2) = (cut.clone(), conns.clone());
        std::thread::spawn(move || {
            while !c2.load(Ordering::SeqCst) {
                match l.accept() {
                    Ok((a, _)) => {
                        a.set_nonblocking(false).unwrap();
                        let Ok(b) = TcpStream::connect(("127.0.0.1", to)) else {
                            continue;
                        };
                        let mut g = k2.lock().unwrap();
                        g.push(a.try_clone().unwrap());
                        g.push(b.try_clone().unwrap());
                        drop(g);
                        pipe(a.try_clone().unwrap(), b.try_clone().unwrap());
                        pipe(b, a);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
            // The listener is dropped here: new connections are refused.
        });
        Forwarder { port, cut, conns }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for c in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.cut();
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(Shutdown::Both);
    });
}
