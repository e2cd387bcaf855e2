//! Parsing one record at a byte offset, over a file or a slice, in bounded memory.
//!
//! The grammar (docs/bus.md has the prose): a record starts at a `---` line followed by
//! header lines and a closing `---` line. A framed header (`body_bytes`, `body_crc32`)
//! says exactly where its body ends; an unframed one runs to the next record start.
//! Anything else is an old one-line record `[YYYY-MM-DD HH:MM:SS] TYPE: body` or stray
//! text, kept as a record of its own. A framed record whose checksum fails was cut short
//! by a dying writer: it is reported `torn`, up to the next record start, so it never
//! hides what follows. What may still be being written is `Incomplete` and not reported.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;

use memchr::memmem;

use super::format::{
    crc32_update, is_writer_id, looks_like_key_line, offset_id, parse_header, parse_one_line,
    Header, Message, MAX_BODY,
};

/// How much a source reads ahead of what is asked.
const CHUNK: usize = 256 << 10;
/// The longest header considered; a longer one is not a header.
const MAX_HEADER: usize = 64 << 10;
const MAX_HEADER_LINES: usize = 128;
/// A writer's record start, recognised even in the middle of a line (after a torn one).
const STRONG: &[u8] = b"---\nmsg_id: MSG-";

/// Bytes of a bus up to a fixed end, read through a window so memory stays bounded.
pub(crate) struct Source<'a> {
    file: Option<&'a File>,
    mem: &'a [u8],
    eof: u64,
    buf: Vec<u8>,
    buf_off: u64,
}

impl<'a> Source<'a> {
    /// A source over `file` up to `eof` (the length seen when reading began).
    pub(crate) fn file(file: &'a File, eof: u64) -> Self {
        Self {
            file: Some(file),
            mem: &[],
            eof,
            buf: Vec::new(),
            buf_off: 0,
        }
    }

    /// A source over bytes in memory (tests, fuzzing).
    pub(crate) fn mem(bytes: &'a [u8]) -> Self {
        Self {
            file: None,
            mem: bytes,
            eof: bytes.len() as u64,
            buf: Vec::new(),
            buf_off: 0,
        }
    }

    pub(crate) fn eof(&self) -> u64 {
        self.eof
    }

