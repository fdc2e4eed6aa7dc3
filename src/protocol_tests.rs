//! Unit tests of the wire protocol: C's bytes, parsing rules, framing.

use super::*;

const PEER: &str = "3d1219c7c4c5404aaa1f6d2a48adfda4";

#[test]
fn base64_roundtrip() {
    assert_eq!(base64_encode(b"_RESOURCE"), "X1JFU09VUkNF");
    assert_eq!(base64_encode(b"pool[3]"), "cG9vbFszXQ==");
    assert_eq!(base64_encode(b"idle"), "aWRsZQ==");
    assert_eq!(base64_encode(b"incub"), "aW5jdWI=");
    for s in ["", "a", "ab", "abc", "abcd", "red.green.blue"] {
        assert_eq!(
            base64_decode(&base64_encode(s.as_bytes())).unwrap(),
            s.as_bytes()
        );
    }
    assert_eq!(base64_decode("X1JF=09V"), None);
    assert_eq!(base64_decode("abc"), None);
    assert_eq!(base64_decode("ab$d"), None);
}

#[test]
fn encode_matches_c_bytes() {
    let mut s = String::new();
    encode_lock_request(
        &mut s,
        &LockRequestArgs {
            peerid: PEER,
            name: "_RESOURCE",
            mode: 5,
            wait: true,
            quantity: 1,
            create: true,
            lifespan: 0,
        },
    );
    assert_eq!(s, "<?xml version=\"1.0\" encoding=\"UTF-8\" ?><msg level=\"3\" verb=\"1\" step=\"8\"><session peerid=\"3d1219c7c4c5404aaa1f6d2a48adfda4\"/><resource name=\"X1JFU09VUkNF\" mode=\"5\" wait=\"1\" create=\"1\" lifespan=\"0\"/></msg>");
    s.clear();
    encode_lock_request(
        &mut s,
        &LockRequestArgs {
            peerid: PEER,
            name: "foo[3]",
            mode: 5,
            wait: true,
            quantity: 2,
            create: true,
            lifespan: 0,
        },
    );
    assert_eq!(s, "<?xml version=\"1.0\" encoding=\"UTF-8\" ?><msg level=\"3\" verb=\"1\" step=\"8\"><session peerid=\"3d1219c7c4c5404aaa1f6d2a48adfda4\"/><resource name=\"Zm9vWzNd\" wait=\"1\" quantity=\"2\" create=\"1\" lifespan=\"0\"/></msg>");
    s.clear();
    encode_lock_answer(&mut s, 16, PEER, 0, Some("red"));
    assert_eq!(s, "<?xml version=\"1.0\" encoding=\"UTF-8\" ?><msg level=\"3\" verb=\"1\" step=\"16\"><session peerid=\"3d1219c7c4c5404aaa1f6d2a48adfda4\"/><answer rc=\"0\" element=\"red\"/></msg>");
    s.clear();
    encode_lock_answer(&mut s, 24, PEER, 0, None);
    assert_eq!(s, "<?xml version=\"1.0\" encoding=\"UTF-8\" ?><msg level=\"3\" verb=\"1\" step=\"24\"><answer rc=\"0\"/></msg>");
    s.clear();
    encode_unlock(&mut s, "_RESOURCE", false);
    assert_eq!(s, "<?xml version=\"1.0\" encoding=\"UTF-8\" ?><msg level=\"3\" verb=\"2\" step=\"8\"><resource name=\"X1JFU09VUkNF\" rollback=\"0\" /></msg>");
    s.clear();
    encode_management(&mut s, PEER, false);
    assert_eq!(s, "<?xml version=\"1.0\" encoding=\"UTF-8\" ?><msg level=\"3\" verb=\"5\" step=\"8\"><session peerid=\"3d1219c7c4c5404aaa1f6d2a48adfda4\"/><shutdown immediate=\"0\"/></msg>");
    s.clear();
    encode_discover(&mut s);
    assert_eq!(
        s,
        "<?xml version=\"1.0\" encoding=\"UTF-8\" ?><msg level=\"3\" verb=\"4\" step=\"8\"></msg>"
    );
    s.clear();
    encode_discover_reply(&mut s, "", 36033);
    assert_eq!(s, "<?xml version=\"1.0\" encoding=\"UTF-8\" ?><msg level=\"3\" verb=\"4\" step=\"16\"><network address=\"\" port=\"36033\"/></msg>");
}

