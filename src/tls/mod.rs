//! TLS for FLoM's streams (UNIX socket and TCP alike), over the system's
//! OpenSSL: the client and daemon contexts built from the three PEM files
//! (with the checks that explain a bad file before anything is started), the
//! peer certificate's CN for the peer-id check, and the return codes and
//! `flom: ` sentences of TLS failures. The handshake state machine and the
//! established stream are in `stream`; the explanation of OpenSSL's failures
//! in `diagnose`; the `tls.server`/`tls.client` debug features in `debug`.

pub mod debug;
pub mod diagnose;
pub mod stream;
#[cfg(test)]
pub mod test_pki;
#[cfg(test)]
mod tests;
pub mod transport;

pub use stream::{Handshake, Progress, TlsStream};
pub use transport::Transport;

use openssl::asn1::Asn1Time;
use openssl::nid::Nid;
use openssl::ssl::{
    SslContext, SslContextBuilder, SslFiletype, SslMethod, SslMode, SslOptions,
    SslSessionCacheMode, SslVerifyMode,
};
use openssl::x509::{X509NameRef, X509Ref, X509};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How long a handshake may take, on either side, before the connection is
/// dropped (C FLoM waits forever; a daemon must not keep a silent peer).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Depth of the certificate chain accepted (C FLoM: 3 + 1).
pub const VERIFY_DEPTH: u32 = 4;

/// Return codes of C FLoM for TLS failures (see `rc::strerror`).
pub mod code {
    pub const NO_CERTIFICATE: i32 = -22;
    pub const UNIQUE_ID_DOES_NOT_MATCH: i32 = -23;
    pub const NO_TLS_CONNECTION: i32 = -24;
    pub const SSL_CTX_CHECK_PRIVATE_KEY_ERROR: i32 = -400;
    pub const SSL_CTX_LOAD_VERIFY_LOCATIONS_ERROR: i32 = -401;
    pub const SSL_CTX_NEW_ERROR: i32 = -402;
    pub const SSL_CTX_USE_CERTIFICATE_FILE_ERROR: i32 = -403;
    pub const SSL_CTX_USE_PRIVATEKEY_FILE_ERROR: i32 = -404;
    pub const SSL_ACCEPT_ERROR: i32 = -405;
    pub const SSL_CONNECT_ERROR: i32 = -406;
    pub const SSL_GET_VERIFY_RESULT_ERROR: i32 = -407;
    pub const SSL_NEW_ERROR: i32 = -408;
    pub const SSL_READ_ERROR: i32 = -409;
    pub const SSL_WRITE_ERROR: i32 = -412;

    /// C FLoM's text for a TLS return code, if `rc` is one.
    pub fn text(rc: i32) -> Option<&'static str> {
        Some(match rc {
            -400 => "ERROR: 'OpenSSL SSL_CTX_check_private_key' function returned an error",
            -401 => "ERROR: 'OpenSSL SSL_CTX_load_verify_locations' function returned an error",
            -402 => "ERROR: 'OpenSSL SSL_CTX_new' function returned an error",
            -403 => "ERROR: 'OpenSSL SSL_CTX_use_certificate_file' function returned an error",
            -404 => "ERROR: 'OpenSSL SSL_CTX_use_PrivateKey_file' function returned an error",
            -405 => "ERROR: unknown error",
            -406 => "ERROR: 'OpenSSL SSL_connect' function returned an error",
            -407 => "ERROR: 'OpenSSL SSL_get_verify_result' function returned an error",
            -408 => "ERROR: 'OpenSSL SSL_new' function returned an error",
            -409 => "ERROR: 'OpenSSL SSL_read' function returned an error",
            -410 => "ERROR: 'OpenSSL SSL_set_ex_data' function returned an error",
            -411 => "ERROR: 'OpenSSL SSL_set_fd' function returned an error",
            -412 => "ERROR: 'OpenSSL SSL_write' function returned an error",
            -413 => "ERROR: no valid TLS/SSL method was found",
            _ => return None,
        })
    }
}

