//! The workspace's shape: the required top-level layout, and the one-way dependency direction
//! `schema <- runtime, model <- data <- trainer, eval, serve, meta-agent <- xtask`.

#![allow(clippy::unwrap_used)] // Test helpers: a panic is the failure report.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Tier of each crate directory. A crate may depend (normal or build) only on crates of a lower
/// tier; dev-dependencies may also reach the same tier (end-to-end tests), never a higher one.
/// Adding a crate means placing it here deliberately, and in docs/architecture.md.
const TIERS: &[(&str, u8)] = &[
    ("schema", 0),
    ("runtime", 1),
    ("model", 1),
    ("data", 2),
    ("trainer", 3),
    ("eval", 3),
    ("serve", 3),
    ("meta-agent", 3),
    ("xtask", 4),
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[derive(Debug)]
struct Manifest {
    dir: String,
    package: String,
    /// (dependency package, kind) for every `agentune-*` dependency.
    deps: Vec<(String, &'static str)>,
}

fn parse_manifest(dir: &str, text: &str) -> Manifest {
    let doc: toml::Table = toml::from_str(text).unwrap_or_else(|e| panic!("{dir}/Cargo.toml: {e}"));
    let package = doc["package"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut deps = Vec::new();
    let mut collect = |table: &toml::Table| {
        for (section, kind) in [
            ("dependencies", "normal"),
            ("build-dependencies", "build"),
            ("dev-dependencies", "dev"),
        ] {
            if let Some(t) = table.get(section).and_then(toml::Value::as_table) {
                for (key, spec) in t {
                    let name = spec
                        .get("package")
                        .and_then(toml::Value::as_str)
                        .unwrap_or(key);
                    if name.starts_with("agentune-") {
                        deps.push((name.to_owned(), kind));
                    }
                }
            }
        }
    };
    collect(&doc);
    if let Some(targets) = doc.get("target").and_then(toml::Value::as_table) {
        for t in targets.values().filter_map(toml::Value::as_table) {
            collect(t);
        }
    }
    Manifest {
        dir: dir.to_owned(),
        package,
        deps,
    }
}

fn violations(manifests: &[Manifest]) -> Vec<String> {
    let tiers: BTreeMap<&str, u8> = TIERS.iter().copied().collect();
    let tier_of_package = |p: &str| tiers.get(p.strip_prefix("agentune-").unwrap_or(p)).copied();
    let mut out = Vec::new();
    for m in manifests {
        let Some(&tier) = tiers.get(m.dir.as_str()) else {
            out.push(format!(
                "crates/{}: not a known crate; place it in TIERS and docs/architecture.md",
                m.dir
            ));
            continue;
        };
        let expected = if m.dir == "xtask" {
            "xtask".to_owned()
        } else {
            format!("agentune-{}", m.dir)
        };
        if m.package != expected {
            out.push(format!(
                "{}: package is named `{}`, expected `{expected}`",
                m.dir, m.package
            ));
        }
        for (dep, kind) in &m.deps {
            let Some(dep_tier) = tier_of_package(dep) else {
                out.push(format!("{}: depends on unknown crate `{dep}`", m.package));
                continue;
            };
            let allowed = if *kind == "dev" {
                dep_tier <= tier && dep != &m.package
            } else {
                dep_tier < tier
            };
            if !allowed {
                out.push(format!("{} (tier {tier}) has a {kind} dependency on {dep} (tier {dep_tier}) against the one-way direction", m.package));
            }
        }
    }
    out
}

fn workspace_manifests() -> Vec<Manifest> {
    let mut out = Vec::new();
    let crates = root().join("crates");
    let mut dirs: Vec<_> = std::fs::read_dir(&crates)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("Cargo.toml").exists())
        .collect();
    dirs.sort();
    for d in dirs {
        let name = d.file_name().unwrap().to_string_lossy().into_owned();
        out.push(parse_manifest(
            &name,
            &std::fs::read_to_string(d.join("Cargo.toml")).unwrap(),
        ));
    }
    out.push(parse_manifest(
        "xtask",
        &std::fs::read_to_string(root().join("xtask/Cargo.toml")).unwrap(),
    ));
    out
}

#[test]
fn dependencies_flow_one_way() {
    let manifests = workspace_manifests();
    assert!(manifests.iter().any(|m| m.package == "agentune-schema"));
    let v = violations(&manifests);
    assert!(
        v.is_empty(),
        "dependency direction violated:\n{}",
        v.join("\n")
    );
}

#[test]
fn the_checker_catches_upward_and_sideways_edges() {
    let bad = [
        parse_manifest(
            "runtime",
            "[package]\nname='agentune-runtime'\n[dependencies]\nagentune-trainer={path='x'}\n",
        ),
        parse_manifest(
            "model",
            "[package]\nname='agentune-model'\n[target.'cfg(unix)'.build-dependencies]\nrt={package='agentune-runtime', path='x'}\n",
        ),
        parse_manifest(
            "serve",
            "[package]\nname='agentune-serve'\n[dev-dependencies]\nagentune-eval={path='x'}\n[dependencies]\nagentune-gadgets={path='x'}\n",
        ),
        parse_manifest("gadgets", "[package]\nname='agentune-gadgets'\n"),
        parse_manifest("eval", "[package]\nname='evaluation'\n"),
    ];
    let v = violations(&bad);
    assert_eq!(v.len(), 5, "{v:#?}");
    assert!(v[0].contains("agentune-runtime (tier 1) has a normal dependency on agentune-trainer"));
    assert!(v[1].contains("build dependency on agentune-runtime"));
    assert!(v[2].contains("unknown crate `agentune-gadgets`"), "{v:#?}");
    assert!(v[3].contains("crates/gadgets"));
    assert!(v[4].contains("expected `agentune-eval`"));
    // A dev-dependency within the same tier is allowed (end-to-end tests of eval against serve).
    let ok = [parse_manifest(
        "eval",
        "[package]\nname='agentune-eval'\n[dev-dependencies]\nagentune-serve={path='x'}\n[dependencies]\nagentune-data={path='x'}\n",
    )];
    assert!(violations(&ok).is_empty());
}

#[test]
fn top_level_layout_is_complete() {
    let required = [
        "Cargo.toml",
        "crates",
        "kernels",
        "data",
        "configs",
        "xtask",
        "tests",
        "docs",
        "README.md",
        ".ci/run",
        ".cargo/config.toml",
        "docs/architecture.md",
    ];
    let missing: Vec<_> = required
        .iter()
        .filter(|p| !root().join(p).exists())
        .collect();
    assert!(
        missing.is_empty(),
        "missing from the workspace root: {missing:?}"
    );
}

#[test]
fn architecture_doc_names_every_crate() {
    let doc = std::fs::read_to_string(root().join("docs/architecture.md")).unwrap();
    for m in workspace_manifests() {
        assert!(
            doc.contains(&format!("`{}`", m.package)),
            "docs/architecture.md does not describe `{}`",
            m.package
        );
    }
}
