//! `cargo xtask data bench`: clean + dedup + split of synthetic records, timed side by side
//! with a Python reference that does the same work with `datasketch` MinHash and LSH (same
//! permutations count, bands, n-grams and thresholds). The Python side runs in a git-ignored
//! virtual environment that the bench creates. Results go to `docs/benchmarks.md` between the
//! `<!-- data-bench -->` markers.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use agentune_data::synthetic::{self, SyntheticSpec};
use agentune_data::{Cleaner, DataConfig, Record, split};
use agentune_schema::{JsonlWriter, Split};
use anyhow::{Context, Result, bail};
use serde_json::Value;

/// Options of `cargo xtask data bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Synthetic records to process.
    #[arg(long, default_value_t = 100_000)]
    records: usize,
    /// Timed runs of the Rust side (the median is reported).
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// The Python interpreter used to create the reference's virtual environment.
    #[arg(long, default_value = "python3")]
    python: String,
    /// Skip the Python reference.
    #[arg(long)]
    no_python: bool,
    /// Work folder (default: data/cache/data-bench).
    #[arg(long)]
    workdir: Option<PathBuf>,
    /// Do not update docs/benchmarks.md.
    #[arg(long)]
    no_write: bool,
}

const BEGIN: &str = "<!-- data-bench -->";
const END: &str = "<!-- /data-bench -->";

struct RustRun {
    seconds: f64,
    kept: usize,
    groups: usize,
    splits: [usize; 3],
    /// (dropped, kept instead) for every near duplicate removed.
    near_pairs: Vec<(String, String)>,
}

fn rust_once(cfg: &DataConfig, input: &Path, out_dir: &Path) -> Result<RustRun> {
    let start = Instant::now();
    let records = agentune_data::io::read_records(input, || {})?;
    let out = Cleaner::new(cfg.clean.clone(), cfg.minhash).clean(records);
    let assignment = split::assign(&out.kept, &cfg.split, &cfg.minhash, cfg.seed)?;
    let names = [
        (Split::Train, "train.jsonl"),
        (Split::Validation, "validation.jsonl"),
        (Split::Test, "test.jsonl"),
    ];
    let mut counts = [0usize; 3];
    for (k, (sp, name)) in names.iter().enumerate() {
        let mut w = JsonlWriter::<Record>::create(out_dir.join(name))?;
        for (r, s) in out.kept.iter().zip(&assignment.splits) {
            if s == sp {
                w.write(r)?;
                counts[k] += 1;
            }
        }
        w.finish()?;
    }
    let seconds = start.elapsed().as_secs_f64();
    let near_pairs = out
        .dropped
        .iter()
        .filter(|d| d.reason == "near_duplicate")
        .filter_map(|d| d.kept.clone().map(|k| (d.id.clone(), k)))
        .collect();
    Ok(RustRun {
        seconds,
        kept: out.report.kept,
        groups: assignment.report.total_groups,
        splits: counts,
        near_pairs,
    })
}

/// How many near-duplicate removals are right: the exact Jaccard similarity of the removed
/// record's and the kept record's shingle sets reaches the threshold. Returns (right, all).
fn precision(input: &Path, pairs: &[(String, String)], cfg: &DataConfig) -> Result<(usize, usize)> {
    use std::collections::HashMap;
    let wanted: std::collections::HashSet<&str> = pairs
        .iter()
        .flat_map(|(a, b)| [a.as_str(), b.as_str()])
        .collect();
    let mut sets: HashMap<String, Vec<u64>> = HashMap::new();
    for r in agentune_data::io::read_records(input, || {})? {
        if wanted.contains(r.id()) {
            let text = format!(
                "{} {}",
                agentune_data::normalize(&r.input_text()),
                agentune_data::normalize(&r.output_text())
            );
            let mut sh = Vec::new();
            agentune_data::minhash::shingles(&text, cfg.minhash.ngram, &mut sh);
            sets.insert(r.id().to_owned(), sh);
        }
    }
    let right = pairs
        .iter()
        .filter(|(a, b)| match (sets.get(a), sets.get(b)) {
            (Some(x), Some(y)) => agentune_data::minhash::jaccard(x, y) >= cfg.minhash.threshold,
            _ => false,
        })
        .count();
    Ok((right, pairs.len()))
}

