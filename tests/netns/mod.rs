//! Helpers of the network integration tests: two private "hosts" (network
//! namespaces created by the test, joined by one veth pair, with addresses
//! from the benchmark range 198.18.0.0/15 and explicit IPv6 link-local
//! addresses), `flom` runs inside them with bounded waits, socket tables
//! read from `/proc/net`, FIFOs for "holding" / "release" signalling.
//!
//! No packet leaves loopback or the namespaces a test creates: every
//! multi-host address lives only inside those namespaces, and the
//! namespaces (with every process in them) are deleted by `Drop`.

#![allow(dead_code)]

use std::ffi::CString;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The binary under test.
pub const FLOM: &str = env!("CARGO_BIN_EXE_flom");
/// Bound of every wait for a state change.
pub const BOUND: Duration = Duration::from_secs(10);
/// Bound of any single flom command that is expected to end by itself.
pub const CMD_BOUND: Duration = Duration::from_secs(30);

/// Host A: interface, IPv4 address, IPv6 link-local address.
pub const A_IF: &str = "fa";
pub const A_V4: &str = "198.18.0.1";
pub const A_LL: &str = "fe80::a";
/// Host B.
pub const B_IF: &str = "fb";
pub const B_V4: &str = "198.18.0.2";
pub const B_LL: &str = "fe80::b";

/// First line `-x` prints.
pub const QUIESCE_BANNER: &str = "Starting FLoM daemon quiesce shutdown...";
/// First line `-X` prints.
pub const IMMEDIATE_BANNER: &str = "Starting FLoM daemon immediate shutdown...";
/// The discovery request datagram (verb 4, step 8).
pub const DISCOVER_DATAGRAM: &str =
    r#"<?xml version="1.0" encoding="UTF-8" ?><msg level="3" verb="4" step="8"></msg>"#;

/// Prints a skip reason where `cargo test` shows it (not captured).
pub fn skip(test: &str, why: &str) {
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
}

/// Polls `f` every 10 ms until it holds or `bound` passes.
pub fn wait_until(bound: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + bound;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn ip_binary() -> Option<&'static str> {
    ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"]
        .into_iter()
        .find(|p| Path::new(p).exists())
}

fn ip() -> &'static str {
    ip_binary().unwrap_or("ip")
}

/// Runs `ip ARGS`; Ok(stdout) on success, Err(stderr) otherwise.
fn run_ip(args: &[&str]) -> Result<String, String> {
    let out = Command::new(ip())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn must_ip(args: &[&str]) {
    if let Err(e) = run_ip(args) {
        panic!("network setup failed: {e}");
    }
}

// ------------------------------------------------------------ processes

/// What a finished command left.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    pub desc: String,
}

impl Out {
    /// Stdout lines other than the `-V` configuration dump (`[Group]/Key=…`).
    pub fn lines(&self) -> Vec<&str> {
        self.stdout
            .lines()
            .filter(|l| !(l.starts_with('[') && l.contains("]/")))
            .collect()
    }

    /// Panics (with everything) unless the exit status is `code`.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "`{}` exited {} (expected {code})\nstdout: {}\nstderr: {}",
            self.desc, self.code, self.stdout, self.stderr
        );
        self
    }
}

/// A running command; killed and reaped when dropped.
pub struct Proc {
    child: Option<Child>,
    stdout: PathBuf,
    stderr: PathBuf,
    started: Instant,
    desc: String,
}

