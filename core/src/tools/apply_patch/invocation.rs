//! Recognizing `apply_patch` sent through the shell tool. Models trained on
//! Codex often run the patch as a command (`apply_patch <<'EOF' ...`); no
//! such binary exists here, so the shell tool hands these calls to the
//! patch tool instead of running them.

use std::path::Path;

use super::parser::heredoc_delimiter;

const COMMANDS: [&str; 2] = ["apply_patch", "applypatch"];

/// The patch text of a shell call that invokes `apply_patch`, or `None` when
/// the command is something else. Recognized forms:
/// `["apply_patch", PATCH]`, `["applypatch", PATCH]`, and a shell script
/// (`["bash", "-lc", SCRIPT]`, also `sh`/`zsh` and `-c`) whose whole text
/// is `apply_patch <<'EOF'` + the patch + `EOF`.
pub fn extract_from_shell(argv: &[String]) -> Option<String> {
    match argv {
        [cmd, patch] if COMMANDS.contains(&cmd.as_str()) => Some(patch.clone()),
        [shell, flag, script] if is_shell(shell) && matches!(flag.as_str(), "-lc" | "-c") => {
            extract_from_script(script)
        }
        _ => None,
    }
}

/// The patch of a shell script whose only statement is `apply_patch` fed
/// by a heredoc. A script that does anything more (`cd dir && ...`, a
/// second command) is not recognized: running only its patch would skip
/// the rest, and applying it in the wrong directory would be worse.
pub fn extract_from_script(script: &str) -> Option<String> {
    let script = script.trim_start();
    let (first, body) = script.split_once('\n')?;
    let rest = COMMANDS
        .iter()
        .find_map(|cmd| first.strip_prefix(cmd))?
        .trim_start();
    let strip_tabs = rest.starts_with("<<-");
    let delimiter = heredoc_delimiter(rest)?;
    let mut patch = String::new();
    let mut lines = body.split('\n');
    for line in lines.by_ref() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let line = if strip_tabs {
            line.trim_start_matches('\t')
        } else {
            line
        };
        if line.trim_end() == delimiter {
            // Anything after the closing delimiter is another command.
            return lines.all(|l| l.trim().is_empty()).then_some(patch);
        }
        patch.push_str(line);
        patch.push('\n');
    }
    None
}

fn is_shell(program: &str) -> bool {
    Path::new(program)
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| matches!(n, "bash" | "sh" | "zsh"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn argv(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|s| s.to_string()).collect()
    }

    const PATCH: &str = "*** Begin Patch\n*** Delete File: a\n*** End Patch\n";

    #[test]
    fn direct_invocations() {
        assert_eq!(
            extract_from_shell(&argv(&["apply_patch", PATCH])).as_deref(),
            Some(PATCH)
        );
        assert_eq!(
            extract_from_shell(&argv(&["applypatch", PATCH])).as_deref(),
            Some(PATCH)
        );
        assert_eq!(extract_from_shell(&argv(&["apply_patch"])), None);
        assert_eq!(extract_from_shell(&argv(&["ls", "-l"])), None);
    }

    #[test]
    fn heredoc_scripts() {
        for opener in [
            "apply_patch <<'EOF'",
            "apply_patch <<EOF",
            "applypatch <<\"EOF\"",
            "apply_patch << 'PATCH'",
        ] {
            let delim = if opener.contains("PATCH") {
                "PATCH"
            } else {
                "EOF"
            };
            let script = format!("{opener}\n{PATCH}{delim}\n");
            for shell in ["bash", "/bin/bash", "sh", "zsh"] {
                for flag in ["-lc", "-c"] {
                    assert_eq!(
                        extract_from_shell(&argv(&[shell, flag, &script])).as_deref(),
                        Some(PATCH),
                        "{shell} {flag} {opener}"
                    );
                }
            }
        }
        let no_final_newline = format!("apply_patch <<'EOF'\n{PATCH}EOF");
        assert_eq!(
            extract_from_script(&no_final_newline).as_deref(),
            Some(PATCH)
        );
        let tabbed =
            "apply_patch <<-EOF\n\t*** Begin Patch\n\t*** Delete File: a\n\t*** End Patch\n\tEOF\n";
        assert_eq!(extract_from_script(tabbed).as_deref(), Some(PATCH));
    }

    #[test]
    fn other_scripts_are_not_patches() {
        assert_eq!(
            extract_from_script(&format!("cd x && apply_patch <<'EOF'\n{PATCH}EOF\n")),
            None
        );
        assert_eq!(
            extract_from_script(&format!("apply_patch <<'EOF'\n{PATCH}EOF\necho done\n")),
            None
        );
        assert_eq!(
            extract_from_script(&format!("apply_patch <<'EOF'\n{PATCH}")),
            None
        );
        assert_eq!(extract_from_script("apply_patchx <<'EOF'\nEOF\n"), None);
        assert_eq!(extract_from_script("echo apply_patch"), None);
        assert_eq!(
            extract_from_shell(&argv(&["python", "-c", "apply_patch <<EOF\nEOF\n"])),
            None
        );
    }
}
