//! One run of an agent: folder, prompt, run-info, spawn in a new session, wait, finish.

use std::fs::{self, File};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime};

use nix::sys::signal::Signal;
use tokio::process::{Child, Command};
use tokio::sync::watch;

use super::env::{agent_env, RunEnv};
use super::preamble::{build, PromptParts};
use super::shutdown::{Request, Shutdown, StopReason};
use super::unix::{hostname, new_session, proc_start, signal_group};
use crate::agents::collect::{collect, ensure_output, program_path};
use crate::agents::resolve::AgentSpec;
use crate::agents::stream::RateLimit;
use crate::agents::usage::Usage;
use crate::agents::version::agent_version;
use crate::bus::append::post;
use crate::bus::format::NewMessage;
use crate::config::file::Config;
use crate::error::Error;
use crate::storage::ids::new_run_id;
use crate::storage::layout::{Layout, RunPaths, TaskPaths};
use crate::storage::run_info::{RunInfo, RunStatus, RUN_INFO_VERSION};
use crate::storage::time::rfc3339;

/// Everything needed to start one run.
pub(crate) struct JobSpec<'a> {
    pub(crate) layout: &'a Layout,
    pub(crate) task: &'a TaskPaths,
    pub(crate) agent: &'a AgentSpec,
    pub(crate) prompt: &'a str,
    pub(crate) role: Option<&'a str>,
    pub(crate) parent_run_id: &'a str,
    pub(crate) previous_run_id: &'a str,
    pub(crate) attempt: u32,
    pub(crate) depth: u32,
    pub(crate) cwd: &'a std::path::Path,
    pub(crate) kill_grace: Duration,
    /// The loaded config: prices for agents that report tokens but no cost, and its
    /// path, handed to nested runs.
    pub(crate) config: &'a Config,
}

/// How a run ended.
#[derive(Debug, Clone)]
pub(crate) struct JobOutcome {
    pub(crate) run: RunPaths,
    pub(crate) exit_code: i32,
    pub(crate) status: RunStatus,
    /// Set when the runner stopped the agent (signal or timeout).
    pub(crate) stopped: Option<StopReason>,
    /// The agent's process group, for ending leftovers when the top-level command ends.
    pub(crate) pgid: i32,
    pub(crate) duration: Duration,
    /// Tokens and cost, when the agent reported them.
    pub(crate) usage: Option<Usage>,
    /// Set when the agent reported a usage or rate limit.
    pub(crate) rate_limit: Option<RateLimit>,
}

