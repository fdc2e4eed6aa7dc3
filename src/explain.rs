//! The `flom: ` sentences of the command's failures to reach or talk to the
//! daemon: what failed, with the settings it was tried with (socket, address,
//! resource), and what to do. The lock-outcome messages stay C FLoM's.

use crate::config::Config;
use crate::error::FlomError;
use crate::protocol::{self, LockRequestArgs};
use crate::rc;
use crate::resource::{self, ResourceType};
use std::path::Path;

/// The sentence the `flom` command prints for `e`, given the settings it
/// ran with.
pub fn sentence(e: &FlomError, config: &Config) -> String {
    match e {
        FlomError::Connect { rc, target } => connect(*rc, target, config),
        FlomError::Lock { rc } => lock(*rc, config),
        FlomError::Unlock { rc } => unlock(*rc, config),
        other => other.to_string(),
    }
}

/// An I/O error as a clause: "permission denied".
fn io_text(e: &std::io::Error) -> String {
    let text = e.to_string();
    let text = text.split(" (os error").next().unwrap_or(&text);
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => text.to_string(),
    }
}

/// How the daemon was looked for, for the sentences.
fn daemon_at(config: &Config, target: &str) -> String {
    if !config.uses_network() {
        return format!("socket {target}");
    }
    let (host, port) = target.rsplit_once('/').unwrap_or((target, ""));
    if config.unicast_address.is_some() {
        format!("{host} port {port} (TCP)")
    } else {
        format!("multicast group {host} port {port}")
    }
}

fn connect(code: i32, target: &str, config: &Config) -> String {
    if code == rc::BUFFER_OVERFLOW {
        return format!(
            "flom: the socket path '{target}' is {} bytes long, but at most 107 fit in a UNIX socket address: choose a shorter path with -s.",
            target.len()
        );
    }
    let at = daemon_at(config, target);
    if !config.uses_network() {
        let dir = Path::new(target)
            .parent()
            .filter(|d| !d.as_os_str().is_empty());
        if let Some(dir) = dir.filter(|d| !d.is_dir()) {
            return format!(
                "flom: cannot use socket {target}: directory {} does not exist; create it or choose another socket path with -s.",
                dir.display()
            );
        }
    }
    let no_start = config.daemon_lifespan == 0;
    match code {
        rc::CONNECT_ERROR if no_start => {
            let how = if config.uses_network() && config.unicast_address.is_none() {
                "no daemon answered the discovery datagrams sent to"
            } else {
                "no daemon accepts connections on"
            };
            format!(
                "flom: {how} {at}, and -d 0 (daemon lifespan 0) forbids starting one: start a daemon there, check the address, or leave out -d 0."
            )
        }
        rc::CONNECT_ERROR => match (!config.uses_network())
            .then(|| std::os::unix::net::UnixStream::connect(target).err())
            .flatten()
        {
            Some(e) => format!(
                "flom: cannot connect to the daemon on {at}: {}; check the path given with -s and its permissions.",
                io_text(&e)
            ),
            None => format!(
                "flom: cannot connect to a daemon on {at}: check the address and port (-a, -p), and that a daemon runs there."
            ),
        },
        rc::DAEMON_NOT_STARTED | rc::CONNECTION_REFUSED => format!(
            "flom: a daemon was started for {at} but does not answer; see its messages in the system log (FLM...) and try again."
        ),
        other => format!(
            "flom: cannot start a daemon on {at} ({}); check that the directory of the socket is writable and see the system log.",
            rc::strerror(other)
        ),
    }
}

/// The longest resource name whose lock request fits in the daemon's
/// request limit, and the size of the request for `config`'s name.
fn request_sizes(config: &Config) -> (usize, usize) {
    let peerid = crate::config::unique_id();
    let request = |name: &str| {
        let mut out = String::new();
        protocol::encode_lock_request(
            &mut out,
            &LockRequestArgs {
                peerid: &peerid,
                name,
                mode: config.lock_mode.code(),
                wait: config.resource_timeout != 0,
                quantity: i64::from(config.resource_quantity),
                create: config.resource_create,
                lifespan: i64::from(config.resource_idle_lifespan),
            },
        );
        out.len()
    };
    let size = request(&config.resource_name);
    let overhead = request("");
    let max_name = protocol::DAEMON_MAX_MESSAGE.saturating_sub(overhead) / 4 * 3;
    (size, max_name)
}

