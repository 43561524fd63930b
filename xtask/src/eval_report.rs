//! `cargo xtask eval report RUN_DIR... --out OUTDIR`: compares the eval outputs of several
//! checkpoints side by side (report.md, report.json, PNG charts), marking differences from the
//! first checkpoint whose paired bootstrap interval excludes zero.

use std::path::PathBuf;

use agentune_eval::bootstrap::BootstrapSettings;
use agentune_eval::report::{self, Run};
use anyhow::{Context, Result, bail};

/// Options of `cargo xtask eval report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// Eval output folders, one per checkpoint, the baseline first. Each holds (directly or
    /// one folder down) verdicts.jsonl (eval bfcl), steps.jsonl (eval steps) and/or
    /// episodes.jsonl (eval episodes).
    #[arg(required = true, num_args = 1..)]
    runs: Vec<PathBuf>,
    /// Checkpoint names, in the order of the folders (default: the folder names).
    #[arg(long, value_delimiter = ',')]
    names: Option<Vec<String>>,
    /// Bootstrap resamples per difference.
    #[arg(long, default_value_t = 1000)]
    resamples: usize,
    /// Confidence level of the intervals.
    #[arg(long, default_value_t = 0.95)]
    confidence: f64,
    /// Seed of the resampling (the same seed gives the same report).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Skip the PNG charts.
    #[arg(long)]
    no_charts: bool,
    /// Output folder for report.md, report.json and the charts.
    #[arg(long)]
    out: PathBuf,
}

/// The checkpoint names: given ones, else folder names made unique.
fn names(a: &ReportArgs) -> Result<Vec<String>> {
    if let Some(n) = &a.names {
        if n.len() != a.runs.len() {
            bail!(
                "--names gives {} names for {} run folders",
                n.len(),
                a.runs.len()
            );
        }
        let unique: std::collections::BTreeSet<&String> = n.iter().collect();
        if unique.len() != n.len() {
            bail!("--names repeats a name");
        }
        return Ok(n.clone());
    }
    let mut out: Vec<String> = Vec::new();
    for (k, dir) in a.runs.iter().enumerate() {
        let base = dir
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| format!("run{k}"));
        let name = if out.contains(&base) {
            format!("{base}-{k}")
        } else {
            base
        };
        out.push(name);
    }
    Ok(out)
}

/// `cargo xtask eval report`.
pub fn run(a: &ReportArgs) -> Result<()> {
    if !(a.confidence > 0.0 && a.confidence < 1.0) {
        bail!("--confidence must lie strictly between 0 and 1");
    }
    if a.resamples == 0 {
        bail!("--resamples must be at least 1");
    }
    let names = names(a)?;
    let runs: Vec<Run> = a
        .runs
        .iter()
        .zip(&names)
        .map(|(dir, name)| {
            report::load_run(dir, name)
                .with_context(|| format!("cannot read the eval outputs in {}", dir.display()))
        })
        .collect::<Result<_>>()?;
    let settings = BootstrapSettings {
        resamples: a.resamples,
        confidence: a.confidence,
        seed: a.seed,
    };
    let report = report::compare(&runs, settings)?;
    report
        .write(&a.out, !a.no_charts)
        .with_context(|| format!("cannot write the report into {}", a.out.display()))?;
    let sig = report.significant();
    tracing::info!(
        suites = report.suites.len(),
        significant = sig.len(),
        out = %a.out.display(),
        "report written"
    );
    let mut text = format!(
        "report: {} ({} checkpoints, {} suites)\n",
        a.out.join("report.md").display(),
        runs.len(),
        report.suites.len()
    );
    for (suite, what, ckpt, d) in &sig {
        text.push_str(&format!(
            "significant: {suite} {what}: {ckpt} {:+.4} [{:+.4}, {:+.4}] over {} items\n",
            d.delta, d.lo, d.hi, d.n
        ));
    }
    crate::print_stdout(text.trim_end())
}
