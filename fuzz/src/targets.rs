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

/// A fuzz target: the name of its corpus and regression directories, and
/// the function fed with each input.
pub type Target = (&'static str, fn(&[u8]));

/// Every target.
pub const TARGETS: &[Target] = &[
    ("protocol", protocol),
    ("resource", resource),
    ("timestamp", timestamp),
    ("ini", ini),
    ("message_path", message_path),
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
            assert_eq!(
                base64_decode(&base64_encode(&raw)).as_deref(),
                Some(&raw[..])
            );
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
        || a.element
            .as_deref()
            .is_some_and(|e| e.contains(['"', '<', '>']))
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
                assert_eq!(
                    &key[1..],
                    first,
                    "hierarchical names route by their first component"
                );
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
        [
            1,
            10,
            100,
            1_000,
            10_000,
            100_000,
            1_000_000,
            60_000_000,
            3_600_000_000
        ]
        .contains(&grain),
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
    assert!(matches!(
        l.lock(1, req(false), base),
        Outcome::Granted(Some(_))
    ));
    assert!(l.unlock(1, false, base, &mut grants));
    assert_eq!(
        l.lock(2, req(false), base),
        Outcome::Busy,
        "two grants in one grain"
    );
    // Queued: the timer's wake-up is at most one grain away and grants it.
    assert_eq!(l.lock(3, req(true), base), Outcome::Enqueued);
    let wake = l
        .next_wakeup(base)
        .expect("a queued timestamp request arms a timer");
    assert!(wake <= base + Duration::from_micros(grain as u64));
    l.on_timer(wake, &mut grants);
    assert_eq!(grants.len(), 1, "granted at the next grain boundary");
    assert_eq!(grants[0].conn, 3);
}

/// The INI parser (key files) and what the option table makes of it: no
/// panic; entries carry a group, a key and a line inside the text; a
/// parsed file written out again parses to the same entries; applying the
/// text to a configuration either works or names a line of the text; the
/// `--verbose` dump of the result can be printed.
pub fn ini(data: &[u8]) {
    use flom::config::Config;
    use flom::keyfile::{parse_decimal_i32, split_list, unescape, KeyFile};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lines = text.split('\n').count();
    match KeyFile::parse(text) {
        Ok(kf) => {
            let mut again = String::new();
            let mut round_trip = true;
            for e in &kf.entries {
                assert!(e.line >= 1 && e.line <= lines, "entry line {}", e.line);
                assert!(!e.group.is_empty() && !e.key.is_empty());
                assert!(!e.key.contains(['[', ']', '=']) || e.key.contains('['));
                let _ = (
                    unescape(&e.raw),
                    split_list(&e.raw),
                    parse_decimal_i32(&e.raw),
                );
                round_trip &= !e.raw.ends_with('\r') && !e.key.starts_with('#');
                again.push_str(&format!("[{}]\n{}={}\n", e.group, e.key, e.raw));
            }
            if round_trip {
                let kf2 = KeyFile::parse(&again).expect("a written-out key file parses");
                let strip = |k: &KeyFile| -> Vec<(String, String, String)> {
                    k.entries
                        .iter()
                        .map(|e| (e.group.clone(), e.key.clone(), e.raw.clone()))
                        .collect()
                };
                assert_eq!(strip(&kf2), strip(&kf), "key file round trip");
            }
        }
        Err(e) => assert!(e.line >= 1 && e.line <= lines && !e.message.is_empty()),
    }
    let mut config = Config::default();
    let mut warnings = Vec::new();
    match config.apply_str(text, std::path::Path::new("fuzz.conf"), &mut warnings) {
        Ok(()) => {
            for s in flom::options::SETTINGS.iter() {
                let _ = s.dump_line(&config);
            }
        }
        Err(e) => assert!(e.line.map_or(true, |l| l >= 1 && l <= lines)),
    }
}

/// The daemon's whole message path without sockets: bytes from up to 8
/// connections are framed, parsed and routed into the lock store, and the
/// store's actions are carried out as the event loop does. Checked: no
/// panic; answers only go to open connections that have not been
/// half-closed, the first with step 16 and later ones step 24; when every
/// client has left and time has passed, the store is empty (nothing stuck).
///
/// The input is a list of operations; the low 3 bits of an operation byte
/// pick the connection, the next 3 bits what happens (raw bytes, a lock
/// request, an unlock, the client closes, time passes, a management
/// request, a new client).
pub fn message_path(data: &[u8]) {
    use flom::daemon::{route, Control, Phase};
    use flom::protocol::{encode_management, encode_unlock, DAEMON_MAX_MESSAGE};
    use flom::store::{Action, Client, LockStore, MemoryStore, Now, Uids};
    use std::time::{Duration, UNIX_EPOCH};

    const NAMES: [&str; 8] = [
        "a",
        "p[2]",
        "r.g",
        "/h/x",
        "/h",
        "_s_q[1]",
        "_S_t[2]",
        "_t_%s#fff[1]",
    ];
    #[derive(Default)]
    struct Conn {
        open: bool,
        half_closed: bool,
        phase: Option<Phase>,
        buf: Vec<u8>,
        answers: u32,
    }
    struct Loop {
        store: MemoryStore,
        conns: Vec<Conn>,
        timers: Vec<std::time::Instant>,
        now: Now,
        actions: Vec<Action>,
    }
    impl Loop {
        fn apply(&mut self) {
            while !self.actions.is_empty() {
                let batch = std::mem::take(&mut self.actions);
                for a in batch {
                    match a {
                        Action::Answer { conn, step, .. } => {
                            let c = &mut self.conns[conn as usize];
                            assert!(c.open, "answer to closed connection {conn}");
                            assert!(!c.half_closed, "answer after half-close on {conn}");
                            let want = if c.answers == 0 { 16 } else { 24 };
                            assert_eq!(step, want, "answer {} of connection {conn}", c.answers);
                            c.answers += 1;
                        }
                        Action::ArmTimer { at } => self.timers.push(at),
                        Action::HalfClose { conn } => self.conns[conn as usize].half_closed = true,
                        Action::Close { conn } => self.close(conn as usize),
                        Action::Status { conn, .. } => {
                            panic!("the in-memory store answered a status later ({conn})")
                        }
                    }
                }
            }
        }
        fn close(&mut self, id: usize) {
            if self.conns[id].open {
                self.conns[id] = Conn::default();
                self.store
                    .disconnect(id as u32, self.now, &mut self.actions);
            }
        }
        fn deliver(&mut self, id: usize, bytes: &[u8]) {
            if !self.conns[id].open {
                return;
            }
            self.conns[id].buf.extend_from_slice(bytes);
            loop {
                let c = &mut self.conns[id];
                if !c.open {
                    return;
                }
                let Some(end) = find_message_end(&c.buf, 0) else {
                    if c.buf.len() > DAEMON_MAX_MESSAGE {
                        self.close(id);
                        self.apply();
                    }
                    return;
                };
                let parsed = parse_message(&c.buf[..end]);
                c.buf.drain(..end);
                let Ok(msg) = parsed else {
                    self.close(id);
                    self.apply();
                    return;
                };
                let name = || String::from("fuzz");
                let client = Client {
                    conn: id as u32,
                    uid: id as u64 + 100,
                    peer_name: &name,
                };
                let phase = c.phase.get_or_insert(Phase::New);
                let control = route(
                    &mut self.store,
                    client,
                    phase,
                    msg,
                    self.now,
                    &mut self.actions,
                );
                let _ = matches!(control, Control::Shutdown { .. });
                self.apply();
            }
        }
        fn pass(&mut self, d: Duration) {
            self.now.instant += d;
            self.now.wall += d;
            for _ in 0..64 {
                let due: Vec<_> = self
                    .timers
                    .iter()
                    .filter(|&&t| t <= self.now.instant)
                    .copied()
                    .collect();
                if due.is_empty() {
                    return;
                }
                self.timers.retain(|&t| t > self.now.instant);
                self.store.timer(self.now, &mut self.actions);
                self.apply();
            }
        }
    }

    let start = Now {
        instant: std::time::Instant::now(),
        wall: UNIX_EPOCH + Duration::from_secs(1_795_340_691),
    };
    let mut l = Loop {
        store: MemoryStore::new(Uids::default(), None, start),
        conns: (0..8)
            .map(|_| Conn {
                open: true,
                ..Conn::default()
            })
            .collect(),
        timers: Vec::new(),
        now: start,
        actions: Vec::new(),
    };
    let mut i = 0;
    let byte = |i: &mut usize| -> u8 {
        let b = data.get(*i).copied().unwrap_or(0);
        *i += 1;
        b
    };
    while i < data.len() {
        let op = byte(&mut i);
        let id = usize::from(op & 7);
        let mut msg = String::new();
        match (op >> 3) & 7 {
            0 => {
                let len = usize::from(byte(&mut i));
                let end = (i + len).min(data.len());
                let chunk = data[i.min(end)..end].to_vec();
                i = end;
                l.deliver(id, &chunk);
                continue;
            }
            1 => {
                let (a, b) = (byte(&mut i), byte(&mut i));
                encode_lock_request(
                    &mut msg,
                    &LockRequestArgs {
                        peerid: "fuzz",
                        name: NAMES[usize::from(a & 7)],
                        mode: (a >> 3) % 6,
                        wait: a & 0x40 != 0,
                        quantity: i64::from(b & 3),
                        create: a & 0x80 == 0,
                        lifespan: i64::from(b >> 2) * 100,
                    },
                );
            }
            2 => {
                let a = byte(&mut i);
                encode_unlock(&mut msg, NAMES[usize::from(a & 7)], a & 8 != 0);
            }
            3 => {
                l.close(id);
                l.apply();
                continue;
            }
            4 => {
                let ms = u64::from(byte(&mut i)) * 20;
                l.pass(Duration::from_millis(ms));
                continue;
            }
            5 => encode_management(&mut msg, "fuzz", op & 0x40 != 0),
            _ => {
                if !l.conns[id].open {
                    l.conns[id].open = true;
                }
                continue;
            }
        }
        l.deliver(id, msg.as_bytes());
    }
    // Every client leaves; the lockers' idle lives run out.
    for id in 0..8 {
        l.close(id);
        l.apply();
    }
    for _ in 0..8 {
        l.pass(Duration::from_secs(3600));
    }
    l.pass(Duration::from_secs(3600 * 24 * 30));
    assert!(l.store.is_empty(), "resources left after every client left");
}
