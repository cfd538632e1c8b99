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
    /// `/compare NAMES [PROMPT]`, as typed: split by [`compare_split`].
    Compare(String),
    Approval(String),
    Workflow {
        name: String,
        args: String,
    },
    Skills,
    /// `/agent NAME`: run the chat on an external agent.
    Agent(String),
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
        "NAME… [PROMPT]",
        "send a prompt to several models and agents side by side",
    ),
    ("approval", "MODE", "read-only, review or auto"),
    ("workflow", "NAME [ARGS]", "run a workflow"),
    ("skills", "", "list the agent's skills"),
    ("agent", "NAME", "run this chat on an external agent"),
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
        "compare" => Slash::Compare(need("one or more models or agents")?),
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
        "agent" => Slash::Agent(need("an agent name (`boocode agents` lists them)")?),
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

/// `/compare`'s argument: the names to compare, and the prompt when one follows them. The
/// first word is names (commas separate them); later words are names while `is_name` says so
/// (an agent, a model alias, something shaped like a model id), or up to a `--`; the rest,
/// as typed, is the prompt. Without a prompt the next message is the prompt.
pub fn compare_split(arg: &str, is_name: impl Fn(&str) -> bool) -> (Vec<String>, Option<String>) {
    let names_of = |word: &str| -> Vec<String> {
        word.split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .collect()
    };
    let explicit = arg.split_whitespace().any(|w| w == "--");
    let mut names = Vec::new();
    let mut rest = arg.trim_start();
    let mut first = true;
    while let Some(word) = rest.split_whitespace().next() {
        if word == "--" {
            rest = rest[word.len()..].trim_start();
            break;
        }
        if !(first || explicit || word.split(',').all(|n| n.is_empty() || is_name(n))) {
            break;
        }
        names.extend(names_of(word));
        rest = rest[word.len()..].trim_start();
        first = false;
    }
    let prompt = Some(rest.trim_end().to_string()).filter(|p| !p.is_empty());
    (names, prompt)
}

/// Whether a word looks like a model id (`deepseek-chat`, `gpt-4o`, `org/model:tag`) rather
/// than the first word of a prompt.
pub fn looks_like_model(word: &str) -> bool {
    word.chars()
        .any(|c| matches!(c, '-' | '.' | '/' | ':') || c.is_ascii_digit())
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
            parse("/compare a,b  fix it"),
            Ok(Some(Slash::Compare("a,b  fix it".into())))
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
        assert_eq!(names("/a"), vec!["attach", "approval", "agent"]);
        assert!(names("/model x").is_empty());
        assert!(names("hi").is_empty());
    }

    #[test]
    fn compare_takes_names_then_the_prompt_as_typed() {
        let agents = ["claude", "codex"];
        let is_name = |w: &str| agents.contains(&w) || looks_like_model(w);
        let split = |arg: &str| compare_split(arg, is_name);
        assert_eq!(
            split("deepseek-chat claude codex fix the parser,  then test"),
            (
                vec!["deepseek-chat".into(), "claude".into(), "codex".into()],
                Some("fix the parser,  then test".into())
            )
        );
        // A comma list alone: the next message is the prompt.
        assert_eq!(split("a,b"), (vec!["a".into(), "b".into()], None));
        assert_eq!(split("a, b"), (vec!["a".into()], Some("b".into())));
        // `--` ends the names whatever they look like.
        assert_eq!(
            split("mine theirs -- re-run it"),
            (
                vec!["mine".into(), "theirs".into()],
                Some("re-run it".into())
            )
        );
        assert_eq!(split("gpt-4o"), (vec!["gpt-4o".into()], None));
    }
}
