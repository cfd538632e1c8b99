//! A small JavaScript scanner, just enough to skip strings, comments, template literals and regex
//! literals. The worker uses it before Boa sees a script:
//!
//! - to measure bracket nesting, because Boa's parser is recursive and a deeply nested source
//!   (`[[[[…]]]]`) overflows the native stack and aborts the process — no error, no message;
//! - to find the top-level `export` / `import` keywords for the script-shape rewrite.
//!
//! It is not a full tokenizer: regex-versus-division is decided by the usual "previous significant
//! token" heuristic, which is right for real code and harmless when wrong (a mis-scanned regex
//! only shifts what the pre-check counts; Boa still parses the real thing).

/// What a token is, as far as the worker cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokKind {
    /// An identifier or keyword (`export`, `default`, `main`, …).
    Ident,
    /// One punctuation byte (`(`, `.`, `=`, …). Multi-byte operators come as several tokens.
    Punct(u8),
    /// A string, number, template or regex literal.
    Literal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: TokKind,
    pub start: usize,
    pub end: usize,
    /// 1-based line of the token's first byte.
    pub line: usize,
    /// Bracket depth before the token (an opening bracket is at the depth outside it).
    pub depth: usize,
}

/// The source nests brackets deeper than allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TooDeep {
    pub line: usize,
    pub limit: usize,
}

