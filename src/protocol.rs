//! The FLoM wire protocol, level 3: the fixed-format XML-like text messages
//! exchanged by clients and daemons, their framing on `</msg>`, and the Base64
//! coding of resource names. Written and parsed by hand, byte-compatible with
//! C FLoM 1.7.2.

use crate::resource::ResourceType;
use std::fmt::Write as _;

pub const LEVEL: i32 = 3;
pub const VERB_LOCK: i32 = 1;
pub const VERB_UNLOCK: i32 = 2;
pub const VERB_PING: i32 = 3;
pub const VERB_DISCOVER: i32 = 4;
pub const VERB_MNGMNT: i32 = 5;
pub const STEP_REQUEST: i32 = 8;
pub const STEP_FIRST_ANSWER: i32 = 16;
pub const STEP_LATER_ANSWER: i32 = 24;
pub const STEP_FINAL_ANSWER: i32 = 32;

/// The terminator of every message.
pub const END_TAG: &[u8] = b"</msg>";
const PROLOGUE: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>";

/// Largest message a daemon accepts from a client. C FLoM accepts 511 bytes;
/// we accept more (longer resource names) and still bound the buffer.
pub const DAEMON_MAX_MESSAGE: usize = 4096;
/// Largest message a client accepts from a daemon.
pub const CLIENT_MAX_MESSAGE: usize = 4096;

// ------------------------------------------------------------------ Base64

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard Base64 with `=` padding, appended to `out`.
pub fn base64_encode_into(input: &[u8], out: &mut String) {
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(B64[(n >> 18) as usize & 63] as char);
        out.push(B64[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 {
            B64[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            B64[n as usize & 63] as char
        } else {
            '='
        });
    }
}

pub fn base64_encode(input: &[u8]) -> String {
    let mut s = String::with_capacity(input.len().div_ceil(3) * 4);
    base64_encode_into(input, &mut s);
    s
}

/// Decodes standard Base64; `None` when the text is not valid Base64.
pub fn base64_decode(input: &str) -> Option<Vec<u8>> {
    let b = input.as_bytes();
    if b.len() % 4 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(b.len() / 4 * 3);
    for (i, quad) in b.chunks(4).enumerate() {
        let last = i == b.len() / 4 - 1;
        let mut n = 0u32;
        let mut pad = 0;
        for (j, &c) in quad.iter().enumerate() {
            let v = match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' => 62,
                b'/' => 63,
                b'=' if last && j >= 2 => {
                    pad += 1;
                    0
                }
                _ => return None,
            };
            if pad > 0 && c != b'=' {
                return None;
            }
            n = (n << 6) | u32::from(v);
        }
        out.push((n >> 16) as u8);
        if pad < 2 {
            out.push((n >> 8) as u8);
        }
        if pad < 1 {
            out.push(n as u8);
        }
    }
    Some(out)
}

// --------------------------------------------------------------- encoding

fn header(out: &mut String, verb: i32, step: i32) {
    out.push_str(PROLOGUE);
    let _ = write!(
        out,
        "<msg level=\"{LEVEL}\" verb=\"{verb}\" step=\"{step}\">"
    );
}

/// The attributes of a lock request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockRequestArgs<'a> {
    pub peerid: &'a str,
    pub name: &'a str,
    pub mode: u8,
    pub wait: bool,
    pub quantity: i64,
    pub create: bool,
    pub lifespan: i64,
}

/// Lock request (verb 1, step 8). The attributes sent depend on the type the
/// name has, exactly as C FLoM lays them out.
pub fn encode_lock_request(out: &mut String, a: &LockRequestArgs) {
    encode_lock_request_extended(out, a, Asked::default());
}

/// What a lock request asks of our daemon beyond C's protocol. Each is an
/// empty element, which C FLoM's parser ignores (an unknown element
/// without attributes); with none the bytes are C's exactly.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Asked {
    /// `<fencing/>`: the grant's fencing token (`--fencing`).
    pub fencing: bool,
    /// `<etcd-key/>`: the etcd key of the request (`--verbose` with etcd).
    pub etcd_key: bool,
}

/// What a lock answer tells beyond C's protocol, only to a client that
/// asked (so a C client sees C's bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Told<'a> {
    /// `<fencing token="N"/>`, with a grant.
    pub fencing_token: Option<u64>,
    /// `<etcd key="B64"/>`, while the request has a key.
    pub etcd_key: Option<&'a str>,
}

