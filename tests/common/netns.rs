//! The network side of the harness: the `ip` command, private network
//! namespaces created by the test (every process in one is killed and the
//! namespace deleted on drop), two "hosts" joined by one veth pair (with
//! addresses from the benchmark range 198.18.0.0/15 and explicit IPv6
//! link-local addresses), socket tables read from `/proc/net`, and the
//! guard of a daemon on a loopback TCP port.
//!
//! No packet leaves loopback or the namespaces a test creates: every
//! multi-host address lives only inside those namespaces.

use super::{cmdline, pid_alive, poll_until, proc_pids, skip, spawn_command, spawn_flom};
use super::{Bg, Env, Out, BIN, T};
use std::fs;
use std::os::unix::io::AsRawFd;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

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

/// The discovery request datagram (verb 4, step 8).
pub const DISCOVER_DATAGRAM: &str =
    r#"<?xml version="1.0" encoding="UTF-8" ?><msg level="3" verb="4" step="8"></msg>"#;

/// Prefix of the name of every namespace the tests create.
const NS_PREFIX: &str = "flomt-";

// ------------------------------------------------------------------ ip

/// The `ip` command (iproute2), if installed.
pub fn ip_binary() -> Option<&'static str> {
    ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"]
        .into_iter()
        .find(|p| Path::new(p).exists())
}

fn ip() -> &'static str {
    ip_binary().unwrap_or("ip")
}

