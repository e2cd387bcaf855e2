//! The bus record format: YAML front matter between `---` lines, then the body, framed
//! by `body_bytes` and `body_crc32` so any body reads back exactly (SPEC §3).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use serde::Serialize;

use crate::storage::time::{rfc3339_nanos, stamp};

/// The largest body a record may carry, and the most of any one record a reader holds
/// in memory (a longer hand-written body is cut and marked `truncated`).
pub(crate) const MAX_BODY: usize = 16 << 20;

/// A message about to be written.
#[derive(Debug, Clone, Default)]
pub(crate) struct NewMessage {
    pub(crate) msg_type: String,
    pub(crate) project_id: String,
    pub(crate) task_id: String,
    pub(crate) run_id: String,
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) reply_to: String,
    pub(crate) meta: BTreeMap<String, String>,
    pub(crate) body: String,
}

/// A message as read back. The JSON shape is the stable one of SPEC §9; `torn` and
/// `truncated` appear only when set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Message {
    pub(crate) msg_id: String,
    pub(crate) ts: String,
    #[serde(rename = "type")]
    pub(crate) msg_type: String,
    pub(crate) project_id: String,
    pub(crate) task_id: String,
    pub(crate) run_id: String,
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) reply_to: String,
    pub(crate) meta: BTreeMap<String, String>,
    pub(crate) body: String,
    /// The record was cut short (its writer died) and another record follows it.
    #[serde(skip_serializing_if = "is_false")]
    pub(crate) torn: bool,
    /// The body was longer than [`MAX_BODY`] and only its start is kept.
    #[serde(skip_serializing_if = "is_false")]
    pub(crate) truncated: bool,
    /// Byte offset of the record in the file, and of the byte after it.
    #[serde(skip)]
    pub(crate) offset: u64,
    #[serde(skip)]
    pub(crate) end: u64,
}

fn is_false(b: &bool) -> bool {
    !*b
}

static MSG_SEQ: AtomicU64 = AtomicU64::new(1);
/// This process's id, asked once (`getpid` is a system call per message otherwise).
static PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();

fn pid() -> u32 {
    *PID.get_or_init(std::process::id)
}

/// `MSG-YYYYMMDD-HHMMSS-<ns>-PID<pid>-<seq>`: unique per process and ordered in time.
pub(crate) fn new_msg_id(now: SystemTime) -> String {
    id_and_ts(now).0
}

/// A new message id and the matching RFC 3339 timestamp, formatted once.
pub(crate) fn id_and_ts(now: SystemTime) -> (String, String) {
    let ts = rfc3339_nanos(now);
    // `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ`, always at nanosecond precision.
    let b = ts.as_bytes();
    let id = if b.len() == 30 {
        let pick = |r: std::ops::Range<usize>| std::str::from_utf8(&b[r]).unwrap_or("0");
        format!(
            "MSG-{}{}{}-{}{}{}-{}-PID{:05}-{:04}",
            pick(0..4),
            pick(5..7),
            pick(8..10),
            pick(11..13),
            pick(14..16),
            pick(17..19),
            pick(20..29),
            pid(),
            MSG_SEQ.fetch_add(1, Ordering::Relaxed)
        )
    } else {
        let s = stamp(now);
        format!(
            "MSG-{}-{}-{}-PID{:05}-{:04}",
            s.date,
            s.time,
            s.nanos,
            std::process::id(),
            MSG_SEQ.fetch_add(1, Ordering::Relaxed)
        )
    };
    (id, ts)
}

/// The stable id of a record that has none (hand-written, old one-line, stray text).
pub(crate) fn offset_id(offset: u64) -> String {
    format!("OFF-{offset}")
}

/// Whether `id` has the shape this writer gives ids. A header with such an id and no
/// framing is a writer's header cut short, not a hand-written record.
pub(crate) fn is_writer_id(id: &str) -> bool {
    id.starts_with("MSG-") && id.contains("-PID")
}

/// Encodes a record: header, `body_bytes` and `body_crc32` last, the body, a newline.
pub(crate) fn encode(msg: &NewMessage, msg_id: &str, now: SystemTime) -> Vec<u8> {
    encode_ts(msg, msg_id, &rfc3339_nanos(now))
}