/// A lock request with our extensions `asked`.
pub fn encode_lock_request_extended(out: &mut String, a: &LockRequestArgs, asked: Asked) {
    header(out, VERB_LOCK, STEP_REQUEST);
    let _ = write!(out, "<session peerid=\"{}\"/><resource name=\"", a.peerid);
    base64_encode_into(a.name.as_bytes(), out);
    out.push('"');
    let kind = crate::resource::resource_type(a.name).unwrap_or(ResourceType::Simple);
    let wait = u8::from(a.wait);
    let create = u8::from(a.create);
    match kind {
        ResourceType::Simple | ResourceType::Hierarchical => {
            let _ = write!(out, " mode=\"{}\" wait=\"{wait}\"", a.mode);
        }
        ResourceType::Numeric => {
            let _ = write!(out, " wait=\"{wait}\" quantity=\"{}\"", a.quantity);
        }
        _ => {
            let _ = write!(out, " wait=\"{wait}\"");
        }
    }
    let _ = write!(out, " create=\"{create}\" lifespan=\"{}\"/>", a.lifespan);
    if asked.fencing {
        out.push_str("<fencing/>");
    }
    if asked.etcd_key {
        out.push_str("<etcd-key/>");
    }
    out.push_str("</msg>");
}

/// Lock answer (verb 1). Step 16 carries the daemon's session element.
pub fn encode_lock_answer(
    out: &mut String,
    step: i32,
    peerid: &str,
    rc: i32,
    element: Option<&str>,
) {
    encode_lock_answer_extended(out, step, peerid, rc, element, Told::default());
}

/// A lock answer with what `told` carries after the answer element.
pub fn encode_lock_answer_extended(
    out: &mut String,
    step: i32,
    peerid: &str,
    rc: i32,
    element: Option<&str>,
    told: Told<'_>,
) {
    header(out, VERB_LOCK, step);
    if step == STEP_FIRST_ANSWER {
        let _ = write!(out, "<session peerid=\"{peerid}\"/>");
    }
    let _ = write!(out, "<answer rc=\"{rc}\"");
    if let Some(e) = element {
        let _ = write!(out, " element=\"{e}\"");
    }
    out.push_str("/>");
    if let Some(token) = told.fencing_token {
        let _ = write!(out, "<fencing token=\"{token}\"/>");
    }
    if let Some(key) = told.etcd_key {
        out.push_str("<etcd key=\"");
        base64_encode_into(key.as_bytes(), out);
        out.push_str("\"/>");
    }
    out.push_str("</msg>");
}

/// Unlock (verb 2, step 8); never answered.
pub fn encode_unlock(out: &mut String, name: &str, rollback: bool) {
    header(out, VERB_UNLOCK, STEP_REQUEST);
    out.push_str("<resource name=\"");
    base64_encode_into(name.as_bytes(), out);
    let _ = write!(out, "\" rollback=\"{}\" /></msg>", u8::from(rollback));
}

/// Discovery query (verb 4, step 8), sent by UDP.
pub fn encode_discover(out: &mut String) {
    header(out, VERB_DISCOVER, STEP_REQUEST);
    out.push_str("</msg>");
}

/// Discovery reply (verb 4, step 16).
pub fn encode_discover_reply(out: &mut String, address: &str, port: u16) {
    header(out, VERB_DISCOVER, STEP_FIRST_ANSWER);
    let _ = write!(
        out,
        "<network address=\"{address}\" port=\"{port}\"/></msg>"
    );
}

/// Management (verb 5, step 8): shutdown request; never answered.
pub fn encode_management(out: &mut String, peerid: &str, immediate: bool) {
    header(out, VERB_MNGMNT, STEP_REQUEST);
    let _ = write!(
        out,
        "<session peerid=\"{peerid}\"/><shutdown immediate=\"{}\"/></msg>",
        u8::from(immediate)
    );
}

/// Management (verb 5, step 8): status request (our extension, `--status`).
/// Its `<status version="1"/>` element has an attribute, so a C daemon
/// finds the message invalid and closes the connection without an answer
/// (a management message without a known action would make it exit).
pub fn encode_status_request(out: &mut String, peerid: &str) {
    header(out, VERB_MNGMNT, STEP_REQUEST);
    let _ = write!(
        out,
        "<session peerid=\"{peerid}\"/><status version=\"{STATUS_VERSION}\"/></msg>"
    );
}