    /// The bytes `[off, off + len)`, fewer at the end.
    pub(crate) fn get(&mut self, off: u64, len: usize) -> io::Result<&[u8]> {
        let end = off.saturating_add(len as u64).min(self.eof);
        if off >= end {
            return Ok(&[]);
        }
        let Some(file) = self.file else {
            return Ok(&self.mem[off as usize..end as usize]);
        };
        let have_end = self.buf_off + self.buf.len() as u64;
        if off < self.buf_off || end > have_end {
            let want = ((end - off) as usize + CHUNK).min((self.eof - off) as usize);
            self.buf.clear();
            self.buf.resize(want, 0);
            let mut got = 0;
            while got < want {
                match file.read_at(&mut self.buf[got..], off + got as u64) {
                    Ok(0) => break,
                    Ok(n) => got += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            self.buf.truncate(got);
            self.buf_off = off;
            if got < want {
                // The file shrank under us (truncated): read only what is there.
                self.eof = off + got as u64;
            }
        }
        let a = (off - self.buf_off) as usize;
        let b = ((end.min(self.eof)) - self.buf_off) as usize;
        Ok(&self.buf[a..b.max(a)])
    }

    fn byte(&mut self, off: u64) -> io::Result<Option<u8>> {
        Ok(self.get(off, 1)?.first().copied())
    }

    /// Whether a writer holds the bus lock now (a record at the end may be in progress).
    fn writer_active(&self) -> bool {
        let Some(file) = self.file else { return false };
        let fd = file.as_raw_fd();
        // SAFETY: flock on a descriptor we own; a shared probe, released at once.
        unsafe {
            if libc::flock(fd, libc::LOCK_SH | libc::LOCK_NB) != 0 {
                return io::Error::last_os_error().kind() == io::ErrorKind::WouldBlock;
            }
            libc::flock(fd, libc::LOCK_UN);
        }
        false
    }
}

/// What is at an offset.
// One value per record, moved once: boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub(crate) enum Step {
    /// A record; parsing goes on at its `end`.
    Record(Message),
    /// Blank filler (empty lines, NUL bytes, stray `---`); go on at the offset.
    Skip(u64),
    /// A record that may still be being written: not reported yet.
    Incomplete,
    /// Nothing more.
    End,
}

#[allow(clippy::large_enum_variant)]
enum HeaderAt {
    Valid {
        header: Header,
        closing: u64,
        body_start: u64,
    },
    /// Header lines that run into the end of the data: maybe being written.
    Unclosed,
    Invalid,
}

/// Parses what is at `off`.
pub(crate) fn parse_at(src: &mut Source, off: u64) -> io::Result<Step> {
    if off >= src.eof() {
        return Ok(Step::End);
    }
    match header_at(src, off, true)? {
        HeaderAt::Valid {
            header,
            closing,
            body_start,
        } => match header.body_bytes {
            Some(n) => framed(src, off, header, closing, body_start, n),
            None => unframed(src, off, header, body_start),
        },
        HeaderAt::Unclosed => Ok(Step::Incomplete),
        HeaderAt::Invalid => loose(src, off),
    }
}

fn framed(
    src: &mut Source,
    off: u64,
    header: Header,
    closing: u64,
    body_start: u64,
    n: u64,
) -> io::Result<Step> {
    let end = body_start.saturating_add(n);
    let available = end < src.eof();
    if available {
        let (body, truncated, crc) = read_region(src, body_start, end, true)?;
        let framing_ok = src.byte(end)? == Some(b'\n')
            && match header.body_crc32 {
                Some(c) => c == crc,
                // Framed by hand, without a checksum: the body must end where a record
                // starts (or at the end), or it may have swallowed the next opening
                // line; and it must not hold a writer's record, or its length was wrong.
                None => {
                    (end + 1 >= src.eof() || is_start(src, end + 1, true)?)
                        && !holds_writer_record(src, body_start, end)?
                }
            };
        if framing_ok {
            let mut msg = header.msg;
            msg.body = body;
            msg.truncated = truncated;
            return Ok(Step::Record(finish(msg, off, end + 1)));
        }
    } else if src.writer_active() {
        return Ok(Step::Incomplete);
    }
    // Cut short, or edited by hand: the record runs to the next record start. A
    // writer's header right at the closing line means this header lost its own `---`.
    let next = if strong_header_at(src, closing)? {
        Some(closing)
    } else {
        find_next_start(src, body_start, false)?
    };
    let next = match next {
        // In memory there is no lock to ask whether the writer is gone: only a writer's
        // record after this one proves the record will never complete.
        Some(s) if !available && src.file.is_none() && !strong_header_at(src, s)? => {
            find_next_strong_start(src, s + 1)?
        }
        other => other,
    };
    let stop = match next {
        Some(s) => s,
        None if available && ends_with_newline(src)? => src.eof(),
        None => return Ok(Step::Incomplete),
    };
    let (body, truncated, _) = read_region(src, body_start, stop.max(body_start), false)?;
    let mut msg = header.msg;
    msg.body = strip_newline(body);
    msg.truncated = truncated;
    msg.torn = true;
    Ok(Step::Record(finish(msg, off, stop)))
}

fn unframed(src: &mut Source, off: u64, header: Header, body_start: u64) -> io::Result<Step> {
    let stop = match find_next_start(src, body_start, false)? {
        Some(s) => s,
        None if ends_with_newline(src)? => src.eof(),
        None => return Ok(Step::Incomplete),
    };
    let (body, truncated, _) = read_region(src, body_start, stop, false)?;
    let mut msg = header.msg;
    msg.body = strip_newline(body);
    msg.truncated = truncated;
    Ok(Step::Record(finish(msg, off, stop)))
}

/// An old one-line record, or stray text up to the next record start.
fn loose(src: &mut Source, off: u64) -> io::Result<Step> {
    let first = src.get(off, 4096)?;
    // The line ends at its newline, or where a writer's record starts inside it (a torn
    // line with the next record appended right after).
    let nl = memchr::memchr(b'\n', first).map(|i| {
        match memmem::find(&first[..(i + STRONG.len()).min(first.len())], STRONG) {
            Some(j) if j > 0 && j <= i => (j, j),
            _ => (i, i + 1),
        }
    });
    let one_line = nl.and_then(|(i, next)| parse_one_line(&first[..i]).map(|r| (r, next)));
    let from = match &one_line {
        Some((_, next)) => off + *next as u64,
        None => off + 1,
    };
    let stop = match find_next_start(src, from, true)? {
        Some(s) => s,
        None if ends_with_newline(src)? => src.eof(),
        None => return Ok(Step::Incomplete),
    };
    let mut msg = Message::default();
    if let Some(((ts, msg_type, text), _)) = one_line {
        let (rest, truncated, _) = read_region(src, from, stop, false)?;
        msg.ts = ts;
        msg.msg_type = msg_type;
        msg.body = text;
        let rest = strip_newline(rest);
        if !rest.is_empty() {
            msg.body.push('\n');
            msg.body.push_str(&rest);
        }
        msg.truncated = truncated;
        return Ok(Step::Record(finish(msg, off, stop)));
    }
    let (text, truncated, _) = read_region(src, off, stop, false)?;
    if text
        .bytes()
        .all(|b| b.is_ascii_whitespace() || b == 0 || b == b'-')
        && !truncated
    {
        return Ok(Step::Skip(stop));
    }
    msg.body = strip_newline(text);
    msg.truncated = truncated;
    Ok(Step::Record(finish(msg, off, stop)))
}

fn finish(mut msg: Message, off: u64, end: u64) -> Message {
    if msg.msg_id.is_empty() {
        msg.msg_id = offset_id(off);
    }
    msg.offset = off;
    msg.end = end;
    msg
}

fn strip_newline(mut s: String) -> String {
    if s.ends_with('\n') {
        s.pop();
    }
    s
}

fn ends_with_newline(src: &mut Source) -> io::Result<bool> {
    let eof = src.eof();
    Ok(eof == 0 || src.byte(eof - 1)? == Some(b'\n'))
}

/// Reads `[a, b)` in chunks: the text (at most [`MAX_BODY`] bytes, lossy UTF-8),
/// whether it was cut, and the CRC-32 of all of it when asked.
fn read_region(src: &mut Source, a: u64, b: u64, crc: bool) -> io::Result<(String, bool, u32)> {
    let mut kept = Vec::with_capacity(((b - a) as usize).min(MAX_BODY));
    let mut sum = 0;
    let mut pos = a;
    while pos < b {
        let take = ((b - pos) as usize).min(1 << 20);
        let chunk = src.get(pos, take)?;
        if chunk.is_empty() {
            break;
        }
        if crc {
            sum = crc32_update(sum, chunk);
        }
        let room = MAX_BODY - kept.len();
        kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
        pos += chunk.len() as u64;
    }
    let truncated = (b - a) as usize > MAX_BODY;
    let text = match String::from_utf8(kept) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    };
    Ok((text, truncated, sum))
}

