//! `cargo xtask bench eval`: scores the full BFCL single-turn set from precomputed responses
//! (the possible answers themselves, and perturbed copies) with our checker and with BFCL's
//! own Python checker on the same files, and reports the agreement of the verdicts and the
//! speed ratio; `--write` records them in docs/benchmarks.md.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use agentune_eval::bfcl::{self, CheckOptions, Kind, Response, gold};
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

/// The version of `bfcl-eval` the reference checker comes from (the one scripts/fetch_bfcl.sh
/// fetches the data of).
const BFCL_VERSION: &str = "2026.3.23";
const MARK_START: &str = "<!-- eval-bench -->";
const MARK_END: &str = "<!-- /eval-bench -->";

/// Options of `cargo xtask bench eval`.
#[derive(Debug, Clone)]
pub struct EvalBenchOptions {
    /// Runs of our checker (median reported).
    pub runs: usize,
    /// Record the results in docs/benchmarks.md.
    pub write: bool,
    /// The BFCL data folder.
    pub data: Option<PathBuf>,
    /// The Python interpreter that creates the reference venv.
    pub python: String,
}

fn calls_json(calls: &[bfcl::ModelCall]) -> Value {
    Value::Array(
        calls
            .iter()
            .map(|c| {
                let args: serde_json::Map<String, Value> = c
                    .args
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect();
                json!({"name": c.name, "arguments": args})
            })
            .collect(),
    )
}

/// Writes the two response sets: the possible answers, and perturbed copies.
fn write_responses(entries: &[bfcl::Entry], dir: &Path) -> Result<[PathBuf; 2]> {
    let mut gold_rows = String::new();
    let mut perturbed_rows = String::new();
    for (i, e) in entries.iter().enumerate() {
        let (g, p) = match bfcl::kind_of(&e.category) {
            Kind::Irrelevance => (
                gold::relevance_calls(e, false),
                gold::relevance_calls(e, true),
            ),
            Kind::Relevance => (
                gold::relevance_calls(e, true),
                gold::relevance_calls(e, false),
            ),
            Kind::Ast(_) => {
                let g = gold::first_choice_calls(e);
                let p = gold::perturb(&g, i);
                (g, p)
            }
        };
        gold_rows.push_str(&format!(
            "{}\n",
            json!({"id": e.id, "calls": calls_json(&g)})
        ));
        perturbed_rows.push_str(&format!(
            "{}\n",
            json!({"id": e.id, "calls": calls_json(&p)})
        ));
    }
    let a = dir.join("gold.jsonl");
    let b = dir.join("perturbed.jsonl");
    std::fs::write(&a, gold_rows).with_context(|| format!("writing {}", a.display()))?;
    std::fs::write(&b, perturbed_rows).with_context(|| format!("writing {}", b.display()))?;
    Ok([a, b])
}

fn venv_python(root: &Path, python: &str) -> Result<PathBuf> {
    let venv = root.join(".venv-eval-bench");
    let bin = venv.join("bin").join("python");
    if !bin.exists() {
        eprintln!("creating {} ...", venv.display());
        let st = Command::new(python)
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .with_context(|| format!("cannot run `{python} -m venv`"))?;
        if !st.success() {
            bail!("`{python} -m venv {}` failed ({st})", venv.display());
        }
    }
    let probe = Command::new(&bin)
        .args([
            "-c",
            &format!(
                "import importlib.metadata as m; assert m.version('bfcl-eval') == '{BFCL_VERSION}'"
            ),
        ])
        .output()
        .with_context(|| format!("cannot run {}", bin.display()))?;
    if !probe.status.success() {
        // The checker needs none of the package's heavy dependencies (model SDKs, torch, ...);
        // its utility module only needs `filelock`, at the version the package pins.
        eprintln!(
            "installing bfcl-eval=={BFCL_VERSION} (without its model SDKs) into {} ...",
            venv.display()
        );
        let st = Command::new(&bin)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-deps",
                "filelock==3.20.0",
            ])
            .arg(format!("bfcl-eval=={BFCL_VERSION}"))
            .status()
            .context("cannot run pip")?;
        if !st.success() {
            bail!("pip install bfcl-eval failed ({st})");
        }
    }
    Ok(bin)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// One side's verdict on a test case: (valid, error type).
