//! Data statistics: counts by scenario, kind, complexity, language, template, split and
//! source; a length histogram; achieved against target ratios; cleaning losses by reason.
//! Rendered as JSON, Markdown and PNG bar charts (labelled with a built-in pixel font, so no
//! font file is needed).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use agentune_schema::Split;
use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use crate::clean::{CleanReport, LengthMeasure};
use crate::error::{Error, Result};
use crate::minhash::parallel_map;
use crate::mix::{MixSettings, RatioReport, ratios};
use crate::pixfont;
use crate::record::Record;

/// One histogram bin: `[lo, hi)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bin {
    /// Lower bound (inclusive).
    pub lo: usize,
    /// Upper bound (exclusive).
    pub hi: usize,
    /// Records in the bin.
    pub count: usize,
}

/// Length distribution of the records.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LengthStats {
    /// The unit (`chars`, `tokens`).
    pub unit: String,
    /// Shortest.
    pub min: usize,
    /// Longest.
    pub max: usize,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: usize,
    /// 90th percentile.
    pub p90: usize,
    /// 99th percentile.
    pub p99: usize,
    /// Equal-width bins from 0 to the maximum.
    pub histogram: Vec<Bin>,
}

/// Everything `data stats` reports.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Records.
    pub total: usize,
    /// Trajectories among them.
    pub trajectories: usize,
    /// Eval-only records among them.
    pub eval_only: usize,
    /// Counts by scenario.
    pub by_scenario: BTreeMap<String, usize>,
    /// Counts by kind.
    pub by_kind: BTreeMap<String, usize>,
    /// Counts by complexity.
    pub by_complexity: BTreeMap<String, usize>,
    /// Counts by language.
    pub by_language: BTreeMap<String, usize>,
    /// Counts by agent template (`-` when none).
    pub by_template: BTreeMap<String, usize>,
    /// Counts by split (`unassigned` when none).
    pub by_split: BTreeMap<String, usize>,
    /// Counts by source.
    pub by_source: BTreeMap<String, usize>,
    /// Lengths.
    pub length: LengthStats,
    /// Ratios achieved against the targets.
    pub ratios: Vec<RatioReport>,
    /// Cleaning losses, when a cleaning report was given.
    pub cleaning: Option<CleanReport>,
}

fn split_name(s: Option<Split>) -> &'static str {
    match s {
        Some(Split::Train) => "train",
        Some(Split::Validation) => "validation",
        Some(Split::Test) => "test",
        None => "unassigned",
    }
}