/// Runs one attempt to its end. Errors only when the run could not be set up or the agent
/// could not be started; the run folder then still records what happened.
pub(crate) async fn run_job(spec: &JobSpec<'_>, shutdown: &Shutdown) -> Result<JobOutcome, Error> {
    let started = Instant::now();
    let now = SystemTime::now();
    let run = spec.task.run(&new_run_id(now));
    fs::create_dir(&run.dir).map_err(Error::io("create run folder", &run.dir))?;
    super::descendants::on_run_created(&run.dir);

    let text = build(&PromptParts {
        task: spec.task,
        run: &run,
        attempt: spec.attempt,
        kind: spec.agent.kind,
        role: spec.role,
        prompt: spec.prompt,
    });
    fs::write(&run.prompt, text).map_err(Error::io("write", &run.prompt))?;
    let stdout = File::create(&run.stdout).map_err(Error::io("create", &run.stdout))?;
    let stderr = File::create(&run.stderr).map_err(Error::io("create", &run.stderr))?;
    // The prompt goes in as a file on stdin: no pipe to feed, no deadlock on a large
    // prompt, and the agent can re-read it.
    let stdin = File::open(&run.prompt).map_err(Error::io("open", &run.prompt))?;

    let mut info = RunInfo {
        version: RUN_INFO_VERSION,
        run_id: run.run_id.clone(),
        project_id: spec.task.project_id.clone(),
        task_id: spec.task.task_id.clone(),
        parent_run_id: spec.parent_run_id.to_owned(),
        previous_run_id: spec.previous_run_id.to_owned(),
        attempt: spec.attempt,
        depth: spec.depth,
        agent: spec.agent.name.clone(),
        agent_version: String::new(),
        commandline: shell_words::join(&spec.agent.argv),
        pid: 0,
        pgid: 0,
        proc_start: 0,
        host: hostname(),
        start_time: rfc3339(now),
        end_time: String::new(),
        exit_code: -1,
        status: RunStatus::Running,
        error_summary: String::new(),
        cwd: spec.cwd.display().to_string(),
        prompt_path: run.prompt.display().to_string(),
        output_path: run.output.display().to_string(),
        stdout_path: run.stdout.display().to_string(),
        stderr_path: run.stderr.display().to_string(),
        usage: None,
    };

    let env = agent_env(&RunEnv {
        root: spec.layout.root(),
        task: spec.task,
        run: &run,
        parent_run_id: spec.parent_run_id,
        depth: spec.depth,
        agent: (!spec.agent.from_cmd).then_some(spec.agent.name.as_str()),
        config: spec.config.path.as_deref(),
    });
    if spec.agent.kind.is_ai_cli() {
        let path = env
            .iter()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        if let Some(program) = program_path(&spec.agent.argv[0], &path) {
            info.agent_version = agent_version(&program).unwrap_or_default();
        }
    }

    let mut cmd = Command::new(&spec.agent.argv[0]);
    cmd.args(&spec.agent.argv[1..])
        .current_dir(spec.cwd)
        .stdin(Stdio::from(stdin))
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::from(stderr))
        .envs(env)
        .envs(spec.agent.env.iter().map(|(k, v)| (k, v)))
        .kill_on_drop(false);
    new_session(&mut cmd);

    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(source) => {
            info.status = RunStatus::Failed;
            info.end_time = rfc3339(SystemTime::now());
            info.exit_code = 127;
            info.error_summary = format!("cannot start {:?}: {source}", spec.agent.argv[0]);
            info.save(&run.run_info)?;
            ensure_output(&run, None);
            lifecycle(
                spec.task,
                &run,
                spec.parent_run_id,
                "RUN_CRASH",
                &info.error_summary,
            );
            return Err(Error::Spawn {
                program: spec.agent.argv[0].clone(),
                source,
            });
        }
    };
    let pid = child.id().map_or(0, |p| p as i32);
    info.pid = pid;
    info.pgid = pid;
    info.proc_start = proc_start(pid).unwrap_or(0);
    info.save(&run.run_info)?;
    lifecycle(
        spec.task,
        &run,
        spec.parent_run_id,
        "RUN_START",
        &format!(
            "attempt {} of agent {} started (pid {pid}); run folder {}",
            spec.attempt,
            spec.agent.name,
            run.dir.display()
        ),
    );

    let tree =
        super::stop::TreeGuard::start(run.dir.clone(), shutdown.subscribe(), spec.kill_grace);
    let (status, stopped) = supervise(&mut child, pid, &mut shutdown.subscribe(), spec.kill_grace)
        .await
        .map_err(Error::io("wait for agent of run", &run.dir))?;
    tree.finish().await;
    super::descendants::settle_group(pid).await;

    let exit_code = exit_code_of(status);
    info.end_time = rfc3339(SystemTime::now());
    info.exit_code = exit_code;
    info.status = match (stopped, exit_code) {
        (Some(_), _) => RunStatus::Stopped,
        (None, 0) => RunStatus::Completed,
        (None, _) => RunStatus::Failed,
    };
    let findings = collect(spec.agent, &run, exit_code, &spec.config.file.prices);
    let mut summary = match (stopped, exit_code) {
        (Some(reason), _) => reason.describe(),
        (None, 0) => String::new(),
        (None, c) if c > 128 => format!("agent killed by signal {}", c - 128),
        (None, c) => format!("agent exited with code {c}"),
    };
    if let Some(error) = findings
        .rate_limit
        .as_ref()
        .map(|r| &r.message)
        .or(findings.error.as_ref())
    {
        summary = if summary.is_empty() {
            error.clone()
        } else {
            format!("{summary}: {error}")
        };
    }
    info.error_summary = summary;
    info.usage.clone_from(&findings.usage);
    info.save(&run.run_info)?;
    let duration = started.elapsed();
    let (kind, body) = if info.status == RunStatus::Failed {
        (
            "RUN_CRASH",
            format!("{} after {}", info.error_summary, short(duration)),
        )
    } else {
        (
            "RUN_STOP",
            format!(
                "{} with exit code {exit_code} after {}; output {}",
                info.status,
                short(duration),
                run.output.display()
            ),
        )
    };
    lifecycle(spec.task, &run, spec.parent_run_id, kind, &body);

    Ok(JobOutcome {
        exit_code,
        status: info.status,
        stopped,
        pgid: pid,
        duration,
        run,
        usage: findings.usage,
        rate_limit: findings.rate_limit,
    })
}

