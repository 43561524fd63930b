//! JSON Schemas of the record types, generated with `schemars`; `cargo xtask schema` prints
//! them and `docs/schema/` holds the committed copies.

use schemars::{JsonSchema, Schema, schema_for};

use crate::{EvalRecord, Message, Sample, TemplateSpec, ToolSpec, Trajectory};

/// `(file stem, schema)` for every record type a JSONL file may hold, plus the tool spec and the agent template spec.
pub fn record_schemas() -> Vec<(&'static str, Schema)> {
    fn one<T: JsonSchema>(name: &'static str) -> (&'static str, Schema) {
        (name, schema_for!(T))
    }
    vec![
        one::<ToolSpec>("tool_spec"),
        one::<Message>("message"),
        one::<Trajectory>("trajectory"),
        one::<Sample>("sample"),
        one::<EvalRecord>("eval_record"),
        one::<TemplateSpec>("template_spec"),
    ]
}

/// The schema document of `name` as pretty JSON with a trailing newline, as committed.
pub fn render_schema(schema: &Schema) -> String {
    let mut text = serde_json::to_string_pretty(schema).unwrap_or_default();
    text.push('\n');
    text
}
