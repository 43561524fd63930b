//! `cargo xtask schema`: the JSON Schemas of the record types, printed or written to
//! `docs/schema/` (a test in the schema crate fails when the committed copies are stale).

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value};

/// Options of `cargo xtask schema`.
#[derive(Debug, clap::Args)]
pub struct SchemaArgs {
    /// Only this record type (tool_spec, message, trajectory, sample, eval_record, template_spec).
    name: Option<String>,
    /// Write docs/schema/<name>.json instead of printing.
    #[arg(long)]
    write: bool,
}

pub fn run(args: &SchemaArgs) -> Result<()> {
    let all = agentune_schema::record_schemas();
    let chosen: Vec<_> = match &args.name {
        None => all,
        Some(name) => {
            let names: Vec<&str> = all.iter().map(|(n, _)| *n).collect();
            let picked: Vec<_> = all.into_iter().filter(|(n, _)| n == name).collect();
            if picked.is_empty() {
                bail!("unknown record type `{name}`; known: {}", names.join(", "));
            }
            picked
        }
    };
    if args.write {
        let dir = crate::workspace_root().join("docs").join("schema");
        for (name, schema) in &chosen {
            let path = dir.join(format!("{name}.json"));
            agentune_schema::write_atomic(&path, agentune_schema::render_schema(schema).as_bytes())
                .with_context(|| format!("writing the {name} schema"))?;
            eprintln!("wrote {}", path.display());
        }
        return Ok(());
    }
    let out = if chosen.len() == 1 {
        chosen[0].1.as_value().clone()
    } else {
        Value::Object(
            chosen
                .iter()
                .map(|(n, s)| ((*n).to_owned(), s.as_value().clone()))
                .collect::<Map<_, _>>(),
        )
    };
    crate::print_stdout(&serde_json::to_string_pretty(&out)?)
}
