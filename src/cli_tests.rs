//! Unit tests of `cli` (command line parsing).

use super::*;
use crate::resource::LockMode;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

struct Out {
    result: Result<Invocation, i32>,
    out: String,
    err: String,
}

fn ctx(system: Option<&Path>, user: Option<&Path>) -> Context {
    Context {
        system_config: system.map(Path::to_path_buf),
        user_config: user.map(Path::to_path_buf),
        init_trace: false,
    }
}

fn run_ctx(args: &[&str], ctx: &Context) -> Out {
    let mut argv = vec!["flom".to_string()];
    argv.extend(args.iter().map(|s| s.to_string()));
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let result = parse_with(&argv, ctx, &mut out, &mut err);
    Out {
        result,
        out: String::from_utf8(out).unwrap(),
        err: String::from_utf8(err).unwrap(),
    }
}

fn run(args: &[&str]) -> Out {
    run_ctx(args, &ctx(None, None))
}

/// Runs `args` + `-- true` and returns the configuration.
fn cfg(args: &[&str]) -> Config {
    let mut a = args.to_vec();
    a.extend(["--", "true"]);
    let o = run(&a);
    match o.result {
        Ok(inv) => inv.config,
        Err(s) => panic!("{args:?}: exit {s}, out {:?}, err {:?}", o.out, o.err),
    }
}

/// Runs `-V args -- true` and returns the dump line for `key`.
fn dump_line(args: &[&str], key: &str) -> String {
    let mut a = vec!["-V"];
    a.extend(args);
    a.extend(["--", "true"]);
    let o = run(&a);
    o.out
        .lines()
        .find(|l| l.starts_with(key))
        .unwrap_or_else(|| panic!("{key} not in {:?} (err {:?})", o.out, o.err))
        .to_string()
}

fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "flom-cli-test-{}-{}-{}",
        std::process::id(),
        tag,
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn c_integers() {
    assert_eq!(parse_c_int("100"), Ok(100));
    assert_eq!(parse_c_int("-100"), Ok(-100));
    assert_eq!(parse_c_int("+5"), Ok(5));
    assert_eq!(parse_c_int("0x1f"), Ok(31));
    assert_eq!(parse_c_int("0X1F"), Ok(31));
    assert_eq!(parse_c_int("-0x10"), Ok(-16));
    assert_eq!(parse_c_int("010"), Ok(8));
    assert_eq!(parse_c_int("0"), Ok(0));
    assert_eq!(parse_c_int("  7"), Ok(7));
    assert_eq!(parse_c_int("2147483647"), Ok(i32::MAX));
    assert_eq!(parse_c_int("-2147483648"), Ok(i32::MIN));
    assert_eq!(parse_c_int("2147483648"), Err(IntError::OutOfRange));
    assert_eq!(parse_c_int("0xffffffff"), Err(IntError::OutOfRange));
    assert_eq!(
        parse_c_int("99999999999999999999999"),
        Err(IntError::OutOfRange)
    );
    for bad in [
        "", " ", "-", "abc", "12abc", "08", "0x", "0xg", "7 ", "=100", "1.5",
    ] {
        assert_eq!(parse_c_int(bad), Err(IntError::Invalid), "{bad:?}");
    }
}

#[test]
fn version_exact() {
    let o = run(&["-v"]);
    assert_eq!(o.result, Err(0));
    assert_eq!(
        o.out,
        "FLoM: Free Lock Manager\n\
         Copyright (c) 2013-2024, Christian Ferrari; all rights reserved.\n\
         License: GPL (GNU Public License) version 2\n\
         Package name: flom; package version: 1.7.2; release date: 2024-03-02\n\
         TLS supported protocol(s): All TLS protocols\n\
         Access https://github.com/tiian/flom for project community activities\n\
         Documentation is available at http://www.tiian.org/flom/\n"
    );
    assert_eq!(run(&["--version", "--", "ls"]).out, o.out);
}

#[test]
fn signal_list_and_version_together() {
    let o = run(&["--signal-list"]);
    assert_eq!(o.result, Err(0));
    assert_eq!(o.out, config::signal_list());
    assert!(o.out.ends_with("29) SIGIO\t30) SIGPWR\t31) SIGSYS\t\n"));
    let o = run(&["--signal-list", "-v"]);
    assert_eq!(o.result, Err(0));
    assert_eq!(o.out, version_text() + &config::signal_list());
}

