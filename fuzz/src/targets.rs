//! Fuzz targets: each takes the raw input, runs the code under test and
//! asserts properties that must hold for every input (a panic or failed
//! assertion is what AFL++ records as a crash). Shared by the AFL++ entry
//! points (`fuzz/src/bin/*.rs`) and the main crate's replay of the
//! regression inputs (`tests/fuzz_regressions.rs`), so only `flom::` paths
//! are used here.

use flom::protocol::{
    base64_decode, base64_encode, encode_lock_answer, encode_lock_request, find_message_end,
    parse_message, LockRequestArgs, END_TAG, STEP_FIRST_ANSWER, STEP_REQUEST, VERB_LOCK,
};
use flom::resource::{
    capacity, path_components, resource_type, routing_key, timestamp_format, ResourceType,
};

/// Every target, by the name of its corpus and regression directories.
pub const TARGETS: &[(&str, fn(&[u8]))] = &[
    ("protocol", protocol),
    ("resource", resource),
    ("timestamp", timestamp),
];

/// The wire protocol: framing, parsing, Base64, and the round trip of what
/// parses back through the encoders.
pub fn protocol(data: &[u8]) {
    // Framing: the end found is just past an end tag; a search resumed
    // from a point before that end (the daemon's incremental read) finds
    // the same end.
    let end = find_message_end(data, 0);
    if let Some(e) = end {
        assert!(e <= data.len() && e >= END_TAG.len());
        assert_eq!(&data[e - END_TAG.len()..e], END_TAG);
    }
    let resume = data.len() / 2;
    if end.map_or(true, |e| e > resume) {
        assert_eq!(find_message_end(data, resume), end, "resumed framing");
    }

    let message = &data[..end.unwrap_or(data.len())];
    if let Ok(m) = parse_message(message) {
        lock_request_round_trip(&m);
        lock_answer_round_trip(&m);
    }

    // Base64: what decodes re-encodes to something decoding the same; any
    // bytes survive encode then decode.
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(raw) = base64_decode(text) {
            assert_eq!(base64_decode(&base64_encode(&raw)).as_deref(), Some(&raw[..]));
        }
    }
    assert_eq!(
        base64_decode(&base64_encode(data)).as_deref(),
        Some(data),
        "base64 round trip"
    );
}

/// A parsed lock request, encoded again as C FLoM lays it out, parses to
/// the same request (for the attributes the encoder writes).
fn lock_request_round_trip(m: &flom::protocol::Message) {
    if (m.verb, m.step) != (VERB_LOCK, STEP_REQUEST) {
        return;
    }
    let (Some(peer), Some(r)) = (&m.peerid, &m.resource) else {
        return;
    };
    // The encoder writes values verbatim: only quote-free text and the
    // ranges it can write survive.
    if peer.contains(['"', '<', '>']) || !(0..=255).contains(&r.mode) {
        return;
    }
    let mut out = String::new();
    encode_lock_request(
        &mut out,
        &LockRequestArgs {
            peerid: peer,
            name: &r.name,
            mode: r.mode as u8,
            wait: r.wait,
            quantity: r.quantity,
            create: r.create,
            lifespan: r.lifespan,
        },
    );
    let again = parse_message(out.as_bytes()).expect("an encoded lock request parses");
    let r2 = again.resource.expect("resource element");
    assert_eq!(again.peerid.as_deref(), Some(peer.as_str()));
    assert_eq!(
        (&r2.name, r2.wait, r2.create, r2.lifespan),
        (&r.name, r.wait, r.create, r.lifespan)
    );
    match resource_type(&r.name).unwrap_or(ResourceType::Simple) {
        ResourceType::Simple | ResourceType::Hierarchical => assert_eq!(r2.mode, r.mode),
        ResourceType::Numeric => assert_eq!(r2.quantity, r.quantity),
        _ => {}
    }
    assert_eq!(find_message_end(out.as_bytes(), 0), Some(out.len()));
}

/// A parsed lock answer encoded again parses to the same answer.
fn lock_answer_round_trip(m: &flom::protocol::Message) {
    let (Some(a), true) = (&m.answer, m.verb == VERB_LOCK) else {
        return;
    };
    let peer = m.peerid.clone().unwrap_or_default();
    if peer.contains(['"', '<', '>'])
        || a.element.as_deref().is_some_and(|e| e.contains(['"', '<', '>']))
    {
        return;
    }
    let mut out = String::new();
    encode_lock_answer(&mut out, m.step, &peer, a.rc, a.element.as_deref());
    let again = parse_message(out.as_bytes()).expect("an encoded answer parses");
    assert_eq!(again.answer.as_ref(), Some(a));
    if m.step == STEP_FIRST_ANSWER {
        assert_eq!(again.peerid.as_deref(), Some(peer.as_str()));
    }
}

