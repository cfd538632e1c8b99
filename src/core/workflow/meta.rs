//! The `export const meta = {…}` header of a workflow script.
//!
//! Meta is read without running the script (discovery lists workflows, the catalog shows their
//! descriptions), so it must be a pure literal: strings, numbers, booleans, null, arrays and
//! objects. A small hand-written parser is used instead of Boa's because it can name exactly what
//! is wrong (`meta.phases[2]: a function call is not allowed…`) and it never runs code.

use std::fmt;

use serde_json::{Map, Number, Value};

/// Deepest array/object nesting accepted inside meta (the parser is recursive; meta is small).
const MAX_META_DEPTH: usize = 64;

/// A workflow's typed meta. Unknown fields are kept in `raw` only.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorkflowMeta {
    pub name: Option<String>,
    pub description: Option<String>,
    pub phases: Vec<MetaPhase>,
    pub when_to_use: Option<String>,
    /// The whole literal, as JSON.
    pub raw: Value,
}

/// One entry of `meta.phases`: either `"Title"` or `{ title, detail? }`.
#[derive(Debug, Clone, PartialEq)]
pub struct MetaPhase {
    pub title: String,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaErrorKind {
    /// The script does not begin with `export const meta = …`.
    Missing,
    /// It does, but the value is not an acceptable literal.
    Invalid,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaError {
    pub kind: MetaErrorKind,
    /// 1-based line of the offending part.
    pub line: usize,
    /// What is wrong, without the line (see `Display` for the full text).
    pub message: String,
}

impl fmt::Display for MetaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (line {})", self.message, self.line)
    }
}

impl std::error::Error for MetaError {}

/// Parses the meta header of `source`. See [`split_meta`].
pub fn parse_meta(source: &str) -> Result<WorkflowMeta, MetaError> {
    split_meta(source).map(|(meta, _)| meta)
}

/// Parses the leading `export const meta = {…};` and returns it with the byte offset where the
/// rest of the script begins (just after the statement's `;`, or after `}` when there is none).
pub fn split_meta(source: &str) -> Result<(WorkflowMeta, usize), MetaError> {
    let mut p = Parser {
        src: source,
        b: source.as_bytes(),
        pos: 0,
        line: 1,
        last_value_end: 0,
    };
    if p.b.starts_with(b"#!") {
        while p.pos < p.b.len() && p.b[p.pos] != b'\n' {
            p.pos += 1;
        }
    }
    p.skip_trivia();
    let header_line = p.line;
    let missing = |line| MetaError {
        kind: MetaErrorKind::Missing,
        line,
        message: "a workflow must begin with `export const meta = {…}`".into(),
    };
    for word in ["export", "const", "meta"] {
        if p.peek_word() != Some(word) {
            return Err(missing(header_line));
        }
        p.pos += word.len();
        p.skip_trivia();
    }
    if p.peek() != Some(b'=') || p.peek_at(1) == Some(b'=') {
        return Err(missing(header_line));
    }
    p.pos += 1;
    p.skip_trivia();
    if p.peek() != Some(b'{') {
        let line = p.line;
        let what = p.describe_non_literal_start();
        return Err(p.invalid_at(
            line,
            format!(
                "meta: must be an object literal `{{ name, description, … }}`, found {}",
                what.unwrap_or_else(|| "something else".into())
            ),
        ));
    }
    let raw = p.value("meta", 0)?;
    // The statement ends here: a `;`, or nothing that would continue the expression.
    p.skip_trivia();
    let mut end = p.pos;
    match p.peek() {
        Some(b';') => end = p.pos + 1,
        Some(c) if b".([`+-*/%<>=!&|?,^".contains(&c) => {
            let line = p.line;
            return Err(p.invalid_at(
                line,
                format!(
                    "meta: {} is not allowed in meta (must be a literal)",
                    continuation_kind(c)
                ),
            ));
        }
        _ => {
            // No semicolon: the body starts right after the closing brace.
            end = end.min(p.last_value_end);
        }
    }
    let meta = typed(raw, header_line)?;
    Ok((meta, end))
}

