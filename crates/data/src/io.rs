//! Reading record files fast: each JSONL line is parsed straight into its record type, and
//! only a line that fails is parsed again slowly to name the file, line and field at fault.

use std::io::BufRead;
use std::path::Path;

use agentune_schema::{Sample, Trajectory};

use crate::error::{Error, Result};
use crate::record::Record;

/// Reads every record of a JSONL file, calling `progress` after each. Blank lines are
/// skipped; the first bad line is an error naming the file, line and field.
pub fn read_records(path: &Path, mut progress: impl FnMut()) -> Result<Vec<Record>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io("open", path, e))?;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    let mut line = String::new();
    let mut out = Vec::new();
    let mut n = 0usize;
    loop {
        line.clear();
        n += 1;
        let read = reader.read_line(&mut line).map_err(|e| {
            if e.kind() == std::io::ErrorKind::InvalidData {
                Error::input(path, Some(n), "record", "line is not valid UTF-8")
            } else {
                Error::io("read", path, e)
            }
        })?;
        if read == 0 {
            break;
        }
        let mut text = line.trim_end_matches(['\n', '\r']);
        if n == 1 {
            text = text.strip_prefix('\u{feff}').unwrap_or(text);
        }
        if text.trim().is_empty() {
            continue;
        }
        out.push(
            parse_line(text)
                .map_err(|(field, message)| Error::input(path, Some(n), field, message))?,
        );
        progress();
    }
    Ok(out)
}

/// Parses one record, fast when it is valid.
pub fn parse_line(text: &str) -> std::result::Result<Record, (String, String)> {
    // Fast path: the record's own type, chosen by a key that only it has.
    if text.contains("\"steps\"") {
        if let Ok(t) = serde_json::from_str::<Trajectory>(text) {
            return Ok(Record::from(t));
        }
    } else if text.contains("\"messages\"")
        && let Ok(s) = serde_json::from_str::<Sample>(text)
    {
        return Ok(Record::from(s));
    }
    // Slow path: find out exactly what is wrong.
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        (
            format!("column {}", e.column()),
            format!("invalid JSON: {e}"),
        )
    })?;
    Record::from_json(&value).map_err(|e| match e {
        agentune_schema::Error::Invalid {
            location, message, ..
        } => (location.to_string(), message),
        other => ("record".to_owned(), other.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_lines_name_line_and_field() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let p = dir.path().join("x.jsonl");
        let good = r#"{"id":"a","query":"q","steps":[{"step":{"type":"final_answer","answer":"x"}}],"outcome":"answered","provenance":{"source":"t"}}"#;
        let bad = r#"{"id":"b","query":"q","steps":[{"step":{"type":"final_answer","answr":"x"}}],"outcome":"answered","provenance":{"source":"t"}}"#;
        std::fs::write(&p, format!("{good}\n\n{bad}\n")).unwrap_or_else(|e| panic!("{e}"));
        let err = read_records(&p, || {}).map(|_| ()).unwrap_err().to_string();
        assert!(
            err.contains("x.jsonl:3") && err.contains("steps[0].step"),
            "{err}"
        );
        std::fs::write(&p, format!("{good}\n{{\"id\": \n")).unwrap_or_else(|e| panic!("{e}"));
        let err = read_records(&p, || {}).map(|_| ()).unwrap_err().to_string();
        assert!(
            err.contains("x.jsonl:2") && err.contains("invalid JSON"),
            "{err}"
        );
        std::fs::write(&p, format!("{good}\n")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read_records(&p, || {}).map(|r| r.len()).ok(), Some(1));
    }
}
