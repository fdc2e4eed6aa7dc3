//! What a TLS failure means, in one `flom: ` sentence that names the file or
//! the check that failed: the peer's chain not signed by our CA, our
//! certificate refused by the peer (its alert), an expired or not yet valid
//! certificate, a peer that speaks plain text or closed during the handshake.

use super::{Role, TlsFiles};
use openssl::ssl::{ErrorCode, SslRef};
use openssl::x509::X509VerifyResult;
use std::io;

// X509_V_ERR_* values of OpenSSL (stable across versions).
const UNABLE_TO_GET_ISSUER_CERT: i32 = 2;
const CERT_SIGNATURE_FAILURE: i32 = 7;
const CERT_NOT_YET_VALID: i32 = 9;
const CERT_HAS_EXPIRED: i32 = 10;
const DEPTH_ZERO_SELF_SIGNED_CERT: i32 = 18;
const SELF_SIGNED_CERT_IN_CHAIN: i32 = 19;
const UNABLE_TO_GET_ISSUER_CERT_LOCALLY: i32 = 20;
const UNABLE_TO_VERIFY_LEAF_SIGNATURE: i32 = 21;
const CERT_CHAIN_TOO_LONG: i32 = 22;
const CERT_UNTRUSTED: i32 = 27;

fn theirs(role: Role) -> &'static str {
    match role {
        Role::Client => "the daemon's",
        Role::Server => "the client's",
    }
}

/// The peer sent plain text where a TLS handshake was due.
pub fn plain_text_peer(role: Role) -> String {
    format!(
        "flom: {} speaks plain text, not TLS: configure TlsCertificate, TlsPrivateKey and TlsCaCertificate on both sides, or on neither",
        role.peer()
    )
}

/// The peer closed the connection before the handshake ended.
pub fn closed_during_handshake(role: Role) -> String {
    match role {
        Role::Client => "flom: the daemon closed the connection during the TLS handshake: it may run without TLS (configure the three TLS files on both sides), or it refused our certificate (see its system log)".to_string(),
        Role::Server => "flom: the client closed the connection during the TLS handshake".to_string(),
    }
}

/// Our verification of the peer's certificate failed.
pub fn verify_failure(role: Role, files: &TlsFiles, result: X509VerifyResult) -> String {
    let ca = files.ca_certificate.display();
    let why = result.error_string();
    match result.as_raw() {
        UNABLE_TO_GET_ISSUER_CERT
        | UNABLE_TO_GET_ISSUER_CERT_LOCALLY
        | UNABLE_TO_VERIFY_LEAF_SIGNATURE
        | SELF_SIGNED_CERT_IN_CHAIN
        | DEPTH_ZERO_SELF_SIGNED_CERT
        | CERT_SIGNATURE_FAILURE
        | CERT_UNTRUSTED => format!(
            "flom: {} certificate is not signed by the CA in '{ca}' (wrong CA?): {why}",
            theirs(role)
        ),
        CERT_HAS_EXPIRED => format!(
            "flom: {} certificate has expired: it must be renewed",
            theirs(role)
        ),
        CERT_NOT_YET_VALID => format!(
            "flom: {} certificate is not valid yet (are both hosts' clocks right?)",
            theirs(role)
        ),
        CERT_CHAIN_TOO_LONG => format!(
            "flom: {} certificate chain is longer than {} certificates",
            theirs(role),
            super::VERIFY_DEPTH
        ),
        _ => format!(
            "flom: {} certificate does not verify against the CA in '{ca}': {why}",
            theirs(role)
        ),
    }
}

/// The OpenSSL reasons of an error, lower case.
fn reasons(e: &openssl::ssl::Error) -> Vec<String> {
    e.ssl_error()
        .map(|s| {
            s.errors()
                .iter()
                .filter_map(|x| x.reason().map(|r| r.to_ascii_lowercase()))
                .collect()
        })
        .unwrap_or_default()
}

/// The sentence for an alert or protocol failure whose OpenSSL reason is
/// `reason`, if it is one we can explain.
fn explain_reason(role: Role, files: &TlsFiles, reason: &str) -> Option<String> {
    let cert = files.certificate.display();
    let peer = role.peer();
    let s = if reason.contains("alert unknown ca") {
        format!("flom: {peer} refused our certificate '{cert}': it is not signed by a CA {peer} trusts (wrong CA?)")
    } else if reason.contains("alert certificate expired") {
        format!("flom: {peer} refused our certificate '{cert}': it has expired by {peer}'s clock")
    } else if reason.contains("alert certificate required") {
        format!("flom: {peer} requires a certificate: configure TlsCertificate, TlsPrivateKey and TlsCaCertificate")
    } else if reason.contains("alert bad certificate")
        || reason.contains("alert certificate unknown")
        || reason.contains("alert unsupported certificate")
        || reason.contains("alert decrypt error")
    {
        format!("flom: {peer} refused our certificate '{cert}' ({reason})")
    } else if reason.contains("wrong version number")
        || reason.contains("packet length too long")
        || reason.contains("unknown protocol")
        || reason.contains("http request")
        || reason.contains("record layer failure")
    {
        plain_text_peer(role)
    } else if reason.contains("alert") {
        format!("flom: {peer} ended the TLS handshake: {reason}")
    } else {
        return None;
    };
    Some(s)
}

/// A failed handshake step.
pub fn handshake_failure(
    role: Role,
    files: &TlsFiles,
    ssl: &SslRef,
    e: &openssl::ssl::Error,
) -> String {
    if e.code() == ErrorCode::SYSCALL || e.code() == ErrorCode::ZERO_RETURN {
        return match e.io_error() {
            None => closed_during_handshake(role),
            Some(io) if io.kind() == io::ErrorKind::ConnectionReset => {
                closed_during_handshake(role)
            }
            Some(io) => format!(
                "flom: the connection to {} failed during the TLS handshake: {io}",
                role.peer()
            ),
        };
    }
    let verified = ssl.verify_result();
    if verified.as_raw() != 0 {
        return verify_failure(role, files, verified);
    }
    let reasons = reasons(e);
    for r in &reasons {
        if let Some(s) = explain_reason(role, files, r) {
            return s;
        }
    }
    format!(
        "flom: the TLS handshake with {} failed: {}",
        role.peer(),
        if reasons.is_empty() {
            e.to_string()
        } else {
            reasons.join("; ")
        }
    )
}

/// A read or write error on an established TLS stream explained, when it
/// is a TLS one: with TLS 1.3 a client learns that the daemon refused its
/// certificate only from its first read.
pub fn stream_failure(role: Role, files: &TlsFiles, e: &io::Error) -> Option<String> {
    let ssl_err = e.get_ref()?.downcast_ref::<openssl::ssl::Error>()?;
    reasons(ssl_err)
        .iter()
        .find_map(|r| explain_reason(role, files, r))
}
