//! Local security: another user on the same host can't take, break or
//! forge your locks. Run as root, with a second user each test creates
//! (`useradd`) and removes (`userdel`, even when the test fails). Each
//! attack of issue 11 fails with its clear message while same-user use is
//! unaffected, and a shared daemon opened to everyone works across users.

mod common;

use common::*;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::time::{Duration, Instant};

/// A second, unprivileged user made for one test; removed on drop.
struct OtherUser {
    name: String,
    uid: u32,
    gid: u32,
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

impl OtherUser {
    /// None (the test is skipped) when not root or without useradd.
    fn create(test: &str, tag: &str) -> Option<OtherUser> {
        if !is_root() {
            skip(test, "needs root to create a second user");
            return None;
        }
        let name = format!("fls{tag}{}", std::process::id());
        let _ = Command::new("userdel").arg(&name).output();
        // useradd takes /etc/passwd's lock: tests running at once retry.
        let made = poll_until(T, || {
            Command::new("useradd")
                .args(["-M", "-U", "-s", "/bin/sh", &name])
                .status()
                .is_ok_and(|s| s.success())
        });
        if !made {
            skip(test, "useradd failed");
            return None;
        }
        let id = |flag: &str| -> u32 {
            let o = Command::new("id").args([flag, &name]).output().unwrap();
            String::from_utf8_lossy(&o.stdout).trim().parse().unwrap()
        };
        let (uid, gid) = (id("-u"), id("-g"));
        Some(OtherUser { name, uid, gid })
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", &self.name, "--", "env", "HOME=/nonexistent", BIN])
            .args(args);
        cmd
    }

    /// `flom ARGS` run by this user, to its end.
    fn flom(&self, args: &[&str]) -> Out {
        let label = format!("flom {} (as {})", args.join(" "), self.name);
        spawn_command(self.command(args), label).wait(T)
    }

    fn spawn(&self, args: &[&str]) -> Bg {
        let label = format!("flom {} (as {})", args.join(" "), self.name);
        spawn_command(self.command(args), label)
    }

    /// Runs a shell command line as this user.
    fn sh(&self, line: &str) {
        let st = Command::new("runuser")
            .args(["-u", &self.name, "--", "sh", "-c", line])
            .status()
            .unwrap();
        assert!(st.success(), "`{line}` as {}", self.name);
    }
}

impl Drop for OtherUser {
    fn drop(&mut self) {
        // Processes of the user first (its daemons), then the account.
        let _ = Command::new("pkill")
            .args(["-KILL", "-u", &self.name])
            .status();
        poll_until(T, || {
            Command::new("userdel")
                .arg(&self.name)
                .output()
                .is_ok_and(|o| o.status.success() || !user_exists(&self.name))
        });
        let _ = Command::new("groupdel").arg(&self.name).output();
    }
}

fn user_exists(name: &str) -> bool {
    Command::new("id")
        .arg(name)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The test's directory made like /tmp (world-writable, sticky), so the
/// other user can plant files in it.
fn tmp_like(env: &Env) {
    std::fs::set_permissions(&env.dir, std::fs::Permissions::from_mode(0o1777)).unwrap();
}

#[track_caller]
fn assert_stderr_has(out: &Out, part: &str) {
    assert!(
        out.stderr.contains(part),
        "wanted {part:?} in {}",
        out.describe()
    );
}

#[track_caller]
fn assert_quick(out: &Out) {
    assert!(
        out.elapsed < Duration::from_millis(1500),
        "took {:?}: {}",
        out.elapsed,
        out.describe()
    );
}

/// Connects as `uid`/`gid` (a forked child) to `path`, sends `bytes` and
/// reads: 0 the daemon closed without a byte, 1 it answered, 2 the connect
/// failed.
fn raw_as(uid: u32, gid: u32, path: &str, bytes: &[u8]) -> i32 {
    let cpath = std::ffi::CString::new(path).unwrap();
    // SAFETY: the child only makes async-signal-safe system calls on data
    // prepared before the fork, and ends with _exit.
    unsafe {
        let pid = libc::fork();
        if pid == 0 {
            if libc::setgid(gid) != 0 || libc::setuid(uid) != 0 {
                libc::_exit(3);
            }
            let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0);
            let mut addr: libc::sockaddr_un = std::mem::zeroed();
            addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
            for (i, b) in cpath.as_bytes().iter().enumerate() {
                addr.sun_path[i] = *b as libc::c_char;
            }
            let len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
            if libc::connect(fd, (&addr as *const libc::sockaddr_un).cast(), len) != 0 {
                libc::_exit(2);
            }
            libc::write(fd, bytes.as_ptr().cast(), bytes.len());
            let tv = libc::timeval {
                tv_sec: 3,
                tv_usec: 0,
            };
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&tv as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            );
            let mut b = [0u8; 64];
            let n = libc::read(fd, b.as_mut_ptr().cast(), b.len());
            libc::_exit(if n > 0 { 1 } else { 0 });
        }
        let mut status = 0;
        libc::waitpid(pid, &mut status, 0);
        libc::WEXITSTATUS(status)
    }
}