fn enum_name<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Computes the statistics of `records`, each with the split it belongs to (when known from
/// the file it came from; else the record's own).
pub fn compute(
    records: &[(Record, Option<Split>)],
    measure: &dyn LengthMeasure,
    targets: &MixSettings,
    bins: usize,
) -> Stats {
    let mut s = Stats {
        total: records.len(),
        ..Stats::default()
    };
    let bump = |m: &mut BTreeMap<String, usize>, k: &str| *m.entry(k.to_owned()).or_default() += 1;
    for (r, split) in records {
        let meta = r.meta_or_inferred();
        bump(&mut s.by_scenario, &meta.scenario);
        bump(&mut s.by_kind, &enum_name(&meta.kind));
        bump(&mut s.by_complexity, &enum_name(&meta.complexity));
        bump(&mut s.by_language, &meta.language);
        bump(&mut s.by_template, r.template_id().unwrap_or("-"));
        bump(&mut s.by_split, split_name(split.or(r.split())));
        bump(&mut s.by_source, r.source().unwrap_or("-"));
        if matches!(r, Record::Trajectory(_)) {
            s.trajectories += 1;
        }
        if r.eval_only() {
            s.eval_only += 1;
        }
    }
    let mut lengths: Vec<usize> = parallel_map(records, |(r, _)| measure.measure(&r.all_text()));
    lengths.sort_unstable();
    s.length = length_stats(&lengths, measure.unit(), bins.max(1));
    let plain: Vec<Record> = records.iter().map(|(r, _)| r.clone()).collect();
    s.ratios = ratios(&plain, targets);
    s
}

fn length_stats(sorted: &[usize], unit: &str, bins: usize) -> LengthStats {
    if sorted.is_empty() {
        return LengthStats {
            unit: unit.to_owned(),
            ..LengthStats::default()
        };
    }
    let q = |p: f64| sorted[((sorted.len() - 1) as f64 * p).round() as usize];
    let max = sorted[sorted.len() - 1];
    let width = (max / bins + 1).max(1);
    let mut histogram: Vec<Bin> = (0..bins)
        .map(|i| Bin {
            lo: i * width,
            hi: (i + 1) * width,
            count: 0,
        })
        .collect();
    for &l in sorted {
        let i = (l / width).min(bins - 1);
        histogram[i].count += 1;
    }
    LengthStats {
        unit: unit.to_owned(),
        min: sorted[0],
        max,
        mean: sorted.iter().sum::<usize>() as f64 / sorted.len() as f64,
        p50: q(0.5),
        p90: q(0.9),
        p99: q(0.99),
        histogram,
    }
}

fn table(out: &mut String, title: &str, m: &BTreeMap<String, usize>, total: usize) {
    out.push_str(&format!(
        "\n### {title}\n\n| {title} | records | share |\n|---|---:|---:|\n"
    ));
    for (k, v) in m {
        let pct = if total == 0 {
            0.0
        } else {
            100.0 * *v as f64 / total as f64
        };
        out.push_str(&format!("| {k} | {v} | {pct:.1}% |\n"));
    }
}

impl Stats {
    /// The report as Markdown; `charts` are file names of PNGs written beside it.
    pub fn to_markdown(&self, charts: &[(String, String)]) -> String {
        let mut out = String::from("# Data statistics\n\n");
        out.push_str(&format!(
            "{} records ({} trajectories, {} samples); {} eval-only.\n",
            self.total,
            self.trajectories,
            self.total - self.trajectories,
            self.eval_only
        ));
        out.push_str("\n## Ratios (achieved vs target)\n\n| ratio | target | achieved | minority share target | achieved | gap (points) |\n|---|---:|---:|---:|---:|---:|\n");
        for r in &self.ratios {
            let achieved = r
                .achieved
                .map_or_else(|| "n/a".to_owned(), |a| format!("{a:.2} : 1"));
            out.push_str(&format!(
                "| {} | {:.2} : 1 | {achieved} | {:.1}% | {:.1}% | {:.1} |\n",
                r.name,
                r.target,
                r.target_share_pct,
                r.achieved_share_pct,
                r.gap_points()
            ));
        }
        out.push_str("\n## Counts\n");
        table(&mut out, "split", &self.by_split, self.total);
        table(&mut out, "kind", &self.by_kind, self.total);
        table(&mut out, "complexity", &self.by_complexity, self.total);
        table(&mut out, "language", &self.by_language, self.total);
        table(&mut out, "scenario", &self.by_scenario, self.total);
        table(&mut out, "template", &self.by_template, self.total);
        table(&mut out, "source", &self.by_source, self.total);
        let l = &self.length;
        out.push_str(&format!(
            "\n## Length ({})\n\nmin {} / median {} / mean {:.0} / p90 {} / p99 {} / max {}\n\n| from | to | records |\n|---:|---:|---:|\n",
            l.unit, l.min, l.p50, l.mean, l.p90, l.p99, l.max
        ));
        for b in l.histogram.iter().filter(|b| b.count > 0) {
            out.push_str(&format!("| {} | {} | {} |\n", b.lo, b.hi, b.count));
        }
        if let Some(c) = &self.cleaning {
            out.push_str(&format!(
                "\n## Cleaning losses\n\n{} read, {} kept, {} dropped; {} conflict groups ({} resolved by execution-verified records).\n\n| reason | records |\n|---|---:|\n",
                c.input,
                c.kept,
                c.dropped(),
                c.conflict_groups,
                c.conflicts_resolved_by_verification
            ));
            for (k, v) in &c.dropped_by_reason {
                out.push_str(&format!("| {k} | {v} |\n"));
            }
            if !c.fixed.is_empty() {
                out.push_str("\n| fix | count |\n|---|---:|\n");
                for (k, v) in &c.fixed {
                    out.push_str(&format!("| {k} | {v} |\n"));
                }
            }
        }
        if !charts.is_empty() {
            out.push_str("\n## Charts\n");
            for (file, caption) in charts {
                out.push_str(&format!("\n![{caption}]({file})\n\n{caption}\n"));
            }
        }
        out
    }

    /// Draws the charts into `dir`; returns (file name, caption) pairs.
    pub fn write_charts(&self, dir: &Path) -> Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        let bars = |m: &BTreeMap<String, usize>| -> Vec<(String, usize)> {
            m.iter().map(|(k, v)| (k.clone(), *v)).collect()
        };
        type Chart<'a> = (&'a str, &'a str, Vec<(String, usize)>);
        let mut charts: Vec<Chart> = vec![
            (
                "scenarios.png",
                "records per scenario",
                bars(&self.by_scenario),
            ),
            ("kinds.png", "records per kind", bars(&self.by_kind)),
            ("splits.png", "records per split", bars(&self.by_split)),
            (
                "templates.png",
                "records per template",
                bars(&self.by_template),
            ),
            (
                "lengths.png",
                "length histogram",
                self.length
                    .histogram
                    .iter()
                    .map(|b| (format!("{}-{}", b.lo, b.hi), b.count))
                    .collect(),
            ),
        ];
        if let Some(c) = &self.cleaning {
            charts.push((
                "losses.png",
                "cleaning losses by reason",
                bars(&c.dropped_by_reason),
            ));
        }
        for (file, what, data) in charts {
            if data.is_empty() {
                continue;
            }
            let path = dir.join(file);
            bar_chart(&path, what, &data)?;
            let names: Vec<String> = data.iter().map(|(k, v)| format!("{k} ({v})")).collect();
            out.push((file.to_owned(), format!("{what}: {}", names.join(", "))));
        }
        Ok(out)
    }
}

