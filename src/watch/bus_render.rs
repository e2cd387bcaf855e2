//! A stand-in reader for bus chunks in `watch`: splits appended text into records on
//! `---` front matter and picks out type, from and body. The bus module's streaming
//! reader replaces this one function at merge; nothing else here knows the bus format.

/// One bus record as `watch` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct BusRecord {
    pub(crate) msg_type: String,
    pub(crate) from: String,
    pub(crate) body: String,
}

/// Splits a chunk of newly appended bus text into records. Writers append whole records
/// in one write, so a chunk normally ends at a record boundary; text outside any front
/// matter is kept as the body of an untyped record rather than dropped.
pub(crate) fn render_bus_chunk(chunk: &str) -> Vec<BusRecord> {
    enum State {
        Outside,
        Header,
        Body,
    }
    let mut out = Vec::new();
    let mut cur = BusRecord::default();
    let mut body: Vec<&str> = Vec::new();
    let mut state = State::Outside;
    let finish = |cur: &mut BusRecord, body: &mut Vec<&str>, out: &mut Vec<BusRecord>| {
        cur.body = body.join("\n").trim_end_matches('\n').to_owned();
        body.clear();
        let rec = std::mem::take(cur);
        if !(rec.msg_type.is_empty() && rec.from.is_empty() && rec.body.trim().is_empty()) {
            out.push(rec);
        }
    };
    for line in chunk.lines() {
        match state {
            State::Outside | State::Body if line == "---" => {
                finish(&mut cur, &mut body, &mut out);
                state = State::Header;
            }
            State::Outside | State::Body => body.push(line),
            State::Header if line == "---" => state = State::Body,
            State::Header => {
                if let Some((k, v)) = line.split_once(':') {
                    let v = v.trim().trim_matches('"').to_owned();
                    match k.trim() {
                        "type" => cur.msg_type = v,
                        "from" => cur.from = v,
                        _ => {}
                    }
                }
            }
        }
    }
    finish(&mut cur, &mut body, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_records_and_keeps_stray_text() {
        let text = "---\nmsg_id: M1\ntype: PROGRESS\nfrom: r1\n---\nTests pass.\n---\ntype: QUESTION\n---\nWhich db?\nsecond line\n";
        let recs = render_bus_chunk(text);
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].msg_type, "PROGRESS");
        assert_eq!(recs[0].from, "r1");
        assert_eq!(recs[0].body, "Tests pass.");
        assert_eq!(recs[1].body, "Which db?\nsecond line");
        let stray = render_bus_chunk("hello by hand\n");
        assert_eq!(stray[0].body, "hello by hand");
    }
}
