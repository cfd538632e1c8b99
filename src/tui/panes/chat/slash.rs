//! Slash commands typed in the composer: parsing and completion.

use std::path::PathBuf;

/// A parsed slash command.
#[derive(Debug, Clone, PartialEq)]
pub enum Slash {
    Model(String),
    /// `/model` with no name: list what can be chosen.
    Models,
    New,
    Resume,
    Clear,
    Attach(PathBuf),
    Compare(Vec<String>),
    Approval(String),
    Workflow {
        name: String,
        args: String,
    },
    Skills,
    /// Compact the context now, the summary minding the focus if one is given.
    Compact(Option<String>),
    Help,
}

/// (name, argument hint, description), in the order the popup lists them.
pub const COMMANDS: &[(&str, &str, &str)] = &[
    ("model", "[NAME]", "list models, or switch to NAME"),
    ("new", "", "start a new chat"),
    ("resume", "", "open another session"),
    ("clear", "", "clear the view (history stays)"),
    ("attach", "PATH", "attach an image to the next message"),
    (
        "compare",
        "MODEL[,MODEL…]",
        "send the next prompt to several models",
    ),
    ("approval", "MODE", "read-only, review or auto"),
    ("workflow", "NAME [ARGS]", "run a workflow"),
    ("skills", "", "list the agent's skills"),
    (
        "compact",
        "[FOCUS]",
        "summarise the older context now (FOCUS: what to keep)",
    ),
    ("help", "", "keys and commands"),
];

/// `Ok(None)` when the input is not a slash command (a leading `//` sends a literal `/`).
pub fn parse(input: &str) -> Result<Option<Slash>, String> {
    let input = input.trim();
    let Some(rest) = input.strip_prefix('/') else {
        return Ok(None);
    };
    if rest.starts_with('/') || rest.is_empty() {
        return Ok(None);
    }
    let (name, arg) = match rest.split_once(char::is_whitespace) {
        Some((n, a)) => (n, a.trim()),
        None => (rest, ""),
    };
    let need = |what: &str| -> Result<String, String> {
        if arg.is_empty() {
            Err(format!("/{name} needs {what}"))
        } else {
            Ok(arg.to_string())
        }
    };
    let cmd = match name {
        "model" if arg.is_empty() => Slash::Models,
        "model" => Slash::Model(arg.to_string()),
        "new" => Slash::New,
        "resume" => Slash::Resume,
        "clear" => Slash::Clear,
        "attach" => Slash::Attach(PathBuf::from(need("a file path")?)),
        "compare" => {
            let models: Vec<String> = need("one or more models, comma-separated")?
                .split([',', ' '])
                .map(str::trim)
                .filter(|m| !m.is_empty())
                .map(str::to_string)
                .collect();
            Slash::Compare(models)
        }
        "approval" => Slash::Approval(need("a mode (read-only, review, auto)")?),
        "workflow" => {
            let all = need("a workflow name")?;
            let (name, args) = match all.split_once(char::is_whitespace) {
                Some((n, a)) => (n.to_string(), a.trim().to_string()),
                None => (all, String::new()),
            };
            Slash::Workflow { name, args }
        }
        "skills" => Slash::Skills,
        "compact" => Slash::Compact((!arg.is_empty()).then(|| arg.to_string())),
        "help" => Slash::Help,
        other => return Err(format!("unknown command /{other} — /help lists them")),
    };
    Ok(Some(cmd))
}

/// Commands whose name starts with what is typed, while the name is being typed.
pub fn completions(input: &str) -> Vec<&'static (&'static str, &'static str, &'static str)> {
    let Some(rest) = input.strip_prefix('/') else {
        return Vec::new();
    };
    if rest.contains(char::is_whitespace) || rest.starts_with('/') {
        return Vec::new();
    }
    COMMANDS
        .iter()
        .filter(|(name, _, _)| name.starts_with(rest))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_commands() {
        assert_eq!(parse("hello"), Ok(None));
        assert_eq!(parse("//etc/hosts"), Ok(None));
        assert_eq!(parse("/new"), Ok(Some(Slash::New)));
        assert_eq!(parse("/skills"), Ok(Some(Slash::Skills)));
        assert_eq!(parse("/compact"), Ok(Some(Slash::Compact(None))));
        assert_eq!(
            parse("/compact  the failing test "),
            Ok(Some(Slash::Compact(Some("the failing test".into()))))
        );
        assert_eq!(
            parse("/model  deepseek-chat "),
            Ok(Some(Slash::Model("deepseek-chat".into())))
        );
        assert_eq!(
            parse("/compare a, b,c"),
            Ok(Some(Slash::Compare(vec![
                "a".into(),
                "b".into(),
                "c".into()
            ])))
        );
        assert_eq!(
            parse("/workflow review {\"x\": 1}"),
            Ok(Some(Slash::Workflow {
                name: "review".into(),
                args: "{\"x\": 1}".into()
            }))
        );
        assert_eq!(
            parse("/attach img.png"),
            Ok(Some(Slash::Attach("img.png".into())))
        );
        assert_eq!(parse("/model"), Ok(Some(Slash::Models)));
        assert!(parse("/attach").unwrap_err().contains("needs"));
        assert!(parse("/nope")
            .unwrap_err()
            .contains("unknown command /nope"));
    }

    #[test]
    fn completes_names() {
        let names = |s| completions(s).iter().map(|c| c.0).collect::<Vec<_>>();
        assert_eq!(names("/"), COMMANDS.iter().map(|c| c.0).collect::<Vec<_>>());
        assert_eq!(names("/a"), vec!["attach", "approval"]);
        assert!(names("/model x").is_empty());
        assert!(names("hi").is_empty());
    }
}
