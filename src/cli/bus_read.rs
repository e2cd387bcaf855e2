//! `run-agent bus read`: the last messages (read from the end of the file), those after
//! an id, those not yet seen by a reader name, then optionally follow.

use std::io::{self, BufWriter, Write};
use std::time::Duration;

use clap::Args;

use super::args::GlobalArgs;
use super::bus::BusTarget;
use super::context::env_nonempty;
use super::output::stdout_error;
use crate::bus::append::DEFAULT_LOCK_TIMEOUT;
use crate::bus::cursor::Cursor;
use crate::bus::follow::{poll_interval_from_env, Follower};
use crate::bus::format::Message;
use crate::bus::parse::Source;
use crate::bus::read::{after, open_read, scan, tail};
use crate::config::duration::parse_cli;
use crate::error::Error;
use crate::storage::ids::validate_id;

#[derive(Debug, Args)]
pub(crate) struct ReadArgs {
    #[command(flatten)]
    pub(crate) target: BusTarget,
    /// Show the last N messages (0 = all) [default: 20; all with --since or --unread]
    #[arg(long, value_name = "N")]
    pub(crate) tail: Option<usize>,
    /// Show only messages after this one
    #[arg(long, value_name = "MSG_ID", conflicts_with = "unread")]
    pub(crate) since: Option<String>,
    /// Show only messages of this type
    #[arg(long = "type", value_name = "TYPE")]
    pub(crate) msg_type: Option<String>,
    /// Keep printing messages as they arrive
    #[arg(long)]
    pub(crate) follow: bool,
    /// Only messages addressed to this run ($JRUN_ID) and broadcasts
    #[arg(long)]
    pub(crate) mine: bool,
    /// Only messages the reader --as NAME has not been shown yet (a cursor per name)
    #[arg(long, requires = "reader")]
    pub(crate) unread: bool,
    /// Reader name for --unread
    #[arg(long = "as", value_name = "NAME", id = "reader", requires = "unread")]
    pub(crate) reader: Option<String>,
    /// One JSON object per message, one per line
    #[arg(long)]
    pub(crate) json: bool,
    /// How often --follow looks at the file when no file event comes [default:
    /// $JRUN_POLL_INTERVAL, else 250ms]
    #[arg(long, value_name = "DURATION", value_parser = parse_cli)]
    pub(crate) poll_interval: Option<Duration>,
}

/// Which messages to print.
struct Filter {
    msg_type: Option<String>,
    me: Option<String>,
}

impl Filter {
    fn keep(&self, m: &Message) -> bool {
        if let Some(t) = &self.msg_type {
            if &m.msg_type != t {
                return false;
            }
        }
        match &self.me {
            Some(me) => m.to.is_empty() || &m.to == me,
            None => true,
        }
    }
}

pub(crate) fn run(args: ReadArgs, global: &GlobalArgs) -> Result<u8, Error> {
    let bus = args.target.resolve(global, false)?;
    let me = if args.mine {
        Some(env_nonempty("JRUN_ID").ok_or_else(|| {
            Error::Usage("--mine: $JRUN_ID is not set (it is set inside a run)".into())
        })?)
    } else {
        None
    };
    let filter = Filter {
        msg_type: args.msg_type.clone(),
        me,
    };
    let mut cursor = match &args.reader {
        Some(name) => {
            validate_id("reader", name)?;
            Some(Cursor::open(&bus, name, DEFAULT_LOCK_TIMEOUT)?)
        }
        None => None,
    };
    let read_err = |source| crate::bus::error::BusError::Read {
        path: bus.clone(),
        source,
    };
    let file = open_read(&bus)?;
    let mut out = Printer::new(args.json);
    let mut stop = 0;
    if let Some(file) = &file {
        let eof = file.metadata().map_err(read_err)?.len();
        let mut src = Source::file(file, eof);
        let shown: Vec<Message> = if let Some(c) = &cursor {
            let mut v = Vec::new();
            stop = scan(&mut src, c.start(file), eof, |m| {
                if filter.keep(&m) {
                    v.push(m);
                }
                true
            })
            .map_err(read_err)?;
            last(v, args.tail.unwrap_or(0))
        } else if let Some(since) = &args.since {
            let Some((v, s)) = after(&mut src, since).map_err(read_err)? else {
                return Err(Error::Failed(format!(
                    "no message {since} in {} (was the bus rotated? see its .archived files)",
                    bus.display()
                )));
            };
            stop = s;
            last(
                v.into_iter().filter(|m| filter.keep(m)).collect(),
                args.tail.unwrap_or(0),
            )
        } else {
            match args.tail.unwrap_or(20) {
                0 => {
                    // Everything: stream it, never holding the whole bus.
                    let mut failed = None;
                    stop = scan(&mut src, 0, eof, |m| {
                        if filter.keep(&m) {
                            if let Err(e) = out.print(&m) {
                                failed = Some(e);
                                return false;
                            }
                        }
                        true
                    })
                    .map_err(read_err)?;
                    if let Some(e) = failed {
                        return Err(e);
                    }
                    Vec::new()
                }
                n => {
                    let (v, s) = tail(&mut src, n, &|m| filter.keep(m)).map_err(read_err)?;
                    stop = s;
                    v
                }
            }
        };
        for m in &shown {
            out.print(m)?;
        }
        out.flush()?;
        if let Some(c) = &mut cursor {
            c.save(file, stop)?;
        }
    }
    out.flush()?;
    if !args.follow {
        return Ok(0);
    }
    let poll = args.poll_interval.unwrap_or_else(poll_interval_from_env);
    let mut follower = Follower::new(&bus, file, stop, poll);
    loop {
        let mut failed = None;
        follower.poll_once(&mut |m| {
            if failed.is_none() && filter.keep(&m) {
                failed = out.print(&m).err();
            }
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        out.flush()?;
        if let Some(c) = &mut cursor {
            if let Some((file, pos)) = follower.position() {
                if pos != stop {
                    c.save(file, pos)?;
                    stop = pos;
                }
            }
        }
        follower.wait();
    }
}

fn last(mut v: Vec<Message>, n: usize) -> Vec<Message> {
    if n > 0 && v.len() > n {
        v.drain(..v.len() - n);
    }
    v
}

/// Messages on stdout: JSON lines, or a header line and the body for people.
struct Printer {
    json: bool,
    out: BufWriter<io::Stdout>,
}

impl Printer {
    fn new(json: bool) -> Self {
        Self {
            json,
            out: BufWriter::with_capacity(64 << 10, io::stdout()),
        }
    }

    fn print(&mut self, m: &Message) -> Result<(), Error> {
        let r = if self.json {
            serde_json::to_writer(&mut self.out, m)
                .map_err(io::Error::from)
                .and_then(|()| self.out.write_all(b"\n"))
        } else {
            self.human(m)
        };
        r.map_err(stdout_error)
    }

    fn human(&mut self, m: &Message) -> io::Result<()> {
        let o = &mut self.out;
        let ts = if m.ts.is_empty() { "-" } else { &m.ts };
        let ty = if m.msg_type.is_empty() {
            "-"
        } else {
            &m.msg_type
        };
        write!(o, "[{ts}] {ty}")?;
        if !m.from.is_empty() {
            write!(o, " from {}", m.from)?;
        }
        if !m.to.is_empty() {
            write!(o, " to {}", m.to)?;
        }
        if m.torn {
            write!(o, " (torn)")?;
        }
        writeln!(o, " {}", m.msg_id)?;
        for line in m.body.split('\n') {
            writeln!(o, "    {line}")?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Error> {
        self.out.flush().map_err(stdout_error)
    }
}
