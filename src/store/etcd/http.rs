//! The HTTP/1.1 side of the etcd conversation: JSON POSTs to the v3 gateway
//! over blocking streams with timeouts (plain TCP or TLS, see `transport`),
//! one kept-alive connection at a time, failing over along the endpoint
//! list; and the chunked streaming body a `/v3/watch` answers with. Used
//! only by the worker threads.

use super::transport::{self, MemberStream, Tls, TlsFiles};
use serde_json::Value;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

/// How long a connection attempt to one member may take.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(700);
/// The pause between two rounds over the members (`call_until`).
pub const RETRY_PAUSE: Duration = Duration::from_millis(100);
/// How long one request may wait for its answer.
const IO_TIMEOUT: Duration = Duration::from_secs(3);

/// One member of the endpoint list.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// As configured (`http://127.0.0.1:2379`): what messages name.
    pub url: String,
    /// `host:port` for the Host header.
    host: String,
    /// The host alone, as the member's certificate must name it.
    name: String,
    /// `https://`: the TLS side.
    tls: Option<Tls>,
}

/// Parses `URL[,URL...]`: `http://`, `https://` (TLS with `files`) or a
/// bare `host:port` (http).
pub fn parse_endpoints(list: &str, files: &TlsFiles) -> Result<Vec<Endpoint>, String> {
    let mut out = Vec::new();
    let mut tls: Option<Tls> = None;
    for url in list.split(',').map(str::trim).filter(|u| !u.is_empty()) {
        let (secure, rest) = match url.strip_prefix("https://") {
            Some(rest) => (true, rest),
            None => (false, url.strip_prefix("http://").unwrap_or(url)),
        };
        let host = rest.trim_end_matches('/');
        let name = host
            .rsplit_once(':')
            .map(|(h, _)| h.trim_start_matches('[').trim_end_matches(']'))
            .unwrap_or("");
        if host.is_empty() || host.contains('/') || name.is_empty() {
            return Err(format!(
                "flom: etcd endpoint '{url}' is not a URL like http://HOST:PORT or https://HOST:PORT; check [Etcd]/Endpoints"
            ));
        }
        let tls = match (secure, &tls) {
            (false, _) => None,
            (true, Some(t)) => Some(t.clone()),
            (true, None) => {
                let t = transport::connector(files)?;
                tls = Some(t.clone());
                Some(t)
            }
        };
        out.push(Endpoint {
            url: url.to_string(),
            host: host.to_string(),
            name: name.to_string(),
            tls,
        });
    }
    if out.is_empty() {
        return Err(
            "flom: [Etcd]/Endpoints is empty; give one or more http://HOST:PORT URLs".into(),
        );
    }
    Ok(out)
}

/// The time left before `limit` (None: no limit), or a timeout error.
fn left(limit: Option<Instant>) -> io::Result<Option<Duration>> {
    match limit {
        None => Ok(None),
        Some(l) => {
            let d = l.saturating_duration_since(Instant::now());
            if d < Duration::from_millis(1) {
                Err(io::Error::new(io::ErrorKind::TimedOut, "timed out"))
            } else {
                Ok(Some(d))
            }
        }
    }
}

fn bounded(usual: Duration, left: Option<Duration>) -> Duration {
    left.map_or(usual, |l| l.min(usual))
}

fn connect(ep: &Endpoint, limit: Option<Instant>) -> io::Result<MemberStream> {
    let addrs: Vec<SocketAddr> = ep.host.to_socket_addrs()?.collect();
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
    for a in addrs {
        match TcpStream::connect_timeout(&a, bounded(CONNECT_TIMEOUT, left(limit)?)) {
            Ok(s) => {
                s.set_nodelay(true)?;
                let io = bounded(IO_TIMEOUT, left(limit)?);
                s.set_read_timeout(Some(io))?;
                s.set_write_timeout(Some(io))?;
                return MemberStream::open(s, ep.tls.as_ref(), &ep.name);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

fn send_request(s: &mut MemberStream, ep: &Endpoint, path: &str, body: &[u8]) -> io::Result<()> {
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        ep.host,
        body.len()
    );
    let mut buf = head.into_bytes();
    buf.extend_from_slice(body);
    s.write_all(&buf)
}

/// What an error answer that is not etcd's JSON said: its first line of
/// text, shortened, and a hint.
fn not_etcd(body: &[u8]) -> String {
    // The text outside HTML tags (an error page's title and message).
    let mut text = String::new();
    let mut in_tag = false;
    for c in String::from_utf8_lossy(body).chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let line: String = line.chars().take(120).collect();
    format!("'{line}' (not an etcd answer: is it an etcd v3 client URL?)")
}

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

/// Reads a status line and headers: (status, chunked, content length).
fn read_head<R: BufRead>(r: &mut R) -> io::Result<(u16, bool, Option<usize>)> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed",
        ));
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("not an HTTP answer"))?;
    let (mut chunked, mut length) = (false, None);
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed",
            ));
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            let (k, v) = (k.trim(), v.trim());
            if k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked") {
                chunked = true;
            } else if k.eq_ignore_ascii_case("content-length") {
                length = v.parse().ok();
            }
        }
    }
    Ok((status, chunked, length))
}

