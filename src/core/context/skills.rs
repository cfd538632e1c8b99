//! Skills in Claude Code's format: a directory with a `SKILL.md` (front matter `name` and
//! `description`, then instructions in markdown) and whatever files those instructions use.
//!
//! Progressive disclosure: a new chat's system prompt lists only each skill's name and
//! description; the `skill` tool loads the full text when the model decides one applies.
//! Found in `<project>/.boocode/skills/*/`, `<project>/.claude/skills/*/`,
//! `~/.boocode/skills/*/` and `~/.claude/skills/*/`; the first of a name wins, so project skills
//! shadow the user's. A malformed `SKILL.md` is listed with its error and never offered.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::front_matter;

pub const FILE_NAME: &str = "SKILL.md";
/// Claude Code's limits for the two fields.
const MAX_NAME_CHARS: usize = 64;
const MAX_DESCRIPTION_CHARS: usize = 1024;
/// A skill's other files are named for the model, up to this many.
pub const MAX_LISTED_FILES: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SkillScope {
    Project,
    User,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Skill {
    pub name: String,
    pub description: String,
    /// The `SKILL.md` file.
    pub path: PathBuf,
    pub scope: SkillScope,
}

impl Skill {
    /// The skill's directory: its other files are relative to it.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(&self.path)
    }

    /// The instructions: the `SKILL.md` body after the front matter.
    pub fn body(&self) -> Result<String, String> {
        let text = std::fs::read_to_string(&self.path)
            .map_err(|e| format!("cannot read {}: {e}", self.path.display()))?;
        let (_, body) = front_matter::split(&text)?;
        Ok(body.trim().to_string())
    }

    /// The skill's other files, relative to its directory, sorted; at most
    /// [`MAX_LISTED_FILES`], and whether some were left out.
    pub fn other_files(&self) -> (Vec<String>, bool) {
        let dir = self.dir();
        let mut files: Vec<String> = ignore::WalkBuilder::new(dir)
            .hidden(false)
            .follow_links(false)
            .require_git(false)
            .sort_by_file_name(|a, b| a.cmp(b))
            .build()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_some_and(|t| t.is_file()))
            .filter_map(|e| {
                e.path()
                    .strip_prefix(dir)
                    .ok()
                    .map(|p| p.to_string_lossy().into_owned())
            })
            .filter(|rel| rel != FILE_NAME)
            .take(MAX_LISTED_FILES + 1)
            .collect();
        let more = files.len() > MAX_LISTED_FILES;
        files.truncate(MAX_LISTED_FILES);
        (files, more)
    }
}

/// A `SKILL.md` that could not be used, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InvalidSkill {
    pub path: PathBuf,
    pub error: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SkillCatalog {
    pub skills: Vec<Skill>,
    pub invalid: Vec<InvalidSkill>,
}

impl SkillCatalog {
    /// Every skill of the project and the user.
    pub fn discover(project_root: &Path, user_home: Option<&Path>) -> SkillCatalog {
        let mut roots = vec![
            (project_root.join(".boocode/skills"), SkillScope::Project),
            (project_root.join(".claude/skills"), SkillScope::Project),
        ];
        if let Some(home) = user_home {
            roots.push((home.join(".boocode/skills"), SkillScope::User));
            roots.push((home.join(".claude/skills"), SkillScope::User));
        }
        let mut catalog = SkillCatalog::default();
        for (root, scope) in roots {
            let Ok(entries) = std::fs::read_dir(&root) else {
                continue;
            };
            let mut files: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path().join(FILE_NAME)))
                .filter(|p| p.is_file())
                .collect();
            files.sort();
            for path in files {
                let parsed = std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read it: {e}"))
                    .and_then(|text| parse_skill(&text, &path, scope));
                match parsed {
                    Ok(skill) if catalog.get(&skill.name).is_none() => catalog.skills.push(skill),
                    Ok(_) => {}
                    Err(error) => catalog.invalid.push(InvalidSkill { path, error }),
                }
            }
        }
        catalog
    }

    /// The skill called `name` (exactly, else ignoring case).
    pub fn get(&self, name: &str) -> Option<&Skill> {
        self.skills.iter().find(|s| s.name == name).or_else(|| {
            self.skills
                .iter()
                .find(|s| s.name.eq_ignore_ascii_case(name))
        })
    }

    pub fn names(&self) -> Vec<String> {
        self.skills.iter().map(|s| s.name.clone()).collect()
    }

    /// One line per skill and per malformed `SKILL.md`, for `/skills` and `boocode skills`.
    pub fn describe(&self) -> Vec<String> {
        if self.skills.is_empty() && self.invalid.is_empty() {
            return vec![
                "no skills: add one as .claude/skills/NAME/SKILL.md (or .boocode/skills/, or \
                 under ~/)"
                    .to_string(),
            ];
        }
        let scope = |s: SkillScope| match s {
            SkillScope::Project => "project",
            SkillScope::User => "user",
        };
        self.skills
            .iter()
            .map(|s| {
                format!(
                    "{} — {} ({}: {})",
                    s.name,
                    s.description,
                    scope(s.scope),
                    s.path.display()
                )
            })
            .chain(
                self.invalid
                    .iter()
                    .map(|i| format!("invalid {}: {}", i.path.display(), i.error)),
            )
            .collect()
    }

    /// The system prompt's list of skills; empty when there are none.
    pub fn prompt_section(&self, tool_name: &str) -> String {
        if self.skills.is_empty() {
            return String::new();
        }
        let list: String = self
            .skills
            .iter()
            .map(|s| format!("- {}: {}\n", s.name, s.description))
            .collect();
        format!(
            "# Skills\n\nSkills are instructions for particular kinds of tasks. When a task \
             matches a skill's description, call the `{tool_name}` tool with its name to load \
             its instructions before you start, and follow them.\n\n{list}"
        )
    }
}