fn shutdown_request() -> Vec<u8> {
    mgmt_msg(VECTOR_PEER, true).into_bytes()
}

// ------------------------------------------------------------ the daemon

#[test]
fn another_user_cannot_stop_or_use_a_private_daemon() {
    let Some(other) = OtherUser::create("another_user_cannot_stop", "a") else {
        return;
    };
    let env = Env::new("sec-private");
    let pid = env.start_daemon();
    let fifo = env.fifo("f");
    let mut holder = env.spawn(&["-r", "held", "--", "cat", &fifo]);
    wait_until(T, "the holder's lock", || {
        env.flom(&["-r", "held", "-o", "0", "--", "true"]).code() == Some(98)
    });
    // The socket is 0600: the other user can't even connect.
    let out = other.flom(&["-s", &env.sock, "-X"]);
    out.expect_code(99);
    assert_stderr_has(
        &out,
        &format!(
            "permission denied connecting to the daemon at '{}' (owned by root)",
            env.sock
        ),
    );
    let out = other.flom(&["-s", &env.sock, "-r", "held", "--", "true"]);
    out.expect_code(99);
    assert_stderr_has(&out, "--socket-access");
    // Even with a socket file opened up by hand, the daemon checks
    // SO_PEERCRED: a shutdown or a lock request from the other user is
    // closed without an answer; root's own requests still work.
    std::fs::set_permissions(&env.sock, std::fs::Permissions::from_mode(0o666)).unwrap();
    assert_eq!(
        raw_as(other.uid, other.gid, &env.sock, &shutdown_request()),
        0
    );
    let lock = lock_msg(VECTOR_PEER, "held", 5, false, true, 0);
    assert_eq!(raw_as(other.uid, other.gid, &env.sock, lock.as_bytes()), 0);
    // Our client says who may stop it, before sending anything.
    let out = other.flom(&["-s", &env.sock, "-X"]);
    out.expect_code(99);
    assert_stderr_has(
        &out,
        &format!("flom: only root may shut down the daemon at '{}'", env.sock),
    );
    assert!(pid_alive(pid), "the daemon survived");
    env.assert_busy("held");
    release(&fifo);
    holder.wait(T).expect_code(0);
    // The daemon's own user may stop it.
    env.flom(&["-X"]).expect_code(0);
    wait_daemon_gone(pid, &env.sock);
}

