//! The `---` front matter that agent definitions and skills share with Claude Code's files: a
//! block of simple `key: value` lines at the top of a markdown file, then the body.

/// Splits `text` into its front matter (without the fences) and the body after it.
pub fn split(text: &str) -> Result<(&str, &str), String> {
    let text = text.trim_start_matches('\u{feff}');
    let rest = text
        .strip_prefix("---")
        .ok_or_else(|| "missing `---` front matter".to_string())?;
    let end = rest
        .find("\n---")
        .ok_or_else(|| "front matter is not closed by `---`".to_string())?;
    let body = rest[end + 4..]
        .split_once('\n')
        .map(|(_, b)| b)
        .unwrap_or("");
    Ok((&rest[..end], body))
}

/// Strips one pair of matching quotes.
pub fn unquote(s: &str) -> &str {
    let s = s.trim();
    for q in ['"', '\''] {
        if let Some(inner) = s.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return inner;
        }
    }
    s
}

/// The scalar fields of a front matter, in order. A value may continue on indented lines (a
/// plain multi-line scalar, or a `|` / `>` block), as YAML writes long descriptions. Lists and
/// nested maps are not understood: their lines are joined into the value before them.
pub fn scalar_fields(front: &str) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut block: Option<char> = None;
    for line in front.lines() {
        let indented = line.starts_with([' ', '\t']);
        let trimmed = line.trim();
        if trimmed.starts_with('#') && !indented {
            continue;
        }
        if indented || (trimmed.is_empty() && block.is_some()) {
            if let Some((_, value)) = fields.last_mut() {
                let joiner = if block == Some('|') { "\n" } else { " " };
                if !value.is_empty() {
                    value.push_str(joiner);
                }
                value.push_str(trimmed);
            }
            continue;
        }
        block = None;
        let Some((key, value)) = trimmed.split_once(':') else {
            continue;
        };
        let value = value.trim();
        let value = match value {
            "|" | "|-" | "|+" => {
                block = Some('|');
                ""
            }
            ">" | ">-" | ">+" => {
                block = Some('>');
                ""
            }
            v => unquote(v),
        };
        fields.push((key.trim().to_string(), value.to_string()));
    }
    for (_, value) in &mut fields {
        *value = value.trim().to_string();
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_front_matter_from_body() {
        let (front, body) = split("---\nname: a\n---\nBody\nmore\n").unwrap();
        assert_eq!(front, "\nname: a");
        assert_eq!(body, "Body\nmore\n");
        assert!(split("no front matter").unwrap_err().contains("missing"));
        assert!(split("---\nname: a\n").unwrap_err().contains("not closed"));
    }

    #[test]
    fn scalars_may_be_quoted_folded_or_continued() {
        let fields = scalar_fields(
            "\nname: 'pdf'\n# a comment\ndescription: >\n  Fills PDF forms.\n  Use for PDFs.\nnotes: |\n  one\n  two\nlong: starts here\n  and goes on\n",
        );
        assert_eq!(
            fields,
            vec![
                ("name".into(), "pdf".into()),
                (
                    "description".into(),
                    "Fills PDF forms. Use for PDFs.".into()
                ),
                ("notes".into(), "one\ntwo".into()),
                ("long".into(), "starts here and goes on".into()),
            ]
        );
    }
}
