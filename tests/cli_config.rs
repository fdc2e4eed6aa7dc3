//! The command line and the configuration files, run through the real
//! binary: every option of spec/cli.md §2 in its short, long and `--opt=value`
//! forms, the same setting from a `-c` file and from `~/.flom`, the 29-line
//! `--verbose` dump, precedence, config-file errors, integer and value
//! parsing, the informational modes, and the incompatible-option cases of
//! the C suite (spec/tests.md §1, §3).
//!
//! Every flom run gets HOME pointed at the test's own directory, so
//! `~/.flom` is the test's file; every run that may connect names the
//! test's own socket with `-s`.

mod common;

use common::cli::*;
use common::{exists, machine_id, skip, unknown_option_hint, Env, Out, HELP_HINT, NO_COMMAND};
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

/// The hint after the C line of a parse failure.
fn hint_for(msg: &str) -> String {
    match msg.strip_prefix("Unknown option ") {
        Some(option) => unknown_option_hint(option),
        None => HELP_HINT.to_string(),
    }
}

const CONFLICT: &str = "ERROR: flom can not be configured for local (UNIX socket) and network (TCP-UDP/IP) communication at the same time.\n";
const NOT_VALID: &str = "Configuration is not valid, cannot go on!\n";
/// How a TLS file that is not PEM is reported (before any daemon starts).
const TLS_NOT_PEM: &str = "does not hold a PEM certificate";

// ------------------------------------------------------- option table

/// One setting checked three ways: command line (every form), `-c FILE`
/// and `~/.flom`.
struct Case {
    /// The command-line forms (each a list of arguments).
    cli: Vec<Vec<String>>,
    /// Group, key and value of the equivalent config-file line.
    file: (&'static str, &'static str, String),
    /// What `grep` looks for in the dump.
    grep: String,
    /// The lines `| grep KEY` must print.
    want: Vec<String>,
    /// Arguments added to every variant (after the base ones).
    extra: Vec<String>,
    /// Expected exit status of every variant.
    code: i32,
    /// The base invocation adds `-s SOCK` (not for the socket-name case).
    socket: bool,
    /// The base invocation adds `-V` (not for the verbose case).
    verbose: bool,
}

fn s(v: &str) -> String {
    v.to_string()
}

/// `-X V`, `--long V`, `--long=V` (short form left out when there is none).
fn forms(short: &str, long: &str, value: &str) -> Vec<Vec<String>> {
    let mut v = Vec::new();
    if !short.is_empty() {
        v.push(vec![format!("-{short}"), s(value)]);
    }
    v.push(vec![format!("--{long}"), s(value)]);
    v.push(vec![format!("--{long}={value}")]);
    v
}

fn case(
    short: &str,
    long: &str,
    value: &str,
    file: (&'static str, &'static str, &str),
    want: &str,
) -> Case {
    let grep = want[..want.find('=').unwrap()].to_string();
    Case {
        cli: forms(short, long, value),
        file: (file.0, file.1, s(file.2)),
        grep,
        want: vec![s(want)],
        extra: Vec::new(),
        code: 0,
        socket: true,
        verbose: true,
    }
}

impl Case {
    fn code(mut self, code: i32) -> Case {
        self.code = code;
        self
    }
    fn extra(mut self, extra: &[&str]) -> Case {
        self.extra = extra.iter().map(|a| s(a)).collect();
        self
    }
}

/// A config file with every group header (like the installed sample) and
/// one key set.
fn conf_text(group: &str, key: &str, value: &str) -> String {
    let mut t = String::from("# written by the test\n");
    for g in ["Trace", "Resource", "Daemon", "Monitor", "Network", "TLS"] {
        t.push_str(&format!("[{g}]\n"));
        if g == group {
            t.push_str(&format!("{key}={value}\n"));
        }
    }
    t
}

/// Runs every variant of `c` and checks the grep lines and the status.
fn check_case(env: &Env, idx: usize, c: &Case) {
    let home = home(env);
    let mut base: Vec<String> = Vec::new();
    if c.verbose {
        base.push(s("-V"));
    }
    if c.socket {
        base.extend([s("-s"), env.sock.clone()]);
    }
    base.extend(c.extra.iter().cloned());
    let run = |home: &str, middle: &[String], what: &str| {
        let mut args: Vec<&str> = base.iter().map(String::as_str).collect();
        args.extend(middle.iter().map(String::as_str));
        args.extend(["--", "true"]);
        let out = flom(home, &args);
        assert_eq!(
            grep(&out, &c.grep),
            c.want,
            "{what}: `| grep {}` of {}",
            c.grep,
            out.describe()
        );
        out.expect_code(c.code);
        out
    };
    for form in &c.cli {
        run(&home, form, "command line");
    }
    let text = conf_text(c.file.0, c.file.1, &c.file.2);
    // -c FILE
    let f = write_conf(env, &format!("case{idx}.conf"), &text);
    run(&home, &[s("-c"), f], "-c file");
    // ~/.flom
    let h2 = env.path(&format!("home{idx}"));
    std::fs::create_dir_all(&h2).unwrap();
    write_user_conf(&h2, &text);
    run(&h2, &[], "~/.flom");
}

fn check_cases(env: &Env, cases: &[Case]) {
    for (i, c) in cases.iter().enumerate() {
        check_case(env, i, c);
    }
}

#[test]
fn cmdopt_trace_options() {
    let env = Env::new("cmdtrace");
    env.start_daemon();
    let dtrc = env.path("flom_daemon.trc");
    let ctrc = env.path("flom_command.trc");
    let mut verbose = case(
        "V",
        "verbose",
        "",
        ("Trace", "Verbose", "yes"),
        "[Trace]/Verbose=1",
    );
    verbose.cli = vec![vec![s("-V")], vec![s("--verbose")]];
    verbose.verbose = false;
    let cases = vec![
        case(
            "t",
            "daemon-trace-file",
            &dtrc,
            ("Trace", "DaemonTraceFile", &dtrc),
            &format!("[Trace]/DaemonTraceFile='{dtrc}'"),
        ),
        case(
            "T",
            "command-trace-file",
            &ctrc,
            ("Trace", "CommandTraceFile", &ctrc),
            &format!("[Trace]/CommandTraceFile='{ctrc}'"),
        ),
        case(
            "",
            "append-trace-file",
            "yes",
            ("Trace", "AppendTraceFile", "yes"),
            "[Trace]/AppendTraceFile=1",
        ),
        verbose,
    ];
    check_cases(&env, &cases);
}