/// Runs `ip ARGS`; Ok(stdout) on success, Err(stderr) otherwise.
pub fn run_ip(args: &[&str]) -> Result<String, String> {
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

// ----------------------------------------------------------- namespaces

/// A network namespace this test created; on drop every process in it is
/// killed and it is deleted.
pub struct Namespace {
    pub name: String,
}

/// The pids `ip netns pids NAME` lists.
fn ns_pids(name: &str) -> Vec<i32> {
    run_ip(&["netns", "pids", name])
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// SIGKILLs every process of namespace `name` until none is left (bounded).
fn kill_ns_processes(name: &str) {
    for _ in 0..100 {
        let pids = ns_pids(name);
        if pids.is_empty() {
            return;
        }
        for pid in pids {
            // SAFETY: kill(2) of a process inside a namespace a test
            // created (only the tests' own commands run there).
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Removes namespaces left by an earlier run of these tests that died
/// (name `flomt-<pid>-...` whose pid is gone).
fn remove_stale_namespaces() {
    let Ok(list) = run_ip(&["netns", "list"]) else {
        return;
    };
    for name in list.lines().filter_map(|l| l.split_whitespace().next()) {
        let Some(pid) = name
            .strip_prefix(NS_PREFIX)
            .and_then(|r| r.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        kill_ns_processes(name);
        let _ = run_ip(&["netns", "del", name]);
    }
}

/// Whether this test can create namespaces here; prints why not.
pub fn namespaces_usable(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        skip(test, "needs root to create network namespaces");
        return false;
    }
    if ip_binary().is_none() {
        skip(test, "the `ip` command (iproute2) is not installed");
        return false;
    }
    true
}

impl Namespace {
    /// Creates the namespace `flomt-<our pid>-<tag>` (after removing those
    /// of dead earlier runs); Err(why) when `ip netns` fails.
    pub fn add(tag: &str) -> Result<Namespace, String> {
        remove_stale_namespaces();
        let name = format!("{NS_PREFIX}{}-{tag}", std::process::id());
        let _ = run_ip(&["netns", "del", &name]);
        run_ip(&["netns", "add", &name])?;
        Ok(Namespace { name })
    }

    /// `ip -n NAME ARGS`.
    pub fn ip(&self, args: &[&str]) -> Result<String, String> {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        run_ip(&all)
    }

    /// `ip -n NAME ARGS`; panics on failure.
    #[track_caller]
    pub fn must_ip(&self, args: &[&str]) {
        if let Err(e) = self.ip(args) {
            panic!("network setup failed: {e}");
        }
    }

    /// The command line `ip netns exec NAME` that runs a program inside.
    pub fn exec_prefix(&self) -> [&str; 4] {
        [ip(), "netns", "exec", self.name.as_str()]
    }

    /// Starts `program ARGS` inside this namespace (`ip netns exec` execs
    /// it in place: the pid is the program's).
    pub fn spawn(&self, program: &str, args: &[&str]) -> Bg {
        let mut c = Command::new(ip());
        c.args(["netns", "exec", &self.name, program]).args(args);
        let shown = if program == BIN { "flom" } else { program };
        spawn_command(c, format!("[{}] {shown} {}", self.name, args.join(" ")))
    }

    /// Pids of every process in this namespace.
    pub fn pids(&self) -> Vec<i32> {
        ns_pids(&self.name)
    }

    /// Waits (bounded) until this namespace runs no process at all.
    #[track_caller]
    pub fn wait_no_process(&self) {
        assert!(
            poll_until(T, || self.pids().is_empty()),
            "processes still running in {}: {:?}",
            self.name,
            self.pids()
        );
    }

    /// The only process of the namespace (waits for it, bounded).
    #[track_caller]
    pub fn only_process(&self) -> i32 {
        let mut pids = Vec::new();
        assert!(
            poll_until(T, || {
                pids = self.pids();
                pids.len() == 1
            }),
            "expected one process (the daemon) in {}, found {pids:?}",
            self.name
        );
        pids[0]
    }

    /// Runs `f` on a thread that has entered this namespace: sockets it
    /// creates belong to the namespace (the caller's thread never moves).
    pub fn enter<R: Send + 'static>(&self, f: impl FnOnce() -> R + Send + 'static) -> R {
        let path = format!("/run/netns/{}", self.name);
        let h = std::thread::spawn(move || {
            let nsf = fs::File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
            // SAFETY: setns on this short-lived thread only, with a
            // namespace descriptor we opened.
            let r = unsafe { libc::setns(nsf.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(r, 0, "setns {path}: {}", std::io::Error::last_os_error());
            f()
        });
        h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))
    }

    pub fn kill_all(&self) {
        kill_ns_processes(&self.name);
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        self.kill_all();
        let _ = run_ip(&["netns", "del", &self.name]);
    }
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
pub fn proc_sockets(pid: i32, udp: bool) -> Vec<SockRow> {
    let (a, b) = if udp {
        ("udp", "udp6")
    } else {
        ("tcp", "tcp6")
    };
    let mut text = fs::read_to_string(format!("/proc/{pid}/net/{a}")).unwrap_or_default();
    text.push_str(&fs::read_to_string(format!("/proc/{pid}/net/{b}")).unwrap_or_default());
    parse_sock_table(&text)
}

/// The TCP port `pid` (in its namespace) listens on; exactly one.
#[track_caller]
pub fn the_listening_port(pid: i32) -> u16 {
    let ports: Vec<u16> = proc_sockets(pid, false)
        .iter()
        .filter(|r| r.state == TCP_LISTEN)
        .map(|r| r.local_port)
        .collect();
    assert_eq!(ports.len(), 1, "TCP listeners of {pid}: {ports:?}");
    ports[0]
}

/// The kernel function `pid` sleeps in ("" when unknown).
pub fn wchan(pid: i32) -> String {
    fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default()
}

/// Waits (bounded) until the flom client `proc_` has sent its lock request
/// on its TCP connection to `port` and sleeps in poll(2) for the answer,
/// with nothing left in flight on that connection (so the daemon has read
/// it).
#[track_caller]
/// A client asleep on its socket: in poll (a wait with a deadline) or in
/// the blocking read itself (no deadline: TCP sleeps in `wait_woken`).
fn blocked_in_socket_wait(wchan: &str) -> bool {
    wchan.contains("poll") || wchan == "wait_woken"
}

pub fn wait_blocked_on_lock(proc_: &mut Bg, port: u16) {
    let pid = proc_.pid;
    let mut ended = false;
    let ok = poll_until(T, || {
        if !proc_.is_running() {
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
            && blocked_in_socket_wait(&wchan(pid))
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
    let me = std::process::id() as i32;
    proc_pids()
        .into_iter()
        .filter(|&pid| pid != me)
        .filter(|pid| {
            let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
                return false;
            };
            fds.flatten().any(|fd| {
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
            })
        })
        .collect()
}

fn my_pid() -> i32 {
    std::process::id() as i32
}

/// In our own namespace: whether something listens on TCP `port`.
pub fn local_tcp_listening(port: u16) -> bool {
    proc_sockets(my_pid(), false)
        .iter()
        .any(|r| r.state == TCP_LISTEN && r.local_port == port)
}

/// In our own namespace: the pids of the processes listening on TCP `port`.
pub fn local_listener_pids(port: u16) -> Vec<i32> {
    let inodes: Vec<u64> = proc_sockets(my_pid(), false)
        .iter()
        .filter(|r| r.state == TCP_LISTEN && r.local_port == port && r.inode != 0)
        .map(|r| r.inode)
        .collect();
    if inodes.is_empty() {
        return Vec::new();
    }
    pids_with_sockets(&inodes)
}

// ------------------------------------------------------- loopback TCP

/// A TCP port on a loopback address for one test, and the guard of the
/// daemons started on it: on drop, `flom -a ADDR -p PORT -X` when something
/// listens there, then any flom process naming that address and port on its
/// command line, and any process still listening on the port, is killed.
pub struct TcpPort {
    pub addr: String,
    pub port: u16,
    pub port_s: String,
}

impl TcpPort {
    /// A port on 127.0.0.1 the kernel reports free right now.
    pub fn new() -> TcpPort {
        TcpPort::on("127.0.0.1").expect("bind 127.0.0.1:0")
    }

    /// A port on `addr` (127.0.0.1 or ::1) the kernel reports free right
    /// now, never the same twice in one test binary; None when `addr`
    /// cannot be bound.
    pub fn on(addr: &str) -> Option<TcpPort> {
        static GIVEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());
        let port = loop {
            let l = std::net::TcpListener::bind((addr, 0)).ok()?;
            let port = l.local_addr().ok()?.port();
            let mut given = GIVEN.lock().unwrap();
            if !given.contains(&port) {
                given.push(port);
                break port;
            }
        };
        Some(TcpPort {
            addr: addr.to_string(),
            port,
            port_s: port.to_string(),
        })
    }

    /// The options naming this daemon.
    pub fn args(&self) -> [&str; 4] {
        ["-a", &self.addr, "-p", &self.port_s]
    }

    /// Established connections the daemon on this (IPv4) port has accepted.
    pub fn conns(&self) -> usize {
        let text = fs::read_to_string("/proc/net/tcp").unwrap_or_default();
        let want = format!(":{:04X}", self.port);
        text.lines()
            .skip(1)
            .filter(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f.len() > 3 && f[1].ends_with(&want) && f[3] == "01"
            })
            .count()
    }

    #[track_caller]
    pub fn wait_conns(&self, n: usize) {
        let mut seen = 0;
        super::wait_until(
            T,
            &format!("{n} connection(s) to {}:{}", self.addr, self.port),
            || {
                seen = self.conns();
                seen >= n
            },
        );
    }

    /// Whether something listens on this port (in our namespace).
    pub fn listening(&self) -> bool {
        local_tcp_listening(self.port)
    }

    fn ours(&self) -> Vec<i32> {
        proc_pids()
            .into_iter()
            .filter(|&pid| {
                let c = cmdline(pid);
                c.first().map(String::as_str) == Some(BIN)
                    && c.iter().any(|a| a == &self.port_s)
                    && c.iter().any(|a| a == &self.addr)
                    && pid_alive(pid)
            })
            .collect()
    }
}

impl Drop for TcpPort {
    fn drop(&mut self) {
        if self.listening() {
            let mut x = spawn_flom(&["-a", &self.addr, "-p", &self.port_s, "-X"]);
            poll_until(Duration::from_secs(5), || !x.is_running());
        }
        let mut pids = self.ours();
        pids.extend(local_listener_pids(self.port));
        for pid in pids {
            // SAFETY: a process of this test: a flom whose argv names the
            // test's own loopback port, or the listener on that port.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

// ------------------------------------------------------------ hosts

/// One host: a network namespace with one veth end.
pub struct Host {
    pub ns: Namespace,
    pub iface: &'static str,
    pub v4: &'static str,
    pub ll: &'static str,
}

impl Host {
    /// Starts `flom ARGS` inside this host.
    pub fn spawn(&self, args: &[&str]) -> Bg {
        self.ns.spawn(BIN, args)
    }

    /// Runs `flom ARGS` inside this host to its end (bounded).
    #[track_caller]
    pub fn flom(&self, args: &[&str]) -> Out {
        self.spawn(args).wait(CMD_BOUND)
    }

    /// Runs any program inside this host to its end (bounded).
    #[track_caller]
    pub fn exec(&self, program: &str, args: &[&str]) -> Out {
        self.ns.spawn(program, args).wait(CMD_BOUND)
    }

    /// `ip -n NS ARGS`; panics on failure.
    #[track_caller]
    pub fn ip(&self, args: &[&str]) {
        self.ns.must_ip(args);
    }

    /// Pids of every process in this host (daemons and clients).
    pub fn pids(&self) -> Vec<i32> {
        self.ns.pids()
    }

    /// Socket rows of this host (TCP or UDP, v4 and v6).
    pub fn sockets(&self, udp: bool) -> Vec<SockRow> {
        let (a, b) = if udp {
            ("/proc/net/udp", "/proc/net/udp6")
        } else {
            ("/proc/net/tcp", "/proc/net/tcp6")
        };
        let out = self.ns.spawn("cat", &[a, b]).wait(T);
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
        self.ns.wait_no_process();
    }
}

/// Two hosts A and B joined by a veth pair (A: `fa`, B: `fb`), with IPv4
/// addresses 198.18.0.1/24 and 198.18.0.2/24, IPv6 link-local fe80::a and
/// fe80::b (no DAD), and IPv4/IPv6 multicast routes on the veth; `env`
/// holds the test's logs and FIFOs.
pub struct Net {
    pub a: Host,
    pub b: Host,
    pub ipv6: bool,
    pub env: Env,
}

impl Net {
    /// Builds the two hosts for test `test` (namespace names carry our pid
    /// and `tag`, so tests run in parallel). None (after printing why) when
    /// the tests cannot create namespaces here.
    pub fn new(test: &str, tag: &str) -> Option<Net> {
        if !namespaces_usable(test) {
            return None;
        }
        let ns_a = match Namespace::add(&format!("{tag}-a")) {
            Ok(ns) => ns,
            Err(e) => {
                skip(test, &format!("`ip netns` unavailable: {e}"));
                return None;
            }
        };
        let ns_b = match Namespace::add(&format!("{tag}-b")) {
            Ok(ns) => ns,
            Err(e) => {
                skip(test, &format!("`ip netns` unavailable: {e}"));
                return None;
            }
        };
        let ipv6 = Path::new("/proc/sys/net/ipv6").exists();
        let net = Net {
            a: Host {
                ns: ns_a,
                iface: A_IF,
                v4: A_V4,
                ll: A_LL,
            },
            b: Host {
                ns: ns_b,
                iface: B_IF,
                v4: B_V4,
                ll: B_LL,
            },
            ipv6,
            env: Env::new(&format!("net-{tag}")),
        };
        // The veth ends are created directly inside the namespaces: nothing
        // ever exists in (or is reachable from) the caller's namespace.
        if let Err(e) = run_ip(&[
            "link",
            "add",
            A_IF,
            "netns",
            &net.a.ns.name,
            "type",
            "veth",
            "peer",
            "name",
            B_IF,
            "netns",
            &net.b.ns.name,
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
        self.env.path(name)
    }

    pub fn mkfifo(&self, name: &str) -> String {
        self.env.fifo(name)
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        // Both hosts' processes first (each namespace is then deleted by
        // its own drop).
        self.a.ns.kill_all();
        self.b.ns.kill_all();
    }
}

/// `["-a", addr, "-p", port]` style argument building.
pub fn args<'a>(parts: &[&[&'a str]]) -> Vec<&'a str> {
    parts.iter().flat_map(|p| p.iter().copied()).collect()
}