/// Keywords after which a `/` starts a regex literal rather than a division.
const REGEX_AFTER_KEYWORDS: &[&str] = &[
    "return",
    "typeof",
    "instanceof",
    "in",
    "of",
    "new",
    "delete",
    "void",
    "throw",
    "case",
    "do",
    "else",
    "yield",
    "await",
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Frame {
    Bracket,
    /// A `${` inside a template literal: its `}` resumes the template text.
    TemplateExpr,
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80 || b == b'\\'
}

/// Tokenizes `src`, failing as soon as bracket nesting exceeds `max_depth`.
pub(crate) fn tokenize(src: &str, max_depth: usize) -> Result<Vec<Token>, TooDeep> {
    let b = src.as_bytes();
    let n = b.len();
    let mut i = 0;
    let mut line = 1;
    let mut stack: Vec<Frame> = Vec::new();
    let mut tokens: Vec<Token> = Vec::new();

    // A hashbang line is a comment.
    if b.starts_with(b"#!") {
        while i < n && b[i] != b'\n' {
            i += 1;
        }
    }

    // Scans template text from `i` (just after "`" or a closing "}" of "${"). Returns the index
    // after the closing "`", or after "${" (having pushed a frame).
    macro_rules! template_text {
        () => {{
            loop {
                if i >= n {
                    break;
                }
                match b[i] {
                    b'\\' => {
                        if i + 1 < n && b[i + 1] == b'\n' {
                            line += 1;
                        }
                        i += 2;
                    }
                    b'`' => {
                        i += 1;
                        break;
                    }
                    b'$' if i + 1 < n && b[i + 1] == b'{' => {
                        i += 2;
                        stack.push(Frame::TemplateExpr);
                        if stack.len() > max_depth {
                            return Err(TooDeep {
                                line,
                                limit: max_depth,
                            });
                        }
                        break;
                    }
                    b'\n' => {
                        line += 1;
                        i += 1;
                    }
                    _ => i += 1,
                }
            }
        }};
    }

    while i < n {
        let c = b[i];
        match c {
            b'\n' => {
                line += 1;
                i += 1;
            }
            b' ' | b'\t' | b'\r' | 0x0b | 0x0c => i += 1,
            b'/' if i + 1 < n && b[i + 1] == b'/' => {
                while i < n && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if i + 1 < n && b[i + 1] == b'*' => {
                i += 2;
                while i < n && !(b[i] == b'*' && i + 1 < n && b[i + 1] == b'/') {
                    if b[i] == b'\n' {
                        line += 1;
                    }
                    i += 1;
                }
                i = (i + 2).min(n);
            }
            b'\'' | b'"' => {
                let (start, start_line) = (i, line);
                i += 1;
                while i < n && b[i] != c {
                    match b[i] {
                        b'\\' => {
                            if i + 1 < n && b[i + 1] == b'\n' {
                                line += 1;
                            }
                            i += 2;
                        }
                        // An unterminated string: stop at the line end, Boa reports it.
                        b'\n' => break,
                        _ => i += 1,
                    }
                }
                i = (i + 1).min(n);
                tokens.push(Token {
                    kind: TokKind::Literal,
                    start,
                    end: i,
                    line: start_line,
                    depth: stack.len(),
                });
            }
            b'`' => {
                let (start, start_line, depth) = (i, line, stack.len());
                i += 1;
                template_text!();
                tokens.push(Token {
                    kind: TokKind::Literal,
                    start,
                    end: i,
                    line: start_line,
                    depth,
                });
            }
            b'/' if regex_allowed(src, tokens.last()) => {
                let (start, start_line) = (i, line);
                let mut j = i + 1;
                let mut in_class = false;
                let mut closed = false;
                while j < n && b[j] != b'\n' {
                    match b[j] {
                        b'\\' => j += 1,
                        b'[' => in_class = true,
                        b']' => in_class = false,
                        b'/' if !in_class => {
                            closed = true;
                            break;
                        }
                        _ => {}
                    }
                    j += 1;
                }
                if closed {
                    i = j + 1;
                    while i < n && is_ident_byte(b[i]) {
                        i += 1;
                    }
                    tokens.push(Token {
                        kind: TokKind::Literal,
                        start,
                        end: i,
                        line: start_line,
                        depth: stack.len(),
                    });
                } else {
                    // Not a regex after all; a lone slash.
                    i += 1;
                    tokens.push(Token {
                        kind: TokKind::Punct(b'/'),
                        start,
                        end: i,
                        line,
                        depth: stack.len(),
                    });
                }
            }
            b'0'..=b'9' => {
                let start = i;
                while i < n {
                    let d = b[i];
                    // `1e-5`: a sign right after the exponent of a decimal literal.
                    let exponent_sign = (d == b'+' || d == b'-')
                        && matches!(b[i - 1], b'e' | b'E')
                        && !src[start..i].starts_with("0x")
                        && !src[start..i].starts_with("0X");
                    if d.is_ascii_alphanumeric() || d == b'_' || d == b'.' || exponent_sign {
                        i += 1;
                    } else {
                        break;
                    }
                }
                tokens.push(Token {
                    kind: TokKind::Literal,
                    start,
                    end: i,
                    line,
                    depth: stack.len(),
                });
            }
            b'(' | b'[' | b'{' => {
                tokens.push(Token {
                    kind: TokKind::Punct(c),
                    start: i,
                    end: i + 1,
                    line,
                    depth: stack.len(),
                });
                stack.push(Frame::Bracket);
                if stack.len() > max_depth {
                    return Err(TooDeep {
                        line,
                        limit: max_depth,
                    });
                }
                i += 1;
            }
            b')' | b']' | b'}' => {
                let frame = stack.pop();
                tokens.push(Token {
                    kind: TokKind::Punct(c),
                    start: i,
                    end: i + 1,
                    line,
                    depth: stack.len(),
                });
                i += 1;
                if c == b'}' && frame == Some(Frame::TemplateExpr) {
                    // Back inside the template literal's text.
                    template_text!();
                    if let Some(last) = tokens.last_mut() {
                        // The rest of the template belongs to the literal, not to the `}`.
                        last.kind = TokKind::Literal;
                        last.end = i;
                    }
                }
            }
            _ if is_ident_byte(c) => {
                let start = i;
                while i < n && is_ident_byte(b[i]) {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                let end = i.min(n);
                i = end;
                tokens.push(Token {
                    kind: TokKind::Ident,
                    start,
                    end,
                    line,
                    depth: stack.len(),
                });
            }
            _ => {
                tokens.push(Token {
                    kind: TokKind::Punct(c),
                    start: i,
                    end: i + 1,
                    line,
                    depth: stack.len(),
                });
                i += 1;
            }
        }
    }
    Ok(tokens)
}

fn regex_allowed(src: &str, prev: Option<&Token>) -> bool {
    match prev {
        None => true,
        Some(t) => match t.kind {
            TokKind::Punct(p) => !matches!(p, b')' | b']'),
            TokKind::Ident => REGEX_AFTER_KEYWORDS.contains(&&src[t.start..t.end]),
            TokKind::Literal => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idents(src: &str) -> Vec<&str> {
        tokenize(src, 100)
            .unwrap()
            .into_iter()
            .filter(|t| t.kind == TokKind::Ident)
            .map(|t| &src[t.start..t.end])
            .collect()
    }

    #[test]
    fn skips_strings_comments_templates_and_regexes() {
        let src = "a 'b c' \"d\" // e f\n /* g */ `h ${i + `j ${k}`} l` m = /n[/]o/g; p / q";
        assert_eq!(idents(src), vec!["a", "i", "k", "m", "p", "q"]);
    }

    #[test]
    fn counts_depth_and_lines() {
        let toks = tokenize("f(\n[ {x} ])", 10).unwrap();
        let x = toks
            .iter()
            .find(|t| t.kind == TokKind::Ident && t.start == 6);
        assert_eq!(x.map(|t| (t.line, t.depth)), Some((2, 3)));
        assert_eq!(tokenize("[[[1]]]", 2), Err(TooDeep { line: 1, limit: 2 }));
        assert!(tokenize("`${`${`${1}`}`}`", 3).is_ok());
        assert!(tokenize("`${`${`${1}`}`}`", 2).is_err());
        // Brackets inside strings and comments do not count.
        assert!(tokenize("'(((((' // [[[[[\n", 1).is_ok());
    }
}