/// Reads a `SKILL.md`'s front matter; `name` and `description` are required.
pub fn parse_skill(text: &str, path: &Path, scope: SkillScope) -> Result<Skill, String> {
    let (front, _) = front_matter::split(text)?;
    let fields = front_matter::scalar_fields(front);
    let field = |key: &str| {
        fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("front matter has no `{key}`"))
    };
    let name = field("name")?;
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(format!("name is longer than {MAX_NAME_CHARS} characters"));
    }
    if name.contains(|c: char| c.is_whitespace() || c == '/' || c == '\\') {
        return Err(format!(
            "name '{name}' may not contain spaces or slashes (use letters, digits and hyphens)"
        ));
    }
    let description = field("description")?;
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(format!(
            "description is longer than {MAX_DESCRIPTION_CHARS} characters"
        ));
    }
    Ok(Skill {
        name,
        description,
        path: path.to_path_buf(),
        scope,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, text: &str) {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn skill_md(name: &str, description: &str) -> String {
        format!("---\nname: {name}\ndescription: {description}\n---\n# {name}\n\nSteps.\n")
    }

    #[test]
    fn project_skills_shadow_the_users_and_all_four_places_are_read() {
        let project = tempfile::tempdir().unwrap();
        let home = tempfile::tempdir().unwrap();
        write(
            project.path(),
            ".boocode/skills/release/SKILL.md",
            &skill_md("release", "Cut a release"),
        );
        write(
            project.path(),
            ".claude/skills/pdf/SKILL.md",
            &skill_md("pdf", "Project PDF work"),
        );
        write(
            home.path(),
            ".claude/skills/pdf/SKILL.md",
            &skill_md("pdf", "User PDF work"),
        );
        write(
            home.path(),
            ".boocode/skills/notes/SKILL.md",
            &skill_md("notes", "Take notes"),
        );
        write(
            home.path(),
            ".claude/skills/empty-dir/README.md",
            "no skill",
        );
        let catalog = SkillCatalog::discover(project.path(), Some(home.path()));
        assert_eq!(catalog.names(), vec!["release", "pdf", "notes"]);
        let pdf = catalog.get("PDF").unwrap();
        assert_eq!(pdf.description, "Project PDF work");
        assert_eq!(pdf.scope, SkillScope::Project);
        assert_eq!(catalog.get("notes").unwrap().scope, SkillScope::User);
        assert!(catalog.invalid.is_empty());
        let lines = catalog.describe();
        assert_eq!(lines.len(), 3);
        assert!(
            lines[1].starts_with("pdf — Project PDF work (project: "),
            "{}",
            lines[1]
        );
        assert!(lines[2].starts_with("notes — Take notes (user: "));
        let section = catalog.prompt_section("skill");
        assert!(section.contains("- pdf: Project PDF work\n"), "{section}");
        assert!(!section.contains("User PDF work"));
        assert!(!section.contains("Steps."), "only names and descriptions");
    }

    #[test]
    fn malformed_skills_are_listed_with_their_error_and_not_offered() {
        let project = tempfile::tempdir().unwrap();
        let cases = [
            (
                "no-front",
                "# Just markdown\n",
                "missing `---` front matter",
            ),
            ("open", "---\nname: open\n", "not closed"),
            (
                "no-desc",
                "---\nname: no-desc\n---\nbody\n",
                "no `description`",
            ),
            ("no-name", "---\ndescription: x\n---\n", "no `name`"),
            (
                "spaced",
                "---\nname: two words\ndescription: x\n---\n",
                "may not contain spaces",
            ),
        ];
        for (dir, text, _) in cases {
            write(
                project.path(),
                &format!(".claude/skills/{dir}/SKILL.md"),
                text,
            );
        }
        write(
            project.path(),
            ".claude/skills/good/SKILL.md",
            "---\nname: good\ndescription: >\n  Folded\n  text.\n---\nBody.\n",
        );
        let catalog = SkillCatalog::discover(project.path(), None);
        assert_eq!(catalog.names(), vec!["good"]);
        assert_eq!(catalog.skills[0].description, "Folded text.");
        assert_eq!(catalog.invalid.len(), cases.len());
        let lines = catalog.describe();
        assert!(lines.iter().any(|l| l.starts_with("invalid ")
            && l.ends_with("no-desc/SKILL.md: front matter has no `description`")));
        for (dir, _, error) in cases {
            let bad = catalog
                .invalid
                .iter()
                .find(|i| i.path.ends_with(format!("{dir}/SKILL.md")))
                .unwrap_or_else(|| panic!("{dir} not listed"));
            assert!(bad.error.contains(error), "{dir}: {}", bad.error);
        }
    }

    #[test]
    fn body_and_other_files() {
        let project = tempfile::tempdir().unwrap();
        write(
            project.path(),
            ".claude/skills/pdf/SKILL.md",
            &skill_md("pdf", "PDF work"),
        );
        write(project.path(), ".claude/skills/pdf/forms.md", "forms");
        write(project.path(), ".claude/skills/pdf/scripts/fill.py", "pass");
        let catalog = SkillCatalog::discover(project.path(), None);
        let pdf = catalog.get("pdf").unwrap();
        assert_eq!(pdf.body().unwrap(), "# pdf\n\nSteps.");
        assert_eq!(
            pdf.other_files(),
            (
                vec!["forms.md".to_string(), "scripts/fill.py".to_string()],
                false
            )
        );
        assert_eq!(SkillCatalog::default().prompt_section("skill"), "");
    }
}
