//! Reading the C transcripts of `../shared/vectors`: where they are, the
//! escapes of their `C>`/`S>`/`U>` lines, and connection numbers.

use super::{machine_id, VECTOR_PEER};
use std::path::PathBuf;

pub fn vectors_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/vectors"))
}

/// The text of a vector file; None (saying why, so the test skips) when the
/// vectors are not beside the repository.
pub fn read_vector(file: &str) -> Option<String> {
    let path = vectors_dir().join(file);
    match std::fs::read_to_string(&path) {
        Ok(t) => Some(t),
        Err(e) => {
            eprintln!(
                "SKIPPED: cannot read {} ({e}); the wire vectors live in ../shared/vectors",
                path.display()
            );
            None
        }
    }
}

/// Undoes the transcript escapes `\\ \n \r \t \xHH`.
pub fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('x') => {
                let h: String = it.by_ref().take(2).collect();
                out.push(u8::from_str_radix(&h, 16).expect("\\xHH escape") as char);
            }
            other => panic!("bad escape \\{other:?}"),
        }
    }
    out
}

/// The number after `conn ` at the start of `s`.
pub fn conn_number(s: &str) -> u32 {
    let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().expect("connection number")
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ev {
    /// `# conn N: client connected`
    Connect(u32),
    /// `C>` bytes, client to daemon.
    C(u32, String),
    /// `S>` bytes, daemon to client.
    S(u32, String),
    /// `# close by client (conn N, ...)`: the client half-closes.
    CloseByClient(u32),
    /// `# close by daemon (conn N, ...)`: EOF reaches the client.
    CloseByDaemon(u32),
}

impl Ev {
    pub fn conn(&self) -> u32 {
        match self {
            Ev::Connect(n)
            | Ev::C(n, _)
            | Ev::S(n, _)
            | Ev::CloseByClient(n)
            | Ev::CloseByDaemon(n) => *n,
        }
    }
}

/// Parses a transcript; None (with a note) when the vectors are missing.
/// The vectors' peer id is replaced by this host's.
pub fn load(file: &str) -> Option<Vec<Ev>> {
    let text = read_vector(file)?;
    let peer = machine_id();
    let mut evs = Vec::new();
    let mut cur = 0;
    let mut in_transcript = false;
    for line in text.lines() {
        if line.starts_with("# ---- transcript ----") {
            in_transcript = true;
            continue;
        }
        if !in_transcript {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# conn ") {
            cur = conn_number(rest);
            if rest.contains(": client connected") {
                evs.push(Ev::Connect(cur));
            }
        } else if let Some(rest) = line.strip_prefix("# close by client (conn ") {
            evs.push(Ev::CloseByClient(conn_number(rest)));
        } else if let Some(rest) = line.strip_prefix("# close by daemon (conn ") {
            evs.push(Ev::CloseByDaemon(conn_number(rest)));
        } else if let Some(bytes) = line.strip_prefix("C> ") {
            evs.push(Ev::C(cur, unescape(bytes).replace(VECTOR_PEER, &peer)));
        } else if let Some(bytes) = line.strip_prefix("S> ") {
            evs.push(Ev::S(cur, unescape(bytes).replace(VECTOR_PEER, &peer)));
        } else if line.starts_with("U> ") || line.starts_with("U< ") {
            panic!("{file}: UDP lines are not for these tests");
        }
    }
    assert!(!evs.is_empty(), "{file}: no transcript found");
    Some(evs)
}