#[test]
fn a_daemon_of_another_user_is_refused_by_the_client() {
    let Some(other) = OtherUser::create("a_daemon_of_another_user", "b") else {
        return;
    };
    let env = Env::new("sec-forged");
    tmp_like(&env);
    // The other user listens first where root's client will look.
    let planted = env.path("planted");
    let out = other.flom(&["-s", &planted, "-d", "-1", "--", "true"]);
    out.expect_code(0).expect_stderr("");
    let out = run_flom(&["-s", &planted, "-r", "red.green", "--", "echo"]);
    out.expect_code(99).expect_stdout("");
    assert_stderr_has(
        &out,
        &format!(
            "flom: the socket '{planted}' belongs to {}, not to you or root",
            other.name
        ),
    );
    assert_quick(&out);
    // A socket file handed to root (chown) does not help: the daemon
    // behind it is asked who it is (SO_PEERCRED) before anything is sent.
    let c = std::ffi::CString::new(planted.as_str()).unwrap();
    // SAFETY: lchown on a path of the test's directory.
    assert_eq!(unsafe { libc::lchown(c.as_ptr(), 0, 0) }, 0);
    let out = run_flom(&["-s", &planted, "-r", "red.green", "--", "echo"]);
    out.expect_code(99).expect_stdout("");
    assert_stderr_has(
        &out,
        &format!(
            "flom: the daemon at '{planted}' is run by {} (pid",
            other.name
        ),
    );
    // The same user's own daemon is unaffected.
    let out = env.flom(&["-r", "red.green", "--", "echo"]);
    out.expect_code(0).expect_stdout("red\n");
    // Its owner stops the planted daemon (given its socket back).
    // SAFETY: lchown on a path of the test's directory.
    assert_eq!(unsafe { libc::lchown(c.as_ptr(), other.uid, other.gid) }, 0);
    other.flom(&["-s", &planted, "-X"]).expect_code(0);
}

#[test]
fn a_shared_daemon_opened_to_everyone_works_across_users() {
    let Some(other) = OtherUser::create("a_shared_daemon", "c") else {
        return;
    };
    let env = Env::new("sec-shared");
    tmp_like(&env);
    let shared = env.path("shared");
    let out = other.flom(&[
        "-s",
        &shared,
        "-d",
        "-1",
        "--socket-access",
        "all",
        "--",
        "true",
    ]);
    out.expect_code(0).expect_stderr("");
    let mode = std::fs::metadata(&shared).unwrap().mode();
    assert_eq!(mode & 0o777, 0o666, "socket mode {mode:o}");
    let fifo = env.fifo("f");
    std::fs::set_permissions(&fifo, std::fs::Permissions::from_mode(0o666)).unwrap();
    let mut holder = other.spawn(&["-s", &shared, "-r", "common", "--", "cat", &fifo]);
    let trust = format!("--daemon-owner={}", other.name);
    wait_until(T, "the other user's lock", || {
        run_flom(&[
            "-s", &shared, &trust, "-r", "common", "-o", "0", "--", "true",
        ])
        .code()
            == Some(98)
    });
    release(&fifo);
    holder.wait(T).expect_code(0);
    run_flom(&[
        "-s", &shared, &trust, "-r", "common", "-o", "0", "--", "true",
    ])
    .expect_code(0)
    .expect_stderr("");
    // Root may stop another user's daemon (when it trusts it).
    run_flom(&["-s", &shared, &trust, "-X"]).expect_code(0);
    wait_until(T, "the shared daemon to go", || !exists(&shared));
    // A group-shared daemon: socket 0660 of that group; a member gets in.
    let group = env.path("group");
    let access = format!("--socket-access=group:{}", other.name);
    run_flom(&["-s", &group, "-d", "-1", &access, "--", "true"]).expect_code(0);
    let meta = std::fs::metadata(&group).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o660);
    assert_eq!(meta.gid(), other.gid);
    env.track(the_daemon(&group));
    let out = other.flom(&["-s", &group, "-r", "g", "--", "true"]);
    out.expect_code(0).expect_stderr("");
    run_flom(&["-s", &group, "-X"]).expect_code(0);
    // A bad value is refused with the grammar.
    let out = run_flom(&["-s", &group, "--socket-access", "everyone", "--", "true"]);
    out.expect_code(99);
    assert_stderr_has(&out, "use user, group:NAME or all");
}

// ------------------------------------------------------------ files