impl Proc {
    /// The pid of the command (`ip netns exec` execs it in place).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, |c| c.id())
    }

    /// Whether it has ended (without reaping the result).
    pub fn running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// Waits (bounded) for the command to end; panics on timeout.
    #[track_caller]
    pub fn wait(mut self, bound: Duration) -> Out {
        let mut child = self.child.take().expect("waited twice");
        let end = self.started + bound;
        let status = loop {
            if let Some(s) = child.try_wait().expect("try_wait") {
                break s;
            }
            if Instant::now() >= end {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "`{}` still running after {:?}\nstdout: {}\nstderr: {}",
                    self.desc,
                    bound,
                    fs::read_to_string(&self.stdout).unwrap_or_default(),
                    fs::read_to_string(&self.stderr).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let elapsed = self.started.elapsed();
        use std::os::unix::process::ExitStatusExt;
        Out {
            code: status
                .code()
                .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)),
            stdout: fs::read_to_string(&self.stdout).unwrap_or_default(),
            stderr: fs::read_to_string(&self.stderr).unwrap_or_default(),
            elapsed,
            desc: self.desc.clone(),
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A scratch directory (removed on drop) for logs, FIFOs and outputs.
pub struct Scratch {
    pub dir: PathBuf,
    counter: AtomicUsize,
}

impl Scratch {
    pub fn new(name: &str) -> Arc<Scratch> {
        let dir = std::env::temp_dir().join(format!("flomt-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("scratch dir");
        Arc::new(Scratch {
            dir,
            counter: AtomicUsize::new(0),
        })
    }

    pub fn path(&self, name: &str) -> String {
        self.dir.join(name).to_string_lossy().into_owned()
    }

    /// Spawns `program args` (inside `ns` when given) with its output in files.
    pub fn spawn(&self, ns: Option<&str>, program: &str, args: &[&str]) -> Proc {
        let n = self.counter.fetch_add(1, Ordering::SeqCst);
        let stdout = self.dir.join(format!("cmd{n}.out"));
        let stderr = self.dir.join(format!("cmd{n}.err"));
        let mut cmd = match ns {
            Some(ns) => {
                let mut c = Command::new(ip());
                c.args(["netns", "exec", ns, program]);
                c
            }
            None => Command::new(program),
        };
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(fs::File::create(&stdout).expect("stdout file"))
            .stderr(fs::File::create(&stderr).expect("stderr file"));
        let desc = format!(
            "{}{} {}",
            ns.map(|n| format!("[{n}] ")).unwrap_or_default(),
            if program == FLOM { "flom" } else { program },
            args.join(" ")
        );
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot spawn {desc}: {e}"));
        Proc {
            child: Some(child),
            stdout,
            stderr,
            started: Instant::now(),
            desc,
        }
    }

    /// Creates a FIFO.
    pub fn mkfifo(&self, name: &str) -> String {
        let p = self.path(name);
        let c = CString::new(p.clone()).unwrap();
        // SAFETY: mkfifo on a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo {p}");
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// The lines of a log file (empty when absent).
pub fn log_lines(path: &str) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Waits (bounded) until a log file has a line equal to `line`.
#[track_caller]
pub fn wait_log_line(path: &str, line: &str) {
    assert!(
        wait_until(BOUND, || log_lines(path).iter().any(|l| l == line)),
        "log {path} never got line {line:?}; it holds {:?}",
        log_lines(path)
    );
}

/// Lets the reader of a FIFO go: opens it for writing once a reader is
/// there (bounded), then closes it so the reader sees end of file.
#[track_caller]
pub fn release_fifo(path: &str) {
    let c = CString::new(path).unwrap();
    let opened = wait_until(BOUND, || {
        // SAFETY: open/close of a FIFO path; non-blocking open for writing
        // fails with ENXIO while nobody reads.
        let fd = unsafe { libc::open(c.as_ptr(), libc::O_WRONLY | libc::O_NONBLOCK) };
        if fd >= 0 {
            unsafe { libc::close(fd) };
            true
        } else {
            false
        }
    });
    assert!(opened, "nobody ever read FIFO {path}");
}

// ------------------------------------------------------------ sockets

/// One row of /proc/net/{tcp,tcp6,udp,udp6}.
#[derive(Debug, Clone)]
pub struct SockRow {
    pub local_port: u16,
    pub remote_port: u16,
    pub state: u8,
    pub tx_queue: u64,
    pub rx_queue: u64,
    pub inode: u64,
}

pub const TCP_ESTABLISHED: u8 = 0x01;
pub const TCP_LISTEN: u8 = 0x0A;
pub const UDP_UNCONNECTED: u8 = 0x07;

fn port_of(field: &str) -> u16 {
    field
        .rsplit(':')
        .next()
        .and_then(|p| u16::from_str_radix(p, 16).ok())
        .unwrap_or(0)
}

/// Parses the concatenated text of /proc/net socket tables.
pub fn parse_sock_table(text: &str) -> Vec<SockRow> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 10 || !f[0].ends_with(':') {
                return None;
            }
            let (tx, rx) = f[4].split_once(':')?;
            Some(SockRow {
                local_port: port_of(f[1]),
                remote_port: port_of(f[2]),
                state: u8::from_str_radix(f[3], 16).ok()?,
                tx_queue: u64::from_str_radix(tx, 16).ok()?,
                rx_queue: u64::from_str_radix(rx, 16).ok()?,
                inode: f[9].parse().ok()?,
            })
        })
        .collect()
}

/// TCP (v4 and v6) or UDP rows of the namespace of process `pid`.
pub fn proc_sockets(pid: u32, udp: bool) -> Vec<SockRow> {
    let (a, b) = if udp {
        ("udp", "udp6")
    } else {
        ("tcp", "tcp6")
    };
    let mut text = fs::read_to_string(format!("/proc/{pid}/net/{a}")).unwrap_or_default();
    text.push_str(&fs::read_to_string(format!("/proc/{pid}/net/{b}")).unwrap_or_default());
    parse_sock_table(&text)
}

/// The kernel function `pid` sleeps in ("" when unknown).
pub fn wchan(pid: u32) -> String {
    fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default()
}

/// Waits (bounded) until the flom client `pid` has sent its lock request on
/// its TCP connection to `port` and sleeps in poll(2) for the answer, with
/// nothing left in flight on that connection (so the daemon has read it).
#[track_caller]
pub fn wait_blocked_on_lock(proc_: &mut Proc, port: u16) {
    let pid = proc_.pid();
    let mut ended = false;
    let ok = wait_until(BOUND, || {
        if !proc_.running() {
            // Ended instead of waiting: stop polling at once.
            ended = true;
            return true;
        }
        let rows: Vec<SockRow> = proc_sockets(pid, false)
            .into_iter()
            .filter(|r| {
                r.state == TCP_ESTABLISHED && (r.local_port == port || r.remote_port == port)
            })
            .collect();
        // The client's own end (remote port = daemon port) must exist.
        rows.iter().any(|r| r.remote_port == port)
            && rows.iter().all(|r| r.tx_queue == 0 && r.rx_queue == 0)
            && wchan(pid).contains("poll")
    });
    assert!(
        ok && !ended,
        "flom client {pid} never blocked waiting for the lock on port {port} ({})",
        if ended {
            "it ended instead".to_string()
        } else {
            format!("wchan {:?}", wchan(pid))
        }
    );
}

/// Pids (other than ourselves) holding a socket with inode in `inodes`.
fn pids_with_sockets(inodes: &[u64]) -> Vec<i32> {
    let mut pids = Vec::new();
    let Ok(dir) = fs::read_dir("/proc") else {
        return pids;
    };
    let me = std::process::id() as i32;
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        let hit = fds.flatten().any(|fd| {
            fs::read_link(fd.path())
                .ok()
                .and_then(|l| {
                    l.to_str()?
                        .strip_prefix("socket:[")?
                        .strip_suffix(']')?
                        .parse::<u64>()
                        .ok()
                })
                .is_some_and(|i| inodes.contains(&i))
        });
        if hit {
            pids.push(pid);
        }
    }
    pids
}

/// In our own namespace: whether something listens on TCP `port`.
pub fn local_tcp_listening(port: u16) -> bool {
    proc_sockets(std::process::id(), false)
        .iter()
        .any(|r| r.state == TCP_LISTEN && r.local_port == port)
}

/// In our own namespace: the pids of the processes listening on TCP `port`.
pub fn local_listener_pids(port: u16) -> Vec<i32> {
    let inodes: Vec<u64> = proc_sockets(std::process::id(), false)
        .iter()
        .filter(|r| r.state == TCP_LISTEN && r.local_port == port && r.inode != 0)
        .map(|r| r.inode)
        .collect();
    if inodes.is_empty() {
        return Vec::new();
    }
    pids_with_sockets(&inodes)
}

/// A free TCP port on the loopback address `addr` (127.0.0.1 or ::1).
pub fn free_loopback_port(addr: &str) -> Option<u16> {
    let l = std::net::TcpListener::bind((addr, 0)).ok()?;
    Some(l.local_addr().ok()?.port())
}

/// Kills (SIGKILL) the daemons a loopback test started on `port` in our
/// own namespace, when they are still there on drop.
pub struct LoopbackGuard {
    pub port: u16,
}

impl Drop for LoopbackGuard {
    fn drop(&mut self) {
        for pid in local_listener_pids(self.port) {
            // SAFETY: kill(2) of a daemon this test started (it listens on
            // the port the test chose).
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

// ------------------------------------------------------------ hosts

/// One host: a network namespace with one veth end.
pub struct Host {
    pub ns: String,
    pub iface: &'static str,
    pub v4: &'static str,
    pub ll: &'static str,
    scratch: Arc<Scratch>,
}

impl Host {
    /// Starts `flom ARGS` inside this host.
    pub fn spawn(&self, args: &[&str]) -> Proc {
        self.scratch.spawn(Some(&self.ns), FLOM, args)
    }

    /// Runs `flom ARGS` inside this host to its end (bounded).
    #[track_caller]
    pub fn flom(&self, args: &[&str]) -> Out {
        self.spawn(args).wait(CMD_BOUND)
    }

    /// Runs any program inside this host to its end (bounded).
    #[track_caller]
    pub fn exec(&self, program: &str, args: &[&str]) -> Out {
        self.scratch
            .spawn(Some(&self.ns), program, args)
            .wait(CMD_BOUND)
    }

    /// `ip -n NS ARGS`; panics on failure.
    #[track_caller]
    pub fn ip(&self, args: &[&str]) {
        let mut all = vec!["-n", self.ns.as_str()];
        all.extend_from_slice(args);
        must_ip(&all);
    }

    /// Pids of every process in this host (daemons and clients).
    pub fn pids(&self) -> Vec<i32> {
        run_ip(&["netns", "pids", &self.ns])
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect()
    }

    /// Socket rows of this host (TCP or UDP, v4 and v6).
    pub fn sockets(&self, udp: bool) -> Vec<SockRow> {
        let (a, b) = if udp {
            ("/proc/net/udp", "/proc/net/udp6")
        } else {
            ("/proc/net/tcp", "/proc/net/tcp6")
        };
        let out = self
            .scratch
            .spawn(Some(&self.ns), "cat", &[a, b])
            .wait(BOUND);
        parse_sock_table(&out.stdout)
    }

    /// Whether something listens on TCP `port` in this host.
    pub fn tcp_listening(&self, port: u16) -> bool {
        self.sockets(false)
            .iter()
            .any(|r| r.state == TCP_LISTEN && r.local_port == port)
    }

    /// Whether a UDP socket is bound to `port` in this host.
    pub fn udp_bound(&self, port: u16) -> bool {
        self.sockets(true).iter().any(|r| r.local_port == port)
    }

    /// Waits (bounded) until this host runs no process at all.
    #[track_caller]
    pub fn wait_no_process(&self) {
        assert!(
            wait_until(BOUND, || self.pids().is_empty()),
            "processes still running in {}: {:?}",
            self.ns,
            self.pids()
        );
    }

    fn kill_all(&self) {
        for _ in 0..100 {
            let pids = self.pids();
            if pids.is_empty() {
                return;
            }
            for pid in pids {
                // SAFETY: kill(2) of a process inside the namespace this
                // test created (only the test's own commands run there).
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Two hosts A and B joined by a veth pair (A: `fa`, B: `fb`), with IPv4
/// addresses 198.18.0.1/24 and 198.18.0.2/24, IPv6 link-local fe80::a and
/// fe80::b (no DAD), and IPv4/IPv6 multicast routes on the veth.
pub struct Net {
    pub a: Host,
    pub b: Host,
    pub ipv6: bool,
    pub scratch: Arc<Scratch>,
}

/// Removes namespaces left by an earlier run of these tests that died
/// (name `flomt-<pid>-...` whose pid is gone).
fn remove_stale_namespaces() {
    let Ok(list) = run_ip(&["netns", "list"]) else {
        return;
    };
    for line in list.lines() {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        let Some(rest) = name.strip_prefix("flomt-") else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        if let Ok(pids) = run_ip(&["netns", "pids", name]) {
            for p in pids
                .split_whitespace()
                .filter_map(|p| p.parse::<i32>().ok())
            {
                // SAFETY: kill(2) inside a namespace an earlier test run created.
                unsafe { libc::kill(p, libc::SIGKILL) };
            }
        }
        let _ = run_ip(&["netns", "del", name]);
    }
}

impl Net {
    /// Builds the two hosts for test `test` (namespace names carry our pid
    /// and `tag`, so tests run in parallel). None (after printing why) when
    /// the tests cannot create namespaces here.
    pub fn new(test: &str, tag: &str) -> Option<Net> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            skip(test, "needs root to create network namespaces");
            return None;
        }
        if ip_binary().is_none() {
            skip(test, "the `ip` command (iproute2) is not installed");
            return None;
        }
        remove_stale_namespaces();
        let scratch = Scratch::new(tag);
        let pid = std::process::id();
        let ns_a = format!("flomt-{pid}-{tag}-a");
        let ns_b = format!("flomt-{pid}-{tag}-b");
        if let Err(e) = run_ip(&["netns", "add", &ns_a]) {
            skip(test, &format!("`ip netns` unavailable: {e}"));
            return None;
        }
        if let Err(e) = run_ip(&["netns", "add", &ns_b]) {
            let _ = run_ip(&["netns", "del", &ns_a]);
            skip(test, &format!("`ip netns` unavailable: {e}"));
            return None;
        }
        let ipv6 = Path::new("/proc/sys/net/ipv6").exists();
        let net = Net {
            a: Host {
                ns: ns_a,
                iface: A_IF,
                v4: A_V4,
                ll: A_LL,
                scratch: scratch.clone(),
            },
            b: Host {
                ns: ns_b,
                iface: B_IF,
                v4: B_V4,
                ll: B_LL,
                scratch: scratch.clone(),
            },
            ipv6,
            scratch,
        };
        // The veth ends are created directly inside the namespaces: nothing
        // ever exists in (or is reachable from) the caller's namespace.
        if let Err(e) = run_ip(&[
            "link", "add", A_IF, "netns", &net.a.ns, "type", "veth", "peer", "name", B_IF, "netns",
            &net.b.ns,
        ]) {
            skip(test, &format!("cannot create a veth pair: {e}"));
            return None;
        }
        for h in [&net.a, &net.b] {
            h.ip(&["link", "set", "lo", "up"]);
            if ipv6 {
                // No automatic link-local address: only our explicit one.
                h.ip(&["link", "set", h.iface, "addrgenmode", "none"]);
            }
            h.ip(&["link", "set", h.iface, "multicast", "on"]);
            h.ip(&["link", "set", h.iface, "up"]);
            h.ip(&["addr", "add", &format!("{}/24", h.v4), "dev", h.iface]);
            h.ip(&["route", "replace", "224.0.0.0/4", "dev", h.iface]);
            if ipv6 {
                h.ip(&[
                    "-6",
                    "addr",
                    "add",
                    &format!("{}/64", h.ll),
                    "dev",
                    h.iface,
                    "nodad",
                ]);
                h.ip(&["-6", "route", "replace", "ff00::/8", "dev", h.iface]);
            }
        }
        Some(net)
    }

    pub fn path(&self, name: &str) -> String {
        self.scratch.path(name)
    }

    pub fn mkfifo(&self, name: &str) -> String {
        self.scratch.mkfifo(name)
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for h in [&self.a, &self.b] {
            h.kill_all();
        }
        for h in [&self.a, &self.b] {
            let _ = run_ip(&["netns", "del", &h.ns]);
        }
    }
}

/// `["-a", addr, "-p", port]` style argument building.
pub fn args<'a>(parts: &[&[&'a str]]) -> Vec<&'a str> {
    parts.iter().flat_map(|p| p.iter().copied()).collect()
}
