//! The environment tool subprocesses start with.
//!
//! The model decides what commands run, so anything in the agent's own
//! environment is one `env` away from the model (and from there from the
//! transcript and the provider). API keys are exactly what an embedding
//! program has in its environment, so by default every variable whose name
//! looks like a credential is removed. The shape follows Codex's
//! `[shell_environment_policy]` (`inherit`, `ignore_default_excludes`,
//! `exclude`, `include_only`, `set`), with one difference the design asks
//! for: Codex keeps everything unless told otherwise, codeloop scrubs unless
//! `ignore_default_excludes = true`.

use std::collections::HashMap;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use crate::error::{Error, Result};
pub use crate::protocol::{EnvInherit, EnvPolicy};

/// Parts of a variable name that mark it as a credential; matched anywhere in
/// the name, ignoring case (`OPENAI_API_KEY`, `GITHUB_TOKEN`, `db_password`).
pub const DEFAULT_EXCLUDED_NAME_PARTS: &[&str] = &["KEY", "TOKEN", "SECRET", "PASSWORD"];

/// What `inherit = "core"` keeps: enough for programs to find each other,
/// the home directory and a temp dir (Codex's list).
pub const CORE_VARS: &[&str] = &[
    "HOME", "LOGNAME", "PATH", "SHELL", "USER", "USERNAME", "TMPDIR", "TEMP", "TMP",
];

impl EnvPolicy {
    /// Check the globs, so a bad pattern is reported when options are read
    /// rather than on the first command.
    pub fn validate(&self) -> Result<()> {
        compile("exclude", &self.exclude)?;
        compile("include_only", &self.include_only)?;
        Ok(())
    }

    /// The environment for a tool subprocess, built from `source` (normally
    /// [`process_env`]; tests pass their own). Fails only on an invalid glob.
    pub fn build<I>(&self, source: I) -> Result<HashMap<String, String>>
    where
        I: IntoIterator<Item = (String, String)>,
    {
        let exclude = compile("exclude", &self.exclude)?;
        let include_only = compile("include_only", &self.include_only)?;
        let mut env: HashMap<String, String> = source
            .into_iter()
            .filter(|(name, _)| match self.inherit {
                EnvInherit::All => true,
                EnvInherit::Core => CORE_VARS.contains(&name.as_str()),
                EnvInherit::None => false,
            })
            .collect();
        if !self.ignore_default_excludes {
            env.retain(|name, _| !is_default_excluded(name));
        }
        if let Some(exclude) = &exclude {
            env.retain(|name, _| !exclude.is_match(name));
        }
        for (name, value) in &self.set {
            env.insert(name.clone(), value.clone());
        }
        if let Some(include_only) = &include_only {
            env.retain(|name, _| include_only.is_match(name));
        }
        Ok(env)
    }

    /// [`EnvPolicy::build`] from this process's environment.
    pub fn build_from_process(&self) -> Result<HashMap<String, String>> {
        self.build(process_env())
    }
}

/// Whether the default scrub removes a variable of this name.
pub fn is_default_excluded(name: &str) -> bool {
    let upper = name.to_uppercase();
    DEFAULT_EXCLUDED_NAME_PARTS
        .iter()
        .any(|part| upper.contains(part))
}

/// The default scrub applied to `source`: everything but credentials. Unlike
/// [`EnvPolicy::build`] it cannot fail, for callers with no policy at hand.
pub fn scrubbed<I>(source: I) -> HashMap<String, String>
where
    I: IntoIterator<Item = (String, String)>,
{
    source
        .into_iter()
        .filter(|(name, _)| !is_default_excluded(name))
        .collect()
}

/// This process's environment. Variables whose name or value is not UTF-8
/// are left out: the command runner takes `String`s, and a lossy conversion
/// would hand the child a corrupted value rather than none.
pub fn process_env() -> impl Iterator<Item = (String, String)> {
    std::env::vars_os()
        .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
}

