//! The GLib key-file syntax of the config files, hand-written: `[Group]`
//! headers, `Key=value` lines, `#` comments, string escapes, `;` lists and
//! decimal integers. What the keys mean is the option table's business.

/// One `Key=value` line, value still escaped (leading whitespace removed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub group: String,
    pub key: String,
    pub raw: String,
    /// 1-based line number.
    pub line: usize,
}

/// A parsed key file: every entry in file order, and every group header
/// with its 1-based line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyFile {
    pub entries: Vec<Entry>,
    pub groups: Vec<(String, usize)>,
}

/// A syntax error: the 1-based line and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub message: String,
}

/// GLib's whitespace.
pub(crate) fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

impl KeyFile {
    /// Parses key-file text: `[Group]` headers, `Key=value` lines, `#`
    /// comment lines and blank lines. Locale-suffixed keys (`Name[en]`) are
    /// skipped.
    pub fn parse(text: &str) -> Result<KeyFile, SyntaxError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut entries = Vec::new();
        let mut groups = Vec::new();
        let mut group: Option<String> = None;
        for (i, line) in text.split('\n').enumerate() {
            let n = i + 1;
            let line = line.strip_suffix('\r').unwrap_or(line);
            let body = line.trim_start_matches(is_space);
            if body.is_empty() || body.starts_with('#') {
                continue;
            }
            let err = |message: String| SyntaxError { line: n, message };
            if let Some(rest) = body.strip_prefix('[') {
                let close = rest
                    .find(']')
                    .ok_or_else(|| err("the group header has no closing ']'".to_string()))?;
                let name = &rest[..close];
                if !rest[close + 1..].chars().all(is_space) {
                    return Err(err("unexpected text after the group header".to_string()));
                }
                if name.is_empty() || name.contains('[') || name.chars().any(|c| c.is_control()) {
                    return Err(err(format!("'[{name}]' is not a valid group header")));
                }
                group = Some(name.to_string());
                groups.push((name.to_string(), n));
                continue;
            }
            let eq = body.find('=').ok_or_else(|| {
                err(
                    "this line is not a [Group] header, a Key=value pair or a # comment"
                        .to_string(),
                )
            })?;
            let key = body[..eq].trim_end_matches(is_space);
            let raw = body[eq + 1..].trim_start_matches(is_space);
            if key.is_empty() {
                return Err(err("the line has '=' but no key name before it".to_string()));
            }
            let Some(g) = &group else {
                return Err(err(format!(
                    "key '{key}' appears before any [Group] header"
                )));
            };
            if let Some(open) = key.find('[') {
                // `Key[locale]` entries are translations: ignored.
                if key.ends_with(']') && open > 0 && !key[open + 1..key.len() - 1].contains('[') {
                    continue;
                }
                return Err(err(format!("'{key}' is not a valid key name")));
            }
            if key.contains(']') {
                return Err(err(format!("'{key}' is not a valid key name")));
            }
            entries.push(Entry {
                group: g.clone(),
                key: key.to_string(),
                raw: raw.to_string(),
                line: n,
            });
        }
        Ok(KeyFile { entries, groups })
    }

    /// The last entry for `group`/`key` (duplicates: last wins; repeated
    /// groups are merged).
    pub fn get(&self, group: &str, key: &str) -> Option<&Entry> {
        self.entries
            .iter()
            .rev()
            .find(|e| e.group == group && e.key == key)
    }
}

/// Decodes one escape sequence (the character after a `\\`).
fn decode_escape(c: Option<char>, list: bool) -> Result<char, String> {
    match c {
        Some('s') => Ok(' '),
        Some('n') => Ok('\n'),
        Some('t') => Ok('\t'),
        Some('r') => Ok('\r'),
        Some('\\') => Ok('\\'),
        Some(';') if list => Ok(';'),
        Some(c) => Err(format!("'\\{c}' is not a valid escape sequence")),
        None => Err("the value ends with a lone '\\'".to_string()),
    }
}

/// Decodes the escapes of a string value: `\s \n \t \r \\`.
pub fn unescape(raw: &str) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.push(decode_escape(chars.next(), false)?);
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

/// Splits a `;` list (trailing `;` allowed, `\;` is a literal `;`) and
/// decodes each item. Empty items are dropped.
pub fn split_list(raw: &str) -> Result<Vec<String>, String> {
    let mut items = Vec::new();
    let mut cur = String::new();
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => cur.push(decode_escape(chars.next(), true)?),
            ';' => items.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    items.push(cur);
    Ok(items.into_iter().filter(|s| !s.is_empty()).collect())
}