/// [`encode`] with the timestamp already formatted.
pub(crate) fn encode_ts(msg: &NewMessage, msg_id: &str, ts: &str) -> Vec<u8> {
    use std::fmt::Write;
    let mut out = String::with_capacity(320 + msg.body.len());
    out.push_str("---\n");
    field(&mut out, "msg_id", msg_id);
    field(&mut out, "ts", ts);
    field(&mut out, "type", &msg.msg_type);
    field(&mut out, "project_id", &msg.project_id);
    field(&mut out, "task_id", &msg.task_id);
    field(&mut out, "run_id", &msg.run_id);
    field(&mut out, "from", &msg.from);
    field(&mut out, "to", &msg.to);
    if !msg.reply_to.is_empty() {
        field(&mut out, "reply_to", &msg.reply_to);
    }
    if !msg.meta.is_empty() {
        // A JSON object is a YAML flow mapping and keeps any keys on one line.
        out.push_str("meta: ");
        out.push_str(&serde_json::to_string(&msg.meta).unwrap_or_else(|_| "{}".into()));
        out.push('\n');
    }
    let body = msg.body.as_bytes();
    let _ = write!(
        out,
        "body_bytes: {}\nbody_crc32: {:08x}\n---\n",
        body.len(),
        crc32(body)
    );
    out.push_str(&msg.body);
    out.push('\n');
    out.into_bytes()
}

fn field(out: &mut String, key: &str, value: &str) {
    out.push_str(key);
    out.push(':');
    if !value.is_empty() {
        out.push(' ');
        if is_plain(value) {
            out.push_str(value);
        } else {
            // A JSON string is valid YAML and keeps any text on one line.
            out.push_str(&serde_json::to_string(value).unwrap_or_default());
        }
    }
    out.push('\n');
}

fn is_plain(value: &str) -> bool {
    value
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b':' | b'/' | b'@'))
        && !value.starts_with(['-', ':', '@'])
        && !value.ends_with(':')
}

/// A parsed header: the known keys, the rest in `meta`, and the framing if present.
#[derive(Debug, Default)]
pub(crate) struct Header {
    pub(crate) msg: Message,
    pub(crate) body_bytes: Option<u64>,
    pub(crate) body_crc32: Option<u32>,
}

/// Parses the lines between the `---` lines. `None` when any line is not a header line
/// (`key: value`, or an indented `k: v` under `meta:`), a key repeats, there is no key
/// at all, or a writer's id comes without its framing.
pub(crate) fn parse_header(lines: &[&[u8]]) -> Option<Header> {
    let mut h = Header::default();
    let mut seen: Vec<&[u8]> = Vec::with_capacity(lines.len());
    let mut in_meta = false;
    for raw in lines {
        let line = std::str::from_utf8(raw).ok()?;
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.starts_with([' ', '\t']) {
            if !in_meta {
                return None;
            }
            let (k, v) = split_key(line.trim_start())?;
            h.msg.meta.insert(k.to_owned(), scalar(v)?);
            continue;
        }
        in_meta = false;
        let (key, value) = split_key(line)?;
        if seen.contains(&key.as_bytes()) {
            return None;
        }
        seen.push(key.as_bytes());
        let m = &mut h.msg;
        match key {
            "msg_id" => m.msg_id = scalar(value)?,
            "ts" => m.ts = scalar(value)?,
            "type" => m.msg_type = scalar(value)?,
            "project_id" => m.project_id = scalar(value)?,
            "task_id" => m.task_id = scalar(value)?,
            "run_id" => m.run_id = scalar(value)?,
            "from" => m.from = scalar(value)?,
            "to" => m.to = scalar(value)?,
            "reply_to" => m.reply_to = scalar(value)?,
            "body_bytes" => h.body_bytes = Some(value.trim().parse().ok()?),
            "body_crc32" => h.body_crc32 = Some(u32::from_str_radix(value.trim(), 16).ok()?),
            "meta" => {
                let v = value.trim();
                if v.is_empty() {
                    in_meta = true;
                } else {
                    let map: BTreeMap<String, serde_json::Value> = serde_json::from_str(v).ok()?;
                    for (k, v) in map {
                        let v = match v {
                            serde_json::Value::String(s) => s,
                            other => other.to_string(),
                        };
                        m.meta.insert(k, v);
                    }
                }
            }
            other => {
                let v = scalar(value)?;
                m.meta.entry(other.to_owned()).or_insert(v);
            }
        }
    }
    if seen.is_empty() {
        return None;
    }
    if is_writer_id(&h.msg.msg_id) && (h.body_bytes.is_none() || h.body_crc32.is_none()) {
        return None;
    }
    Some(h)
}

/// Whether a line could be a header line (used to reject candidates cheaply).
pub(crate) fn looks_like_key_line(line: &[u8]) -> bool {
    std::str::from_utf8(line)
        .ok()
        .and_then(|l| split_key(l.strip_suffix('\r').unwrap_or(l)))
        .is_some()
}

fn split_key(line: &str) -> Option<(&str, &str)> {
    let colon = line.find(':')?;
    let key = &line[..colon];
    let rest = &line[colon + 1..];
    let ok_key = !key.is_empty()
        && key.len() <= 64
        && key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && key
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'));
    if !ok_key || !(rest.is_empty() || rest.starts_with(' ') || rest.starts_with('\t')) {
        return None;
    }
    Some((key, rest))
}

