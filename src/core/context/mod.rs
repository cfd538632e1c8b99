//! What a new chat's system prompt takes from the project and the user besides the fixed
//! prompt: their instruction files and the list of their skills.
//!
//! Both are read once, when the chat starts, and stay in the chat's stored system prompt: an
//! edit shows in the next chat, never halfway through one (which would also void the
//! provider's prompt cache).

pub mod compaction;
pub mod front_matter;
pub mod instructions;
pub mod skills;
pub mod window;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_names_files_clipping_and_skills() {
        let files = [
            InstructionFile {
                path: "AGENTS.md".into(),
                bytes: 10,
                included: 10,
            },
            InstructionFile {
                path: "api/AGENTS.md".into(),
                bytes: 900,
                included: 100,
            },
        ];
        assert_eq!(
            describe(&files, &["pdf".into(), "release".into()]),
            "instructions: AGENTS.md, api/AGENTS.md (clipped: 100 of 900 bytes) · skills: pdf, release"
        );
        assert_eq!(describe(&[], &["pdf".into()]), "skills: pdf");
    }
}

use std::path::Path;

use crate::core::config::Config;
use instructions::{InstructionFile, InstructionSources};
use skills::SkillCatalog;

/// What a new chat's system prompt takes in after its fixed part.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatContext {
    pub instructions: Vec<InstructionFile>,
    /// Names of the skills listed.
    pub skills: Vec<String>,
    /// The text to append to the system prompt; empty when there is nothing.
    pub prompt: String,
}

impl ChatContext {
    /// Reads the instruction files for `project_root` and, when the chat may use the skill
    /// tool (`skill_tool` is its name), the skills to list.
    pub fn load(config: &Config, project_root: &Path, skill_tool: Option<&str>) -> ChatContext {
        let instructions = InstructionSources {
            user_config_dir: config.user_config_dir.clone(),
            project_dir: project_root.to_path_buf(),
            max_bytes: config.instructions_max_bytes,
        }
        .load();
        let catalog = match skill_tool {
            Some(_) => SkillCatalog::discover(project_root, config.user_home.as_deref()),
            None => SkillCatalog::default(),
        };
        let sections: Vec<String> = [
            instructions.prompt,
            catalog.prompt_section(skill_tool.unwrap_or_default()),
        ]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
        ChatContext {
            instructions: instructions.files,
            skills: catalog.names(),
            prompt: sections.join("\n"),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.instructions.is_empty() && self.skills.is_empty()
    }
}

/// One line saying what a chat's prompt took in, for the chat pane and `exec`:
/// `instructions: AGENTS.md, api/AGENTS.md (clipped: 100 of 900 bytes) · skills: pdf, release`.
pub fn describe(instructions: &[InstructionFile], skills: &[String]) -> String {
    let mut parts = Vec::new();
    if !instructions.is_empty() {
        let files: Vec<String> = instructions
            .iter()
            .map(|f| match f.is_clipped() {
                true => format!("{} (clipped: {} of {} bytes)", f.path, f.included, f.bytes),
                false => f.path.clone(),
            })
            .collect();
        parts.push(format!("instructions: {}", files.join(", ")));
    }
    if !skills.is_empty() {
        parts.push(format!("skills: {}", skills.join(", ")));
    }
    parts.join(" · ")
}
