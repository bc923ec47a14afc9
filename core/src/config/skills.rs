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

/// The most bytes read of a `SKILL.md`: the front matter must fit.
pub const MAX_SKILL_FILE_BYTES: usize = 64 * 1024;

/// A directory to look for skills in, and the directory its symlinks (the
/// root itself, skill directories, `SKILL.md` files) must resolve inside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkillRoot {
    pub dir: PathBuf,
    pub boundary: PathBuf,
}

/// The skill roots, in order: `.agents/skills` from the project root down to
/// cwd (confined to the project root), `~/.agents/skills` (when `user_home`
/// is given; confined to it), the home's `skills` (confined to the home),
/// then `extra` (each confined to itself).
pub fn skill_roots(
    root: &Path,
    cwd: &Path,
    user_home: Option<&Path>,
    codeloop_home: Option<&Path>,
    extra: &[PathBuf],
) -> Vec<SkillRoot> {
    let mut roots: Vec<SkillRoot> = super::layers::root_to_cwd(root, cwd)
        .into_iter()
        .map(|d| SkillRoot {
            dir: d.join(".agents").join("skills"),
            boundary: root.to_path_buf(),
        })
        .collect();
    roots.extend(user_home.map(|h| SkillRoot {
        dir: h.join(".agents").join("skills"),
        boundary: h.to_path_buf(),
    }));
    roots.extend(codeloop_home.map(|h| SkillRoot {
        dir: h.join("skills"),
        boundary: h.to_path_buf(),
    }));
    roots.extend(extra.iter().map(|p| {
        let dir = if p.is_absolute() {
            p.clone()
        } else {
            cwd.join(p)
        };
        // Named by the caller: wherever it is, but nothing out of it.
        let boundary = dir.canonicalize().unwrap_or_else(|_| dir.clone());
        SkillRoot { dir, boundary }
    }));
    roots
}

/// Every valid skill under `roots`; invalid and refused ones are reported
/// in `warnings`.
pub fn discover(roots: &[SkillRoot], warnings: &mut Vec<String>) -> Vec<Skill> {
    let mut files = Vec::new();
    for root in roots {
        let boundary = root
            .boundary
            .canonicalize()
            .unwrap_or_else(|_| root.boundary.clone());
        let Ok(dir) = root.dir.canonicalize() else {
            continue;
        };
        if !dir.starts_with(&boundary) {
            warnings.push(format!(
                "skills in {} ignored: it resolves to {}, outside {}",
                root.dir.display(),
                dir.display(),
                boundary.display()
            ));
            continue;
        }
        find_skill_files(&root.dir, &boundary, 0, &mut files, warnings);
    }
    let mut seen = HashSet::new();
    let mut skills = Vec::new();
    for (file, boundary) in files {
        let canonical = file.canonicalize().unwrap_or_else(|_| file.clone());
        if !seen.insert(canonical.clone()) {
            continue;
        }
        let parsed = super::textfile::read_capped(&file, Some(&boundary), MAX_SKILL_FILE_BYTES)
            .and_then(|read| {
                parse_front_matter(&read.text).map_err(|e| {
                    if read.truncated {
                        format!("{e} (only the first {MAX_SKILL_FILE_BYTES} bytes are read)")
                    } else {
                        e
                    }
                })
            });
        match parsed {
            Ok((name, description)) => skills.push(Skill {
                name,
                description,
                path: canonical,
            }),
            Err(e) => warnings.push(format!("skill {} ignored: {e}", file.display())),
        }
    }
    skills
}

/// `SKILL.md` files under `dir` (with the boundary they must stay in). A
/// symlinked directory or `SKILL.md` whose target is outside `boundary` is
/// reported and not followed.
fn find_skill_files(
    dir: &Path,
    boundary: &Path,
    depth: usize,
    out: &mut Vec<(PathBuf, PathBuf)>,
    warnings: &mut Vec<String>,
) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        let is_skill = path.file_name().is_some_and(|n| n == "SKILL.md");
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let meta = if meta.file_type().is_symlink() {
            let Ok(target) = path.canonicalize() else {
                continue;
            };
            let Ok(target_meta) = std::fs::metadata(&target) else {
                continue;
            };
            let relevant = is_skill || (target_meta.is_dir() && !hidden && depth < MAX_DEPTH);
            if !relevant {
                continue;
            }
            if !target.starts_with(boundary) {
                warnings.push(format!(
                    "skill {} ignored: it is a symlink to {}, outside {}",
                    path.display(),
                    target.display(),
                    boundary.display()
                ));
                continue;
            }
            target_meta
        } else {
            meta
        };
        if is_skill {
            // Whatever its kind: a refused file is reported when read.
            if !meta.is_dir() {
                out.push((path, boundary.to_path_buf()));
            }
        } else if depth < MAX_DEPTH && meta.is_dir() && !hidden {
            find_skill_files(&path, boundary, depth + 1, out, warnings);
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
    fn symlinks_out_of_a_root_are_refused() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let project = dir.path().join("project");
        let skills = project.join(".agents/skills");
        let outside = dir.path().join("outside");
        let skill = "---\nname: n\ndescription: d\n---\n";
        std::fs::create_dir_all(skills.join("real"))?;
        std::fs::create_dir_all(outside.join("evil"))?;
        std::fs::write(skills.join("real/SKILL.md"), skill)?;
        std::fs::write(outside.join("evil/SKILL.md"), skill)?;
        std::fs::write(outside.join("file.md"), skill)?;
        std::os::unix::fs::symlink(outside.join("evil"), skills.join("evil"))?;
        std::os::unix::fs::symlink(skills.join("real"), skills.join("alias"))?;
        std::fs::create_dir_all(skills.join("linked"))?;
        std::os::unix::fs::symlink(outside.join("file.md"), skills.join("linked/SKILL.md"))?;
        let roots = skill_roots(&project, &project, None, None, &[]);
        let mut warnings = Vec::new();
        let found = discover(&roots, &mut warnings);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].path, skills.join("real/SKILL.md").canonicalize()?);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(
            warnings.iter().all(|w| w.contains("outside")),
            "{warnings:?}"
        );
        assert!(
            warnings.iter().any(|w| w.contains("skills/evil")),
            "{warnings:?}"
        );
        assert!(
            warnings.iter().any(|w| w.contains("linked/SKILL.md")),
            "{warnings:?}"
        );

        // A project whose `.agents` points out of it lists nothing.
        let other = dir.path().join("other");
        std::fs::create_dir_all(&other)?;
        std::os::unix::fs::symlink(&outside, other.join(".agents"))?;
        std::fs::create_dir_all(outside.join("skills"))?;
        let mut warnings = Vec::new();
        let roots = skill_roots(&other, &other, None, None, &[]);
        assert!(discover(&roots, &mut warnings).is_empty());
        assert!(warnings[0].contains("outside"), "{warnings:?}");
        Ok(())
    }

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
