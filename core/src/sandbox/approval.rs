//! When an action needs the host's approval, and what it may remember.
//!
//! Policies follow Codex: `never` asks nothing (the sandbox decides, and
//! failures go back to the model); `on-request` asks only when the model
//! requests to run outside the sandbox (`sandbox_permissions:
//! "require_escalated"` with a `justification`) or a patch writes outside the
//! writable roots; `untrusted` asks for everything but known read-only
//! commands. Approving "for the session" is remembered per agent, for the
//! exact command or the exact set of paths.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Mutex;

use crate::protocol::{ApprovalPolicy, SandboxMode};

/// What must happen before an action runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// Run (within the sandbox, unless escalation was approved).
    Skip,
    /// Ask the host; `reason` is shown with the request.
    Ask { reason: String },
    /// Refuse without asking; `reason` goes back to the model.
    Forbidden { reason: String },
}

/// The requirement for a command. `escalate` is the model's request to run
/// it outside the sandbox.
pub fn command_requirement(
    policy: ApprovalPolicy,
    mode: SandboxMode,
    argv: &[String],
    escalate: bool,
    justification: Option<&str>,
) -> Requirement {
    let escalation_reason = || {
        justification
            .filter(|j| !j.trim().is_empty())
            .map(|j| format!("the model asks to run this outside the sandbox: {j}"))
            .unwrap_or_else(|| "the model asks to run this outside the sandbox".into())
    };
    match policy {
        ApprovalPolicy::Never if escalate && mode != SandboxMode::DangerFullAccess => {
            Requirement::Forbidden {
                reason:
                    "running outside the sandbox needs approval, and the approval policy is \
                         `never`: run the command without `sandbox_permissions`, within the sandbox"
                        .into(),
            }
        }
        ApprovalPolicy::Never => Requirement::Skip,
        ApprovalPolicy::OnRequest if escalate && mode != SandboxMode::DangerFullAccess => {
            Requirement::Ask {
                reason: escalation_reason(),
            }
        }
        ApprovalPolicy::OnRequest => Requirement::Skip,
        ApprovalPolicy::Untrusted if escalate && mode != SandboxMode::DangerFullAccess => {
            Requirement::Ask {
                reason: escalation_reason(),
            }
        }
        ApprovalPolicy::Untrusted if is_known_safe_command(argv) => Requirement::Skip,
        ApprovalPolicy::Untrusted => Requirement::Ask {
            reason: "the approval policy is `untrusted` and this is not a known read-only command"
                .into(),
        },
    }
}

/// The requirement for a patch. `writes_allowed` says whether the sandbox
/// allows every write it makes.
pub fn patch_requirement(policy: ApprovalPolicy, writes_allowed: bool) -> Requirement {
    match policy {
        // The sandbox's refusal goes back to the model as the tool's error.
        ApprovalPolicy::Never => Requirement::Skip,
        ApprovalPolicy::OnRequest if writes_allowed => Requirement::Skip,
        ApprovalPolicy::OnRequest => Requirement::Ask {
            reason: "the patch writes outside the writable roots".into(),
        },
        ApprovalPolicy::Untrusted => Requirement::Ask {
            reason: "the approval policy is `untrusted`".into(),
        },
    }
}

/// Approvals given "for the session", kept by the agent.
#[derive(Debug, Default)]
pub struct ApprovalCache {
    commands: Mutex<HashSet<Vec<String>>>,
    paths: Mutex<HashSet<PathBuf>>,
}

impl ApprovalCache {
    pub fn command_approved(&self, argv: &[String]) -> bool {
        self.commands
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(argv)
    }

    pub fn approve_command(&self, argv: &[String]) {
        self.commands
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(argv.to_vec());
    }

    /// Whether every path was approved for the session before.
    pub fn paths_approved(&self, paths: &[PathBuf]) -> bool {
        let approved = self.paths.lock().unwrap_or_else(|p| p.into_inner());
        !paths.is_empty() && paths.iter().all(|p| approved.contains(p))
    }

    pub fn approve_paths(&self, paths: &[PathBuf]) {
        self.paths
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(paths.iter().cloned());
    }
}

