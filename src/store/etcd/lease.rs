//! The lease keeper: the thread that keeps the daemon's etcd lease alive
//! (a keepalive every TTL/3, on its own connection, so that no request of
//! the store ever delays one), gives the lease up 3/4 of the TTL after the
//! last keepalive etcd answered, and grants a new lease once etcd answers
//! again (revoking the given-up one). Every wait of a keepalive (connect,
//! write, read, the retries) is bounded by that give-up moment: a member
//! whose packets are dropped cannot keep the keeper waiting past it. etcd
//! keeps a lease for the whole TTL after the last keepalive it answered,
//! so the store is told of a lost lease (and closes what it held) before
//! anyone else can be granted its locks.

use super::http::{self, CallError, Client};
use super::worker::{lease_grant, num, Event, Waker};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the request worker asks of the keeper.
pub enum Command {
    /// The daemon ends: revoke the lease (which deletes every key still
    /// attached to it), then say so on `done`.
    Revoke { done: Sender<()> },
}

/// How long a revocation may take at the daemon's end.
const REVOKE_FOR: Duration = Duration::from_secs(1);

fn revoke(client: &mut Client, id: i64) -> Result<serde_json::Value, CallError> {
    client.set_limit(Some(Instant::now() + REVOKE_FOR));
    let r = client.call("/v3/lease/revoke", &json!({ "ID": id.to_string() }));
    client.set_limit(None);
    r
}

/// The keeper's loop, for `lease` of `ttl` seconds granted at `granted`.
pub(super) fn keep(
    mut client: Client,
    commands: Receiver<Command>,
    waker: Waker,
    lease: i64,
    ttl: i64,
    granted: Instant,
    stop: Arc<AtomicBool>,
) {
    let ttl_d = Duration::from_secs(ttl as u64);
    let period = ttl_d / 3;
    let give_up = ttl_d * 3 / 4;
    let mut lease = Some(lease);
    let mut given_up: Option<i64> = None;
    // When the last keepalive etcd answered was sent (etcd's TTL runs from
    // a moment at or after it).
    let mut last_ok = granted;
    let mut next = last_ok + period;
    while !stop.load(Ordering::SeqCst) {
        match commands.recv_timeout(next.saturating_duration_since(Instant::now())) {
            Ok(Command::Revoke { done }) => {
                if let Some(id) = lease.take() {
                    let _ = revoke(&mut client, id);
                }
                let _ = done.send(());
                return;
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        let Some(id) = lease else {
            if let Some(old) = given_up {
                match revoke(&mut client, old) {
                    Ok(_) | Err(CallError::Rejected(_)) => given_up = None,
                    Err(CallError::Unreachable(_)) => {}
                }
            }
            if let Ok(id) = lease_grant(&mut client, ttl, Instant::now()) {
                lease = Some(id);
                last_ok = Instant::now();
                waker.send(Event::NewLease(id));
            }
            next = Instant::now() + period;
            continue;
        };
        let sent = Instant::now();
        let limit = last_ok + give_up;
        client.set_limit(Some(limit));
        let answer = client.call_until(
            "/v3/lease/keepalive",
            &json!({ "ID": id.to_string() }),
            limit,
        );
        client.set_limit(None);
        let lost = |why: String, lease: &mut Option<i64>| {
            *lease = None;
            waker.send(Event::LeaseLost(why));
        };
        match answer {
            Ok(v) => {
                let r = v.get("result").unwrap_or(&v);
                if num(&r["TTL"]).unwrap_or(0) > 0 {
                    last_ok = sent;
                } else {
                    lost(format!("lease {id:x} expired in etcd"), &mut lease);
                }
            }
            Err(CallError::Rejected(m)) if m.contains("lease not found") => lost(m, &mut lease),
            Err(e) => {
                if Instant::now() + http::RETRY_PAUSE >= limit {
                    // Given up but maybe alive in etcd (a cluster restarted
                    // renews leases): revoked once reachable.
                    given_up = Some(id);
                    lost(e.message().to_string(), &mut lease);
                }
            }
        }
        // Sooner after a failed keepalive (another member may answer), but
        // never past the give-up moment.
        next = if last_ok == sent {
            sent + period
        } else {
            (Instant::now() + (period / 3).max(Duration::from_millis(200))).min(last_ok + give_up)
        };
    }
    if let Some(id) = lease {
        let _ = revoke(&mut client, id);
    }
}
