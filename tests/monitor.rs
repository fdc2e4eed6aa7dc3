//! The monitor: how `flom` treats signals while its command runs
//! (spec/cli.md §7, spec/tests.md §8 and the deliberate differences of
//! spec/README.md): `--ignore-signal` (flom survives, nothing is forwarded,
//! the command keeps default dispositions), forwarding of SIGTERM, SIGINT
//! and SIGHUP to the command, 128+N when the command dies of signal N,
//! the SIGKILL/SIGSTOP and unknown-name warnings, `[Monitor]/IgnoredSignals`
//! from the config files, and the command's environment.

mod common;

use common::cli::*;
use common::{cmdline, lines, pid_alive, release, wait_line, wait_until, Env, T};

/// The command `sleep` started by flom `pid` (waits until it has exec'd).
#[track_caller]
fn sleep_child(pid: i32) -> i32 {
    let mut found = 0;
    wait_until(T, "flom's command to exec sleep", || {
        found = children_of(pid)
            .into_iter()
            .find(|&c| cmdline(c).first().map(String::as_str) == Some("sleep"))
            .unwrap_or(0);
        found != 0
    });
    found
}

/// Waits until flom `pid` has SIG_IGN for every signal in `sigs`.
#[track_caller]
fn wait_ignoring(pid: i32, sigs: &[i32]) {
    let want: u64 = sigs.iter().map(|&s| bit(s)).sum();
    wait_until(T, &format!("flom to ignore {sigs:?}"), || {
        sig_mask(pid, "SigIgn").is_some_and(|m| m & want == want)
    });
}

/// `--ignore-signal=NAME -- sleep 1000`; the signal sent to flom is
/// discarded (flom survives, keeps the lock, the command is untouched);
/// then the same signal sent to the command kills it: flom exits 128+N
/// and releases the lock.
fn ignored_signal_is_neither_fatal_nor_forwarded(tag: &str, name: &str, sig: i32) {
    let env = Env::new(tag);
    let home = home(&env);
    env.start_daemon();
    let opt = format!("--ignore-signal={name}");
    let mut f = spawn(&home, &["-s", &env.sock, &opt, "--", "sleep", "1000"]);
    let child = sleep_child(f.pid);
    wait_ignoring(f.pid, &[sig]);
    // the command does not inherit the ignored disposition
    let child_ign = sig_mask(child, "SigIgn").expect("the command's SigIgn");
    assert_eq!(child_ign & bit(sig), 0, "the command ignores {name}");
    f.signal(sig);
    // An ignored signal is discarded when it is sent: flom is untouched,
    // still holds the lock, and the command never got it.
    env.assert_busy("_RESOURCE");
    assert!(f.is_running(), "flom died of an ignored {name}");
    assert!(pid_alive(child), "the ignored {name} reached the command");
    // SAFETY: signalling the command flom started for this test.
    unsafe { libc::kill(child, sig) };
    f.wait(T)
        .expect_code(128 + sig)
        .expect_stdout("")
        .expect_stderr("");
    env.assert_free("_RESOURCE");
}

#[test]
fn ignored_sigterm_then_command_killed_by_sigterm_exits_143() {
    ignored_signal_is_neither_fatal_nor_forwarded("monignterm", "SIGTERM", libc::SIGTERM);
}

#[test]
fn ignored_sigint_then_command_killed_by_sigint_exits_130() {
    ignored_signal_is_neither_fatal_nor_forwarded("monignint", "SIGINT", libc::SIGINT);
}

#[test]
fn ignored_sighup_by_number_then_command_killed_by_sighup_exits_129() {
    ignored_signal_is_neither_fatal_nor_forwarded("monignhup", "1", libc::SIGHUP);
}

/// Without `--ignore-signal`, a signal sent to flom reaches the command,
/// which traps it and exits 7: flom exits 7 and the lock is released.
fn forwarded_signal_is_observed_by_the_command(tag: &str, name: &str, sig: i32) {
    let env = Env::new(tag);
    let home = home(&env);
    env.start_daemon();
    let log = env.path("log");
    let script = format!(
        "trap 'echo got-{name} >> {log}; kill $p; exit 7' {name}; \
         sleep 1000 >/dev/null 2>&1 & p=$!; echo ready >> {log}; wait $p"
    );
    let mut f = spawn(&home, &["-s", &env.sock, "--", "sh", "-c", &script]);
    wait_line(&log, "ready");
    env.assert_busy("_RESOURCE");
    f.signal(sig);
    f.wait(T).expect_code(7).expect_stdout("").expect_stderr("");
    assert_eq!(lines(&log), ["ready".to_string(), format!("got-{name}")]);
    env.assert_free("_RESOURCE");
}

