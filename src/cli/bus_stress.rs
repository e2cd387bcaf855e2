//! `run-agent bus stress` (hidden): one writer process of the stress tests and
//! benchmarks. Appends `--count` messages through one open bus, bodies
//! `w<W> s<S>\n` plus one repeated letter up to a size between `--min-size` and
//! `--max-size` (log-uniform), and with `--print-ids` prints each id once its append
//! returned, so a test knows which posts were acknowledged.

use std::io::Write;
use std::path::PathBuf;

use clap::Args;

use super::output;
use crate::bus::append::{AppendOptions, Appender};
use crate::bus::format::{encode, new_msg_id, NewMessage};
use crate::error::Error;

#[derive(Debug, Args)]
pub(crate) struct StressArgs {
    #[arg(long, value_name = "FILE")]
    pub(crate) bus: PathBuf,
    #[arg(long, default_value_t = 1000)]
    pub(crate) count: u64,
    /// This writer's number, written into each body
    #[arg(long, default_value_t = 0)]
    pub(crate) writer: u64,
    #[arg(long, default_value_t = 1)]
    pub(crate) min_size: usize,
    #[arg(long, default_value_t = 64 << 10)]
    pub(crate) max_size: usize,
    #[arg(long)]
    pub(crate) print_ids: bool,
    /// Reopen the bus for every message (as `bus post` does) instead of keeping it open
    #[arg(long)]
    pub(crate) reopen: bool,
    /// Write each record in pieces of this many bytes (as `cat >> bus` does), so a
    /// killed writer leaves a torn record
    #[arg(long, value_name = "BYTES")]
    pub(crate) chunked: Option<usize>,
}

pub(crate) fn run(args: StressArgs) -> Result<u8, Error> {
    let opts = AppendOptions::from_env();
    let mut appender = Appender::open(&args.bus, opts.clone())?;
    let mut rng = args.writer.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut stdout = std::io::stdout().lock();
    for seq in 0..args.count {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let size = log_uniform(rng, args.min_size.max(1), args.max_size.max(1));
        let msg = NewMessage {
            msg_type: "STRESS".into(),
            body: body(args.writer, seq, size),
            ..NewMessage::default()
        };
        if args.reopen {
            appender = Appender::open(&args.bus, opts.clone())?;
        }
        let id = match args.chunked {
            None => appender.append(&msg)?,
            Some(chunk) => {
                let now = std::time::SystemTime::now();
                let id = new_msg_id(now);
                appender.append_chunked(&encode(&msg, &id, now), chunk)?;
                id
            }
        };
        if args.print_ids {
            writeln!(stdout, "{id}")
                .and_then(|()| stdout.flush())
                .map_err(|_| Error::BrokenPipe)?;
        }
    }
    if !args.print_ids {
        output::line(&format!("{} messages", args.count))?;
    }
    Ok(0)
}

/// `w<W> s<S>\n` then one letter repeated, `size` bytes in all (at least the first line).
pub(crate) fn body(writer: u64, seq: u64, size: usize) -> String {
    let mut b = format!("w{writer} s{seq}\n");
    let letter = (b'a' + ((writer * 7 + seq) % 26) as u8) as char;
    let fill = size.saturating_sub(b.len());
    b.push_str(&letter.to_string().repeat(fill));
    b
}

fn log_uniform(r: u64, min: usize, max: usize) -> usize {
    if max <= min {
        return min;
    }
    let (lo, hi) = ((min as f64).ln(), (max as f64).ln());
    let u = (r >> 11) as f64 / (1u64 << 53) as f64;
    ((lo + u * (hi - lo)).exp() as usize).clamp(min, max)
}
