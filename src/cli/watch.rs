//! `run-agent watch`: one live stream of every run's stdout and stderr in scope, each
//! line prefixed by its task and run, with bus messages interleaved.

use std::io::Write;
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::json;

use super::args::GlobalArgs;
use super::context::Context;
use super::list::scope_of;
use super::output::{self, stdout_error};
use crate::config::duration::parse_cli;
use crate::error::Error;
use crate::watch::status_line::{Snapshot, StatusLine};
use crate::watch::stream::{watch, Origin, Stream, WatchEvent, WatchOptions};

#[derive(Debug, Args)]
pub(crate) struct WatchArgs {
    /// Only this project
    #[arg(long, value_name = "ID")]
    pub(crate) project: Option<String>,
    /// Only these tasks and the runs and tasks they start (repeatable; needs --project)
    #[arg(long, value_name = "ID", requires = "project")]
    pub(crate) task: Vec<String>,
    /// One JSON object per line instead of text
    #[arg(long)]
    pub(crate) json: bool,
    /// Keep watching after the tasks are done
    #[arg(long)]
    pub(crate) forever: bool,
    /// A task without DONE whose runs all ended counts as finished after this long
    #[arg(long, value_name = "DURATION", value_parser = parse_cli, default_value = "5s")]
    pub(crate) settle: Duration,
}

pub(crate) fn run(args: WatchArgs, global: &GlobalArgs) -> Result<u8, Error> {
    let ctx = Context::load(global)?;
    let scope = scope_of(args.project, args.task)?;
    let opts = WatchOptions {
        scope,
        forever: args.forever,
        settle: args.settle,
    };
    let json = args.json;
    let status = std::cell::RefCell::new(StatusLine::detect(json));
    let color = status.borrow().color();
    let started = Instant::now();
    let mut sink = |ev: WatchEvent| -> Result<(), Error> {
        let text = if json {
            json_line(&ev)
        } else {
            human_line(&ev, color)
        };
        let Some(text) = text else { return Ok(()) };
        let mut out = std::io::stdout().lock();
        let mut status = status.borrow_mut();
        status.clear(&mut out).map_err(stdout_error)?;
        drop(out);
        output::line(&text)
    };
    let mut tick = |stats: &crate::watch::stream::WatchStats| -> Result<(), Error> {
        let mut status = status.borrow_mut();
        if !status.enabled() {
            return Ok(());
        }
        let mut out = std::io::stdout().lock();
        status
            .draw(
                &mut out,
                &Snapshot {
                    label: "watch".to_owned(),
                    attempt: stats.attempt,
                    elapsed: started.elapsed(),
                    running: stats.running,
                    cost_usd: stats.cost_usd,
                },
            )
            .map_err(stdout_error)
    };
    watch(ctx.layout.root(), &opts, &mut sink, &mut tick)?;
    let mut out = std::io::stdout().lock();
    status.borrow_mut().clear(&mut out).map_err(stdout_error)?;
    out.flush().map_err(stdout_error)?;
    Ok(0)
}

/// `[task run]` for stdout, `[task run stderr]` for stderr; dim (and red for stderr)
/// when colored.
fn prefix(o: &Origin, what: &str, color: bool) -> String {
    let tag = if what.is_empty() {
        format!("[{} {}]", o.task_id, o.run_id)
    } else {
        format!("[{} {} {what}]", o.task_id, o.run_id)
    };
    match (color, what) {
        (false, _) => tag,
        (true, "stderr") => format!("\x1b[31m{tag}\x1b[0m"),
        (true, _) => format!("\x1b[2m{tag}\x1b[0m"),
    }
}

fn human_line(ev: &WatchEvent, color: bool) -> Option<String> {
    Some(match ev {
        WatchEvent::Line {
            origin,
            stream,
            text,
        } => {
            let what = if *stream == Stream::Stderr {
                "stderr"
            } else {
                ""
            };
            format!("{} {text}", prefix(origin, what, color))
        }
        WatchEvent::RunStart {
            origin,
            parent_run_id,
            attempt,
        } => {
            let parent = if parent_run_id.is_empty() {
                String::new()
            } else {
                format!(", child of {parent_run_id}")
            };
            format!(
                "{} started: {}/{} attempt {attempt}{parent}",
                prefix(origin, "run", color),
                origin.project_id,
                origin.task_id
            )
        }
        WatchEvent::RunEnd {
            origin,
            status,
            exit_code,
            summary,
        } => {
            let summary = if summary.is_empty() {
                String::new()
            } else {
                format!(" ({summary})")
            };
            format!(
                "{} ended: {status}, exit {exit_code}{summary}",
                prefix(origin, "run", color)
            )
        }
        WatchEvent::Bus {
            project_id,
            task_id,
            record,
        } => {
            let scope = if task_id.is_empty() {
                format!("[{project_id} project-bus]")
            } else {
                format!("[{task_id} bus]")
            };
            let from = if record.from.is_empty() {
                String::new()
            } else {
                format!(" from {}", record.from)
            };
            let ty = if record.msg_type.is_empty() {
                "(untyped)"
            } else {
                &record.msg_type
            };
            let body = record.body.replace('\n', "\n    ");
            format!("{scope} {ty}{from}: {body}")
        }
    })
}

fn json_line(ev: &WatchEvent) -> Option<String> {
    let v = match ev {
        WatchEvent::Line {
            origin,
            stream,
            text,
        } => json!({
            "event": "line",
            "project_id": origin.project_id,
            "task_id": origin.task_id,
            "run_id": origin.run_id,
            "stream": stream.name(),
            "text": text,
        }),
        WatchEvent::RunStart {
            origin,
            parent_run_id,
            attempt,
        } => json!({
            "event": "run_start",
            "project_id": origin.project_id,
            "task_id": origin.task_id,
            "run_id": origin.run_id,
            "parent_run_id": parent_run_id,
            "attempt": attempt,
        }),
        WatchEvent::RunEnd {
            origin,
            status,
            exit_code,
            summary,
        } => json!({
            "event": "run_end",
            "project_id": origin.project_id,
            "task_id": origin.task_id,
            "run_id": origin.run_id,
            "status": status.to_string(),
            "exit_code": exit_code,
            "error_summary": summary,
        }),
        WatchEvent::Bus {
            project_id,
            task_id,
            record,
        } => json!({
            "event": "bus",
            "project_id": project_id,
            "task_id": task_id,
            "type": record.msg_type,
            "from": record.from,
            "body": record.body,
        }),
    };
    Some(v.to_string())
}