/// A chunked body as a `Read` (ends at the last chunk).
pub struct Chunked<R> {
    inner: R,
    left: usize,
    done: bool,
}

impl<R: BufRead> Chunked<R> {
    fn new(inner: R) -> Self {
        Chunked {
            inner,
            left: 0,
            done: false,
        }
    }
}

impl<R: BufRead> Read for Chunked<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.left == 0 {
            if self.done {
                return Ok(0);
            }
            let mut line = String::new();
            if self.inner.read_line(&mut line)? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "stream closed",
                ));
            }
            let l = line.trim();
            if l.is_empty() {
                continue; // the CRLF after a chunk
            }
            let size = usize::from_str_radix(l.split(';').next().unwrap_or(""), 16)
                .map_err(|_| bad("bad chunk size"))?;
            if size == 0 {
                // Trailers up to the empty line.
                loop {
                    line.clear();
                    if self.inner.read_line(&mut line)? == 0 || line.trim().is_empty() {
                        break;
                    }
                }
                self.done = true;
                return Ok(0);
            }
            self.left = size;
        }
        let n = out.len().min(self.left);
        let got = self.inner.read(&mut out[..n])?;
        if got == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "stream closed",
            ));
        }
        self.left -= got;
        Ok(got)
    }
}

fn read_body<R: BufRead>(r: &mut R, chunked: bool, length: Option<usize>) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    if chunked {
        Chunked::new(&mut *r).read_to_end(&mut body)?;
    } else if let Some(n) = length {
        body.resize(n, 0);
        r.read_exact(&mut body)?;
    } else {
        r.read_to_end(&mut body)?;
    }
    Ok(body)
}

/// What a failed call says.
#[derive(Debug)]
pub enum CallError {
    /// No member answered (the message names the last one tried).
    Unreachable(String),
    /// A member answered with an error (named in the message).
    Rejected(String),
}

impl CallError {
    pub fn message(&self) -> &str {
        match self {
            CallError::Unreachable(m) | CallError::Rejected(m) => m,
        }
    }
}

/// The JSON client of one worker: a kept-alive connection to the member
/// that last answered, failing over to the next on errors.
pub struct Client {
    endpoints: Vec<Endpoint>,
    current: usize,
    conn: Option<BufReader<MemberStream>>,
    /// No wait of a request (connecting, writing, reading the answer) goes
    /// past it (`set_limit`).
    limit: Option<Instant>,
}

impl Client {
    pub fn new(endpoints: Vec<Endpoint>) -> Client {
        Client {
            endpoints,
            current: 0,
            conn: None,
            limit: None,
        }
    }

    /// Bounds every wait of the requests to come by `limit` (None: by the
    /// usual timeouts only). The lease keeper bounds its keepalives by the
    /// moment it gives the lease up: a member whose packets are dropped
    /// must not keep it waiting past that.
    pub fn set_limit(&mut self, limit: Option<Instant>) {
        self.limit = limit;
    }