#[test]
fn unique_id_mode() {
    let o = run(&["--unique-id", "--", "ls"]);
    assert_eq!(o.result, Err(0));
    assert_eq!(o.out, format!("{}\n", config::unique_id()));
    // version wins over unique id
    assert_eq!(run(&["--unique-id", "-v"]).out, version_text());
}

#[test]
fn help_lists_every_option() {
    for h in ["-h", "--help", "-?", "--help-all"] {
        let o = run(&[h]);
        assert_eq!(o.result, Err(0), "{h}");
        assert!(o
            .out
            .starts_with("Usage:\n  flom [OPTION?] [-- command to execute]\n"));
        for d in application_options() {
            assert!(o.out.contains(&format!("--{}", d.long)), "{}", d.long);
            if !d.short.is_empty() {
                assert!(o.out.contains(&format!("-{}, --{}", d.short, d.long)));
            }
        }
        assert!(o.err.is_empty());
    }
}

#[test]
fn command_collection() {
    let o = run(&["echo", "a", "-V"]);
    assert_eq!(
        o.result.as_ref().unwrap().action,
        Action::Run(vec!["echo".into(), "a".into()])
    );
    assert!(o.result.unwrap().config.verbose);
    let o = run(&["-r", "x", "--", "ls", "-l", "--", "-V"]);
    let inv = o.result.unwrap();
    assert_eq!(
        inv.action,
        Action::Run(vec!["ls".into(), "-l".into(), "--".into(), "-V".into()])
    );
    assert!(!inv.config.verbose);
    let o = run(&["echo", "hi", "there"]);
    assert_eq!(
        o.result.unwrap().action,
        Action::Run(vec!["echo".into(), "hi".into(), "there".into()])
    );
    let o = run(&["echo", "--", "-x", "-"]);
    assert_eq!(
        o.result.unwrap().action,
        Action::Run(vec!["echo".into(), "-x".into(), "-".into()])
    );
}

#[test]
fn no_command() {
    for args in [&[][..], &["--"][..], &["-r", "abc"][..]] {
        let o = run(args);
        assert_eq!(o.result, Err(97));
        assert_eq!(
            o.err,
            format!("No command to execute!\n{}\n", usage::NO_COMMAND_HINT)
        );
        assert!(o.out.is_empty());
    }
    let o = run(&["-V"]);
    assert_eq!(o.result, Err(97));
    assert_eq!(o.out.lines().count(), 29);
    assert!(o.err.starts_with("flom: no configuration file was read; built-in defaults and the command line apply.\nNo command to execute!\nflom: "));
}

#[test]
fn shutdown_and_debug_feature() {
    for (a, imm) in [
        ("-x", false),
        ("--quiesce-exit", false),
        ("-X", true),
        ("--immediate-exit", true),
    ] {
        let o = run(&[a, "--", "ls"]);
        assert_eq!(
            o.result.unwrap().action,
            Action::Shutdown { immediate: imm },
            "{a}"
        );
    }
    let o = run(&["-x", "-X"]);
    assert_eq!(
        o.result.unwrap().action,
        Action::Shutdown { immediate: true }
    );
    let o = run(&["-Vx"]);
    let inv = o.result.unwrap();
    assert!(inv.config.verbose);
    assert_eq!(inv.action, Action::Shutdown { immediate: false });
    let o = run(&["--debug-feature=TLS.Server", "-x"]);
    assert_eq!(
        o.result.unwrap().action,
        Action::DebugFeature("TLS.Server".into())
    );
    let o = run(&["--debug-feature", "ipv6.multicast.client"]);
    assert_eq!(
        o.result.unwrap().action,
        Action::DebugFeature("ipv6.multicast.client".into())
    );
}