/// A YAML scalar as this format uses them: plain, `"double"` (JSON escapes) or
/// `'single'` quoted.
fn scalar(value: &str) -> Option<String> {
    let v = value.trim();
    if v.starts_with('"') {
        return serde_json::from_str(v).ok();
    }
    if let Some(inner) = v.strip_prefix('\'') {
        return Some(inner.strip_suffix('\'')?.replace("''", "'"));
    }
    Some(v.to_owned())
}

/// An old one-line record `[YYYY-MM-DD HH:MM:SS] TYPE: body`: its time, type and text.
pub(crate) fn parse_one_line(line: &[u8]) -> Option<(String, String, String)> {
    if line.len() < 24 || line[0] != b'[' || line[20] != b']' || line[21] != b' ' {
        return None;
    }
    let stamp = &line[1..20];
    let digits = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18];
    let shape = digits.iter().all(|&i| stamp[i].is_ascii_digit())
        && stamp[4] == b'-'
        && stamp[7] == b'-'
        && stamp[10] == b' '
        && stamp[13] == b':'
        && stamp[16] == b':';
    if !shape {
        return None;
    }
    let rest = std::str::from_utf8(&line[22..]).ok()?;
    let colon = rest
        .find(": ")
        .or_else(|| rest.strip_suffix(':').map(|r| r.len()))?;
    let msg_type = &rest[..colon];
    if msg_type.is_empty() || msg_type.len() > 64 || msg_type.contains(char::is_whitespace) {
        return None;
    }
    let body = rest.get(colon + 2..).unwrap_or("");
    let s = std::str::from_utf8(stamp).ok()?;
    let ts = format!("{}T{}Z", &s[..10], &s[11..]);
    Some((ts, msg_type.to_owned(), body.to_owned()))
}

/// CRC-32 (IEEE), the checksum of `body_crc32`.
pub(crate) fn crc32(bytes: &[u8]) -> u32 {
    crc32_update(0, bytes)
}

/// Continues a CRC-32 over more bytes (start with 0).
pub(crate) fn crc32_update(crc: u32, bytes: &[u8]) -> u32 {
    const TABLE: [[u32; 256]; 4] = crc_tables();
    let mut c = !crc;
    let mut chunks = bytes.chunks_exact(4);
    for w in &mut chunks {
        c ^= u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
        c = TABLE[3][(c & 0xff) as usize]
            ^ TABLE[2][((c >> 8) & 0xff) as usize]
            ^ TABLE[1][((c >> 16) & 0xff) as usize]
            ^ TABLE[0][(c >> 24) as usize];
    }
    for &b in chunks.remainder() {
        c = TABLE[0][((c ^ b as u32) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

const fn crc_tables() -> [[u32; 256]; 4] {
    let mut t = [[0u32; 256]; 4];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut i = 0;
    while i < 256 {
        let mut s = 1;
        while s < 4 {
            let prev = t[s - 1][i];
            t[s][i] = t[0][(prev & 0xff) as usize] ^ (prev >> 8);
            s += 1;
        }
        i += 1;
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(crc32(b""), 0);
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
        let split = crc32_update(crc32_update(0, &data[..333]), &data[333..]);
        assert_eq!(split, crc32(&data));
    }

    #[test]
    fn header_parsing_accepts_hand_written_and_refuses_cut_writer_headers() {
        let h = parse_header(&[b"type: QUESTION", b"priority: high", b"to: 'it''s'"]).unwrap();
        assert_eq!(h.msg.msg_type, "QUESTION");
        assert_eq!(h.msg.meta["priority"], "high");
        assert_eq!(h.msg.to, "it's");
        assert!(parse_header(&[b"msg_id: MSG-1-PID1-1", b"type: X"]).is_none());
        assert!(parse_header(&[b"type: X", b"type: Y"]).is_none());
        assert!(parse_header(&[b"just text"]).is_none());
        assert!(parse_header(&[]).is_none());
        let h = parse_header(&[b"meta:", b"  a: 1", b"  b: \"x y\""]).unwrap();
        assert_eq!(h.msg.meta["b"], "x y");
    }

    #[test]
    fn one_line_records_parse() {
        let (ts, t, b) = parse_one_line(b"[2024-01-02 03:04:05] FACT: it works: yes").unwrap();
        assert_eq!(
            (ts.as_str(), t.as_str(), b.as_str()),
            ("2024-01-02T03:04:05Z", "FACT", "it works: yes")
        );
        assert!(parse_one_line(b"[2024-01-02 03:04:05] not a type: x").is_none());
        assert!(parse_one_line(b"[2024-01-02] X: y").is_none());
    }
}