/// The header at `p`, if `p` holds `---` then header lines then `---`. With
/// `check_closing`, an unframed header whose closing line starts a writer's record is
/// refused: it is text that swallowed that record's opening line.
fn header_at(src: &mut Source, p: u64, check_closing: bool) -> io::Result<HeaderAt> {
    let eof = src.eof();
    let data = src.get(p, MAX_HEADER + 4)?;
    if !data.starts_with(b"---\n") {
        return Ok(HeaderAt::Invalid);
    }
    let reaches_eof = p + data.len() as u64 == eof;
    let mut lines: Vec<&[u8]> = Vec::new();
    let mut at = 4;
    let (closing, body_start) = loop {
        let Some(nl) = memchr::memchr(b'\n', &data[at..]) else {
            let plausible = lines
                .iter()
                .all(|l| looks_like_key_line(l) || l.starts_with(b" "));
            return Ok(if reaches_eof && plausible {
                HeaderAt::Unclosed
            } else {
                HeaderAt::Invalid
            });
        };
        let line = &data[at..at + nl];
        if line == b"---" || line == b"---\r" {
            break (p + at as u64, p + (at + nl + 1) as u64);
        }
        if lines.is_empty() && !looks_like_key_line(line) {
            return Ok(HeaderAt::Invalid);
        }
        lines.push(line);
        if lines.len() > MAX_HEADER_LINES {
            return Ok(HeaderAt::Invalid);
        }
        at += nl + 1;
    };
    let Some(header) = parse_header(&lines) else {
        return Ok(HeaderAt::Invalid);
    };
    if check_closing && header.body_bytes.is_none() && strong_header_at(src, closing)? {
        return Ok(HeaderAt::Invalid);
    }
    Ok(HeaderAt::Valid {
        header,
        closing,
        body_start,
    })
}

