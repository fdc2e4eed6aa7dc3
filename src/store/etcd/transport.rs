//! How the worker threads reach one etcd member: plain TCP for `http://`
//! endpoints, TLS for `https://` ones (the system's OpenSSL, as the daemon's
//! own TLS): the member's certificate is checked against `[Etcd]/CaFile`
//! (else the system's CAs) and its name or IP address against the URL's
//! host; `[Etcd]/CertFile` and `[Etcd]/KeyFile` give a client certificate
//! for a cluster that asks for one (`--client-cert-auth`). Blocking streams
//! with the socket's timeouts, as `http` uses them.

use openssl::ssl::{HandshakeError, SslConnector, SslFiletype, SslMethod, SslStream};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

/// The TLS files of `[Etcd]`.
#[derive(Clone, Debug, Default)]
pub struct TlsFiles {
    pub ca_file: Option<String>,
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
}

/// The TLS side of `https://` endpoints, shared by every connection.
pub type Tls = Arc<SslConnector>;

/// Builds the connector of `files`. Err: the `flom: ` sentence.
pub fn connector(files: &TlsFiles) -> Result<Tls, String> {
    let mut b = SslConnector::builder(SslMethod::tls_client())
        .map_err(|e| format!("flom: cannot set up TLS to etcd: {e}"))?;
    if let Some(ca) = &files.ca_file {
        b.set_ca_file(ca).map_err(|e| {
            format!("flom: [Etcd]/CaFile '{ca}' is not a PEM CA certificate ({e}); check the file")
        })?;
    }
    match (&files.cert_file, &files.key_file) {
        (Some(cert), Some(key)) => {
            b.set_certificate_chain_file(cert).map_err(|e| {
                format!(
                    "flom: [Etcd]/CertFile '{cert}' is not a PEM certificate ({e}); check the file"
                )
            })?;
            b.set_private_key_file(key, SslFiletype::PEM).map_err(|e| {
                format!(
                    "flom: [Etcd]/KeyFile '{key}' is not a PEM private key ({e}); check the file"
                )
            })?;
            b.check_private_key().map_err(|_| {
                format!("flom: [Etcd]/KeyFile '{key}' is not the key of [Etcd]/CertFile '{cert}'; give the pair that belongs together")
            })?;
        }
        (None, None) => {}
        _ => {
            return Err(
                "flom: [Etcd]/CertFile and [Etcd]/KeyFile go together: give both, or neither"
                    .into(),
            )
        }
    }
    Ok(Arc::new(b.build()))
}

/// One connection to a member.
pub enum MemberStream {
    Plain(TcpStream),
    Tls(Box<SslStream<TcpStream>>),
}

impl MemberStream {
    /// Wraps `tcp` in TLS when `tls` is given, checking the member is
    /// `name` (a host name or an IP address).
    pub fn open(tcp: TcpStream, tls: Option<&Tls>, name: &str) -> io::Result<MemberStream> {
        let Some(tls) = tls else {
            return Ok(MemberStream::Plain(tcp));
        };
        let config = tls.configure().map_err(io::Error::other)?;
        match config.connect(name, tcp) {
            Ok(s) => Ok(MemberStream::Tls(Box::new(s))),
            Err(HandshakeError::Failure(mid)) => {
                let verify = mid.ssl().verify_result();
                let why = if verify.as_raw() != 0 {
                    format!(
                        "TLS: the member's certificate is not trusted ({}); check [Etcd]/CaFile",
                        verify.error_string()
                    )
                } else {
                    format!(
                        "TLS handshake failed ({}); check that the URL's port speaks TLS and, when the cluster asks for one, [Etcd]/CertFile",
                        mid.error()
                    )
                };
                Err(io::Error::other(why))
            }
            Err(HandshakeError::SetupFailure(e)) => Err(io::Error::other(e)),
            Err(HandshakeError::WouldBlock(_)) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "TLS handshake timed out",
            )),
        }
    }

    pub fn tcp(&self) -> &TcpStream {
        match self {
            MemberStream::Plain(s) => s,
            MemberStream::Tls(s) => s.get_ref(),
        }
    }
}

/// A TLS alert from the member (OpenSSL's "... alert bad certificate:..."
/// text) told as a sentence; other errors as they are.
fn explain_alert(e: io::Error) -> io::Error {
    let text = e.to_string();
    let Some(at) = text.find("alert ") else {
        return e;
    };
    let reason = text[at + 6..].split(':').next().unwrap_or("").trim();
    if reason.contains("certificate") {
        io::Error::other(format!(
            "the member refused this daemon's TLS client certificate (alert: {reason}); check [Etcd]/CertFile and [Etcd]/KeyFile"
        ))
    } else {
        io::Error::other(format!(
            "the member ended the TLS session (alert: {reason})"
        ))
    }
}

impl Read for MemberStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            MemberStream::Plain(s) => s.read(buf),
            MemberStream::Tls(s) => s.read(buf).map_err(explain_alert),
        }
    }
}

impl Write for MemberStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            MemberStream::Plain(s) => s.write(buf),
            MemberStream::Tls(s) => s.write(buf).map_err(explain_alert),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            MemberStream::Plain(s) => s.flush(),
            MemberStream::Tls(s) => s.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_are_sentences() {
        let raw = io::Error::other("error:0A000412:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate:../ssl/record/rec_layer_s3.c:1602:SSL alert number 42");
        assert_eq!(
            explain_alert(raw).to_string(),
            "the member refused this daemon's TLS client certificate (alert: bad certificate); check [Etcd]/CertFile and [Etcd]/KeyFile"
        );
        let other = io::Error::other("timed out");
        assert_eq!(explain_alert(other).to_string(), "timed out");
    }
}
