//! Configuration layers, lowest first: the user's `$CODELOOP_HOME/config.toml`
//! (and `hooks.json`), then, for a trusted project only, `.codeloop/config.toml`
//! (and `.codeloop/hooks.json`) in each directory from the project root down
//! to cwd (deeper wins), then `config_overrides`, then the explicit options.
//! Every front builds its agent through [`resolve_options`].

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{codeloop_home, ConfigToml};
use crate::error::{Error, Result};
use crate::protocol::{AgentOptions, HooksConfig};

/// Options with every layer applied, and what was learnt on the way.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The options to build the agent from; `cwd`, `sandbox`,
    /// `network_access` and `approval_policy` are set, and `hooks` holds
    /// every layer's hooks in order (user, project, explicit).
    pub options: AgentOptions,
    /// Non-fatal findings (unused keys, an untrusted project's config
    /// ignored), sent as `error` events when a thread starts.
    pub warnings: Vec<String>,
    /// The nearest ancestor of cwd holding `.git`, else cwd.
    pub project_root: PathBuf,
    /// Whether the project's own config and hooks were loaded.
    pub trusted: bool,
    /// The codeloop home in use.
    pub home: Option<PathBuf>,
    /// Whether the explicit options or a config layer chose the approval
    /// policy (false: it is core's default), for fronts with another default
    /// (`codeloop mcp-server` defaults to `on-request`, as `codex mcp-server`).
    pub approval_policy_chosen: bool,
}

/// The project root of `cwd`: the nearest ancestor (or cwd itself) that holds
/// `.git` (a directory, or a file as in worktrees); cwd when none does.
pub fn find_project_root(cwd: &Path) -> PathBuf {
    cwd.ancestors()
        .find(|d| d.join(".git").exists())
        .unwrap_or(cwd)
        .to_path_buf()
}

/// The directories from `root` down to `cwd`, root first.
pub(crate) fn root_to_cwd(root: &Path, cwd: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = cwd
        .ancestors()
        .take_while(|d| d.starts_with(root))
        .map(Path::to_path_buf)
        .collect();
    dirs.reverse();
    dirs
}

