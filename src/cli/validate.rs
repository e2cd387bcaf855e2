//! `run-agent validate`: checks the config and every configured agent's program,
//! version and token, naming each problem.

use std::ffi::OsString;

use clap::Args;
use serde::Serialize;

use super::args::GlobalArgs;
use super::context::Context;
use super::output;
use crate::agents::backend::builtin;
use crate::agents::collect::program_path;
use crate::agents::resolve::resolve;
use crate::agents::version::agent_version;
use crate::error::Error;

#[derive(Debug, Args)]
pub(crate) struct ValidateArgs {
    /// Print one JSON document
    #[arg(long)]
    pub(crate) json: bool,
}

/// The verdict on one agent.
#[derive(Debug, Serialize)]
struct AgentCheck {
    agent: String,
    ok: bool,
    program: Option<String>,
    version: Option<String>,
    token: Option<&'static str>,
    problems: Vec<String>,
}

#[derive(Debug, Serialize)]
struct Report {
    config: Option<String>,
    root: String,
    ok: bool,
    agents: Vec<AgentCheck>,
}

pub(crate) fn run(args: ValidateArgs, global: &GlobalArgs) -> Result<u8, Error> {
    // A config that does not load fails here, with file, line and key (exit 2).
    let ctx = Context::load(global)?;
    let file = &ctx.config.file;
    let mut names: Vec<String> = file.default_agent.iter().cloned().collect();
    for name in file.agents.keys() {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    if names.is_empty() {
        names.push("shell".to_owned());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let agents: Vec<AgentCheck> = names.iter().map(|n| check(n, &ctx, &path)).collect();
    let ok = agents.iter().all(|a| a.ok);
    let report = Report {
        config: ctx.config.path.as_ref().map(|p| p.display().to_string()),
        root: ctx.layout.root().display().to_string(),
        ok,
        agents,
    };
    if args.json {
        output::json(&report)?;
    } else {
        output::line(&format!(
            "config: {}",
            report
                .config
                .as_deref()
                .unwrap_or("(none; built-in defaults)")
        ))?;
        output::line(&format!("runs root: {}", report.root))?;
        for a in &report.agents {
            if a.ok {
                output::line(&format!(
                    "ok    {}: {}{}{}",
                    a.agent,
                    a.program.as_deref().unwrap_or("?"),
                    a.version
                        .as_deref()
                        .map(|v| format!(" ({v})"))
                        .unwrap_or_default(),
                    a.token.map(|t| format!(", token: {t}")).unwrap_or_default()
                ))?;
            } else {
                for p in &a.problems {
                    output::line(&format!("FAIL  {}: {p}", a.agent))?;
                }
            }
        }
    }
    Ok(if ok { 0 } else { 1 })
}

fn check(name: &str, ctx: &Context, path: &OsString) -> AgentCheck {
    let mut c = AgentCheck {
        agent: name.to_owned(),
        ok: false,
        program: None,
        version: None,
        token: None,
        problems: Vec::new(),
    };
    let spec = match resolve(Some(name), None, &ctx.config) {
        Ok(s) => s,
        Err(e) => {
            c.problems.push(e.to_string());
            return c;
        }
    };
    let program = &spec.argv[0];
    match program_path(program, path) {
        Some(p) if p.is_file() => {
            c.program = Some(p.display().to_string());
            if spec.kind.is_ai_cli() {
                c.version = agent_version(&p);
                if c.version.is_none() {
                    c.problems.push(format!("{} --version gave no answer", p.display()));
                }
            }
        }
        _ => c.problems.push(format!(
            "program {program:?} not found (install it, put it on PATH, or set `command:` for agent {name:?} in the config)"
        )),
    }
    if let Some(b) = builtin(name) {
        if spec.env.iter().any(|(k, _)| k == b.token_env) {
            c.token = Some("from the config");
        } else if std::env::var_os(b.token_env).is_some_and(|v| !v.is_empty()) {
            c.token = Some("from the environment");
        } else {
            c.problems.push(format!(
                "no token: set `token_file:` for agent {name:?} in the config or {} in the environment (not needed if the CLI is logged in)",
                b.token_env
            ));
        }
    }
    c.ok = c.problems.is_empty();
    c
}
