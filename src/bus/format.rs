//! The bus record format: YAML front matter between `---` lines, then the body.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use crate::storage::time::{rfc3339_nanos, stamp};

/// A message about to be written.
#[derive(Debug, Clone, Default)]
pub(crate) struct NewMessage {
    pub(crate) msg_type: String,
    pub(crate) project_id: String,
    pub(crate) task_id: String,
    pub(crate) run_id: String,
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) body: String,
}

static MSG_SEQ: AtomicU64 = AtomicU64::new(1);

/// `MSG-YYYYMMDD-HHMMSS-<ns>-PID<pid>-<seq>`: unique per process and ordered in time.
pub(crate) fn new_msg_id(now: SystemTime) -> String {
    let s = stamp(now);
    format!(
        "MSG-{}-{}-{}-PID{:05}-{:04}",
        s.date,
        s.time,
        s.nanos,
        std::process::id(),
        MSG_SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// Encodes a record. `body_bytes` frames the body so any body, even one holding `---`
/// lines, reads back exactly.
pub(crate) fn encode(msg: &NewMessage, msg_id: &str, now: SystemTime) -> Vec<u8> {
    let mut out = String::with_capacity(256 + msg.body.len());
    out.push_str("---\n");
    field(&mut out, "msg_id", msg_id);
    field(&mut out, "ts", &rfc3339_nanos(now));
    field(&mut out, "type", &msg.msg_type);
    field(&mut out, "project_id", &msg.project_id);
    field(&mut out, "task_id", &msg.task_id);
    field(&mut out, "run_id", &msg.run_id);
    field(&mut out, "from", &msg.from);
    field(&mut out, "to", &msg.to);
    out.push_str(&format!("body_bytes: {}\n---\n", msg.body.len()));
    out.push_str(&msg.body);
    out.push('\n');
    out.into_bytes()
}

fn field(out: &mut String, key: &str, value: &str) {
    out.push_str(key);
    out.push(':');
    if !value.is_empty() {
        out.push(' ');
        if value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
        {
            out.push_str(value);
        } else {
            // A JSON string is valid YAML and keeps any text on one line.
            out.push_str(&serde_json::to_string(value).unwrap_or_default());
        }
    }
    out.push('\n');
}