    /// Applies `limit` to the kept-alive connection before a request.
    fn bound_conn(&mut self) -> io::Result<()> {
        if let Some(r) = &self.conn {
            let io = bounded(IO_TIMEOUT, left(self.limit)?);
            r.get_ref().tcp().set_read_timeout(Some(io))?;
            r.get_ref().tcp().set_write_timeout(Some(io))?;
        }
        Ok(())
    }

    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }

    fn once(&mut self, path: &str, body: &[u8]) -> io::Result<(u16, Vec<u8>)> {
        let ep = self.endpoints[self.current].clone();
        let reused = self.conn.is_some();
        if self.conn.is_none() {
            self.conn = Some(BufReader::new(connect(&ep, self.limit)?));
        } else if let Err(e) = self.bound_conn() {
            self.conn = None;
            return Err(e);
        }
        let r = self.conn.as_mut().expect("connected");
        let result = send_request(r.get_mut(), &ep, path, body)
            .and_then(|_| read_head(r))
            .and_then(|(status, chunked, len)| Ok((status, read_body(r, chunked, len)?)));
        match result {
            Ok(v) => Ok(v),
            Err(e) => {
                self.conn = None;
                if reused {
                    // A kept-alive connection the member closed: once more, fresh.
                    let mut s = BufReader::new(connect(&ep, self.limit)?);
                    send_request(s.get_mut(), &ep, path, body)?;
                    let (status, chunked, len) = read_head(&mut s)?;
                    let b = read_body(&mut s, chunked, len)?;
                    self.conn = Some(s);
                    Ok((status, b))
                } else {
                    Err(e)
                }
            }
        }
    }

    /// POSTs `body` to `path`, trying each member once from the current one.
    pub fn call(&mut self, path: &str, body: &Value) -> Result<Value, CallError> {
        self.call_until(path, body, Instant::now())
    }

    /// `call`, tried again every 100 ms while no member answers (an
    /// election under way, a member restarting) until `deadline`.
    pub fn call_until(
        &mut self,
        path: &str,
        body: &Value,
        deadline: Instant,
    ) -> Result<Value, CallError> {
        loop {
            match self.call_once(path, body) {
                Err(CallError::Unreachable(_)) if Instant::now() + RETRY_PAUSE < deadline => {
                    std::thread::sleep(RETRY_PAUSE);
                }
                other => return other,
            }
        }
    }

    fn call_once(&mut self, path: &str, body: &Value) -> Result<Value, CallError> {
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        let mut last = CallError::Unreachable(String::new());
        for _ in 0..self.endpoints.len() {
            let url = self.endpoints[self.current].url.clone();
            match self.once(path, &bytes) {
                Ok((200, b)) => match serde_json::from_slice::<Value>(&b) {
                    Ok(v) => return Ok(v),
                    Err(_) => {
                        last = CallError::Rejected(format!(
                            "flom: etcd at {url} answered {path} with something that is not JSON; is it an etcd v3 client URL?"
                        ))
                    }
                },
                Ok((status, b)) => {
                    let v: Value = serde_json::from_slice(&b).unwrap_or(Value::Null);
                    let why = v
                        .get("error")
                        .or_else(|| v.get("message"))
                        .and_then(Value::as_str)
                        .map(str::to_string)
                        .unwrap_or_else(|| not_etcd(&b));
                    let msg = format!("flom: etcd at {url} rejected {path} (HTTP {status}): {why}");
                    // Unavailable members (no leader, shutting down): try the next.
                    if status >= 500 && !why.contains("requested lease not found") {
                        last = CallError::Unreachable(msg);
                    } else {
                        self.conn = None;
                        return Err(CallError::Rejected(msg));
                    }
                    self.conn = None;
                }
                Err(e) => {
                    let all: Vec<&str> = self.endpoints.iter().map(|e| e.url.as_str()).collect();
                    let others = if all.len() > 1 {
                        format!(" (nor any of {})", all.join(", "))
                    } else {
                        String::new()
                    };
                    // A TLS error names the setting to check itself.
                    let hint = if e.to_string().contains("[Etcd]/") {
                        ""
                    } else {
                        "; check [Etcd]/Endpoints and that the cluster runs"
                    };
                    last = CallError::Unreachable(format!(
                        "flom: cannot reach etcd at {url}{others}: {e}{hint}"
                    ));
                }
            }
            self.current = (self.current + 1) % self.endpoints.len();
        }
        Err(last)
    }

    /// Opens a watch stream on the current member (next ones on failure):
    /// the returned reader yields the JSON messages of the stream.
    pub fn open_stream(
        &mut self,
        path: &str,
        body: &Value,
    ) -> Result<Chunked<BufReader<MemberStream>>, String> {
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        let mut last = String::new();
        for _ in 0..self.endpoints.len() {
            let ep = self.endpoints[self.current].clone();
            let attempt = (|| -> io::Result<Chunked<BufReader<MemberStream>>> {
                let mut s = connect(&ep, None)?;
                send_request(&mut s, &ep, path, &bytes)?;
                // A watch is quiet while nothing changes: no read timeout.
                s.tcp().set_read_timeout(None)?;
                let mut r = BufReader::new(s);
                let (status, chunked, _) = read_head(&mut r)?;
                if status != 200 || !chunked {
                    return Err(bad(&format!("HTTP {status}")));
                }
                Ok(Chunked::new(r))
            })();
            match attempt {
                Ok(c) => return Ok(c),
                Err(e) => last = format!("flom: cannot watch etcd at {}: {e}", ep.url),
            }
            self.current = (self.current + 1) % self.endpoints.len();
        }
        Err(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_http_or_https_urls() {
        let none = TlsFiles::default();
        let eps = parse_endpoints(
            "http://127.0.0.1:2379, https://node2:2379/,[::1]:2379",
            &none,
        )
        .unwrap();
        let names: Vec<(&str, &str, bool)> = eps
            .iter()
            .map(|e| (e.host.as_str(), e.name.as_str(), e.tls.is_some()))
            .collect();
        assert_eq!(
            names,
            [
                ("127.0.0.1:2379", "127.0.0.1", false),
                ("node2:2379", "node2", true),
                ("[::1]:2379", "::1", false)
            ]
        );
        for bad in ["ftp:/x", "http://nohost", "https://a:1/v3", ""] {
            assert!(
                parse_endpoints(bad, &none)
                    .unwrap_err()
                    .starts_with("flom: "),
                "{bad}"
            );
        }
        let half = TlsFiles {
            cert_file: Some("/etc/hostname".into()),
            ..TlsFiles::default()
        };
        assert!(parse_endpoints("https://a:1", &half)
            .unwrap_err()
            .contains("go together"));
    }

    #[test]
    fn an_error_page_is_told_in_one_short_line() {
        let page =
            b"<!DOCTYPE HTML>\n<html>\n  <head>\n</head>\n  <h1>Error response</h1>\n<p>x</p>\n";
        assert_eq!(
            not_etcd(page),
            "'Error response' (not an etcd answer: is it an etcd v3 client URL?)"
        );
        assert!(!not_etcd(&[b'x'; 500]).contains(&"x".repeat(121)));
    }
}