#[test]
fn planted_lock_socket_and_trace_paths_are_refused_at_once() {
    let Some(other) = OtherUser::create("planted_paths", "d") else {
        return;
    };
    let env = Env::new("sec-files");
    tmp_like(&env);
    let victim = env.path("victim");
    // A symbolic link at <socket>.lock: nothing is created through it.
    let s1 = env.path("s1");
    other.sh(&format!("ln -s {victim} {s1}.lock"));
    let out = run_flom(&["-s", &s1, "--", "true"]);
    out.expect_code(99);
    assert_stderr_has(
        &out,
        &format!("flom: refusing to use '{s1}.lock' as the lock file of the daemon: it is a symbolic link owned by {}", other.name),
    );
    assert_quick(&out);
    assert!(!exists(&victim), "a file was created through the link");
    // Another user's file at <socket>.lock (they could flock it forever).
    let s2 = env.path("s2");
    other.sh(&format!("touch {s2}.lock"));
    let out = run_flom(&["-s", &s2, "--", "true"]);
    out.expect_code(99);
    assert_stderr_has(
        &out,
        &format!("it is a file owned by {}, not by root", other.name),
    );
    assert_quick(&out);
    // A directory (or a file) planted at the socket path.
    let s3 = env.path("s3");
    other.sh(&format!("mkdir {s3}"));
    let out = run_flom(&["-s", &s3, "--", "true"]);
    out.expect_code(99);
    assert_stderr_has(
        &out,
        &format!(
            "flom: '{s3}' is a directory owned by {}, not a flom socket",
            other.name
        ),
    );
    assert_quick(&out);
    // Trace files: no link followed, no foreign file truncated.
    let link = env.path("trace-link");
    other.sh(&format!("ln -s {victim} {link}"));
    let out = env.flom(&["-T", &link, "--", "true"]);
    out.expect_code(99);
    assert_stderr_has(&out, &format!("refusing to use '{link}' as the trace file"));
    let out = env.flom(&["-t", &link, "--", "true"]);
    out.expect_code(99);
    assert_stderr_has(&out, &format!("refusing to use '{link}' as the trace file"));
    assert!(!exists(&victim));
    let theirs = env.path("theirs.trc");
    other.sh(&format!("echo keep > {theirs}"));
    env.flom(&["-T", &theirs, "--", "true"]).expect_code(99);
    assert_eq!(std::fs::read_to_string(&theirs).unwrap(), "keep\n");
    // A trace file of ours is created 0600.
    let mine = env.path("mine.trc");
    env.flom(&["-T", &mine, "--", "true"]).expect_code(0);
    assert_eq!(std::fs::metadata(&mine).unwrap().mode() & 0o777, 0o600);
}

#[test]
fn the_lock_file_goes_with_the_daemon() {
    let env = Env::new("sec-lockfile");
    let lock = format!("{}.lock", env.sock);
    for round in 0..3 {
        let pid = env.start_daemon();
        assert!(exists(&lock), "round {round}: no lock file while serving");
        // Clients racing a daemon that is exiting: one daemon at a time.
        env.flom(&["-x"]).expect_code(0);
        let racers: Vec<Bg> = (0..4)
            .map(|_| env.spawn(&["-d", "300", "--", "true"]))
            .collect();
        for mut r in racers {
            r.wait(T).expect_code(0).expect_stderr("");
        }
        wait_until(T, "the first daemon to go", || !pid_alive(pid));
        assert!(detached_processes_for(&env.sock).len() <= 1);
        wait_no_process_for(&env.sock);
        wait_until(T, "the lock file to go", || !exists(&lock));
        assert!(!exists(&env.sock));
    }
}

// ------------------------------------------------------------ the socket

#[test]
fn a_removed_socket_is_recreated_and_a_replaced_one_ends_the_daemon() {
    if !is_root() {
        return skip("a_removed_socket", "needs root");
    }
    let env = Env::new("sec-watch");
    let pid = env.start_daemon();
    std::fs::remove_file(&env.sock).unwrap();
    wait_until(T, "the socket to be re-created", || is_socket(&env.sock));
    env.flom(&["-r", "x", "--", "true"]).expect_code(0);
    assert_eq!(the_daemon(&env.sock), pid);
    // Replaced by something else: the daemon leaves the path once idle.
    std::fs::remove_file(&env.sock).unwrap();
    std::fs::write(&env.sock, "not a socket").unwrap();
    wait_until(T, "the daemon to exit", || !pid_alive(pid));
    assert_eq!(std::fs::read_to_string(&env.sock).unwrap(), "not a socket");
}