/// Whether a writer's framed header starts at `p`.
fn strong_header_at(src: &mut Source, p: u64) -> io::Result<bool> {
    if !src.get(p, STRONG.len())?.starts_with(STRONG) {
        return Ok(false);
    }
    Ok(match header_at(src, p, false)? {
        HeaderAt::Valid { header, .. } => {
            header.body_bytes.is_some() && is_writer_id(&header.msg.msg_id)
        }
        HeaderAt::Unclosed => true,
        HeaderAt::Invalid => false,
    })
}

/// The first record start at or after `from`: a `---` line opening a header (at a line
/// start, after NUL filler, or a writer's header anywhere), or with `one_line` an old
/// one-line record. Scans in chunks, so a 1 GB line costs time, not memory.
pub(crate) fn find_next_start(
    src: &mut Source,
    from: u64,
    one_line: bool,
) -> io::Result<Option<u64>> {
    let dashes = memmem::Finder::new(b"---\n");
    let mut pos = from;
    let eof = src.eof();
    while pos < eof {
        let base = pos.saturating_sub(1);
        let data = src.get(base, CHUNK)?;
        let data_end = base + data.len() as u64;
        // Candidates whose pattern could run past this chunk are left for the next one.
        let last_full = if data_end == eof {
            data_end
        } else {
            data_end.saturating_sub(STRONG.len() as u64 + 24)
        };
        let mut candidates: Vec<u64> = Vec::new();
        for i in dashes.find_iter(data) {
            let p = base + i as u64;
            if p < pos || p >= last_full {
                continue;
            }
            let line_start = p == 0 || matches!(data.get(i.wrapping_sub(1)), Some(b'\n' | 0));
            if line_start || data[i..].starts_with(STRONG) {
                candidates.push(p);
            }
        }
        if one_line {
            for i in memchr::memchr_iter(b'\n', data) {
                let p = base + i as u64 + 1;
                if p >= pos && p < last_full && data.get(i + 1) == Some(&b'[') {
                    candidates.push(p);
                }
            }
            if base == 0 && pos == 0 && data.first() == Some(&b'[') {
                candidates.push(0);
            }
            candidates.sort_unstable();
        }
        for p in candidates {
            if is_start(src, p, one_line)? {
                return Ok(Some(p));
            }
        }
        if last_full <= pos {
            // Not even one full candidate fits: a short tail before the end.
            if data_end == eof {
                break;
            }
            pos += 1;
        } else {
            pos = last_full;
        }
    }
    Ok(None)
}

/// Whether a writer's record starts anywhere in `[a, b)`.
fn holds_writer_record(src: &mut Source, a: u64, b: u64) -> io::Result<bool> {
    let finder = memmem::Finder::new(STRONG);
    let mut pos = a;
    while pos < b {
        let data = src.get(pos, CHUNK)?;
        if data.is_empty() {
            break;
        }
        let hits: Vec<u64> = finder
            .find_iter(data)
            .map(|i| pos + i as u64)
            .filter(|&p| p < b)
            .collect();
        let step = (data.len() as u64)
            .saturating_sub(STRONG.len() as u64 - 1)
            .max(1);
        for p in hits {
            if strong_header_at(src, p)? {
                return Ok(true);
            }
        }
        pos += step;
    }
    Ok(false)
}

/// The first writer's record start at or after `from`.
fn find_next_strong_start(src: &mut Source, mut from: u64) -> io::Result<Option<u64>> {
    while let Some(s) = find_next_start(src, from, false)? {
        if strong_header_at(src, s)? {
            return Ok(Some(s));
        }
        from = s + 1;
    }
    Ok(None)
}

