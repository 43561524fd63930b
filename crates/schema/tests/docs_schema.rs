//! The committed JSON Schemas under docs/schema/ must match the record types.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

#[test]
fn committed_schemas_are_fresh() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/schema");
    let mut stale = Vec::new();
    for (name, schema) in agentune_schema::record_schemas() {
        let path = dir.join(format!("{name}.json"));
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != agentune_schema::render_schema(&schema) {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "docs/schema is stale for {stale:?}: run `cargo xtask schema --write` and commit the result"
    );
}