#[test]
fn silent_connections_are_closed() {
    let env = Env::new("sec-silent");
    run_flom(&[
        "-s",
        &env.sock,
        "-d",
        "-1",
        "--request-timeout",
        "300",
        "--",
        "true",
    ])
    .expect_code(0);
    env.track(the_daemon(&env.sock));
    let mut silent = UnixStream::connect(&env.sock).unwrap();
    silent.set_read_timeout(Some(T)).unwrap();
    let started = Instant::now();
    let mut b = [0u8; 8];
    assert_eq!(silent.read(&mut b).unwrap(), 0, "closed without a byte");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(3),
        "{took:?}"
    );
    // A holder that sent its request stays.
    let fifo = env.fifo("f");
    let mut holder = env.spawn(&["-r", "h", "--", "cat", &fifo]);
    wait_until(T, "the lock", || {
        env.flom(&["-r", "h", "-o", "0", "--", "true"]).code() == Some(98)
    });
    std::thread::sleep(Duration::from_millis(600));
    env.assert_busy("h");
    release(&fifo);
    holder.wait(T).expect_code(0);
}

// ------------------------------------------------------------ client waits

/// A listener that accepts (or not) and never answers; backlog `backlog`.
fn mute_listener(path: &str, backlog: i32) -> i32 {
    let c = std::ffi::CString::new(path).unwrap();
    // SAFETY: a socket of our own, bound to a path of the test's directory.
    unsafe {
        let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0);
        let mut addr: libc::sockaddr_un = std::mem::zeroed();
        addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
        for (i, b) in c.as_bytes().iter().enumerate() {
            addr.sun_path[i] = *b as libc::c_char;
        }
        let len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
        assert_eq!(
            libc::bind(fd, (&addr as *const libc::sockaddr_un).cast(), len),
            0
        );
        assert_eq!(libc::listen(fd, backlog), 0);
        fd
    }
}

#[test]
fn every_client_wait_is_bounded() {
    let env = Env::new("sec-waits");
    let mute = env.path("mute");
    let fd = mute_listener(&mute, 16);
    // Connected (in the backlog), never answered.
    let out = run_flom(&["-s", &mute, "-o", "1000", "--", "true"]);
    out.expect_code(98);
    assert_stderr_has(&out, "timeout (1000 milliseconds) expired");
    assert!(
        out.elapsed < Duration::from_millis(2500),
        "{:?}",
        out.elapsed
    );
    let out = run_flom(&["-s", &mute, "-o", "0", "--", "true"]);
    out.expect_code(99);
    assert_stderr_has(
        &out,
        "flom: the daemon did not answer the lock request within 5000 ms",
    );
    assert!(out.elapsed < Duration::from_secs(8), "{:?}", out.elapsed);
    // SAFETY: closing our listener.
    unsafe { libc::close(fd) };
    // A full backlog: the connect itself is bounded by -o.
    let full = env.path("full");
    let fd = mute_listener(&full, 0);
    let mut fillers = Vec::new();
    loop {
        let s = socket_nonblocking();
        let c = std::ffi::CString::new(full.as_str()).unwrap();
        if !connect_raw(s, &c) {
            // SAFETY: closing the socket that did not connect.
            unsafe { libc::close(s) };
            break;
        }
        fillers.push(s);
        assert!(fillers.len() < 100, "the backlog never filled");
    }
    let out = run_flom(&["-s", &full, "-o", "500", "--", "true"]);
    out.expect_code(99);
    assert_stderr_has(
        &out,
        &format!("flom: the daemon at '{full}' did not accept the connection within 500 ms"),
    );
    assert!(
        out.elapsed < Duration::from_millis(2000),
        "{:?}",
        out.elapsed
    );
    for s in fillers {
        // SAFETY: closing our sockets.
        unsafe { libc::close(s) };
    }
    // SAFETY: closing our listener.
    unsafe { libc::close(fd) };
}

fn socket_nonblocking() -> i32 {
    // SAFETY: a fresh socket of our own.
    unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_NONBLOCK, 0) }
}

