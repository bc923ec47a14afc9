//! Skills, as the Codex CLI finds and lists them: `<root>/<name>/SKILL.md`
//! files whose front matter gives `name` and `description`. The model sees
//! the list (name, description, path) and reads a body with its file tools
//! when it uses the skill.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Codex's limits.
pub const MAX_NAME_CHARS: usize = 64;
pub const MAX_DESCRIPTION_CHARS: usize = 1024;
/// How deep under a root `SKILL.md` files are looked for.
const MAX_DEPTH: usize = 3;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skill {
    pub name: String,
    pub description: String,
    pub path: PathBuf,
}

/// The skill roots, in order: `.agents/skills` from the project root down to
/// cwd, `~/.agents/skills` (when `user_home` is given), the home's `skills`,
/// then `extra`.
pub fn skill_roots(
    root: &Path,
    cwd: &Path,
    user_home: Option<&Path>,
    codeloop_home: Option<&Path>,
    extra: &[PathBuf],
) -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = super::layers::root_to_cwd(root, cwd)
        .into_iter()
        .map(|d| d.join(".agents").join("skills"))
        .collect();
    roots.extend(user_home.map(|h| h.join(".agents").join("skills")));
    roots.extend(codeloop_home.map(|h| h.join("skills")));
    roots.extend(extra.iter().map(|p| {
        if p.is_absolute() {
            p.clone()
        } else {
            cwd.join(p)
        }
    }));
    roots
}

/// Every valid skill under `roots`; invalid ones are reported in `warnings`.
pub fn discover(roots: &[PathBuf], warnings: &mut Vec<String>) -> Vec<Skill> {
    let mut files = Vec::new();
    for root in roots {
        find_skill_files(root, 0, &mut files);
    }
    let mut seen = HashSet::new();
    let mut skills = Vec::new();
    for file in files {
        let file = file.canonicalize().unwrap_or(file);
        if !seen.insert(file.clone()) {
            continue;
        }
        match std::fs::read_to_string(&file)
            .map_err(|e| e.to_string())
            .and_then(|text| parse_front_matter(&text))
        {
            Ok((name, description)) => skills.push(Skill {
                name,
                description,
                path: file,
            }),
            Err(e) => warnings.push(format!("skill {} ignored: {e}", file.display())),
        }
    }
    skills
}

fn find_skill_files(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.file_name().is_some_and(|n| n == "SKILL.md") && path.is_file() {
            out.push(path);
        } else if depth < MAX_DEPTH
            && path.is_dir()
            && !path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        {
            find_skill_files(&path, depth + 1, out);
        }
    }
}

/// `name` and `description` of a `---`-fenced front matter. Plain, single-
/// or double-quoted scalars on one line; other keys are ignored.
pub fn parse_front_matter(text: &str) -> Result<(String, String), String> {
    let mut lines = text.lines();
    if lines.next().map(str::trim_end) != Some("---") {
        return Err("no front matter (the file must start with a `---` line)".into());
    }
    let mut name = None;
    let mut description = None;
    let mut closed = false;
    for line in lines {
        if line.trim_end() == "---" {
            closed = true;
            break;
        }
        if line.starts_with([' ', '\t']) || line.trim_start().starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let slot = match key.trim() {
            "name" => &mut name,
            "description" => &mut description,
            _ => continue,
        };
        *slot = Some(unquote(value.trim()).map_err(|e| format!("`{}`: {e}", key.trim()))?);
    }
    if !closed {
        return Err("the front matter has no closing `---` line".into());
    }
    let name = name
        .filter(|n| !n.is_empty())
        .ok_or("the front matter has no `name`")?;
    let description = description
        .filter(|d| !d.is_empty())
        .ok_or("the front matter has no `description`")?;
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(format!("`name` is longer than {MAX_NAME_CHARS} characters"));
    }
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(format!(
            "`description` is longer than {MAX_DESCRIPTION_CHARS} characters"
        ));
    }
    Ok((name, description))
}

fn unquote(value: &str) -> Result<String, String> {
    let quoted = |q: char| value.len() >= 2 && value.starts_with(q) && value.ends_with(q);
    if quoted('"') {
        let inner = &value[1..value.len() - 1];
        serde_json::from_str::<String>(&format!("\"{inner}\""))
            .map_err(|e| format!("bad double-quoted string: {e}"))
    } else if quoted('\'') {
        Ok(value[1..value.len() - 1].replace("''", "'"))
    } else if value.starts_with(['"', '\'', '|', '>', '[', '{']) {
        Err("only one-line plain or quoted strings are supported".into())
    } else {
        Ok(value.to_string())
    }
}

/// The developer message listing `skills`, in Codex's words.
pub fn skills_message(skills: &[Skill]) -> String {
    let mut lines = vec![
        "<skills_instructions>".to_string(),
        "## Skills".to_string(),
        "A skill is a set of local instructions to follow that is stored in a `SKILL.md` file. \
         Below is the list of skills that can be used. Each entry includes a name, description, \
         and file path so you can open the source for full instructions when using a specific \
         skill."
            .to_string(),
        "### Available skills".to_string(),
    ];
    lines.extend(skills.iter().map(|s| {
        format!(
            "- {}: {} (file: {})",
            s.name,
            s.description,
            s.path.display()
        )
    }));
    lines.push("### How to use skills".to_string());
    lines.push(HOW_TO_USE.to_string());
    lines.push("</skills_instructions>".to_string());
    lines.join("\n")
}

const HOW_TO_USE: &str = "\
- Discovery: The list above is the skills available in this session (name + description + file path). Skill bodies live on disk at the listed paths.
- Trigger rules: If the user names a skill (with `$SkillName` or plain text) OR the task clearly matches a skill's description shown above, you must use that skill for that turn. Multiple mentions mean use them all. Do not carry skills across turns unless re-mentioned.
- Missing/blocked: If a named skill isn't in the list or the path can't be read, say so briefly and continue with the best fallback.
- How to use a skill: after deciding to use a skill, open its `SKILL.md` and read only enough to follow the workflow. Resolve relative paths in it against the skill's directory; load only the files the task needs; prefer running or patching its `scripts/` over retyping them; reuse its `assets/` and templates.
- If several skills apply, use the smallest set that covers the request and say in one short line which you use and why.
- Safety and fallback: If a skill can't be applied cleanly (missing files, unclear instructions), state the issue, pick the next-best approach, and continue.";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn front_matter_is_parsed_strictly() {
        let ok = "---\nname: fix-tests\ndescription: \"Fix \\\"failing\\\" tests\"\nmetadata:\n  x: y\n---\nbody";
        assert_eq!(
            parse_front_matter(ok),
            Ok(("fix-tests".into(), "Fix \"failing\" tests".into()))
        );
        assert_eq!(
            parse_front_matter("---\nname: 'it''s'\ndescription: d\n---\n"),
            Ok(("it's".into(), "d".into()))
        );
        assert!(parse_front_matter("name: x\n").is_err());
        assert!(parse_front_matter("---\nname: x\n---\n").is_err());
        assert!(parse_front_matter("---\nname: x\ndescription: d\n").is_err());
        let long = format!("---\nname: {}\ndescription: d\n---\n", "n".repeat(65));
        assert!(parse_front_matter(&long).is_err());
    }
}