/// `None` for an empty list (so `include_only = []` keeps everything).
fn compile(field: &str, patterns: &[String]) -> Result<Option<GlobSet>> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut set = GlobSetBuilder::new();
    for pattern in patterns {
        let glob = GlobBuilder::new(pattern)
            .case_insensitive(true)
            .build()
            .map_err(|e| {
                Error::Config(format!(
                    "shell_environment_policy.{field}: invalid pattern `{pattern}`: {e}"
                ))
            })?;
        set.add(glob);
    }
    let set = set.build().map_err(|e| {
        Error::Config(format!(
            "shell_environment_policy.{field}: invalid patterns: {e}"
        ))
    })?;
    Ok(Some(set))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn source() -> Vec<(String, String)> {
        [
            ("PATH", "/usr/bin"),
            ("HOME", "/home/u"),
            ("LANG", "C.UTF-8"),
            ("OPENAI_API_KEY", "sk-1"),
            ("CODEX_API_KEY", "sk-2"),
            ("GITHUB_TOKEN", "ghp"),
            ("AWS_SECRET_ACCESS_KEY", "aws"),
            ("db_password", "pw"),
            ("npm_config_cache", "/c"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    fn names(env: &HashMap<String, String>) -> Vec<&str> {
        let mut names: Vec<&str> = env.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    #[test]
    fn default_scrubs_credentials_and_keeps_the_rest() -> Result<()> {
        let env = EnvPolicy::default().build(source())?;
        assert_eq!(
            names(&env),
            ["HOME", "LANG", "PATH", "npm_config_cache"],
            "{env:?}"
        );
        assert_eq!(env, scrubbed(source()));
        assert_eq!(env.get("PATH").map(String::as_str), Some("/usr/bin"));
        Ok(())
    }

    #[test]
    fn ignore_default_excludes_keeps_everything() -> Result<()> {
        let policy = EnvPolicy {
            ignore_default_excludes: true,
            ..EnvPolicy::default()
        };
        assert_eq!(policy.build(source())?.len(), source().len());
        Ok(())
    }

    #[test]
    fn inherit_core_and_none() -> Result<()> {
        let core = EnvPolicy {
            inherit: EnvInherit::Core,
            ..EnvPolicy::default()
        };
        assert_eq!(names(&core.build(source())?), ["HOME", "PATH"]);
        let none = EnvPolicy {
            inherit: EnvInherit::None,
            set: BTreeMap::from([("ONLY".to_string(), "1".to_string())]),
            ..EnvPolicy::default()
        };
        assert_eq!(names(&none.build(source())?), ["ONLY"]);
        Ok(())
    }

    #[test]
    fn exclude_set_and_include_only_apply_in_order() -> Result<()> {
        let policy = EnvPolicy {
            exclude: vec!["npm_*".into(), "lang".into()],
            // `set` may put back a credential on purpose; the scrub ran before it.
            set: BTreeMap::from([
                ("MY_TOKEN".to_string(), "chosen".to_string()),
                ("EXTRA".to_string(), "x".to_string()),
            ]),
            include_only: vec!["P?TH".into(), "*token".into(), "home".into()],
            ..EnvPolicy::default()
        };
        let env = policy.build(source())?;
        assert_eq!(names(&env), ["HOME", "MY_TOKEN", "PATH"], "{env:?}");
        assert_eq!(env.get("MY_TOKEN").map(String::as_str), Some("chosen"));
        Ok(())
    }

    #[test]
    fn bad_glob_is_a_config_error() {
        let policy = EnvPolicy {
            exclude: vec!["[oops".into()],
            ..EnvPolicy::default()
        };
        let err = policy.validate().err().map(|e| e.to_string());
        assert!(
            err.as_deref()
                .is_some_and(|e| e.contains("exclude") && e.contains("[oops")),
            "{err:?}"
        );
        assert!(policy.build(source()).is_err());
    }

    #[test]
    fn deserializes_codex_shape() -> std::result::Result<(), toml::de::Error> {
        let policy: EnvPolicy = toml::from_str(
            "inherit = \"core\"\nignore_default_excludes = true\nexclude = [\"A*\"]\n\
             include_only = [\"B\"]\n[set]\nC = \"d\"\n",
        )?;
        assert_eq!(
            policy,
            EnvPolicy {
                inherit: EnvInherit::Core,
                ignore_default_excludes: true,
                exclude: vec!["A*".into()],
                include_only: vec!["B".into()],
                set: BTreeMap::from([("C".to_string(), "d".to_string())]),
            }
        );
        let empty: EnvPolicy = toml::from_str("")?;
        assert_eq!(empty, EnvPolicy::default());
        Ok(())
    }
}
