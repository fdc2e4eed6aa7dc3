//! A newcomer's mistakes get one `flom: ` sentence saying what failed and
//! what to do (issue 14): client errors, usage mistakes, requests that can
//! never be granted, config typos, what a waiting client is doing, client
//! tracing, and `-x`/`-X` answering once the daemon is gone.

mod common;

use common::cli::{flom, home, system_config, write_conf, write_user_conf};
use common::netns::TcpPort;
use common::*;

#[test]
fn a_tcp_address_without_daemon_is_named() {
    let port = TcpPort::new();
    let out = run_flom(&[
        "-a",
        "127.0.0.1",
        "-p",
        &port.port_s,
        "-d",
        "0",
        "--",
        "true",
    ]);
    out.expect_code(99).expect_stdout("").expect_stderr(&format!(
        "flom: no daemon accepts connections on 127.0.0.1 port {} (TCP), and -d 0 (daemon lifespan 0) forbids starting one: start a daemon there, check the address, or leave out -d 0.\n",
        port.port
    ));
}

#[test]
fn a_missing_socket_directory_is_named() {
    let env = Env::new("frmissdir");
    let sock = env.path("missing-dir/sock");
    run_flom(&["-s", &sock, "--", "true"])
        .expect_code(99)
        .expect_stdout("")
        .expect_stderr(&format!(
            "flom: cannot use socket {sock}: directory {} does not exist; create it or choose another socket path with -s.\n",
            env.path("missing-dir")
        ));
}

#[test]
fn a_daemon_stopped_under_a_holder_is_explained() {
    let env = Env::new("frstopped");
    let pid = env.start_daemon();
    let fifo = env.fifo("go");
    let mut holder = env.spawn(&["-r", "held", "--", "sh", "-c", &format!("cat {fifo}")]);
    wait_until(T, "the lock is held", || {
        env.flom(&["-r", "held", "-o", "0", "--", "true"]).code() == Some(98)
    });
    env.flom(&["-X"]).expect_code(0);
    wait_daemon_gone(pid, &env.sock);
    release(&fifo);
    holder.wait(T).expect_code(99).expect_stderr(
        "flom: the command ran, but the lock on resource 'held' could not be released because the daemon had gone (stopped while the command ran); nothing is left to release.\n",
    );
}

#[test]
fn a_too_long_resource_name_names_the_limit() {
    let env = Env::new("frlongname");
    env.start_daemon();
    let name = "a".repeat(5000);
    let out = env.flom(&["-r", &name, "--", "true"]);
    out.expect_code(99).expect_stdout("");
    assert!(
        out.stderr.starts_with("flom: the resource name is 5000 bytes long, but a lock request must fit in 4096 bytes, so names of at most ")
            && out.stderr.ends_with(" bytes are accepted (C FLoM's daemon: about 240): use a shorter name.\n"),
        "{}",
        out.describe()
    );
    env.assert_free("_RESOURCE");
}

#[test]
fn an_invalid_resource_name_shows_the_grammar() {
    let env = Env::new("frgrammar");
    env.flom(&["-r", "a b", "--", "true"])
        .expect_code(99)
        .expect_stdout("ERROR: 'a b' is not a valid name for a resource\n")
        .expect_stderr("flom: option -r/--resource-name: 'a b' is not a valid resource name; use NAME, NAME[N], A.B.C, /A/B/C, _s_NAME[N], _S_NAME[N] or _t_FORMAT[N], where NAME is a letter followed by letters and digits (see flom(1)).\n");
}

#[test]
fn a_refused_timestamp_format_is_named() {
    let env = Env::new("frtsformat");
    env.start_daemon();
    for format in ["%", "%Z", "%5S"] {
        env.flom(&["-r", &format!("_t_{format}[1]"), "--", "true"])
            .expect_code(99)
            .expect_stdout("")
            .expect_stderr(&common::types::refused_format(format));
    }
}

