//! `flom --foreground-daemon` as systemd runs it, without systemd: the test
//! plays the service manager. It binds the listening sockets itself and
//! passes them at descriptors 3, 4, ... with `LISTEN_FDS` and `LISTEN_PID`
//! (the pid is the child's own: `sh -c 'LISTEN_PID=$$ exec flom ...'`), and
//! reads the `READY=1` and `STOPPING=1` datagrams the daemon sends to its
//! `NOTIFY_SOCKET` (a path, or an abstract `@name`). Clients then lock
//! through the inherited sockets. Also: descriptors of the wrong kind, a
//! `LISTEN_PID` of another process, the service's own lifespan, and the
//! systemd units of `systemd/`.

mod common;

use common::*;
use std::net::{TcpListener, UdpSocket};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::io::{AsRawFd, RawFd};
use std::os::unix::net::{SocketAddr, UnixDatagram, UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Duration;

/// The service manager's end of `NOTIFY_SOCKET`.
struct Notify {
    sock: UnixDatagram,
    /// The value of NOTIFY_SOCKET.
    name: String,
}

impl Notify {
    fn at_path(env: &Env) -> Notify {
        let name = env.path("notify");
        let sock = UnixDatagram::bind(&name).unwrap();
        Notify { sock, name }
    }

    fn abstract_name(tag: &str) -> Notify {
        let abs = format!("flom-test-notify-{tag}-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(abs.as_bytes()).unwrap();
        let sock = UnixDatagram::bind_addr(&addr).unwrap();
        Notify {
            sock,
            name: format!("@{abs}"),
        }
    }

    /// The next notice (bounded by `T`).
    #[track_caller]
    fn recv(&self) -> String {
        self.sock.set_read_timeout(Some(T)).unwrap();
        let mut buf = [0u8; 4096];
        let n = self
            .sock
            .recv(&mut buf)
            .unwrap_or_else(|e| panic!("no notice on {} within {T:?}: {e}", self.name));
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    #[track_caller]
    fn expect_ready(&self) {
        let n = self.recv();
        assert!(n.starts_with("READY=1\n"), "first notice: {n:?}");
    }

    #[track_caller]
    fn expect_stopping(&self) {
        assert_eq!(self.recv(), "STOPPING=1");
    }
}

/// Starts `flom --foreground-daemon ARGS` with `fds` at descriptors 3.. and
/// LISTEN_FDS/LISTEN_PID set for it (none: no socket activation).
fn spawn_service(fds: &[RawFd], notify: Option<&Notify>, args: &[&str]) -> Bg {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(r#"[ -n "$LISTEN_FDS" ] && export LISTEN_PID=$$; exec "$0" "$@""#)
        .arg(BIN)
        .arg("--foreground-daemon")
        .args(args);
    for v in ["LISTEN_PID", "LISTEN_FDS", "NOTIFY_SOCKET"] {
        cmd.env_remove(v);
    }
    if !fds.is_empty() {
        cmd.env("LISTEN_FDS", fds.len().to_string());
    }
    if let Some(n) = notify {
        cmd.env("NOTIFY_SOCKET", &n.name);
    }
    pass_fds(&mut cmd, fds);
    spawn_command(cmd, format!("flom --foreground-daemon {}", args.join(" ")))
}

/// Puts `fds` at descriptors 3, 4, ... of the child (inheritable).
fn pass_fds(cmd: &mut Command, fds: &[RawFd]) {
    let fds = fds.to_vec();
    // SAFETY: only dup/dup2/close (async-signal-safe) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            // First out of the way (a source may sit at 3 or 4 already).
            let mut high = Vec::with_capacity(fds.len());
            for &fd in &fds {
                let h = libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 100);
                if h < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                high.push(h);
            }
            for (i, &h) in high.iter().enumerate() {
                if libc::dup2(h, 3 + i as i32) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(h);
            }
            Ok(())
        });
    }
}

fn unix_listener(path: &str) -> UnixListener {
    UnixListener::bind(path).unwrap_or_else(|e| panic!("bind {path}: {e}"))
}

