//! Unit tests of `config` (config files, layers and the dump).

use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh temporary directory for one test.
pub(crate) fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "flom-config-test-{}-{}-{}",
        std::process::id(),
        tag,
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn apply(text: &str) -> Result<(Config, Vec<String>), ConfigError> {
    let mut c = Config::default();
    let mut w = Vec::new();
    c.apply_str(text, Path::new("/x/f.conf"), &mut w)?;
    Ok((c, w))
}

fn err(text: &str) -> ConfigError {
    apply(text).unwrap_err()
}

#[test]
fn unknown_groups_and_keys_are_warned_in_line_order() {
    let (c, w) =
        apply("[Resourc]\nName=x\n[Resource]\ntimeout=5\nQuantity=2\nZzz=1\n[TLS]\nTlsCert=a\n")
            .unwrap();
    assert_eq!(c.resource_quantity, 2);
    assert_eq!(
        w,
        [
            "flom: warning: /x/f.conf:1: unknown group [Resourc] is ignored with its keys; did you mean [Resource]?",
            "flom: warning: /x/f.conf:4: unknown key 'timeout' in group [Resource] is ignored; did you mean 'Timeout'?",
            "flom: warning: /x/f.conf:6: unknown key 'Zzz' in group [Resource] is ignored.",
            "flom: warning: /x/f.conf:8: unknown key 'TlsCert' in group [TLS] is ignored.",
        ]
    );
    // every key of the option table (C's and the extensions') is known
    let mut text = String::new();
    for s in options::all().filter(|s| !s.key.is_empty()) {
        text.push_str(&format!("[{}]\n{}=\n", s.group, s.key));
    }
    let kf = KeyFile::parse(&text).unwrap();
    assert!(unknown_names(&kf, Path::new("f")).is_empty());
    assert_eq!(edit_distance("timeot", "timeout"), 1);
    assert_eq!(edit_distance("", "abc"), 3);
}

const DEFAULT_DUMP: &str = "[Trace]/DaemonTraceFile=''
[Trace]/CommandTraceFile=''
[Trace]/AppendTraceFile=0
[Trace]/Verbose=1
[Resource]/Name='_RESOURCE'
[Resource]/Timeout=-1
[Resource]/Quantity=1
[Resource]/LockMode=5
[Resource]/Create=1
[Resource]/IdleLifespan=0
[Daemon]/SocketName=''
[Daemon]/Lifespan=5000
[Daemon]/UnicastAddress=''
[Daemon]/UnicastPort=28015
[Daemon]/MulticastAddress=''
[Daemon]/MulticastPort=28015
[Daemon]/MountPointVFS=''
[Monitor]/IgnoredSignals=''
[Network]/NetworkInterface=''
[Network]/DiscoveryAttempts=2
[Network]/DiscoveryTimeout=500
[Network]/DiscoveryTTL=1
[Network]/TcpKeepaliveTime=60
[Network]/TcpKeepaliveIntvl=10
[Network]/TcpKeepaliveProbes=6
[TLS]/TlsCertificate=''
[TLS]/TlsPrivateKey=''
[TLS]/TlsCaCertificate=''
[TLS]/TlsCheckPeerId=0
";

#[test]
fn default_dump_byte_for_byte() {
    let c = Config {
        verbose: true,
        ..Config::default()
    };
    assert_eq!(c.verbose_dump(), DEFAULT_DUMP);
    assert_eq!(c.verbose_dump().lines().count(), 29);
}

#[test]
fn dump_with_values() {
    let mut c = Config {
        daemon_trace_file: Some("/tmp/flom_daemon.trc".into()),
        lock_mode: LockMode::ProtectedRead,
        resource_create: false,
        ..Config::default()
    };
    c.set_ignored_signals(vec![15, 3, 15]);
    c.tls_check_peer_id = true;
    let d = c.verbose_dump();
    assert!(d.contains("[Trace]/DaemonTraceFile='/tmp/flom_daemon.trc'\n"));
    assert!(d.contains("[Trace]/Verbose=0\n"));
    assert!(d.contains("[Resource]/LockMode=3\n"));
    assert!(d.contains("[Resource]/Create=0\n"));
    assert!(d.contains("[Monitor]/IgnoredSignals='SIGQUIT;SIGTERM'\n"));
    assert!(d.contains("[TLS]/TlsCheckPeerId=1\n"));
    let lifespans: Vec<&str> = d.lines().filter(|l| l.contains("Lifespan")).collect();
    assert_eq!(
        lifespans,
        vec!["[Resource]/IdleLifespan=0", "[Daemon]/Lifespan=5000"]
    );
}