#[test]
fn usage_mistakes_get_a_hint() {
    let env = Env::new("frusage");
    for args in [&[][..], &["--"][..]] {
        env.flom(args).expect_code(97).expect_stderr(NO_COMMAND);
    }
    // a command given without --: its -l was read as flom's lock mode
    let out = env.flom(&["ls", "-l", "/dev/null"]);
    out.expect_code(99).expect_stdout("");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines[0], "lock-mode: '/dev/null' is an invalid value");
    assert_eq!(
        *lines.last().unwrap(),
        "flom: the options after 'ls' were read as flom's own: to run 'ls -l /dev/null' under the lock, put -- before the command, as in flom [OPTION...] -- ls -l /dev/null."
    );
    env.flom(&["--bogus"])
        .expect_code(99)
        .expect_stdout("")
        .expect_stderr(&format!(
            "option parsing failed: Unknown option --bogus\n{}",
            unknown_option_hint("--bogus")
        ));
    env.flom(&["-o", "soon", "--", "true"])
        .expect_code(99)
        .expect_stderr(&format!(
            "option parsing failed: Cannot parse integer value \u{201c}soon\u{201d} for -o\n{HELP_HINT}"
        ));
    // the command that cannot be executed is named alone
    let out = env.flom(&["--", "nosuchcmd-fr", "arg"]);
    out.expect_code(97);
    assert!(
        out.stderr
            .starts_with("flom: unable to execute command 'nosuchcmd-fr': "),
        "{}",
        out.describe()
    );
}

#[test]
fn never_grantable_requests_are_refused_with_99() {
    let env = Env::new("frnever");
    for name in ["x[0]", "_s_q[0]", "_t_%S[0]"] {
        env.flom(&["-r", name, "--", "echo", "ran"])
            .expect_code(99)
            .expect_stdout("")
            .expect_stderr(&format!(
                "flom: resource '{name}' has capacity 0, so it can never be locked: write a capacity of at least 1 between the brackets.\n"
            ));
    }
    // refused before any daemon is started
    assert!(!exists(&env.sock));
}

#[test]
fn config_typos_are_warned_with_file_and_line() {
    let env = Env::new("frtypos");
    let home = home(&env);
    let user = write_user_conf(
        &home,
        "[Resource]\nTimeot=100\n[Resourc]\nName=x\n[Daemon]\nLifespan=-1\nWhatever=1\n",
    );
    let custom = write_conf(
        &env,
        "custom.conf",
        "# nothing wrong\n[Trace]\nVerbose=no\n",
    );
    let out = flom(
        &home,
        &["-s", &env.sock, "-c", &custom, "-r", "typos", "--", "true"],
    );
    // the run goes on
    out.expect_code(0).expect_stdout("").expect_stderr(&format!(
        "flom: warning: {user}:2: unknown key 'Timeot' in group [Resource] is ignored; did you mean 'Timeout'?\n\
         flom: warning: {user}:3: unknown group [Resourc] is ignored with its keys; did you mean [Resource]?\n\
         flom: warning: {user}:7: unknown key 'Whatever' in group [Daemon] is ignored.\n"
    ));
    // -V also names the files read
    let out = flom(&home, &["-V", "-s", &env.sock, "-c", &custom, "--", "true"]);
    out.expect_code(0);
    let system = system_config();
    let read: Vec<String> = [
        system.to_string_lossy().into_owned(),
        user.clone(),
        custom.clone(),
    ]
    .into_iter()
    .filter(|p| std::path::Path::new(p).is_file())
    .collect();
    assert!(
        out.stderr.contains(&format!(
            "flom: configuration read from {}.\n",
            read.join(", ")
        )),
        "{}",
        out.describe()
    );
}