fn connect_raw(fd: i32, path: &std::ffi::CStr) -> bool {
    // SAFETY: connect of our socket to a NUL-terminated path.
    unsafe {
        let mut addr: libc::sockaddr_un = std::mem::zeroed();
        addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
        for (i, b) in path.to_bytes().iter().enumerate() {
            addr.sun_path[i] = *b as libc::c_char;
        }
        let len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
        libc::connect(fd, (&addr as *const libc::sockaddr_un).cast(), len) == 0
    }
}

#[test]
fn a_c_client_of_the_same_user_still_works() {
    let c_flom = "/opt/cflom/install/bin/flom";
    if !exists(c_flom) {
        return skip(
            "a_c_client_of_the_same_user_still_works",
            "no C FLoM at /opt/cflom",
        );
    }
    let env = Env::new("sec-cclient");
    env.start_daemon();
    let out = spawn_command(
        {
            let mut c = Command::new(c_flom);
            c.args(["-s", &env.sock, "-r", "red.green", "--", "echo"]);
            c
        },
        "C flom".into(),
    )
    .wait(T);
    out.expect_code(0);
    assert_eq!(out.stdout.lines().last(), Some("red"), "{}", out.describe());
    // And ours with a C daemon of the same user (its socket is 0777).
    let c_sock = env.other_sock("c");
    let st = Command::new(c_flom)
        .args(["-s", &c_sock, "-d", "-1", "--", "true"])
        .status()
        .unwrap();
    assert!(st.success());
    env.track(the_daemon(&c_sock));
    run_flom(&["-s", &c_sock, "-r", "red.green", "--", "echo"])
        .expect_code(0)
        .expect_stdout("red\n");
    run_flom(&["-s", &c_sock, "-X"]).expect_code(0);
}

// ------------------------------------------------------------ limits, TCP

#[test]
fn silent_connections_go_first_at_the_descriptor_limit() {
    let env = Env::new("sec-fdlimit");
    // The daemon inherits a limit of 40 descriptors; no RequestTimeout, so
    // only the limit can close the silent connections.
    let st = Command::new("prlimit")
        .args(["--nofile=40:40", BIN, "-s", &env.sock, "-d", "-1"])
        .args(["--request-timeout", "0", "--", "true"])
        .status();
    if !st.as_ref().is_ok_and(|s| s.success()) {
        return skip("silent_connections_go_first", "prlimit cannot run flom");
    }
    env.track(the_daemon(&env.sock));
    let silent: Vec<UnixStream> = (0..60)
        .map(|_| UnixStream::connect(&env.sock).unwrap())
        .collect();
    wait_conns(&env.sock, 30);
    // A real client is served: an old silent connection made room.
    env.flom(&["-r", "after", "-o", "5000", "--", "true"])
        .expect_code(0)
        .expect_stderr("");
    let mut first = &silent[0];
    first.set_read_timeout(Some(T)).unwrap();
    let mut b = [0u8; 4];
    assert_eq!(first.read(&mut b).unwrap(), 0, "the oldest one was closed");
}

#[test]
fn shutdown_over_tcp_can_be_limited_to_loopback() {
    let Some(net) = common::netns::Net::new("shutdown_over_tcp", "sectcp") else {
        return;
    };
    let port = "28215";
    let daemon = ["-a", "0.0.0.0", "-p", port, "-d", "-1"];
    let mut args = daemon.to_vec();
    args.extend(["--restrict-tcp-shutdown", "yes", "--", "true"]);
    net.a.flom(&args).expect_code(0).expect_stderr("");
    let remote = ["-a", common::netns::A_V4, "-p", port];
    // From host B: not obeyed (the daemon drops the request).
    let mut x = remote.to_vec();
    x.push("-X");
    net.b.flom(&x);
    let mut lock = remote.to_vec();
    lock.extend(["-r", "r", "--", "true"]);
    net.b.flom(&lock).expect_code(0).expect_stderr("");
    // From loopback on host A: obeyed.
    net.a
        .flom(&["-a", "127.0.0.1", "-p", port, "-X"])
        .expect_code(0);
    wait_until(T, "the daemon to exit", || !net.a.tcp_listening(28215));
}