fn lock(code: i32, config: &Config) -> String {
    let name = &config.resource_name;
    let (size, max_name) = request_sizes(config);
    if size > protocol::DAEMON_MAX_MESSAGE {
        return format!(
            "flom: the resource name is {} bytes long, but a lock request must fit in {} bytes, so names of at most {max_name} bytes are accepted (C FLoM's daemon: about 240): use a shorter name.",
            name.len(),
            protocol::DAEMON_MAX_MESSAGE
        );
    }
    if let Some(format) = resource::timestamp_format(name) {
        if crate::locker::timestamp::grain_micros(format).is_none() {
            return format!(
                "flom: the daemon refused the timestamp format '{format}' of resource '{name}': it must contain a field that changes at least once an hour (%S, %M, %H, %T, %s, #f ... #ffffff); fix the format."
            );
        }
    }
    match code {
        rc::RECV_ERROR | rc::SEND_ERROR => format!(
            "flom: the daemon closed the connection before granting the lock on resource '{name}' (stopped, e.g. by flom -X, or it refused the request: see the system log); try again."
        ),
        rc::PROTOCOL_LEVEL_MISMATCH => format!(
            "flom: the daemon answered the lock request on resource '{name}' with another protocol level; use a daemon of FLoM protocol level 3."
        ),
        rc::PROTOCOL_ERROR | rc::BUFFER_OVERFLOW => format!(
            "flom: the daemon's answer to the lock request on resource '{name}' cannot be understood; check that a FLoM daemon of protocol level 3 listens there."
        ),
        rc::INVALID_RESOURCE_NAME => format!(
            "flom: the daemon refused the resource name '{name}'; check it against the resource grammar of flom(1)."
        ),
        other => format!(
            "flom: the lock request on resource '{name}' failed ({}); try again.",
            rc::strerror(other)
        ),
    }
}

fn unlock(code: i32, config: &Config) -> String {
    let name = &config.resource_name;
    match code {
        rc::SEND_ERROR | rc::RECV_ERROR => format!(
            "flom: the command ran, but the lock on resource '{name}' could not be released because the daemon had gone (stopped while the command ran); nothing is left to release."
        ),
        other => format!(
            "flom: the command ran, but the lock on resource '{name}' could not be released ({}).",
            rc::strerror(other)
        ),
    }
}

/// Why a request can never be granted (quantity 0 of a numeric resource,
/// a resource of capacity 0...), or `None` when it may be. Checked by the
/// `flom` command before connecting (C FLoM waits for ever).
pub fn never_grantable(config: &Config) -> Option<String> {
    let name = &config.resource_name;
    let kind = resource::resource_type(name)?;
    let has_capacity = matches!(
        kind,
        ResourceType::Numeric | ResourceType::Sequence | ResourceType::Timestamp
    );
    if has_capacity && resource::capacity(name) == 0 {
        return Some(format!(
            "flom: resource '{name}' has capacity 0, so it can never be locked: write a capacity of at least 1 between the brackets."
        ));
    }
    if kind == ResourceType::Numeric && config.resource_quantity <= 0 {
        return Some(format!(
            "flom: quantity {} of numeric resource '{name}' reserves nothing and can never be granted: ask for at least 1 with -q.",
            config.resource_quantity
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(name: &str, quantity: i32) -> Config {
        Config {
            resource_name: name.to_string(),
            resource_quantity: quantity,
            ..Config::default()
        }
    }

    #[test]
    fn never_grantable_requests() {
        assert!(never_grantable(&config("x[0]", 1))
            .unwrap()
            .contains("capacity 0"));
        assert!(never_grantable(&config("_s_q[0]", 1)).is_some());
        assert!(never_grantable(&config("_t_%S[00]", 1)).is_some());
        assert!(never_grantable(&config("x[2]", 0))
            .unwrap()
            .contains("quantity 0"));
        assert!(never_grantable(&config("x[2]", -1)).is_some());
        assert!(never_grantable(&config("x[2]", 1)).is_none());
        assert!(never_grantable(&config("x", 0)).is_none());
        assert!(never_grantable(&config("a.b", 1)).is_none());
    }

    #[test]
    fn name_limit_is_named() {
        let mut c = config(&"a".repeat(5000), 1);
        c.resource_timeout = -1;
        let s = sentence(&FlomError::Lock { rc: rc::RECV_ERROR }, &c);
        assert!(
            s.starts_with("flom: the resource name is 5000 bytes long"),
            "{s}"
        );
        let (_, max) = request_sizes(&c);
        c.resource_name = "a".repeat(max);
        assert!(request_sizes(&c).0 <= protocol::DAEMON_MAX_MESSAGE);
        c.resource_name = "a".repeat(max + 3);
        assert!(request_sizes(&c).0 > protocol::DAEMON_MAX_MESSAGE);
    }
}
