//! Unit tests of `options` (option table).

use super::*;
use std::collections::HashSet;

fn s(long: &str) -> &'static Setting {
    by_long(long).unwrap()
}

fn file_place(setting: &'static Setting) -> Place<'static> {
    Place::File {
        path: Path::new("/x/f.conf"),
        line: 3,
        setting,
    }
}

/// The reason of a rejected text value.
fn reason(long: &str, text: &str) -> String {
    let setting = s(long);
    let mut c = Config::default();
    setting
        .store_text(&mut c, text, &Place::Option(setting))
        .unwrap_err()
        .reason
}

/// Stores `text` and returns the dump line and the warning.
fn stored(long: &str, text: &str) -> (String, Option<String>) {
    let setting = s(long);
    let mut c = Config::default();
    let w = setting
        .store_text(&mut c, text, &Place::Option(setting))
        .unwrap();
    (setting.dump_line(&c), w)
}

#[test]
fn table_is_consistent() {
    let longs: Vec<&str> = all().map(|s| s.long).filter(|l| !l.is_empty()).collect();
    assert_eq!(longs.iter().collect::<HashSet<_>>().len(), longs.len());
    let shorts: Vec<&str> = all().map(|s| s.short).filter(|s| !s.is_empty()).collect();
    assert_eq!(shorts.iter().collect::<HashSet<_>>().len(), shorts.len());
    let keys: HashSet<(&str, &str)> = all().map(|s| (s.group, s.key)).collect();
    assert_eq!(keys.len(), all().count());
    let order: HashSet<&str> = COMMAND_LINE_ORDER.iter().copied().collect();
    let c_longs: HashSet<&str> = SETTINGS.iter().map(|s| s.long).collect();
    assert_eq!(order, c_longs);
    for setting in all() {
        assert!(std::ptr::eq(
            by_key(setting.group, setting.key).unwrap(),
            setting
        ));
        assert_eq!(
            setting.takes_value(),
            !setting.hint.is_empty(),
            "{}",
            setting.long
        );
    }
    assert!(by_long("version").is_none());
}

#[test]
fn defaults_and_dump_lines() {
    let c = Config::default();
    assert_eq!(s("resource-timeout").dump_line(&c), "[Resource]/Timeout=-1");
    assert_eq!(
        s("resource-name").dump_line(&c),
        "[Resource]/Name='_RESOURCE'"
    );
    assert_eq!(s("lock-mode").dump_line(&c), "[Resource]/LockMode=5");
    assert_eq!(s("resource-create").dump_line(&c), "[Resource]/Create=1");
    assert_eq!(s("socket-name").dump_line(&c), "[Daemon]/SocketName=''");
    assert_eq!(
        s("unicast-port").dump_line(&c),
        "[Daemon]/UnicastPort=28015"
    );
    assert_eq!(
        s("ignore-signal").dump_line(&c),
        "[Monitor]/IgnoredSignals=''"
    );
    let mut d = Config::default();
    for setting in all() {
        setting.reset(&mut d);
    }
    assert_eq!(c, d);
}

#[test]
fn yes_no_kind() {
    for (v, code) in [("yes", 1), ("Y", 1), ("no", 0), ("N", 0)] {
        assert_eq!(
            stored("resource-create", v).0,
            format!("[Resource]/Create={code}")
        );
    }
    assert_eq!(
        reason("resource-create", "maybe"),
        "'maybe' is not a yes/no value; use yes, no, y or n, in any letter case"
    );
    assert_eq!(reason("verbose", "1"), reason("resource-create", "1"));
}

#[test]
fn lock_mode_kind() {
    assert_eq!(stored("lock-mode", "pr").0, "[Resource]/LockMode=3");
    assert!(reason("lock-mode", "onlyex").starts_with("'onlyex' is not a valid lock mode; use NL"));
}

#[test]
fn resource_name_kind() {
    assert_eq!(stored("resource-name", "a.b").0, "[Resource]/Name='a.b'");
    let setting = s("resource-name");
    let mut c = Config::default();
    let e = setting
        .store_text(&mut c, "_RESOURCE", &Place::Option(setting))
        .unwrap_err();
    assert_eq!(e.resource_name, Some(ResourceNameError::Reserved));
    assert_eq!(
        e.reason,
        "'_RESOURCE' is a reserved resource name and cannot be set; leave the name out to lock the default resource"
    );
    assert!(reason("resource-name", "a-b").starts_with(
        "'a-b' is not a valid resource name; use NAME, NAME[N], A.B.C, /A/B/C, _s_NAME[N], _S_NAME[N] or _t_FORMAT[N]"
    ));
    assert!(reason("resource-name", "ab ")
        .starts_with("'ab ' is not a valid resource name (note the trailing whitespace); use"));
}

#[test]
fn text_kinds() {
    assert_eq!(
        stored("unicast-address", "h").0,
        "[Daemon]/UnicastAddress='h'"
    );
    // empty means unset, for every text kind, without a check
    for long in [
        "unicast-address",
        "socket-name",
        "mount-point-vfs",
        "network-interface",
        "tls-certificate",
    ] {
        let setting = s(long);
        let mut c = Config::default();
        let Kind::Text(_, slot) = &setting.kind else {
            panic!("{long}")
        };
        *(slot.get_mut)(&mut c) = Some("x".into());
        assert_eq!(
            setting.store_text(&mut c, "", &Place::Option(setting)),
            Ok(None)
        );
        assert_eq!(*(slot.get)(&c), None, "{long}");
    }
    let long = format!("/tmp/{}", "s".repeat(103));
    assert!(reason("socket-name", &long).contains("shorter than 108 bytes"));
    assert!(stored("socket-name", &long[..107]).1.is_none());
    assert!(reason("mount-point-vfs", "/nonexistent/d")
        .ends_with("; the mount point must be an existing directory"));
    assert_eq!(
        stored("mount-point-vfs", "/").0,
        "[Daemon]/MountPointVFS='/'"
    );
    assert_eq!(
        reason("tls-ca-certificate", "/nonexistent/ca.pem"),
        "'/nonexistent/ca.pem' cannot be resolved (no such file or directory); give an existing file"
    );
    let (line, w) = stored("network-interface", "nosuchif0");
    assert_eq!(line, "[Network]/NetworkInterface=''");
    assert_eq!(
        w.unwrap(),
        "flom: option -n/--network-interface: network interface 'nosuchif0' has no IPv6 address; the setting is ignored."
    );
}

#[test]
fn int_rules_by_place() {
    let cases: [(&str, i32, Option<i32>, Option<i32>); 9] = [
        // (option, value, stored from a file, stored from the command line)
        ("resource-timeout", -5, Some(-5), Some(-5)),
        ("unicast-port", -7, Some(7), Some(7)),
        ("discovery-ttl", 0, Some(1), Some(1)),
        ("discovery-attempts", -3, Some(3), Some(3)),
        ("resource-quantity", 0, None, None),
        ("resource-quantity", -2, Some(2), None),
        ("resource-quantity", 4, Some(4), Some(4)),
        ("resource-idle-lifespan", 0, None, Some(0)),
        ("resource-idle-lifespan", -9, Some(9), Some(9)),
    ];
    for (long, v, from_file, from_cli) in cases {
        let setting = s(long);
        let Kind::Int(_, _, slot) = &setting.kind else {
            panic!("{long}")
        };
        for (place, want) in [
            (file_place(setting), from_file),
            (Place::Option(setting), from_cli),
        ] {
            let mut c = Config::default();
            *(slot.get_mut)(&mut c) = 12345;
            let w = setting.store_int(&mut c, v, &place);
            assert_eq!(*(slot.get)(&c), want.unwrap_or(12345), "{long} {v} {place}");
            assert_eq!(
                w.is_some(),
                long == "resource-quantity" && v < 0 && matches!(place, Place::Option(_))
            );
        }
    }
    let setting = s("resource-quantity");
    assert_eq!(
        setting.store_int(&mut Config::default(), -3, &Place::Option(setting)),
        Some("Resource quantity ignored because negative values (-3) are meaningless".into())
    );
}

#[test]
fn signals_kind() {
    let setting = s("ignore-signal");
    let mut c = Config::default();
    let items: Vec<String> = ["SIGTERM", "3", "BOGUS", "15"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let w = setting.store_signals(&mut c, &items, &file_place(setting));
    assert_eq!(c.ignored_signals, vec![3, 15]);
    assert_eq!(
        w,
        vec!["flom: /x/f.conf:3: [Monitor]/IgnoredSignals: 'BOGUS' is not a signal name or number (1-31); it is ignored (see flom --signal-list)."]
    );
    assert_eq!(
        setting.dump_line(&c),
        "[Monitor]/IgnoredSignals='SIGQUIT;SIGTERM'"
    );
}

#[test]
fn places_and_sentences() {
    let l = s("lock-mode");
    assert_eq!(Place::Option(l).to_string(), "option -l/--lock-mode");
    assert_eq!(
        Place::Option(s("discovery-ttl")).to_string(),
        "option --discovery-ttl"
    );
    assert_eq!(
        file_place(l).to_string(),
        "/x/f.conf:3: [Resource]/LockMode"
    );
    assert_eq!(
        file_place(l).sentence("why"),
        "flom: /x/f.conf:3: [Resource]/LockMode: why."
    );
    // the same validator, so the same reason from either place
    for (long, bad) in [
        ("lock-mode", "x"),
        ("tls-check-peer-id", "t"),
        ("socket-name", &"s".repeat(200)),
    ] {
        let setting = s(long);
        let from = |place: Place| {
            setting
                .store_text(&mut Config::default(), bad, &place)
                .unwrap_err()
        };
        assert_eq!(
            from(Place::Option(setting)),
            from(file_place(setting)),
            "{long}"
        );
    }
}
