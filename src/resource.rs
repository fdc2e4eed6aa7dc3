//! Resource names: the grammar that decides a resource's type (simple, numeric,
//! set, hierarchical, sequence, timestamp), the capacity written in brackets,
//! and the key a daemon uses to route a request to its locker.

/// The six resource types of FLoM, in the order the grammar tests them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResourceType {
    Simple,
    Numeric,
    Set,
    Hierarchical,
    Sequence,
    Timestamp,
}

impl ResourceType {
    /// The name shown in the VFS `resource_type` file and in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceType::Simple => "simple",
            ResourceType::Numeric => "numeric",
            ResourceType::Set => "set",
            ResourceType::Hierarchical => "hierarchical",
            ResourceType::Sequence => "sequence",
            ResourceType::Timestamp => "timestamp",
        }
    }

    /// Whether the lock mode means anything for this type.
    pub fn uses_lock_mode(self) -> bool {
        matches!(self, ResourceType::Simple | ResourceType::Hierarchical)
    }

    /// Whether the quantity means anything for this type.
    pub fn uses_quantity(self) -> bool {
        self == ResourceType::Numeric
    }
}

/// The name reserved for the default resource.
pub const DEFAULT_RESOURCE_NAME: &str = "_RESOURCE";

fn is_identifier(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty() && b[0].is_ascii_alphabetic() && b.iter().all(|c| c.is_ascii_alphanumeric())
}

/// Splits `IDENT[DIGITS]` into the part before the bracket and the digits.
fn split_capacity(s: &str) -> Option<(&str, &str)> {
    let body = s.strip_suffix(']')?;
    let open = body.rfind('[')?;
    let digits = &body[open + 1..];
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some((&body[..open], digits))
}

/// Parses the decimal capacity; absurdly large values saturate.
fn parse_capacity(digits: &str) -> u64 {
    digits.bytes().fold(0u64, |acc, d| {
        acc.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    })
}

fn is_timestamp_format(f: &str) -> bool {
    let b = f.as_bytes();
    if b.is_empty() || !(b[0] == b'%' || b[0] == b'#' || b[0].is_ascii_alphabetic()) {
        return false;
    }
    b.iter()
        .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'%' | b'#' | b'.' | b':' | b'\\'))
}

fn is_hierarchical(s: &str) -> bool {
    match s.strip_prefix('/') {
        None => false,
        Some(rest) => rest
            .split('/')
            .all(|comp| !comp.is_empty() && !comp.contains('\\')),
    }
}

/// Returns the type a resource name has, or `None` when it matches no grammar.
pub fn resource_type(name: &str) -> Option<ResourceType> {
    if name.contains('\n') {
        return None;
    }
    if name == DEFAULT_RESOURCE_NAME || is_identifier(name) {
        return Some(ResourceType::Simple);
    }
    if let Some((base, _)) = split_capacity(name) {
        if is_identifier(base) {
            return Some(ResourceType::Numeric);
        }
    }
    if name.contains('.') && name.split('.').all(is_identifier) {
        return Some(ResourceType::Set);
    }
    if is_hierarchical(name) {
        return Some(ResourceType::Hierarchical);
    }
    if let Some((base, _)) = split_capacity(name) {
        if let Some(id) = base
            .strip_prefix("_s_")
            .or_else(|| base.strip_prefix("_S_"))
        {
            if is_identifier(id) {
                return Some(ResourceType::Sequence);
            }
        }
        if let Some(fmt) = base.strip_prefix("_t_") {
            if is_timestamp_format(fmt) {
                return Some(ResourceType::Timestamp);
            }
        }
    }
    None
}

/// The capacity written in brackets (`foo[3]` → 3); 1 for names without one.
pub fn capacity(name: &str) -> u64 {
    split_capacity(name)
        .map(|(_, d)| parse_capacity(d))
        .unwrap_or(1)
}

/// For a timestamp name `_t_FORMAT[N]`, the FORMAT part.
pub fn timestamp_format(name: &str) -> Option<&str> {
    split_capacity(name).and_then(|(base, _)| base.strip_prefix("_t_"))
}

/// Whether a sequence name is transactional (`_S_`).
pub fn is_transactional_sequence(name: &str) -> bool {
    name.starts_with("_S_")
}

/// The routing key of a name: which locker serves it. Hierarchical names are
/// served by the locker of their first component (`/a/x` and `/a/y` share `/a`);
/// every other name by the locker of exactly that name.
pub fn routing_key(name: &str, kind: ResourceType) -> &str {
    if kind == ResourceType::Hierarchical {
        match name[1..].find('/') {
            Some(i) => &name[..i + 1],
            None => name,
        }
    } else {
        name
    }
}

/// The components of a hierarchical path (`/a/b` → `["a", "b"]`).
pub fn path_components(name: &str) -> impl Iterator<Item = &str> {
    name.trim_start_matches('/').split('/')
}

#[cfg(test)]
mod tests {
    use super::*;
    use ResourceType::*;

