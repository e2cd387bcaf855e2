//! `run-agent bus post`: append one message and print its id. Kept lean: it is started
//! once per message and measured against a raw `open + flock + write` program.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::args::GlobalArgs;
use super::bus::BusTarget;
use super::context::{env_nonempty, Context};
use super::output;
use crate::bus::address::find_run_task_dir;
use crate::bus::append::{post_with, AppendOptions};
use crate::bus::format::NewMessage;
use crate::config::duration::parse_cli;
use crate::error::Error;

#[derive(Debug, Args)]
pub(crate) struct PostArgs {
    #[command(flatten)]
    pub(crate) target: BusTarget,
    /// Message type (free text: PROGRESS, FACT, DECISION, QUESTION, ERROR, INFO, ...)
    #[arg(long = "type", value_name = "TYPE", default_value = "INFO")]
    pub(crate) msg_type: String,
    /// The body [default: read from stdin]
    #[arg(long, value_name = "TEXT")]
    pub(crate) body: Option<String>,
    /// Address a run: `parent` ($JRUN_PARENT_ID) or a run id; posts to that run's task bus
    /// unless --bus/--project name one
    #[arg(long, value_name = "parent|RUN_ID")]
    pub(crate) to: Option<String>,
    /// Extra header field (repeatable)
    #[arg(long = "meta", value_name = "KEY=VALUE")]
    pub(crate) meta: Vec<String>,
    /// The id of the message this answers
    #[arg(long, value_name = "MSG_ID")]
    pub(crate) reply_to: Option<String>,
    /// Longest wait for the bus lock [default: $JRUN_LOCK_TIMEOUT, else 10s]
    #[arg(long, value_name = "DURATION", value_parser = parse_cli)]
    pub(crate) lock_timeout: Option<Duration>,
    /// fsync the message before returning [default: $JRUN_BUS_FSYNC]
    #[arg(long)]
    pub(crate) fsync: bool,
}

/// The arguments of `run-agent bus post ...` when they are plain enough to read without
/// clap (`--flag VALUE` or `--flag=VALUE`, each known flag at most once, `--meta`
/// repeatable), so a post does not pay for building the whole command tree. Anything
/// else (help, unknown flags, repeats, conflicts, values that look like flags) gives
/// `None`, and clap parses as usual, with its messages.
pub(crate) fn fast_args(argv: &[std::ffi::OsString]) -> Option<(GlobalArgs, PostArgs)> {
    let mut it = argv.iter().skip(1).map(|a| a.to_str());
    if it.next()? != Some("bus") || it.next()? != Some("post") {
        return None;
    }
    let mut global = GlobalArgs {
        root: None,
        config: None,
        verbose: 0,
    };
    let mut a = PostArgs {
        target: BusTarget {
            bus: None,
            project: None,
            task: None,
        },
        msg_type: "INFO".into(),
        body: None,
        to: None,
        meta: Vec::new(),
        reply_to: None,
        lock_timeout: None,
        fsync: false,
    };
    let mut seen: Vec<&str> = Vec::new();
    while let Some(arg) = it.next() {
        let arg = arg?;
        if arg == "--fsync" {
            if a.fsync {
                return None;
            }
            a.fsync = true;
            continue;
        }
        let (flag, value) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, v.to_owned()),
            _ => {
                let v = it.next()??;
                if v.starts_with('-') && v != "-" {
                    return None;
                }
                (arg, v.to_owned())
            }
        };
        if flag != "--meta" {
            if seen.contains(&flag) {
                return None;
            }
            seen.push(flag);
        }
        match flag {
            "--bus" => a.target.bus = Some(value.into()),
            "--project" => a.target.project = Some(value),
            "--task" => a.target.task = Some(value),
            "--type" => a.msg_type = value,
            "--body" => a.body = Some(value),
            "--to" => a.to = Some(value),
            "--meta" => a.meta.push(value),
            "--reply-to" => a.reply_to = Some(value),
            "--lock-timeout" => a.lock_timeout = Some(parse_cli(&value).ok()?),
            "--root" => global.root = Some(value.into()),
            "--config" => global.config = Some(value.into()),
            _ => return None,
        }
    }
    if a.target.bus.is_some() && (a.target.project.is_some() || a.target.task.is_some()) {
        return None;
    }
    Some((global, a))
}

