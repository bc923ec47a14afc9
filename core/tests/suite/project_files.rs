//! Project files end to end: AGENTS.md, skills, config layering and command
//! hooks in temp repositories, against the mock model server. The request
//! bodies the server received show what the model saw. Every agent gets its
//! own `codeloop_home`, so no machine files are read.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use codeloop_core::protocol::{
    AgentOptions, HookDecision, HookEvent, HookOutcome, SandboxMode, ThreadEvent,
};
use codeloop_core::{Agent, Error, Host};
use codeloop_mock_server::{responses, MockServer, Reply};
use futures::StreamExt;
use serde_json::{json, Value};

use super::support::output_for;

struct Lab {
    server: MockServer,
    home: tempfile::TempDir,
    repo: tempfile::TempDir,
}

impl Lab {
    async fn new() -> Lab {
        let lab = Lab {
            server: MockServer::start().await.unwrap(),
            home: tempfile::tempdir().unwrap(),
            repo: tempfile::tempdir().unwrap(),
        };
        std::fs::create_dir(lab.repo.path().join(".git")).unwrap();
        lab
    }

    fn root(&self) -> PathBuf {
        self.repo.path().canonicalize().unwrap()
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.root().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    fn options(&self, cwd: &Path) -> AgentOptions {
        AgentOptions {
            model: Some("test-model".into()),
            base_url: Some(self.server.base_url()),
            api_key: Some("test-key".into()),
            cwd: Some(cwd.to_path_buf()),
            ephemeral: true,
            codeloop_home: Some(self.home.path().to_path_buf()),
            request_max_retries: Some(1),
            stream_max_retries: Some(1),
            ..AgentOptions::default()
        }
    }

    /// Install a hooks option with one command per event (matcher `*`).
    fn with_hooks(&self, mut options: AgentOptions, hooks: Value) -> AgentOptions {
        options.hooks = serde_json::from_value(hooks).unwrap();
        options
    }

    /// A script in the home dir, made executable, for hook commands.
    fn script(&self, name: &str, body: &str) -> String {
        let path = self.home.path().join(name);
        std::fs::write(&path, format!("#!/bin/bash\n{body}\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path.display().to_string()
    }
}

fn hook(event: &str, matcher: &str, command: &str) -> Value {
    json!({event: [{"matcher": matcher, "hooks": [{"type": "command", "command": command, "timeout": 5}]}]})
}

/// The texts of the message items of a request, with their roles.
fn messages(input: &[Value]) -> Vec<(String, String)> {
    input
        .iter()
        .filter(|i| i["type"] == "message")
        .map(|i| {
            (
                i["role"].as_str().unwrap_or_default().to_string(),
                i["content"][0]["text"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect()
}

fn agents_md_text(input: &[Value]) -> Option<String> {
    messages(input)
        .into_iter()
        .find(|(_, t)| t.starts_with("# AGENTS.md instructions for "))
        .map(|(_, t)| t)
}

fn errors(events: &[ThreadEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            ThreadEvent::Error { message } => Some(message.clone()),
            _ => None,
        })
        .collect()
}

fn shell_call(call_id: &str, command: &str) -> Reply {
    responses::turn(
        &format!("resp_{call_id}"),
        [responses::function_call_item(
            call_id,
            "shell_command",
            &json!({ "command": command }).to_string(),
        )],
    )
}

async fn run(agent: &Agent, prompt: &str) -> Vec<ThreadEvent> {
    agent
        .start_thread()
        .run_streamed(prompt)
        .collect::<Vec<_>>()
        .await
}

fn completed(events: &[ThreadEvent]) -> bool {
    matches!(events.last(), Some(ThreadEvent::TurnCompleted { .. }))
}

// ------------------------------------------------------------------ AGENTS.md

#[tokio::test]
async fn agents_md_root_nested_override_and_global_in_codex_format() {
    let lab = Lab::new().await;
    std::fs::write(lab.home.path().join("AGENTS.md"), "global rules\n").unwrap();
    lab.write("AGENTS.md", "root rules");
    lab.write("a/AGENTS.md", "ignored: override wins");
    lab.write("a/AGENTS.override.md", "a override");
    lab.write("a/b/AGENTS.md", "b rules");
    let cwd = lab.root().join("a/b");
    lab.server.push(responses::text_turn("r1", "ok"));
    let agent = Agent::new(lab.options(&cwd)).unwrap();
    let thread = agent.start_thread();
    thread.run("hi").await.unwrap();
    let req = &lab.server.requests()[0];
    let text = agents_md_text(req.input()).expect("an AGENTS.md message");
    assert_eq!(
        text,
        format!(
            "# AGENTS.md instructions for {}\n\n<INSTRUCTIONS>\nglobal rules\n\n--- project-doc ---\n\n\
             root rules\n\na override\n\nb rules\n</INSTRUCTIONS>",
            cwd.display()
        )
    );
    // A user message, before the environment context.
    let msgs = messages(req.input());
    let at = msgs.iter().position(|(_, t)| *t == text).unwrap();
    assert_eq!(msgs[at].0, "user");
    assert!(msgs[at + 1].1.starts_with("<environment_context>"));

    // A second turn does not send it again.
    lab.server.push(responses::text_turn("r2", "ok"));
    thread.run("again").await.unwrap();
    let second = &lab.server.requests()[1];
    let count = messages(second.input())
        .iter()
        .filter(|(_, t)| t.starts_with("# AGENTS.md"))
        .count();
    assert_eq!(count, 1);
}

#[tokio::test]
async fn agents_md_limit_off_and_extra_files() {
    let lab = Lab::new().await;
    lab.write("AGENTS.md", "0123456789");
    lab.write("sub/AGENTS.md", "héllo world");
    let extra = lab.write("notes/extra.md", "extra file");
    let cwd = lab.root().join("sub");

    // 10 bytes of root, then 2 of sub: `h` plus half of `é` is cut to `h`.
    lab.server.push(responses::text_turn("r1", "ok"));
    let mut options = lab.options(&cwd);
    options.project_doc_max_bytes = Some(12);
    let events = run(&Agent::new(options).unwrap(), "hi").await;
    assert!(completed(&events), "{events:?}");
    let text = agents_md_text(lab.server.requests()[0].input()).unwrap();
    assert!(
        text.ends_with("<INSTRUCTIONS>\n0123456789\n\nh\n</INSTRUCTIONS>"),
        "{text}"
    );
    assert!(
        errors(&events).iter().any(|e| e.contains("cut to 1 bytes")),
        "{events:?}"
    );

    lab.server.push(responses::text_turn("r2", "ok"));
    let mut options = lab.options(&cwd);
    options.instruction_files = vec![extra];
    run(&Agent::new(options).unwrap(), "hi").await;
    let text = agents_md_text(lab.server.requests()[1].input()).unwrap();
    assert!(
        text.contains("héllo world\n\nextra file\n</INSTRUCTIONS>"),
        "{text}"
    );

    lab.server.push(responses::text_turn("r3", "ok"));
    let mut options = lab.options(&cwd);
    options.project_docs = Some(false);
    run(&Agent::new(options).unwrap(), "hi").await;
    assert_eq!(agents_md_text(lab.server.requests()[2].input()), None);
}

// --------------------------------------------------------------------- skills

#[tokio::test]
async fn skills_are_listed_and_a_malformed_one_is_warned_about() {
    let lab = Lab::new().await;
    let good = lab.write(
        ".agents/skills/fix-tests/SKILL.md",
        "---\nname: fix-tests\ndescription: \"Fix failing tests\"\n---\nRun the tests first.\n",
    );
    lab.write(".agents/skills/broken/SKILL.md", "no front matter here\n");
    std::fs::create_dir_all(lab.home.path().join("skills/deploy")).unwrap();
    std::fs::write(
        lab.home.path().join("skills/deploy/SKILL.md"),
        "---\nname: deploy\ndescription: Ship it\n---\nbody\n",
    )
    .unwrap();
    lab.server.push(responses::text_turn("r1", "ok"));
    let events = run(&Agent::new(lab.options(&lab.root())).unwrap(), "hi").await;
    assert!(completed(&events));
    let msgs = messages(lab.server.requests()[0].input());
    let (role, text) = msgs
        .iter()
        .find(|(_, t)| t.starts_with("<skills_instructions>"))
        .expect("a skills message");
    assert_eq!(role, "developer");
    assert!(
        text.contains(&format!(
            "- fix-tests: Fix failing tests (file: {})",
            good.display()
        )),
        "{text}"
    );
    assert!(text.contains("- deploy: Ship it (file: "), "{text}");
    assert!(
        !text.contains("Run the tests first"),
        "bodies are read on use"
    );
    let warnings = errors(&events);
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("broken/SKILL.md") && w.contains("no front matter")),
        "{warnings:?}"
    );

    lab.server.push(responses::text_turn("r2", "ok"));
    let mut options = lab.options(&lab.root());
    options.skills = Some(false);
    run(&Agent::new(options).unwrap(), "hi").await;
    assert!(!messages(lab.server.requests()[1].input())
        .iter()
        .any(|(_, t)| t.starts_with("<skills_instructions>")));
}

// --------------------------------------------------------------------- config

#[tokio::test]
async fn config_layers_user_then_trusted_project_then_explicit() {
    let lab = Lab::new().await;
    let root = lab.root();
    std::fs::write(
        lab.home.path().join("config.toml"),
        format!(
            "model = \"user-model\"\nsandbox_mode = \"workspace-write\"\n\
             developer_instructions = \"from user\"\n\n[projects.\"{}\"]\ntrust_level = \"trusted\"\n",
            root.display()
        ),
    )
    .unwrap();
    lab.write(
        ".codeloop/config.toml",
        "model = \"project-model\"\ndeveloper_instructions = \"from project\"\n",
    );
    lab.write(
        ".codeloop/../sub/.codeloop/config.toml",
        "model = \"deeper-model\"\n",
    );
    let cwd = root.join("sub");

    let mut options = lab.options(&cwd);
    options.model = None;
    let agent = Agent::new(options.clone()).unwrap();
    assert_eq!(agent.model(), "deeper-model");
    assert_eq!(
        agent.options().developer_instructions.as_deref(),
        Some("from project")
    );
    assert_eq!(agent.options().sandbox, Some(SandboxMode::WorkspaceWrite));

    // Explicit options win, even when they are the default value.
    let explicit = AgentOptions {
        model: Some("explicit-model".into()),
        sandbox: Some(SandboxMode::ReadOnly),
        ..options.clone()
    };
    let agent = Agent::new(explicit).unwrap();
    assert_eq!(agent.model(), "explicit-model");
    assert_eq!(agent.options().sandbox, Some(SandboxMode::ReadOnly));

    // config_overrides sit between the files and the explicit options.
    let mut overridden = options.clone();
    overridden
        .config_overrides
        .insert("model".into(), json!("override-model"));
    assert_eq!(Agent::new(overridden).unwrap().model(), "override-model");

    // Untrusted: the project's files are ignored with a warning.
    let untrusted = AgentOptions {
        trust_project: Some(false),
        ..options.clone()
    };
    let agent = Agent::new(untrusted).unwrap();
    assert_eq!(agent.model(), "user-model");
    assert!(
        agent
            .config_warnings()
            .iter()
            .any(|w| w.contains(".codeloop/config.toml ignored") && w.contains("not trusted")),
        "{:?}",
        agent.config_warnings()
    );

    // No config files at all.
    let bare = AgentOptions {
        load_config_files: Some(false),
        ..options
    };
    let agent = Agent::new(bare).unwrap();
    assert_eq!(agent.model(), "gpt-5.4");
    assert_eq!(agent.options().sandbox, Some(SandboxMode::ReadOnly));
}

#[tokio::test]
async fn an_untrusted_project_cannot_unsandbox_itself() {
    let lab = Lab::new().await;
    lab.write(
        ".codeloop/config.toml",
        "sandbox_mode = \"danger-full-access\"\n[projects.\"/\"]\ntrust_level = \"trusted\"\n",
    );
    let agent = Agent::new(lab.options(&lab.root())).unwrap();
    assert_eq!(agent.options().sandbox, Some(SandboxMode::ReadOnly));
}

#[tokio::test]
async fn a_bad_config_file_names_file_line_and_key() {
    let lab = Lab::new().await;
    let file = lab.home.path().join("config.toml");
    std::fs::write(
        &file,
        "model = \"m\"\n\n[sandbox_workspace_write]\nnetwork_access = \"yes\"\n",
    )
    .unwrap();
    let err = Agent::new(lab.options(&lab.root()))
        .err()
        .expect("an error");
    let Error::Config(message) = err else {
        panic!("not a config error: {err:?}")
    };
    assert!(
        message.starts_with(&format!(
            "`sandbox_workspace_write.network_access` in {}:4: ",
            file.display()
        )),
        "{message}"
    );
}

// ---------------------------------------------------------------------- hooks

#[tokio::test]
async fn pre_tool_use_exit_2_blocks_with_stderr_and_hooks_see_codex_input() {
    let lab = Lab::new().await;
    let log = lab.home.path().join("pre.json");
    let script = lab.script(
        "pre.sh",
        &format!(
            "cat > {}\necho \"no rm here ($CODELOOP_PROJECT_DIR)\" >&2\nexit 2",
            log.display()
        ),
    );
    lab.server.push(shell_call("c1", "rm -rf x"));
    lab.server.push(responses::text_turn("r2", "done"));
    let options = lab.with_hooks(
        lab.options(&lab.root()),
        hook("PreToolUse", "Bash", &script),
    );
    let events = run(&Agent::new(options).unwrap(), "go").await;
    assert!(completed(&events), "{events:?}");
    let out = output_for(lab.server.requests()[1].input(), "c1");
    assert_eq!(
        out,
        format!(
            "the PreToolUse hook blocked this call: no rm here ({})",
            lab.root().display()
        )
    );
    let input: Value = serde_json::from_str(&std::fs::read_to_string(&log).unwrap()).unwrap();
    assert_eq!(input["hook_event_name"], "PreToolUse");
    assert_eq!(input["tool_name"], "Bash");
    assert_eq!(input["tool_input"]["command"], "rm -rf x");
    assert_eq!(input["cwd"], lab.root().display().to_string());
    assert_eq!(input["model"], "test-model");
    assert!(input.get("transcript_path").is_some());
}

#[tokio::test]
async fn matchers_select_hooks_and_updated_input_chains() {
    let lab = Lab::new().await;
    let rewrite = lab.script(
        "rewrite.sh",
        r#"echo '{"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "allow", "updatedInput": {"command": "echo rewritten"}}}'"#,
    );
    let never = lab.script("never.sh", "echo never >&2; exit 2");
    let seen = lab.home.path().join("seen.json");
    let second = lab.script("second.sh", &format!("cat > {}", seen.display()));
    lab.server.push(shell_call("c1", "echo original"));
    lab.server.push(responses::text_turn("r2", "done"));
    let hooks = json!({"PreToolUse": [
        {"matcher": "apply_patch|view_image", "hooks": [{"type": "command", "command": never}]},
        {"matcher": "Ba.*", "hooks": [{"type": "command", "command": rewrite}]},
        {"matcher": "*", "hooks": [{"type": "command", "command": second}]},
    ]});
    let mut options = lab.with_hooks(lab.options(&lab.root()), hooks);
    options.sandbox = Some(SandboxMode::DangerFullAccess);
    let events = run(&Agent::new(options).unwrap(), "go").await;
    assert!(completed(&events), "{events:?}");
    let out = output_for(lab.server.requests()[1].input(), "c1");
    assert!(
        out.contains("rewritten") && !out.contains("original"),
        "{out}"
    );
    let input: Value = serde_json::from_str(&std::fs::read_to_string(&seen).unwrap()).unwrap();
    assert_eq!(input["tool_input"]["command"], "echo rewritten");
}

#[tokio::test]
async fn post_tool_use_context_and_session_start_and_prompt_context() {
    let lab = Lab::new().await;
    let post = lab.script(
        "post.sh",
        r#"echo '{"hookSpecificOutput": {"hookEventName": "PostToolUse", "additionalContext": "checked by post hook"}}'"#,
    );
    let start = lab.script("start.sh", "echo session context from hook");
    let prompt = lab.script("prompt.sh", "echo prompt context from hook");
    let mut hooks = hook("PostToolUse", "", &post);
    hooks["SessionStart"] = hook("SessionStart", "startup", &start)["SessionStart"].clone();
    hooks["UserPromptSubmit"] = hook("UserPromptSubmit", "", &prompt)["UserPromptSubmit"].clone();
    lab.server.push(shell_call("c1", "echo hi"));
    lab.server.push(responses::text_turn("r2", "done"));
    let mut options = lab.with_hooks(lab.options(&lab.root()), hooks);
    options.sandbox = Some(SandboxMode::DangerFullAccess);
    let events = run(&Agent::new(options).unwrap(), "go").await;
    assert!(completed(&events), "{events:?}");
    let req = &lab.server.requests()[1];
    assert!(output_for(req.input(), "c1").ends_with("\n\nchecked by post hook"));
    let msgs = messages(req.input());
    assert!(
        msgs.contains(&("developer".into(), "session context from hook".into())),
        "{msgs:?}"
    );
    let user_at = msgs.iter().position(|(_, t)| t == "go").unwrap();
    assert_eq!(
        msgs[user_at + 1],
        ("developer".into(), "prompt context from hook".into())
    );
}

#[tokio::test]
async fn user_prompt_submit_can_block() {
    let lab = Lab::new().await;
    let block = lab.script(
        "block.sh",
        r#"echo '{"decision": "block", "reason": "no secrets in prompts"}'"#,
    );
    let options = lab.with_hooks(
        lab.options(&lab.root()),
        hook("UserPromptSubmit", "", &block),
    );
    let err = Agent::new(options)
        .unwrap()
        .start_thread()
        .run("my password is hunter2")
        .await
        .expect_err("blocked");
    assert!(err.to_string().contains("no secrets in prompts"), "{err}");
    assert!(
        lab.server.requests().is_empty(),
        "the model was never asked"
    );
}

#[tokio::test]
async fn stop_hook_blocks_once_then_sees_stop_hook_active() {
    let lab = Lab::new().await;
    let stop = lab.script(
        "stop.sh",
        r#"input=$(cat)
if echo "$input" | grep -q '"stop_hook_active":true'; then exit 0; fi
echo "run the tests before stopping" >&2
exit 2"#,
    );
    lab.server.push(responses::text_turn("r1", "first"));
    lab.server.push(responses::text_turn("r2", "second"));
    let options = lab.with_hooks(lab.options(&lab.root()), hook("Stop", "", &stop));
    let result = Agent::new(options)
        .unwrap()
        .start_thread()
        .run("go")
        .await
        .unwrap();
    assert_eq!(result.final_response, "second");
    let requests = lab.server.requests();
    assert_eq!(requests.len(), 2);
    let msgs = messages(requests[1].input());
    assert_eq!(
        msgs.last().unwrap(),
        &(
            "user".to_string(),
            "run the tests before stopping".to_string()
        )
    );
}

#[tokio::test]
async fn failing_hooks_warn_and_the_turn_goes_on() {
    let lab = Lab::new().await;
    let slow = lab.script("slow.sh", "sleep 30");
    let bad = lab.script("bad.sh", "echo '{not json'");
    let hooks = json!({"PreToolUse": [{"matcher": "", "hooks": [
        {"type": "command", "command": slow, "timeout": 1},
        {"type": "command", "command": bad},
    ]}]});
    lab.server.push(shell_call("c1", "echo still-ran"));
    lab.server.push(responses::text_turn("r2", "done"));
    let mut options = lab.with_hooks(lab.options(&lab.root()), hooks);
    options.sandbox = Some(SandboxMode::DangerFullAccess);
    let started = std::time::Instant::now();
    let events = run(&Agent::new(options).unwrap(), "go").await;
    assert!(completed(&events), "{events:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    let warnings = errors(&events);
    assert!(
        warnings
            .iter()
            .any(|w| w.contains(&slow) && w.contains("timed out after 1s")),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains(&bad) && w.contains("invalid JSON")),
        "{warnings:?}"
    );
    assert!(output_for(lab.server.requests()[1].input(), "c1").contains("still-ran"));
}

/// Records the hooks it is asked, by callback id (`host` for `Host::hook`).
#[derive(Default)]
struct Recorder {
    calls: Mutex<Vec<(String, Value)>>,
}

#[async_trait]
impl Host for Recorder {
    async fn hook(&self, event: HookEvent) -> codeloop_core::Result<HookOutcome> {
        if let HookEvent::PreToolUse { tool_input, .. } = &event {
            self.calls
                .lock()
                .unwrap()
                .push(("host".into(), tool_input.clone()));
        }
        Ok(HookOutcome::default())
    }

    async fn hook_callback(
        &self,
        id: &str,
        event: HookEvent,
    ) -> codeloop_core::Result<HookOutcome> {
        let HookEvent::PreToolUse { tool_input, .. } = &event else {
            return Ok(HookOutcome::default());
        };
        self.calls
            .lock()
            .unwrap()
            .push((id.to_string(), tool_input.clone()));
        Ok(match id {
            "rewrite" => HookOutcome {
                updated_input: Some(json!({"command": "echo from-callback"})),
                ..HookOutcome::default()
            },
            _ => HookOutcome {
                decision: HookDecision::Deny,
                reason: Some("callback says no".into()),
                ..HookOutcome::default()
            },
        })
    }
}

#[tokio::test]
async fn callbacks_and_commands_form_one_chain_and_a_deny_stops_it() {
    let lab = Lab::new().await;
    let seen = lab.home.path().join("cmd.json");
    let cmd = lab.script("cmd.sh", &format!("cat > {}", seen.display()));
    let hooks = json!({"PreToolUse": [{"matcher": "Bash", "hooks": [
        {"type": "callback", "id": "rewrite"},
        {"type": "command", "command": cmd},
        {"type": "callback", "id": "deny"},
    ]}]});
    lab.server.push(shell_call("c1", "echo original"));
    lab.server.push(responses::text_turn("r2", "done"));
    let options = lab.with_hooks(lab.options(&lab.root()), hooks);
    let host = Arc::new(Recorder::default());
    let agent = Agent::with_host(options, host.clone()).unwrap();
    let events = run(&agent, "go").await;
    assert!(completed(&events), "{events:?}");
    // The command saw the callback's rewrite; the deny stopped the chain
    // before the host's own hook.
    let input: Value = serde_json::from_str(&std::fs::read_to_string(&seen).unwrap()).unwrap();
    assert_eq!(input["tool_input"]["command"], "echo from-callback");
    let calls = host.calls.lock().unwrap().clone();
    let ids: Vec<&str> = calls.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, ["rewrite", "deny"]);
    assert_eq!(calls[1].1["command"], "echo from-callback");
    assert_eq!(
        output_for(lab.server.requests()[1].input(), "c1"),
        "the PreToolUse hook blocked this call: callback says no"
    );
}

#[tokio::test]
async fn hooks_files_load_for_trusted_projects_only() {
    let lab = Lab::new().await;
    let script = lab.script("deny.sh", "echo project hook >&2; exit 2");
    lab.write(
        ".codeloop/hooks.json",
        &json!({"hooks": hook("PreToolUse", "", &script)}).to_string(),
    );
    for (trust, blocked) in [(false, false), (true, true)] {
        lab.server.push(shell_call("c1", "echo ran"));
        lab.server.push(responses::text_turn("r2", "done"));
        let mut options = lab.options(&lab.root());
        options.trust_project = Some(trust);
        options.sandbox = Some(SandboxMode::DangerFullAccess);
        let events = run(&Agent::new(options).unwrap(), "go").await;
        assert!(completed(&events), "{events:?}");
        let requests = lab.server.requests();
        let out = output_for(requests[requests.len() - 1].input(), "c1");
        assert_eq!(
            out.contains("project hook"),
            blocked,
            "trust={trust}: {out}"
        );
        if !trust {
            assert!(errors(&events)
                .iter()
                .any(|e| e.contains("hooks.json ignored")));
        }
    }
}

#[tokio::test]
async fn apply_patch_hooks_match_edit_and_can_rewrite_the_patch() {
    let lab = Lab::new().await;
    let seen = lab.home.path().join("patch.json");
    let rewritten = "*** Begin Patch\n*** Add File: hooked.txt\n+from the hook\n*** End Patch\n";
    let script = lab.script(
        "patch.sh",
        &format!(
            "cat > {}\necho '{}'",
            seen.display(),
            json!({"hookSpecificOutput": {"hookEventName": "PreToolUse",
                "updatedInput": {"command": rewritten}}})
        ),
    );
    let original = "*** Begin Patch\n*** Add File: model.txt\n+from the model\n*** End Patch\n";
    lab.server.push(responses::custom_tool_call_turn(
        "r1",
        "c1",
        "apply_patch",
        original,
    ));
    lab.server.push(responses::text_turn("r2", "done"));
    let mut options = lab.with_hooks(
        lab.options(&lab.root()),
        hook("PreToolUse", "Edit|Write", &script),
    );
    options.sandbox = Some(SandboxMode::DangerFullAccess);
    let events = run(&Agent::new(options).unwrap(), "go").await;
    assert!(completed(&events), "{events:?}");
    let input: Value = serde_json::from_str(&std::fs::read_to_string(&seen).unwrap()).unwrap();
    assert_eq!(input["tool_name"], "apply_patch");
    assert_eq!(input["tool_input"]["command"], original);
    assert_eq!(
        std::fs::read_to_string(lab.root().join("hooked.txt")).unwrap(),
        "from the hook\n"
    );
    assert!(!lab.root().join("model.txt").exists());
}

#[tokio::test]
async fn hooks_in_user_config_toml_and_hooks_json_shapes() {
    let lab = Lab::new().await;
    let script = lab.script("toml-hook.sh", "echo from toml hook >&2; exit 2");
    std::fs::write(
        lab.home.path().join("config.toml"),
        format!(
            "[[hooks.PreToolUse]]\nmatcher = \"Bash\"\n\n[[hooks.PreToolUse.hooks]]\n\
             type = \"command\"\ncommand = \"{script}\"\ntimeout = 5\n\n\
             [[hooks.Notification]]\nmatcher = \"\"\nhooks = []\n"
        ),
    )
    .unwrap();
    lab.server.push(shell_call("c1", "echo hi"));
    lab.server.push(responses::text_turn("r2", "done"));
    let agent = Agent::new(lab.options(&lab.root())).unwrap();
    assert!(
        agent
            .config_warnings()
            .iter()
            .any(|w| w.contains("`hooks.Notification`") && w.contains("ignored")),
        "{:?}",
        agent.config_warnings()
    );
    let events = run(&agent, "go").await;
    assert!(completed(&events), "{events:?}");
    assert_eq!(
        output_for(lab.server.requests()[1].input(), "c1"),
        "the PreToolUse hook blocked this call: from toml hook"
    );

    // A broken hooks.json is an error naming the file and the line.
    let file = lab.home.path().join("hooks.json");
    std::fs::write(&file, "{\"hooks\": {\n  \"Stop\": [{\"matcher\": 3}]\n}}\n").unwrap();
    let err = Agent::new(lab.options(&lab.root()))
        .err()
        .expect("an error");
    let message = err.to_string();
    assert!(
        message.contains(&format!("{}:2: bad hooks file", file.display())),
        "{message}"
    );
}

// ------------------------------------------- untrusted files and hook limits

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

#[tokio::test]
async fn agents_md_and_skill_symlinks_out_of_their_root_are_not_sent() {
    let lab = Lab::new().await;
    let outside = tempfile::tempdir().unwrap();
    let marker = "MARKER-7f3e-outside-secret";
    let secret = outside.path().join("secret.md");
    std::fs::write(
        &secret,
        format!("---\nname: {marker}\ndescription: {marker}\n---\n{marker}\n"),
    )
    .unwrap();
    let root = lab.root();
    std::os::unix::fs::symlink(&secret, root.join("AGENTS.md")).unwrap();
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::os::unix::fs::symlink("/proc/self/environ", root.join("sub/AGENTS.md")).unwrap();
    // A symlink inside the repository is fine.
    lab.write("docs/rules.md", "linked rules");
    std::fs::create_dir_all(root.join("sub/deeper")).unwrap();
    std::os::unix::fs::symlink(
        root.join("docs/rules.md"),
        root.join("sub/deeper/AGENTS.md"),
    )
    .unwrap();
    // The global file may not leave the home either.
    std::os::unix::fs::symlink(&secret, lab.home.path().join("AGENTS.md")).unwrap();
    // Nor a skill its root.
    std::fs::create_dir_all(root.join(".agents/skills/evil")).unwrap();
    std::os::unix::fs::symlink(&secret, root.join(".agents/skills/evil/SKILL.md")).unwrap();
    std::os::unix::fs::symlink(outside.path(), root.join(".agents/skills/elsewhere")).unwrap();

    let cwd = root.join("sub/deeper");
    lab.server.push(responses::text_turn("r1", "ok"));
    let events = run(&Agent::new(lab.options(&cwd)).unwrap(), "hi").await;
    assert!(completed(&events), "{events:?}");
    let req = &lab.server.requests()[0];
    let body = req.body.to_string();
    assert!(!body.contains(marker), "the outside file was sent: {body}");
    assert!(!body.contains("PATH=/"), "the environment was sent");
    let text = agents_md_text(req.input()).expect("an AGENTS.md message");
    assert!(
        text.ends_with("<INSTRUCTIONS>\nlinked rules\n</INSTRUCTIONS>"),
        "{text}"
    );
    let warnings = errors(&events);
    let warned = |name: &str, why: &str| {
        assert!(
            warnings.iter().any(|w| w.contains(name) && w.contains(why)),
            "no warning naming {name} ({why}): {warnings:?}"
        )
    };
    warned(&root.join("AGENTS.md").display().to_string(), "outside");
    warned(&root.join("sub/AGENTS.md").display().to_string(), "outside");
    warned(
        &lab.home.path().join("AGENTS.md").display().to_string(),
        "outside",
    );
    warned("skills/evil/SKILL.md", "outside");
    warned("skills/elsewhere", "outside");

    // Named explicitly, a file may be anywhere, but never in /proc.
    lab.server.push(responses::text_turn("r2", "ok"));
    let mut options = lab.options(&cwd);
    options.instruction_files = vec![PathBuf::from("/proc/self/environ")];
    let events = run(&Agent::new(options).unwrap(), "hi").await;
    assert!(completed(&events), "{events:?}");
    assert!(!lab.server.requests()[1].body.to_string().contains("PATH=/"));
    assert!(
        errors(&events)
            .iter()
            .any(|w| w.contains("/proc/self/environ") && w.contains("kernel file system")),
        "{events:?}"
    );
}

#[tokio::test]
async fn a_fifo_agents_md_does_not_hang_and_a_huge_one_is_cut() {
    let lab = Lab::new().await;
    let root = lab.root();
    mkfifo(&root.join("AGENTS.md"));
    std::fs::create_dir_all(root.join(".agents/skills/fifo")).unwrap();
    mkfifo(&root.join(".agents/skills/fifo/SKILL.md"));
    std::fs::create_dir_all(root.join("sub")).unwrap();
    let huge = std::fs::File::create(root.join("sub/AGENTS.md")).unwrap();
    std::io::Write::write_all(
        &mut std::io::BufWriter::new(huge),
        &vec![b'x'; 10 * 1024 * 1024],
    )
    .unwrap();
    lab.server.push(responses::text_turn("r1", "ok"));
    let agent = Agent::new(lab.options(&root.join("sub"))).unwrap();
    let events = tokio::time::timeout(std::time::Duration::from_secs(30), run(&agent, "hi"))
        .await
        .expect("reading a FIFO hung");
    assert!(completed(&events), "{events:?}");
    let warnings = errors(&events);
    assert!(
        warnings.iter().any(
            |w| w.contains(&root.join("AGENTS.md").display().to_string()) && w.contains("a FIFO")
        ),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("fifo/SKILL.md") && w.contains("a FIFO")),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("sub/AGENTS.md") && w.contains("cut to 32768 bytes")),
        "{warnings:?}"
    );
    let text = agents_md_text(lab.server.requests()[0].input()).unwrap();
    let body = text
        .split_once("<INSTRUCTIONS>\n")
        .and_then(|(_, rest)| rest.strip_suffix("\n</INSTRUCTIONS>"))
        .unwrap();
    assert_eq!(body.len(), 32 * 1024);
    assert!(body.bytes().all(|b| b == b'x'));
}

#[tokio::test]
async fn hook_timeouts_cover_writing_the_input() {
    let lab = Lab::new().await;
    // Never reads its input (a 1 MB prompt fills the pipe) and never exits.
    let deaf = lab.script("deaf.sh", "sleep 30");
    // Writes more than a pipe holds before it reads its input.
    let chatty = lab.script(
        "chatty.sh",
        "head -c 100000 /dev/zero | tr '\\0' a\ncat > /dev/null",
    );
    let hooks = json!({"UserPromptSubmit": [{"matcher": "", "hooks": [
        {"type": "command", "command": deaf, "timeout": 1},
        {"type": "command", "command": chatty, "timeout": 20},
    ]}]});
    lab.server.push(responses::text_turn("r1", "done"));
    let options = lab.with_hooks(lab.options(&lab.root()), hooks);
    let prompt = "p".repeat(1024 * 1024);
    let started = std::time::Instant::now();
    let events = run(&Agent::new(options).unwrap(), &prompt).await;
    assert!(completed(&events), "{:?}", errors(&events));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let warnings = errors(&events);
    assert!(
        warnings
            .iter()
            .any(|w| w.contains(&deaf) && w.contains("timed out after 1s")),
        "{warnings:?}"
    );
    assert!(
        !warnings.iter().any(|w| w.contains(&chatty)),
        "{warnings:?}"
    );
    let msgs = messages(lab.server.requests()[0].input());
    assert!(
        msgs.iter()
            .any(|(role, t)| role == "developer" && *t == "a".repeat(100_000)),
        "the chatty hook's context is missing"
    );
}

#[tokio::test]
async fn explicit_network_access_false_beats_the_config() {
    let lab = Lab::new().await;
    std::fs::write(
        lab.home.path().join("config.toml"),
        "sandbox_mode = \"workspace-write\"\n\n[sandbox_workspace_write]\nnetwork_access = true\n",
    )
    .unwrap();
    let from_config = Agent::new(lab.options(&lab.root())).unwrap();
    assert_eq!(from_config.options().network_access, Some(true));
    let mut options = lab.options(&lab.root());
    options.network_access = Some(false);
    let agent = Agent::new(options).unwrap();
    assert_eq!(agent.options().network_access, Some(false));
    lab.server.push(responses::text_turn("r1", "ok"));
    let events = run(&agent, "hi").await;
    assert!(completed(&events), "{events:?}");
    let context = messages(lab.server.requests()[0].input())
        .into_iter()
        .find(|(_, t)| t.starts_with("<environment_context>"))
        .unwrap()
        .1;
    assert!(
        context.contains("<network_access>restricted</network_access>"),
        "{context}"
    );
}