#[test]
fn parse_failures() {
    let cases: [(&[&str], &str); 11] = [
        (&["--bogus"], "Unknown option --bogus"),
        (&["-z", "FOO", "--", "ls"], "Unknown option -z"),
        (
            &["--ZZZ-ZZZ=BAR", "--", "ls"],
            "Unknown option --ZZZ-ZZZ=BAR",
        ),
        (&["-Vz"], "Unknown option -Vz"),
        (
            &["-o", "abc"],
            "Cannot parse integer value \u{201c}abc\u{201d} for -o",
        ),
        (
            &["-o=100"],
            "Cannot parse integer value \u{201c}=100\u{201d} for -o",
        ),
        (
            &["--resource-timeout=1x"],
            "Cannot parse integer value \u{201c}1x\u{201d} for --resource-timeout",
        ),
        (
            &["-q", "4294967296"],
            "Integer value \u{201c}4294967296\u{201d} for -q out of range",
        ),
        (
            &["-Vq", "08"],
            "Cannot parse integer value \u{201c}08\u{201d} for -q",
        ),
        (&["ls", "-o"], "Missing argument for -o"),
        (
            &["--verbose=yes"],
            "Option --verbose does not take an argument",
        ),
    ];
    for (args, msg) in cases {
        let o = run(args);
        assert_eq!(o.result, Err(99), "{args:?}");
        let first = o.err.lines().next().unwrap_or_default();
        assert_eq!(first, format!("option parsing failed: {msg}"), "{args:?}");
        assert_eq!(o.err.lines().count(), 2, "{args:?}: {}", o.err);
        assert!(
            o.err.lines().nth(1).unwrap().starts_with("flom: "),
            "{args:?}"
        );
        assert!(o.out.is_empty());
    }
    // the first bad integer in command-line order is reported
    let o = run(&["-q", "x", "-o", "y"]);
    assert_eq!(
        o.err,
        format!(
            "option parsing failed: Cannot parse integer value \u{201c}x\u{201d} for -q\n{}\n",
            usage::help_hint(None)
        )
    );
    let o = run(&["--discovery-ttl", "z", "-o", "y"]);
    assert!(o.err.contains("for --discovery-ttl\n"));
    // a command given without --: how to write it
    let o = run(&["sh", "-l", "/dev/null"]);
    assert_eq!(o.result, Err(99));
    assert!(
        o.err
            .ends_with("put -- before the command, as in flom [OPTION...] -- sh -l /dev/null.\n"),
        "{}",
        o.err
    );
}

#[test]
fn value_taken_even_if_dash() {
    assert_eq!(cfg(&["-o", "-100"]).resource_timeout, -100);
    assert_eq!(cfg(&["--resource-timeout=-100"]).resource_timeout, -100);
    assert_eq!(cfg(&["--resource-timeout", "-100"]).resource_timeout, -100);
    // attached short values are accepted (C rejects them)
    assert_eq!(cfg(&["-o100"]).resource_timeout, 100);
    let o = run(&["--tls-check-peer-id", "--", "ls"]);
    assert_eq!(o.result, Err(99));
    assert_eq!(o.out, "tls-check-peer-id: '--' is an invalid value\n");
}

#[test]
fn integer_bases_on_options() {
    assert_eq!(cfg(&["-o", "0x1f"]).resource_timeout, 31);
    assert_eq!(cfg(&["-r", "pool[9]", "-q", "010"]).resource_quantity, 8);
    assert_eq!(cfg(&["-d", "0x10"]).daemon_lifespan, 16);
}