/// Which end of the handshake this side plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The `flom` command (and the `tls.client` debug feature).
    Client,
    /// The daemon (and the `tls.server` debug feature).
    Server,
}

impl Role {
    /// How this side calls its peer in messages.
    pub fn peer(self) -> &'static str {
        match self {
            Role::Client => "the daemon",
            Role::Server => "the client",
        }
    }
}

/// The three PEM files of one side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    pub certificate: PathBuf,
    pub private_key: PathBuf,
    pub ca_certificate: PathBuf,
}

impl TlsFiles {
    /// The files when all three are set (TLS is on for this side), else None.
    pub fn from_options(
        certificate: Option<&str>,
        private_key: Option<&str>,
        ca_certificate: Option<&str>,
    ) -> Option<TlsFiles> {
        Some(TlsFiles {
            certificate: PathBuf::from(certificate?),
            private_key: PathBuf::from(private_key?),
            ca_certificate: PathBuf::from(ca_certificate?),
        })
    }
}

/// Why TLS failed: C FLoM's return code, and the sentence that says what
/// failed and what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsError {
    pub rc: i32,
    pub message: String,
}

impl TlsError {
    pub fn new(rc: i32, message: impl Into<String>) -> TlsError {
        TlsError {
            rc,
            message: message.into(),
        }
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TlsError {}

/// A context of one side, built once and shared by its connections.
pub struct TlsContext {
    ctx: SslContext,
    role: Role,
    files: Arc<TlsFiles>,
}

fn shown(p: &Path) -> String {
    p.display().to_string()
}

/// The first OpenSSL reason of an error stack, for messages.
fn first_reason(e: &openssl::error::ErrorStack) -> String {
    e.errors()
        .iter()
        .find_map(|x| x.reason().map(str::to_string))
        .unwrap_or_else(|| "no reason given".to_string())
}

/// Reads one PEM certificate, for the checks that OpenSSL's loaders do not
/// explain.
fn read_certificate(path: &Path, what: &str, rc: i32) -> Result<X509, TlsError> {
    let bytes = std::fs::read(path).map_err(|e| {
        TlsError::new(
            rc,
            format!("flom: cannot read the {what} '{}': {e}", shown(path)),
        )
    })?;
    X509::from_pem(&bytes).map_err(|e| {
        TlsError::new(
            rc,
            format!(
                "flom: '{}' does not hold a PEM {what} ({}): give a file that starts with '-----BEGIN CERTIFICATE-----'",
                shown(path),
                first_reason(&e)
            ),
        )
    })
}

/// Whether `cert` is valid now; the sentence says when it expired or from
/// when it is valid.
fn check_validity(cert: &X509Ref, path: &Path, what: &str) -> Result<(), TlsError> {
    let now = Asn1Time::days_from_now(0).map_err(|e| {
        TlsError::new(
            code::SSL_CTX_NEW_ERROR,
            format!("flom: cannot read the clock: {e}"),
        )
    })?;
    if cert.not_after() < now {
        return Err(TlsError::new(
            code::SSL_CTX_USE_CERTIFICATE_FILE_ERROR,
            format!(
                "flom: the {what} '{}' expired on {}: renew it",
                shown(path),
                cert.not_after()
            ),
        ));
    }
    if cert.not_before() > now {
        return Err(TlsError::new(
            code::SSL_CTX_USE_CERTIFICATE_FILE_ERROR,
            format!(
                "flom: the {what} '{}' is not valid before {} (is this host's clock right?)",
                shown(path),
                cert.not_before()
            ),
        ));
    }
    Ok(())
}

impl TlsContext {
    /// Builds the context of `role` from `files`: generic TLS method (every
    /// version the library allows), certificate (chain) and private key from
    /// PEM, key/certificate consistency, CA file as the only trust store,
    /// verify depth 4, peer certificate requested (and mandatory for the
    /// daemon). Every failure names the file and what is wrong with it.
    pub fn new(role: Role, files: &TlsFiles) -> Result<TlsContext, TlsError> {
        let method = match role {
            Role::Client => SslMethod::tls_client(),
            Role::Server => SslMethod::tls_server(),
        };
        let mut b = SslContextBuilder::new(method).map_err(|e| {
            TlsError::new(
                code::SSL_CTX_NEW_ERROR,
                format!(
                    "flom: OpenSSL cannot create a TLS context: {}",
                    first_reason(&e)
                ),
            )
        })?;
        Self::load_identity(&mut b, files)?;
        Self::load_trust(&mut b, files)?;
        match role {
            Role::Client => b.set_verify(SslVerifyMode::PEER),
            // The daemon logs who connects (FLM011I/FLM012I, as C FLoM),
            // also when the chain is then refused; the verdict is OpenSSL's.
            Role::Server => b.set_verify_callback(
                SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT,
                |verified, store| {
                    if store.error_depth() == 0 {
                        if let Some(cert) = store.current_cert() {
                            log_peer_certificate(cert);
                        }
                    }
                    verified
                },
            ),
        }
        b.set_verify_depth(VERIFY_DEPTH);
        // Idle connections (a held lock may last hours) keep no buffers;
        // the daemon's write buffer may move between retries. With this
        // mode OpenSSL 3 also frees the ~17 KB read buffer when a read
        // finds the socket empty (the daemon's last read before
        // WouldBlock), so an idle connection holds none: calling
        // SSL_free_buffers on WouldBlock was measured to change nothing.
        // What a held connection still costs is in the README (TLS).
        b.set_mode(
            SslMode::RELEASE_BUFFERS
                | SslMode::ACCEPT_MOVING_WRITE_BUFFER
                | SslMode::ENABLE_PARTIAL_WRITE,
        );
        // A peer that closes without close_notify (C FLoM never sends one)
        // is an ordinary end of stream.
        b.set_options(SslOptions::IGNORE_UNEXPECTED_EOF);
        // Every FLoM connection is a new one: no session to resume.
        b.set_session_cache_mode(SslSessionCacheMode::OFF);
        if role == Role::Server {
            let _ = b.set_num_tickets(0);
        }
        Ok(TlsContext {
            ctx: b.build(),
            role,
            files: Arc::new(files.clone()),
        })
    }

    fn load_identity(b: &mut SslContextBuilder, files: &TlsFiles) -> Result<(), TlsError> {
        let cert_path = &files.certificate;
        let cert = read_certificate(
            cert_path,
            "certificate",
            code::SSL_CTX_USE_CERTIFICATE_FILE_ERROR,
        )?;
        check_validity(&cert, cert_path, "certificate")?;
        b.set_certificate_chain_file(cert_path).map_err(|e| {
            TlsError::new(
                code::SSL_CTX_USE_CERTIFICATE_FILE_ERROR,
                format!(
                    "flom: OpenSSL refuses the certificate '{}': {}",
                    shown(cert_path),
                    first_reason(&e)
                ),
            )
        })?;
        let key_path = &files.private_key;
        let mismatch = |rc| {
            TlsError::new(
                rc,
                format!(
                    "flom: the private key '{}' does not match the certificate '{}': give the key the certificate was made for",
                    shown(key_path),
                    shown(cert_path)
                ),
            )
        };
        // OpenSSL checks the pair already while loading the key ("key
        // values mismatch"), as C FLoM's -404; the explicit check is -400.
        b.set_private_key_file(key_path, SslFiletype::PEM).map_err(|e| {
            let reason = first_reason(&e);
            if reason.contains("mismatch") {
                return mismatch(code::SSL_CTX_USE_PRIVATEKEY_FILE_ERROR);
            }
            TlsError::new(
                code::SSL_CTX_USE_PRIVATEKEY_FILE_ERROR,
                format!(
                    "flom: '{}' does not hold a usable PEM private key ({reason}): give the unencrypted key of '{}'",
                    shown(key_path),
                    shown(cert_path)
                ),
            )
        })?;
        b.check_private_key()
            .map_err(|_| mismatch(code::SSL_CTX_CHECK_PRIVATE_KEY_ERROR))
    }

    fn load_trust(b: &mut SslContextBuilder, files: &TlsFiles) -> Result<(), TlsError> {
        let ca_path = &files.ca_certificate;
        let ca = read_certificate(
            ca_path,
            "CA certificate",
            code::SSL_CTX_LOAD_VERIFY_LOCATIONS_ERROR,
        )?;
        check_validity(&ca, ca_path, "CA certificate")?;
        b.set_ca_file(ca_path).map_err(|e| {
            TlsError::new(
                code::SSL_CTX_LOAD_VERIFY_LOCATIONS_ERROR,
                format!(
                    "flom: OpenSSL cannot load the CA certificate '{}': {}",
                    shown(ca_path),
                    first_reason(&e)
                ),
            )
        })
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn files(&self) -> &Arc<TlsFiles> {
        &self.files
    }

    pub(crate) fn ssl_context(&self) -> &SslContext {
        &self.ctx
    }
}

/// The TLS files of a configuration, when all three are set.
pub fn files_of(config: &crate::config::Config) -> Option<TlsFiles> {
    TlsFiles::from_options(
        config.tls_certificate.as_deref(),
        config.tls_private_key.as_deref(),
        config.tls_ca_certificate.as_deref(),
    )
}

/// The context of `role` for a configuration: None when TLS is off for this
/// side, an error naming the bad file otherwise.
pub fn context_of(
    config: &crate::config::Config,
    role: Role,
) -> Result<Option<TlsContext>, TlsError> {
    files_of(config)
        .map(|f| TlsContext::new(role, &f))
        .transpose()
}

/// The name fields C FLoM logs, in its order, as `C=..`/`ST=..`/...
/// (`(null)` for a field the name lacks).
fn name_fields(name: &X509NameRef) -> String {
    [
        (Nid::COUNTRYNAME, "C"),
        (Nid::STATEORPROVINCENAME, "ST"),
        (Nid::LOCALITYNAME, "L"),
        (Nid::ORGANIZATIONNAME, "O"),
        (Nid::ORGANIZATIONALUNITNAME, "OU"),
        (Nid::PKCS9_EMAILADDRESS, "emailAddress"),
        (Nid::COMMONNAME, "CN"),
    ]
    .iter()
    .map(|&(nid, key)| {
        let value = name.entries_by_nid(nid).next().map_or_else(
            || "(null)".to_string(),
            |e| String::from_utf8_lossy(e.data().as_slice()).into_owned(),
        );
        format!("{key}={value}")
    })
    .collect::<Vec<_>>()
    .join("/")
}

/// FLM011I (issuer) and FLM012I (subject) of a certificate a client
/// presented to the daemon.
fn log_peer_certificate(cert: &X509Ref) {
    crate::syslog::info(&format!(
        "FLM011I the peer's X.509 certificate was issued by {}",
        name_fields(cert.issuer_name())
    ));
    crate::syslog::info(&format!(
        "FLM012I the peer's X.509 certificate is for {}",
        name_fields(cert.subject_name())
    ));
}

/// The subject CN of a certificate, if it has one.
pub fn common_name(cert: &X509Ref) -> Option<String> {
    cert.subject_name()
        .entries_by_nid(Nid::COMMONNAME)
        .next()
        .map(|e| String::from_utf8_lossy(e.data().as_slice()).into_owned())
}

/// The peer-id check (TlsCheckPeerId): the id the peer sent in a message
/// must equal the CN of the certificate it presented.
pub fn check_peer_id(
    role: Role,
    peer_cn: Option<&str>,
    peer_id: Option<&str>,
) -> Result<(), TlsError> {
    match (peer_cn, peer_id) {
        (Some(cn), Some(id)) if cn == id => Ok(()),
        (cn, id) => Err(TlsError::new(
            code::UNIQUE_ID_DOES_NOT_MATCH,
            format!(
                "flom: {} presents itself with id '{}' but its certificate's CN is '{}': its certificate must be made for CN={} (`flom --unique-id` on that host)",
                role.peer(),
                id.unwrap_or_default(),
                cn.unwrap_or_default(),
                id.unwrap_or("<its unique id>")
            ),
        )),
    }
}
