//! Choosing an agent: `shell`, the built-in CLIs, configured commands and `--agent-cmd`.

use std::path::{Path, PathBuf};

use crate::config::file::{AgentConfig, Config};

use super::backend::builtin;
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

impl AgentKind {
    /// Whether the agent is one of the AI CLIs (which answer `--version`).
    pub(crate) fn is_ai_cli(self) -> bool {
        matches!(self, Self::Claude | Self::Codex | Self::Gemini)
    }
}

/// A fully resolved agent: what to run and how to read it.
#[derive(Debug, Clone)]
pub(crate) struct AgentSpec {
    /// The name recorded in run-info.yaml (`shell`, `claude`, a configured name...).
    pub(crate) name: String,
    pub(crate) kind: AgentKind,
    pub(crate) argv: Vec<String>,
    pub(crate) output: OutputFormat,
    /// Whether the program came from `--agent-cmd` (then children do not inherit it).
    pub(crate) from_cmd: bool,
    /// The configured model, for pricing when the stream names none.
    pub(crate) model: Option<String>,
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
        // `--agent claude --agent-cmd ./wrapper` runs the wrapper but reads claude's stream.
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
        let kind = kind_of(&name).unwrap_or(AgentKind::Command);
        return finish(name, kind, argv, &configured, config).map(|mut spec| {
            spec.from_cmd = true;
            spec
        });
    }

    let kind = kind_of(&name);
    match (&configured.command, kind) {
        (Some(command), _) => {
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
            // A built-in with its own `command` keeps the built-in's flags: the command
            // only says where the program is (or wraps it).
            if let Some(b) = builtin(&name) {
                argv.extend(b.argv(configured.model.as_deref(), &[]).into_iter().skip(1));
            }
            finish(
                name,
                kind.unwrap_or(AgentKind::Command),
                argv,
                &configured,
                config,
            )
        }
        (None, Some(AgentKind::Shell)) => {
            let argv = vec!["sh".to_owned(), "-s".to_owned()];
            finish(name, AgentKind::Shell, argv, &configured, config)
        }
        (None, Some(kind)) => {
            let argv =
                builtin(&name).map_or_else(Vec::new, |b| b.argv(configured.model.as_deref(), &[]));
            finish(name, kind, argv, &configured, config)
        }
        (None, None) => Err(AgentError::Unknown { name }),
    }
}

/// The kind of a built-in agent name; `None` for names only the config can define.
fn kind_of(name: &str) -> Option<AgentKind> {
    match name {
        "shell" => Some(AgentKind::Shell),
        "claude" => Some(AgentKind::Claude),
        "codex" => Some(AgentKind::Codex),
        "gemini" => Some(AgentKind::Gemini),
        _ => None,
    }
}

fn finish(
    name: String,
    kind: AgentKind,
    mut argv: Vec<String>,
    configured: &AgentConfig,
    config: &Config,
) -> Result<AgentSpec, AgentError> {
    // Extra args go before a built-in's trailing arguments (codex's `-`, "prompt on
    // stdin"), so they are still read as flags.
    let trailing = builtin(&name).map_or(0, |b| b.trailing_args.len());
    let at = argv.len().saturating_sub(trailing);
    argv.splice(at..at, configured.args.iter().cloned());
    let output =
        match &configured.output {
            Some(o) => o.parse().map_err(|e: super::stream::UnknownOutputFormat| {
                AgentError::BadOutput {
                    name: name.clone(),
                    message: e.to_string(),
                }
            })?,
            None => builtin(&name).map_or(OutputFormat::Text, |b| b.output),
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
        from_cmd: false,
        model: configured.model.clone(),
        env,
    })
}

/// The environment variable a backend reads its API token from.
fn token_var(kind: AgentKind) -> Option<&'static str> {
    let name = match kind {
        AgentKind::Claude => "claude",
        AgentKind::Codex => "codex",
        AgentKind::Gemini => "gemini",
        AgentKind::Shell | AgentKind::Command => return None,
    };
    builtin(name).map(|b| b.token_env)
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
    fn builtins_get_their_flags_model_args_and_format() {
        let mut config = Config::default();
        config.file.agents.insert(
            "codex".to_owned(),
            AgentConfig {
                model: Some("gpt-5-codex".to_owned()),
                args: vec!["--extra".to_owned()],
                ..AgentConfig::default()
            },
        );
        let a = resolve(Some("codex"), None, &config).unwrap();
        assert_eq!(a.kind, AgentKind::Codex);
        assert_eq!(a.output, OutputFormat::CodexJson);
        assert_eq!(a.argv.last().map(String::as_str), Some("-"), "{:?}", a.argv);
        assert!(
            a.argv.windows(2).any(|w| w == ["--model", "gpt-5-codex"]),
            "{:?}",
            a.argv
        );
        assert!(a.argv.contains(&"--extra".to_owned()));
        let c = resolve(Some("claude"), None, &Config::default()).unwrap();
        assert_eq!(c.argv[..2], ["claude", "-p"]);
        assert_eq!(c.output, OutputFormat::ClaudeJson);
    }

    #[test]
    fn unknown_agents_are_refused_with_the_fix() {
        let e = resolve(Some("nope"), None, &Config::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"nope\"") && e.contains("agents:"), "{e}");
    }
}