pub(crate) fn run(args: PostArgs, global: &GlobalArgs) -> Result<u8, Error> {
    // A file size limit (RLIMIT_FSIZE) must fail the write with EFBIG, so the record can
    // be cut back, rather than kill the process half-way.
    // SAFETY: ignoring a signal; this process starts no children.
    unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
    let body = read_body(args.body.as_deref())?;
    let meta = parse_meta(&args.meta)?;
    let to = resolve_to(args.to.as_deref())?;
    let bus = match (&to, args.target.explicit()) {
        (Some(run), false) => bus_of_run(run, global)?,
        _ => args.target.resolve(global, true)?,
    };
    let (project_id, task_id) = args.target.ids();
    let me = env_nonempty("JRUN_ID").unwrap_or_default();
    let msg = NewMessage {
        msg_type: args.msg_type,
        project_id,
        task_id,
        run_id: me.clone(),
        from: me,
        to: to.unwrap_or_default(),
        reply_to: args.reply_to.unwrap_or_default(),
        meta,
        body,
    };
    let mut opts = AppendOptions::from_env();
    if let Some(t) = args.lock_timeout {
        opts.lock_timeout = t;
    }
    opts.fsync |= args.fsync;
    let id = post_with(&bus, &msg, &opts)?;
    output::line(&id)?;
    Ok(0)
}

fn read_body(body: Option<&str>) -> Result<String, Error> {
    if let Some(b) = body {
        return Ok(b.to_owned());
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Err(Error::Usage(
            "no body: pass --body TEXT or pipe the body on stdin".into(),
        ));
    }
    let mut bytes = Vec::new();
    stdin
        .lock()
        .read_to_end(&mut bytes)
        .map_err(Error::io("read the body from", "stdin"))?;
    String::from_utf8(bytes).map_err(|e| {
        Error::Usage(format!(
            "the body on stdin is not UTF-8 (invalid byte at offset {}); the bus holds text",
            e.utf8_error().valid_up_to()
        ))
    })
}

fn parse_meta(pairs: &[String]) -> Result<BTreeMap<String, String>, Error> {
    let mut meta = BTreeMap::new();
    for p in pairs {
        let Some((k, v)) = p.split_once('=') else {
            return Err(Error::Usage(format!("--meta {p:?} is not KEY=VALUE")));
        };
        if k.is_empty() {
            return Err(Error::Usage(format!("--meta {p:?} has an empty key")));
        }
        meta.insert(k.to_owned(), v.to_owned());
    }
    Ok(meta)
}

/// `--to parent` becomes `$JRUN_PARENT_ID`; a run id stays as it is.
fn resolve_to(to: Option<&str>) -> Result<Option<String>, Error> {
    match to {
        None => Ok(None),
        Some("parent") => env_nonempty("JRUN_PARENT_ID").map(Some).ok_or_else(|| {
            Error::Usage(
                "--to parent: this is not a child run ($JRUN_PARENT_ID is not set); give a run id instead".into(),
            )
        }),
        Some(id) if id.is_empty() || id.contains(['/', '\0', '\n']) || id.starts_with('.') => {
            Err(Error::Usage(format!("--to {id:?} is not a run id")))
        }
        Some(id) => Ok(Some(id.to_owned())),
    }
}

