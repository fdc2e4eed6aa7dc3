//! Test certificates made at test time with the `openssl` command: two CAs,
//! peers signed by each with CN = the host's unique id, one peer whose CN is
//! a wrong id, and an expired one. Shared by the unit tests and tests/tls.rs
//! (included there by path); std only.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// A CN that is nobody's unique id.
pub const WRONG_ID: &str = "0123456789abcdef0123456789abcdef";

/// The files of one peer.
#[derive(Clone, Debug)]
pub struct Peer {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The CA that signed it.
    pub ca: PathBuf,
}

/// The whole set, in one directory.
pub struct Pki {
    pub dir: PathBuf,
    pub ca1: PathBuf,
    pub ca2: PathBuf,
    /// Signed by CA1 with the right CN.
    pub peer1: Peer,
    /// Signed by CA1 with the right CN (a second identity).
    pub peer2: Peer,
    /// Signed by CA1 with CN = WRONG_ID.
    pub wrong_cn: Peer,
    /// Signed by CA2 with the right CN.
    pub ca2_peer: Peer,
    /// Signed by CA1, expired.
    pub expired: Peer,
}

/// Runs the `openssl` command in `dir`; it must succeed.
pub fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command runs");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const EC: [&str; 4] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];

fn make_ca(dir: &Path, name: &str) -> PathBuf {
    let key = format!("{name}.key");
    let pem = format!("{name}.pem");
    let subj = format!("/O=FLoM tests/CN=FLoM test {name}");
    let mut args = vec!["req", "-x509"];
    args.extend(EC);
    args.extend([
        "-nodes", "-keyout", &key, "-out", &pem, "-days", "3650", "-subj", &subj,
    ]);
    openssl(dir, &args);
    dir.join(pem)
}

fn make_peer(dir: &Path, name: &str, ca: &str, cn: &str, days: &str, serial: &str) -> Peer {
    let key = format!("{name}.key");
    let csr = format!("{name}.csr");
    let pem = format!("{name}.pem");
    let subj = format!("/O=FLoM tests/CN={cn}");
    let mut args = vec!["req"];
    args.extend(EC);
    args.extend(["-nodes", "-keyout", &key, "-out", &csr, "-subj", &subj]);
    openssl(dir, &args);
    let ca_pem = format!("{ca}.pem");
    let ca_key = format!("{ca}.key");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca_pem,
            "-CAkey",
            &ca_key,
            "-set_serial",
            serial,
            "-days",
            days,
            "-out",
            &pem,
        ],
    );
    Peer {
        cert: dir.join(pem),
        key: dir.join(key),
        ca: dir.join(ca_pem),
    }
}

impl Pki {
    /// Makes every file in `dir` (created if missing) for a host whose
    /// unique id is `id`.
    pub fn generate(dir: &Path, id: &str) -> Pki {
        std::fs::create_dir_all(dir).expect("pki dir");
        let ca1 = make_ca(dir, "ca1");
        let ca2 = make_ca(dir, "ca2");
        Pki {
            dir: dir.to_path_buf(),
            peer1: make_peer(dir, "peer1", "ca1", id, "365", "11"),
            peer2: make_peer(dir, "peer2", "ca1", id, "365", "12"),
            wrong_cn: make_peer(dir, "peer3", "ca1", WRONG_ID, "365", "13"),
            ca2_peer: make_peer(dir, "peer4", "ca2", id, "365", "21"),
            // A negative validity: notAfter is a day before notBefore (now).
            expired: make_peer(dir, "expired", "ca1", id, "-1", "14"),
            ca1,
            ca2,
        }
    }
}
