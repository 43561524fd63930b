//! docs/tools.md stays true to the code: every built-in tool is documented and the printed
//! currency table is exactly the one the tool uses.

#![allow(clippy::unwrap_used)]

use agentune_runtime::tools::{RATE_DATE, ToolRegistry, usd_rates};

fn doc() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/tools.md");
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn every_builtin_tool_is_documented() {
    let text = doc();
    let dir = tempfile::tempdir().unwrap();
    for name in ToolRegistry::builtin(dir.path()).unwrap().names() {
        assert!(
            text.contains(&format!("| `{name}` |")),
            "{name} is missing from the table"
        );
    }
}

#[test]
fn the_rate_table_matches_the_code() {
    let text = doc();
    assert!(text.contains(&format!("dated {RATE_DATE}")));
    let rows: Vec<(String, f64)> = text
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let code = *cells.get(1)?;
            if code.len() == 3 && code.chars().all(|c| c.is_ascii_uppercase()) {
                Some((
                    code.to_owned(),
                    cells.get(3)?.replace(',', "").parse().ok()?,
                ))
            } else {
                None
            }
        })
        .collect();
    let code_rows: Vec<(String, f64)> = usd_rates()
        .iter()
        .map(|(c, _, r)| ((*c).to_owned(), *r))
        .collect();
    assert_eq!(rows, code_rows);
}
