//! `boocode skills`: the skills the agent can load, and the `SKILL.md` files that are broken.

use anyhow::Result;

use boocode::core::context::skills::SkillCatalog;

use super::{usage_error, GlobalArgs};

pub fn run(global: &GlobalArgs, json: bool) -> Result<()> {
    let (root, config) = global.load_config().map_err(usage_error)?;
    let catalog = SkillCatalog::discover(&root, config.user_home.as_deref());
    if json {
        println!("{}", serde_json::to_string_pretty(&catalog)?);
    } else {
        for line in catalog.describe() {
            println!("{line}");
        }
    }
    Ok(())
}