fn typed(raw: Value, line: usize) -> Result<WorkflowMeta, MetaError> {
    let invalid = |message: String| MetaError {
        kind: MetaErrorKind::Invalid,
        line,
        message,
    };
    let string_field = |key: &str| -> Result<Option<String>, MetaError> {
        match raw.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(invalid(format!(
                "meta.{key}: must be a string, found {}",
                json_kind(other)
            ))),
        }
    };
    let name = string_field("name")?;
    let description = string_field("description")?;
    let when_to_use = string_field("whenToUse")?;
    let mut phases = Vec::new();
    match raw.get("phases") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let phase = match item {
                    Value::String(s) => MetaPhase {
                        title: s.clone(),
                        detail: None,
                    },
                    Value::Object(o) => {
                        let title = match o.get("title").or_else(|| o.get("name")) {
                            Some(Value::String(s)) => s.clone(),
                            _ => {
                                return Err(invalid(format!(
                                    "meta.phases[{i}]: a phase needs a string `title`"
                                )))
                            }
                        };
                        let detail = match o.get("detail").or_else(|| o.get("description")) {
                            None | Some(Value::Null) => None,
                            Some(Value::String(s)) => Some(s.clone()),
                            Some(other) => {
                                return Err(invalid(format!(
                                    "meta.phases[{i}].detail: must be a string, found {}",
                                    json_kind(other)
                                )))
                            }
                        };
                        MetaPhase { title, detail }
                    }
                    other => {
                        return Err(invalid(format!(
                            "meta.phases[{i}]: must be a string or {{ title }}, found {}",
                            json_kind(other)
                        )))
                    }
                };
                phases.push(phase);
            }
        }
        Some(other) => {
            return Err(invalid(format!(
                "meta.phases: must be an array, found {}",
                json_kind(other)
            )))
        }
    }
    Ok(WorkflowMeta {
        name,
        description,
        phases,
        when_to_use,
        raw,
    })
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn continuation_kind(c: u8) -> String {
    match c {
        b'(' => "a function call".into(),
        b'.' | b'[' => "a property access".into(),
        b'`' => "a tagged template".into(),
        b'?' => "a conditional expression".into(),
        _ => format!("an expression (operator `{}`)", c as char),
    }
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || c == b'$' || c >= 0x80
}

fn is_ident_char(c: u8) -> bool {
    is_ident_start(c) || c.is_ascii_digit()
}

