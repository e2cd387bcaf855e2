//! Bus records for `watch`: newly appended bus bytes go through the bus module's own
//! reader, so `watch` shows exactly what `bus read` would, and a record still being
//! written (or torn) waits for its end instead of being shown half.

use crate::bus::parse::Source;
use crate::bus::read::scan;

/// One bus record as `watch` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct BusRecord {
    pub(crate) msg_type: String,
    pub(crate) from: String,
    pub(crate) body: String,
}

/// Takes the complete records from the front of `pending` (bytes appended to a bus and
/// not shown yet), leaving an incomplete last record for the next call.
pub(crate) fn take_records(pending: &mut Vec<u8>) -> Vec<BusRecord> {
    let mut out = Vec::new();
    let stop = {
        let mut src = Source::mem(pending);
        let len = src.eof();
        scan(&mut src, 0, len, |m| {
            out.push(BusRecord {
                msg_type: m.msg_type,
                from: m.from,
                body: m.body.trim_end_matches('\n').to_owned(),
            });
            true
        })
        .unwrap_or(0)
    };
    let stop = usize::try_from(stop)
        .unwrap_or(pending.len())
        .min(pending.len());
    pending.drain(..stop);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bus::format::{encode, NewMessage};
    use std::time::SystemTime;

    fn record(kind: &str, body: &str) -> Vec<u8> {
        let msg = NewMessage {
            msg_type: kind.to_owned(),
            from: "r1".to_owned(),
            body: body.to_owned(),
            ..NewMessage::default()
        };
        encode(
            &msg,
            "MSG-20261121-101500-000000001-PID00001-0001",
            SystemTime::now(),
        )
    }

    #[test]
    fn whole_records_come_out_and_a_partial_one_waits() {
        let mut pending = record("PROGRESS", "Tests pass.\n---\nnot a header");
        let second = record("QUESTION", "Which db?");
        pending.extend_from_slice(&second[..second.len() / 2]);
        let recs = take_records(&mut pending);
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].msg_type, "PROGRESS");
        assert_eq!(recs[0].from, "r1");
        assert_eq!(recs[0].body, "Tests pass.\n---\nnot a header");
        pending.extend_from_slice(&second[second.len() / 2..]);
        let recs = take_records(&mut pending);
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].body, "Which db?");
        assert!(pending.is_empty());
    }

    #[test]
    fn hand_written_records_read_too() {
        let mut pending = b"---\ntype: QUESTION\n---\nWhich db?\n".to_vec();
        pending.extend_from_slice(&record("INFO", "after"));
        let recs = take_records(&mut pending);
        assert_eq!(
            recs.iter().map(|r| r.msg_type.as_str()).collect::<Vec<_>>(),
            ["QUESTION", "INFO"]
        );
        assert_eq!(recs[0].body, "Which db?");
    }
}