fn is_start(src: &mut Source, p: u64, one_line: bool) -> io::Result<bool> {
    let head = src.get(p, 4)?;
    if head.starts_with(b"---\n") {
        return Ok(matches!(
            header_at(src, p, true)?,
            HeaderAt::Valid { .. } | HeaderAt::Unclosed
        ));
    }
    if one_line && head.first() == Some(&b'[') {
        let line = src.get(p, 4096)?;
        if let Some(nl) = memchr::memchr(b'\n', line) {
            return Ok(parse_one_line(&line[..nl]).is_some());
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(bytes: &[u8]) -> Vec<Message> {
        let mut src = Source::mem(bytes);
        let mut out = Vec::new();
        let mut pos = 0;
        loop {
            match parse_at(&mut src, pos).unwrap() {
                Step::Record(m) => {
                    assert!(m.end > pos);
                    pos = m.end;
                    out.push(m);
                }
                Step::Skip(p) => {
                    assert!(p > pos);
                    pos = p
                }
                Step::Incomplete | Step::End => return out,
            }
        }
    }

    #[test]
    fn hand_written_old_and_stray_records_read() {
        let text = b"stray words\n\
[2024-01-02 03:04:05] FACT: old one\n\
---\ntype: QUESTION\n---\nWhich database?\n\
---\ntype: INFO\nto: 'x'\n---\nline 1\n\nline 3\n";
        let m = all(text);
        let got: Vec<_> = m
            .iter()
            .map(|m| (m.msg_type.as_str(), m.body.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("", "stray words"),
                ("FACT", "old one"),
                ("QUESTION", "Which database?"),
                ("INFO", "line 1\n\nline 3")
            ]
        );
        assert_eq!(m[1].msg_id, "OFF-12");
    }

    #[test]
    fn a_last_line_without_newline_is_not_reported_yet() {
        assert!(all(b"---\ntype: X\n---\npartial").is_empty());
        assert!(all(b"---\ntype: X\n").is_empty());
        assert!(all(b"\0\0\0\0").is_empty());
        assert_eq!(all(b"\n\n\0\0\n").len(), 0);
    }

    fn writer_record(i: usize, body: &str) -> Vec<u8> {
        let msg = crate::bus::format::NewMessage {
            msg_type: "PROGRESS".into(),
            from: "run-1".into(),
            body: body.into(),
            ..Default::default()
        };
        let id = format!("MSG-20260101-000000-000000000-PID00001-{i:04}");
        crate::bus::format::encode(&msg, &id, std::time::SystemTime::UNIX_EPOCH)
    }

    /// Acceptance 2: every prefix of a record (a writer killed at any byte), followed by
    /// a valid record: the valid record is read, exact, once.
    #[test]
    fn every_prefix_of_a_record_then_a_valid_record_reads_the_valid_one() {
        let quoted = String::from_utf8(writer_record(7, "quoted\n")).unwrap();
        let bodies = [
            "plain".to_owned(),
            "".to_owned(),
            "a\n---\ntype: FAKE\nbody_bytes: 3\n---\nb\n---\n\n".to_owned(),
            format!("before\n{quoted}after\n"),
        ];
        for body in &bodies {
            let a = writer_record(1, body);
            let b_body = "the valid one\n---\nx: y\n---\n";
            let b = writer_record(2, b_body);
            for k in 0..a.len() {
                let mut data = a[..k].to_vec();
                data.extend_from_slice(&b);
                let got = all(&data);
                let valid: Vec<_> = got.iter().filter(|m| m.msg_id.ends_with("-0002")).collect();
                assert_eq!(valid.len(), 1, "prefix {k} of {body:?}: {got:#?}");
                assert_eq!(valid[0].body, b_body, "prefix {k}");
                assert!(!valid[0].torn);
                assert_eq!(
                    got.last().unwrap().msg_id,
                    valid[0].msg_id,
                    "prefix {k}: B is last"
                );
            }
            // The whole record followed by B: both, exact, nothing torn.
            let mut data = a.clone();
            data.extend_from_slice(&b);
            let got = all(&data);
            assert_eq!(got.len(), 2);
            assert_eq!(got[0].body, *body);
            assert!(got.iter().all(|m| !m.torn));
        }
    }

    /// A record still being written (every prefix, nothing after it) is never reported.
    #[test]
    fn a_prefix_alone_reports_nothing_of_it() {
        let a = writer_record(1, "x\n---\ntype: Y\n---\nz");
        for k in 0..a.len() {
            let got = all(&a[..k]);
            assert!(
                got.iter()
                    .all(|m| m.msg_type.is_empty() && m.body.trim_matches('-').trim().is_empty())
                    || got.is_empty(),
                "prefix {k}: {got:#?}"
            );
        }
        assert_eq!(all(&a).len(), 1);
    }
}