struct Parser<'a> {
    src: &'a str,
    b: &'a [u8],
    pos: usize,
    line: usize,
    /// Where the last parsed value ended, for a statement without a semicolon.
    last_value_end: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn peek_at(&self, k: usize) -> Option<u8> {
        self.b.get(self.pos + k).copied()
    }

    fn peek_word(&self) -> Option<&str> {
        let start = self.pos;
        let mut end = start;
        while end < self.b.len() && is_ident_char(self.b[end]) {
            end += 1;
        }
        (end > start && is_ident_start(self.b[start])).then(|| &self.src[start..end])
    }

    fn invalid_at(&self, line: usize, message: String) -> MetaError {
        MetaError {
            kind: MetaErrorKind::Invalid,
            line,
            message,
        }
    }

    fn not_literal(&self, line: usize, path: &str, what: &str) -> MetaError {
        self.invalid_at(
            line,
            format!("{path}: {what} is not allowed in meta (must be a literal)"),
        )
    }

    /// Skips whitespace and comments, counting lines.
    fn skip_trivia(&mut self) {
        while let Some(c) = self.peek() {
            match c {
                b'\n' => {
                    self.line += 1;
                    self.pos += 1;
                }
                b' ' | b'\t' | b'\r' | 0x0b | 0x0c => self.pos += 1,
                b'/' if self.peek_at(1) == Some(b'/') => {
                    while self.peek().is_some_and(|c| c != b'\n') {
                        self.pos += 1;
                    }
                }
                b'/' if self.peek_at(1) == Some(b'*') => {
                    self.pos += 2;
                    while self.pos < self.b.len()
                        && !(self.b[self.pos] == b'*' && self.peek_at(1) == Some(b'/'))
                    {
                        if self.b[self.pos] == b'\n' {
                            self.line += 1;
                        }
                        self.pos += 1;
                    }
                    self.pos = (self.pos + 2).min(self.b.len());
                }
                _ if self.src[self.pos..].starts_with('\u{a0}')
                    || self.src[self.pos..].starts_with('\u{feff}') =>
                {
                    self.pos += self.src[self.pos..]
                        .chars()
                        .next()
                        .map_or(1, char::len_utf8);
                }
                _ => break,
            }
        }
    }

    /// Names what starts at the cursor when it is not a literal, or `None` if it is one.
    fn describe_non_literal_start(&self) -> Option<String> {
        let c = self.peek()?;
        if c == b'.' && self.src[self.pos..].starts_with("...") {
            return Some("a spread (`...`)".into());
        }
        if let Some(word) = self.peek_word() {
            let mut k = self.pos + word.len();
            while k < self.b.len() && matches!(self.b[k], b' ' | b'\t' | b'\r' | b'\n') {
                k += 1;
            }
            let after = self.b.get(k).copied();
            let arrow = after == Some(b'=') && self.b.get(k + 1) == Some(&b'>');
            return Some(match word {
                "true" | "false" | "null" => return None,
                "function" | "async" => "a function".into(),
                "class" => "a class".into(),
                "new" => "a `new` expression".into(),
                _ if arrow => "an arrow function".into(),
                _ if after == Some(b'(') => "a function call".into(),
                _ => format!("a variable reference (`{word}`)"),
            });
        }
        if c == b'(' {
            // `(…) =>` is an arrow function; anything else in parentheses is an expression.
            let close = self.src[self.pos..].find(')').map(|k| self.pos + k + 1);
            let arrow = close.is_some_and(|k| self.src[k..].trim_start().starts_with("=>"));
            return Some(if arrow {
                "an arrow function".into()
            } else {
                "an expression in parentheses".into()
            });
        }
        Some(match c {
            b'/' => "a regular expression".into(),
            b'-' | b'+' | b'!' | b'~' => format!("an expression (operator `{}`)", c as char),
            _ => format!("`{}`", self.src[self.pos..].chars().next().unwrap_or('?')),
        })
    }

    fn value(&mut self, path: &str, depth: usize) -> Result<Value, MetaError> {
        self.skip_trivia();
        let line = self.line;
        if depth > MAX_META_DEPTH {
            return Err(self.invalid_at(
                line,
                format!("{path}: meta nests deeper than {MAX_META_DEPTH} levels"),
            ));
        }
        let Some(c) = self.peek() else {
            return Err(self.invalid_at(line, format!("{path}: the meta literal is not closed")));
        };
        let v = match c {
            b'{' => self.object(path, depth)?,
            b'[' => self.array(path, depth)?,
            b'"' | b'\'' => Value::String(self.string(path)?),
            b'`' => Value::String(self.template(path)?),
            b'0'..=b'9' | b'.'
                if c != b'.' || self.peek_at(1).is_some_and(|d| d.is_ascii_digit()) =>
            {
                self.number(path, false)?
            }
            b'-' | b'+'
                if self
                    .peek_at(1)
                    .is_some_and(|d| d.is_ascii_digit() || d == b'.') =>
            {
                self.pos += 1;
                self.number(path, c == b'-')?
            }
            _ => match self.peek_word() {
                Some("true") => {
                    self.pos += 4;
                    Value::Bool(true)
                }
                Some("false") => {
                    self.pos += 5;
                    Value::Bool(false)
                }
                Some("null") => {
                    self.pos += 4;
                    Value::Null
                }
                _ => {
                    let what = self
                        .describe_non_literal_start()
                        .unwrap_or_else(|| "this".into());
                    return Err(self.not_literal(line, path, &what));
                }
            },
        };
        self.last_value_end = self.pos;
        // A literal followed by an operator is an expression (`"a" + b`, `"x".trim()`, `f()`).
        let save = (self.pos, self.line);
        self.skip_trivia();
        if let Some(c) = self.peek() {
            if !b",}]:;".contains(&c) && depth > 0 {
                let line = self.line;
                return Err(self.not_literal(line, path, &continuation_kind(c)));
            }
        }
        (self.pos, self.line) = save;
        Ok(v)
    }

    fn object(&mut self, path: &str, depth: usize) -> Result<Value, MetaError> {
        self.pos += 1; // `{`
        let mut map = Map::new();
        loop {
            self.skip_trivia();
            let line = self.line;
            match self.peek() {
                None => {
                    return Err(self.invalid_at(line, format!("{path}: the object is not closed")))
                }
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Object(map));
                }
                Some(b'[') => return Err(self.not_literal(line, path, "a computed key (`[…]`)")),
                Some(b'.') if self.src[self.pos..].starts_with("...") => {
                    return Err(self.not_literal(line, path, "a spread (`...`)"))
                }
                _ => {}
            }
            let key = match self.peek() {
                Some(b'"') | Some(b'\'') => self.string(path)?,
                Some(b'`') => {
                    return Err(self.not_literal(line, path, "a template literal as a key"))
                }
                Some(c) if c.is_ascii_digit() => match self.number(path, false)? {
                    Value::Number(n) => n.to_string(),
                    _ => String::new(),
                },
                _ => match self.peek_word() {
                    Some(w) => {
                        let w = w.to_string();
                        self.pos += w.len();
                        w
                    }
                    None => {
                        let what = self
                            .describe_non_literal_start()
                            .unwrap_or_else(|| "this".into());
                        return Err(self.not_literal(line, path, &what));
                    }
                },
            };
            let child = child_path(path, &key);
            self.skip_trivia();
            match self.peek() {
                Some(b':') => self.pos += 1,
                Some(b'(') => return Err(self.not_literal(line, &child, "a method (a function)")),
                Some(b',') | Some(b'}') => {
                    return Err(self.not_literal(
                        line,
                        &child,
                        &format!("a shorthand property (a variable reference `{key}`)"),
                    ))
                }
                Some(_) if key == "get" || key == "set" || key == "async" => {
                    return Err(self.not_literal(line, path, "a getter, setter or method"))
                }
                _ => {
                    let l = self.line;
                    return Err(self.invalid_at(l, format!("{child}: expected `:` after the key")));
                }
            }
            let v = self.value(&child, depth + 1)?;
            map.insert(key, v);
            self.skip_trivia();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {}
                None => {
                    let l = self.line;
                    return Err(self.invalid_at(l, format!("{path}: the object is not closed")));
                }
                _ => {
                    let l = self.line;
                    return Err(
                        self.invalid_at(l, format!("{path}: expected `,` or `}}` after {child}"))
                    );
                }
            }
        }
    }

    fn array(&mut self, path: &str, depth: usize) -> Result<Value, MetaError> {
        self.pos += 1; // `[`
        let mut items = Vec::new();
        loop {
            self.skip_trivia();
            let line = self.line;
            match self.peek() {
                None => {
                    return Err(self.invalid_at(line, format!("{path}: the array is not closed")))
                }
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Array(items));
                }
                Some(b',') => {
                    return Err(self.invalid_at(
                        line,
                        format!(
                            "{path}[{}]: an array hole (`,,`) is not allowed in meta",
                            items.len()
                        ),
                    ))
                }
                _ => {}
            }
            let child = format!("{path}[{}]", items.len());
            items.push(self.value(&child, depth + 1)?);
            self.skip_trivia();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {}
                None => {
                    let l = self.line;
                    return Err(self.invalid_at(l, format!("{path}: the array is not closed")));
                }
                _ => {
                    let l = self.line;
                    return Err(
                        self.invalid_at(l, format!("{path}: expected `,` or `]` after {child}"))
                    );
                }
            }
        }
    }

    fn string(&mut self, path: &str) -> Result<String, MetaError> {
        let quote = self.b[self.pos];
        let line = self.line;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.invalid_at(line, format!("{path}: the string is not closed")));
            };
            match c {
                _ if c == quote => {
                    self.pos += 1;
                    return Ok(out);
                }
                b'\n' => {
                    return Err(self.invalid_at(line, format!("{path}: the string is not closed")))
                }
                b'\\' => self.escape(path, &mut out)?,
                _ => self.push_char(&mut out),
            }
        }
    }

    fn template(&mut self, path: &str) -> Result<String, MetaError> {
        let line = self.line;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.invalid_at(line, format!("{path}: the template is not closed")));
            };
            match c {
                b'`' => {
                    self.pos += 1;
                    return Ok(out);
                }
                b'$' if self.peek_at(1) == Some(b'{') => {
                    let l = self.line;
                    return Err(self.not_literal(l, path, "template interpolation (`${…}`)"));
                }
                b'\\' => self.escape(path, &mut out)?,
                b'\r' => {
                    // Template literals normalise CRLF and CR to LF.
                    self.pos += 1;
                    if self.peek() == Some(b'\n') {
                        self.pos += 1;
                    }
                    self.line += 1;
                    out.push('\n');
                }
                b'\n' => {
                    self.line += 1;
                    self.pos += 1;
                    out.push('\n');
                }
                _ => self.push_char(&mut out),
            }
        }
    }

    fn push_char(&mut self, out: &mut String) {
        if let Some(ch) = self.src[self.pos..].chars().next() {
            out.push(ch);
            self.pos += ch.len_utf8();
        } else {
            self.pos += 1;
        }
    }

    fn escape(&mut self, path: &str, out: &mut String) -> Result<(), MetaError> {
        let line = self.line;
        self.pos += 1; // backslash
        let Some(c) = self.peek() else {
            return Err(self.invalid_at(line, format!("{path}: the string is not closed")));
        };
        self.pos += 1;
        match c {
            b'n' => out.push('\n'),
            b't' => out.push('\t'),
            b'r' => out.push('\r'),
            b'b' => out.push('\u{8}'),
            b'f' => out.push('\u{c}'),
            b'v' => out.push('\u{b}'),
            b'0' if !self.peek().is_some_and(|d| d.is_ascii_digit()) => out.push('\0'),
            b'\r' => {
                // Line continuation.
                if self.peek() == Some(b'\n') {
                    self.pos += 1;
                }
                self.line += 1;
            }
            b'\n' => self.line += 1,
            b'x' => {
                let code = self.hex(2, path)?;
                out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
            }
            b'u' => {
                let code = if self.peek() == Some(b'{') {
                    self.pos += 1;
                    let start = self.pos;
                    while self.peek().is_some_and(|d| d.is_ascii_hexdigit()) {
                        self.pos += 1;
                    }
                    let code = u32::from_str_radix(&self.src[start..self.pos], 16).ok();
                    if self.peek() != Some(b'}') || code.is_none() {
                        return Err(
                            self.invalid_at(line, format!("{path}: invalid `\\u{{…}}` escape"))
                        );
                    }
                    self.pos += 1;
                    code.unwrap_or(0xfffd)
                } else {
                    let hi = self.hex(4, path)?;
                    // A surrogate pair written as two escapes.
                    if (0xd800..0xdc00).contains(&hi)
                        && self.src[self.pos..].starts_with("\\u")
                        && self.b.len() >= self.pos + 6
                    {
                        let save = self.pos;
                        self.pos += 2;
                        match self.hex(4, path) {
                            Ok(lo) if (0xdc00..0xe000).contains(&lo) => {
                                0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00)
                            }
                            _ => {
                                self.pos = save;
                                hi
                            }
                        }
                    } else {
                        hi
                    }
                };
                out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
            }
            _ if c.is_ascii_digit() => {
                return Err(self.invalid_at(
                    line,
                    format!("{path}: octal escapes are not allowed in meta"),
                ))
            }
            _ => {
                // Any other escaped character stands for itself.
                self.pos -= 1;
                self.push_char(out);
            }
        }
        Ok(())
    }

    fn hex(&mut self, digits: usize, path: &str) -> Result<u32, MetaError> {
        let end = self.pos + digits;
        let code = self
            .src
            .get(self.pos..end)
            .filter(|s| s.bytes().all(|d| d.is_ascii_hexdigit()))
            .and_then(|s| u32::from_str_radix(s, 16).ok());
        match code {
            Some(c) => {
                self.pos = end;
                Ok(c)
            }
            None => Err(self.invalid_at(self.line, format!("{path}: invalid escape sequence"))),
        }
    }

    fn number(&mut self, path: &str, negative: bool) -> Result<Value, MetaError> {
        let line = self.line;
        let start = self.pos;
        while let Some(c) = self.peek() {
            let exp_sign = (c == b'+' || c == b'-')
                && self.pos > start
                && matches!(self.b[self.pos - 1], b'e' | b'E')
                && !self.src[start..].starts_with("0x")
                && !self.src[start..].starts_with("0X");
            if c.is_ascii_alphanumeric() || c == b'.' || c == b'_' || exp_sign {
                self.pos += 1;
            } else {
                break;
            }
        }
        let text: String = self.src[start..self.pos]
            .chars()
            .filter(|&c| c != '_')
            .collect();
        let bad = || MetaError {
            kind: MetaErrorKind::Invalid,
            line,
            message: format!("{path}: `{}` is not a valid number", &text),
        };
        let lower = text.to_ascii_lowercase();
        let radix = match lower.get(..2) {
            Some("0x") => Some(16),
            Some("0o") => Some(8),
            Some("0b") => Some(2),
            _ => None,
        };
        let f: f64 = if let Some(radix) = radix {
            u64::from_str_radix(&lower[2..], radix).map_err(|_| bad())? as f64
        } else if lower.ends_with('n') {
            return Err(self.not_literal(line, path, "a BigInt"));
        } else {
            lower.parse::<f64>().map_err(|_| bad())?
        };
        let f = if negative { -f } else { f };
        let n = if f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 {
            Number::from(f as i64)
        } else {
            Number::from_f64(f).ok_or_else(bad)?
        };
        Ok(Value::Number(n))
    }
}

