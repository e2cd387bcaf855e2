//! Choosing an agent: built-in backends, configured commands and `--agent-cmd`.

use std::path::{Path, PathBuf};

use crate::config::file::{AgentConfig, Config};

use super::stream::OutputFormat;

/// Which kind of program an agent is; decides prompt framing and stream parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AgentKind {
    Shell,
    Command,
    Claude,
    Codex,
    Gemini,
}

/// A fully resolved agent: what to run and how to read it.
#[derive(Debug, Clone)]
pub(crate) struct AgentSpec {
    /// The name recorded in run-info.yaml (`shell`, `claude`, a configured name...).
    pub(crate) name: String,
    pub(crate) kind: AgentKind,
    pub(crate) argv: Vec<String>,
    pub(crate) output: OutputFormat,
    /// Extra environment, such as the API token; never recorded anywhere.
    pub(crate) env: Vec<(String, String)>,
}

/// Why an agent could not be resolved.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AgentError {
    #[error("unknown agent {name:?} (use shell, claude, codex, gemini, --agent-cmd, or define it under `agents:` in the config)")]
    Unknown { name: String },
    #[error(
        "agent {name:?} has an empty command (give it `command: [program, args...]` in the config)"
    )]
    EmptyCommand { name: String },
    #[error("invalid --agent-cmd {cmd:?}: {message}")]
    BadCommandLine { cmd: String, message: String },
    #[error("agent {name:?}: {message}")]
    BadOutput { name: String, message: String },
    #[error("cannot read token_file {} of agent {name:?}: {source}", path.display())]
    TokenFile {
        name: String,
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Resolves `--agent` / `--agent-cmd` against the config. With neither, the config's
/// `default_agent`, else `shell`, so a machine with no AI agent still does real work.
pub(crate) fn resolve(
    name: Option<&str>,
    agent_cmd: Option<&str>,
    config: &Config,
) -> Result<AgentSpec, AgentError> {
    let name = name
        .map(str::to_owned)
        .or_else(|| agent_cmd.map(|_| "command".to_owned()))
        .or_else(|| config.file.default_agent.clone())
        .unwrap_or_else(|| "shell".to_owned());
    let configured = config.file.agents.get(&name).cloned().unwrap_or_default();

    if let Some(cmd) = agent_cmd {
        let mut argv = shell_words::split(cmd).map_err(|e| AgentError::BadCommandLine {
            cmd: cmd.to_owned(),
            message: e.to_string(),
        })?;
        if argv.is_empty() {
            return Err(AgentError::BadCommandLine {
                cmd: cmd.to_owned(),
                message: "it is empty".to_owned(),
            });
        }
        argv[0] = absolute_program(&argv[0], Path::new("."));
        return finish(name, AgentKind::Command, argv, &configured, config);
    }

    let builtin: Option<(AgentKind, &[&str])> = match name.as_str() {
        "shell" => Some((AgentKind::Shell, &["sh", "-s"])),
        _ => None,
    };
    match (builtin, &configured.command) {
        (_, Some(command)) => {
            if command.is_empty() {
                return Err(AgentError::EmptyCommand { name });
            }
            let mut argv = command.clone();
            let base = config
                .path
                .as_deref()
                .and_then(Path::parent)
                .unwrap_or(Path::new("."));
            argv[0] = absolute_program(&argv[0], base);
            let kind = builtin.map_or(AgentKind::Command, |(k, _)| k);
            finish(name, kind, argv, &configured, config)
        }
        (Some((kind, argv)), None) => {
            let argv = argv.iter().map(|s| (*s).to_owned()).collect();
            finish(name, kind, argv, &configured, config)
        }
        (None, None) => Err(AgentError::Unknown { name }),
    }
}

fn finish(
    name: String,
    kind: AgentKind,
    mut argv: Vec<String>,
    configured: &AgentConfig,
    config: &Config,
) -> Result<AgentSpec, AgentError> {
    argv.extend(configured.args.iter().cloned());
    let output = match &configured.output {
        Some(o) => o.parse().map_err(|message| AgentError::BadOutput {
            name: name.clone(),
            message,
        })?,
        None => OutputFormat::Text,
    };
    let mut env = Vec::new();
    if let Some(var) = token_var(kind) {
        if let Some(token) = read_token(&name, configured, config)? {
            env.push((var.to_owned(), token));
        }
    }
    Ok(AgentSpec {
        name,
        kind,
        argv,
        output,
        env,
    })
}

/// The environment variable a backend reads its API token from.
fn token_var(kind: AgentKind) -> Option<&'static str> {
    match kind {
        AgentKind::Claude => Some("ANTHROPIC_API_KEY"),
        AgentKind::Codex => Some("OPENAI_API_KEY"),
        AgentKind::Gemini => Some("GEMINI_API_KEY"),
        AgentKind::Shell | AgentKind::Command => None,
    }
}

/// The configured token, trimmed: `token` wins over `token_file`.
fn read_token(
    name: &str,
    configured: &AgentConfig,
    config: &Config,
) -> Result<Option<String>, AgentError> {
    if let Some(t) = &configured.token {
        return Ok(Some(t.trim().to_owned()));
    }
    let Some(file) = &configured.token_file else {
        return Ok(None);
    };
    let path = config.resolve_path(file);
    let text = std::fs::read_to_string(&path).map_err(|source| AgentError::TokenFile {
        name: name.to_owned(),
        path: path.clone(),
        source,
    })?;
    Ok(Some(text.trim().to_owned()))
}

/// A program given as a relative path (`./x.sh`, `bin/x`) is made absolute against
/// `base`, so it still runs when the agent's working directory differs; bare names are
/// left for `PATH` lookup.
fn absolute_program(program: &str, base: &Path) -> String {
    if program.contains('/') && !Path::new(program).is_absolute() {
        let joined = std::path::absolute(base.join(program)).unwrap_or_else(|_| base.join(program));
        joined.to_string_lossy().into_owned()
    } else {
        program.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_is_the_default() {
        let a = resolve(None, None, &Config::default()).unwrap();
        assert_eq!(a.kind, AgentKind::Shell);
        assert_eq!(a.argv, ["sh", "-s"]);
        assert_eq!(a.name, "shell");
    }

    #[test]
    fn agent_cmd_is_split_like_a_shell_and_relative_paths_become_absolute() {
        let a = resolve(
            None,
            Some("./bin/agent --flag 'two words'"),
            &Config::default(),
        )
        .unwrap();
        assert_eq!(a.kind, AgentKind::Command);
        assert!(Path::new(&a.argv[0]).is_absolute());
        assert_eq!(&a.argv[1..], ["--flag", "two words"]);
        assert!(resolve(None, Some("'unclosed"), &Config::default()).is_err());
    }

    #[test]
    fn unknown_agents_are_refused_with_the_fix() {
        let e = resolve(Some("nope"), None, &Config::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"nope\"") && e.contains("agents:"), "{e}");
    }
}