/// Runs a command under a lock through `sock`, never starting a daemon.
#[track_caller]
fn lock_through(sock: &str) {
    run_flom(&["-s", sock, "-d", "0", "--", "echo", "locked"])
        .expect_code(0)
        .expect_stdout("locked\n")
        .expect_stderr("");
}

#[test]
fn activated_unix_socket_serves_and_notifies() {
    let env = Env::new("svc-unix");
    let notify = Notify::at_path(&env);
    let listener = unix_listener(&env.sock);
    // Its own socket option names a path it must not bind: it serves the
    // socket it was given.
    let own = env.path("own");
    let mut daemon = spawn_service(&[listener.as_raw_fd()], Some(&notify), &["-s", &own]);
    drop(listener);
    notify.expect_ready();
    lock_through(&env.sock);
    assert!(!exists(&own), "the daemon bound its own socket too");
    // A lock held through the inherited socket is seen by the next client.
    let mut holder = Raw::connect(&env.sock);
    holder.send_ok(&lock_ex("R"));
    assert_eq!(holder.expect_msg(T), answer16(0));
    run_flom(&[
        "-s", &env.sock, "-d", "0", "-r", "R", "-o", "0", "--", "true",
    ])
    .expect_code(98);
    drop(holder);
    run_flom(&["-s", &env.sock, "-X"]).expect_code(0);
    notify.expect_stopping();
    daemon.wait(T).expect_code(0).expect_stderr("");
    // The socket belongs to the service manager: left in place.
    assert!(
        is_socket(&env.sock),
        "the daemon removed the activated socket"
    );
    std::fs::remove_file(&env.sock).unwrap();
}

#[test]
fn activated_unix_and_tcp_listeners_serve_one_lock_table() {
    let env = Env::new("svc-both");
    let notify = Notify::at_path(&env);
    let unix = unix_listener(&env.sock);
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = tcp.local_addr().unwrap().port().to_string();
    let mut daemon = spawn_service(
        &[unix.as_raw_fd(), tcp.as_raw_fd()],
        Some(&notify),
        &["-s", &env.path("own")],
    );
    drop((unix, tcp));
    notify.expect_ready();
    lock_through(&env.sock);
    let over_tcp = ["-a", "127.0.0.1", "-p", &port, "-d", "0"];
    let tcp_args = |rest: &[&'static str]| {
        let mut a = over_tcp.to_vec();
        a.extend_from_slice(rest);
        a
    };
    run_flom(&tcp_args(&["--", "echo", "tcp"]))
        .expect_code(0)
        .expect_stdout("tcp\n");
    // Held through the UNIX socket, busy over TCP: one daemon, one table.
    let mut holder = Raw::connect(&env.sock);
    holder.send_ok(&lock_ex("shared"));
    assert_eq!(holder.expect_msg(T), answer16(0));
    run_flom(&tcp_args(&["-r", "shared", "-o", "0", "--", "true"])).expect_code(98);
    drop(holder);
    daemon.signal(libc::SIGTERM);
    notify.expect_stopping();
    daemon.wait(T).expect_code(0);
    std::fs::remove_file(&env.sock).unwrap();
}

#[track_caller]
fn rejected(fd: RawFd, why: &str) {
    let env = Env::new("svc-bad");
    let notify = Notify::at_path(&env);
    let mut daemon = spawn_service(&[fd], Some(&notify), &["-s", &env.sock]);
    let out = daemon.wait(T);
    out.expect_code(99).expect_stdout("");
    let want = format!("flom: socket activation: descriptor 3 {why}; flom takes only listening UNIX or TCP stream sockets (ListenStream= in flom.socket).\n");
    out.expect_stderr(&want);
    // The manager hears why too; nothing was bound.
    let status = notify.recv();
    assert!(
        status.starts_with("STATUS=socket activation: descriptor 3"),
        "{status:?}"
    );
    assert!(!exists(&env.sock));
}