#[test]
fn verbose_says_requested_waiting_and_granted() {
    let env = Env::new("frwaiting");
    env.start_daemon();
    let fifo = env.fifo("go");
    let mut holder = env.spawn(&["-r", "busy", "--", "sh", "-c", &format!("cat {fifo}")]);
    wait_until(T, "the lock is held", || {
        env.flom(&["-r", "busy", "-o", "0", "--", "true"]).code() == Some(98)
    });
    // the waiter's stderr goes to a file, to be read while it waits
    let log = env.path("waiter.err");
    let mut cmd = std::process::Command::new("sh");
    cmd.args(["-c", &format!("exec \"$0\" \"$@\" 2>{log}"), BIN])
        .args([
            "-s", &env.sock, "-V", "-r", "busy", "-l", "PR", "--", "true",
        ]);
    let mut waiter = spawn_command(cmd, "waiter".into());
    let waiting = "flom: waiting for resource 'busy' in mode PR until other holders release it.\n";
    wait_until(T, "the waiter says it waits", || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains(waiting))
    });
    assert!(waiter.is_running() && holder.is_running());
    release(&fifo);
    holder.wait(T).expect_code(0);
    waiter.wait(T).expect_code(0);
    let stderr = std::fs::read_to_string(&log).unwrap();
    let notes: Vec<&str> = stderr
        .lines()
        .filter(|l| {
            !l.starts_with("flom: configuration") && !l.starts_with("flom: no configuration")
        })
        .collect();
    assert_eq!(notes.len(), 3, "{stderr}");
    assert_eq!(
        notes[0],
        "flom: requesting the lock on resource 'busy' in mode PR, waiting as long as needed."
    );
    assert_eq!(notes[1], waiting.trim_end());
    assert!(
        notes[2].starts_with("flom: lock on resource 'busy' granted after ")
            && notes[2].ends_with(" ms."),
        "{stderr}"
    );
    // an element and a quantity are named too
    let out = env.flom(&["-V", "-r", "pool[3]", "-q", "2", "--", "true"]);
    assert!(out.stderr.contains("flom: requesting the lock on resource 'pool[3]' for 2 units, waiting as long as needed.\n"), "{}", out.describe());
    let out = env.flom(&["-V", "-r", "red.green", "-o", "0", "--", "true"]);
    assert!(
        out.stderr.contains(
            "flom: requesting the lock on resource 'red.green' exclusively, without waiting.\n"
        ),
        "{}",
        out.describe()
    );
    assert!(
        out.stderr.contains("granted (element 'red') after "),
        "{}",
        out.describe()
    );
    // without -V: nothing
    env.flom(&["-r", "busy", "--", "true"])
        .expect_code(0)
        .expect_stderr("");
}

/// Why a FUSE mount cannot be made here, if it cannot.
fn fuse_unusable() -> Option<String> {
    if std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse")
        .is_err()
    {
        return Some("cannot open /dev/fuse".into());
    }
    // SAFETY: geteuid cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    let helper = std::process::Command::new("fusermount3")
        .arg("-V")
        .output()
        .is_ok();
    (!root && !helper).then(|| "not root and no fusermount3".into())
}

/// A daemon of the test's own (`-d -1`) serving a VFS at `mnt`.
fn daemon_with_vfs(env: &Env, mnt: &str) -> i32 {
    std::fs::create_dir_all(mnt).unwrap();
    run_flom(&[
        "-s", &env.sock, "-m", mnt, "-d", "-1", "-r", "warmup", "--", "true",
    ])
    .expect_code(0)
    .expect_stderr("");
    let pid = the_daemon(&env.sock);
    env.track(pid);
    pid
}

#[test]
fn shutdown_answers_once_the_daemon_is_gone() {
    if let Some(why) = fuse_unusable() {
        skip("shutdown_answers_once_the_daemon_is_gone", &why);
        return;
    }
    let env = Env::new("frshutgone");
    for (opt, banner) in [
        ("-x", "Starting FLoM daemon quiesce shutdown...\n"),
        ("-X", "Starting FLoM daemon immediate shutdown...\n"),
    ] {
        let mnt = env.path("mnt");
        let pid = daemon_with_vfs(&env, &mnt);
        env.flom(&[opt])
            .expect_code(0)
            .expect_stdout(banner)
            .expect_stderr("");
        // at once: the mount point is free, the socket gone, the daemon too
        std::fs::remove_dir(&mnt).unwrap_or_else(|e| panic!("rmdir after {opt}: {e}"));
        assert!(!exists(&env.sock), "the socket is left after {opt}");
        // the process itself ends right after closing the connection
        wait_daemon_gone(pid, &env.sock);
    }
}