/// The resource-name grammar: the type, capacity, routing key and path
/// components of a name are consistent with each other and with the
/// grammar of the spec, and a name survives the lock request's Base64.
pub fn resource(data: &[u8]) {
    let Ok(name) = std::str::from_utf8(data) else {
        return;
    };
    let kind = resource_type(name);
    let cap = capacity(name);
    if let Some(kind) = kind {
        assert!(!name.is_empty() && !name.contains('\n'));
        let key = routing_key(name, kind);
        assert!(name.starts_with(key) && !key.is_empty(), "routing key");
        match kind {
            ResourceType::Simple => {
                assert_eq!(cap, 1);
                assert!(name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_'));
            }
            ResourceType::Set => {
                assert!(name.split('.').count() >= 2);
                assert!(name.split('.').all(|e| !e.is_empty()));
            }
            ResourceType::Hierarchical => {
                assert!(name.starts_with('/'));
                assert!(path_components(name).all(|c| !c.is_empty()));
                let first = path_components(name).next().expect("a first component");
                assert_eq!(&key[1..], first, "hierarchical names route by their first component");
            }
            ResourceType::Numeric | ResourceType::Sequence => {
                assert!(name.ends_with(']') && name.contains('['));
            }
            ResourceType::Timestamp => {
                let f = timestamp_format(name).expect("a timestamp name has a format");
                assert!(!f.is_empty() && name.starts_with("_t_"));
            }
        }
        if kind != ResourceType::Timestamp {
            assert!(timestamp_format(name).is_none() || !name.starts_with("_t_"));
        }
        // The name a client sends is the name the daemon reads.
        let mut out = String::new();
        encode_lock_request(
            &mut out,
            &LockRequestArgs {
                peerid: "p",
                name,
                mode: 5,
                wait: true,
                quantity: 1,
                create: true,
                lifespan: 0,
            },
        );
        let m = parse_message(out.as_bytes()).expect("an encoded lock request parses");
        assert_eq!(m.resource.map(|r| r.name).as_deref(), Some(name));
    }
}

/// Timestamp formats: the time grain, formatting at any instant, and the
/// rule that a timestamp resource never grants twice in one grain.
pub fn timestamp(data: &[u8]) {
    if data.len() < 8 {
        return;
    }
    // Any instant within about 1,100 years of 1970.
    let raw = i64::from_le_bytes(data[..8].try_into().expect("8 bytes"));
    let micros = raw % (1 << 55);
    let Ok(format) = std::str::from_utf8(&data[8..]) else {
        return;
    };
    let grain = flom::locker::timestamp::grain_micros(format);
    let value = flom::locker::timestamp::format_value(format, micros);
    assert!(value.len() < 1000, "values fit C FLoM's buffer");
    let Some(grain) = grain else {
        return;
    };
    assert!(
        [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 60_000_000, 3_600_000_000].contains(&grain),
        "grain {grain}"
    );
    let name = format!("_t_{format}[1]");
    if resource_type(&name) != Some(ResourceType::Timestamp) {
        return;
    }
    grain_rule(&name, micros, grain);
}

/// On a one-slot timestamp resource whose clock reads `micros`: a grant,
/// a release, then no second grant before the next grain; one after it.
fn grain_rule(name: &str, micros: i64, grain: i64) {
    use flom::locker::{Locker, Outcome, Request};
    use flom::resource::LockMode;
    use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

    let base = Instant::now();
    let start = if micros >= 0 {
        UNIX_EPOCH + Duration::from_micros(micros as u64)
    } else {
        UNIX_EPOCH - Duration::from_micros(micros.unsigned_abs())
    };
    let clock = Box::new(move |now: Instant| -> SystemTime { start + now.duration_since(base) });
    let mut l = Locker::with_wall_clock(name, ResourceType::Timestamp, 0, clock)
        .expect("a timestamp name with a grain makes a locker");
    let req = |wait| Request {
        name: name.to_string(),
        mode: LockMode::Exclusive,
        quantity: 1,
        wait,
    };
    let mut grants = Vec::new();
    assert!(matches!(l.lock(1, req(false), base), Outcome::Granted(Some(_))));
    assert!(l.unlock(1, false, base, &mut grants));
    assert_eq!(l.lock(2, req(false), base), Outcome::Busy, "two grants in one grain");
    // Queued: the timer's wake-up is at most one grain away and grants it.
    assert_eq!(l.lock(3, req(true), base), Outcome::Enqueued);
    let wake = l.next_wakeup(base).expect("a queued timestamp request arms a timer");
    assert!(wake <= base + Duration::from_micros(grain as u64));
    l.on_timer(wake, &mut grants);
    assert_eq!(grants.len(), 1, "granted at the next grain boundary");
    assert_eq!(grants[0].conn, 3);
}