#[test]
fn activation_rejects_descriptors_that_are_not_listening_streams() {
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    rejected(udp.as_raw_fd(), "is not a stream socket");
    let (a, _b) = UnixStream::pair().unwrap();
    rejected(a.as_raw_fd(), "is not listening");
    let file = std::fs::File::open("/dev/null").unwrap();
    rejected(file.as_raw_fd(), "is not a socket");
}

#[test]
fn listen_pid_of_another_process_is_ignored() {
    let env = Env::new("svc-pid");
    let notify = Notify::at_path(&env);
    let other = unix_listener(&env.path("other"));
    let mut cmd = Command::new(BIN);
    cmd.args(["--foreground-daemon", "-s", &env.sock])
        .env("LISTEN_FDS", "1")
        .env("LISTEN_PID", "1")
        .env("NOTIFY_SOCKET", &notify.name);
    pass_fds(&mut cmd, &[other.as_raw_fd()]);
    let mut daemon = spawn_command(cmd, "flom --foreground-daemon (LISTEN_PID=1)".into());
    notify.expect_ready();
    // It bound its own socket, in the foreground: the process we started.
    lock_through(&env.sock);
    assert_eq!(daemon_pids(&env.sock), vec![daemon.pid]);
    daemon.signal(libc::SIGTERM);
    notify.expect_stopping();
    daemon.wait(T).expect_code(0).expect_stderr("");
    assert!(!exists(&env.sock), "its own socket is removed at exit");
}

#[test]
fn abstract_notify_socket_and_quiesce() {
    let env = Env::new("svc-abstract");
    let notify = Notify::abstract_name("q");
    let mut daemon = spawn_service(&[], Some(&notify), &["-s", &env.sock]);
    notify.expect_ready();
    lock_through(&env.sock);
    run_flom(&["-s", &env.sock, "-x"]).expect_code(0);
    notify.expect_stopping();
    daemon.wait(T).expect_code(0);
}

#[test]
fn service_lifespan_is_its_own() {
    let env = Env::new("svc-life");
    // An auto-started daemon would live for ever (Lifespan=-1); the service
    // has its own, and ends idle after it.
    let conf = env.path("flom.conf");
    std::fs::write(&conf, "[Daemon]\nLifespan=-1\nServiceLifespan=200\n").unwrap();
    let notify = Notify::at_path(&env);
    let mut daemon = spawn_service(&[], Some(&notify), &["-c", &conf, "-s", &env.sock]);
    notify.expect_ready();
    lock_through(&env.sock);
    notify.expect_stopping();
    daemon.wait(T).expect_code(0);

    // The default: the service never ends idle, whatever -d says.
    let notify2 = Notify::abstract_name("life");
    let sock2 = env.other_sock("s2");
    let mut daemon = spawn_service(&[], Some(&notify2), &["-d", "50", "-s", &sock2]);
    notify2.expect_ready();
    lock_through(&sock2);
    // Not an event to wait for: ten times the -d lifespan passes.
    std::thread::sleep(Duration::from_millis(500));
    assert!(daemon.is_running(), "the service ended idle");
    lock_through(&sock2);
    daemon.signal(libc::SIGTERM);
    notify2.expect_stopping();
    daemon.wait(T).expect_code(0);
}

#[test]
fn foreground_daemon_takes_no_command() {
    let env = Env::new("svc-cmd");
    run_flom(&["--foreground-daemon", "-s", &env.sock, "--", "true"])
        .expect_code(99)
        .expect_stderr(
            "flom: --foreground-daemon runs the daemon and takes no command; run the command with another flom.\n",
        );
    assert!(!exists(&env.sock));
}

#[test]
fn foreground_daemon_on_a_served_socket_says_so() {
    let env = Env::new("svc-taken");
    env.start_daemon();
    let mut daemon = spawn_service(&[], None, &["-s", &env.sock]);
    daemon.wait(T).expect_code(99).expect_stderr(&format!(
        "flom: another daemon already serves socket '{}'; stop it, or give this one another socket (-s).\n",
        env.sock
    ));
}