#[test]
fn sigterm_to_flom_is_forwarded_to_the_command() {
    forwarded_signal_is_observed_by_the_command("monfwdterm", "TERM", libc::SIGTERM);
}

#[test]
fn sigint_to_flom_is_forwarded_to_the_command() {
    forwarded_signal_is_observed_by_the_command("monfwdint", "INT", libc::SIGINT);
}

#[test]
fn sighup_to_flom_is_forwarded_to_the_command() {
    forwarded_signal_is_observed_by_the_command("monfwdhup", "HUP", libc::SIGHUP);
}

#[test]
fn signals_that_cannot_be_ignored_give_a_warning() {
    let env = Env::new("monkill");
    let home = home(&env);
    env.start_daemon();
    for (args, err) in [
        (
            vec!["--ignore-signal=SIGKILL"],
            "Warning: couldn't ignore signal 9:SIGKILL\n",
        ),
        (
            vec!["--ignore-signal", "9"],
            "Warning: couldn't ignore signal 9:SIGKILL\n",
        ),
        (
            vec!["--ignore-signal=SIGSTOP"],
            "Warning: couldn't ignore signal 19:SIGSTOP\n",
        ),
        (
            vec!["--ignore-signal=SIGSTOP", "--ignore-signal=SIGKILL"],
            "Warning: couldn't ignore signal 9:SIGKILL\nWarning: couldn't ignore signal 19:SIGSTOP\n",
        ),
    ] {
        let mut a = vec!["-s", env.sock.as_str()];
        a.extend(args);
        a.extend(["--", "true"]);
        flom(&home, &a)
            .expect_code(0)
            .expect_stdout("")
            .expect_stderr(err);
    }
    // the other signals of the list are still ignored
    let fifo = env.fifo("rel");
    let f = spawn(
        &home,
        &[
            "-s",
            &env.sock,
            "--ignore-signal=SIGKILL",
            "--ignore-signal=SIGQUIT",
            "--",
            "cat",
            &fifo,
        ],
    );
    wait_ignoring(f.pid, &[libc::SIGQUIT]);
    release(&fifo);
    let mut f = f;
    f.wait(T)
        .expect_code(0)
        .expect_stderr("Warning: couldn't ignore signal 9:SIGKILL\n");
}

#[test]
fn unknown_signal_name_warns_and_is_dropped() {
    if system_config_changes("unknown_signal_name_warns_and_is_dropped") {
        return;
    }
    let env = Env::new("monunknown");
    let home = home(&env);
    env.start_daemon();
    let mut f = spawn(
        &home,
        &[
            "-V",
            "-s",
            &env.sock,
            "--ignore-signal=SIGXXXX",
            "--",
            "sleep",
            "1000",
        ],
    );
    let child = sleep_child(f.pid);
    // not ignored (C monitor.at "do not ignore"): SIGTERM to flom ends
    // the command, and flom exits 143
    f.signal(libc::SIGTERM);
    let out = f.wait(T);
    out.expect_code(143);
    assert_eq!(
        grep(&out, "[Monitor]"),
        ["[Monitor]/IgnoredSignals=''"],
        "{}",
        out.describe()
    );
    let stderr = out.stderr_without_notes();
    assert!(
        stderr.starts_with("flom: ") && stderr.contains("'SIGXXXX'"),
        "{}",
        out.describe()
    );
    assert_eq!(stderr.lines().count(), 1, "{}", out.describe());
    assert!(!pid_alive(child), "the command survived");
    env.assert_free("_RESOURCE");
    // the valid entries of the same list are kept
    let out = flom(
        &home,
        &[
            "-V",
            "--ignore-signal=SIGXXXX",
            "--ignore-signal=sigterm",
            "--ignore-signal=32",
            "--ignore-signal=0",
        ],
    );
    out.expect_code(97);
    assert_eq!(
        grep(&out, "[Monitor]"),
        ["[Monitor]/IgnoredSignals='SIGTERM'"]
    );
    // three warnings, then no command (C's line and our hint)
    assert_eq!(
        out.stderr_without_notes().lines().count(),
        5,
        "{}",
        out.describe()
    );
}