#[test]
fn every_option_short_and_long() {
    let dir = temp_dir("opts");
    let d = dir.to_str().unwrap();
    let f = dir.join("foo.pem");
    std::fs::write(&f, "").unwrap();
    let canon = std::fs::canonicalize(&f).unwrap();
    let fp = f.to_str().unwrap();
    let cp = canon.to_str().unwrap();
    type Case<'a> = (&'a str, &'a str, &'a str, String);
    let cases: Vec<Case> = vec![
        (
            "-t",
            "--daemon-trace-file",
            "/tmp/flom_daemon.trc",
            "[Trace]/DaemonTraceFile='/tmp/flom_daemon.trc'".into(),
        ),
        (
            "-T",
            "--command-trace-file",
            "/tmp/flom_command.trc",
            "[Trace]/CommandTraceFile='/tmp/flom_command.trc'".into(),
        ),
        (
            "",
            "--append-trace-file",
            "yes",
            "[Trace]/AppendTraceFile=1".into(),
        ),
        (
            "-r",
            "--resource-name",
            "MYRES",
            "[Resource]/Name='MYRES'".into(),
        ),
        (
            "-o",
            "--resource-timeout",
            "100",
            "[Resource]/Timeout=100".into(),
        ),
        (
            "-q",
            "--resource-quantity",
            "22",
            "[Resource]/Quantity=22".into(),
        ),
        ("-e", "--resource-create", "n", "[Resource]/Create=0".into()),
        (
            "-i",
            "--resource-idle-lifespan",
            "123",
            "[Resource]/IdleLifespan=123".into(),
        ),
        (
            "-l",
            "--lock-mode",
            "ProtectedRead",
            "[Resource]/LockMode=3".into(),
        ),
        (
            "-s",
            "--socket-name",
            "/tmp/foo",
            "[Daemon]/SocketName='/tmp/foo'".into(),
        ),
        (
            "-d",
            "--daemon-lifespan",
            "231",
            "[Daemon]/Lifespan=231".into(),
        ),
        (
            "-a",
            "--unicast-address",
            "localhost",
            "[Daemon]/UnicastAddress='localhost'".into(),
        ),
        (
            "-p",
            "--unicast-port",
            "27750",
            "[Daemon]/UnicastPort=27750".into(),
        ),
        (
            "-A",
            "--multicast-address",
            "239.255.0.1",
            "[Daemon]/MulticastAddress='239.255.0.1'".into(),
        ),
        (
            "-P",
            "--multicast-port",
            "27750",
            "[Daemon]/MulticastPort=27750".into(),
        ),
        (
            "-m",
            "--mount-point-vfs",
            d,
            format!("[Daemon]/MountPointVFS='{d}'"),
        ),
        (
            "",
            "--ignore-signal",
            "SIGTERM",
            "[Monitor]/IgnoredSignals='SIGTERM'".into(),
        ),
        (
            "-D",
            "--discovery-attempts",
            "3",
            "[Network]/DiscoveryAttempts=3".into(),
        ),
        (
            "-I",
            "--discovery-timeout",
            "12345",
            "[Network]/DiscoveryTimeout=12345".into(),
        ),
        (
            "",
            "--discovery-ttl",
            "4",
            "[Network]/DiscoveryTTL=4".into(),
        ),
        (
            "",
            "--tcp-keepalive-time",
            "12345",
            "[Network]/TcpKeepaliveTime=12345".into(),
        ),
        (
            "",
            "--tcp-keepalive-intvl",
            "12345",
            "[Network]/TcpKeepaliveIntvl=12345".into(),
        ),
        (
            "",
            "--tcp-keepalive-probes",
            "12345",
            "[Network]/TcpKeepaliveProbes=12345".into(),
        ),
        (
            "",
            "--tls-certificate",
            fp,
            format!("[TLS]/TlsCertificate='{cp}'"),
        ),
        (
            "",
            "--tls-private-key",
            fp,
            format!("[TLS]/TlsPrivateKey='{cp}'"),
        ),
        (
            "",
            "--tls-ca-certificate",
            fp,
            format!("[TLS]/TlsCaCertificate='{cp}'"),
        ),
    ];
    for (short, long, value, want) in &cases {
        let key = want.split('=').next().unwrap();
        if !short.is_empty() {
            assert_eq!(&dump_line(&[short, value], key), want, "{short}");
        }
        assert_eq!(&dump_line(&[long, value], key), want, "{long}");
        let eq = format!("{long}={value}");
        assert_eq!(&dump_line(&[&eq], key), want, "{eq}");
    }
    // every option with a value in the table is covered
    for d in application_options().filter(|d| d.kind != Kind::Flag) {
        let covered = cases.iter().any(|c| c.1 == format!("--{}", d.long))
            || [
                "config-file",
                "network-interface",
                "tls-check-peer-id",
                "debug-feature",
                // not in the dump: checked below
                "service-lifespan",
            ]
            .contains(&d.long)
            // Our own settings are not in C's dump (see their tests).
            || options::extensions().any(|s| s.long == d.long);
        assert!(covered, "{}", d.long);
    }
    for args in [
        &["--service-lifespan", "250"][..],
        &["--service-lifespan=250"],
    ] {
        let mut a = args.to_vec();
        a.extend(["--", "true"]);
        let inv = run(&a).result.unwrap();
        assert_eq!(inv.config.service_lifespan, 250);
    }
    let inv = run(&["--", "true"]).result.unwrap();
    assert_eq!(inv.config.service_lifespan, -1);
    assert!(!inv.config.strict_fifo && !inv.config.foreground_daemon);
    let inv = run(&["--strict-fifo", "--foreground-daemon"])
        .result
        .unwrap();
    assert!(inv.config.strict_fifo);
    assert_eq!(inv.action, Action::ForegroundDaemon);
    assert_eq!(dump_line(&[], "[Trace]/Verbose"), "[Trace]/Verbose=1");
    let o = run(&["--verbose", "--", "true"]);
    assert!(o.out.contains("[Trace]/Verbose=1\n"));
    // tls-check-peer-id: dump printed, then the check fails
    let o = run(&["-V", "--tls-check-peer-id=yes", "--", "true"]);
    assert_eq!(o.result, Err(99));
    assert!(o.out.contains("[TLS]/TlsCheckPeerId=1\n"));
    assert!(o.out.ends_with(
        "ERROR: TLS check peer id can not be specified without full TLS configuration.\n"
    ));
    assert_eq!(o.err, "flom: no configuration file was read; built-in defaults and the command line apply.\nConfiguration is not valid, cannot go on!\n");
    let o = run(&[
        "--tls-certificate",
        fp,
        "--tls-private-key",
        fp,
        "--tls-ca-certificate",
        fp,
        "--tls-check-peer-id",
        "Y",
        "--",
        "true",
    ]);
    assert!(o.result.unwrap().config.tls_check_peer_id);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn default_dump_from_cli() {
    let o = run(&["-V", "true"]);
    let c = Config {
        verbose: true,
        ..Config::default()
    };
    assert_eq!(o.out, c.verbose_dump());
    assert!(o.out.starts_with("[Trace]/DaemonTraceFile=''\n"));
    // -V says which config files were read (none here)
    assert_eq!(
        o.err,
        "flom: no configuration file was read; built-in defaults and the command line apply.\n"
    );
}

