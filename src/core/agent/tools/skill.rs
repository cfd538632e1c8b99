//! `skill`: loads one skill's instructions (or one of its other files) when the model decides
//! the skill applies. The system prompt lists only names and descriptions.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use futures::future::BoxFuture;
use futures::FutureExt;
use serde::Deserialize;
use serde_json::{json, Value};

use super::read_file::MAX_OUTPUT_BYTES;
use super::walk::looks_binary;
use super::{blocking, parse_args, Tool, ToolContext, ToolError, ToolKind, ToolOutput};
use crate::core::context::skills::{Skill, SkillCatalog};

pub const NAME: &str = "skill";

/// Looks skills up where the system prompt's list came from: the project root the engine was
/// started on (not an isolated agent's worktree) and the user's home.
pub struct SkillTool {
    project_root: PathBuf,
    user_home: Option<PathBuf>,
}

impl SkillTool {
    pub fn new(project_root: PathBuf, user_home: Option<PathBuf>) -> Self {
        SkillTool {
            project_root,
            user_home,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Args {
    name: String,
    file: Option<String>,
}

impl Tool for SkillTool {
    fn name(&self) -> &'static str {
        NAME
    }

    fn description(&self) -> &'static str {
        "Load a skill listed in the system prompt: returns its full instructions and names its \
         other files. Call it before starting a task that matches a skill's description. With \
         `file`, returns that file of the skill instead (a path from the list)."
    }

    fn parameters(&self) -> Value {
        json!({
            "type": "object",
            "properties": {
                "name": {
                    "type": "string",
                    "description": "The skill's name, as listed in the system prompt."
                },
                "file": {
                    "type": "string",
                    "description": "A file of the skill, relative to its directory (optional)."
                }
            },
            "required": ["name"],
            "additionalProperties": false
        })
    }

    fn kind(&self) -> ToolKind {
        ToolKind::ReadOnly
    }

    fn run<'a>(
        &'a self,
        args: Value,
        _ctx: &'a ToolContext,
    ) -> BoxFuture<'a, Result<ToolOutput, ToolError>> {
        async move {
            let args: Args = parse_args(NAME, args)?;
            let project_root = self.project_root.clone();
            let user_home = self.user_home.clone();
            blocking(move || {
                let catalog = SkillCatalog::discover(&project_root, user_home.as_deref());
                let skill = catalog.get(&args.name).ok_or_else(|| {
                    ToolError::Failed(format!(
                        "unknown skill '{}'; available: {}",
                        args.name,
                        match catalog.names() {
                            names if names.is_empty() => "none".to_string(),
                            names => names.join(", "),
                        }
                    ))
                })?;
                match &args.file {
                    Some(file) => read_skill_file(skill, file),
                    None => instructions(skill),
                }
                .map(ToolOutput::text)
            })
            .await
        }
        .boxed()
    }
}

fn instructions(skill: &Skill) -> Result<String, ToolError> {
    let body = skill.body().map_err(ToolError::Failed)?;
    let mut out = format!(
        "# Skill: {}\n\nBase directory: {}\n\n{body}\n",
        skill.name,
        skill.dir().display()
    );
    let (files, more) = skill.other_files();
    if !files.is_empty() {
        out.push_str(&format!(
            "\nOther files of this skill (load one with {{\"name\": \"{}\", \"file\": PATH}}):\n",
            skill.name
        ));
        for file in files {
            out.push_str(&format!("- {file}\n"));
        }
        if more {
            out.push_str("- … (more files not listed)\n");
        }
    }
    Ok(out)
}

