//! What a run reports: one `metrics.jsonl` line per step (loss, learning rate, gradient norm,
//! throughput, estimated MFU, peak memory), the process's peak resident memory, and the loss
//! curve drawn as a PNG at the end.

use std::io::Write;
use std::path::{Path, PathBuf};

use agentune_data::pixfont;
use plotters::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// One step's line of `metrics.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepMetrics {
    /// Optimizer step (from 1).
    pub step: u64,
    /// Weighted mean cross-entropy of the step's window.
    pub loss: f64,
    /// Learning rate used.
    pub lr: f64,
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
    /// Tokens fed through the network in the step.
    pub tokens: usize,
    /// Sum of loss weights (trained tokens) in the step.
    pub trained_tokens: f64,
    /// Tokens per second over the step.
    pub tokens_per_s: f64,
    /// Model FLOP utilisation (6 x parameters x tokens/s over the configured peak), if a peak
    /// is configured.
    pub mfu: Option<f64>,
    /// Peak resident memory of the process so far, in MiB (Linux only).
    pub peak_rss_mib: Option<f64>,
    /// Seconds the step took.
    pub step_s: f64,
}

/// The process's peak resident set size in MiB, where the system reports it.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Appends step lines to `metrics.jsonl`.
#[derive(Debug)]
pub struct MetricsLog {
    path: PathBuf,
    file: std::fs::File,
}

impl MetricsLog {
    /// Opens `path` for appending, first dropping every line of a step after `keep_through`
    /// (a resumed run rewrites what followed its checkpoint). A fresh run passes 0.
    pub fn open(path: &Path, keep_through: u64) -> Result<Self> {
        let kept = read_metrics(path)?
            .into_iter()
            .filter(|m| m.step <= keep_through)
            .collect::<Vec<_>>();
        let mut text = String::new();
        for m in &kept {
            text.push_str(&to_line(m)?);
        }
        agentune_schema::write_atomic(path, text.as_bytes())?;
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|e| Error::io("open", path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
        })
    }

    /// Appends one step.
    pub fn push(&mut self, m: &StepMetrics) -> Result<()> {
        let line = to_line(m)?;
        self.file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.flush())
            .map_err(|e| Error::io("append to", &self.path, e))
    }
}

fn to_line(m: &StepMetrics) -> Result<String> {
    let mut s = serde_json::to_string(m)
        .map_err(|e| Error::Training(format!("cannot serialise metrics: {e}")))?;
    s.push('\n');
    Ok(s)
}

/// The lines of a `metrics.jsonl` (none when it does not exist).
pub fn read_metrics(path: &Path) -> Result<Vec<StepMetrics>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("read", path, e)),
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| {
                Error::config(
                    Some(path),
                    format!("line {}: not a metrics record: {e}", i + 1),
                )
            })
        })
        .collect()
}

/// Draws the loss per step as a line chart, written atomically to `path`.
pub fn plot_loss(path: &Path, title: &str, points: &[(u64, f64)]) -> Result<()> {
    let err =
        |e: &dyn std::fmt::Display| Error::Training(format!("loss chart {}: {e}", path.display()));
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{stem}.tmp-{}.png", std::process::id()));
    {
        let (w, h) = (960u32, 480u32);
        let root = BitMapBackend::new(&tmp, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let ink = RGBColor(40, 40, 40);
        let text = |s: &str, x: i32, y: i32, scale: i32| -> Result<()> {
            for (x0, y0, x1, y1) in pixfont::squares(s, x, y, scale) {
                root.draw(&Rectangle::new([(x0, y0), (x1 - 1, y1 - 1)], ink.filled()))
                    .map_err(|e| err(&e))?;
            }
            Ok(())
        };
        text(title, 20, 12, 3)?;
        let (left, right, top, bottom) = (90i32, w as i32 - 20, 60i32, h as i32 - 50);
        let finite: Vec<(u64, f64)> = points.iter().copied().filter(|p| p.1.is_finite()).collect();
        let (lo, hi) = finite
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| {
                (a.min(p.1), b.max(p.1))
            });
        let (lo, hi) = if lo.is_finite() && hi > lo {
            (lo, hi)
        } else if lo.is_finite() {
            (lo - 0.5, lo + 0.5)
        } else {
            (0.0, 1.0)
        };
        let first = finite.first().map_or(0, |p| p.0);
        let last = finite.last().map_or(1, |p| p.0).max(first + 1);
        let px = |s: u64| {
            left + ((right - left) as f64 * (s - first) as f64 / (last - first) as f64) as i32
        };
        let py = |v: f64| bottom - ((bottom - top) as f64 * (v - lo) / (hi - lo)) as i32;
        for q in 0..=4 {
            let v = lo + (hi - lo) * f64::from(q) / 4.0;
            let y = py(v);
            root.draw(&PathElement::new(
                vec![(left, y), (right, y)],
                RGBColor(225, 225, 225),
            ))
            .map_err(|e| err(&e))?;
            text(&format!("{v:.3}"), 10, y - 5, 2)?;
        }
        root.draw(&PathElement::new(
            vec![(left, bottom), (right, bottom)],
            BLACK,
        ))
        .map_err(|e| err(&e))?;
        root.draw(&PathElement::new(vec![(left, top), (left, bottom)], BLACK))
            .map_err(|e| err(&e))?;
        text(&format!("STEP {first}"), left, bottom + 12, 2)?;
        let end = format!("{last}");
        text(&end, right - pixfont::width(&end, 2), bottom + 12, 2)?;
        let line: Vec<(i32, i32)> = finite.iter().map(|&(s, v)| (px(s), py(v))).collect();
        root.draw(&PathElement::new(
            line,
            RGBColor(52, 101, 164).stroke_width(2),
        ))
        .map_err(|e| err(&e))?;
        root.present().map_err(|e| err(&e))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| Error::io("rename into place", path, e))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn m(step: u64) -> StepMetrics {
        StepMetrics {
            step,
            loss: 3.0 / step as f64,
            lr: 1e-3,
            grad_norm: 1.0,
            tokens: 10,
            trained_tokens: 5.0,
            tokens_per_s: 100.0,
            mfu: None,
            peak_rss_mib: peak_rss_mib(),
            step_s: 0.1,
        }
    }

    #[test]
    fn log_truncates_on_resume_and_the_chart_is_a_png() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("metrics.jsonl");
        let mut log = MetricsLog::open(&path, 0).unwrap();
        for s in 1..=4 {
            log.push(&m(s)).unwrap();
        }
        drop(log);
        let mut log = MetricsLog::open(&path, 2).unwrap();
        log.push(&m(3)).unwrap();
        let steps: Vec<u64> = read_metrics(&path)
            .unwrap()
            .iter()
            .map(|m| m.step)
            .collect();
        assert_eq!(steps, vec![1, 2, 3]);
        std::fs::write(&path, "{bad\n").unwrap();
        let err = read_metrics(&path).unwrap_err().to_string();
        assert!(
            err.contains("metrics.jsonl") && err.contains("line 1"),
            "{err}"
        );
        let png = dir.path().join("loss.png");
        plot_loss(&png, "loss", &[(1, 3.0), (2, 2.0), (3, 1.5)]).unwrap();
        assert_eq!(&std::fs::read(&png).unwrap()[1..4], b"PNG");
        if cfg!(target_os = "linux") {
            assert!(peak_rss_mib().unwrap() > 1.0);
        }
    }
}