#[test]
fn cmdopt_resource_options() {
    let env = Env::new("cmdres");
    env.start_daemon();
    let mut mode_long = case(
        "",
        "lock-mode",
        "ProtectedRead",
        ("Resource", "LockMode", "ProtectedRead"),
        "[Resource]/LockMode=3",
    );
    mode_long.cli.remove(0);
    let cases = vec![
        case(
            "r",
            "resource-name",
            "MYRES",
            ("Resource", "Name", "MYRES"),
            "[Resource]/Name='MYRES'",
        ),
        case(
            "o",
            "resource-timeout",
            "100",
            ("Resource", "Timeout", "100"),
            "[Resource]/Timeout=100",
        ),
        case(
            "o",
            "resource-timeout",
            "-100",
            ("Resource", "Timeout", "-100"),
            "[Resource]/Timeout=-100",
        ),
        // the dump precedes the resource-type adjustment: 22 shows for a
        // simple resource
        case(
            "q",
            "resource-quantity",
            "22",
            ("Resource", "Quantity", "22"),
            "[Resource]/Quantity=22",
        ),
        case(
            "e",
            "resource-create",
            "yes",
            ("Resource", "Create", "yes"),
            "[Resource]/Create=1",
        )
        .extra(&["-r", "createyes", "-o", "0"]),
        case(
            "e",
            "resource-create",
            "y",
            ("Resource", "Create", "y"),
            "[Resource]/Create=1",
        )
        .extra(&["-r", "createy", "-o", "0"]),
        // a missing resource, create=no, no wait: rc 5, exit 96
        case(
            "e",
            "resource-create",
            "no",
            ("Resource", "Create", "no"),
            "[Resource]/Create=0",
        )
        .extra(&["-r", "createno", "-o", "0"])
        .code(96),
        case(
            "e",
            "resource-create",
            "n",
            ("Resource", "Create", "n"),
            "[Resource]/Create=0",
        )
        .extra(&["-r", "createn", "-o", "0"])
        .code(96),
        case(
            "i",
            "resource-idle-lifespan",
            "123",
            ("Resource", "IdleLifespan", "123"),
            "[Resource]/IdleLifespan=123",
        )
        .extra(&["-r", "idle"]),
        case(
            "l",
            "lock-mode",
            "PR",
            ("Resource", "LockMode", "PR"),
            "[Resource]/LockMode=3",
        ),
        mode_long,
    ];
    check_cases(&env, &cases);
}

#[test]
fn cmdopt_daemon_options() {
    if system_config_changes("cmdopt_daemon_options") {
        return;
    }
    let env = Env::new("cmddaemon");
    env.start_daemon();
    let vfs = env.path("vfs");
    std::fs::create_dir(&vfs).unwrap();
    let mut sock = case(
        "s",
        "socket-name",
        &env.sock,
        ("Daemon", "SocketName", &env.sock),
        &format!("[Daemon]/SocketName='{}'", env.sock),
    );
    sock.socket = false;
    let mut lifespan = case(
        "d",
        "daemon-lifespan",
        "231",
        ("Daemon", "Lifespan", "231"),
        "[Daemon]/Lifespan=231",
    );
    // `grep Lifespan` matches both lines, in dump order
    lifespan.grep = s("Lifespan");
    lifespan.want = vec![s("[Resource]/IdleLifespan=0"), s("[Daemon]/Lifespan=231")];
    let cases = vec![
        sock,
        lifespan,
        // with -s too: the dump, then the conflict (exit 99)
        case(
            "a",
            "unicast-address",
            "127.0.0.1",
            ("Daemon", "UnicastAddress", "127.0.0.1"),
            "[Daemon]/UnicastAddress='127.0.0.1'",
        )
        .code(99),
        case(
            "p",
            "unicast-port",
            "27750",
            ("Daemon", "UnicastPort", "27750"),
            "[Daemon]/UnicastPort=27750",
        ),
        case(
            "A",
            "multicast-address",
            "239.255.0.1",
            ("Daemon", "MulticastAddress", "239.255.0.1"),
            "[Daemon]/MulticastAddress='239.255.0.1'",
        )
        .code(99),
        case(
            "P",
            "multicast-port",
            "27750",
            ("Daemon", "MulticastPort", "27750"),
            "[Daemon]/MulticastPort=27750",
        ),
        // the daemon already runs: the mount point only matters to one
        // that is started
        case(
            "m",
            "mount-point-vfs",
            &vfs,
            ("Daemon", "MountPointVFS", &vfs),
            &format!("[Daemon]/MountPointVFS='{vfs}'"),
        ),
    ];
    check_cases(&env, &cases);
    // -m never mounted anything there
    std::fs::remove_dir(&vfs).expect("rmdir of the mount point");
}

fn lo_has_ipv6() -> bool {
    std::fs::read_to_string("/proc/net/if_inet6")
        .map(|t| t.lines().any(|l| l.split_whitespace().last() == Some("lo")))
        .unwrap_or(false)
}

#[test]
fn cmdopt_monitor_and_network_options() {
    let env = Env::new("cmdnet");
    env.start_daemon();
    let mut signals = case(
        "",
        "ignore-signal",
        "",
        ("Monitor", "IgnoredSignals", "SIGQUIT;SIGTERM"),
        "[Monitor]/IgnoredSignals='SIGQUIT;SIGTERM'",
    );
    signals.cli = vec![
        vec![
            s("--ignore-signal"),
            s("SIGQUIT"),
            s("--ignore-signal"),
            s("SIGTERM"),
        ],
        vec![s("--ignore-signal=SIGQUIT"), s("--ignore-signal=SIGTERM")],
        // by number, in any order: shown by name, ascending
        vec![s("--ignore-signal=15"), s("--ignore-signal=3")],
    ];
    let mut cases = vec![
        signals,
        case(
            "D",
            "discovery-attempts",
            "3",
            ("Network", "DiscoveryAttempts", "3"),
            "[Network]/DiscoveryAttempts=3",
        ),
        case(
            "I",
            "discovery-timeout",
            "12345",
            ("Network", "DiscoveryTimeout", "12345"),
            "[Network]/DiscoveryTimeout=12345",
        ),
        case(
            "",
            "discovery-ttl",
            "4",
            ("Network", "DiscoveryTTL", "4"),
            "[Network]/DiscoveryTTL=4",
        ),
        case(
            "",
            "tcp-keepalive-time",
            "12345",
            ("Network", "TcpKeepaliveTime", "12345"),
            "[Network]/TcpKeepaliveTime=12345",
        ),
        case(
            "",
            "tcp-keepalive-intvl",
            "12345",
            ("Network", "TcpKeepaliveIntvl", "12345"),
            "[Network]/TcpKeepaliveIntvl=12345",
        ),
        case(
            "",
            "tcp-keepalive-probes",
            "12345",
            ("Network", "TcpKeepaliveProbes", "12345"),
            "[Network]/TcpKeepaliveProbes=12345",
        ),
    ];
    if lo_has_ipv6() {
        cases.push(case(
            "n",
            "network-interface",
            "lo",
            ("Network", "NetworkInterface", "lo"),
            "[Network]/NetworkInterface='lo'",
        ));
    } else {
        skip(
            "cmdopt_monitor_and_network_options (-n lo)",
            "lo has no IPv6 address",
        );
    }
    check_cases(&env, &cases);
}

#[test]
fn cmdopt_tls_options() {
    // TLS files are only canonicalised at this stage; the dump shows them.
    // One file alone does not turn TLS on: the command runs (exit 0).
    let env = Env::new("cmdtls");
    env.start_daemon();
    let pem = env.path("foo.pem");
    std::fs::write(&pem, "").unwrap();
    let canon = std::fs::canonicalize(&pem)
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let cases = vec![
        case(
            "",
            "tls-certificate",
            &pem,
            ("TLS", "TlsCertificate", &pem),
            &format!("[TLS]/TlsCertificate='{canon}'"),
        ),
        case(
            "",
            "tls-private-key",
            &pem,
            ("TLS", "TlsPrivateKey", &pem),
            &format!("[TLS]/TlsPrivateKey='{canon}'"),
        ),
        case(
            "",
            "tls-ca-certificate",
            &pem,
            ("TLS", "TlsCaCertificate", &pem),
            &format!("[TLS]/TlsCaCertificate='{canon}'"),
        ),
        // printed, then the config check fails: the dump precedes validation
        case(
            "",
            "tls-check-peer-id",
            "yes",
            ("TLS", "TlsCheckPeerId", "yes"),
            "[TLS]/TlsCheckPeerId=1",
        )
        .code(99),
    ];
    check_cases(&env, &cases);
}