/// The version of the status answer's layout (see `snapshot`).
pub const STATUS_VERSION: u32 = 1;

/// Ping (verb 3): defined by the protocol, never sent by C FLoM.
pub fn encode_ping(out: &mut String, step: i32) {
    header(out, VERB_PING, step);
    out.push_str("</msg>");
}

// ---------------------------------------------------------------- parsing

/// A decoded message. Elements the message did not carry are `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Message {
    pub verb: i32,
    pub step: i32,
    pub peerid: Option<String>,
    pub resource: Option<ResourceElem>,
    pub answer: Option<AnswerElem>,
    pub network: Option<NetworkElem>,
    pub shutdown_immediate: Option<bool>,
    /// A lock request carried `<fencing/>` (our extension).
    pub fencing_requested: bool,
    /// A lock answer carried `<fencing token="N"/>` (our extension).
    pub fencing_token: Option<u64>,
    /// A lock request carried `<etcd-key/>` (our extension).
    pub etcd_key_requested: bool,
    /// A lock answer carried `<etcd key="B64"/>` (our extension).
    pub etcd_key: Option<Box<str>>,
    /// A management request carried `<status version="V"/>` (our extension).
    pub status_version: Option<u32>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResourceElem {
    /// The resource name, Base64-decoded.
    pub name: String,
    pub mode: i64,
    pub wait: bool,
    pub quantity: i64,
    pub create: bool,
    pub lifespan: i64,
    pub rollback: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AnswerElem {
    pub rc: i32,
    pub element: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetworkElem {
    pub address: String,
    pub port: u16,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// `level` present and not 3.
    LevelMismatch,
    /// Not a well-formed level-3 message.
    Invalid,
}

/// Integer the way C's `strtol` reads it: leading digits, garbage ends it.
fn lenient_int(s: &str) -> i64 {
    let s = s.trim_start();
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut n: i64 = 0;
    for c in digits.bytes() {
        if !c.is_ascii_digit() {
            break;
        }
        n = n.saturating_mul(10).saturating_add(i64::from(c - b'0'));
    }
    if neg {
        -n
    } else {
        n
    }
}

/// A tiny cursor over the text of one message.
struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn skip_ws(&mut self) {
        while self.pos < self.s.len() && self.s.as_bytes()[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
    }
    fn eat(&mut self, lit: &str) -> bool {
        if self.s[self.pos..].starts_with(lit) {
            self.pos += lit.len();
            true
        } else {
            false
        }
    }
    fn name(&mut self) -> Option<&'a str> {
        let start = self.pos;
        while self.pos < self.s.len() {
            let c = self.s.as_bytes()[self.pos];
            if c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b':' | b'.') {
                self.pos += 1;
            } else {
                break;
            }
        }
        (self.pos > start).then(|| &self.s[start..self.pos])
    }
    /// Parses `a="v" b="v"` up to `>` or `/>`; returns (attributes, self_closing).
    fn attributes(&mut self) -> Option<(Vec<(&'a str, &'a str)>, bool)> {
        let mut attrs = Vec::new();
        loop {
            self.skip_ws();
            if self.eat("/>") {
                return Some((attrs, true));
            }
            if self.eat(">") {
                return Some((attrs, false));
            }
            let key = self.name()?;
            self.skip_ws();
            if !self.eat("=") {
                return None;
            }
            self.skip_ws();
            let quote = *self.s.as_bytes().get(self.pos)?;
            if quote != b'"' && quote != b'\'' {
                return None;
            }
            self.pos += 1;
            let end = self.s[self.pos..].find(quote as char)? + self.pos;
            attrs.push((key, &self.s[self.pos..end]));
            self.pos = end + 1;
        }
    }
}

