//! What a grant hands out, for the etcd store: a set element (claimed by a
//! create-if-absent txn on its element key) and a sequence number (the
//! version of the counter key, or a transactional sequence's recycled
//! number taken back by a compare-and-delete).

use super::keys::{self, b64};
use super::worker::{self, Job};
use super::{EtcdStore, Pending, State};
use crate::locker::timestamp;
use crate::locker::ConnId;
use crate::rc;
use crate::resource;
use crate::store::Action;
use serde_json::{json, Value};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub(super) enum NumberStage {
    /// Reading the oldest recycled number.
    Recycled,
    /// Deleting the recycled key of `number` (it is ours if that succeeds).
    Take { number: u64 },
    /// Bumping the counter key (its version is the number).
    Counter,
}

/// The stages of taking a timestamp.
pub(super) enum StampStage {
    /// Reading the last issued grain bucket.
    Read,
    /// Writing `micros`'s bucket if the key did not change meanwhile.
    Write { micros: i64 },
}

fn wall_micros() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_micros() as i64,
        Err(e) => -(e.duration().as_micros() as i64),
    }
}

impl EtcdStore {
    /// A timestamp for `conn`: the grain bucket of the last one issued on
    /// the whole cluster is kept in `<prefix>t/<resource>`; a grant needs a
    /// later bucket, written with a compare on the key's mod revision.
    pub(super) fn take_stamp(&mut self, conn: ConnId) {
        let Some(l) = self.clients.get(&conn) else {
            return;
        };
        let seq = l.seq;
        let k = self.layout.stamp(&l.res);
        let body = json!({ "key": b64(k.as_bytes()) });
        let stage = StampStage::Read;
        self.call("/v3/kv/range", body, Pending::Stamp { conn, seq, stage });
    }

    pub(super) fn on_stamp_reply(
        &mut self,
        conn: ConnId,
        seq: u64,
        stage: StampStage,
        v: Value,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        let Some(l) = self.clients.get_mut(&conn).filter(|l| l.seq == seq) else {
            return;
        };
        let format = resource::timestamp_format(&l.req.name).unwrap_or("");
        let Some(grain) = timestamp::grain_micros(format) else {
            self.clients.remove(&conn);
            out.push(Action::Close { conn });
            return;
        };
        match stage {
            StampStage::Read => {
                let kv = v["kvs"].as_array().and_then(|a| a.first());
                let last: Option<i64> = kv
                    .and_then(|kv| kv["value"].as_str())
                    .and_then(keys::unb64)
                    .and_then(|b| String::from_utf8(b).ok())
                    .and_then(|t| t.parse().ok());
                let modrev = kv
                    .and_then(|kv| worker::num(&kv["mod_revision"]))
                    .unwrap_or(0);
                let micros = wall_micros();
                let bucket = micros.div_euclid(grain);
                if let Some(last) = last.filter(|&last| bucket <= last) {
                    // Same grain as the last grant: again at the next one.
                    let wait_us = ((last + 1) * grain - micros).max(0) as u64;
                    let at = now + Duration::from_micros(wait_us);
                    self.stamp_waits.push((at, conn, seq));
                    out.push(Action::ArmTimer { at });
                    return;
                }
                let k = b64(self.layout.stamp(&l.res).as_bytes());
                let body = json!({
                    "compare": [{ "key": k, "target": "MOD", "result": "EQUAL", "mod_revision": modrev.to_string() }],
                    "success": [{ "request_put": { "key": k, "value": b64(bucket.to_string().as_bytes()) } }],
                });
                let stage = StampStage::Write { micros };
                self.call("/v3/kv/txn", body, Pending::Stamp { conn, seq, stage });
            }
            StampStage::Write { micros } => {
                if v["succeeded"].as_bool() != Some(true) {
                    return self.take_stamp(conn);
                }
                let value = timestamp::format_value(format, micros);
                let first = !l.answered;
                l.answered = true;
                l.state = State::Held;
                l.element = Some(value.clone());
                Self::answer(out, conn, first, rc::OK, Some(value));
            }
        }
    }

    /// Timestamp requests whose next grain has come: try again.
    pub(super) fn retry_stamps(&mut self, now: Instant) {
        let (due, later): (Vec<_>, Vec<_>) = self.stamp_waits.drain(..).partition(|w| w.0 <= now);
        self.stamp_waits = later;
        for (_, conn, seq) in due {
            if self.clients.get(&conn).is_some_and(|l| l.seq == seq) {
                self.take_stamp(conn);
            }
        }
    }

    /// A sequence number for `conn`: a recycled one first (transactional
    /// sequences), else the next of the counter key.
    pub(super) fn take_number(&mut self, conn: ConnId) {
        let Some(l) = self.clients.get(&conn) else {
            return;
        };
        let seq = l.seq;
        if resource::is_transactional_sequence(&l.req.name) {
            let r = self.layout.recycled(&l.res);
            let body = json!({
                "key": b64(r.as_bytes()),
                "range_end": b64(&keys::prefix_end(&r)),
                "sort_order": "ASCEND",
                "sort_target": "CREATE",
                "limit": 1,
            });
            self.call(
                "/v3/kv/range",
                body,
                Pending::Number {
                    conn,
                    seq,
                    stage: NumberStage::Recycled,
                },
            );
        } else {
            self.take_fresh_number(conn, seq);
        }
    }