#[test]
fn tls_options_are_shown_then_bad_files_refused() {
    if system_config_changes("tls_options_are_shown_then_bad_files_refused") {
        return;
    }
    let env = Env::new("tlsrefused");
    let home = home(&env);
    let pem = env.path("peer.pem");
    std::fs::write(&pem, "").unwrap();
    let canon = std::fs::canonicalize(&pem)
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let out = flom(
        &home,
        &[
            "-V",
            "-s",
            &env.sock,
            "--tls-certificate",
            &pem,
            "--tls-private-key",
            &pem,
            "--tls-ca-certificate",
            &pem,
            "--tls-check-peer-id=yes",
            "--",
            "true",
        ],
    );
    out.expect_code(99);
    assert_eq!(
        out.stdout,
        default_dump_with(&[
            &format!("[Daemon]/SocketName='{}'", env.sock),
            &format!("[TLS]/TlsCertificate='{canon}'"),
            &format!("[TLS]/TlsPrivateKey='{canon}'"),
            &format!("[TLS]/TlsCaCertificate='{canon}'"),
            "[TLS]/TlsCheckPeerId=1",
        ]),
        "{}",
        out.describe()
    );
    assert!(
        out.stderr_without_notes().starts_with("flom: '")
            && out.stderr.contains(TLS_NOT_PEM)
            && out.stderr_without_notes().lines().count() == 1,
        "{}",
        out.describe()
    );
    assert!(!exists(&env.sock), "a daemon was started for a TLS request");
    // the same from ~/.flom
    write_user_conf(
        &home,
        &format!("[TLS]\nTlsCertificate={pem}\nTlsPrivateKey={pem}\nTlsCaCertificate={pem}\n"),
    );
    let out = flom(&home, &["-s", &env.sock, "--", "true"]);
    out.expect_code(99).expect_stdout("");
    assert!(out.stderr.contains(TLS_NOT_PEM), "{}", out.describe());
    assert!(!exists(&env.sock));
    // a missing TLS file: the C message, exit 99
    let out = flom(
        &std::env::temp_dir().to_string_lossy(),
        &["--tls-certificate", "/nonexistent/peer.pem", "--", "true"],
    );
    out.expect_code(99).expect_stdout("");
    assert!(
        out.stderr
            .starts_with("tls-certificate: '/nonexistent/peer.pem' is not a valid value\n"),
        "{}",
        out.describe()
    );
}

// ------------------------------------------------------ the full dump

#[test]
fn full_default_dump_byte_for_byte() {
    if system_config_changes("full_default_dump_byte_for_byte") {
        return;
    }
    let env = Env::new("fulldump");
    let home = home(&env);
    for v in ["-V", "--verbose"] {
        flom(&home, &[v])
            .expect_code(97)
            .expect_stdout(DEFAULT_DUMP)
            .expect_plain_stderr(NO_COMMAND);
    }
    // with a command: the same 29 lines, the socket as given, nothing else
    let out = flom(&home, &["-V", "-s", &env.sock, "--", "true"]);
    out.expect_code(0)
        .expect_stdout(&default_dump_with(&[&format!(
            "[Daemon]/SocketName='{}'",
            env.sock
        )]))
        .expect_plain_stderr("");
    assert_eq!(out.stdout.lines().count(), 29);
    // Verbose=yes in ~/.flom alone prints the dump
    write_user_conf(&home, "[Trace]\nVerbose=yes\n");
    flom(&home, &[])
        .expect_code(97)
        .expect_stdout(DEFAULT_DUMP)
        .expect_plain_stderr(NO_COMMAND);
    // the installed sample changes nothing, with every form of -c
    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/etc/flom.conf");
    let eq = format!("--config-file={sample}");
    for c in [
        vec!["-c", sample],
        vec!["--config-file", sample],
        vec![eq.as_str()],
    ] {
        let mut args = vec!["-V"];
        args.extend(c);
        let empty_home = env.path("emptyhome");
        std::fs::create_dir_all(&empty_home).unwrap();
        flom(&empty_home, &args)
            .expect_code(97)
            .expect_stdout(DEFAULT_DUMP)
            .expect_plain_stderr(NO_COMMAND);
    }
}

#[test]
fn empty_user_file_and_single_group_files_are_fine() {
    if system_config_changes("empty_user_file_and_single_group_files_are_fine") {
        return;
    }
    let env = Env::new("emptyconf");
    let home = home(&env);
    write_user_conf(&home, "");
    flom(&home, &["-V"])
        .expect_code(97)
        .expect_stdout(DEFAULT_DUMP);
    write_user_conf(&home, "[Resource]\n");
    flom(&home, &["-V"])
        .expect_code(97)
        .expect_stdout(DEFAULT_DUMP);
    let empty = write_conf(&env, "empty.conf", "");
    let only = write_conf(&env, "only.conf", "[Resource]\n");
    for f in [&empty, &only] {
        flom(&home, &["-V", "-c", f])
            .expect_code(97)
            .expect_stdout(DEFAULT_DUMP);
    }
    // and a real run with an empty ~/.flom
    write_user_conf(&home, "");
    flom(&home, &["-s", &env.sock, "--", "true"])
        .expect_code(0)
        .expect_stdout("")
        .expect_stderr("");
}

// -------------------------------------------------------- precedence

/// The dump line of `key` for `flom -V ARGS` (no command: nothing runs).
#[track_caller]
fn line(home: &str, args: &[&str], key: &str) -> String {
    let mut a = vec!["-V"];
    a.extend_from_slice(args);
    let out = flom(home, &a);
    out.expect_code(97);
    let g = grep(&out, key);
    assert_eq!(g.len(), 1, "{key} in {}", out.describe());
    g[0].clone()
}

#[test]
fn precedence_user_file_then_custom_file_then_command_line() {
    let env = Env::new("precedence");
    let home = home(&env);
    write_user_conf(
        &home,
        "[Resource]\nTimeout=2\nName=fromuser\n[Daemon]\nLifespan=231\n",
    );
    let custom = write_conf(&env, "custom.conf", "[Resource]\nTimeout=3\n");
    assert_eq!(
        line(&home, &[], "[Resource]/Timeout"),
        "[Resource]/Timeout=2"
    );
    assert_eq!(
        line(&home, &["-c", &custom], "[Resource]/Timeout"),
        "[Resource]/Timeout=3"
    );
    // key by key: the custom file leaves the user file's other keys
    assert_eq!(
        line(&home, &["-c", &custom], "[Resource]/Name"),
        "[Resource]/Name='fromuser'"
    );
    assert_eq!(
        line(&home, &["-c", &custom], "[Daemon]/Lifespan"),
        "[Daemon]/Lifespan=231"
    );
    assert_eq!(
        line(&home, &["-c", &custom, "-o", "4"], "[Resource]/Timeout"),
        "[Resource]/Timeout=4"
    );
    // the command line wins wherever it appears
    assert_eq!(
        line(&home, &["-o", "4", "-c", &custom], "[Resource]/Timeout"),
        "[Resource]/Timeout=4"
    );
    assert_eq!(
        line(&home, &["-r", "fromcli"], "[Resource]/Name"),
        "[Resource]/Name='fromcli'"
    );
    // repeated options: the last one wins
    assert_eq!(
        line(&home, &["-r", "a", "-r", "b"], "[Resource]/Name"),
        "[Resource]/Name='b'"
    );
    // a real run honours the files too: Lifespan and Name reach the lock
    write_user_conf(
        &home,
        &format!(
            "[Resource]\nName=fromuser\n[Daemon]\nSocketName={}\n",
            env.sock
        ),
    );
    let out = flom(&home, &["-V", "--", "true"]);
    out.expect_code(0);
    assert_eq!(
        grep(&out, "[Daemon]/SocketName"),
        [format!("[Daemon]/SocketName='{}'", env.sock)]
    );
    assert!(
        exists(&env.sock),
        "the daemon did not use the file's socket"
    );
}

