//! How `flom --status` prints a daemon's snapshot: a table for people, one
//! row per holder, waiter and incubated request (an unused resource gets
//! one `idle` row), like `lslocks`; or, with `--json`, one JSON document for
//! scripts (its layout is documented in flom(1)). Ages are counted on the
//! daemon's clock, so a remote daemon's skew does not show.

use crate::resource::ResourceType;
use crate::snapshot::{Entry, Snapshot};
use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The version of the JSON document's layout.
pub const JSON_VERSION: u32 = 1;

const COLUMNS: [&str; 10] = [
    "RESOURCE", "TYPE", "STATE", "MODE", "ELEMENT", "TOKEN", "PEER", "PID", "SINCE", "AGE",
];

fn age(taken: SystemTime, since: SystemTime) -> Duration {
    taken.duration_since(since).unwrap_or_default()
}

/// `850ms`, `4.2s`, `3m07s`, `2h05m`, `3d04h`.
fn short_duration(d: Duration) -> String {
    let ms = d.as_millis();
    let s = d.as_secs();
    match s {
        _ if ms < 1000 => format!("{ms}ms"),
        0..=59 => format!("{}.{}s", s, (ms % 1000) / 100),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        3600..=86399 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86400, (s % 86400) / 3600),
    }
}

fn local_time(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    crate::locker::timestamp::strftime_local("%Y-%m-%d %H:%M:%S", secs)
}

fn mode_cell(e: &Entry) -> String {
    match (e.mode, e.quantity) {
        (Some(m), _) => m.short_name().to_string(),
        (None, Some(q)) => format!("q={q}"),
        (None, None) => "-".to_string(),
    }
}

fn or_dash<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

fn row(taken: SystemTime, kind: ResourceType, state: &str, e: &Entry) -> Vec<String> {
    vec![
        e.name.clone(),
        kind.as_str().to_string(),
        state.to_string(),
        mode_cell(e),
        or_dash(e.element.as_deref()),
        or_dash(e.token),
        or_dash(Some(e.peer.address.as_str()).filter(|a| !a.is_empty())),
        or_dash(e.peer.pid),
        local_time(e.since),
        short_duration(age(taken, e.since)),
    ]
}