#[test]
fn parse_roundtrip_and_rules() {
    let m = parse_message(b"<?xml version=\"1.0\" encoding=\"UTF-8\" ?><msg level=\"3\" verb=\"1\" step=\"8\"><session peerid=\"x\"/><resource name=\"X1JFU09VUkNF\" mode=\"3\" wait=\"1\" create=\"0\" lifespan=\"2000\"/></msg>").unwrap();
    assert_eq!((m.verb, m.step), (1, 8));
    let r = m.resource.unwrap();
    assert_eq!(
        (r.name.as_str(), r.mode, r.wait, r.create, r.lifespan),
        ("_RESOURCE", 3, true, false, 2000)
    );
    // level absent is accepted, level 2 is a mismatch
    assert!(parse_message(b"<msg verb=\"4\" step=\"8\"></msg>").is_ok());
    assert_eq!(
        parse_message(b"<msg level=\"2\" verb=\"4\" step=\"8\"></msg>"),
        Err(ParseError::LevelMismatch)
    );
    // rollback on a lock is invalid, mode on an unlock is invalid
    assert!(parse_message(
        b"<msg level=\"3\" verb=\"1\" step=\"8\"><resource name=\"YQ==\" rollback=\"1\"/></msg>"
    )
    .is_err());
    assert!(parse_message(
        b"<msg level=\"3\" verb=\"2\" step=\"8\"><resource name=\"YQ==\" mode=\"1\" /></msg>"
    )
    .is_err());
    // unknown element without attributes ignored, with attributes invalid
    assert!(parse_message(b"<msg level=\"3\" verb=\"4\" step=\"8\"><foo/></msg>").is_ok());
    assert!(parse_message(b"<msg level=\"3\" verb=\"4\" step=\"8\"><foo a=\"1\"/></msg>").is_err());
    // invalid base64
    assert!(
        parse_message(b"<msg level=\"3\" verb=\"1\" step=\"8\"><resource name=\"Y\"/></msg>")
            .is_err()
    );
    // garbage
    assert!(parse_message(b"hello</msg>").is_err());
    assert!(parse_message(b"\xff\xfe</msg>").is_err());
    let a = parse_message(b"<?xml version=\"1.0\" encoding=\"UTF-8\" ?><msg level=\"3\" verb=\"1\" step=\"24\"><answer rc=\"0\" element=\"ts.11/22/26.09:44:51\"/></msg>").unwrap();
    assert_eq!(
        a.answer.unwrap().element.as_deref(),
        Some("ts.11/22/26.09:44:51")
    );
    let d = parse_message(b"<?xml version=\"1.0\" encoding=\"UTF-8\" ?><msg level=\"3\" verb=\"4\" step=\"16\"><network address=\"127.0.0.1\" port=\"29113\"/></msg>").unwrap();
    assert_eq!(
        d.network.unwrap(),
        NetworkElem {
            address: "127.0.0.1".into(),
            port: 29113
        }
    );
}

#[test]
fn framing() {
    let two = b"<msg verb=\"4\" step=\"8\"></msg><msg verb=\"4\" step=\"8\"></msg>";
    let end = find_message_end(two, 0).unwrap();
    assert_eq!(&two[..end], b"<msg verb=\"4\" step=\"8\"></msg>");
    assert_eq!(find_message_end(&two[..end - 1], 0), None);
    assert_eq!(find_message_end(two, end - 2), Some(end));
}

#[test]
fn fencing_and_status_extensions() {
    let args = LockRequestArgs {
        peerid: PEER,
        name: "R",
        mode: 5,
        wait: true,
        quantity: 1,
        create: true,
        lifespan: 0,
    };
    let (mut plain, mut fenced) = (String::new(), String::new());
    encode_lock_request(&mut plain, &args);
    let fencing = Asked {
        fencing: true,
        etcd_key: false,
    };
    encode_lock_request_extended(&mut fenced, &args, fencing);
    assert_eq!(fenced, plain.replace("/></msg>", "/><fencing/></msg>"));
    assert!(!parse_message(plain.as_bytes()).unwrap().fencing_requested);
    assert!(parse_message(fenced.as_bytes()).unwrap().fencing_requested);
    let mut a = String::new();
    let told = Told {
        fencing_token: Some(42),
        etcd_key: None,
    };
    encode_lock_answer_extended(&mut a, 24, PEER, 0, None, told);
    assert_eq!(a, "<?xml version=\"1.0\" encoding=\"UTF-8\" ?><msg level=\"3\" verb=\"1\" step=\"24\"><answer rc=\"0\"/><fencing token=\"42\"/></msg>");
    assert_eq!(parse_message(a.as_bytes()).unwrap().fencing_token, Some(42));
    let mut b = String::new();
    encode_lock_answer_extended(&mut b, 24, PEER, 0, None, Told::default());
    let mut c = String::new();
    encode_lock_answer(&mut c, 24, PEER, 0, None);
    assert_eq!(b, c);
    // The etcd key of a request, asked with --verbose.
    let mut keyed = String::new();
    let asked = Asked {
        fencing: false,
        etcd_key: true,
    };
    encode_lock_request_extended(&mut keyed, &args, asked);
    assert_eq!(keyed, plain.replace("/></msg>", "/><etcd-key/></msg>"));
    assert!(parse_message(keyed.as_bytes()).unwrap().etcd_key_requested);
    let mut k = String::new();
    let told = Told {
        fencing_token: None,
        etcd_key: Some("/flom/r/R/00ab-1"),
    };
    encode_lock_answer_extended(&mut k, 16, PEER, 3, None, told);
    let m = parse_message(k.as_bytes()).unwrap();
    assert_eq!(m.etcd_key.as_deref(), Some("/flom/r/R/00ab-1"));
    assert!(parse_message(c.as_bytes()).unwrap().etcd_key.is_none());
    let mut st = String::new();
    encode_status_request(&mut st, PEER);
    let m = parse_message(st.as_bytes()).unwrap();
    assert_eq!(
        (m.verb, m.status_version, m.shutdown_immediate),
        (5, Some(1), None)
    );
    // A token on a request, or a status element elsewhere, is invalid.
    assert!(parse_message(
        fenced
            .replace("<fencing/>", "<fencing token=\"1\"/>")
            .as_bytes()
    )
    .is_err());
    assert!(
        parse_message(b"<msg level=\"3\" verb=\"1\" step=\"8\"><status version=\"1\"/></msg>")
            .is_err()
    );
}