#[test]
fn command_line_value_equal_to_the_default_still_overrides_the_files() {
    // deliberate improvement: C ignores -o -1, -d 5000, -i 0, -p 28015, ...
    let env = Env::new("eqdefault");
    let home = home(&env);
    let text = "\
[Trace]
AppendTraceFile=yes
[Resource]
Timeout=100
Quantity=5
LockMode=PR
Create=no
IdleLifespan=234
[Daemon]
Lifespan=231
UnicastPort=1000
MulticastPort=1001
[Network]
DiscoveryAttempts=9
DiscoveryTimeout=999
DiscoveryTTL=7
TcpKeepaliveTime=11
TcpKeepaliveIntvl=12
TcpKeepaliveProbes=13
";
    let custom = write_conf(&env, "custom.conf", text);
    let cases: [(&[&str], &str); 15] = [
        (&["-o", "-1"], "[Resource]/Timeout=-1"),
        (&["-q", "1"], "[Resource]/Quantity=1"),
        (&["-l", "EX"], "[Resource]/LockMode=5"),
        (&["-e", "yes"], "[Resource]/Create=1"),
        (&["-i", "0"], "[Resource]/IdleLifespan=0"),
        (&["-d", "5000"], "[Daemon]/Lifespan=5000"),
        (&["-p", "28015"], "[Daemon]/UnicastPort=28015"),
        (&["-P", "28015"], "[Daemon]/MulticastPort=28015"),
        (&["-D", "2"], "[Network]/DiscoveryAttempts=2"),
        (&["-I", "500"], "[Network]/DiscoveryTimeout=500"),
        (&["--discovery-ttl", "1"], "[Network]/DiscoveryTTL=1"),
        (
            &["--tcp-keepalive-time", "60"],
            "[Network]/TcpKeepaliveTime=60",
        ),
        (
            &["--tcp-keepalive-intvl", "10"],
            "[Network]/TcpKeepaliveIntvl=10",
        ),
        (
            &["--tcp-keepalive-probes", "6"],
            "[Network]/TcpKeepaliveProbes=6",
        ),
        (&["--append-trace-file", "no"], "[Trace]/AppendTraceFile=0"),
    ];
    let h2 = env.path("home2");
    std::fs::create_dir_all(&h2).unwrap();
    write_user_conf(&h2, text);
    for (args, want) in cases {
        let key = &want[..want.find('=').unwrap()];
        // the file's value is in effect without the option ...
        let from_file = line(&home, &["-c", &custom], key);
        assert_ne!(from_file, want, "the file does not set {key}");
        assert_eq!(line(&h2, &[], key), from_file, "~/.flom sets {key}");
        // ... and the option, although equal to the default, replaces it
        let mut a = vec!["-c", custom.as_str()];
        a.extend_from_slice(args);
        assert_eq!(line(&home, &a, key), want, "-c file then {args:?}");
        assert_eq!(line(&h2, args, key), want, "~/.flom then {args:?}");
    }
}

#[test]
fn command_line_ignore_signal_list_replaces_the_config_list() {
    let env = Env::new("siglist");
    let home = home(&env);
    write_user_conf(&home, "[Monitor]\nIgnoredSignals=SIGHUP;SIGINT\n");
    assert_eq!(
        line(&home, &[], "[Monitor]"),
        "[Monitor]/IgnoredSignals='SIGHUP;SIGINT'"
    );
    assert_eq!(
        line(&home, &["--ignore-signal", "SIGTERM"], "[Monitor]"),
        "[Monitor]/IgnoredSignals='SIGTERM'"
    );
}

// ------------------------------------------------------ config errors

/// A config error: exit 99, the C line on stdout, `flom: FILE:LINE: ...`
/// on stderr, nothing started.
#[track_caller]
fn expect_config_error(out: &Out, c_line: &str, file: &str, line: usize) {
    out.expect_code(99);
    assert_eq!(
        out.stdout,
        format!("{c_line} '{file}'\n"),
        "{}",
        out.describe()
    );
    assert!(
        out.stderr.starts_with(&format!("flom: {file}:{line}: ")),
        "stderr must name {file}:{line}: {}",
        out.describe()
    );
}

const INVALID: &str = "ERROR: invalid configuration found in file";
const LOADING: &str = "ERROR: error while loading file";

#[test]
fn config_errors_name_file_and_line() {
    let env = Env::new("conferr");
    let home = home(&env);
    let bad: [(&str, &str, usize); 13] = [
        ("[Resource]\nCreate=maybe\n", INVALID, 2),
        ("[Resource]\nCreate=true\n", INVALID, 2),
        ("[Trace]\nVerbose=1\n", INVALID, 2),
        ("[Trace]\nAppendTraceFile=annoy\n", INVALID, 2),
        ("[TLS]\nTlsCheckPeerId=maybe\n", INVALID, 2),
        ("[Resource]\n\nLockMode=onlyex\n", INVALID, 3),
        ("# c\n[Resource]\nTimeout=12abc\n", INVALID, 3),
        ("[Resource]\nTimeout=0x10\n", INVALID, 2),
        ("[Daemon]\nLifespan=99999999999\n", INVALID, 2),
        ("[Resource]\nName=_RESOURCE\n", INVALID, 2),
        ("[Resource]\nName=a-b\n", INVALID, 2),
        ("[Resource]\nthis is not a key\n", LOADING, 2),
        ("Timeout=5\n[Resource]\n", LOADING, 1),
    ];
    for (i, (text, c_line, n)) in bad.iter().enumerate() {
        // -c FILE
        let f = write_conf(&env, &format!("bad{i}.conf"), text);
        let out = flom(&home, &["-V", "-s", &env.sock, "-c", &f, "--", "true"]);
        expect_config_error(&out, c_line, &f, *n);
        // ~/.flom
        let user = write_user_conf(&home, text);
        let out = flom(&home, &["-V", "-s", &env.sock, "--", "true"]);
        expect_config_error(&out, c_line, &user, *n);
        std::fs::remove_file(&user).unwrap();
    }
    assert!(!exists(&env.sock), "a config error started a daemon");
    // whitespace around an integer is fine
    let f = write_conf(&env, "ws.conf", "[Resource]\nTimeout = 12 \n");
    assert_eq!(
        line(&home, &["-c", &f], "[Resource]/Timeout"),
        "[Resource]/Timeout=12"
    );
}

