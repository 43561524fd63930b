//! Tool catalogs and function-calling data end to end in the library: catalogs imported from
//! the checked-in ToolBench, OpenAI and MCP fixtures, function-calling trajectories over them
//! and over synthetic specs, rendered under every shipped template and checked by the
//! strict-format rule, and the simulated executor answering imported tools.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use agentune_data::Record;
use agentune_data::fc::{
    CatalogFormat, FcSettings, FcSynthesizer, ToolSynthSettings, import_catalog, read_catalog,
    synthesize_tools, write_catalog,
};
use agentune_data::render::{RenderReport, RenderSettings, Renderer, TemplateMix};
use agentune_data::synth::Lang;
use agentune_data::validate::StrictFormatRule;
use agentune_runtime::tools::ToolRegistry;
use agentune_schema::{ToolCall, ToolSpec};
use serde_json::json;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/tools")
        .join(name)
}

#[test]
fn catalogs_import_from_toolbench_openai_and_mcp() {
    let tb = import_catalog(CatalogFormat::ToolBench, &fixture("toolenv")).unwrap();
    assert_eq!(tb.files, 2);
    let names: Vec<&str> = tb.specs.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "daily_quote_for_market_pulse",
            "company_profile_for_market_pulse",
            "search_connections_for_rail_planner"
        ]
    );
    // An empty API description falls back to the tool's.
    assert!(tb.specs[1].description().starts_with("End-of-day quotes"));
    let openai = import_catalog(CatalogFormat::OpenAi, &fixture("openai_tools.json")).unwrap();
    assert_eq!(openai.specs.len(), 2);
    let mcp = import_catalog(CatalogFormat::Mcp, &fixture("mcp_tools.json")).unwrap();
    assert_eq!(mcp.specs[1].name, "read_page");
    for s in tb.specs.iter().chain(&openai.specs).chain(&mcp.specs) {
        s.validate().unwrap();
    }
    // A catalog file round-trips, and a folder import drops repeated names.
    let dir = tempfile::tempdir().unwrap();
    let cat = dir.path().join("catalog.jsonl");
    let all: Vec<ToolSpec> = tb.specs.iter().chain(&openai.specs).cloned().collect();
    write_catalog(&cat, &all).unwrap();
    assert_eq!(read_catalog(&cat).unwrap(), all);
    let again = import_catalog(CatalogFormat::Catalog, &cat).unwrap();
    assert_eq!(again.specs, all);
    assert!("toolenv".parse::<CatalogFormat>().is_ok());
    assert!("yaml".parse::<CatalogFormat>().is_err());
    // Bad input names the file and field.
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"tool_name": "x", "api_list": [{"description": "no name"}]}"#,
    )
    .unwrap();
    let err = import_catalog(CatalogFormat::ToolBench, &bad)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("bad.json") && err.contains("api_list[0].name"),
        "{err}"
    );
}

#[test]
fn imported_tools_run_under_the_simulated_executor() {
    let tb = import_catalog(CatalogFormat::ToolBench, &fixture("toolenv")).unwrap();
    let reg = ToolRegistry::simulated(tb.specs.clone(), 1).unwrap();
    let call = ToolCall::new(
        "daily_quote_for_market_pulse",
        json!({"symbol": "MSFT"}).as_object().cloned().unwrap(),
    );
    let a = reg.execute(&call);
    assert!(!a.is_error, "{}", a.content);
    assert_eq!(a.content, reg.execute(&call).content);
    let v: serde_json::Value = serde_json::from_str(&a.content).unwrap();
    assert_eq!(v["result"]["symbol"], "MSFT");
    let bad = ToolCall::new(
        "daily_quote_for_market_pulse",
        json!({"symbol": 3}).as_object().cloned().unwrap(),
    );
    assert!(reg.execute(&bad).is_error);
}