#[test]
fn strict_booleans_and_signals() {
    for (s, v) in [("yes", true), ("YES", true), ("Y", true), ("y", true)] {
        assert_eq!(parse_bool(s), Some(v));
    }
    for s in ["no", "No", "N", "n", "nO"] {
        assert_eq!(parse_bool(s), Some(false));
    }
    for s in ["maybe", "annoy", "true", "1", "", "yess"] {
        assert_eq!(parse_bool(s), None, "{s}");
    }
    assert_eq!(parse_signal("SIGTERM"), Some(15));
    assert_eq!(parse_signal("sigquit"), Some(3));
    assert_eq!(parse_signal("15"), Some(15));
    assert_eq!(parse_signal("31"), Some(31));
    assert_eq!(parse_signal("0"), None);
    assert_eq!(parse_signal("32"), None);
    assert_eq!(parse_signal("TERM"), None);
    assert_eq!(signal_name(1), Some("SIGHUP"));
    assert_eq!(signal_name(31), Some("SIGSYS"));
    assert_eq!(signal_name(0), None);
    assert_eq!(signal_name(32), None);
}

#[test]
fn signal_list_format() {
    let s = signal_list();
    assert!(s.starts_with("1) SIGHUP\t2) SIGINT\t3) SIGQUIT\t4) SIGILL\t\n5) SIGTRAP\t"));
    assert!(s.ends_with("\n29) SIGIO\t30) SIGPWR\t31) SIGSYS\t\n"));
    assert_eq!(s.lines().count(), 8);
}