#[test]
fn config_file_option() {
    let dir = temp_dir("cfgopt");
    let f = dir.join("flom.conf");
    std::fs::write(&f, "[Resource]\nTimeout=77\n[Trace]\nVerbose=yes\n").unwrap();
    let fp = f.to_str().unwrap();
    for a in [vec!["-c", fp], vec!["--config-file", fp]] {
        let mut args = a.clone();
        args.extend(["--", "true"]);
        let o = run(&args);
        let inv = o.result.unwrap();
        assert_eq!(inv.config.resource_timeout, 77);
        // Verbose=yes in a file alone prints the dump
        assert!(o.out.contains("[Resource]/Timeout=77\n"));
    }
    let eq = format!("--config-file={fp}");
    assert_eq!(cfg(&[&eq]).resource_timeout, 77);
    // missing -c file
    let missing = dir.join("nope.conf");
    let mp = missing.to_str().unwrap();
    let o = run(&["-c", mp, "--", "true"]);
    assert_eq!(o.result, Err(99));
    assert_eq!(o.out, format!("ERROR: error while loading file '{mp}'\n"));
    assert!(
        o.err.starts_with(&format!("flom: {mp}: cannot read")),
        "{}",
        o.err
    );
    // invalid value
    std::fs::write(&f, "[Resource]\n\nLockMode=onlyex\n").unwrap();
    let o = run(&["-c", fp, "--", "true"]);
    assert_eq!(o.result, Err(99));
    assert_eq!(
        o.out,
        format!("ERROR: invalid configuration found in file '{fp}'\n")
    );
    assert!(o
        .err
        .starts_with(&format!("flom: {fp}:3: [Resource]/LockMode: 'onlyex'")));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn precedence_system_user_custom_cli() {
    let dir = temp_dir("prec");
    let sys = dir.join("flom.conf");
    let user = dir.join("user");
    let custom = dir.join("custom");
    std::fs::write(
        &sys,
        "[Resource]\nTimeout=1\nIdleLifespan=234\n[Daemon]\nLifespan=231\nUnicastPort=1000\n[Network]\nDiscoveryAttempts=9\n",
    )
    .unwrap();
    std::fs::write(&user, "[Resource]\nTimeout=2\n[Daemon]\nUnicastPort=2000\n").unwrap();
    std::fs::write(&custom, "[Resource]\nTimeout=3\n").unwrap();
    let c = ctx(Some(&sys), Some(&user));
    let cp = custom.to_str().unwrap();
    let get = |args: &[&str]| {
        let mut a = args.to_vec();
        a.extend(["--", "true"]);
        run_ctx(&a, &c).result.unwrap().config
    };
    let conf = get(&[]);
    assert_eq!(
        (
            conf.resource_timeout,
            conf.unicast_port,
            conf.daemon_lifespan
        ),
        (2, 2000, 231)
    );
    assert_eq!(get(&["-c", cp]).resource_timeout, 3);
    assert_eq!(get(&["-c", cp, "-o", "4"]).resource_timeout, 4);
    // the command line wins even with the built-in default value
    assert_eq!(get(&["-c", cp, "-o", "-1"]).resource_timeout, -1);
    assert_eq!(get(&["-d", "5000"]).daemon_lifespan, 5000);
    assert_eq!(get(&["-i", "0"]).resource_idle_lifespan, 0);
    assert_eq!(get(&["-p", "28015"]).unicast_port, 28015);
    assert_eq!(get(&["-D", "2"]).discovery_attempts, 2);
    assert_eq!(get(&[]).discovery_attempts, 9);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn verbose_only_turns_on() {
    let dir = temp_dir("verbose");
    let user = dir.join("user");
    std::fs::write(&user, "[Trace]\nVerbose=y\n").unwrap();
    let o = run_ctx(&["--", "true"], &ctx(None, Some(&user)));
    assert!(o.result.unwrap().config.verbose);
    assert_eq!(o.out.lines().count(), 29);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn normalisations() {
    let o = run(&["-q", "-3", "--", "true"]);
    assert_eq!(o.result.unwrap().config.resource_quantity, 1);
    assert_eq!(
        o.err,
        "Resource quantity ignored because negative values (-3) are meaningless\n"
    );
    assert_eq!(cfg(&["-q", "0"]).resource_quantity, 1);
    assert_eq!(cfg(&["-i", "-5"]).resource_idle_lifespan, 5);
    assert_eq!(cfg(&["-p", "-27750"]).unicast_port, 27750);
    assert_eq!(cfg(&["-P", "-27751"]).multicast_port, 27751);
    assert_eq!(cfg(&["-D", "0"]).discovery_attempts, 1);
    assert_eq!(cfg(&["-D", "-3"]).discovery_attempts, 3);
    assert_eq!(cfg(&["-I", "-7"]).discovery_timeout, 7);
    assert_eq!(cfg(&["--discovery-ttl", "0"]).discovery_ttl, 1);
    assert_eq!(cfg(&["--discovery-ttl", "-2"]).discovery_ttl, 2);
    assert_eq!(cfg(&["--tcp-keepalive-time", "-1"]).tcp_keepalive_time, 1);
    assert_eq!(cfg(&["--tcp-keepalive-intvl", "-2"]).tcp_keepalive_intvl, 2);
    assert_eq!(
        cfg(&["--tcp-keepalive-probes", "-3"]).tcp_keepalive_probes,
        3
    );
    assert_eq!(cfg(&["-d", "-1"]).daemon_lifespan, -1);
    assert_eq!(cfg(&["-r", "a", "-r", "b"]).resource_name, "b");
    assert_eq!(cfg(&["-s", ""]).socket_name, None);
}

#[test]
fn resource_name_errors() {
    let o = run(&["-r", "a-b", "--", "true"]);
    assert_eq!(o.result, Err(99));
    assert_eq!(o.out, "ERROR: 'a-b' is not a valid name for a resource\n");
    assert!(
        o.err.starts_with("flom: option -r/--resource-name: '"),
        "{}",
        o.err
    );
    let o = run(&["--resource-name=_RESOURCE", "--", "true"]);
    assert_eq!(o.result, Err(99));
    assert_eq!(
        o.out,
        "ERROR: '_RESOURCE' is a reserved resource name and can not be set by user\n"
    );
    assert!(
        o.err.starts_with("flom: option -r/--resource-name: '"),
        "{}",
        o.err
    );
}

#[test]
fn strict_values() {
    assert_eq!(cfg(&["-l", "pr"]).lock_mode, LockMode::ProtectedRead);
    assert_eq!(cfg(&["-l", "EXCLUSIVE"]).lock_mode, LockMode::Exclusive);
    assert_eq!(cfg(&["-l", "nl"]).lock_mode, LockMode::NullLock);
    let o = run(&["-l", "onlyex", "--", "true"]);
    assert_eq!(o.result, Err(99));
    assert!(o.out.is_empty());
    assert!(o
        .err
        .starts_with("lock-mode: 'onlyex' is an invalid value\nflom: "));

    assert!(!cfg(&["-e", "NO"]).resource_create);
    assert!(cfg(&["-e", "Y"]).resource_create);
    let o = run(&["-e", "maybe", "--", "true"]);
    assert_eq!(o.result, Err(99));
    assert_eq!(o.out, "resource-create: 'maybe' is an invalid value\n");
    assert!(o.err.starts_with("flom: "));

    assert!(cfg(&["--append-trace-file", "YES"]).append_trace_file);
    let o = run(&["--append-trace-file=1", "--", "true"]);
    assert_eq!(o.result, Err(99));
    assert!(o.out.is_empty());
    assert!(o
        .err
        .starts_with("append-trace-file: '1' is an invalid value\nflom: "));

    let o = run(&["--tls-check-peer-id=annoy", "--", "true"]);
    assert_eq!(o.result, Err(99));
    assert_eq!(o.out, "tls-check-peer-id: 'annoy' is an invalid value\n");
}

#[test]
fn path_validations() {
    let long = format!("/tmp/{}", "s".repeat(103));
    let o = run(&["-s", &long, "--", "true"]);
    assert_eq!(o.result, Err(99));
    assert!(o.err.starts_with(&format!(
        "socket-name: '{long}' is an invalid value\nflom: "
    )));
    assert!(o.err.contains("shorter than 108 bytes"));
    assert_eq!(
        cfg(&["-s", &long[..107]]).socket_name.as_deref(),
        Some(&long[..107])
    );

    let o = run(&["-m", "/nonexistent/flom-vfs", "--", "true"]);
    assert_eq!(o.result, Err(99));
    assert!(o
        .err
        .starts_with("mount-point-vfs: '/nonexistent/flom-vfs' is an invalid value\nflom: "));

    let o = run(&["--tls-private-key", "/nonexistent/k.pem", "--", "true"]);
    assert_eq!(o.result, Err(99));
    assert!(o
        .err
        .starts_with("tls-private-key: '/nonexistent/k.pem' is not a valid value\nflom: "));
}

#[test]
fn network_interface_without_ipv6_is_ignored() {
    let o = run(&["-n", "nosuchif0", "--", "true"]);
    assert_eq!(o.result.unwrap().config.network_interface, None);
    assert!(o.err.contains("'nosuchif0' has no IPv6 address"));
    if config::interface_has_ipv6("lo") {
        assert_eq!(
            cfg(&["--network-interface", "lo"])
                .network_interface
                .as_deref(),
            Some("lo")
        );
    }
}

#[test]
fn ignore_signals() {
    assert_eq!(
        cfg(&["--ignore-signal=SIGQUIT", "--ignore-signal=SIGTERM"]).ignored_signals,
        vec![3, 15]
    );
    assert_eq!(
        dump_line(
            &["--ignore-signal", "15", "--ignore-signal", "3"],
            "[Monitor]"
        ),
        "[Monitor]/IgnoredSignals='SIGQUIT;SIGTERM'"
    );
    assert_eq!(cfg(&["--ignore-signal", "sigint"]).ignored_signals, vec![2]);
    let o = run(&[
        "--ignore-signal",
        "SIGFOO",
        "--ignore-signal",
        "1",
        "--",
        "true",
    ]);
    assert_eq!(o.result.unwrap().config.ignored_signals, vec![1]);
    assert!(o.err.contains("'SIGFOO' is not a signal name"));
    // the command-line list replaces the config list
    let dir = temp_dir("sig");
    let user = dir.join("user");
    std::fs::write(&user, "[Monitor]\nIgnoredSignals=SIGHUP;SIGINT\n").unwrap();
    let c = ctx(None, Some(&user));
    let o = run_ctx(&["--ignore-signal", "SIGTERM", "--", "true"], &c);
    assert_eq!(o.result.unwrap().config.ignored_signals, vec![15]);
    let o = run_ctx(&["--", "true"], &c);
    assert_eq!(o.result.unwrap().config.ignored_signals, vec![1, 2]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn conflict_check() {
    let o = run(&["-s", "/tmp/x", "-a", "localhost", "--", "true"]);
    assert_eq!(o.result, Err(99));
    assert_eq!(
        o.out,
        "ERROR: flom can not be configured for local (UNIX socket) and network (TCP-UDP/IP) communication at the same time.\n"
    );
    assert_eq!(o.err, "Configuration is not valid, cannot go on!\n");
    // socket name from a config file, -A from the command line
    let dir = temp_dir("conflict");
    let user = dir.join("user");
    std::fs::write(&user, "[Daemon]\nSocketName=/tmp/flom-x\n").unwrap();
    let o = run_ctx(
        &["-A", "239.255.0.1", "--", "true"],
        &ctx(None, Some(&user)),
    );
    assert_eq!(o.result, Err(99));
    // checked before -x and before the "no command" test
    let o = run_ctx(&["-A", "239.255.0.1", "-x"], &ctx(None, Some(&user)));
    assert_eq!(o.result, Err(99));
    let o = run_ctx(&["-V", "-A", "239.255.0.1"], &ctx(None, Some(&user)));
    assert_eq!(o.result, Err(99));
    assert!(o.out.contains("[Daemon]/SocketName='/tmp/flom-x'\n"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn resource_type_adjustment_after_dump() {
    let o = run(&["-V", "-r", "red.green", "-l", "PR", "-q", "3", "--", "true"]);
    assert!(o.out.contains("[Resource]/LockMode=3\n"));
    assert!(o.out.contains("[Resource]/Quantity=3\n"));
    let inv = o.result.unwrap();
    assert_eq!(inv.config.lock_mode, LockMode::Exclusive);
    assert_eq!(inv.config.resource_quantity, 1);
    assert_eq!(o.err.lines().count(), 3);
    // not verbose: silent adjustment
    let o = run(&["-r", "foo[3]", "-l", "CR", "-q", "2", "--", "true"]);
    let inv = o.result.unwrap();
    assert_eq!(
        (inv.config.lock_mode, inv.config.resource_quantity),
        (LockMode::Exclusive, 2)
    );
    assert!(o.err.is_empty());
}

#[test]
fn command_line_and_files_share_each_sentence() {
    let dir = temp_dir("same");
    let conf = dir.join("f.conf");
    let cp = conf.to_str().unwrap();
    let long_socket = format!("/tmp/{}", "s".repeat(110));
    let cases: [(&str, &str); 9] = [
        ("lock-mode", "onlyex"),
        ("resource-create", "maybe"),
        ("append-trace-file", "1"),
        ("tls-check-peer-id", "annoy"),
        ("socket-name", &long_socket),
        ("mount-point-vfs", "/nonexistent/flom-d"),
        ("tls-certificate", "/nonexistent/c.pem"),
        ("network-interface", "nosuchif0"),
        ("ignore-signal", "FOO"),
    ];
    let sentence = |o: &Out| {
        o.err
            .lines()
            .find(|l| l.starts_with("flom: "))
            .unwrap_or_else(|| panic!("no sentence in {:?}", o.err))
            .to_string()
    };
    for (long, value) in cases {
        let setting = options::by_long(long).unwrap();
        let eq = format!("--{long}={value}");
        let from_cli = sentence(&run(&[&eq, "--", "true"]));
        std::fs::write(
            &conf,
            format!("[{}]\n{}={value}\n", setting.group, setting.key),
        )
        .unwrap();
        let from_file = sentence(&run(&["-c", cp, "--", "true"]));
        let cli_place = format!("flom: option {}: ", setting.option_names());
        let file_place = format!("flom: {cp}:2: [{}]/{}: ", setting.group, setting.key);
        assert_eq!(
            from_cli.strip_prefix(&cli_place),
            from_file.strip_prefix(&file_place),
            "{from_cli:?} / {from_file:?}"
        );
        // the sentence names the value (the socket one says its length)
        assert!(
            from_cli.contains(value) || long == "socket-name",
            "{from_cli}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn event_tokens_and_typed_names() {
    let args: Vec<String> = [
        "-Vo",
        "x",
        "ls",
        "--lock-mode",
        "EX",
        "--resource-timeout=4",
        "-o5",
        "--",
        "-q",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(
        event_tokens(&args),
        vec!["-Vo", "ls", "--lock-mode", "--resource-timeout=4", "-o5"]
    );
    let d = &find_long("resource-timeout").unwrap();
    assert_eq!(typed_name(d, Some("-Vo")), "-o");
    assert_eq!(
        typed_name(d, Some("--resource-timeout=4")),
        "--resource-timeout"
    );
    assert_eq!(typed_name(d, None), "--resource-timeout");
    let o = run(&["ls", "-Vo", "x"]);
    assert_eq!(
        o.err,
        "option parsing failed: Cannot parse integer value \u{201c}x\u{201d} for -o\nflom: the options after 'ls' were read as flom's own: to run 'ls -Vo x' under the lock, put -- before the command, as in flom [OPTION...] -- ls -Vo x.\n"
    );
}