type Verdict = (bool, String);
/// One side's verdicts by id.
type Verdicts = HashMap<String, Verdict>;

/// Our verdicts, the summary, and the seconds spent scoring alone (after reading).
fn ours(data: &Path, responses: &Path) -> Result<(Verdicts, bfcl::Summary, f64)> {
    let entries = bfcl::load(data, None)?;
    let rs: Vec<Response> = bfcl::read_responses(responses, None)?;
    let t = Instant::now();
    let report = bfcl::score(&entries, &rs, CheckOptions::default());
    let check_s = t.elapsed().as_secs_f64();
    let v = report
        .verdicts
        .iter()
        .map(|v| {
            (
                v.id.clone(),
                (v.valid, v.error_type.clone().unwrap_or_default()),
            )
        })
        .collect();
    Ok((v, report.summary, check_s))
}

/// BFCL's verdicts, its total seconds and its seconds in the checker alone.
fn theirs(
    python: &Path,
    data: &Path,
    responses: &Path,
    out: &Path,
) -> Result<(Verdicts, f64, f64)> {
    let script = crate::workspace_root().join("xtask/bench/bfcl_reference.py");
    let o = Command::new(python)
        .arg(&script)
        .arg("--data")
        .arg(data)
        .arg("--responses")
        .arg(responses)
        .arg("--out")
        .arg(out)
        .output()
        .with_context(|| format!("cannot run {}", script.display()))?;
    if !o.status.success() {
        bail!(
            "the Python reference failed ({}): {}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let info: Value =
        serde_json::from_slice(&o.stdout).context("reading the reference's summary")?;
    let elapsed = info["elapsed_s"].as_f64().context("no elapsed_s")?;
    let check_s = info["check_s"].as_f64().context("no check_s")?;
    let text =
        std::fs::read_to_string(out).with_context(|| format!("reading {}", out.display()))?;
    let mut v = Verdicts::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let r: Value = serde_json::from_str(line)?;
        let id = r["id"].as_str().context("verdict without id")?.to_owned();
        let etype = r["error_type"].as_str().unwrap_or("").to_owned();
        v.insert(id, (r["valid"].as_bool().unwrap_or(false), etype));
    }
    Ok((v, elapsed, check_s))
}

struct SetResult {
    name: &'static str,
    cases: usize,
    passed_ours: usize,
    passed_theirs: usize,
    agree: usize,
    /// Test case, our verdict, BFCL's verdict.
    disagreements: Vec<(String, Verdict, Verdict)>,
    ours_s: f64,
    theirs_s: f64,
    ours_check_s: f64,
    theirs_check_s: f64,
}

pub fn run(o: &EvalBenchOptions) -> Result<()> {
    if o.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let root = crate::workspace_root();
    let data = o
        .data
        .clone()
        .unwrap_or_else(|| root.join("data/cache/bfcl/data"));
    if !data.is_dir() {
        bail!(
            "BFCL data folder {} not found (run scripts/fetch_bfcl.sh)",
            data.display()
        );
    }
    let work = root.join("data/cache/eval-bench");
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let entries = bfcl::load(&data, None)?;
    let sets = write_responses(&entries, &work)?;
    let python = venv_python(&root, &o.python)?;
    let load_start = load_average();
    let mut results = Vec::new();
    for (name, path) in ["possible answers", "perturbed"]
        .into_iter()
        .zip(sets.iter())
    {
        let mut times = Vec::new();
        let mut check_times = Vec::new();
        let mut mine = None;
        for _ in 0..o.runs {
            let t = Instant::now();
            let (v, summary, check_s) = ours(&data, path)?;
            times.push(t.elapsed().as_secs_f64());
            check_times.push(check_s);
            mine = Some((v, summary));
        }
        let Some((mine, _summary)) = mine else {
            bail!("no run");
        };
        let out = work.join(format!("reference-{}.jsonl", name.replace(' ', "-")));
        let (reference, theirs_s, theirs_check_s) = theirs(&python, &data, path, &out)?;
        let mut agree = 0;
        let mut disagreements = Vec::new();
        let mut ids: Vec<&String> = mine.keys().collect();
        ids.sort();
        for id in ids {
            let a = &mine[id];
            let b = reference
                .get(id)
                .cloned()
                .unwrap_or((false, "missing in reference".into()));
            if a.0 == b.0 {
                agree += 1;
            } else {
                disagreements.push((id.clone(), a.clone(), b));
            }
        }
        results.push(SetResult {
            name,
            cases: mine.len(),
            passed_ours: mine.values().filter(|v| v.0).count(),
            passed_theirs: reference.values().filter(|v| v.0).count(),
            agree,
            disagreements,
            ours_s: median(times),
            theirs_s,
            ours_check_s: median(check_times),
            theirs_check_s,
        });
    }
    let load_end = load_average();
    let mut table = format!(
        "## Eval: BFCL AST checking\n\n`cargo xtask bench eval`: every test case of the 13 single-turn BFCL v4 categories (`bfcl-eval` {BFCL_VERSION}) answered twice: with its possible answers (first accepted value per parameter, Java/JavaScript values written as source text), and with perturbed copies (numbers changing kind, a parameter dropped or added, a renamed function, reordered or missing calls, values as strings, re-cased strings, a shortened list or flipped bool; irrelevance and relevance cases answered the wrong way). Both sides read the data and the same responses file and score every case; \"total\" is reading plus checking, \"check\" the checking alone. Ours is timed in-process (median of {} runs; the data files are read on all cores), BFCL's `ast_checker` in a Python process (its own timer, one run).\n\n| responses | cases | passed (ours) | passed (BFCL) | verdicts agreeing | total ours / BFCL (s) | speed-up | check ours / BFCL (ms) | speed-up |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        o.runs
    );
    for r in &results {
        table.push_str(&format!(
            "| {} | {} | {} | {} | {} ({:.2}%) | {:.3} / {:.3} | {:.1}x | {:.1} / {:.1} | {:.1}x |\n",
            r.name,
            r.cases,
            r.passed_ours,
            r.passed_theirs,
            r.agree,
            100.0 * r.agree as f64 / r.cases.max(1) as f64,
            r.ours_s,
            r.theirs_s,
            r.theirs_s / r.ours_s,
            1000.0 * r.ours_check_s,
            1000.0 * r.theirs_check_s,
            r.theirs_check_s / r.ours_check_s.max(1e-9)
        ));
    }
    let all: Vec<_> = results
        .iter()
        .flat_map(|r| r.disagreements.iter())
        .collect();
    if all.is_empty() {
        table.push_str("\nNo disagreement.\n");
    } else {
        table.push_str(&format!("\n{} disagreement(s):\n\n", all.len()));
        for (id, a, b) in all.iter().take(20) {
            table.push_str(&format!(
                "- `{id}`: ours {} ({}), BFCL {} ({})\n",
                a.0, a.1, b.0, b.1
            ));
        }
    }
    if let (Some(a), Some(b)) = (load_start, load_end) {
        table.push_str(&format!(
            "\nLoad average (1 min) at the start and the end: {a:.1} / {b:.1}.\n"
        ));
    }
    crate::print_stdout(&table)?;
    if o.write {
        let path = root.join("docs").join("benchmarks.md");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|_| "# Benchmarks\n".into());
        let section = format!("{MARK_START}\n{table}{MARK_END}");
        let updated = match (text.find(MARK_START), text.find(MARK_END)) {
            (Some(a), Some(b)) if a < b => {
                format!("{}{section}{}", &text[..a], &text[b + MARK_END.len()..])
            }
            _ => format!("{}\n{section}\n", text.trim_end()),
        };
        agentune_schema::write_atomic(&path, updated.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