#[test]
fn fc_trajectories_render_under_every_template_and_pass_the_strict_check() {
    let mut tools: Vec<ToolSpec> = synthesize_tools(&ToolSynthSettings {
        count: 150,
        seed: 2,
        ..ToolSynthSettings::default()
    })
    .unwrap()
    .into_iter()
    .map(|t| t.spec)
    .collect();
    tools.extend(
        import_catalog(CatalogFormat::OpenAi, &fixture("openai_tools.json"))
            .unwrap()
            .specs,
    );
    tools.extend(
        import_catalog(CatalogFormat::ToolBench, &fixture("toolenv"))
            .unwrap()
            .specs,
    );
    let synth = FcSynthesizer::new(
        FcSettings {
            count: 120,
            seed: 4,
            ..FcSettings::default()
        },
        &tools,
    )
    .unwrap();
    let trajectories = synth.generate_all(|| {}).unwrap();
    let renderer = Renderer::new(
        TemplateMix::builtin().unwrap(),
        RenderSettings {
            per_record: 3,
            seed: 4,
            match_language: true,
        },
    )
    .unwrap();
    let rule = StrictFormatRule::new().unwrap().with_tools(tools.clone());
    let mut report = RenderReport::default();
    let mut samples = 0;
    for t in &trajectories {
        assert!(rule.problems(&Record::from(t.clone())).is_empty());
        for s in renderer.render(t, &mut report) {
            let problems = rule.problems(&Record::from(s.clone()));
            assert!(problems.is_empty(), "{}: {problems:?}", s.id);
            samples += 1;
        }
    }
    assert_eq!(report.unrendered, 0, "{report:?}");
    assert!(samples >= 2 * trajectories.len(), "{samples}");
    assert!(report.by_template.len() >= 5, "{:?}", report.by_template);
    // English-only run over the imported tools alone still works.
    let only_imported: Vec<ToolSpec> = tools[150..].to_vec();
    let synth = FcSynthesizer::new(
        FcSettings {
            count: 10,
            languages: vec![Lang::En],
            ..FcSettings::default()
        },
        &only_imported,
    )
    .unwrap();
    assert_eq!(synth.generate_all(|| {}).unwrap().len(), 10);
}

#[test]
fn simulated_observations_are_deterministic_and_fit_their_response_schemas() {
    use agentune_runtime::tools::response_schema;
    use agentune_runtime::validate::validate_value;

    let tools: Vec<ToolSpec> = synthesize_tools(&ToolSynthSettings {
        count: 3000,
        seed: 11,
        ..ToolSynthSettings::default()
    })
    .unwrap()
    .into_iter()
    .map(|t| t.spec)
    .collect();
    assert!(tools.len() > 2000, "{}", tools.len());
    let trajectories = FcSynthesizer::new(
        FcSettings {
            count: 600,
            seed: 11,
            ..FcSettings::default()
        },
        &tools,
    )
    .unwrap()
    .generate_all(|| {})
    .unwrap();
    let (mut checked, mut seed_sensitive) = (0, 0);
    let mut functions = std::collections::HashSet::new();
    for t in &trajectories {
        let fresh = ToolRegistry::simulated(t.tools.clone(), 11).unwrap();
        let other_seed = ToolRegistry::simulated(t.tools.clone(), 12).unwrap();
        for s in &t.steps {
            for (call, obs) in s.step.calls().iter().zip(&s.observations) {
                let spec = t.tools.iter().find(|x| x.name == call.name).unwrap();
                let v: serde_json::Value = serde_json::from_str(&obs.content).unwrap();
                validate_value(&response_schema(spec), &v, "response")
                    .unwrap_or_else(|e| panic!("{}: {e:?}: {v}", call.name));
                // The same call and seed give the same response in a fresh registry.
                assert_eq!(fresh.execute(call).content, obs.content, "{}", call.name);
                seed_sensitive += usize::from(other_seed.execute(call).content != obs.content);
                functions.insert(call.name.clone());
                checked += 1;
            }
        }
    }
    assert!(checked > 500, "{checked}");
    assert!(functions.len() > 300, "{}", functions.len());
    assert!(
        seed_sensitive * 10 > checked * 9,
        "{seed_sensitive}/{checked}"
    );
}
