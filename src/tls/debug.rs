//! `--debug-feature=tls.server` / `tls.client`: one TLS connection over TCP
//! on the unicast address and port (-a/-p). The client sends its unique id
//! ended by `</msg>`, the server answers with its own; with
//! TlsCheckPeerId each side checks the id it got against the peer
//! certificate's CN. Ok(()) on success, else the sentence to print.

use super::{check_peer_id, Role, TlsContext, TlsFiles, TlsStream};
use crate::config::Config;
use crate::net::{self, Stream};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

const END: &[u8] = b"</msg>";
const RECEIVE_WAIT: Duration = Duration::from_secs(5);
const MAX_ID: usize = 1024;

fn context(config: &Config, role: Role, feature: &str) -> Result<TlsContext, String> {
    let Some(files) = super::files_of(config) else {
        return Err(format!(
            "flom: the {feature} debug feature needs TLS: give --tls-certificate, --tls-private-key and --tls-ca-certificate"
        ));
    };
    TlsContext::new(role, &files).map_err(|e| e.message)
}

fn addresses(config: &Config, feature: &str) -> Result<Vec<std::net::SocketAddr>, String> {
    let Some(address) = &config.unicast_address else {
        return Err(format!(
            "flom: the {feature} debug feature needs an address: use -a ADDRESS (and -p PORT)"
        ));
    };
    let scope = config
        .network_interface
        .as_deref()
        .and_then(net::ipv6_interface_index);
    net::resolve(address, config.unicast_port as u16, scope).map_err(|e| e.to_string())
}

/// Reads up to `</msg>`; the text before it.
fn receive_id(tls: &mut TlsStream, role: Role, files: &TlsFiles) -> Result<String, String> {
    let deadline = Instant::now() + RECEIVE_WAIT;
    let mut got = Vec::new();
    let mut chunk = [0u8; 256];
    while !got.ends_with(END) {
        if Instant::now() >= deadline || got.len() > MAX_ID {
            return Err("flom: the peer did not send its id ended by </msg>".to_string());
        }
        match tls.read(&mut chunk) {
            Ok(0) => {
                return Err("flom: the peer closed the connection before sending its id".to_string())
            }
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(super::diagnose::stream_failure(role, files, &e)
                    .unwrap_or_else(|| format!("flom: cannot receive the peer's id: {e}")))
            }
        }
    }
    got.truncate(got.len() - END.len());
    Ok(String::from_utf8_lossy(&got).into_owned())
}

fn send_id(tls: &mut TlsStream) -> Result<(), String> {
    let mut msg = crate::config::unique_id().into_bytes();
    msg.extend_from_slice(END);
    tls.write_all(&msg)
        .map_err(|e| format!("flom: cannot send this host's id: {e}"))
}

fn authenticate(config: &Config, role: Role, tls: &TlsStream, id: &str) -> Result<(), String> {
    if config.tls_check_peer_id {
        check_peer_id(role, tls.peer_cn(), Some(id)).map_err(|e| e.message)?;
    }
    Ok(())
}

pub fn server(config: &Config) -> Result<(), String> {
    let ctx = context(config, Role::Server, "tls.server")?;
    let addrs = addresses(config, "tls.server")?;
    let listener = TcpListener::bind(&addrs[..])
        .map_err(|e| format!("flom: cannot listen on {}: {e}", addrs[0]))?;
    let (tcp, _) = listener
        .accept()
        .map_err(|e| format!("flom: accept failed: {e}"))?;
    let mut tls = TlsStream::handshake_blocking(&ctx, Stream::Tcp(tcp)).map_err(|e| e.message)?;
    set_read_timeout(&tls, RECEIVE_WAIT);
    let id = receive_id(&mut tls, ctx.role(), ctx.files())?;
    authenticate(config, Role::Server, &tls, &id)?;
    send_id(&mut tls)?;
    let _ = tls.shutdown_write();
    Ok(())
}

pub fn client(config: &Config) -> Result<(), String> {
    let ctx = context(config, Role::Client, "tls.client")?;
    let addrs = addresses(config, "tls.client")?;
    let tcp = net::connect_tcp(&addrs, std::time::Instant::now() + super::HANDSHAKE_TIMEOUT)
        .map_err(|_| format!("flom: cannot connect to {}", addrs[0]))?;
    let mut tls = TlsStream::handshake_blocking(&ctx, Stream::Tcp(tcp)).map_err(|e| e.message)?;
    set_read_timeout(&tls, RECEIVE_WAIT);
    send_id(&mut tls)?;
    let id = receive_id(&mut tls, ctx.role(), ctx.files())?;
    authenticate(config, Role::Client, &tls, &id)?;
    let _ = tls.shutdown_write();
    Ok(())
}

fn set_read_timeout(tls: &TlsStream, t: Duration) {
    if let Stream::Tcp(s) = tls.get_ref() {
        let _ = s.set_read_timeout(Some(t));
    }
}
