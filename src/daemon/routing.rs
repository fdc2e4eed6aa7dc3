//! Routing: turns one parsed client message into a lock-store event (lock,
//! unlock) or a daemon control (shutdown, status), after checking that it fits where
//! the connection is in its conversation. Anything that does not fit costs
//! that connection only (an `Action::Close`). No sockets here.

use super::connection::Phase;
use crate::locker::Request;
use crate::protocol::{self, Message};
use crate::rc;
use crate::resource::{self, LockMode, ResourceType};
use crate::store::{Action, Client, LockRequest, LockStore, Now};

/// What the daemon itself must do after a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    None,
    /// A management request: immediate (true) or quiesce (false) shutdown.
    Shutdown {
        immediate: bool,
    },
    /// A status request (our extension): answer with a snapshot.
    Status,
}

/// Routes `msg` from `client`, whose connection is at `phase`.
pub fn route(
    store: &mut dyn LockStore,
    client: Client<'_>,
    phase: &mut Phase,
    msg: Message,
    now: Now,
    out: &mut Vec<Action>,
) -> Control {
    let conn = client.conn;
    crate::trace!(
        crate::trace::MSG,
        "connection {conn}: message verb {} step {}",
        msg.verb,
        msg.step
    );
    let fresh = *phase == Phase::New;
    match (msg.verb, msg.step) {
        (protocol::VERB_LOCK, protocol::STEP_REQUEST) if fresh => {
            *phase = Phase::Requested;
            match lock_request(&msg) {
                Ok(request) => store.lock(client, request, now, out),
                Err(Refusal::Answer(code)) => {
                    out.push(Action::Answer {
                        conn,
                        step: protocol::STEP_FIRST_ANSWER,
                        rc: code,
                        element: None,
                    });
                    out.push(Action::HalfClose { conn });
                }
                Err(Refusal::Drop) => out.push(Action::Close { conn }),
            }
            Control::None
        }
        (protocol::VERB_MNGMNT, protocol::STEP_REQUEST)
            if fresh && msg.status_version.is_some() =>
        {
            *phase = Phase::Requested;
            crate::trace!(crate::trace::DAEMON_MNGMNT, "status request");
            // Answered by the daemon; the client closes when it has read it.
            Control::Status
        }
        (protocol::VERB_MNGMNT, protocol::STEP_REQUEST) if fresh => {
            *phase = Phase::Requested;
            crate::trace!(
                crate::trace::DAEMON_MNGMNT,
                "shutdown request: {}",
                match msg.shutdown_immediate {
                    Some(true) => "immediate",
                    Some(false) => "quiesce",
                    None => "without a mode (ignored)",
                }
            );
            // Nothing is ever answered; closing tells the client at once.
            out.push(Action::Close { conn });
            match msg.shutdown_immediate {
                Some(immediate) => Control::Shutdown { immediate },
                None => Control::None,
            }
        }
        (protocol::VERB_UNLOCK, protocol::STEP_REQUEST) if !fresh => {
            match &msg.resource {
                Some(r) => store.unlock(conn, &r.name, r.rollback, now, out),
                None => out.push(Action::Close { conn }),
            }
            Control::None
        }
        // Anything else (an unlock as first message, a ping, a second
        // lock, garbage): drop this connection only.
        _ => {
            out.push(Action::Close { conn });
            Control::None
        }
    }
}

/// Why a lock request does not reach the store.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    /// Answer with this return code and half-close.
    Answer(i32),
    /// Close without an answer.
    Drop,
}

/// The store's view of a lock message: type, mode and quantity checked.
fn lock_request(msg: &Message) -> Result<LockRequest, Refusal> {
    let r = msg.resource.as_ref().ok_or(Refusal::Drop)?;
    let kind =
        resource::resource_type(&r.name).ok_or(Refusal::Answer(rc::INVALID_RESOURCE_NAME))?;
    let mode = if kind.uses_lock_mode() {
        LockMode::from_code(r.mode).ok_or(Refusal::Drop)?
    } else {
        LockMode::Exclusive
    };
    let quantity = if kind == ResourceType::Numeric {
        r.quantity.max(0) as u64
    } else {
        1
    };
    Ok(LockRequest {
        req: Request {
            name: r.name.clone(),
            mode,
            quantity,
            wait: r.wait,
        },
        kind,
        create: r.create,
        idle_lifespan_ms: r.lifespan.unsigned_abs(),
    })
}

#[cfg(test)]
#[path = "routing_tests.rs"]
mod tests;
