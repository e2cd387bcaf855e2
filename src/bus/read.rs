//! Reading a bus without a lock: forward from an offset, streaming, or the last records
//! from the end of the file without reading the rest.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

use memchr::memmem;

use super::error::BusError;
use super::format::{is_writer_id, Message};
use super::parse::{parse_at, Source, Step};

/// Below this size a tail reads the whole file forward; above it, from the end.
const SMALL: u64 = 1 << 20;
const BACK_CHUNK: u64 = 256 << 10;
/// A writer's record start at a line start: `\n` then the record's first bytes.
const ANCHOR: &[u8] = b"\n---\nmsg_id: MSG-";

/// Opens a bus for reading; `None` when it does not exist yet. Refuses FIFOs and
/// directories (a FIFO is opened non-blocking so this never hangs).
pub(crate) fn open_read(path: &Path) -> Result<Option<File>, BusError> {
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::EISDIR) => {
            return Err(BusError::NotAFile {
                path: path.to_path_buf(),
                kind: "directory",
            })
        }
        Err(source) => {
            return Err(BusError::Open {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let t = file
        .metadata()
        .map_err(|source| BusError::Open {
            path: path.to_path_buf(),
            source,
        })?
        .file_type();
    if !t.is_file() {
        return Err(BusError::NotAFile {
            path: path.to_path_buf(),
            kind: if t.is_dir() {
                "directory"
            } else if t.is_fifo() {
                "FIFO"
            } else {
                "special file"
            },
        });
    }
    Ok(Some(file))
}

/// Reads the records in `[from, limit)` of `src`, giving each to `f` (which returns
/// `false` to stop). Returns where reading stopped: the end of the last record, or the
/// start of one not complete yet.
pub(crate) fn scan(
    src: &mut Source,
    from: u64,
    limit: u64,
    mut f: impl FnMut(Message) -> bool,
) -> io::Result<u64> {
    let mut pos = from;
    while pos < limit {
        match parse_at(src, pos)? {
            Step::Record(m) => {
                pos = m.end;
                if !f(m) {
                    break;
                }
            }
            Step::Skip(p) => pos = p,
            Step::Incomplete | Step::End => break,
        }
    }
    Ok(pos)
}

/// The last `n` records passing `keep`, in file order, and the offset where reading
/// stopped (for following on). Reads from the end: cost in proportion to what is shown.
pub(crate) fn tail(
    src: &mut Source,
    n: usize,
    keep: &dyn Fn(&Message) -> bool,
) -> io::Result<(Vec<Message>, u64)> {
    let (kept, stop) = walk_back(src, keep, &|k: &VecDeque<Message>| k.len() >= n, n)?;
    Ok((kept.into_iter().collect(), stop))
}

/// The records after the one with id `since` (all of them, unfiltered), and the offset
/// where reading stopped; `None` when no record has that id.
pub(crate) fn after(src: &mut Source, since: &str) -> io::Result<Option<(Vec<Message>, u64)>> {
    let found = |k: &VecDeque<Message>| k.iter().any(|m| m.msg_id == since);
    let (kept, stop) = walk_back(src, &|_| true, &found, usize::MAX)?;
    let Some(i) = kept.iter().position(|m| m.msg_id == since) else {
        return Ok(None);
    };
    Ok(Some((kept.into_iter().skip(i + 1).collect(), stop)))
}

/// Walks back from the end in segments between writer records whose checksum verifies
/// (anchors), keeping the last `cap` records passing `keep`, until `done` says enough.
/// Each segment must end exactly where the next one starts; if not, an anchor was a
/// record quoted inside another's body, and the walk re-reads forward from the earlier
/// anchor. One segment more than needed is read to check that.
fn walk_back(
    src: &mut Source,
    keep: &dyn Fn(&Message) -> bool,
    done: &dyn Fn(&VecDeque<Message>) -> bool,
    cap: usize,
) -> io::Result<(VecDeque<Message>, u64)> {
    let eof = src.eof();
    let mut kept: VecDeque<Message> = VecDeque::new();
    if eof <= SMALL {
        let stop = scan(src, 0, eof, |m| {
            push_capped(&mut kept, m, keep, cap);
            true
        })?;
        return Ok((kept, stop));
    }
    let mut anchors = Anchors {
        hi: eof,
        pending: Vec::new(),
    };
    let mut limit = eof;
    let mut stop = eof;
    let mut checked = false;
    while let Some(p) = anchors.next(src)? {
        if p != 0 && !is_anchor(src, p)? {
            continue;
        }
        let mut seg = VecDeque::new();
        let end = scan(src, p, limit, |m| {
            push_capped(&mut seg, m, keep, cap);
            true
        })?;
        if limit == eof {
            stop = end;
            kept = seg;
        } else if end != limit {
            kept.clear();
            stop = scan(src, p, eof, |m| {
                push_capped(&mut kept, m, keep, cap);
                true
            })?;
        } else {
            while let Some(m) = seg.pop_back() {
                if kept.len() >= cap {
                    break;
                }
                kept.push_front(m);
            }
        }
        if done(&kept) {
            if checked {
                break;
            }
            checked = true;
        }
        limit = p;
    }
    Ok((kept, stop))
}

fn push_capped(
    into: &mut VecDeque<Message>,
    m: Message,
    keep: &dyn Fn(&Message) -> bool,
    cap: usize,
) {
    if keep(&m) {
        if into.len() == cap {
            into.pop_front();
        }
        if cap > 0 {
            into.push_back(m);
        }
    }
}

/// Whether a writer's record whose checksum verifies starts at `p`.
fn is_anchor(src: &mut Source, p: u64) -> io::Result<bool> {
    Ok(match parse_at(src, p)? {
        Step::Record(m) => !m.torn && m.offset == p && is_writer_id(&m.msg_id),
        _ => false,
    })
}

/// Candidate anchors, from the end of the file back to 0 (always last).
struct Anchors {
    hi: u64,
    pending: Vec<u64>,
}

impl Anchors {
    fn next(&mut self, src: &mut Source) -> io::Result<Option<u64>> {
        let finder = memmem::Finder::new(ANCHOR);
        loop {
            if let Some(p) = self.pending.pop() {
                return Ok(Some(p));
            }
            if self.hi == 0 {
                return Ok(None);
            }
            let lo = self.hi.saturating_sub(BACK_CHUNK);
            // Reach past `hi` so an anchor straddling the boundary is found once.
            let len = (self.hi - lo) as usize + ANCHOR.len() - 1;
            let data = src.get(lo, len)?;
            for i in finder.find_iter(data) {
                let p = lo + i as u64 + 1;
                if p > lo && p <= self.hi {
                    self.pending.push(p);
                }
            }
            if lo == 0 {
                // The file start is always a record boundary: the walk's last stop.
                self.pending.insert(0, 0);
            }
            self.hi = lo;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::format::{encode, NewMessage};
    use std::time::SystemTime;

    fn record(i: usize, body: &str) -> Vec<u8> {
        let msg = NewMessage {
            msg_type: "T".into(),
            body: body.into(),
            ..NewMessage::default()
        };
        encode(
            &msg,
            &format!("MSG-20260101-000000-000000000-PID00001-{i:04}"),
            SystemTime::now(),
        )
    }

    #[test]
    fn tail_from_the_end_matches_a_forward_read_even_with_quoted_records() {
        let mut bytes = Vec::new();
        let mut bodies = Vec::new();
        for i in 0..3000 {
            // Every 7th body quotes a whole record, so the backward walk meets fake anchors.
            let body = if i % 7 == 0 {
                String::from_utf8(record(90_000 + i, "quoted\n---\n")).unwrap()
            } else {
                format!("body {i}\n---\ntype: FAKE\n---\n{}", "x".repeat(i % 500))
            };
            bytes.extend(record(i, &body));
            bodies.push(body);
        }
        assert!(bytes.len() as u64 > SMALL);
        for n in [1, 20, 333] {
            let mut src = Source::mem(&bytes);
            let (got, stop) = tail(&mut src, n, &|_| true).unwrap();
            assert_eq!(stop, bytes.len() as u64);
            let got: Vec<_> = got.iter().map(|m| m.body.clone()).collect();
            assert_eq!(got, bodies[bodies.len() - n..], "tail {n}");
        }
        let mut src = Source::mem(&bytes);
        let (rest, _) = after(&mut src, "MSG-20260101-000000-000000000-PID00001-2990")
            .unwrap()
            .unwrap();
        assert_eq!(rest.len(), 9);
    }
}
