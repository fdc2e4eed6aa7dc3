//! Reading the C transcripts of `../shared/vectors`: where they are, the
//! escapes of their `C>`/`S>`/`U>` lines, and connection numbers.

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