fn absolute_cwd(options: &AgentOptions) -> Result<PathBuf> {
    let here =
        || std::env::current_dir().map_err(|e| Error::io("reading the current directory", e));
    let cwd = match &options.cwd {
        Some(c) if c.is_absolute() => c.clone(),
        Some(c) => here()?.join(c),
        None => here()?,
    };
    if !cwd.is_dir() {
        return Err(Error::Config(format!(
            "cwd {} is not a directory",
            cwd.display()
        )));
    }
    Ok(cwd.canonicalize().unwrap_or(cwd))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HooksFile {
    #[serde(default)]
    hooks: HooksConfig,
}

fn read_hooks_file(path: &Path, warnings: &mut Vec<String>) -> Result<Option<HooksConfig>> {
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    let file: HooksFile = serde_json::from_str(&text).map_err(|e| {
        Error::Config(format!(
            "{}:{}: bad hooks file: {e}",
            path.display(),
            e.line()
        ))
    })?;
    super::hooks::validate(&file.hooks, &path.display().to_string(), warnings)?;
    Ok(Some(file.hooks))
}

fn append_hooks(into: &mut HooksConfig, more: HooksConfig) {
    for (event, groups) in more {
        into.entry(event).or_default().extend(groups);
    }
}

/// Read one config file as a table (validated on its own, so an error names
/// this file, the line and the key), with its hooks taken out.
fn read_layer(
    path: &Path,
    warnings: &mut Vec<String>,
) -> Result<Option<(toml::Table, ConfigToml)>> {
    if !path.is_file() {
        return Ok(None);
    }
    let config = ConfigToml::load(Some(path), &[])?;
    if let Some(hooks) = &config.hooks {
        super::hooks::validate(hooks, &format!("[hooks] in {}", path.display()), warnings)?;
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    let mut table: toml::Table = toml::from_str(&text)
        .map_err(|e| Error::Config(format!("{} is not valid TOML: {e}", path.display())))?;
    table.remove("hooks");
    Ok(Some((table, config)))
}

/// Deep merge: tables merge key by key, anything else in `over` replaces.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

fn is_trusted_in(user: &ConfigToml, dirs: &[&Path]) -> bool {
    user.projects.iter().any(|(path, project)| {
        project.trust_level.as_deref() == Some("trusted") && {
            let p = PathBuf::from(path);
            let p = p.canonicalize().unwrap_or(p);
            dirs.iter().any(|d| *d == p)
        }
    })
}

/// Apply the configuration layers under `explicit` (see the module docs).
pub fn resolve_options(explicit: AgentOptions) -> Result<Resolved> {
    let cwd = absolute_cwd(&explicit)?;
    let home = explicit.codeloop_home.clone().or_else(codeloop_home);
    let project_root = find_project_root(&cwd);
    let overrides = explicit
        .config_overrides
        .iter()
        .map(|(key, value)| {
            toml::Value::try_from(value)
                .map(|v| (key.clone(), v))
                .map_err(|e| Error::Config(format!("config_overrides.{key}: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;

    let mut warnings = Vec::new();
    let mut table = toml::Table::new();
    let mut hooks = HooksConfig::new();
    let mut trusted = explicit.trust_project.unwrap_or(false);
    if explicit.load_config_files.unwrap_or(true) {
        let user_file = home.as_ref().map(|h| h.join("config.toml"));
        let user_layer = match &user_file {
            Some(file) => read_layer(file, &mut warnings)?,
            None => None,
        };
        if let Some((user_table, user)) = user_layer {
            if explicit.trust_project.is_none() {
                trusted = is_trusted_in(&user, &[&project_root, &cwd]);
            }
            merge(&mut table, user_table);
            append_hooks(&mut hooks, user.hooks.unwrap_or_default());
        }
        let user_hooks = match &home {
            Some(h) => read_hooks_file(&h.join("hooks.json"), &mut warnings)?,
            None => None,
        };
        if let Some(user_hooks) = user_hooks {
            append_hooks(&mut hooks, user_hooks);
        }
        for dir in root_to_cwd(&project_root, &cwd) {
            let dot = dir.join(".codeloop");
            // The home itself is no project layer (a home under the project).
            if home.as_deref() == Some(dot.as_path()) {
                continue;
            }
            let files = [dot.join("config.toml"), dot.join("hooks.json")];
            if !trusted {
                for file in files.iter().filter(|f| f.is_file()) {
                    warnings.push(format!(
                        "{} ignored: the project {} is not trusted (trust it with \
                         [projects.\"{}\"] trust_level = \"trusted\" in the user config, \
                         or the trust_project option)",
                        file.display(),
                        project_root.display(),
                        project_root.display()
                    ));
                }
                continue;
            }
            if let Some((mut project_table, project)) = read_layer(&files[0], &mut warnings)? {
                // A repository cannot vouch for itself.
                if project_table.remove("projects").is_some() {
                    warnings.push(format!(
                        "{}: `projects` is read only from the user config; ignored",
                        files[0].display()
                    ));
                }
                merge(&mut table, project_table);
                append_hooks(&mut hooks, project.hooks.unwrap_or_default());
            }
            if let Some(project_hooks) = read_hooks_file(&files[1], &mut warnings)? {
                append_hooks(&mut hooks, project_hooks);
            }
        }
    }
    let config = ConfigToml::from_table(table, None, "", &overrides)?;
    // Hooks set by overrides (`hooks.Stop=[...]`) come after the files'.
    if let Some(extra) = &config.hooks {
        super::hooks::validate(extra, "config_overrides", &mut warnings)?;
        if overrides.iter().any(|(k, _)| k.starts_with("hooks")) {
            append_hooks(&mut hooks, extra.clone());
        }
    }
    super::hooks::validate(&explicit.hooks, "the hooks option", &mut warnings)?;
    let mut options = explicit;
    warnings.extend(config.apply(&mut options)?);
    append_hooks(&mut hooks, std::mem::take(&mut options.hooks));
    options.hooks = hooks;
    options.cwd = Some(cwd);
    options.sandbox = Some(options.sandbox.unwrap_or_default());
    options.network_access = Some(options.network_access.unwrap_or(false));
    let approval_policy_chosen = options.approval_policy.is_some();
    options.approval_policy = Some(options.approval_policy.unwrap_or_default());
    Ok(Resolved {
        options,
        warnings,
        project_root,
        trusted,
        home,
        approval_policy_chosen,
    })
}

/// What a thread is told about its project when it starts.
#[derive(Debug, Default)]
pub(crate) struct ProjectContext {
    /// The AGENTS.md user message.
    pub agents_md: Option<String>,
    /// The skills developer message.
    pub skills: Option<String>,
    pub warnings: Vec<String>,
}

/// Read AGENTS.md files and skills for a thread of an agent with these
/// (resolved) options. Project text loads whether or not the project is
/// trusted: it is only text for the model.
pub(crate) fn project_context(
    options: &AgentOptions,
    home: Option<&Path>,
    project_root: &Path,
    cwd: &Path,
) -> ProjectContext {
    let mut context = ProjectContext::default();
    if options.project_docs.unwrap_or(true) {
        let max = options
            .project_doc_max_bytes
            .unwrap_or(super::agents_md::DEFAULT_PROJECT_DOC_MAX_BYTES);
        context.agents_md = super::agents_md::user_instructions(
            home,
            project_root,
            cwd,
            &options.instruction_files,
            max,
            &mut context.warnings,
        )
        .map(|text| super::agents_md::instructions_message(cwd, &text));
    }
    if options.skills.unwrap_or(true) {
        // `~/.agents/skills` is the user's; a given home means an isolated agent.
        let user_home = match options.codeloop_home {
            Some(_) => None,
            None => std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .map(PathBuf::from),
        };
        let roots = super::skills::skill_roots(
            project_root,
            cwd,
            user_home.as_deref(),
            home,
            &options.skill_roots,
        );
        let skills = super::skills::discover(&roots, &mut context.warnings);
        if !skills.is_empty() {
            context.skills = Some(super::skills::skills_message(&skills));
        }
    }
    context
}