    pub(super) fn take_fresh_number(&mut self, conn: ConnId, seq: u64) {
        let Some(l) = self.clients.get(&conn) else {
            return;
        };
        let k = self.layout.counter(&l.res);
        let body = json!({ "key": b64(k.as_bytes()), "value": b64(b"n"), "prev_kv": true });
        self.call(
            "/v3/kv/put",
            body,
            Pending::Number {
                conn,
                seq,
                stage: NumberStage::Counter,
            },
        );
    }

    pub(super) fn on_number_reply(
        &mut self,
        conn: ConnId,
        seq: u64,
        stage: NumberStage,
        v: Value,
        out: &mut Vec<Action>,
    ) {
        if !self.clients.get(&conn).is_some_and(|l| l.seq == seq) {
            return; // (a number taken for a request gone meanwhile is skipped)
        }
        let number = match stage {
            NumberStage::Recycled => {
                let found = v["kvs"].as_array().and_then(|a| a.first()).cloned();
                let Some(kv) = found else {
                    return self.take_fresh_number(conn, seq);
                };
                let key = kv["key"].as_str().unwrap_or("").to_string();
                let text = kv["value"]
                    .as_str()
                    .and_then(keys::unb64)
                    .unwrap_or_default();
                let number = std::str::from_utf8(&text)
                    .ok()
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(0);
                let rev = worker::num(&kv["create_revision"]).unwrap_or(0);
                let body = json!({
                    "compare": [{ "key": key, "target": "CREATE", "result": "EQUAL", "create_revision": rev.to_string() }],
                    "success": [{ "request_delete_range": { "key": key } }],
                });
                self.call(
                    "/v3/kv/txn",
                    body,
                    Pending::Number {
                        conn,
                        seq,
                        stage: NumberStage::Take { number },
                    },
                );
                return;
            }
            NumberStage::Take { number } => {
                if v["succeeded"].as_bool() != Some(true) {
                    return self.take_number(conn);
                }
                number
            }
            NumberStage::Counter => {
                let version = worker::num(&v["prev_kv"]["version"]).unwrap_or(0);
                // 32 bits wide like the in-memory sequence, 0 never issued.
                ((version as u64 + 1) % (1 << 32)).max(1)
            }
        };
        let l = self.clients.get_mut(&conn).expect("present");
        let first = !l.answered;
        l.answered = true;
        l.state = State::Held;
        l.number = Some(number);
        l.element = Some(number.to_string());
        Self::answer(out, conn, first, rc::OK, Some(number.to_string()));
    }

    pub(super) fn on_claim_reply(
        &mut self,
        conn: ConnId,
        seq: u64,
        element: String,
        key: String,
        v: Value,
        out: &mut Vec<Action>,
    ) {
        let Some(l) = self.clients.get_mut(&conn).filter(|l| l.seq == seq) else {
            if !key.is_empty() && v["succeeded"].as_bool() == Some(true) {
                let body = json!({ "key": b64(key.as_bytes()) });
                let _ = self.link.jobs.send(Job::Apply {
                    path: "/v3/kv/deleterange",
                    body,
                });
            }
            return;
        };
        if key.is_empty() {
            // The taken elements were read: claim the first free one.
            let taken: Vec<String> = kvs_keys(&v);
            let free = l
                .req
                .name
                .split('.')
                .find(|e| !taken.contains(&self.layout.element(&l.res, e)))
                .map(str::to_string);
            let Some(e) = free else {
                // Taken by holders that are leaving: wait for a delete.
                l.state = State::Waiting;
                if !l.answered {
                    l.answered = true;
                    Self::answer(out, conn, true, rc::LOCK_ENQUEUED, None);
                }
                return;
            };
            let ek = self.layout.element(&l.res, &e);
            let lease = self.lease.unwrap_or(0);
            let body = json!({
                "compare": [{ "key": b64(ek.as_bytes()), "target": "CREATE", "result": "EQUAL", "create_revision": "0" }],
                "success": [{ "request_put": { "key": b64(ek.as_bytes()), "value": b64(l.key.as_bytes()), "lease": lease.to_string() } }],
            });
            self.call(
                "/v3/kv/txn",
                body,
                Pending::Claim {
                    conn,
                    seq,
                    element: e,
                    key: ek,
                },
            );
            return;
        }
        let first = !l.answered;
        l.answered = true;
        if v["succeeded"].as_bool() == Some(true) {
            l.state = State::Held;
            l.element = Some(element.clone());
            l.element_key = Some(key);
            Self::answer(out, conn, first, rc::OK, Some(element));
        } else {
            // Someone claimed it first: read again.
            l.state = State::Waiting;
            let res = l.res.clone();
            if first {
                Self::answer(out, conn, true, rc::LOCK_ENQUEUED, None);
            }
            self.read_queue(&res);
        }
    }
}

fn kvs_keys(v: &Value) -> Vec<String> {
    v.get("kvs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|kv| kv["key"].as_str().and_then(keys::unb64))
        .filter_map(|k| String::from_utf8(k).ok())
        .collect()
}