/// The table: a header line, then one line per row, columns padded. A
/// cluster's snapshot adds the DAEMON that keeps each request and, with
/// `keys`, its etcd KEY.
pub fn table(s: &Snapshot, keys: bool) -> String {
    let mut header: Vec<String> = COLUMNS.map(str::to_string).to_vec();
    let (daemon_column, key_column) = (s.cluster, s.cluster && keys);
    if daemon_column {
        header.push("DAEMON".into());
    }
    if key_column {
        header.push("KEY".into());
    }
    let mut rows: Vec<Vec<String>> = vec![header];
    let mut push = |mut cells: Vec<String>, e: Option<&Entry>| {
        let origin = e.and_then(|e| e.origin.as_ref());
        if daemon_column {
            cells.push(or_dash(
                origin.map(|o| o.daemon.as_str()).filter(|d| !d.is_empty()),
            ));
        }
        if key_column {
            cells.push(or_dash(origin.map(|o| o.key.as_str())));
        }
        rows.push(cells);
    };
    for r in &s.resources {
        for h in &r.holders {
            push(row(s.taken, r.kind, "held", h), Some(h));
        }
        for w in &r.waiters {
            push(row(s.taken, r.kind, "waiting", w), Some(w));
        }
        if r.holders.is_empty() && r.waiters.is_empty() {
            let mut idle = vec![
                r.name.clone(),
                r.kind.as_str().to_string(),
                "idle".to_string(),
            ];
            idle.resize(COLUMNS.len(), "-".to_string());
            push(idle, None);
        }
    }
    for i in &s.incubator {
        push(
            row(s.taken, i.kind, "incubated", &i.request),
            Some(&i.request),
        );
    }
    let mut widths = vec![0usize; rows[0].len()];
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for r in &rows {
        let mut line = String::new();
        for (i, cell) in r.iter().enumerate() {
            if i + 1 == r.len() {
                line.push_str(cell);
            } else {
                let pad = widths[i] - cell.chars().count();
                let _ = write!(line, "{cell}{}  ", " ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

// ------------------------------------------------------------ JSON

/// Appends `s` as a JSON string literal (also used by `flom-bench`).
pub fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn millis(t: SystemTime) -> u128 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis())
}

/// `"key": value` members of one object on one line.
struct Object<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> Object<'a> {
    fn open(out: &'a mut String) -> Object<'a> {
        out.push('{');
        Object { out, first: true }
    }
    fn key(&mut self, k: &str) -> &mut String {
        if !self.first {
            self.out.push_str(", ");
        }
        self.first = false;
        json_string(self.out, k);
        self.out.push_str(": ");
        self.out
    }
    fn str(&mut self, k: &str, v: Option<&str>) {
        match v {
            Some(v) => json_string(self.key(k), v),
            None => self.key(k).push_str("null"),
        }
    }
    fn num<T: ToString>(&mut self, k: &str, v: Option<T>) {
        let v = v.map_or_else(|| "null".to_string(), |v| v.to_string());
        self.key(k).push_str(&v);
    }
    fn close(self) {
        self.out.push('}');
    }
}

fn entry(out: &mut String, taken: SystemTime, kind: Option<ResourceType>, e: &Entry, held: bool) {
    let mut o = Object::open(out);
    o.str("name", Some(&e.name));
    if let Some(k) = kind {
        o.str("type", Some(k.as_str()));
    }
    o.str(
        "peer",
        Some(e.peer.address.as_str()).filter(|a| !a.is_empty()),
    );
    o.num("pid", e.peer.pid);
    o.num("uid", e.peer.uid);
    o.str("mode", e.mode.map(|m| m.short_name()));
    o.num("quantity", e.quantity);
    if held {
        o.str("element", e.element.as_deref());
        o.num("fencing_token", e.token);
    }
    o.num("since_ms", Some(millis(e.since)));
    o.num("age_ms", Some(age(taken, e.since).as_millis()));
    if let Some(origin) = &e.origin {
        o.str(
            "daemon",
            Some(origin.daemon.as_str()).filter(|d| !d.is_empty()),
        );
        o.str("etcd_key", Some(&origin.key));
    }
    o.close();
}

fn list<T>(out: &mut String, indent: &str, items: &[T], mut each: impl FnMut(&mut String, &T)) {
    if items.is_empty() {
        out.push_str("[]");
        return;
    }
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        out.push_str(if i == 0 { "\n" } else { ",\n" });
        out.push_str(indent);
        each(out, item);
    }
    out.push('\n');
    out.push_str(&indent[2..]);
    out.push(']');
}

/// The JSON document (flom(1), "STATUS"): one object, members in a fixed
/// order, one holder, waiter or incubated request per line.
pub fn json(s: &Snapshot) -> String {
    let mut out = String::new();
    let _ = write!(out, "{{\n  \"version\": {JSON_VERSION},\n  \"daemon_id\": ");
    json_string(&mut out, &s.daemon_id);
    if s.cluster {
        out.push_str(",\n  \"scope\": \"cluster\"");
    }
    if let Some(note) = &s.note {
        out.push_str(",\n  \"note\": ");
        json_string(&mut out, note);
    }
    let _ = write!(
        out,
        ",\n  \"time_ms\": {},\n  \"resources\": ",
        millis(s.taken)
    );
    list(&mut out, "    ", &s.resources, |out, r| {
        out.push_str("{\"name\": ");
        json_string(out, &r.name);
        let _ = write!(
            out,
            ", \"type\": \"{}\", \"last_fencing_token\": {},\n      \"holders\": ",
            r.kind.as_str(),
            r.last_token
        );
        list(out, "        ", &r.holders, |out, h| {
            entry(out, s.taken, None, h, true)
        });
        out.push_str(",\n      \"waiters\": ");
        list(out, "        ", &r.waiters, |out, w| {
            entry(out, s.taken, None, w, false)
        });
        out.push('}');
    });
    out.push_str(",\n  \"incubator\": ");
    list(&mut out, "    ", &s.incubator, |out, i| {
        entry(out, s.taken, Some(i.kind), &i.request, false)
    });
    out.push_str("\n}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::LockMode;
    use crate::snapshot::{Incubated, Peer, ResourceState};

    fn at(s: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(s)
    }

    fn sample() -> Snapshot {
        let e = |name: &str, since| Entry {
            peer: Peer {
                conn: 0,
                address: "localhost/".into(),
                pid: Some(42),
                uid: Some(0),
            },
            name: name.into(),
            mode: Some(LockMode::Exclusive),
            quantity: None,
            element: None,
            since: at(since),
            token: None,
            origin: None,
        };
        let mut held = e("db", 1000);
        held.token = Some(3);
        Snapshot {
            taken: at(1065),
            daemon_id: "d\"1".into(),
            resources: vec![
                ResourceState {
                    name: "db".into(),
                    kind: ResourceType::Simple,
                    last_token: 3,
                    holders: vec![held],
                    waiters: vec![e("db", 1060)],
                },
                ResourceState {
                    name: "quiet".into(),
                    kind: ResourceType::Simple,
                    last_token: 0,
                    holders: vec![],
                    waiters: vec![],
                },
            ],
            incubator: vec![Incubated {
                kind: ResourceType::Set,
                request: Entry {
                    mode: None,
                    ..e("a.b", 1064)
                },
            }],
            cluster: false,
            note: None,
        }
    }

    #[test]
    fn durations_are_short() {
        let d = Duration::from_millis;
        assert_eq!(short_duration(d(850)), "850ms");
        assert_eq!(short_duration(d(4_250)), "4.2s");
        assert_eq!(short_duration(d(187_000)), "3m07s");
        assert_eq!(short_duration(d(7_500_000)), "2h05m");
        assert_eq!(short_duration(d(3 * 86_400_000 + 4 * 3_600_000)), "3d04h");
    }

    #[test]
    fn the_table_has_one_row_per_entry() {
        let t = table(&sample(), true);
        assert!(!t.contains("DAEMON"), "{t}");
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 5, "{t}");
        assert!(lines[0].starts_with("RESOURCE  TYPE    STATE"), "{t}");
        let cells = |l: &str| l.split_whitespace().map(str::to_string).collect::<Vec<_>>();
        let held = cells(lines[1]);
        assert_eq!(
            &held[..8],
            ["db", "simple", "held", "EX", "-", "3", "localhost/", "42"]
        );
        assert_eq!(held.last().unwrap(), "1m05s");
        assert_eq!(cells(lines[2])[2], "waiting");
        assert_eq!(cells(lines[3])[..3], ["quiet", "simple", "idle"]);
        assert_eq!(cells(lines[4])[..4], ["a.b", "set", "incubated", "-"]);
    }

    #[test]
    fn the_json_document_is_complete() {
        let j = json(&sample());
        assert!(j.starts_with("{\n  \"version\": 1,\n  \"daemon_id\": \"d\\\"1\","));
        assert!(j.contains("\"holders\": [\n        {\"name\": \"db\", \"peer\": \"localhost/\", \"pid\": 42, \"uid\": 0, \"mode\": \"EX\", \"quantity\": null, \"element\": null, \"fencing_token\": 3, \"since_ms\": 1000000, \"age_ms\": 65000}"), "{j}");
        assert!(j.contains("\"holders\": [],\n      \"waiters\": []"), "{j}");
        assert!(
            j.contains("{\"name\": \"a.b\", \"type\": \"set\", \"peer\""),
            "{j}"
        );
        assert!(j.ends_with("]\n}\n"));
        assert!(!j.contains("scope") && !j.contains("etcd_key"), "{j}");
    }

    #[test]
    fn a_cluster_shows_each_entry_daemon_and_with_keys_its_key() {
        let mut s = sample();
        s.cluster = true;
        s.note = Some("partial".into());
        let remote = &mut s.resources[0].waiters[0];
        remote.peer = Peer::default();
        remote.origin = Some(crate::snapshot::Origin {
            daemon: "node2:77".into(),
            key: "/flom/r/db/00000000000000ab-00000002".into(),
        });
        let cells = |t: &str, n: usize| {
            t.lines()
                .nth(n)
                .unwrap()
                .split_whitespace()
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        let t = table(&s, false);
        assert!(t.lines().next().unwrap().ends_with("AGE    DAEMON"), "{t}");
        let waiter = cells(&t, 2);
        assert_eq!(waiter[6], "-", "{t}");
        assert_eq!(waiter.last().unwrap(), "node2:77", "{t}");
        assert_eq!(
            cells(&t, 1).last().unwrap(),
            "-",
            "a local entry without origin: {t}"
        );
        let t = table(&s, true);
        assert!(t.lines().next().unwrap().ends_with("DAEMON    KEY"), "{t}");
        assert_eq!(
            cells(&t, 2).last().unwrap(),
            "/flom/r/db/00000000000000ab-00000002"
        );
        let j = json(&s);
        assert!(
            j.contains("\"scope\": \"cluster\",\n  \"note\": \"partial\""),
            "{j}"
        );
        assert!(j.contains("\"peer\": null, \"pid\": null"), "{j}");
        assert!(
            j.contains(
                "\"daemon\": \"node2:77\", \"etcd_key\": \"/flom/r/db/00000000000000ab-00000002\"}"
            ),
            "{j}"
        );
    }
}