#[test]
fn quiesce_with_a_holder_answers_at_once() {
    let env = Env::new("frshuthold");
    let pid = env.start_daemon();
    let fifo = env.fifo("go");
    let mut holder = env.spawn(&["-r", "held", "--", "sh", "-c", &format!("cat {fifo}")]);
    wait_until(T, "the lock is held", || {
        env.flom(&["-r", "held", "-o", "0", "--", "true"]).code() == Some(98)
    });
    let out = env.flom(&["-x"]);
    out.expect_code(0).expect_stderr("");
    assert!(
        out.elapsed < std::time::Duration::from_millis(900),
        "{}",
        out.describe()
    );
    assert!(pid_alive(pid) && holder.is_running());
    release(&fifo);
    holder.wait(T).expect_code(0);
    wait_daemon_gone(pid, &env.sock);
}

/// Runs `flom ARGS` in a private mount namespace whose /etc/hosts is
/// `hosts` (so that names resolve as the test says); None when that cannot
/// be set up here.
fn flom_with_hosts(env: &Env, hosts: &str, args: &[&str]) -> Option<Out> {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 || !std::path::Path::new("/usr/bin/unshare").exists() {
        return None;
    }
    let file = env.path(&format!("hosts{}", hosts.len()));
    std::fs::write(&file, hosts).unwrap();
    let mut cmd = std::process::Command::new("unshare");
    cmd.args([
        "-m",
        "sh",
        "-c",
        "mount --bind \"$0\" /etc/hosts && exec \"$@\"",
        &file,
        BIN,
    ])
    .args(args);
    Some(spawn_command(cmd, format!("flom {args:?} with /etc/hosts {hosts:?}")).wait(T))
}

/// Stops the TCP daemon on 127.0.0.1:port when dropped.
struct TcpDaemon(String);

impl Drop for TcpDaemon {
    fn drop(&mut self) {
        run_flom(&["-a", "127.0.0.1", "-p", &self.0, "-X"]);
    }
}

#[test]
fn dual_stack_names_use_the_ipv4_address() {
    let env = Env::new("frdual");
    let port = TcpPort::new();
    run_flom(&[
        "-a",
        "127.0.0.1",
        "-p",
        &port.port_s,
        "-d",
        "-1",
        "--",
        "true",
    ])
    .expect_code(0);
    let _daemon = TcpDaemon(port.port_s.clone());
    let both = "127.0.0.1 frdual\nfe80::1 frdual\n";
    let client = [
        "-a",
        "frdual",
        "-p",
        &port.port_s,
        "-d",
        "0",
        "--",
        "echo",
        "ran",
    ];
    let Some(out) = flom_with_hosts(&env, both, &client) else {
        skip(
            "dual_stack_names_use_the_ipv4_address",
            "needs root and unshare",
        );
        return;
    };
    out.expect_code(0).expect_stdout("ran\n").expect_stderr("");
    // a name with only a link-local address still gets the -n message
    let only = ["-a", "frll", "-p", &port.port_s, "-d", "0", "--", "true"];
    flom_with_hosts(&env, "fe80::1 frll\n", &only)
        .unwrap()
        .expect_code(99)
        .expect_stderr("flom: 'frll' is an IPv6 link-local address: name the network interface with -n IFACE (or write it as frll%IFACE)\n");
}

/// Runs `flom ARGS` with FLOM_TRACE_MASK=mask.
fn traced(mask: &str, args: &[&str]) -> Out {
    let mut cmd = std::process::Command::new(BIN);
    cmd.args(args).env("FLOM_TRACE_MASK", mask);
    spawn_command(cmd, format!("FLOM_TRACE_MASK={mask} flom {args:?}")).wait(T)
}