#[test]
fn missing_config_file_exits_99() {
    let env = Env::new("confmissing");
    let home = home(&env);
    let missing = env.path("nope.conf");
    let eq = format!("--config-file={missing}");
    for args in [
        vec!["-c", missing.as_str()],
        vec!["--config-file", missing.as_str()],
        vec![eq.as_str()],
    ] {
        let mut a = vec!["-s", env.sock.as_str()];
        a.extend(args);
        a.extend(["--", "true"]);
        let out = flom(&home, &a);
        out.expect_code(99)
            .expect_stdout(&format!("{LOADING} '{missing}'\n"));
        assert!(
            out.stderr.starts_with(&format!("flom: {missing}")),
            "{}",
            out.describe()
        );
    }
    // a missing ~/.flom is just skipped
    flom(&home, &["-s", &env.sock, "--", "true"]).expect_code(0);
}

// ------------------------------------------------------------ values

#[test]
fn integer_options_use_c_integer_parsing() {
    let env = Env::new("ints");
    let home = home(&env);
    assert_eq!(
        line(&home, &["-o", "0x1f"], "[Resource]/Timeout"),
        "[Resource]/Timeout=31"
    );
    assert_eq!(
        line(&home, &["-q", "010"], "[Resource]/Quantity"),
        "[Resource]/Quantity=8"
    );
    assert_eq!(
        line(&home, &["--resource-timeout=-0x10"], "[Resource]/Timeout"),
        "[Resource]/Timeout=-16"
    );
    assert_eq!(
        line(&home, &["-o", "-100"], "[Resource]/Timeout"),
        "[Resource]/Timeout=-100"
    );
    assert_eq!(
        line(&home, &["-o", "2147483647"], "[Resource]/Timeout"),
        "[Resource]/Timeout=2147483647"
    );
    let bad: [(&[&str], &str); 8] = [
        (
            &["-o", "12abc"],
            "Cannot parse integer value \u{201c}12abc\u{201d} for -o",
        ),
        (
            &["--resource-timeout=12abc"],
            "Cannot parse integer value \u{201c}12abc\u{201d} for --resource-timeout",
        ),
        (
            &["--resource-timeout", "x"],
            "Cannot parse integer value \u{201c}x\u{201d} for --resource-timeout",
        ),
        (
            &["-q", "08"],
            "Cannot parse integer value \u{201c}08\u{201d} for -q",
        ),
        (
            &["-o", "2147483648"],
            "Integer value \u{201c}2147483648\u{201d} for -o out of range",
        ),
        (
            &["-q", "-2147483649"],
            "Integer value \u{201c}-2147483649\u{201d} for -q out of range",
        ),
        (
            &["--tcp-keepalive-time=0x100000000"],
            "Integer value \u{201c}0x100000000\u{201d} for --tcp-keepalive-time out of range",
        ),
        (
            &["-p", "1.5"],
            "Cannot parse integer value \u{201c}1.5\u{201d} for -p",
        ),
    ];
    for (args, msg) in bad {
        let mut a = vec!["-s", env.sock.as_str()];
        a.extend_from_slice(args);
        a.extend(["--", "true"]);
        flom(&home, &a)
            .expect_code(99)
            .expect_stdout("")
            .expect_stderr(&format!("option parsing failed: {msg}\n{}", hint_for(msg)));
    }
    assert!(!exists(&env.sock));
}

#[test]
fn values_are_parsed_strictly() {
    let env = Env::new("strict");
    let home = home(&env);
    for (v, code) in [
        ("pr", "3"),
        ("PR", "3"),
        ("ProtectedRead", "3"),
        ("Exclusive", "5"),
        ("EXCLUSIVE", "5"),
        ("nl", "0"),
        ("NullLock", "0"),
        ("cr", "1"),
        ("ConcurrentWrite", "2"),
        ("pw", "4"),
    ] {
        assert_eq!(
            line(&home, &["-l", v], "[Resource]/LockMode"),
            format!("[Resource]/LockMode={code}"),
            "-l {v}"
        );
    }
    for (v, code) in [
        ("NO", "0"),
        ("No", "0"),
        ("n", "0"),
        ("YES", "1"),
        ("Y", "1"),
    ] {
        assert_eq!(
            line(&home, &["-e", v], "[Resource]/Create"),
            format!("[Resource]/Create={code}"),
            "-e {v}"
        );
    }
    // C matches substrings (`onlyex` = NL, `maybe` = yes); this flom refuses
    for v in ["onlyex", "exclusively", "5", ""] {
        let out = flom(&home, &["-s", &env.sock, "-l", v, "--", "true"]);
        out.expect_code(99).expect_stdout("");
        assert!(
            out.stderr
                .starts_with(&format!("lock-mode: '{v}' is an invalid value\nflom: ")),
            "{}",
            out.describe()
        );
    }
    for v in ["maybe", "annoy", "true", "1"] {
        let out = flom(&home, &["-s", &env.sock, "-e", v, "--", "true"]);
        out.expect_code(99)
            .expect_stdout(&format!("resource-create: '{v}' is an invalid value\n"));
        assert!(out.stderr.starts_with("flom: "), "{}", out.describe());
    }
    let out = flom(&home, &["--append-trace-file=maybe", "--", "true"]);
    out.expect_code(99).expect_stdout("");
    assert!(
        out.stderr
            .starts_with("append-trace-file: 'maybe' is an invalid value\nflom: "),
        "{}",
        out.describe()
    );
    let out = flom(&home, &["--tls-check-peer-id=maybe", "--", "true"]);
    out.expect_code(99)
        .expect_stdout("tls-check-peer-id: 'maybe' is an invalid value\n");
    assert!(!exists(&env.sock));
}

// ------------------------------------------------- informational modes

#[test]
fn help_exits_0_with_usage() {
    let env = Env::new("help");
    let home = home(&env);
    for h in ["-h", "--help", "-?", "--help-all"] {
        let out = flom(&home, &[h]);
        out.expect_code(0).expect_stderr("");
        assert!(
            out.stdout
                .starts_with("Usage:\n  flom [OPTION?] [-- command to execute]\n"),
            "{}",
            out.describe()
        );
    }
    // every option of the table is documented
    let out = flom(&home, &["--help"]);
    for long in [
        "help",
        "version",
        "verbose",
        "config-file",
        "resource-name",
        "resource-timeout",
        "resource-quantity",
        "resource-create",
        "resource-idle-lifespan",
        "lock-mode",
        "socket-name",
        "daemon-lifespan",
        "unicast-address",
        "unicast-port",
        "multicast-address",
        "multicast-port",
        "mount-point-vfs",
        "network-interface",
        "discovery-attempts",
        "discovery-timeout",
        "discovery-ttl",
        "tcp-keepalive-time",
        "tcp-keepalive-intvl",
        "tcp-keepalive-probes",
        "tls-certificate",
        "tls-private-key",
        "tls-ca-certificate",
        "tls-check-peer-id",
        "ignore-signal",
        "signal-list",
        "daemon-trace-file",
        "command-trace-file",
        "append-trace-file",
        "quiesce-exit",
        "immediate-exit",
        "unique-id",
        "debug-feature",
    ] {
        assert!(
            out.stdout.contains(&format!("--{long}")),
            "--{long} missing from --help"
        );
    }
    // help wins over the rest and never runs the command
    let marker = env.path("ran");
    flom(
        &home,
        &["-s", &env.sock, "-h", "--", "touch", marker.as_str()],
    )
    .expect_code(0);
    assert!(!exists(&marker) && !exists(&env.sock));
}

