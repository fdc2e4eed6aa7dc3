//! Replays every input the fuzzers found a crash or hang with
//! (`fuzz/regressions/TARGET/*`, one file per finding) and every message of
//! the C transcripts through the same target functions AFL++ runs
//! (`fuzz/src/targets.rs`), so a fixed finding stays fixed.

#[allow(dead_code)]
#[path = "../fuzz/src/targets.rs"]
mod targets;

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.is_file() && !p.file_name().unwrap().to_string_lossy().starts_with('.')
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn every_regression_input_passes_its_target() {
    let mut replayed = 0;
    for (name, target) in targets::TARGETS {
        for f in files(&repo().join("fuzz/regressions").join(name)) {
            let input = std::fs::read(&f).unwrap();
            eprintln!("replaying {}", f.display());
            target(&input);
            replayed += 1;
        }
    }
    eprintln!("{replayed} regression inputs replayed");
}

#[test]
fn transcript_messages_pass_every_target() {
    let dir = repo().join("../shared/vectors");
    let vectors = files(&dir);
    if vectors.is_empty() {
        eprintln!("SKIPPED: no transcripts in {}", dir.display());
        return;
    }
    let mut n = 0;
    for v in vectors {
        let text = std::fs::read_to_string(&v).unwrap();
        for line in text.lines() {
            let Some(bytes) = ["C> ", "S> ", "U> ", "U< "]
                .iter()
                .find_map(|p| line.strip_prefix(p))
            else {
                continue;
            };
            for (_, target) in targets::TARGETS {
                target(bytes.as_bytes());
            }
            n += 1;
        }
    }
    assert!(n > 50, "only {n} transcript messages found");
}