/// Commands that only read: safe to run unasked under `untrusted`. A
/// `bash -lc`/`bash -c` script counts when it is plain words joined by
/// `&&`, `||`, `;` or `|`, each part a safe command — no redirection,
/// substitution, expansion or background job.
pub fn is_known_safe_command(argv: &[String]) -> bool {
    if let [shell, flag, script] = argv {
        let shell = shell.rsplit('/').next().unwrap_or(shell);
        if matches!(shell, "bash" | "sh" | "zsh") && matches!(flag.as_str(), "-lc" | "-c") {
            return match split_script(script) {
                Some(commands) => !commands.is_empty() && commands.iter().all(|c| is_safe_argv(c)),
                None => false,
            };
        }
    }
    is_safe_argv(argv)
}

fn is_safe_argv(argv: &[String]) -> bool {
    let Some(program) = argv.first() else {
        return false;
    };
    let program = program.rsplit('/').next().unwrap_or(program);
    let args = &argv[1..];
    match program {
        "cat" | "cd" | "echo" | "false" | "grep" | "egrep" | "fgrep" | "head" | "ls" | "nl"
        | "pwd" | "tail" | "true" | "wc" | "which" | "basename" | "dirname" | "realpath"
        | "readlink" | "stat" | "file" | "whoami" | "id" | "uname" | "date" | "tree" | "cut"
        | "tr" | "printf" => true,
        "find" => !args.iter().any(|a| {
            matches!(
                a.as_str(),
                "-exec"
                    | "-execdir"
                    | "-ok"
                    | "-okdir"
                    | "-delete"
                    | "-fls"
                    | "-fprint"
                    | "-fprint0"
                    | "-fprintf"
            )
        }),
        // `--pre` runs a program on every file; the zip flags run decompressors.
        "rg" => !args.iter().any(|a| {
            a == "-z"
                || a.starts_with("--pre")
                || a.starts_with("--hostname-bin")
                || a.starts_with("--search-zip")
        }),
        "git" => match args.first().map(String::as_str) {
            Some("status" | "log" | "diff" | "show" | "rev-parse" | "ls-files") => !args
                .iter()
                .any(|a| a.starts_with("--output") || a.starts_with("--ext-diff")),
            // Listing only: any other argument creates, renames or deletes.
            Some("branch") => args[1..].iter().all(|a| {
                matches!(
                    a.as_str(),
                    "-a" | "-r" | "-v" | "-vv" | "--list" | "--show-current"
                )
            }),
            _ => false,
        },
        // `sed -n 'N,Mp' file` prints lines; any other script could write (`w`) or run (`e`).
        "sed" => {
            args.len() >= 2
                && args[0] == "-n"
                && is_print_range(&args[1])
                && args[2..].iter().all(|a| !a.starts_with('-'))
        }
        _ => false,
    }
}

fn is_print_range(script: &str) -> bool {
    let Some(range) = script.strip_suffix('p') else {
        return false;
    };
    let mut parts = range.split(',');
    let num =
        |s: Option<&str>| s.is_some_and(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()));
    match (parts.next(), parts.next(), parts.next()) {
        (a, None, None) => num(a),
        (a, Some(b), None) => num(a) && (num(Some(b)) || b == "$"),
        _ => false,
    }
}