fn child_path(path: &str, key: &str) -> String {
    let plain = key.bytes().next().is_some_and(is_ident_start) && key.bytes().all(is_ident_char);
    if plain {
        format!("{path}.{key}")
    } else {
        format!("{path}[{}]", Value::String(key.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(src: &str) -> String {
        split_meta(src).unwrap_err().to_string()
    }

    #[test]
    fn parses_a_full_header() {
        let src = r#"#!/usr/bin/env boocode
// A comment first.
/* and a block */
export const meta = {
  name: 'review',            // single quotes
  "description": "Review\nchanges",
  whenToUse: `when the diff is big`,
  phases: [{ title: 'Review', detail: "look" }, 'Verify',],
  n: -1.5e3, hex: 0xff, sep: 1_000, t: true, f: false, z: null,
  nested: { a: [1, [2, {}]], 'b-c': '\u00e9\u{1F600}' },
};
const x = 1;"#;
        let (meta, offset) = split_meta(src).unwrap();
        assert_eq!(meta.name.as_deref(), Some("review"));
        assert_eq!(meta.description.as_deref(), Some("Review\nchanges"));
        assert_eq!(meta.when_to_use.as_deref(), Some("when the diff is big"));
        assert_eq!(
            meta.phases,
            vec![
                MetaPhase {
                    title: "Review".into(),
                    detail: Some("look".into())
                },
                MetaPhase {
                    title: "Verify".into(),
                    detail: None
                }
            ]
        );
        assert_eq!(meta.raw["n"], json!(-1500));
        assert_eq!(meta.raw["hex"], json!(255));
        assert_eq!(meta.raw["sep"], json!(1000));
        assert_eq!(meta.raw["nested"], json!({"a": [1, [2, {}]], "b-c": "é😀"}));
        assert_eq!(&src[offset..], "\nconst x = 1;");
    }

    #[test]
    fn no_semicolon_ends_after_the_brace() {
        let src = "export const meta = { name: \"a\" }\nreturn 1";
        let (meta, offset) = split_meta(src).unwrap();
        assert_eq!(meta.name.as_deref(), Some("a"));
        assert_eq!(&src[offset..], "\nreturn 1");
    }

    #[test]
    fn missing_header() {
        let e = split_meta("const meta = {}").unwrap_err();
        assert_eq!(e.kind, MetaErrorKind::Missing);
        assert_eq!(split_meta("").unwrap_err().kind, MetaErrorKind::Missing);
        assert_eq!(
            split_meta("export default async function main() {}")
                .unwrap_err()
                .kind,
            MetaErrorKind::Missing
        );
    }

    #[test]
    fn names_each_kind_of_non_literal() {
        let cases = [
            (
                "export const meta = {\n phases: ['a', 'b', f()] }",
                "meta.phases[2]: a function call is not allowed in meta (must be a literal) (line 2)",
            ),
            (
                "export const meta = { name: NAME }",
                "meta.name: a variable reference (`NAME`) is not allowed in meta (must be a literal) (line 1)",
            ),
            (
                "export const meta = { ...base }",
                "meta: a spread (`...`) is not allowed in meta (must be a literal) (line 1)",
            ),
            (
                "export const meta = { phases: [...more] }",
                "meta.phases[0]: a spread (`...`) is not allowed in meta (must be a literal) (line 1)",
            ),
            (
                "export const meta = {\n\n description: `x ${y}` }",
                "meta.description: template interpolation (`${…}`) is not allowed in meta (must be a literal) (line 3)",
            ),
            (
                "export const meta = { [k]: 1 }",
                "meta: a computed key (`[…]`) is not allowed in meta (must be a literal) (line 1)",
            ),
            (
                "export const meta = { name: 'a' + 'b' }",
                "meta.name: an expression (operator `+`) is not allowed in meta (must be a literal) (line 1)",
            ),
            (
                "export const meta = { name: 'a'.trim() }",
                "meta.name: a property access is not allowed in meta (must be a literal) (line 1)",
            ),
            (
                "export const meta = { run: () => 1 }",
                "meta.run: an arrow function is not allowed in meta (must be a literal) (line 1)",
            ),
            (
                "export const meta = { run: function () {} }",
                "meta.run: a function is not allowed in meta (must be a literal) (line 1)",
            ),
            (
                "export const meta = { run() {} }",
                "meta.run: a method (a function) is not allowed in meta (must be a literal) (line 1)",
            ),
            (
                "export const meta = { name }",
                "meta.name: a shorthand property (a variable reference `name`) is not allowed in meta (must be a literal) (line 1)",
            ),
            (
                "export const meta = { d: new Date() }",
                "meta.d: a `new` expression is not allowed in meta (must be a literal) (line 1)",
            ),
            (
                "export const meta = { r: /x/ }",
                "meta.r: a regular expression is not allowed in meta (must be a literal) (line 1)",
            ),
            (
                "export const meta = { u: undefined }",
                "meta.u: a variable reference (`undefined`) is not allowed in meta (must be a literal) (line 1)",
            ),
            (
                "export const meta = makeMeta()",
                "meta: must be an object literal `{ name, description, … }`, found a function call (line 1)",
            ),
            (
                "export const meta = { name: 'a' }.name",
                "meta: a property access is not allowed in meta (must be a literal) (line 1)",
            ),
        ];
        for (src, want) in cases {
            assert_eq!(err(src), want, "source: {src}");
        }
    }

    #[test]
    fn typed_fields_are_checked() {
        assert_eq!(
            err("export const meta = { name: 3 }"),
            "meta.name: must be a string, found a number (line 1)"
        );
        assert_eq!(
            err("export const meta = { phases: [{ detail: 'x' }] }"),
            "meta.phases[0]: a phase needs a string `title` (line 1)"
        );
        assert_eq!(
            err("export const meta = { phases: 'x' }"),
            "meta.phases: must be an array, found a string (line 1)"
        );
    }

    #[test]
    fn deep_meta_is_rejected_not_overflowed() {
        let src = format!(
            "export const meta = {{ a: {}1{} }}",
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        assert!(err(&src).contains("meta nests deeper than 64 levels"));
    }

    #[test]
    fn unclosed_and_odd_keys() {
        assert!(err("export const meta = { name: 'a'").contains("not closed"));
        assert!(err("export const meta = { name: 'a").contains("not closed"));
        let (m, _) = split_meta("export const meta = { 'a b': 1, 2: 'x', \"q\": [] }").unwrap();
        assert_eq!(m.raw, json!({"a b": 1, "2": "x", "q": []}));
    }
}
