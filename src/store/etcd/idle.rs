//! Idle lifespans in etcd. A resource whose request is released stays for
//! its idle lifespan (`-i`; 1 s when 0, plus 1 s of grace, as an in-memory
//! locker does): the release txn puts its marker `P i/<resource>` (value:
//! until when, ms since the epoch on the releasing daemon's clock),
//! attached to that daemon's lease. While a marker is alive a
//! `--resource-create=no` request finds the resource, `--status` lists it
//! idle, and the daemon that put it does not end its own lifespan (as an
//! in-memory daemon keeps its idle resources). The last release's lifespan
//! wins. A daemon deletes its markers once expired, unless another
//! daemon's release replaced them. Here too: whether the resource of a
//! `--resource-create=no` request exists.

use super::keys::b64;
use super::worker::Job;
use super::{kvs, EtcdStore, Pending, State};
use crate::locker::ConnId;
use crate::rc;
use crate::store::Action;
use serde_json::{json, Value};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Grace added to an idle lifespan (C FLoM's lockers have it too).
const GRACE_MS: u64 = 1000;

/// How long a released resource stays, for a request's idle lifespan.
pub fn idle_life_ms(idle_lifespan_ms: u64) -> u64 {
    let idle = if idle_lifespan_ms > 0 {
        idle_lifespan_ms
    } else {
        1000
    };
    idle + GRACE_MS
}

pub fn wall_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Whether a marker's value says it is alive at `now_ms`.
pub fn alive(value: &str, now_ms: u64) -> bool {
    value
        .trim()
        .parse::<u64>()
        .is_ok_and(|until| until > now_ms)
}

/// One marker this daemon put: when it expires here, and its value.
pub(super) struct Marker {
    at: Instant,
    value: String,
}

impl EtcdStore {
    /// The op of a release txn that keeps `res` for `idle_lifespan_ms`
    /// (None without a lease: the keys are gone anyway).
    pub(super) fn idle_marker(&mut self, res: &str, idle_lifespan_ms: u64) -> Option<Value> {
        let lease = self.lease?;
        let life = idle_life_ms(idle_lifespan_ms);
        let value = (wall_ms(SystemTime::now()) + life).to_string();
        let key = self.layout.idle(res);
        let op = json!({ "request_put": { "key": b64(key.as_bytes()), "value": b64(value.as_bytes()), "lease": lease.to_string() } });
        let at = Instant::now() + Duration::from_millis(life);
        self.markers.insert(key, Marker { at, value });
        self.idle_changed = true;
        Some(op)
    }

    /// Arms the timer of the earliest marker, when markers changed.
    pub(super) fn arm_idle(&mut self, out: &mut Vec<Action>) {
        if !std::mem::take(&mut self.idle_changed) {
            return;
        }
        if let Some(at) = self.markers.values().map(|m| m.at).min() {
            out.push(Action::ArmTimer { at });
        }
    }

    /// Deletes the expired markers this daemon put (each only if it is
    /// still the value it put).
    pub(super) fn expire_idle(&mut self, now: Instant) {
        let expired: Vec<String> = self
            .markers
            .iter()
            .filter(|(_, m)| m.at <= now)
            .map(|(k, _)| k.clone())
            .collect();
        if expired.is_empty() {
            return; // (the timer stays armed for the earliest marker)
        }
        for key in expired {
            let Some(m) = self.markers.remove(&key) else {
                continue;
            };
            let k = b64(key.as_bytes());
            let body = json!({
                "compare": [{ "key": k, "target": "VALUE", "result": "EQUAL", "value": b64(m.value.as_bytes()) }],
                "success": [{ "request_delete_range": { "key": k } }],
            });
            let _ = self.link.jobs.send(Job::Apply {
                path: "/v3/kv/txn",
                body,
            });
        }
        self.idle_changed = true;
    }
}

impl EtcdStore {
    /// Asks whether the resource `res` of create=no request `seq` of
    /// `conn` exists: its queue has a key or its idle marker is alive.
    pub(super) fn check_exists(&mut self, conn: ConnId, seq: u64, res: &str) {
        let marker = self.layout.idle(res);
        let body = json!({ "success": [
            { "request_range": self.range_body(res) },
            { "request_range": { "key": b64(marker.as_bytes()) } },
        ] });
        self.call("/v3/kv/txn", body, Pending::Exists { conn, seq });
    }

    /// A create=no request learnt whether its resource exists.
    pub(super) fn on_exists_reply(
        &mut self,
        conn: ConnId,
        seq: u64,
        v: Value,
        out: &mut Vec<Action>,
    ) {
        let Some(l) = self.clients.get_mut(&conn).filter(|l| l.seq == seq) else {
            return;
        };
        let queued = !kvs(&v["responses"][0]["response_range"]).is_empty();
        let now_ms = wall_ms(std::time::SystemTime::now());
        let idle = super::cluster::pairs(&v["responses"][1]["response_range"])
            .any(|(_, until)| alive(&until, now_ms));
        if queued || idle {
            return self.send_put(conn);
        }
        if l.req.wait {
            l.state = State::Incubated;
            l.answered = true;
            EtcdStore::answer(out, conn, true, rc::LOCK_WAIT_RESOURCE, None);
        } else {
            self.clients.remove(&conn);
            EtcdStore::answer(out, conn, true, rc::LOCK_CANT_WAIT, None);
            out.push(Action::HalfClose { conn });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_released_resource_stays_for_its_lifespan_plus_the_grace() {
        assert_eq!(idle_life_ms(0), 2000);
        assert_eq!(idle_life_ms(5000), 6000);
        assert!(alive("1001", 1000));
        assert!(!alive("1000", 1000));
        assert!(!alive("soon", 0));
    }
}