    #[test]
    fn grammar_table() {
        let ok = [
            ("a", Simple),
            ("A1", Simple),
            ("R1", Simple),
            ("_RESOURCE", Simple),
            ("foo[2]", Numeric),
            ("a[0]", Numeric),
            ("a[007]", Numeric),
            ("red.green.blue", Set),
            ("a.b", Set),
            ("/a", Hierarchical),
            ("/a/b", Hierarchical),
            ("/a b/c d", Hierarchical),
            ("/_x/%$", Hierarchical),
            ("_s_a[1]", Sequence),
            ("_S_a[2]", Sequence),
            ("_t_%S[1]", Timestamp),
            ("_t_a.b:c%S#ff[2]", Timestamp),
            ("_t_#f[1]", Timestamp),
            ("_t_%S\\x[1]", Timestamp),
            ("_t_%Z[1]", Timestamp),
        ];
        for (name, kind) in ok {
            assert_eq!(resource_type(name), Some(kind), "{name}");
        }
        let bad = [
            "1a",
            "a_b",
            "a-b",
            "_RESOURCEX",
            "a[]",
            "a[-1]",
            "a.b[2]",
            ".a",
            "a.",
            "a..b",
            "a.1b",
            "/",
            "/a/",
            "//a",
            "/a\\b",
            "_s_1a[1]",
            "_x_a[1]",
            "_t_%Y-%m[1]",
            "_t_9%S[1]",
            "",
            "pool[x]",
            "a\n",
        ];
        for name in bad {
            assert_eq!(resource_type(name), None, "{name:?}");
        }
    }

    #[test]
    fn capacity_and_keys() {
        assert_eq!(capacity("foo[3]"), 3);
        assert_eq!(capacity("a[007]"), 7);
        assert_eq!(capacity("foo"), 1);
        assert_eq!(routing_key("/a/x/y", Hierarchical), "/a");
        assert_eq!(routing_key("/a", Hierarchical), "/a");
        assert_eq!(routing_key("foo[2]", Numeric), "foo[2]");
        assert_eq!(timestamp_format("_t_%S#f[2]"), Some("%S#f"));
        assert!(is_transactional_sequence("_S_a[1]"));
        assert_eq!(
            path_components("/a/b c").collect::<Vec<_>>(),
            vec!["a", "b c"]
        );
    }
}

/// The six DLM lock modes, with the numbers they have on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LockMode {
    NullLock = 0,
    ConcurrentRead = 1,
    ConcurrentWrite = 2,
    ProtectedRead = 3,
    ProtectedWrite = 4,
    Exclusive = 5,
}

impl LockMode {
    pub const ALL: [LockMode; 6] = [
        LockMode::NullLock,
        LockMode::ConcurrentRead,
        LockMode::ConcurrentWrite,
        LockMode::ProtectedRead,
        LockMode::ProtectedWrite,
        LockMode::Exclusive,
    ];

    /// The mode with wire number `code`, if any.
    pub fn from_code(code: i64) -> Option<LockMode> {
        usize::try_from(code)
            .ok()
            .and_then(|i| Self::ALL.get(i).copied())
    }

    pub fn code(self) -> u8 {
        self as u8
    }

    /// `NullLock`, `ConcurrentRead`, … (the VFS `lock_mode` file).
    pub fn long_name(self) -> &'static str {
        match self {
            LockMode::NullLock => "NullLock",
            LockMode::ConcurrentRead => "ConcurrentRead",
            LockMode::ConcurrentWrite => "ConcurrentWrite",
            LockMode::ProtectedRead => "ProtectedRead",
            LockMode::ProtectedWrite => "ProtectedWrite",
            LockMode::Exclusive => "Exclusive",
        }
    }

    /// `NL`, `CR`, …
    pub fn short_name(self) -> &'static str {
        match self {
            LockMode::NullLock => "NL",
            LockMode::ConcurrentRead => "CR",
            LockMode::ConcurrentWrite => "CW",
            LockMode::ProtectedRead => "PR",
            LockMode::ProtectedWrite => "PW",
            LockMode::Exclusive => "EX",
        }
    }

    /// Parses a mode name strictly: `NL`…`EX` or the long names, any case.
    pub fn parse(s: &str) -> Option<LockMode> {
        Self::ALL.into_iter().find(|m| {
            s.eq_ignore_ascii_case(m.short_name()) || s.eq_ignore_ascii_case(m.long_name())
        })
    }

    /// VMS DLM compatibility: may `requested` be granted while `self` is held?
    pub fn compatible_with(self, requested: LockMode) -> bool {
        use LockMode::*;
        match self {
            NullLock => true,
            ConcurrentRead => requested != Exclusive,
            ConcurrentWrite => matches!(requested, NullLock | ConcurrentRead | ConcurrentWrite),
            ProtectedRead => matches!(requested, NullLock | ConcurrentRead | ProtectedRead),
            ProtectedWrite => matches!(requested, NullLock | ConcurrentRead),
            Exclusive => requested == NullLock,
        }
    }
}

#[cfg(test)]
mod lock_mode_tests {
    use super::LockMode::{self, *};

    #[test]
    fn matrix_is_symmetric_and_matches_spec() {
        // rows = held, columns = requested (NL CR CW PR PW EX)
        let table = ["111111", "111110", "111000", "110100", "110000", "100000"];
        for (i, held) in LockMode::ALL.iter().enumerate() {
            for (j, req) in LockMode::ALL.iter().enumerate() {
                let want = table[i].as_bytes()[j] == b'1';
                assert_eq!(held.compatible_with(*req), want, "{held:?} vs {req:?}");
                assert_eq!(held.compatible_with(*req), req.compatible_with(*held));
            }
        }
        assert_eq!(LockMode::parse("pr"), Some(ProtectedRead));
        assert_eq!(LockMode::parse("exclusive"), Some(Exclusive));
        assert_eq!(LockMode::parse("onlyex"), None);
        assert_eq!(LockMode::from_code(5), Some(Exclusive));
        assert_eq!(LockMode::from_code(6), None);
    }
}
