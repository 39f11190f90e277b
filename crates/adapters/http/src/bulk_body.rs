//! A bulk body, parsed as it streams in: a JSON array of users, or CSV.
//! Memory holds one item at a time, never the body.
//!
//! - **JSON**: the array is split into its elements by a small scanner
//!   (strings, escapes and nesting), each element parsed on its own. An
//!   element that is not JSON is an error on that row; a body that is not an
//!   array, or breaks off, is refused whole.
//! - **CSV** (RFC 4180, by `csv-core`): a header row naming the fields in
//!   any order, then one user a row. `roles` and `teams` are `;`-separated
//!   lists; `telephonyConfigurations` is `platform:agentId[:extension]`
//!   items separated by `;`. Empty list items are ignored; an empty cell is
//!   an absent optional field (a required one is `blank`). A row with more
//!   fields than the header, or that is not UTF-8, is an error on that row.

use roster_application::InputItem;
use roster_domain::{Issue, IssueCode, RawValue};

use crate::error::MAX_BODY_BYTES;

/// Why a body is refused whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// Not a JSON array / no usable CSV header: a 400 report.
    Malformed(String),
    /// One item is larger than a single-user body may be: 413.
    ItemTooLarge(String),
}

/// The parser of either format.
pub enum BulkParser {
    Json(JsonItems),
    Csv(Box<CsvItems>),
}