const VERSION: &str = "FLoM: Free Lock Manager
Copyright (c) 2013-2024, Christian Ferrari; all rights reserved.
License: GPL (GNU Public License) version 2
Package name: flom; package version: 1.7.2; release date: 2024-03-02
TLS supported protocol(s): All TLS protocols
Access https://github.com/tiian/flom for project community activities
Documentation is available at http://www.tiian.org/flom/
";

const SIGNAL_LIST: &str = "1) SIGHUP\t2) SIGINT\t3) SIGQUIT\t4) SIGILL\t\n\
5) SIGTRAP\t6) SIGABRT\t7) SIGBUS\t8) SIGFPE\t\n\
9) SIGKILL\t10) SIGUSR1\t11) SIGSEGV\t12) SIGUSR2\t\n\
13) SIGPIPE\t14) SIGALRM\t15) SIGTERM\t16) SIGSTKFLT\t\n\
17) SIGCHLD\t18) SIGCONT\t19) SIGSTOP\t20) SIGTSTP\t\n\
21) SIGTTIN\t22) SIGTTOU\t23) SIGURG\t24) SIGXCPU\t\n\
25) SIGXFSZ\t26) SIGVTALRM\t27) SIGPROF\t28) SIGWINCH\t\n\
29) SIGIO\t30) SIGPWR\t31) SIGSYS\t\n";

#[test]
fn version_signal_list_and_unique_id() {
    let env = Env::new("infomodes");
    let home = home(&env);
    for v in ["-v", "--version"] {
        let out = flom(&home, &[v]);
        out.expect_code(0).expect_stdout(VERSION).expect_stderr("");
        assert_eq!(out.stdout.lines().count(), 7);
    }
    flom(&home, &["--signal-list"])
        .expect_code(0)
        .expect_stdout(SIGNAL_LIST)
        .expect_stderr("");
    // both: version first, then the list
    flom(&home, &["--signal-list", "-v"])
        .expect_code(0)
        .expect_stdout(&format!("{VERSION}{SIGNAL_LIST}"));
    let id = machine_id();
    assert_eq!(id.len(), 32, "machine id {id:?}");
    flom(&home, &["--unique-id"])
        .expect_code(0)
        .expect_stdout(&format!("{id}\n"))
        .expect_stderr("");
    // informational modes come before the config files: a broken ~/.flom
    // does not matter
    write_user_conf(&home, "garbage\n");
    flom(&home, &["--unique-id"]).expect_code(0);
    flom(&home, &["-v"]).expect_code(0).expect_stdout(VERSION);
    // and never run the command
    let marker = env.path("ran");
    flom(
        &home,
        &["-s", &env.sock, "--version", "--", "touch", &marker],
    )
    .expect_code(0);
    assert!(!exists(&marker) && !exists(&env.sock));
}

#[test]
fn unknown_options_exit_99() {
    let env = Env::new("unknownopt");
    let home = home(&env);
    flom(&home, &["-s", &env.sock, "-z", "FOO", "--", "ls"])
        .expect_code(99)
        .expect_stdout("")
        .expect_stderr(&format!(
            "option parsing failed: Unknown option -z\n{}",
            unknown_option_hint("-z")
        ));
    let out = flom(&home, &["-s", &env.sock, "--ZZZ-ZZZ=BAR", "--", "ls"]);
    out.expect_code(99).expect_stdout("");
    assert!(
        out.stderr
            .starts_with("option parsing failed: Unknown option --ZZZ-ZZZ"),
        "{}",
        out.describe()
    );
    assert!(!exists(&env.sock));
}

#[test]
fn non_utf8_argument_exits_99() {
    let env = Env::new("nonutf8");
    let home = home(&env);
    for args in [
        vec![
            OsString::from("-s"),
            OsString::from(&env.sock),
            OsString::from("-r"),
            OsString::from_vec(vec![b'r', 0xff, b'x']),
            OsString::from("--"),
            OsString::from("true"),
        ],
        vec![
            OsString::from("-s"),
            OsString::from(&env.sock),
            OsString::from_vec(vec![b'-', b'-', 0xe9]),
        ],
    ] {
        Spec::os(&home, args)
            .run()
            .expect_code(99)
            .expect_stdout("")
            .expect_stderr("option parsing failed: Invalid byte sequence in conversion input\n");
    }
    assert!(!exists(&env.sock));
}

// ------------------------------------------------ incompatible options

#[test]
fn incompopt_command_not_found_exits_97() {
    let env = Env::new("incomp97");
    let home = home(&env);
    env.start_daemon();
    let out = flom(&home, &["-V", "-s", &env.sock, "--", "abcdefghijklmnop"]);
    out.expect_code(97);
    assert_eq!(out.stdout.lines().count(), 29, "{}", out.describe());
    assert!(
        out.stderr.contains("abcdefghijklmnop"),
        "{}",
        out.describe()
    );
    env.assert_free("_RESOURCE");
}

#[test]
fn incompopt_local_and_network_exit_99() {
    let env = Env::new("incomplocal");
    let home = home(&env);
    let x = env.path("x");
    for args in [
        vec!["-s", x.as_str(), "-a", "127.0.0.1"],
        vec!["-s", x.as_str(), "-a", "198.18.1.1"],
        vec!["-s", x.as_str(), "-A", "239.255.0.1"],
        vec!["--unicast-address=127.0.0.1", "--socket-name", x.as_str()],
    ] {
        let mut a = args.clone();
        a.extend(["--", "true"]);
        flom(&home, &a)
            .expect_code(99)
            .expect_stdout(CONFLICT)
            .expect_stderr(NOT_VALID);
        // checked before -x/-X and before "no command"
        let mut a = args.clone();
        a.push("-X");
        flom(&home, &a)
            .expect_code(99)
            .expect_stdout(CONFLICT)
            .expect_stderr(NOT_VALID);
        flom(&home, &args)
            .expect_code(99)
            .expect_stdout(CONFLICT)
            .expect_stderr(NOT_VALID);
    }
    // the socket from ~/.flom, the address from the command line
    write_user_conf(&home, &format!("[Daemon]\nSocketName={x}\n"));
    flom(&home, &["-A", "239.255.0.1", "--", "true"])
        .expect_code(99)
        .expect_stdout(CONFLICT)
        .expect_stderr(NOT_VALID);
    // with -V, the dump comes first
    let out = flom(&home, &["-V", "-a", "127.0.0.1", "--", "true"]);
    out.expect_code(99).expect_plain_stderr(NOT_VALID);
    assert!(out.stdout.ends_with(CONFLICT), "{}", out.describe());
    assert_eq!(out.stdout.lines().count(), 30);
    assert!(!exists(&x), "a daemon was started");
}

#[test]
fn incompopt_tls_check_peer_id_swallows_the_double_dash() {
    let env = Env::new("incomptls");
    let home = home(&env);
    for v in [&["-V"][..], &[][..]] {
        let mut a = vec!["-s", env.sock.as_str()];
        a.extend_from_slice(v);
        a.extend(["--tls-check-peer-id", "--", "ls"]);
        let out = flom(&home, &a);
        out.expect_code(99)
            .expect_stdout("tls-check-peer-id: '--' is an invalid value\n");
    }
    // a valid yes without the TLS files fails the config check
    let out = flom(
        &home,
        &["-s", &env.sock, "--tls-check-peer-id=yes", "--", "ls"],
    );
    out.expect_code(99)
        .expect_stdout(
            "ERROR: TLS check peer id can not be specified without full TLS configuration.\n",
        )
        .expect_stderr(NOT_VALID);
    assert!(!exists(&env.sock));
}

