//! The threads that talk to etcd so that the daemon's loop never waits for
//! it: the worker (requests from the store over a channel, in order, on one
//! connection), the lease keeper (see `lease`: keepalives on a connection
//! of its own) and the watcher (a long-lived `/v3/watch` stream over the
//! whole prefix). They hand their results to the loop over a channel and
//! wake it through an eventfd that the loop's poller watches.

use super::http::{CallError, Client, Endpoint};
use super::keys::{self, b64, Layout};
use super::lease::{self, Command};
use serde_json::{json, Value};
use std::os::unix::io::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// How long a request is retried while no member answers.
const RETRY_FOR: Duration = Duration::from_millis(2500);

/// A request of the store.
pub enum Job {
    /// POST `body` to `path`; the reply comes back as `Event::Reply { id }`.
    Call {
        id: u64,
        path: &'static str,
        body: Value,
    },
    /// POST `body` to `path` (a delete, a release txn), retried until done
    /// or the lease is gone; no reply.
    Apply { path: &'static str, body: Value },
    /// The daemon ends: send what is queued, revoke the lease (which
    /// deletes every key still attached to it), then say so on `done`.
    Stop { done: Sender<()> },
}

/// What the threads tell the store.
pub enum Event {
    Reply {
        id: u64,
        result: Result<Value, String>,
    },
    /// A key of this (escaped) resource was deleted.
    Deleted(String),
    /// A waiter key of this (escaped) resource was put.
    Put(String),
    /// The watch stream was (re)opened: anything may have changed meanwhile.
    WatchReset,
    /// The lease expired or could not be kept alive: every key is gone.
    LeaseLost(String),
    /// A new lease after a lost one.
    NewLease(i64),
}

/// The loop's end: the eventfd and the channel.
pub struct Link {
    pub fd: RawFd,
    pub events: Receiver<Event>,
    pub jobs: Sender<Job>,
    stop: Arc<AtomicBool>,
}

#[derive(Clone)]
pub(super) struct Waker {
    fd: RawFd,
    tx: Sender<Event>,
}

impl Waker {
    pub(super) fn send(&self, ev: Event) {
        if self.tx.send(ev).is_ok() {
            let one: u64 = 1;
            // SAFETY: an 8-byte write to our eventfd.
            unsafe { libc::write(self.fd, (&one as *const u64).cast(), 8) };
        }
    }
}

impl Link {
    /// Clears the eventfd (the loop then drains `events`).
    pub fn clear(&self) {
        let mut v: u64 = 0;
        // SAFETY: an 8-byte read from our non-blocking eventfd.
        unsafe { libc::read(self.fd, (&mut v as *mut u64).cast(), 8) };
    }
}

/// How long a daemon that ends waits for its lease's revocation.
const STOP_WAIT: Duration = Duration::from_secs(2);

impl Drop for Link {
    fn drop(&mut self) {
        let (tx, rx) = mpsc::channel();
        if self.jobs.send(Job::Stop { done: tx }).is_ok() {
            let _ = rx.recv_timeout(STOP_WAIT);
        }
        self.stop.store(true, Ordering::SeqCst);
        // The eventfd stays open: the watch thread may still write to it
        // (the daemon exits right after).
    }
}

/// Grants a lease of `ttl` seconds: the start-up check (blocking, before the
/// daemon detaches), which names the endpoint when the cluster is not there.
pub fn grant_lease(endpoints: &[Endpoint], ttl: i64) -> Result<i64, String> {
    let mut client = Client::new(endpoints.to_vec());
    // A cluster starting or electing a leader: tried again for a while.
    lease_grant(&mut client, ttl, Instant::now() + START_RETRY_FOR)
}

/// How long the start-up lease grant is tried while no member answers.
const START_RETRY_FOR: Duration = Duration::from_secs(2);

pub(super) fn lease_grant(client: &mut Client, ttl: i64, deadline: Instant) -> Result<i64, String> {
    let v = client
        .call_until("/v3/lease/grant", &json!({ "TTL": ttl }), deadline)
        .map_err(|e| e.message().to_string())?;
    num(&v["ID"]).filter(|&id| id != 0).ok_or_else(|| {
        format!(
            "flom: etcd at {} granted no lease: {}",
            client.endpoints()[0].url,
            v.get("error")
                .and_then(Value::as_str)
                .unwrap_or("no lease id")
        )
    })
}

/// An int64 of the gateway's JSON (a string or a number).
pub fn num(v: &Value) -> Option<i64> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

/// Starts the worker, the lease keeper for `lease` (granted at
/// `granted`) and the watcher.
pub fn start(
    endpoints: Vec<Endpoint>,
    layout: Layout,
    lease: i64,
    ttl: i64,
    granted: Instant,
) -> std::io::Result<Link> {
    // SAFETY: creating an eventfd; the result is checked.
    let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let (etx, erx) = mpsc::channel();
    let (jtx, jrx) = mpsc::channel();
    let (ltx, lrx) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let waker = Waker { fd, tx: etx };
    let (w, eps, st) = (waker.clone(), endpoints.clone(), stop.clone());
    spawn_guarded("flom-etcd-lease", &waker, move || {
        lease::keep(Client::new(eps), lrx, w, lease, ttl, granted, st)
    })?;
    let (w, eps, st) = (waker.clone(), endpoints.clone(), stop.clone());
    spawn_guarded("flom-etcd", &waker, move || {
        work(Client::new(eps), jrx, w, ltx, st)
    })?;
    let st = stop.clone();
    thread::Builder::new()
        .name("flom-etcd-watch".into())
        .spawn(move || watch(Client::new(endpoints), layout, waker, st))?;
    Ok(Link {
        fd,
        events: erx,
        jobs: jtx,
        stop,
    })
}

/// Starts thread `name` running `f`. Should it panic, the store is told
/// the lease is lost: it closes what the lease held and refuses requests
/// from then on (no keepalive or request would run any more).
fn spawn_guarded(
    name: &str,
    waker: &Waker,
    f: impl FnOnce() + Send + 'static,
) -> std::io::Result<()> {
    let alarm = waker.clone();
    let what = format!("the etcd thread {name} failed");
    thread::Builder::new().name(name.into()).spawn(move || {
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).is_err() {
            alarm.send(Event::LeaseLost(what));
        }
    })?;
    Ok(())
}