/// A file inside the skill's directory; paths that leave it (`..`, absolute, a symlink out)
/// are refused.
fn read_skill_file(skill: &Skill, file: &str) -> Result<String, ToolError> {
    let requested = Path::new(file);
    if requested
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(ToolError::Denied(format!(
            "{file} is not inside the skill's directory; give a path relative to it"
        )));
    }
    let not_found = || ToolError::Failed(format!("skill {} has no file {file}", skill.name));
    let dir = std::fs::canonicalize(skill.dir()).map_err(|_| not_found())?;
    let path = std::fs::canonicalize(dir.join(requested)).map_err(|_| not_found())?;
    if !path.starts_with(&dir) {
        return Err(ToolError::Denied(format!(
            "{file} leads outside the skill's directory"
        )));
    }
    if !path.is_file() {
        return Err(not_found());
    }
    let mut bytes = Vec::new();
    std::fs::File::open(&path)
        .and_then(|f| f.take(MAX_OUTPUT_BYTES as u64 + 1).read_to_end(&mut bytes))
        .map_err(|e| ToolError::Failed(format!("cannot read {file}: {e}")))?;
    if looks_binary(&bytes) {
        return Err(ToolError::Failed(format!(
            "{file} is a binary file; refer to it by path ({})",
            path.display()
        )));
    }
    let cut = bytes.len() > MAX_OUTPUT_BYTES;
    bytes.truncate(MAX_OUTPUT_BYTES);
    let mut text = String::from_utf8_lossy(&bytes).into_owned();
    if cut {
        text.push_str(&format!(
            "\n[cut at {MAX_OUTPUT_BYTES} bytes; the whole file is {}]\n",
            path.display()
        ));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{symlink, Fixture};
    use super::*;
    use crate::core::agent::tools::ApprovalMode;

    fn fixture() -> (Fixture, SkillTool) {
        let fx = Fixture::new(ApprovalMode::ReadOnly);
        fx.write(
            ".claude/skills/pdf/SKILL.md",
            "---\nname: pdf\ndescription: Fill PDF forms\n---\n# PDF\n\nRun scripts/fill.py.\n",
        );
        fx.write(".claude/skills/pdf/scripts/fill.py", "print('filled')\n");
        fx.write(".claude/skills/pdf/blob.bin", b"\0\x01\x02");
        fx.write("secret.txt", "outside the skill");
        let tool = SkillTool::new(fx.root.clone(), None);
        (fx, tool)
    }

    #[tokio::test]
    async fn loads_the_body_and_names_the_other_files() {
        let (fx, tool) = fixture();
        let out = tool.run(json!({"name": "pdf"}), &fx.ctx).await.unwrap();
        assert!(out.content.starts_with("# Skill: pdf\n"), "{}", out.content);
        assert!(out.content.contains("# PDF\n\nRun scripts/fill.py."));
        assert!(
            !out.content.contains("description:"),
            "front matter left out"
        );
        assert!(
            out.content.contains("- scripts/fill.py\n"),
            "{}",
            out.content
        );
        assert!(out.content.contains("- blob.bin\n"));
        assert!(!out.content.contains("- SKILL.md"));
    }

    #[tokio::test]
    async fn reads_a_file_of_the_skill_but_nothing_outside_it() {
        let (fx, tool) = fixture();
        let out = tool
            .run(json!({"name": "pdf", "file": "scripts/fill.py"}), &fx.ctx)
            .await
            .unwrap();
        assert_eq!(out.content, "print('filled')\n");
        symlink(
            &fx.path("secret.txt"),
            &fx.path(".claude/skills/pdf/link.txt"),
        );
        for escape in ["../../../secret.txt", "/etc/passwd", "link.txt"] {
            let e = tool
                .run(json!({"name": "pdf", "file": escape}), &fx.ctx)
                .await
                .unwrap_err();
            assert!(matches!(e, ToolError::Denied(_)), "{escape}: {e}");
        }
        let e = tool
            .run(json!({"name": "pdf", "file": "blob.bin"}), &fx.ctx)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("binary"), "{e}");
        let e = tool
            .run(json!({"name": "pdf", "file": "nope.md"}), &fx.ctx)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("has no file nope.md"), "{e}");
    }

    #[tokio::test]
    async fn an_unknown_skill_names_the_available_ones() {
        let (fx, tool) = fixture();
        let e = tool
            .run(json!({"name": "docx"}), &fx.ctx)
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "unknown skill 'docx'; available: pdf");
    }
}