#[test]
fn missing_mount_point_exits_99_without_a_daemon() {
    let env = Env::new("vfsmissing");
    let home = home(&env);
    let dir = env.path("no-such-dir");
    for args in [
        vec!["-m", dir.as_str()],
        vec!["--mount-point-vfs", dir.as_str()],
    ] {
        let mut a = vec!["-s", env.sock.as_str(), "-d", "-1"];
        a.extend(args);
        a.extend(["--", "true"]);
        let out = flom(&home, &a);
        out.expect_code(99).expect_stdout("");
        assert!(
            out.stderr.starts_with(&format!(
                "mount-point-vfs: '{dir}' is an invalid value\nflom: "
            )),
            "{}",
            out.describe()
        );
        assert!(
            out.stderr.contains(&dir) && out.stderr.lines().count() == 2,
            "{}",
            out.describe()
        );
    }
    // from ~/.flom: an invalid configuration, naming the line
    let user = write_user_conf(&home, &format!("[Daemon]\n\nMountPointVFS={dir}\n"));
    let out = flom(&home, &["-s", &env.sock, "-d", "-1", "--", "true"]);
    expect_config_error(&out, INVALID, &user, 3);
    assert!(!exists(&env.sock), "a daemon was started");
    assert!(common::detached_processes_for(&env.sock).is_empty());
    assert!(!exists(&dir));
}

#[test]
fn resource_name_errors() {
    let env = Env::new("resname");
    let home = home(&env);
    for name in [
        "a-b",
        "1abc",
        "red..blue",
        "/a//b",
        "a[]",
        "a.",
        "_s_seq",
        "_x_a[1]",
    ] {
        for opt in ["-r", "--resource-name"] {
            flom(&home, &["-s", &env.sock, opt, name, "--", "true"])
                .expect_code(99)
                .expect_stdout(&format!(
                    "ERROR: '{name}' is not a valid name for a resource\n"
                ))
                .expect_stderr(&format!(
                    "flom: option -r/--resource-name: '{name}' is not a valid resource name; use NAME, NAME[N], A.B.C, /A/B/C, _s_NAME[N], _S_NAME[N] or _t_FORMAT[N], where NAME is a letter followed by letters and digits (see flom(1)).\n"
                ));
        }
    }
    for args in [vec!["-r", "_RESOURCE"], vec!["--resource-name=_RESOURCE"]] {
        let mut a = vec!["-s", env.sock.as_str()];
        a.extend(args);
        a.extend(["--", "true"]);
        flom(&home, &a)
            .expect_code(99)
            .expect_stdout(
                "ERROR: '_RESOURCE' is a reserved resource name and can not be set by user\n",
            )
            .expect_stderr("flom: option -r/--resource-name: '_RESOURCE' is a reserved resource name and cannot be set; leave the name out to lock the default resource.\n");
    }
    assert!(!exists(&env.sock));
    // valid names of each type are accepted
    for name in ["abc", "red.green", "/a/b", "x[3]", "_s_seq[1]"] {
        assert_eq!(
            line(&home, &["-r", name], "[Resource]/Name"),
            format!("[Resource]/Name='{name}'")
        );
    }
}

#[test]
fn resource_type_forcing_warning_only_with_verbose() {
    let env = Env::new("forcing");
    let home = home(&env);
    env.start_daemon();
    // a set supports only EX: the dump shows the requested PR (it precedes
    // the adjustment), then a warning on stderr
    let out = flom(
        &home,
        &[
            "-V",
            "-s",
            &env.sock,
            "-r",
            "red.green",
            "-l",
            "PR",
            "--",
            "true",
        ],
    );
    out.expect_code(0);
    assert_eq!(grep(&out, "[Resource]/LockMode"), ["[Resource]/LockMode=3"]);
    let stderr = out.stderr_without_notes();
    assert_eq!(stderr.lines().count(), 1, "{}", out.describe());
    assert!(
        stderr.starts_with("flom: ") && stderr.contains("PR"),
        "{}",
        out.describe()
    );
    // the quantity of a non-numeric resource: one more warning
    let out = flom(
        &home,
        &[
            "-V",
            "-s",
            &env.sock,
            "-r",
            "red.green",
            "-l",
            "PR",
            "-q",
            "3",
            "--",
            "true",
        ],
    );
    out.expect_code(0);
    assert_eq!(grep(&out, "[Resource]/Quantity"), ["[Resource]/Quantity=3"]);
    assert_eq!(
        out.stderr_without_notes().lines().count(),
        2,
        "{}",
        out.describe()
    );
    // without -V: silent
    flom(
        &home,
        &["-s", &env.sock, "-r", "red.green", "-l", "PR", "--", "true"],
    )
    .expect_code(0)
    .expect_stdout("")
    .expect_stderr("");
    // simple and hierarchical resources keep their mode: no warning
    for r in ["plain", "/a/b"] {
        let out = flom(
            &home,
            &["-V", "-s", &env.sock, "-r", r, "-l", "PR", "--", "true"],
        );
        out.expect_code(0).expect_plain_stderr("");
    }
}

// ------------------------------------------------ argument model (§1)

#[test]
fn argument_parsing_model() {
    let env = Env::new("argmodel");
    let home = home(&env);
    env.start_daemon();
    let sock = env.sock.as_str();
    // options anywhere before `--`; free words form the command
    let out = flom(&home, &["-s", sock, "echo", "a", "-V"]);
    out.expect_code(0);
    assert_eq!(grep(&out, "[Trace]/Verbose"), ["[Trace]/Verbose=1"]);
    assert!(out.stdout.ends_with("\na\n"), "{}", out.describe());
    flom(&home, &["-s", sock, "echo", "hi", "there"])
        .expect_code(0)
        .expect_stdout("hi there\n");
    // after `--` everything goes to the command
    flom(&home, &["-s", sock, "--", "echo", "-V", "--", "-x"])
        .expect_code(0)
        .expect_stdout("-V -- -x\n");
    // clustered flags, a value-taking option last in the cluster
    assert_eq!(
        line(&home, &["-Vo", "0x10"], "[Resource]/Timeout"),
        "[Resource]/Timeout=16"
    );
    // a value starting with `-` is still the value
    assert_eq!(
        line(&home, &["-o", "-100"], "[Resource]/Timeout"),
        "[Resource]/Timeout=-100"
    );
    // deliberate: an attached short value is accepted (C rejects it)
    assert_eq!(
        line(&home, &["-o100"], "[Resource]/Timeout"),
        "[Resource]/Timeout=100"
    );
    // a value-taking option swallows a following `--` or option
    flom(&home, &["-s", sock, "-r", "-x", "--", "true"])
        .expect_code(99)
        .expect_stdout("ERROR: '-x' is not a valid name for a resource\n");
    // usage errors
    for (args, msg) in [
        (&["-r"][..], "Missing argument for -r"),
        (
            &["--resource-name"][..],
            "Missing argument for --resource-name",
        ),
        (
            &["--verbose=yes", "--", "true"][..],
            "Option --verbose does not take an argument",
        ),
        (&["--verb", "--", "true"][..], "Unknown option --verb"),
    ] {
        flom(&home, args)
            .expect_code(99)
            .expect_stdout("")
            .expect_stderr(&format!("option parsing failed: {msg}\n{}", hint_for(msg)));
    }
    // no command at all
    for args in [&["-s", sock][..], &["-s", sock, "--"][..]] {
        flom(&home, args)
            .expect_code(97)
            .expect_stdout("")
            .expect_stderr(NO_COMMAND);
    }
}