#[test]
fn ignored_signals_from_the_config_files() {
    let env = Env::new("monconf");
    let home = home(&env);
    env.start_daemon();
    let text = "[Monitor]\nIgnoredSignals=SIGQUIT;15\n";
    let custom = write_conf(&env, "custom.conf", text);
    let out = flom(&home, &["-V", "-c", &custom]);
    out.expect_code(97);
    assert_eq!(
        grep(&out, "[Monitor]"),
        ["[Monitor]/IgnoredSignals='SIGQUIT;SIGTERM'"]
    );
    write_user_conf(&home, text);
    let out = flom(&home, &["-V"]);
    out.expect_code(97);
    assert_eq!(
        grep(&out, "[Monitor]"),
        ["[Monitor]/IgnoredSignals='SIGQUIT;SIGTERM'"]
    );
    // the -c list replaces the ~/.flom one; trailing `;` allowed, unknown
    // entries dropped with a warning naming the file and line
    let custom2 = write_conf(
        &env,
        "custom2.conf",
        "[Monitor]\nIgnoredSignals=10;SIGNOPE;SIGHUP;\n",
    );
    let out = flom(&home, &["-V", "-c", &custom2]);
    out.expect_code(97);
    assert_eq!(
        grep(&out, "[Monitor]"),
        ["[Monitor]/IgnoredSignals='SIGHUP;SIGUSR1'"]
    );
    assert!(
        out.stderr.starts_with(&format!("flom: {custom2}:2: ")) && out.stderr.contains("SIGNOPE"),
        "{}",
        out.describe()
    );
    // the ~/.flom list is in effect: flom ignores SIGQUIT and SIGTERM
    // while the command runs, the command ignores neither
    let log = env.path("log");
    let fifo = env.fifo("rel");
    let script =
        format!("grep SigIgn /proc/$$/status > {log}.tmp; mv {log}.tmp {log}; exec cat {fifo}");
    let mut f = spawn(&home, &["-s", &env.sock, "--", "sh", "-c", &script]);
    wait_until(T, "the command's SigIgn line", || !lines(&log).is_empty());
    wait_ignoring(f.pid, &[libc::SIGQUIT, libc::SIGTERM]);
    let child_ign = mask_in(&lines(&log).join("\n"), "SigIgn").expect("SigIgn line");
    assert_eq!(
        child_ign & (bit(libc::SIGQUIT) | bit(libc::SIGTERM)),
        0,
        "the command inherited ignored signals: {child_ign:#x}"
    );
    f.signal(libc::SIGTERM);
    f.signal(libc::SIGQUIT);
    env.assert_busy("_RESOURCE");
    assert!(f.is_running(), "flom died of an ignored signal");
    release(&fifo);
    f.wait(T).expect_code(0).expect_stderr("");
    env.assert_free("_RESOURCE");
}

#[test]
fn the_command_does_not_inherit_ignored_dispositions() {
    let env = Env::new("moninherit");
    let home = home(&env);
    env.start_daemon();
    let sigs = [
        ("SIGHUP", libc::SIGHUP),
        ("SIGINT", libc::SIGINT),
        ("SIGQUIT", libc::SIGQUIT),
        ("SIGUSR1", libc::SIGUSR1),
        ("SIGTERM", libc::SIGTERM),
    ];
    let mut args = vec!["-s".to_string(), env.sock.clone()];
    for (name, _) in sigs {
        args.push(format!("--ignore-signal={name}"));
    }
    args.extend(
        ["--", "sh", "-c", "grep SigIgn /proc/$$/status"]
            .iter()
            .map(|s| s.to_string()),
    );
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = flom(&home, &a);
    out.expect_code(0).expect_stderr("");
    let mask = mask_in(&out.stdout, "SigIgn").expect("a SigIgn line");
    for (name, sig) in sigs.iter().copied().chain([("SIGPIPE", libc::SIGPIPE)]) {
        assert_eq!(
            mask & bit(sig),
            0,
            "the command ignores {name} (SigIgn {mask:#x})"
        );
    }
}

#[test]
fn no_environment_variable_is_added_for_the_command() {
    let env = Env::new("monenv");
    let home = home(&env);
    env.start_daemon();
    for extra in [
        &[][..],
        &["-V", "--ignore-signal=SIGTERM", "-r", "envres"][..],
    ] {
        let mut args = vec!["-s", env.sock.as_str()];
        args.extend_from_slice(extra);
        args.extend(["--", "env"]);
        let out = Spec::new(&home, &args)
            .clean_env(&[("FLOM_TEST_MARK", "x y")])
            .run();
        out.expect_code(0).expect_plain_stderr("");
        let mut got: Vec<String> = out
            .stdout
            .lines()
            .filter(|l| !l.starts_with('['))
            .map(str::to_string)
            .collect();
        got.sort();
        let path = std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".to_string());
        assert_eq!(
            got,
            [
                "FLOM_TEST_MARK=x y".to_string(),
                format!("HOME={home}"),
                format!("PATH={path}"),
            ],
            "{}",
            out.describe()
        );
    }
}