impl BulkParser {
    /// Parses `chunk`, appending every item it completes to `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<InputItem>) -> Result<(), BodyError> {
        match self {
            BulkParser::Json(p) => p.feed(chunk, out),
            BulkParser::Csv(p) => p.feed(chunk, out),
        }
    }

    /// The body has ended.
    pub fn finish(&mut self, out: &mut Vec<InputItem>) -> Result<(), BodyError> {
        match self {
            BulkParser::Json(p) => p.finish(),
            BulkParser::Csv(p) => p.finish(out),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Before `[`.
    Start,
    /// After `[`: an element or `]`.
    First,
    /// After `,`: an element.
    Next,
    /// Inside an element.
    Item,
    /// After an element: `,` or `]`.
    After,
    /// After `]`.
    Done,
}

/// Splits a JSON array into its elements as bytes arrive.
pub struct JsonItems {
    phase: Phase,
    item: Vec<u8>,
    depth: u32,
    in_string: bool,
    escaped: bool,
    /// Bytes seen, for messages and the byte order mark.
    offset: u64,
    /// Elements emitted.
    count: u64,
}

impl Default for JsonItems {
    fn default() -> Self {
        JsonItems {
            phase: Phase::Start,
            item: Vec::new(),
            depth: 0,
            in_string: false,
            escaped: false,
            offset: 0,
            count: 0,
        }
    }
}

const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

impl JsonItems {
    fn emit(&mut self, out: &mut Vec<InputItem>) {
        let item = match serde_json::from_slice::<RawValue>(&self.item) {
            Ok(value) => InputItem::User(value),
            Err(e) => InputItem::Unreadable(Issue::new(
                "",
                IssueCode::MalformedJson,
                format!("the user at index {} is not valid JSON: {e}", self.count),
            )),
        };
        out.push(item);
        self.count += 1;
        self.item.clear();
        self.depth = 0;
    }

    fn start_item(&mut self) {
        self.phase = Phase::Item;
        self.in_string = false;
        self.escaped = false;
        self.depth = 0;
    }

    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<InputItem>) -> Result<(), BodyError> {
        let mut i = 0;
        while i < chunk.len() {
            let b = chunk[i];
            let at = self.offset;
            self.offset += 1;
            i += 1;
            match self.phase {
                Phase::Start => {
                    if at < 3 && b == BOM[at as usize] || b.is_ascii_whitespace() {
                        continue;
                    }
                    if b == b'[' {
                        self.phase = Phase::First;
                    } else {
                        return Err(BodyError::Malformed(format!(
                            "a bulk import is a JSON array of users ([{{…}}, {{…}}]); the body starts with '{}'{}",
                            char::from(b).escape_default(),
                            if b == b'{' { " (to send one user, POST it to …/user)" } else { "" }
                        )));
                    }
                }
                Phase::First | Phase::Next | Phase::After | Phase::Done if b.is_ascii_whitespace() => {}
                Phase::First if b == b']' => self.phase = Phase::Done,
                Phase::First | Phase::Next => {
                    self.start_item();
                    // this byte is the element's first
                    self.offset -= 1;
                    i -= 1;
                }
                Phase::After if b == b',' => self.phase = Phase::Next,
                Phase::After if b == b']' => self.phase = Phase::Done,
                Phase::After => {
                    return Err(BodyError::Malformed(format!(
                        "expected ',' or ']' after the user at index {} (byte {at}), found '{}'",
                        self.count.saturating_sub(1),
                        char::from(b).escape_default()
                    )));
                }
                Phase::Done => {
                    return Err(BodyError::Malformed(format!(
                        "unexpected data after the array's closing ']' (byte {at})"
                    )));
                }
                Phase::Item => {
                    if self.in_string {
                        self.item.push(b);
                        if self.escaped {
                            self.escaped = false;
                        } else if b == b'\\' {
                            self.escaped = true;
                        } else if b == b'"' {
                            self.in_string = false;
                        }
                    } else {
                        match b {
                            b'"' => {
                                self.in_string = true;
                                self.item.push(b);
                            }
                            b'{' | b'[' => {
                                self.depth += 1;
                                self.item.push(b);
                            }
                            b'}' | b']' if self.depth > 0 => {
                                self.depth -= 1;
                                self.item.push(b);
                                if self.depth == 0 {
                                    self.emit(out);
                                    self.phase = Phase::After;
                                }
                            }
                            b',' if self.depth == 0 => {
                                self.emit(out);
                                self.phase = Phase::Next;
                            }
                            b']' if self.depth == 0 => {
                                self.emit(out);
                                self.phase = Phase::Done;
                            }
                            _ if self.depth == 0 && b.is_ascii_whitespace() => {
                                self.emit(out);
                                self.phase = Phase::After;
                            }
                            _ => self.item.push(b),
                        }
                    }
                    if self.item.len() > MAX_BODY_BYTES {
                        return Err(BodyError::ItemTooLarge(format!(
                            "the user at index {} is larger than {MAX_BODY_BYTES} bytes (1 MiB)",
                            self.count
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    pub fn finish(&mut self) -> Result<(), BodyError> {
        match self.phase {
            Phase::Done => Ok(()),
            Phase::Start => Err(BodyError::Malformed(
                "the body is empty; send a JSON array of users (or text/csv with a header row)".to_owned(),
            )),
            _ => Err(BodyError::Malformed(format!(
                "the body ended before the array's closing ']' (after {} users, at byte {}); send it whole",
                self.count, self.offset
            ))),
        }
    }
}

/// How a CSV column becomes a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Text,
    List,
    Telephony,
}

fn column_kind(name: &str) -> Column {
    match name {
        "roles" | "teams" => Column::List,
        "telephonyConfigurations" => Column::Telephony,
        _ => Column::Text,
    }
}

/// Reads CSV records as bytes arrive; the first record is the header.
pub struct CsvItems {
    reader: csv_core::Reader,
    output: Vec<u8>,
    out_len: usize,
    ends: Vec<usize>,
    ends_len: usize,
    header: Option<Vec<(String, Column)>>,
    /// Data rows emitted.
    count: u64,
    started: bool,
    prefix: Vec<u8>,
}

impl Default for CsvItems {
    fn default() -> Self {
        CsvItems {
            reader: csv_core::Reader::new(),
            output: vec![0; 4096],
            out_len: 0,
            ends: vec![0; 64],
            ends_len: 0,
            header: None,
            count: 0,
            started: false,
            prefix: Vec::new(),
        }
    }
}

impl CsvItems {
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<InputItem>) -> Result<(), BodyError> {
        if !self.started {
            // The first 3 bytes decide whether there is a byte order mark.
            self.prefix.extend_from_slice(input);
            if self.prefix.len() < BOM.len() {
                return Ok(());
            }
            return self.start(out);
        }
        self.read(input, out, false)
    }

    fn start(&mut self, out: &mut Vec<InputItem>) -> Result<(), BodyError> {
        self.started = true;
        let prefix = std::mem::take(&mut self.prefix);
        self.read(prefix.strip_prefix(&BOM[..]).unwrap_or(&prefix), out, false)
    }

    pub fn finish(&mut self, out: &mut Vec<InputItem>) -> Result<(), BodyError> {
        if !self.started {
            self.start(out)?;
        }
        self.read(&[], out, true)?;
        if self.header.is_none() {
            return Err(BodyError::Malformed(
                "the CSV body is empty; send a header row naming the fields, then one user per row".to_owned(),
            ));
        }
        Ok(())
    }

    fn read(&mut self, mut input: &[u8], out: &mut Vec<InputItem>, end: bool) -> Result<(), BodyError> {
        use csv_core::ReadRecordResult as R;
        loop {
            let (result, nin, nout, nend) =
                self.reader.read_record(input, &mut self.output[self.out_len..], &mut self.ends[self.ends_len..]);
            input = &input[nin..];
            self.out_len += nout;
            self.ends_len += nend;
            match result {
                // All input taken; at the end, csv-core is called with empty
                // input until it says `End`.
                R::InputEmpty if !end => return Ok(()),
                R::InputEmpty => {
                    if nin == 0 && nout == 0 && nend == 0 {
                        return Ok(());
                    }
                }
                R::OutputFull => {
                    if self.output.len() > MAX_BODY_BYTES {
                        return Err(BodyError::ItemTooLarge(format!(
                            "CSV row {} is larger than {MAX_BODY_BYTES} bytes (1 MiB)",
                            self.count + 1
                        )));
                    }
                    let len = self.output.len() * 2;
                    self.output.resize(len, 0);
                }
                R::OutputEndsFull => {
                    let len = self.ends.len() * 2;
                    self.ends.resize(len, 0);
                }
                R::Record => {
                    self.record(out)?;
                    self.out_len = 0;
                    self.ends_len = 0;
                }
                R::End => return Ok(()),
            }
        }
    }

    fn record(&mut self, out: &mut Vec<InputItem>) -> Result<(), BodyError> {
        let mut fields = Vec::with_capacity(self.ends_len);
        let mut start = 0;
        for &end in &self.ends[..self.ends_len] {
            fields.push(&self.output[start..end]);
            start = end;
        }
        // A blank line is no row.
        if fields.len() == 1 && fields[0].iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        let Some(header) = &self.header else {
            let mut names: Vec<(String, Column)> = Vec::with_capacity(fields.len());
            for (n, f) in fields.iter().enumerate() {
                let name = std::str::from_utf8(f)
                    .map_err(|_| BodyError::Malformed(format!("CSV header column {} is not UTF-8", n + 1)))?
                    .trim()
                    .to_owned();
                if name.is_empty() {
                    return Err(BodyError::Malformed(format!(
                        "CSV header column {} has no name; the header row names the fields (userId, firstName, …)",
                        n + 1
                    )));
                }
                if names.iter().any(|(known, _)| *known == name) {
                    return Err(BodyError::Malformed(format!("CSV header names column '{name}' twice")));
                }
                let kind = column_kind(&name);
                names.push((name, kind));
            }
            self.header = Some(names);
            return Ok(());
        };
        let index = self.count;
        self.count += 1;
        if fields.len() > header.len() {
            out.push(InputItem::Unreadable(Issue::new(
                "",
                IssueCode::InvalidFormat,
                format!("CSV row {index} has {} fields, the header has {}", fields.len(), header.len()),
            )));
            return Ok(());
        }
        let mut entries = Vec::with_capacity(fields.len());
        for ((name, kind), bytes) in header.iter().zip(&fields) {
            let Ok(text) = std::str::from_utf8(bytes) else {
                out.push(InputItem::Unreadable(Issue::new(
                    name.clone(),
                    IssueCode::InvalidFormat,
                    format!("CSV row {index}: column '{name}' is not UTF-8"),
                )));
                return Ok(());
            };
            let value = match kind {
                Column::Text => RawValue::String(text.to_owned()),
                Column::List => RawValue::Array(items(text).map(RawValue::from).collect()),
                Column::Telephony => RawValue::Array(items(text).map(telephony).collect()),
            };
            entries.push((name.clone(), value));
        }
        out.push(InputItem::User(RawValue::Object(entries)));
        Ok(())
    }
}

/// The non-empty `;`-separated items of a cell.
fn items(cell: &str) -> impl Iterator<Item = &str> {
    cell.split(';').map(str::trim).filter(|s| !s.is_empty())
}

/// `platform:agentId[:extension]` as a telephony configuration object.
fn telephony(item: &str) -> RawValue {
    let mut parts = item.splitn(3, ':');
    let mut entries = Vec::with_capacity(3);
    for name in ["platform", "agentId", "extension"] {
        if let Some(part) = parts.next() {
            entries.push((name.to_owned(), RawValue::String(part.to_owned())));
        }
    }
    RawValue::Object(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(body: &[u8], piece: usize) -> Result<Vec<InputItem>, BodyError> {
        let mut p = JsonItems::default();
        let mut out = Vec::new();
        for chunk in body.chunks(piece.max(1)) {
            p.feed(chunk, &mut out)?;
        }
        p.finish()?;
        Ok(out)
    }

    fn csv(body: &[u8], piece: usize) -> Result<Vec<InputItem>, BodyError> {
        let mut p = CsvItems::default();
        let mut out = Vec::new();
        for chunk in body.chunks(piece.max(1)) {
            p.feed(chunk, &mut out)?;
        }
        p.finish(&mut out)?;
        Ok(out)
    }

    fn user(item: &InputItem) -> &RawValue {
        match item {
            InputItem::User(v) => v,
            other => panic!("expected a user, got {other:?}"),
        }
    }

    #[test]
    fn splits_an_array_however_it_is_cut() {
        let body = "\u{feff} [ {\"userId\": \"a,]}\\\"\", \"roles\": [\"x\", {\"y\": []}]} ,\n{\"userId\":\"b\"}, 42, \"s\", null ] ";
        let whole = json(body.as_bytes(), body.len()).unwrap();
        assert_eq!(whole.len(), 5);
        let RawValue::Object(first) = user(&whole[0]) else { panic!("object") };
        assert_eq!(first[0].1, RawValue::String("a,]}\\\"".replace("\\\"", "\"")));
        assert_eq!(user(&whole[2]), &RawValue::Number("42".into()));
        assert_eq!(user(&whole[4]), &RawValue::Null);
        for piece in 1..8 {
            assert_eq!(json(body.as_bytes(), piece).unwrap(), whole, "cut every {piece} bytes");
        }
    }

    #[test]
    fn a_bad_element_is_an_error_on_its_row() {
        let items = json(br#"[{"userId": "a"}, {"userId": }, {"userId": "c"}]"#, 3).unwrap();
        assert_eq!(items.len(), 3);
        let InputItem::Unreadable(issue) = &items[1] else { panic!("unreadable") };
        assert_eq!(issue.code, IssueCode::MalformedJson);
        assert!(issue.message.contains("index 1"), "{}", issue.message);
        assert!(matches!(items[2], InputItem::User(_)));
    }

    #[test]
    fn refuses_what_is_not_an_array() {
        let malformed = |body: &[u8]| match json(body, 4) {
            Err(BodyError::Malformed(m)) => m,
            other => panic!("expected malformed, got {other:?}"),
        };
        assert!(malformed(b"").contains("empty"));
        assert!(malformed(b"{\"userId\": \"a\"}").contains("…/user"));
        assert!(malformed(b"[{\"a\": 1}").contains("ended before"));
        assert!(malformed(b"[{\"a\": 1} {\"b\": 2}]").contains("expected ','"));
        assert!(malformed(b"[] x").contains("after the array"));
        assert_eq!(json(b"[]", 1).unwrap(), Vec::new());
    }

    #[test]
    fn csv_rows_become_users() {
        let body = "\u{feff}telephonyConfigurations,userId,roles,firstName,extra\r\n\
                    \"Genesys:10:42;Avaya:7\",a-1,Agent;Supervisor;,\"Lee, Ann\",x\n\
                    \n\
                    ,b-2\n\
                    a,b,c,d,e,f\n";
        let whole = csv(body.as_bytes(), body.len()).unwrap();
        assert_eq!(whole.len(), 3, "{whole:?}");
        let RawValue::Object(a) = user(&whole[0]) else { panic!("object") };
        let get = |k: &str| a.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap();
        assert_eq!(get("firstName"), RawValue::from("Lee, Ann"));
        assert_eq!(get("roles"), RawValue::Array(vec!["Agent".into(), "Supervisor".into()]));
        let RawValue::Array(t) = get("telephonyConfigurations") else { panic!("array") };
        assert_eq!(
            t[0],
            RawValue::Object(vec![
                ("platform".into(), "Genesys".into()),
                ("agentId".into(), "10".into()),
                ("extension".into(), "42".into())
            ])
        );
        assert_eq!(get("extra"), RawValue::from("x"));
        let RawValue::Object(b) = user(&whole[1]) else { panic!("object") };
        assert_eq!(b.len(), 2, "missing trailing columns are absent");
        let InputItem::Unreadable(issue) = &whole[2] else { panic!("a too-long row is an error") };
        assert!(issue.message.contains("row 2 has 6 fields"), "{}", issue.message);
        for piece in 1..9 {
            assert_eq!(csv(body.as_bytes(), piece).unwrap(), whole, "cut every {piece} bytes");
        }
    }

    #[test]
    fn csv_without_a_usable_header_is_refused() {
        assert!(matches!(csv(b"", 4), Err(BodyError::Malformed(m)) if m.contains("empty")));
        assert!(matches!(csv(b"userId,,x\n", 4), Err(BodyError::Malformed(m)) if m.contains("column 2")));
        assert!(matches!(csv(b"userId,userId\n", 4), Err(BodyError::Malformed(m)) if m.contains("twice")));
        assert_eq!(csv(b"userId,firstName\n", 4).unwrap(), Vec::new());
    }
}
