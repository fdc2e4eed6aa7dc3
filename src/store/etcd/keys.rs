//! The layout of the lock space in etcd and the grant rules read from it.
//!
//! Under the prefix P:
//! - `P r/<resource>/<lease>-<seq>`: one waiter key per request (value:
//!   `MODE QUANTITY SINCE NAME`, SINCE in ms since the epoch), attached to
//!   the daemon's lease; its create revision is its place in the queue;
//! - `P e/<resource>/<element>`: the set element a granted request claimed
//!   (value: the waiter key);
//! - `P d/<lease>`: the daemon holding that lease (value `HOST:PID`), for
//!   `flom --status`;
//! - `P i/<resource>`: a released resource kept for its idle lifespan
//!   (see `idle`).
//!
//! `<resource>` is the routing key with `%` and `/` escaped, so a key has
//! exactly one `/` after the resource. A request is granted when no earlier
//! key (lower create revision) of its resource conflicts with it: every
//! daemon decides for its own keys from the same ordered list, and since
//! only later keys can appear, a grant once possible stays possible.

use crate::resource::{self, LockMode, ResourceType};

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub fn b64(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

pub fn unb64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.bytes() {
        if c == b'=' {
            break;
        }
        let v = B64.iter().position(|&x| x == c)? as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// The key just after every key starting with `prefix` (etcd's range_end).
pub fn prefix_end(prefix: &str) -> Vec<u8> {
    let mut end = prefix.as_bytes().to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

/// `%` and `/` escaped.
pub fn escape(name: &str) -> String {
    name.replace('%', "%25").replace('/', "%2F")
}

/// Where one daemon's keys live.
#[derive(Clone, Debug)]
pub struct Layout {
    pub prefix: String,
}

impl Layout {
    /// The queue prefix of resource `res` (escaped routing key).
    pub fn queue(&self, res: &str) -> String {
        format!("{}r/{res}/", self.prefix)
    }
    pub fn waiter(&self, res: &str, lease: i64, seq: u64) -> String {
        format!("{}r/{res}/{lease:016x}-{seq:08}", self.prefix)
    }
    pub fn element(&self, res: &str, element: &str) -> String {
        format!("{}e/{res}/{element}", self.prefix)
    }
    pub fn elements(&self, res: &str) -> String {
        format!("{}e/{res}/", self.prefix)
    }
    /// The key naming the daemon of `lease`, and the prefix of all of them.
    pub fn daemon(&self, lease: i64) -> String {
        format!("{}d/{lease:016x}", self.prefix)
    }
    pub fn daemons(&self) -> String {
        format!("{}d/", self.prefix)
    }
    /// The marker keeping an idle resource, and the prefix of all of them.
    pub fn idle(&self, res: &str) -> String {
        format!("{}i/{res}", self.prefix)
    }
    pub fn idles(&self) -> String {
        format!("{}i/", self.prefix)
    }
    /// The escaped resource a key under the prefix belongs to.
    pub fn resource_of<'a>(&self, key: &'a str) -> Option<&'a str> {
        let rest = key.strip_prefix(&self.prefix)?;
        let rest = rest
            .strip_prefix("r/")
            .or_else(|| rest.strip_prefix("e/"))?;
        rest.split('/').next()
    }
}

/// A waiter key's value: `MODE QUANTITY SINCE NAME` (the name tells the
/// paths of a hierarchical queue apart; SINCE is when the request arrived).
pub fn value(mode: LockMode, quantity: u64, since_ms: u64, name: &str) -> String {
    format!("{} {quantity} {since_ms} {name}", mode.short_name())
}

/// One key of a queue as read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub mode: LockMode,
    pub quantity: u64,
    /// The requested name (a hierarchical path).
    pub name: String,
    pub create_revision: i64,
    /// When the request arrived (ms since the epoch, its daemon's clock).
    pub since_ms: u64,
}

/// A waiter key's value read back: (mode, quantity, since, name).
pub fn parse_value(v: &str) -> Option<(LockMode, u64, u64, String)> {
    let mut parts = v.splitn(4, ' ');
    let mode = LockMode::parse(parts.next()?)?;
    let quantity = parts.next()?.parse().ok()?;
    let since = parts.next()?.parse().ok()?;
    Some((
        mode,
        quantity,
        since,
        parts.next().unwrap_or("").to_string(),
    ))
}

/// The routing key `escape` turned into `res`.
pub fn unescape(res: &str) -> String {
    let mut out = String::with_capacity(res.len());
    let mut rest = res;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let code = rest.get(i..i + 3);
        match code {
            Some("%25") => out.push('%'),
            Some("%2F") => out.push('/'),
            _ => {
                out.push('%');
                rest = &rest[i + 1..];
                continue;
            }
        }
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    out
}

/// Whether one path is the other or an ancestor of it (component-wise).
fn overlap(a: &str, b: &str) -> bool {
    let (a, b) = (
        resource::path_components(a).collect::<Vec<_>>(),
        resource::path_components(b).collect::<Vec<_>>(),
    );
    a.iter().zip(b.iter()).all(|(x, y)| x == y)
}

/// The counter key of a sequence and its recycled numbers.
impl Layout {
    pub fn counter(&self, res: &str) -> String {
        format!("{}s/{res}", self.prefix)
    }
    /// The last grain bucket a timestamp resource issued.
    pub fn stamp(&self, res: &str) -> String {
        format!("{}t/{res}", self.prefix)
    }
    pub fn recycled(&self, res: &str) -> String {
        format!("{}q/{res}/", self.prefix)
    }
}