fn read_pairs(path: &Path) -> Result<Vec<(String, String)>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: (String, String) = serde_json::from_str(l)
                .with_context(|| format!("{}: not an [id, id] pair: {l}", path.display()))?;
            Ok(v)
        })
        .collect()
}

fn venv_python(root: &Path, python: &str) -> Result<PathBuf> {
    let venv = root.join(".venv-data-bench");
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
    let has = Command::new(&bin)
        .args(["-c", "import datasketch"])
        .output()
        .with_context(|| format!("cannot run {}", bin.display()))?;
    if !has.status.success() {
        eprintln!("installing datasketch into {} ...", venv.display());
        let st = Command::new(&bin)
            .args(["-m", "pip", "install", "--quiet", "datasketch"])
            .status()
            .context("cannot run pip")?;
        if !st.success() {
            bail!("pip install datasketch failed ({st})");
        }
    }
    Ok(bin)
}

/// The 1-minute load average, where the system reports one (other work on the machine skews
/// timings, so the report states it).
fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

pub fn run(cfg: &DataConfig, a: &BenchArgs) -> Result<()> {
    let root = crate::workspace_root();
    let work = a
        .workdir
        .clone()
        .unwrap_or_else(|| root.join("data/cache/data-bench"));
    std::fs::create_dir_all(work.join("rust"))
        .with_context(|| format!("creating {}", work.display()))?;
    std::fs::create_dir_all(work.join("python"))?;
    // PII anonymisation is left out on both sides: the reference implements the rules, the
    // duplicate and conflict stages and the split, which is what is compared.
    let mut cfg = cfg.clone();
    cfg.clean.pii = false;
    let input = work.join("input.jsonl");
    let spec = SyntheticSpec {
        records: a.records,
        seed: cfg.seed,
        pii: 0.0,
        ..SyntheticSpec::default()
    };
    eprintln!("generating {} synthetic records ...", a.records);
    let records = synthetic::generate(&spec);
    let mut w = JsonlWriter::<Record>::create(&input)?;
    for r in &records {
        w.write(r)?;
    }
    w.finish()?;
    drop(records);
    let load_before = load_average();
    let mut runs = Vec::new();
    for k in 0..a.repeats.max(1) {
        let r = rust_once(&cfg, &input, &work.join("rust"))?;
        eprintln!(
            "rust run {}: {:.2} s (kept {}, groups {})",
            k + 1,
            r.seconds,
            r.kept,
            r.groups
        );
        runs.push(r);
    }
    runs.sort_by(|x, y| x.seconds.total_cmp(&y.seconds));
    let rust = &runs[runs.len() / 2];
    let py: Option<Value> = if a.no_python {
        None
    } else {
        let bin = venv_python(&root, &a.python)?;
        let script = root.join("xtask/bench/data_reference.py");
        let m = &cfg.minhash;
        eprintln!("running the Python reference (datasketch) ...");
        let out = Command::new(&bin)
            .arg(&script)
            .arg("--input")
            .arg(&input)
            .arg("--output-dir")
            .arg(work.join("python"))
            .args(["--num-perm", &m.num_perm.to_string()])
            .args(["--bands", &m.bands.to_string()])
            .args(["--ngram", &m.ngram.to_string()])
            .args(["--threshold", &m.threshold.to_string()])
            .args(["--split-similarity", &cfg.split.similarity.to_string()])
            .args(["--split-bands", &cfg.split.bands.to_string()])
            .args(["--split-rows", &cfg.split.rows.to_string()])
            .args(["--validation", &cfg.split.validation.to_string()])
            .args(["--test", &cfg.split.test.to_string()])
            .args(["--max-length", &cfg.clean.max_length.to_string()])
            .args(["--seed", &cfg.seed.to_string()])
            .output()
            .with_context(|| format!("cannot run {}", script.display()))?;
        if !out.status.success() {
            bail!(
                "the Python reference failed ({}):\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Some(
            serde_json::from_slice(&out.stdout)
                .context("the Python reference's summary is not JSON")?,
        )
    };
    let load_after = load_average();
    let py_secs = py.as_ref().and_then(|v| v["seconds"].as_f64());
    let (rust_right, rust_near) = precision(&input, &rust.near_pairs, &cfg)?;
    let py_precision = match &py {
        Some(_) => Some(precision(
            &input,
            &read_pairs(&work.join("python/near_pairs.jsonl"))?,
            &cfg,
        )?),
        None => None,
    };
    let pct = |(r, n): (usize, usize)| {
        if n == 0 {
            100.0
        } else {
            100.0 * r as f64 / n as f64
        }
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut section = format!(
        "{BEGIN}\n## Data: clean + dedup + split\n\n`cargo xtask data bench --records {}`: synthetic agent records (5% exact copies, 5% near copies, 1% conflicts) read from JSONL, cleaned (rules, exact duplicates, conflicts, MinHash-LSH near duplicates), grouped by query and split, and written back as JSONL. Same parameters on both sides: {} permutations, character {}-grams; near duplicates: {} bands x {} rows, threshold {}; query groups: {} bands x {} rows, similarity {}. PII anonymisation is off on both sides. Rust: median of {} runs on {threads} thread(s); Python: one run, `datasketch` MinHash + MinHashLSH.\n\n| implementation | seconds | records kept | near duplicates removed | of them truly similar (exact Jaccard >= threshold) | query groups | train / validation / test |\n|---|---:|---:|---:|---:|---:|---|\n| agentune (Rust) | {:.2} | {} | {} | {:.1}% | {} | {} / {} / {} |\n",
        a.records,
        cfg.minhash.num_perm,
        cfg.minhash.ngram,
        cfg.minhash.bands,
        cfg.minhash.rows(),
        cfg.minhash.threshold,
        cfg.split.bands,
        cfg.split.rows,
        cfg.split.similarity,
        runs.len(),
        rust.seconds,
        rust.kept,
        rust_near,
        pct((rust_right, rust_near)),
        rust.groups,
        rust.splits[0],
        rust.splits[1],
        rust.splits[2],
    );
    if let Some(p) = &py {
        let sp = &p["splits"];
        let (py_right, py_near) = py_precision.unwrap_or((0, 0));
        section.push_str(&format!(
            "| Python reference (datasketch) | {:.2} | {} | {} | {:.1}% | {} | {} / {} / {} |\n",
            py_secs.unwrap_or(f64::NAN),
            p["kept"],
            py_near,
            pct((py_right, py_near)),
            p["groups"],
            sp["train"],
            sp["validation"],
            sp["test"]
        ));
        if let Some(s) = py_secs {
            section.push_str(&format!(
                "\nSpeed-up: **{:.1}x** (target: at least 20x).\n",
                s / rust.seconds
            ));
        }
    }
    if let (Some(b), Some(e)) = (load_before, load_after) {
        section.push_str(&format!(
            "\nLoad average (1 min) at the start and the end of the measurements: {b:.1} / {e:.1}; other work on the machine slows both sides.\n"
        ));
    }
    section.push_str(END);
    crate::print_stdout(&section)?;
    if !a.no_write {
        let doc = root.join("docs/benchmarks.md");
        let old = std::fs::read_to_string(&doc).unwrap_or_else(|_| {
            "# Benchmarks\n\nMeasured with `cargo xtask ... bench` commands on the project's developer machine type (2 cores).\n".to_owned()
        });
        let new = match (old.find(BEGIN), old.find(END)) {
            (Some(b), Some(e)) if e > b => {
                format!("{}{section}{}", &old[..b], &old[e + END.len()..])
            }
            _ => format!("{}\n{section}\n", old.trim_end()),
        };
        agentune_schema::write_atomic(&doc, new.as_bytes())?;
        eprintln!("updated {}", doc.display());
    }
    Ok(())
}