/// How often queued deletes are tried again while etcd does not answer.
const DELETE_RETRY: Duration = Duration::from_millis(200);

fn work(
    mut client: Client,
    jobs: Receiver<Job>,
    waker: Waker,
    keeper: Sender<Command>,
    stop: Arc<AtomicBool>,
) {
    let mut deletes: Vec<(&'static str, Value)> = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        let wait = if deletes.is_empty() {
            Duration::from_secs(1)
        } else {
            DELETE_RETRY
        };
        match jobs.recv_timeout(wait) {
            Ok(Job::Call { id, path, body }) => {
                // Retried through an election (a leader change), so that a
                // request made then waits for the new leader.
                let result = client
                    .call_until(path, &body, Instant::now() + RETRY_FOR)
                    .map_err(|e| e.message().to_string());
                waker.send(Event::Reply { id, result });
            }
            Ok(Job::Apply { path, body }) => {
                deletes.insert(0, (path, body));
                flush_deletes(&mut client, &mut deletes);
            }
            Ok(Job::Stop { done }) => {
                flush_deletes(&mut client, &mut deletes);
                let (tx, rx) = mpsc::channel();
                if keeper.send(Command::Revoke { done: tx }).is_ok() {
                    let _ = rx.recv_timeout(STOP_WAIT);
                }
                let _ = done.send(());
                return;
            }
            Err(RecvTimeoutError::Timeout) => flush_deletes(&mut client, &mut deletes),
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    flush_deletes(&mut client, &mut deletes);
}

/// Sends the queued fire-and-forget requests, oldest first.
fn flush_deletes(client: &mut Client, deletes: &mut Vec<(&'static str, Value)>) {
    while let Some((path, body)) = deletes.last() {
        match client.call(path, body) {
            Ok(_) | Err(CallError::Rejected(_)) => {
                deletes.pop();
            }
            Err(CallError::Unreachable(_)) => return,
        }
    }
}

fn watch(mut client: Client, layout: Layout, waker: Waker, stop: Arc<AtomicBool>) {
    let body = json!({ "create_request": {
        "key": b64(layout.prefix.as_bytes()),
        "range_end": b64(&keys::prefix_end(&layout.prefix)),
    }});
    while !stop.load(Ordering::SeqCst) {
        let stream = match client.open_stream("/v3/watch", &body) {
            Ok(s) => s,
            Err(_) => {
                thread::sleep(Duration::from_millis(200));
                continue;
            }
        };
        let mut first = true;
        for msg in serde_json::Deserializer::from_reader(stream).into_iter::<Value>() {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            let Ok(msg) = msg else { break };
            let r = msg.get("result").unwrap_or(&msg);
            if first && r.get("created").and_then(Value::as_bool) == Some(true) {
                first = false;
                waker.send(Event::WatchReset);
            }
            if r.get("canceled").and_then(Value::as_bool) == Some(true) {
                break;
            }
            let Some(events) = r.get("events").and_then(Value::as_array) else {
                continue;
            };
            for ev in events {
                let deleted = ev.get("type").and_then(Value::as_str) == Some("DELETE");
                let key = ev["kv"]["key"].as_str().and_then(keys::unb64);
                let key = key.and_then(|k| String::from_utf8(k).ok());
                let Some(key) = key else { continue };
                let Some(res) = layout.resource_of(&key) else {
                    continue;
                };
                if deleted {
                    waker.send(Event::Deleted(res.to_string()));
                } else if key[layout.prefix.len()..].starts_with("r/") {
                    waker.send(Event::Put(res.to_string()));
                }
            }
        }
        // The stream broke (member gone): another member, and a reset.
        thread::sleep(Duration::from_millis(100));
    }
}