/// A bar chart: title, bars scaled to the largest value with quarter grid lines, each bar's
/// value above it and its name below (cut to fit), in the built-in pixel font.
pub fn bar_chart(path: &Path, title: &str, data: &[(String, usize)]) -> Result<()> {
    let chart_err = |e: &dyn std::fmt::Display| Error::Chart {
        path: PathBuf::from(path),
        message: e.to_string(),
    };
    // Written beside the destination, then renamed: a crash leaves no half-written PNG.
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{stem}.tmp-{}.png", std::process::id()));
    {
        let (w, h) = (960u32, 440u32);
        let root = BitMapBackend::new(&tmp, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| chart_err(&e))?;
        let text = |s: &str, x: i32, y: i32, scale: i32, color: RGBColor| -> Result<()> {
            for (x0, y0, x1, y1) in pixfont::squares(s, x, y, scale) {
                root.draw(&Rectangle::new(
                    [(x0, y0), (x1 - 1, y1 - 1)],
                    color.filled(),
                ))
                .map_err(|e| chart_err(&e))?;
            }
            Ok(())
        };
        let ink = RGBColor(40, 40, 40);
        text(title, 20, 12, 3, ink)?;
        let (left, right, top, bottom) = (20i32, w as i32 - 20, 60i32, h as i32 - 40);
        let max = data.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1) as f64;
        for q in 0..=4 {
            let y = bottom - ((bottom - top) as f64 * q as f64 / 4.0) as i32;
            root.draw(&PathElement::new(
                vec![(left, y), (right, y)],
                RGBColor(225, 225, 225),
            ))
            .map_err(|e| chart_err(&e))?;
        }
        let n = data.len() as i32;
        let slot = ((right - left) / n.max(1)).max(2);
        let scale = if slot >= 60 { 2 } else { 1 };
        for (i, (name, v)) in data.iter().enumerate() {
            let x0 = left + slot * i as i32 + slot / 8;
            let x1 = left + slot * (i as i32 + 1) - slot / 8;
            let y0 = bottom - ((bottom - top) as f64 * (*v as f64 / max)) as i32;
            root.draw(&Rectangle::new(
                [(x0, y0), (x1.max(x0 + 1), bottom)],
                RGBColor(52, 101, 164).filled(),
            ))
            .map_err(|e| chart_err(&e))?;
            let mid = (x0 + x1) / 2;
            let value = v.to_string();
            let vw = pixfont::width(&value, scale);
            if vw <= slot {
                text(&value, mid - vw / 2, y0 - 6 * scale - 2, scale, ink)?;
            }
            let label = pixfont::fit(name, slot - 4, scale);
            let lw = pixfont::width(&label, scale);
            text(&label, mid - lw / 2, bottom + 8, scale, ink)?;
        }
        root.draw(&PathElement::new(
            vec![(left, bottom), (right, bottom)],
            BLACK,
        ))
        .map_err(|e| chart_err(&e))?;
        root.present().map_err(|e| chart_err(&e))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| Error::io("rename into place", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clean::Chars;
    use crate::synthetic::{SyntheticSpec, generate};

    #[test]
    fn counts_lengths_markdown_and_charts() {
        let recs: Vec<(Record, Option<Split>)> = generate(&SyntheticSpec {
            records: 300,
            ..SyntheticSpec::default()
        })
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            (
                r,
                Some(if i % 10 == 0 {
                    Split::Test
                } else {
                    Split::Train
                }),
            )
        })
        .collect();
        let s = compute(&recs, &Chars, &MixSettings::default(), 10);
        assert_eq!(s.total, 300);
        assert_eq!(s.by_split["test"], 30);
        assert_eq!(s.by_kind.values().sum::<usize>(), 300);
        assert_eq!(
            s.length.histogram.iter().map(|b| b.count).sum::<usize>(),
            300
        );
        assert!(s.length.min <= s.length.p50 && s.length.p50 <= s.length.max);
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let charts = s.write_charts(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(charts.len(), 5);
        let png = std::fs::read(dir.path().join("scenarios.png")).unwrap_or_default();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let md = s.to_markdown(&charts);
        assert!(
            md.contains("| positive : hard_negative | 4.00 : 1 |"),
            "{md}"
        );
        assert!(md.contains("![records per scenario: calendar ("));
    }
}
