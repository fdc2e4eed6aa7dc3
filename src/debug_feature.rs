//! `--debug-feature=NAME`: small network self-checks. `ipv6.multicast.server`
//! waits for one datagram on the multicast group (-A/-P) and answers WELCOME;
//! `ipv6.multicast.client` sends HELLO to the group and waits for the answer.
//! Exit 0 on success, 1 otherwise.

use crate::config::Config;
use crate::net;
use std::time::Duration;

const CLIENT_WAIT: Duration = Duration::from_secs(5);

pub fn run(config: &Config, name: &str) -> i32 {
    let result = match name.to_ascii_lowercase().as_str() {
        "ipv6.multicast.server" => multicast_server(config),
        "ipv6.multicast.client" => multicast_client(config),
        "tls.server" => crate::tls::debug::server(config),
        "tls.client" => crate::tls::debug::client(config),
        _ => Err(format!(
            "flom: unknown debug feature '{name}' (known: ipv6.multicast.server, ipv6.multicast.client, tls.server, tls.client)"
        )),
    };
    match result {
        Ok(()) => 0,
        Err(msg) => {
            eprintln!("{msg}");
            1
        }
    }
}

fn group(config: &Config) -> Result<std::net::SocketAddr, String> {
    let Some(addr) = &config.multicast_address else {
        return Err("flom: this debug feature needs a multicast group: use -A GROUP".to_string());
    };
    let scope = config
        .network_interface
        .as_deref()
        .and_then(net::ipv6_interface_index);
    net::resolve(addr, config.multicast_port as u16, scope)
        .map_err(|e| e.to_string())
        .map(|mut v| v.remove(0))
}

fn multicast_server(config: &Config) -> Result<(), String> {
    let g = group(config)?;
    let sock = net::multicast_responder(g)
        .map_err(|e| format!("flom: cannot join multicast group: {e}"))?;
    let mut buf = [0u8; 1024];
    let (n, src) = sock
        .recv_from(&mut buf)
        .map_err(|e| format!("flom: receive failed: {e}"))?;
    println!(
        "Arrived datagram is '{}'",
        String::from_utf8_lossy(&buf[..n])
    );
    sock.send_to(b"WELCOME", src)
        .map_err(|e| format!("flom: send failed: {e}"))?;
    println!("Sent datagram is 'WELCOME'");
    Ok(())
}

fn multicast_client(config: &Config) -> Result<(), String> {
    let g = group(config)?;
    let sock = net::multicast_sender(&g, config.discovery_ttl.max(1) as u32)
        .map_err(|e| format!("flom: cannot open multicast socket: {e}"))?;
    sock.set_read_timeout(Some(CLIENT_WAIT))
        .map_err(|e| e.to_string())?;
    sock.send_to(b"HELLO", g)
        .map_err(|e| format!("flom: send failed: {e}"))?;
    println!("Sent datagram is 'HELLO'");
    let mut buf = [0u8; 1024];
    let (n, _) = sock
        .recv_from(&mut buf)
        .map_err(|_| "flom: no answer from the multicast server".to_string())?;
    println!(
        "Arrived datagram is '{}'",
        String::from_utf8_lossy(&buf[..n])
    );
    Ok(())
}