#[test]
fn command_line_normalisations() {
    if system_config_changes("command_line_normalisations") {
        return;
    }
    let env = Env::new("clinorm");
    let home = home(&env);
    let out = flom(&home, &["-V", "-q", "-3"]);
    out.expect_code(97).expect_plain_stderr(&format!(
        "Resource quantity ignored because negative values (-3) are meaningless\n{NO_COMMAND}"
    ));
    assert_eq!(grep(&out, "[Resource]/Quantity"), ["[Resource]/Quantity=1"]);
    for (args, want) in [
        (&["-q", "0"][..], "[Resource]/Quantity=1"),
        (&["-i", "-5"][..], "[Resource]/IdleLifespan=5"),
        (&["-p", "-27750"][..], "[Daemon]/UnicastPort=27750"),
        (&["-P", "-27751"][..], "[Daemon]/MulticastPort=27751"),
        (&["-d", "-1"][..], "[Daemon]/Lifespan=-1"),
        (&["-D", "0"][..], "[Network]/DiscoveryAttempts=1"),
        (&["-D", "-3"][..], "[Network]/DiscoveryAttempts=3"),
        (&["-I", "-7"][..], "[Network]/DiscoveryTimeout=7"),
        (&["--discovery-ttl", "0"][..], "[Network]/DiscoveryTTL=1"),
        (&["--discovery-ttl=-2"][..], "[Network]/DiscoveryTTL=2"),
        (
            &["--tcp-keepalive-time=-1"][..],
            "[Network]/TcpKeepaliveTime=1",
        ),
        (
            &["--tcp-keepalive-intvl=-2"][..],
            "[Network]/TcpKeepaliveIntvl=2",
        ),
        (
            &["--tcp-keepalive-probes=-3"][..],
            "[Network]/TcpKeepaliveProbes=3",
        ),
    ] {
        let key = &want[..want.find('=').unwrap()];
        assert_eq!(line(&home, args, key), want, "{args:?}");
    }
    // the same rules for the files
    let f = write_conf(
        &env,
        "norm.conf",
        "[Resource]\nQuantity=-4\nIdleLifespan=-5\n[Daemon]\nUnicastPort=-1\n[Network]\nDiscoveryAttempts=0\nDiscoveryTTL=-3\n",
    );
    let out = flom(&home, &["-V", "-c", &f]);
    out.expect_code(97);
    for want in [
        "[Resource]/Quantity=4",
        "[Resource]/IdleLifespan=5",
        "[Daemon]/UnicastPort=1",
        "[Network]/DiscoveryAttempts=1",
        "[Network]/DiscoveryTTL=3",
    ] {
        assert!(
            out.stdout.lines().any(|l| l == want),
            "{want}: {}",
            out.describe()
        );
    }
    // Quantity=0 and IdleLifespan=0 in a later file leave the earlier value
    write_user_conf(&home, "[Resource]\nQuantity=6\nIdleLifespan=7\n");
    let zero = write_conf(
        &env,
        "zero.conf",
        "[Resource]\nQuantity=0\nIdleLifespan=0\n",
    );
    let out = flom(&home, &["-V", "-c", &zero]);
    assert_eq!(grep(&out, "[Resource]/Quantity"), ["[Resource]/Quantity=6"]);
    assert_eq!(
        grep(&out, "[Resource]/IdleLifespan"),
        ["[Resource]/IdleLifespan=7"]
    );
}

#[test]
fn config_file_syntax_like_glib_key_files() {
    let env = Env::new("confsyntax");
    let home = home(&env);
    let f = write_conf(
        &env,
        "syntax.conf",
        "# comment\n\
         \n\
         [Trace]\n\
         DaemonTraceFile=/tmp/a # not a comment\n\
         CommandTraceFile=\\s/x\\ty\n\
         [Daemon]\n\
         UnicastAddress=\"host\"\n\
         \x20 MulticastAddress  =   239.1.1.1\n\
         [Resource]\n\
         Timeout=5\n\
         Timeout=6\n\
         timeout=7\n\
         Name[en]=foo\n\
         [Unknown]\n\
         X=1\n\
         [Resource]\n\
         Name=merged\n",
    );
    let out = flom(&home, &["-V", "-c", &f]);
    out.expect_code(97);
    for want in [
        "[Trace]/DaemonTraceFile='/tmp/a # not a comment'",
        "[Trace]/CommandTraceFile=' /x\ty'",
        "[Daemon]/UnicastAddress='\"host\"'",
        "[Daemon]/MulticastAddress='239.1.1.1'",
        "[Resource]/Timeout=6",
        "[Resource]/Name='merged'",
    ] {
        assert!(
            out.stdout.lines().any(|l| l == want),
            "{want}: {}",
            out.describe()
        );
    }
    // trailing whitespace of a string value is kept: an invalid name
    let f = write_conf(&env, "trailing.conf", "[Resource]\nName=abc  \n");
    let out = flom(&home, &["-c", &f, "--", "true"]);
    expect_config_error(&out, INVALID, &f, 2);
}

// ------------------------------------------------------ trace files

#[test]
fn command_trace_file_with_a_running_daemon() {
    let env = Env::new("ctrace");
    let home = home(&env);
    env.start_daemon();
    let trc = env.path("command.trc");
    // opened (truncated) even with FLOM_TRACE_MASK unset
    std::fs::write(&trc, "old\n").unwrap();
    Spec::new(&home, &["-s", &env.sock, "-T", &trc, "--", "true"])
        .clean_env(&[])
        .run()
        .expect_code(0)
        .expect_stderr("");
    assert_eq!(std::fs::read_to_string(&trc).unwrap(), "");
    // appended to with --append-trace-file=yes
    std::fs::write(&trc, "old\n").unwrap();
    Spec::new(
        &home,
        &[
            "-s",
            &env.sock,
            "-T",
            &trc,
            "--append-trace-file=yes",
            "--",
            "true",
        ],
    )
    .clean_env(&[])
    .run()
    .expect_code(0)
    .expect_stderr("");
    assert_eq!(std::fs::read_to_string(&trc).unwrap(), "old\n");
}

#[test]
fn command_trace_file_with_an_auto_started_daemon() {
    let env = Env::new("ctraceauto");
    let home = home(&env);
    let trc = env.path("command.trc");
    let out = flom(&home, &["-s", &env.sock, "-T", &trc, "--", "true"]);
    out.expect_code(0).expect_stdout("").expect_stderr("");
    assert!(exists(&trc));
    assert!(exists(&env.sock), "no daemon");
}

#[test]
fn daemon_trace_file_stays_open_when_a_command_trace_file_is_given() {
    let env = Env::new("dtrace");
    let home = home(&env);
    let ctrc = env.path("command.trc");
    let dtrc = env.path("daemon.trc");
    flom(
        &home,
        &[
            "-s", &env.sock, "-d", "-1", "-T", &ctrc, "-t", &dtrc, "--", "true",
        ],
    )
    .expect_code(0);
    let pid = common::the_daemon(&env.sock);
    env.track(pid);
    let open: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    assert!(
        open.contains(&dtrc),
        "the daemon does not hold its trace file {dtrc}: {open:?}"
    );
}