/// The task bus of the run `run_id`.
fn bus_of_run(run_id: &str, global: &GlobalArgs) -> Result<PathBuf, Error> {
    let root = match (&global.root, env_nonempty("JRUN_ROOT")) {
        (Some(r), _) => r.clone(),
        (None, Some(r)) => PathBuf::from(r),
        (None, None) => Context::load(global)?.layout.root().to_path_buf(),
    };
    let hint = env_nonempty("JRUN_TASK_FOLDER").map(PathBuf::from);
    match find_run_task_dir(&root, run_id, hint.as_deref()) {
        Some(task) => Ok(task.join("TASK-MESSAGE-BUS.md")),
        None => Err(Error::Failed(format!(
            "--to {run_id}: no run folder {}/*/*/runs/{run_id} (is the run id right, and the runs root {}?)",
            root.display(),
            root.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::fast_args;
    use std::ffi::OsString;

    fn argv(s: &[&str]) -> Vec<OsString> {
        std::iter::once("run-agent")
            .chain(s.iter().copied())
            .map(OsString::from)
            .collect()
    }

    #[test]
    fn the_fast_path_reads_plain_posts_and_leaves_the_rest_to_clap() {
        let (g, a) = fast_args(&argv(&[
            "bus",
            "post",
            "--bus",
            "b.md",
            "--type=FACT",
            "--body",
            "",
            "--meta",
            "a=1",
            "--meta",
            "b=2",
            "--to",
            "parent",
            "--reply-to",
            "MSG-1",
            "--lock-timeout",
            "250ms",
            "--fsync",
            "--root",
            "r",
        ]))
        .unwrap();
        assert_eq!(a.target.bus.as_deref(), Some(std::path::Path::new("b.md")));
        assert_eq!(a.msg_type, "FACT");
        assert_eq!(a.body.as_deref(), Some(""));
        assert_eq!(a.meta, ["a=1", "b=2"]);
        assert_eq!(a.lock_timeout, Some(std::time::Duration::from_millis(250)));
        assert!(a.fsync);
        assert_eq!(g.root.as_deref(), Some(std::path::Path::new("r")));
        let (_, a) = fast_args(&argv(&["bus", "post", "--body", "-"])).unwrap();
        assert_eq!(a.body.as_deref(), Some("-"));
        assert_eq!(a.msg_type, "INFO");
        for clap_cases in [
            &["bus", "post", "--help"][..],
            &["bus", "post", "-v", "--body", "x"],
            &["bus", "post", "--body", "x", "--body", "y"],
            &["bus", "post", "--bus", "b", "--task", "t"],
            &["bus", "post", "--body", "--type"],
            &["bus", "post", "--body"],
            &["bus", "post", "--lock-timeout", "soon"],
            &["bus", "post", "extra"],
            &["bus", "read"],
            &["job"],
        ] {
            assert!(fast_args(&argv(clap_cases)).is_none(), "{clap_cases:?}");
        }
    }

    /// Whatever the fast path accepts, clap reads the same way: two parsers of one
    /// command line must not drift apart.
    #[test]
    fn the_fast_path_agrees_with_clap() {
        use crate::cli::args::{Cli, Command};
        use crate::cli::bus::BusCommand;
        use clap::Parser;
        let cases: &[&[&str]] = &[
            &["bus", "post", "--body", "hi"],
            &[
                "bus",
                "post",
                "--type=FACT",
                "--body",
                "",
                "--meta",
                "a=1",
                "--meta",
                "b=2",
            ],
            &[
                "bus",
                "post",
                "--to",
                "parent",
                "--reply-to",
                "MSG-1",
                "--fsync",
            ],
            &[
                "bus",
                "post",
                "--project",
                "p",
                "--task",
                "t",
                "--lock-timeout",
                "250ms",
            ],
            &[
                "bus",
                "post",
                "--bus=x.md",
                "--root",
                "r",
                "--config",
                "c.yaml",
                "--body",
                "-",
            ],
        ];
        for case in cases {
            let (g, a) = fast_args(&argv(case)).expect("plain enough for the fast path");
            let cli = Cli::try_parse_from(argv(case)).unwrap();
            let Command::Bus(bus) = cli.command else {
                panic!("not a bus command: {case:?}")
            };
            let BusCommand::Post(clap_args) = bus.command else {
                panic!("not bus post: {case:?}")
            };
            assert_eq!(format!("{a:?}"), format!("{clap_args:?}"), "{case:?}");
            assert_eq!(format!("{g:?}"), format!("{:?}", cli.global), "{case:?}");
        }
    }
}