/// Waits for the agent while honouring stop requests: SIGTERM to its group, `grace`, then
/// SIGKILL; a kill request (second Ctrl-C) or a zero grace skips straight to SIGKILL.
async fn supervise(
    child: &mut Child,
    pgid: i32,
    requests: &mut watch::Receiver<Request>,
    grace: Duration,
) -> std::io::Result<(ExitStatus, Option<StopReason>)> {
    let mut stopped: Option<StopReason> = None;
    let mut kill_at: Option<tokio::time::Instant> = None;
    let mut listening = true;
    loop {
        match *requests.borrow_and_update() {
            Request::Run => {}
            Request::Stop(reason) if stopped.is_none() => {
                stopped = Some(reason);
                if grace.is_zero() {
                    let _ = signal_group(pgid, Signal::SIGKILL);
                } else {
                    let _ = signal_group(pgid, Signal::SIGTERM);
                    kill_at = Some(tokio::time::Instant::now() + grace);
                }
            }
            Request::Stop(_) => {}
            Request::Kill(reason) => {
                stopped.get_or_insert(reason);
                let _ = signal_group(pgid, Signal::SIGKILL);
                kill_at = None;
            }
        }
        tokio::select! {
            status = child.wait() => {
                let status = status?;
                if stopped.is_some() {
                    // The leader is gone; end what else lives in its group within the
                    // same grace, so a stopped run leaves nothing behind.
                    let left = kill_at.map_or(Duration::ZERO, |k| k.saturating_duration_since(tokio::time::Instant::now()));
                    super::leftovers::end_leftovers(&[pgid], left).await;
                }
                return Ok((status, stopped));
            }
            changed = requests.changed(), if listening => {
                listening = changed.is_ok();
            }
            _ = sleep_until(kill_at), if kill_at.is_some() => {
                let _ = signal_group(pgid, Signal::SIGKILL);
                kill_at = None;
            }
        }
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    if let Some(at) = at {
        tokio::time::sleep_until(at).await;
    }
}

/// The shell convention: the exit code, or 128 + the signal that killed the agent.
fn exit_code_of(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(-1)
}

/// Posts a lifecycle record to the task bus. A bus that cannot be written is reported but
/// does not fail the run: the run's own files are the record of truth.
fn lifecycle(task: &TaskPaths, run: &RunPaths, parent: &str, kind: &str, body: &str) {
    let msg = NewMessage {
        msg_type: kind.to_owned(),
        project_id: task.project_id.clone(),
        task_id: task.task_id.clone(),
        run_id: run.run_id.clone(),
        from: run.run_id.clone(),
        to: parent.to_owned(),
        body: body.to_owned(),
        ..NewMessage::default()
    };
    if let Err(e) = post(&task.bus, &msg) {
        tracing::warn!("{e}");
    }
}

/// A duration as a person reads it in a one-line message (`1.2s`, `3m4s`).
pub(crate) fn short(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else if d < Duration::from_secs(60) {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        humantime::format_duration(Duration::from_secs(d.as_secs())).to_string()
    }
}
