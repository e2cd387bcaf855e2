//! The reader's invariants, checked on arbitrary bytes by the `cargo fuzz` target
//! (`fuzz/fuzz_targets/bus_reader.rs`) and by unit tests.

use std::time::SystemTime;

use super::format::{encode, NewMessage};
use super::parse::{parse_at, Source, Step};
use super::read::tail;

/// Reads `bytes` as a bus, then `bytes` followed by a valid record. Panics when the
/// reader stalls, goes backwards, or the appended record is not read back exactly, last.
pub(crate) fn check(bytes: &[u8]) {
    let alone = read_all(bytes);
    let mut src = Source::mem(bytes);
    let (tailed, _) = tail(&mut src, 5, &|_| true).expect("reading memory cannot fail");
    let from_forward: Vec<_> = alone.iter().rev().take(5).rev().cloned().collect();
    assert_eq!(tailed, from_forward, "tail agrees with a forward read");

    let msg = NewMessage {
        msg_type: "FUZZ".into(),
        body: "the valid one\n---\ntype: X\n---\n".into(),
        ..NewMessage::default()
    };
    let id = "MSG-20260101-000000-000000000-PID00001-0001";
    let mut data = bytes.to_vec();
    data.extend_from_slice(&encode(&msg, id, SystemTime::UNIX_EPOCH));
    let all = read_all(&data);
    let last = all.last().expect("the appended record is read");
    assert_eq!(last.msg_id, id);
    assert_eq!(last.body, msg.body);
    assert!(!last.torn);
}

fn read_all(bytes: &[u8]) -> Vec<super::format::Message> {
    let mut src = Source::mem(bytes);
    let mut pos = 0;
    let mut out = Vec::new();
    loop {
        match parse_at(&mut src, pos).expect("reading memory cannot fail") {
            Step::Record(m) => {
                assert!(m.end > pos && m.offset == pos, "progress");
                assert!(m.end <= bytes.len() as u64);
                pos = m.end;
                out.push(m);
            }
            Step::Skip(p) => {
                assert!(p > pos && p <= bytes.len() as u64, "progress");
                pos = p;
            }
            Step::Incomplete | Step::End => return out,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::check;
    use proptest::prelude::*;

    #[test]
    fn known_nasty_prefixes_pass() {
        for g in [
            &b""[..],
            b"---\n",
            b"---\ntype: X\n",
            b"---\ntype: X\nfoo: ",
            b"---\ntype: X\nbody_bytes: 3\n---\n",
            b"---\ntype: X\nbody_bytes: 99999\n",
            b"---\nmsg_id: MSG-1-PID1\nbody_bytes: 4\n",
            b"[2024-01-01 10:00:00] X: y\n",
            b"foo\n---\n",
            b"\0\0\0",
            b"---\ntype: X\n---\nbody without newline",
            b"-\0\0--\nmsg_id: MSG-20261121-115228-\nWhich$df?\n[2024-01-01 10:00:00] OLD: one lin\x0027912-PID-P1ID11044-000",
            b"[2024-01-01 10:00:00] OLD: torn",
            b"---\nmsg_id: MSG-1-PID1\nbody_bytes: 2111111\nbody_crc32: 261eb308\n---\nx\n---\ntype: X X\n---\n\n",
        ] {
            check(g);
        }
    }

    /// Every input the fuzzer ever failed on (fuzz/regressions/) passes now.
    #[test]
    fn fuzz_regressions_pass() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/regressions");
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            let r = std::panic::catch_unwind(|| check(&bytes));
            if r.is_err() {
                let mut data = bytes.clone();
                data.extend_from_slice(
                    b"---\nmsg_id: MSG-20260101-000000-000000000-PID00001-0001\n",
                );
                for m in super::read_all(&bytes) {
                    eprintln!(
                        "{} {}..{} {:?} torn={}",
                        m.msg_id, m.offset, m.end, m.msg_type, m.torn
                    );
                }
                panic!("{} fails", path.display());
            }
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_pass(bytes in proptest::collection::vec(
            prop_oneof![Just(b'-'), Just(b'\n'), Just(b':'), Just(b' '), Just(0u8), any::<u8>(), Just(b'a')],
            0..300,
        )) {
            check(&bytes);
        }
    }
}