/// Split a shell script into the word lists of its commands, or `None` when
/// it uses anything beyond plain words and `&&`, `||`, `;`, `|`.
fn split_script(script: &str) -> Option<Vec<Vec<String>>> {
    let mut commands = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = script.chars().peekable();
    let end_word = |word: &mut String, words: &mut Vec<String>, in_word: &mut bool| {
        if *in_word {
            words.push(std::mem::take(word));
            *in_word = false;
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(ch) => word.push(ch),
                        None => return None,
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('$' | '`') | None => return None,
                        Some('\\') => match chars.next() {
                            Some(ch) => word.push(ch),
                            None => return None,
                        },
                        Some(ch) => word.push(ch),
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.push(chars.next()?);
            }
            ' ' | '\t' => end_word(&mut word, &mut words, &mut in_word),
            '\n' | ';' => {
                end_word(&mut word, &mut words, &mut in_word);
                commands.push(std::mem::take(&mut words));
            }
            '|' => {
                end_word(&mut word, &mut words, &mut in_word);
                if chars.peek() == Some(&'|') {
                    chars.next();
                }
                commands.push(std::mem::take(&mut words));
            }
            '&' => {
                // `&&` chains; a lone `&` starts a background job.
                if chars.next() != Some('&') {
                    return None;
                }
                end_word(&mut word, &mut words, &mut in_word);
                commands.push(std::mem::take(&mut words));
            }
            '>' | '<' | '`' | '$' | '(' | ')' | '{' | '}' => return None,
            ch => {
                in_word = true;
                word.push(ch);
            }
        }
    }
    end_word(&mut word, &mut words, &mut in_word);
    commands.push(words);
    // Empty parts (`a && && b`, a trailing `;`) are fine only at the very end.
    let last_empty = commands.last().is_some_and(Vec::is_empty);
    if last_empty {
        commands.pop();
    }
    if commands.iter().any(Vec::is_empty) {
        return None;
    }
    Some(commands)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| a.to_string()).collect()
    }

    fn bash(script: &str) -> Vec<String> {
        argv(&["bash", "-lc", script])
    }

    #[test]
    fn read_only_commands_are_known_safe() {
        for script in [
            "ls -la",
            "cat README.md | head -n 5",
            "git status && git diff",
            "rg -n 'fn main' src; wc -l src/*.rs",
            "sed -n '1,40p' stats.py",
            "find . -name '*.py'",
            "grep \"a b\" file",
            "git branch --show-current",
        ] {
            assert!(is_known_safe_command(&bash(script)), "{script}");
        }
        assert!(is_known_safe_command(&argv(&["ls", "-l"])));
    }

    #[test]
    fn anything_that_can_write_or_run_is_not() {
        for script in [
            "rm -rf build",
            "ls > out.txt",
            "cat a >> b",
            "echo $(whoami)",
            "echo `id`",
            "echo \"$HOME\"",
            "ls & rm x",
            "find . -delete",
            "find . -exec rm {} +",
            "rg --pre sh x",
            "git commit -m x",
            "git branch -D main",
            "sed -i s/a/b/ f",
            "sed -n '1w out' f",
            "python3 -c 'print(1)'",
            "ls; (rm x)",
            "cat 'unterminated",
            "",
        ] {
            assert!(!is_known_safe_command(&bash(script)), "{script}");
        }
    }

    #[test]
    fn the_matrix() {
        use ApprovalPolicy::*;
        use SandboxMode::*;
        let safe = bash("ls");
        let risky = bash("rm -rf x");
        let ask = |r: Requirement| matches!(r, Requirement::Ask { .. });
        let forbidden = |r: Requirement| matches!(r, Requirement::Forbidden { .. });
        // never: nothing is asked; escalation is refused unless already unconfined.
        assert_eq!(
            command_requirement(Never, WorkspaceWrite, &risky, false, None),
            Requirement::Skip
        );
        assert!(forbidden(command_requirement(
            Never,
            WorkspaceWrite,
            &risky,
            true,
            None
        )));
        assert_eq!(
            command_requirement(Never, DangerFullAccess, &risky, true, None),
            Requirement::Skip
        );
        // on-request: asks only to escalate, with the model's justification.
        assert_eq!(
            command_requirement(OnRequest, ReadOnly, &risky, false, None),
            Requirement::Skip
        );
        match command_requirement(OnRequest, ReadOnly, &risky, true, Some("needs network")) {
            Requirement::Ask { reason } => assert!(reason.contains("needs network")),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            command_requirement(OnRequest, DangerFullAccess, &risky, true, None),
            Requirement::Skip
        );
        // untrusted: only known read-only commands run unasked.
        assert_eq!(
            command_requirement(Untrusted, WorkspaceWrite, &safe, false, None),
            Requirement::Skip
        );
        assert!(ask(command_requirement(
            Untrusted,
            WorkspaceWrite,
            &risky,
            false,
            None
        )));
        assert!(ask(command_requirement(
            Untrusted,
            DangerFullAccess,
            &risky,
            false,
            None
        )));
        assert!(ask(command_requirement(
            Untrusted,
            WorkspaceWrite,
            &safe,
            true,
            None
        )));
        // patches
        assert_eq!(patch_requirement(Never, false), Requirement::Skip);
        assert_eq!(patch_requirement(OnRequest, true), Requirement::Skip);
        assert!(ask(patch_requirement(OnRequest, false)));
        assert!(ask(patch_requirement(Untrusted, true)));
    }

    #[test]
    fn session_approvals_are_exact() {
        let cache = ApprovalCache::default();
        cache.approve_command(&bash("make test"));
        assert!(cache.command_approved(&bash("make test")));
        assert!(!cache.command_approved(&bash("make test; rm -rf /")));
        cache.approve_paths(&[PathBuf::from("/w/a"), PathBuf::from("/w/b")]);
        assert!(cache.paths_approved(&[PathBuf::from("/w/a")]));
        assert!(!cache.paths_approved(&[PathBuf::from("/w/a"), PathBuf::from("/w/c")]));
        assert!(!cache.paths_approved(&[]));
    }
}
