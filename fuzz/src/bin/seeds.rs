//! Writes the seed corpora of the fuzz targets from the C transcripts:
//! `seeds VECTORS_DIR OUT_DIR` creates `OUT_DIR/<target>/` with one file
//! per distinct input (every wire message; every resource name those
//! messages carry, plus the grammar examples of the spec; every timestamp
//! format, prefixed with an instant; each transcript's client side as
//! message-path operations; key files from the sample configuration of
//! REPOSITORY and a few edge cases).

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

/// Names from the resource grammar table (valid and invalid examples).
const GRAMMAR_EXAMPLES: &[&str] = &[
    "_RESOURCE", "foo", "Foo9", "pool[3]", "a[0]", "red.green.blue", "a.a", "/a/b/c", "/apple",
    "/a//b", "_s_seq[3]", "_S_tseq[1]", "_t_%S[1]", "_t_a.b:c%S#ff[2]", "_t_#f[1]",
    "_t_%S\\x[1]", "_t_%Y-%m[1]", "_t_9%S[1]", "_t_ts.%D.%T[2]", "_t_tm%S#fff[1]", "9a", "a b",
    "", "a.", ".a", "x[", "x[]", "x[1", "/", "/a/", "/a\\b",
];

/// 2026-11-22 09:44:51.210000 UTC, in microseconds.
const T0_MICROS: i64 = 1_795_340_691_210_000;

/// Undoes the transcript escapes `\\ \n \r \t \xHH`.
fn unescape(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            match b[i + 1] {
                b'n' => out.push(b'\n'),
                b'r' => out.push(b'\r'),
                b't' => out.push(b'\t'),
                b'x' if i + 3 < b.len() => {
                    let h = std::str::from_utf8(&b[i + 2..i + 4]).unwrap_or("3f");
                    out.push(u8::from_str_radix(h, 16).unwrap_or(b'?'));
                    i += 2;
                }
                c => out.push(c),
            }
            i += 2;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

fn write_all(dir: &Path, inputs: &BTreeSet<Vec<u8>>) -> std::io::Result<()> {
    fs::create_dir_all(dir)?;
    for (n, input) in inputs.iter().enumerate() {
        fs::write(dir.join(format!("seed-{n:04}")), input)?;
    }
    Ok(())
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 && args.len() != 4 {
        eprintln!("usage: seeds VECTORS_DIR OUT_DIR [REPOSITORY]");
        std::process::exit(2);
    }
    let (vectors, out) = (Path::new(&args[1]), Path::new(&args[2]));
    let mut messages = BTreeSet::new();
    let mut names: BTreeSet<Vec<u8>> =
        GRAMMAR_EXAMPLES.iter().map(|n| n.as_bytes().to_vec()).collect();
    let mut paths = BTreeSet::new();
    let mut entries: Vec<_> = fs::read_dir(vectors)?.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.extension().and_then(|e| e.to_str()) != Some("txt") {
            continue;
        }
        let text = fs::read_to_string(&path)?;
        // The message path: each transcript's client bytes and closes as
        // operations (connection number modulo 8).
        let mut ops = Vec::new();
        let mut conn = 0u8;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# conn ") {
                conn = rest.split(|c: char| !c.is_ascii_digit()).next().and_then(|n| n.parse::<u32>().ok()).map_or(0, |n| (n % 8) as u8);
            } else if line.starts_with("# close by client") {
                ops.push(3 << 3 | conn);
            } else if let Some(bytes) = line.strip_prefix("C> ") {
                for chunk in unescape(bytes).chunks(255) {
                    ops.push(conn);
                    ops.push(chunk.len() as u8);
                    ops.extend_from_slice(chunk);
                }
            }
        }
        if !ops.is_empty() {
            paths.insert(ops);
        }
        for line in text.lines() {
            let Some(bytes) = ["C> ", "S> ", "U> ", "U< "]
                .iter()
                .find_map(|p| line.strip_prefix(p))
            else {
                continue;
            };
            let msg = unescape(bytes);
            if let Ok(m) = flom::protocol::parse_message(&msg) {
                if let Some(r) = m.resource {
                    names.insert(r.name.into_bytes());
                }
            }
            messages.insert(msg);
        }
    }
    let mut stamps = BTreeSet::new();
    for name in &names {
        let Ok(name) = std::str::from_utf8(name) else {
            continue;
        };
        if let Some(format) = flom::resource::timestamp_format(name) {
            for t in [T0_MICROS, T0_MICROS + 999_999, 0, -1] {
                let mut input = t.to_le_bytes().to_vec();
                input.extend_from_slice(format.as_bytes());
                stamps.insert(input);
            }
        }
    }
    write_all(&out.join("protocol"), &messages)?;
    write_all(&out.join("resource"), &names)?;
    write_all(&out.join("timestamp"), &stamps)?;
    write_all(&out.join("message_path"), &paths)?;
    // The INI parser: the sample configuration and a few edge cases.
    let mut inis: BTreeSet<Vec<u8>> = [
        "[Resource]\nName=red.green.blue\nTimeout=-1\n",
        "# comment\n[Daemon]\nLifespan = 5000\nSocketName=/tmp/x\\sy\n[Monitor]\nIgnoreSignal=SIGHUP;SIGTERM;\n",
        "[Network]\nUnicastPort=28015\nDiscoveryAttempts=2\n[Trace]\nDaemonTraceFile=/tmp/t\nAppendTraceFile=yes\n",
        "[Resource]\nName[en]=x\nLockMode=PR\nCreate=no\n",
        "\u{feff}[TLS]\nTlsCertificate=a\r\n",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    if let Some(repo) = args.get(3) {
        if let Ok(sample) = fs::read(Path::new(repo).join("etc/flom.conf")) {
            inis.insert(sample);
        }
    }
    write_all(&out.join("ini"), &inis)?;
    println!(
        "seeds: {} messages, {} names, {} timestamp inputs, {} message paths from {}",
        messages.len(),
        names.len(),
        stamps.len(),
        paths.len(),
        vectors.display()
    );
    Ok(())
}