/// Reads a message's prologue and `<msg>` tag: the cursor past it, the
/// verb, the step, and whether the tag closed itself.
fn open_message(bytes: &[u8]) -> Result<(Cursor<'_>, i32, i32, bool), ParseError> {
    let text = std::str::from_utf8(bytes).map_err(|_| ParseError::Invalid)?;
    let mut c = Cursor { s: text, pos: 0 };
    c.skip_ws();
    if c.eat("<?") {
        let end = c.s[c.pos..].find("?>").ok_or(ParseError::Invalid)?;
        c.pos += end + 2;
    }
    c.skip_ws();
    if !c.eat("<msg") {
        return Err(ParseError::Invalid);
    }
    let (attrs, closed) = c.attributes().ok_or(ParseError::Invalid)?;
    let (mut verb, mut step) = (0, 0);
    for (k, v) in attrs {
        match k {
            "level" if lenient_int(v) != i64::from(LEVEL) || v.trim().is_empty() => {
                return Err(ParseError::LevelMismatch);
            }
            "verb" => verb = lenient_int(v) as i32,
            "step" => step = lenient_int(v) as i32,
            _ => {}
        }
    }
    Ok((c, verb, step, closed))
}

/// Parses one complete message (everything up to and including `</msg>`).
pub fn parse_message(bytes: &[u8]) -> Result<Message, ParseError> {
    let (mut c, verb, step, closed) = open_message(bytes)?;
    let mut msg = Message {
        verb,
        step,
        ..Message::default()
    };
    if closed {
        return finish(c, msg);
    }
    // children until </msg>
    loop {
        c.skip_ws();
        if c.eat("</msg>") {
            break;
        }
        if !c.eat("<") {
            return Err(ParseError::Invalid);
        }
        if c.eat("/") {
            // closing tag of an ignored unknown element
            c.name().ok_or(ParseError::Invalid)?;
            c.skip_ws();
            if !c.eat(">") {
                return Err(ParseError::Invalid);
            }
            continue;
        }
        let tag = c.name().ok_or(ParseError::Invalid)?;
        let (attrs, _closed) = c.attributes().ok_or(ParseError::Invalid)?;
        element(&mut msg, tag, &attrs)?;
    }
    finish(c, msg)
}

fn finish(mut c: Cursor, msg: Message) -> Result<Message, ParseError> {
    c.skip_ws();
    if c.pos != c.s.len() {
        return Err(ParseError::Invalid);
    }
    Ok(msg)
}