/// The text of the trace lines of `out` (after `DATE TIME [PID/THREAD] `).
fn trace_texts(out: &Out) -> Vec<String> {
    out.stderr
        .lines()
        .filter_map(|l| l.split_once("] ").map(|(_, t)| t.to_string()))
        .collect()
}

#[test]
fn client_tracing_is_readable() {
    let env = Env::new("frtrace");
    let out = traced("0x8", &["-s", &env.sock, "-r", "red.green", "--", "true"]);
    out.expect_code(0);
    let texts = trace_texts(&out);
    let sock = &env.sock;
    for want in [
        "client: locking resource 'red.green' in mode EX, quantity 1, timeout -1 ms".to_string(),
        format!("connection: reaching the daemon at UNIX socket {sock} (starting one if none)"),
        "connection: no daemon there: starting one".to_string(),
        "connection: daemon start: rc=0 (OK: no error)".to_string(),
        "connection: connected".to_string(),
        "client: sending the lock request".to_string(),
        "client: answer of the daemon: rc=0".to_string(),
        "client: lock granted, element 'red'".to_string(),
        "client: running command 'true' with 1 argument(s)".to_string(),
        "client: command ended with status 0; unlocking".to_string(),
    ] {
        assert!(texts.contains(&want), "no '{want}' in {}", out.describe());
    }
    // TCP: resolution and the addresses tried
    let port = TcpPort::new();
    let out = traced(
        "0x400000",
        &[
            "-a",
            "localhost",
            "-p",
            &port.port_s,
            "-d",
            "0",
            "--",
            "true",
        ],
    );
    out.expect_code(99);
    let texts = trace_texts(&out);
    let p = port.port;
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("tcp: 'localhost' resolves to ")
                && t.contains(&format!("usable: 127.0.0.1:{p}"))),
        "{}",
        out.describe()
    );
    assert!(
        texts.contains(&format!("tcp: connecting to 127.0.0.1:{p}")),
        "{}",
        out.describe()
    );
    assert!(
        texts.iter().any(|t| t.starts_with(&format!(
            "tcp: connecting to 127.0.0.1:{p}: Connection refused"
        ))),
        "{}",
        out.describe()
    );
    // everything: no Rust debug text
    let out = traced("0xffffffff", &["-s", &env.sock, "-x"]);
    out.expect_code(0);
    assert!(
        !out.stderr.contains("Some(") && !out.stderr.contains("None"),
        "{}",
        out.describe()
    );
}

#[test]
fn an_unresolvable_name_says_what_to_check() {
    run_flom(&["-a", "no-such-host.invalid", "-d", "0", "--", "true"])
        .expect_code(99)
        .expect_stdout("")
        .expect_stderr("flom: cannot resolve address 'no-such-host.invalid' to a usable address: check the host name (and -n, which keeps only IPv6 addresses) or give a numeric address\n");
}

#[test]
fn verbose_says_a_request_waits_for_the_creation() {
    let env = Env::new("frcreate");
    env.start_daemon();
    let log = env.path("waiter.err");
    let mut cmd = std::process::Command::new("sh");
    cmd.args(["-c", &format!("exec \"$0\" \"$@\" 2>{log}"), BIN])
        .args([
            "-s", &env.sock, "-V", "-e", "no", "-r", "newres", "--", "true",
        ]);
    let mut waiter = spawn_command(cmd, "waiter".into());
    let line = "flom: waiting for resource 'newres' in mode EX until another client creates it (it does not exist and -e no forbids creating it).\n";
    wait_until(T, "the waiter says it waits for the creation", || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains(line))
    });
    assert!(waiter.is_running());
    env.flom(&["-r", "newres", "--", "true"]).expect_code(0);
    waiter.wait(T).expect_code(0);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("flom: lock on resource 'newres' granted after "),
        "{text}"
    );
}