#[test]
fn every_key_from_a_file() {
    let dir = temp_dir("keys");
    let cert = write(&dir, "cert.pem", "");
    let key = write(&dir, "key.pem", "");
    let ca = write(&dir, "ca.pem", "");
    let text = format!(
        "[Trace]
DaemonTraceFile=/tmp/flom_daemon.trc
CommandTraceFile=/tmp/flom_command.trc
AppendTraceFile=yes
Verbose=Y
[Resource]
Name=MYRES
Timeout=-100
Quantity=22
LockMode=ProtectedRead
Create=no
IdleLifespan=234
[Daemon]
SocketName=/tmp/foobar
Lifespan=231
UnicastAddress=localhost
UnicastPort=27750
MulticastAddress=239.255.0.3
MulticastPort=-27751
MountPointVFS={dir}
[Monitor]
IgnoredSignals=SIGTERM;3;
[Network]
DiscoveryAttempts=3
DiscoveryTimeout=12345
DiscoveryTTL=4
TcpKeepaliveTime=12345
TcpKeepaliveIntvl=-12346
TcpKeepaliveProbes=12347
[TLS]
TlsCertificate={cert}
TlsPrivateKey={key}
TlsCaCertificate={ca}
TlsCheckPeerId=yes
",
        dir = dir.display(),
        cert = cert.display(),
        key = key.display(),
        ca = ca.display()
    );
    let (c, w) = apply(&text).unwrap();
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(c.daemon_trace_file.as_deref(), Some("/tmp/flom_daemon.trc"));
    assert_eq!(
        c.command_trace_file.as_deref(),
        Some("/tmp/flom_command.trc")
    );
    assert!(c.append_trace_file && c.verbose);
    assert_eq!(c.resource_name, "MYRES");
    assert_eq!(c.resource_timeout, -100);
    assert_eq!(c.resource_quantity, 22);
    assert_eq!(c.lock_mode, LockMode::ProtectedRead);
    assert!(!c.resource_create);
    assert_eq!(c.resource_idle_lifespan, 234);
    assert_eq!(c.socket_name.as_deref(), Some("/tmp/foobar"));
    assert_eq!(c.daemon_lifespan, 231);
    assert_eq!(c.unicast_address.as_deref(), Some("localhost"));
    assert_eq!(c.unicast_port, 27750);
    assert_eq!(c.multicast_address.as_deref(), Some("239.255.0.3"));
    assert_eq!(c.multicast_port, 27751);
    assert_eq!(c.mount_point_vfs.as_deref(), Some(dir.to_str().unwrap()));
    assert_eq!(c.ignored_signals, vec![3, 15]);
    assert_eq!(c.discovery_attempts, 3);
    assert_eq!(c.discovery_timeout, 12345);
    assert_eq!(c.discovery_ttl, 4);
    assert_eq!(c.tcp_keepalive_time, 12345);
    assert_eq!(c.tcp_keepalive_intvl, 12346);
    assert_eq!(c.tcp_keepalive_probes, 12347);
    let canon = |p: &Path| {
        std::fs::canonicalize(p)
            .unwrap()
            .to_string_lossy()
            .into_owned()
    };
    assert_eq!(c.tls_certificate, Some(canon(&cert)));
    assert_eq!(c.tls_private_key, Some(canon(&key)));
    assert_eq!(c.tls_ca_certificate, Some(canon(&ca)));
    assert!(c.tls_check_peer_id);
    assert_eq!(c.check(), Err(CheckError::LocalAndNetwork));
    let d = c.verbose_dump();
    assert!(d.contains("[Monitor]/IgnoredSignals='SIGQUIT;SIGTERM'\n"));
    assert!(d.contains("[Daemon]/MulticastPort=27751\n"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn normalisations() {
    let (c, _) = apply("[Resource]\nQuantity=-5\nIdleLifespan=-7\n").unwrap();
    assert_eq!((c.resource_quantity, c.resource_idle_lifespan), (5, 7));
    let mut c = Config::default();
    let mut w = Vec::new();
    c.apply_str(
        "[Resource]\nQuantity=4\nIdleLifespan=9\n",
        Path::new("a"),
        &mut w,
    )
    .unwrap();
    c.apply_str(
        "[Resource]\nQuantity=0\nIdleLifespan=0\n",
        Path::new("b"),
        &mut w,
    )
    .unwrap();
    assert_eq!((c.resource_quantity, c.resource_idle_lifespan), (4, 9));
    let (c, _) = apply("[Network]\nDiscoveryAttempts=0\nDiscoveryTTL=0\n").unwrap();
    assert_eq!((c.discovery_attempts, c.discovery_ttl), (1, 1));
    let (c, _) =
        apply("[Network]\nDiscoveryAttempts=-4\nDiscoveryTTL=-3\nDiscoveryTimeout=-9\n").unwrap();
    assert_eq!(
        (c.discovery_attempts, c.discovery_ttl, c.discovery_timeout),
        (4, 3, 9)
    );
    let (c, _) = apply("[Daemon]\nLifespan=-1\nUnicastPort=-2\n[Resource]\nTimeout=0\n").unwrap();
    assert_eq!(
        (c.daemon_lifespan, c.unicast_port, c.resource_timeout),
        (-1, 2, 0)
    );
    let (c, _) = apply("[Resource]\nQuantity=-2147483648\n").unwrap();
    assert_eq!(c.resource_quantity, i32::MAX);
    let (c, _) = apply("[Resource]\nTimeout=  42  \n").unwrap();
    assert_eq!(c.resource_timeout, 42);
}

#[test]
fn empty_string_values_unset() {
    let mut c = Config::default();
    let mut w = Vec::new();
    c.apply_str("[Daemon]\nSocketName=/tmp/s\n", Path::new("a"), &mut w)
        .unwrap();
    c.apply_str("[Daemon]\nSocketName=\n", Path::new("b"), &mut w)
        .unwrap();
    assert_eq!(c.socket_name, None);
}

#[test]
fn strict_values_in_files() {
    let (c, _) = apply("[Resource]\nLockMode=  pr  \nCreate=N\n[Trace]\nVerbose=yes\n").unwrap();
    assert_eq!(c.lock_mode, LockMode::ProtectedRead);
    assert!(!c.resource_create && c.verbose);
    let (c, _) = apply("[Resource]\nLockMode=exclusive\n").unwrap();
    assert_eq!(c.lock_mode, LockMode::Exclusive);

    let e = err("[Trace]\n# x\nVerbose=maybe\n");
    assert_eq!(e.kind, ConfigErrorKind::InvalidValue);
    assert_eq!(e.line, Some(3));
    assert_eq!(
        e.to_string(),
        "flom: /x/f.conf:3: [Trace]/Verbose: 'maybe' is not a yes/no value; use yes, no, y or n, in any letter case."
    );
    assert_eq!(
        e.stdout_line(),
        "ERROR: invalid configuration found in file '/x/f.conf'"
    );
    let e = err("[Resource]\nLockMode=onlyex\n");
    assert_eq!(e.line, Some(2));
    assert!(e.message.contains("'onlyex' is not a valid lock mode"));
    let e = err("[Resource]\nTimeout=0x10\n");
    assert!(
        e.message.contains("'0x10' is not a decimal integer"),
        "{}",
        e.message
    );
    let e = err("[Network]\nDiscoveryTTL=99999999999\n");
    assert!(e.message.contains("out of range"));
    let e = err("[TLS]\nTlsCheckPeerId=true\n");
    assert!(e.message.starts_with("[TLS]/TlsCheckPeerId: 'true'"));
    let e = err("[Trace]\nAppendTraceFile=1\n");
    assert!(e.message.starts_with("[Trace]/AppendTraceFile"));
    let e = err("[Resource]\nCreate=annoy\n");
    assert!(e.message.starts_with("[Resource]/Create"));
}

#[test]
fn resource_name_in_files() {
    let e = err("[Resource]\nName=abc  \n");
    assert!(e
        .message
        .contains("'abc  ' is not a valid resource name (note the trailing whitespace)"));
    let e = err("[Resource]\nName=_RESOURCE\n");
    assert!(e.message.contains("reserved"));
    let e = err("[Resource]\nName=a-b\n");
    assert!(e.message.contains("'a-b' is not a valid resource name"));
    let (c, _) = apply("[Resource]\nName=red.green.blue\n").unwrap();
    assert_eq!(c.resource_name, "red.green.blue");
    let (c, _) = apply("[Resource]\nName=/a\\sb/c\n").unwrap();
    assert_eq!(c.resource_name, "/a b/c");
}

#[test]
fn socket_mount_tls_validation_in_files() {
    let long = format!("/tmp/{}", "x".repeat(103));
    assert_eq!(long.len(), 108);
    let e = err(&format!("[Daemon]\nSocketName={long}\n"));
    assert!(e.message.contains("shorter than 108 bytes"));
    let ok = &long[..107];
    let (c, _) = apply(&format!("[Daemon]\nSocketName={ok}\n")).unwrap();
    assert_eq!(c.socket_name.as_deref(), Some(ok));
    let e = err("[Daemon]\nMountPointVFS=/nonexistent/flom/dir\n");
    assert!(e.message.contains("not a directory that can be opened"));
    let e = err("[TLS]\nTlsCertificate=/nonexistent/cert.pem\n");
    assert_eq!(e.line, Some(2));
    assert!(e.message.contains("cannot be resolved"));
}

#[test]
fn signals_and_interfaces_warn() {
    let (c, w) = apply("[Monitor]\nIgnoredSignals=SIGTERM;BOGUS;99; sigquit ;\n").unwrap();
    assert_eq!(c.ignored_signals, vec![3, 15]);
    assert_eq!(w.len(), 2);
    assert!(w[0].starts_with("flom: /x/f.conf:2: [Monitor]/IgnoredSignals: 'BOGUS'"));
    // the key replaces the previous set
    let mut c = Config::default();
    let mut w = Vec::new();
    c.apply_str("[Monitor]\nIgnoredSignals=1;2\n", Path::new("a"), &mut w)
        .unwrap();
    c.apply_str("[Monitor]\nIgnoredSignals=15\n", Path::new("b"), &mut w)
        .unwrap();
    assert_eq!(c.ignored_signals, vec![15]);
    let (c, w) = apply("[Network]\nNetworkInterface=nosuchif0\n").unwrap();
    assert_eq!(c.network_interface, None);
    assert_eq!(w.len(), 1);
    assert!(w[0].contains("'nosuchif0' has no IPv6 address"));
}

#[test]
fn groups_optional_and_unknown_ignored() {
    let (c, _) = apply("").unwrap();
    assert_eq!(c, Config::default());
    let (c, _) = apply("[Resource]\nTimeout=5\n").unwrap();
    assert_eq!(c.resource_timeout, 5);
    let (c, _) = apply("[Unknown]\nFoo=bar\n[Resource]\nWait=zzz\nBogus=1\n").unwrap();
    assert_eq!(c, Config::default());
}

#[test]
fn first_error_in_c_read_order() {
    // Trace/Verbose is read before Resource/Timeout even if later in the file.
    let e = err("[Resource]\nTimeout=x\n[Trace]\nVerbose=x\n");
    assert_eq!(e.line, Some(4));
}

#[test]
fn syntax_errors_reported_as_load_errors() {
    let e = err("[Resource]\nTimeout 5\n");
    assert_eq!(e.kind, ConfigErrorKind::Syntax);
    assert_eq!(e.line, Some(2));
    assert_eq!(
        e.stdout_line(),
        "ERROR: error while loading file '/x/f.conf'"
    );
    assert!(e.to_string().starts_with("flom: /x/f.conf:2: "));
    let e = err("[Resource]\nName=a\\qb\n");
    assert_eq!(e.kind, ConfigErrorKind::InvalidValue);
    assert!(e.message.contains("escape"));
}

#[test]
fn layers_precedence() {
    let dir = temp_dir("layers");
    let sys = write(
        &dir,
        "flom.conf",
        "[Resource]\nTimeout=1\nQuantity=2\n[Daemon]\nLifespan=10\n[Network]\nDiscoveryTTL=7\n",
    );
    let user = write(
        &dir,
        "user",
        "[Resource]\nTimeout=3\n[Daemon]\nLifespan=20\n",
    );
    let custom = write(&dir, "custom", "[Resource]\nTimeout=5\n");
    let mut w = Vec::new();
    let c = Config::load_layers_collect(Some(&sys), Some(&user), Some(&custom), &mut w).unwrap();
    assert_eq!(c.resource_timeout, 5);
    assert_eq!(c.daemon_lifespan, 20);
    assert_eq!(c.resource_quantity, 2);
    assert_eq!(c.discovery_ttl, 7);
    let c = Config::load_layers_collect(Some(&sys), Some(&user), None, &mut w).unwrap();
    assert_eq!(c.resource_timeout, 3);
    let c = Config::load_layers_collect(Some(&sys), None, None, &mut w).unwrap();
    assert_eq!(c.resource_timeout, 1);
    let c = Config::load_layers(None, None, None).unwrap();
    assert_eq!(c, Config::default());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn missing_files() {
    let dir = temp_dir("missing");
    let nope = dir.join("nope");
    let mut w = Vec::new();
    let c = Config::load_layers_collect(Some(&nope), Some(&nope), None, &mut w).unwrap();
    assert_eq!(c, Config::default());
    let e = Config::load_layers_collect(None, None, Some(&nope), &mut w).unwrap_err();
    assert_eq!(e.kind, ConfigErrorKind::Unreadable);
    assert_eq!(e.line, None);
    assert_eq!(
        e.stdout_line(),
        format!("ERROR: error while loading file '{}'", nope.display())
    );
    assert!(e.to_string().contains("no such file or directory"), "{e}");
    // a directory as -c file is an error too
    let e = Config::load_layers_collect(None, None, Some(&dir), &mut w).unwrap_err();
    assert_eq!(e.kind, ConfigErrorKind::Unreadable);
    // an empty user file is fine
    let empty = write(&dir, "empty", "");
    assert!(Config::load_layers_collect(None, Some(&empty), Some(&empty), &mut w).is_ok());
    // a broken user file is reported (not silently skipped)
    let bad = write(&dir, "bad", "[Resource]\nTimeout=1\ngarbage\n");
    let e = Config::load_layers_collect(None, Some(&bad), None, &mut w).unwrap_err();
    assert_eq!((e.kind, e.line), (ConfigErrorKind::Syntax, Some(3)));
    let nonutf8 = dir.join("latin1");
    std::fs::write(&nonutf8, b"[Resource]\n\nName=caf\xe9\n").unwrap();
    let e = Config::load_layers_collect(None, None, Some(&nonutf8), &mut w).unwrap_err();
    assert_eq!((e.kind, e.line), (ConfigErrorKind::Syntax, Some(3)));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn report_streams() {
    let e = err("[Trace]\nVerbose=maybe\n");
    let (mut out, mut errs) = (Vec::new(), Vec::new());
    e.report(&mut out, &mut errs);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "ERROR: invalid configuration found in file '/x/f.conf'\n"
    );
    assert!(String::from_utf8(errs)
        .unwrap()
        .starts_with("flom: /x/f.conf:2: "));
}

#[test]
fn check_rules() {
    let mut c = Config::default();
    assert_eq!(c.check(), Ok(()));
    c.socket_name = Some("/tmp/x".into());
    assert_eq!(c.check(), Ok(()));
    c.unicast_address = Some("localhost".into());
    assert_eq!(c.check(), Err(CheckError::LocalAndNetwork));
    c.unicast_address = None;
    c.multicast_address = Some("239.0.0.1".into());
    assert_eq!(c.check(), Err(CheckError::LocalAndNetwork));
    let (mut out, mut errs) = (Vec::new(), Vec::new());
    CheckError::LocalAndNetwork.report(&mut out, &mut errs);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "ERROR: flom can not be configured for local (UNIX socket) and network (TCP-UDP/IP) communication at the same time.\n"
    );
    assert_eq!(
        String::from_utf8(errs).unwrap(),
        "Configuration is not valid, cannot go on!\n"
    );
    let mut c = Config {
        tls_check_peer_id: true,
        ..Config::default()
    };
    assert_eq!(c.check(), Err(CheckError::TlsCheckPeerIdWithoutTls));
    c.tls_certificate = Some("a".into());
    c.tls_private_key = Some("b".into());
    assert_eq!(c.check(), Err(CheckError::TlsCheckPeerIdWithoutTls));
    c.tls_ca_certificate = Some("c".into());
    assert_eq!(c.check(), Ok(()));
    assert_eq!(
        CheckError::TlsCheckPeerIdWithoutTls.message(),
        "ERROR: TLS check peer id can not be specified without full TLS configuration."
    );
    assert_eq!(CheckError::LocalAndNetwork.exit_status(), 99);
}

#[test]
fn resource_type_adjustments() {
    let mut c = Config {
        lock_mode: LockMode::ProtectedRead,
        resource_quantity: 3,
        ..Config::default()
    };
    let w = c.adjust_for_resource_type_collect();
    // simple: lock mode kept, quantity forced
    assert_eq!(c.lock_mode, LockMode::ProtectedRead);
    assert_eq!(c.resource_quantity, 1);
    assert_eq!(w.len(), 1);
    assert!(w[0].contains("quantity 3 is ignored"));

    let mut c = Config {
        resource_name: "foo[3]".into(),
        lock_mode: LockMode::ConcurrentRead,
        resource_quantity: 2,
        ..Config::default()
    };
    let w = c.adjust_for_resource_type_collect();
    assert_eq!(c.lock_mode, LockMode::Exclusive);
    assert_eq!(c.resource_quantity, 2);
    assert_eq!(w.len(), 1);
    assert!(w[0].contains("numeric resource supports only the exclusive lock mode"));

    let mut c = Config {
        resource_name: "/a/b".into(),
        lock_mode: LockMode::NullLock,
        ..Config::default()
    };
    assert!(c.adjust_for_resource_type_collect().is_empty());
    assert_eq!(c.lock_mode, LockMode::NullLock);

    let mut c = Config {
        resource_name: "a.b".into(),
        lock_mode: LockMode::ProtectedWrite,
        resource_quantity: 5,
        ..Config::default()
    };
    assert_eq!(c.adjust_for_resource_type_collect().len(), 2);
    assert_eq!((c.lock_mode, c.resource_quantity), (LockMode::Exclusive, 1));
}

#[test]
fn helpers() {
    assert_eq!(abs_value(-3), 3);
    assert_eq!(abs_value(i32::MIN), i32::MAX);
    assert_eq!(abs_at_least_one(0), 1);
    assert_eq!(abs_at_least_one(-2), 2);
    assert!(check_mount_point("/").is_ok());
    assert!(canonical_file("/nonexistent-flom").is_err());
    assert_eq!(
        validate_resource_name("_RESOURCE"),
        Err(ResourceNameError::Reserved)
    );
    assert_eq!(
        validate_resource_name("1a"),
        Err(ResourceNameError::Invalid)
    );
    assert_eq!(validate_resource_name("a"), Ok(()));
    assert!(system_config_path().ends_with("flom.conf"));
    let e = std::io::Error::from_raw_os_error(libc::ENOENT);
    assert_eq!(io_reason(&e), "no such file or directory");
}