/// What the queue says of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Grant,
    Wait,
    Never,
    /// Its key is not in the queue (lost with the lease, or deleted).
    Gone,
}

/// Decides the request whose key is `mine` from `queue` (ascending create
/// revision), for a resource called `name` of type `kind`.
pub fn decide(name: &str, kind: ResourceType, queue: &[Entry], mine: &str) -> Decision {
    let Some(pos) = queue.iter().position(|e| e.key == mine) else {
        return Decision::Gone;
    };
    let me = &queue[pos];
    let earlier = &queue[..pos];
    match kind {
        ResourceType::Sequence | ResourceType::Timestamp => {
            if (earlier.len() as u64) < resource::capacity(name) {
                Decision::Grant
            } else {
                Decision::Wait
            }
        }
        ResourceType::Numeric => {
            let cap = resource::capacity(name);
            if me.quantity > cap {
                return Decision::Never;
            }
            let used: u64 = earlier.iter().map(|e| e.quantity).sum();
            if used + me.quantity <= cap {
                Decision::Grant
            } else {
                Decision::Wait
            }
        }
        ResourceType::Set => {
            let n = name.split('.').count();
            if earlier.len() < n {
                Decision::Grant
            } else {
                Decision::Wait
            }
        }
        ResourceType::Simple | ResourceType::Hierarchical => {
            let hierarchical = kind == ResourceType::Hierarchical;
            let ok = earlier
                .iter()
                .filter(|e| !hierarchical || overlap(&e.name, &me.name))
                .all(|e| e.mode.compatible_with(me.mode) && me.mode.compatible_with(e.mode));
            if ok {
                Decision::Grant
            } else {
                Decision::Wait
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip() {
        for s in [
            "",
            "f",
            "fo",
            "foo",
            "foob",
            "fooba",
            "foobar",
            "/flom/r/a%2Fb/x",
        ] {
            assert_eq!(unb64(&b64(s.as_bytes())).unwrap(), s.as_bytes());
        }
        assert_eq!(b64(b"foobar"), "Zm9vYmFy");
        assert_eq!(b64(b"fo"), "Zm8=");
    }

    #[test]
    fn layout_and_prefix_end() {
        let l = Layout {
            prefix: "/flom/".into(),
        };
        let k = l.waiter(&escape("/a/b"), 0xab, 3);
        assert_eq!(l.resource_of(&k), Some("%2Fa%2Fb"));
        assert_eq!(prefix_end("/flom/"), b"/flom0");
    }

    fn e(key: &str, mode: LockMode, q: u64, rev: i64) -> Entry {
        Entry {
            key: key.into(),
            mode,
            quantity: q,
            name: String::new(),
            create_revision: rev,
            since_ms: 0,
        }
    }

    #[test]
    fn hierarchical_paths_conflict_along_one_branch() {
        use LockMode::*;
        let mut q = vec![
            e("a", Exclusive, 1, 1),
            e("b", Exclusive, 1, 2),
            e("c", Exclusive, 1, 3),
        ];
        q[0].name = "/a/b".into();
        q[1].name = "/a/c".into();
        q[2].name = "/a".into();
        let h = ResourceType::Hierarchical;
        assert_eq!(decide("/a/b", h, &q, "a"), Decision::Grant);
        assert_eq!(decide("/a/c", h, &q, "b"), Decision::Grant);
        assert_eq!(decide("/a", h, &q, "c"), Decision::Wait);
        assert_eq!(
            parse_value(&value(Exclusive, 1, 1700, "/a b")),
            Some((Exclusive, 1, 1700, "/a b".into()))
        );
        for name in ["/a/b", "x%2Fy", "%", "100%/", "plain"] {
            assert_eq!(unescape(&escape(name)), name);
        }
    }

    #[test]
    fn earlier_incompatible_keys_block() {
        use LockMode::*;
        let q = vec![
            e("a", ProtectedRead, 1, 1),
            e("b", Exclusive, 1, 2),
            e("c", ProtectedRead, 1, 3),
        ];
        assert_eq!(decide("R", ResourceType::Simple, &q, "a"), Decision::Grant);
        assert_eq!(decide("R", ResourceType::Simple, &q, "b"), Decision::Wait);
        assert_eq!(decide("R", ResourceType::Simple, &q, "c"), Decision::Wait);
        assert_eq!(
            decide("R", ResourceType::Simple, &q[2..], "c"),
            Decision::Grant
        );
        assert_eq!(decide("R", ResourceType::Simple, &q, "zz"), Decision::Gone);
        let n = vec![
            e("a", Exclusive, 2, 1),
            e("b", Exclusive, 2, 2),
            e("c", Exclusive, 4, 3),
        ];
        assert_eq!(
            decide("R[3]", ResourceType::Numeric, &n, "a"),
            Decision::Grant
        );
        assert_eq!(
            decide("R[3]", ResourceType::Numeric, &n, "b"),
            Decision::Wait
        );
        assert_eq!(
            decide("R[3]", ResourceType::Numeric, &n, "c"),
            Decision::Never
        );
        assert_eq!(decide("a.b", ResourceType::Set, &n, "b"), Decision::Grant);
        assert_eq!(decide("a.b", ResourceType::Set, &n, "c"), Decision::Wait);
    }
}