fn element(msg: &mut Message, tag: &str, attrs: &[(&str, &str)]) -> Result<(), ParseError> {
    let (verb, step) = (msg.verb, msg.step);
    let is = |v: i32, s: i32| verb == v && step == s;
    match tag {
        "session" => {
            if !(is(VERB_LOCK, STEP_REQUEST)
                || is(VERB_LOCK, STEP_FIRST_ANSWER)
                || is(VERB_MNGMNT, STEP_REQUEST))
            {
                return Err(ParseError::Invalid);
            }
            let mut peer = String::new();
            for &(k, v) in attrs {
                if k == "peerid" {
                    peer = v.to_string();
                } else {
                    return Err(ParseError::Invalid);
                }
            }
            msg.peerid = Some(peer);
        }
        "resource" => {
            let lock = is(VERB_LOCK, STEP_REQUEST);
            let unlock = is(VERB_UNLOCK, STEP_REQUEST);
            if !lock && !unlock {
                return Err(ParseError::Invalid);
            }
            let mut r = ResourceElem::default();
            for &(k, v) in attrs {
                match k {
                    "name" => {
                        let raw = base64_decode(v).ok_or(ParseError::Invalid)?;
                        r.name = String::from_utf8(raw).map_err(|_| ParseError::Invalid)?;
                    }
                    "mode" | "wait" | "quantity" | "create" | "lifespan" if !lock => {
                        return Err(ParseError::Invalid)
                    }
                    "rollback" if !unlock => return Err(ParseError::Invalid),
                    "mode" => r.mode = lenient_int(v),
                    "wait" => r.wait = lenient_int(v) != 0,
                    "quantity" => r.quantity = lenient_int(v),
                    "create" => r.create = lenient_int(v) != 0,
                    "lifespan" => r.lifespan = lenient_int(v),
                    "rollback" => r.rollback = lenient_int(v) != 0,
                    _ => {}
                }
            }
            msg.resource = Some(r);
        }
        "answer" => {
            if !(verb == VERB_LOCK
                && matches!(
                    step,
                    STEP_FIRST_ANSWER | STEP_LATER_ANSWER | STEP_FINAL_ANSWER
                ))
            {
                return Err(ParseError::Invalid);
            }
            let mut a = AnswerElem::default();
            for &(k, v) in attrs {
                match k {
                    "rc" => a.rc = lenient_int(v) as i32,
                    "element" => a.element = Some(v.to_string()),
                    _ => return Err(ParseError::Invalid),
                }
            }
            msg.answer = Some(a);
        }
        "network" => {
            if !is(VERB_DISCOVER, STEP_FIRST_ANSWER) {
                return Err(ParseError::Invalid);
            }
            let mut n = NetworkElem::default();
            for &(k, v) in attrs {
                match k {
                    "address" => n.address = v.to_string(),
                    "port" => n.port = lenient_int(v) as u16,
                    _ => return Err(ParseError::Invalid),
                }
            }
            msg.network = Some(n);
        }
        "shutdown" => {
            if !is(VERB_MNGMNT, STEP_REQUEST) {
                return Err(ParseError::Invalid);
            }
            let mut imm = false;
            for &(k, v) in attrs {
                if k == "immediate" {
                    imm = lenient_int(v) != 0;
                } else {
                    return Err(ParseError::Invalid);
                }
            }
            msg.shutdown_immediate = Some(imm);
        }
        "fencing" if is(VERB_LOCK, STEP_REQUEST) && attrs.is_empty() => {
            msg.fencing_requested = true;
        }
        "fencing" if verb == VERB_LOCK && step > STEP_REQUEST => {
            for &(k, v) in attrs {
                match (k, v.parse::<u64>()) {
                    ("token", Ok(t)) => msg.fencing_token = Some(t),
                    _ => return Err(ParseError::Invalid),
                }
            }
        }
        "etcd-key" if is(VERB_LOCK, STEP_REQUEST) && attrs.is_empty() => {
            msg.etcd_key_requested = true;
        }
        "etcd" if verb == VERB_LOCK && step > STEP_REQUEST => {
            for &(k, v) in attrs {
                let key = base64_decode(v).and_then(|raw| String::from_utf8(raw).ok());
                match (k, key) {
                    ("key", Some(key)) => msg.etcd_key = Some(key.into()),
                    _ => return Err(ParseError::Invalid),
                }
            }
        }
        "status" if is(VERB_MNGMNT, STEP_REQUEST) => {
            for &(k, v) in attrs {
                match (k, v.parse::<u32>()) {
                    ("version", Ok(n)) => msg.status_version = Some(n),
                    _ => return Err(ParseError::Invalid),
                }
            }
        }
        _ => {
            if !attrs.is_empty() {
                return Err(ParseError::Invalid);
            }
        }
    }
    Ok(())
}

/// One element of a message: its tag and attributes (values as sent).
pub type RawElement = (String, Vec<(String, String)>);

/// The verb, step and elements of one complete message, whatever its
/// elements are (the status answer's are read by `snapshot`).
pub fn parse_elements(bytes: &[u8]) -> Result<(i32, i32, Vec<RawElement>), ParseError> {
    let (mut c, verb, step, closed) = open_message(bytes)?;
    let mut elements = Vec::new();
    loop {
        c.skip_ws();
        if closed || c.eat("</msg>") {
            break;
        }
        if !c.eat("<") || c.eat("/") {
            return Err(ParseError::Invalid);
        }
        let tag = c.name().ok_or(ParseError::Invalid)?;
        let (attrs, self_closing) = c.attributes().ok_or(ParseError::Invalid)?;
        if !self_closing {
            return Err(ParseError::Invalid);
        }
        let attrs = attrs
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        elements.push((tag.to_string(), attrs));
    }
    finish(c, Message::default())?;
    Ok((verb, step, elements))
}

// ---------------------------------------------------------------- framing

/// Finds the end of the first complete message in `buf` (index just past
/// `</msg>`), searching from `from` (bytes before it are known not to hold
/// the end of a message).
pub fn find_message_end(buf: &[u8], from: usize) -> Option<usize> {
    let start = from.saturating_sub(END_TAG.len() - 1);
    buf.get(start..)?
        .windows(END_TAG.len())
        .position(|w| w == END_TAG)
        .map(|p| start + p + END_TAG.len())
}

#[cfg(test)]
#[path = "protocol_tests.rs"]
mod tests;