/// A decimal integer that fits in 32 bits, surrounding whitespace allowed.
pub fn parse_decimal_i32(s: &str) -> Result<i32, String> {
    let t = s.trim_matches(is_space);
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("'{s}' is not a decimal integer"));
    }
    t.parse::<i32>()
        .map_err(|_| format!("'{s}' is out of range (it must fit in a 32-bit signed integer)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_basic_syntax() {
        let kf = KeyFile::parse(
            "# comment\n\n  # indented comment\n[Resource]\n  Name  =  abc  \nTimeout=1\n[Other]\nX=y\n",
        )
        .unwrap();
        assert_eq!(kf.get("Resource", "Name").unwrap().raw, "abc  ");
        assert_eq!(kf.get("Resource", "Name").unwrap().line, 5);
        assert_eq!(kf.get("Resource", "Timeout").unwrap().raw, "1");
        assert_eq!(kf.get("Other", "X").unwrap().raw, "y");
        assert!(kf.get("Resource", "X").is_none());
        // case-sensitive group and key names
        assert!(kf.get("resource", "Name").is_none());
        assert!(kf.get("Resource", "name").is_none());
    }

    #[test]
    fn ini_no_inline_comments_and_quotes_kept() {
        let kf = KeyFile::parse("[G]\nA=abc ; x\nB=\"x\"\nC=a#b\n").unwrap();
        assert_eq!(kf.get("G", "A").unwrap().raw, "abc ; x");
        assert_eq!(kf.get("G", "B").unwrap().raw, "\"x\"");
        assert_eq!(kf.get("G", "C").unwrap().raw, "a#b");
    }

    #[test]
    fn ini_duplicates_and_merged_groups() {
        let kf = KeyFile::parse("[G]\nA=1\n[H]\nA=9\n[G]\nA=2\nA=3\n").unwrap();
        assert_eq!(kf.get("G", "A").unwrap().raw, "3");
        assert_eq!(kf.get("H", "A").unwrap().raw, "9");
    }

    #[test]
    fn ini_locale_keys_ignored() {
        let kf = KeyFile::parse("[G]\nName[en]=x\nName=y\nName[it_IT]=z\n").unwrap();
        assert_eq!(kf.get("G", "Name").unwrap().raw, "y");
        assert_eq!(kf.entries.len(), 1);
    }

    #[test]
    fn ini_crlf_bom_and_empty() {
        let kf = KeyFile::parse("\u{feff}[G]\r\nA=b\r\n").unwrap();
        assert_eq!(kf.get("G", "A").unwrap().raw, "b");
        assert!(KeyFile::parse("").unwrap().entries.is_empty());
        assert!(KeyFile::parse("\n\n# x\n").unwrap().entries.is_empty());
        let kf = KeyFile::parse("[G]  \nA=\n").unwrap();
        assert_eq!(kf.get("G", "A").unwrap().raw, "");
    }

    #[test]
    fn ini_syntax_errors_have_lines() {
        let e = KeyFile::parse("Name=x\n").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.message.contains("before any [Group]"), "{}", e.message);
        let e = KeyFile::parse("[G]\n\nnot a pair\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("not a [Group] header"));
        assert_eq!(KeyFile::parse("[G\n").unwrap_err().line, 1);
        assert_eq!(KeyFile::parse("# c\n[G] x\n").unwrap_err().line, 2);
        assert_eq!(KeyFile::parse("[]\n").unwrap_err().line, 1);
        assert_eq!(KeyFile::parse("[G]\n=v\n").unwrap_err().line, 2);
        assert_eq!(KeyFile::parse("[G]\na]b=v\n").unwrap_err().line, 2);
    }

    #[test]
    fn escapes() {
        assert_eq!(unescape(r"a\sb\tc\nd\re\\f").unwrap(), "a b\tc\nd\re\\f");
        assert_eq!(unescape(r"\s\slead").unwrap(), "  lead");
        assert!(unescape(r"a\x").unwrap_err().contains("\\x"));
        assert!(unescape("a\\").is_err());
        assert!(unescape(r"a\;").is_err());
    }

    #[test]
    fn lists() {
        assert_eq!(split_list("a;b;").unwrap(), vec!["a", "b"]);
        assert_eq!(split_list("a;;b").unwrap(), vec!["a", "b"]);
        assert_eq!(split_list(r"a\;b;c\sd").unwrap(), vec!["a;b", "c d"]);
        assert_eq!(split_list(r"a\\;b").unwrap(), vec!["a\\", "b"]);
        assert!(split_list("").unwrap().is_empty());
        assert!(split_list(r"a\q").is_err());
    }

    #[test]
    fn decimal_integers() {
        assert_eq!(parse_decimal_i32("12"), Ok(12));
        assert_eq!(parse_decimal_i32(" -100 "), Ok(-100));
        assert_eq!(parse_decimal_i32("+7"), Ok(7));
        assert_eq!(parse_decimal_i32("2147483647"), Ok(i32::MAX));
        assert_eq!(parse_decimal_i32("-2147483648"), Ok(i32::MIN));
        assert!(parse_decimal_i32("2147483648")
            .unwrap_err()
            .contains("out of range"));
        for bad in ["0x10", "12abc", "", "-", "1 2", "abc"] {
            assert!(
                parse_decimal_i32(bad)
                    .unwrap_err()
                    .contains("not a decimal integer"),
                "{bad}"
            );
        }
    }
}
