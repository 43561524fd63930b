//! PNG charts of checkpoint comparisons drawn with plotters and labelled with the data crate's
//! pixel font: grouped bars (one group per metric or category, one bar per checkpoint, a
//! marker over bars that differ significantly from the baseline) and a confusion heat map.
//! Each chart is written beside its destination and renamed into place.

use std::path::Path;

use agentune_data::pixfont;
use plotters::prelude::*;

use crate::error::{Error, Result};

/// Bar colours of the checkpoints, in order (cycled).
const PALETTE: [RGBColor; 8] = [
    RGBColor(52, 101, 164),
    RGBColor(245, 121, 0),
    RGBColor(78, 154, 6),
    RGBColor(117, 80, 123),
    RGBColor(193, 125, 17),
    RGBColor(6, 152, 154),
    RGBColor(136, 138, 133),
    RGBColor(204, 0, 0),
];
const INK: RGBColor = RGBColor(40, 40, 40);
const MARK: RGBColor = RGBColor(204, 0, 0);

/// Draws into a temporary file beside `path`, then renames it into place.
fn draw_atomic(
    path: &Path,
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>) -> Result<()>,
) -> Result<()> {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{stem}.tmp-{}.png", std::process::id()));
    let result = (|| {
        let root = BitMapBackend::new(&tmp, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| chart_err(path, &e))?;
        draw(&root)?;
        root.present().map_err(|e| chart_err(path, &e))
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path).map_err(|e| Error::io("rename into place", path, e))
}

fn chart_err(path: &Path, e: &dyn std::fmt::Display) -> Error {
    Error::Invalid(format!("cannot draw chart {}: {e}", path.display()))
}

/// Draws `text` in the pixel font with its top-left corner at `(x, y)`.
fn text(
    root: &DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
    path: &Path,
    s: &str,
    (x, y): (i32, i32),
    scale: i32,
    color: RGBColor,
) -> Result<()> {
    for (x0, y0, x1, y1) in pixfont::squares(s, x, y, scale) {
        root.draw(&Rectangle::new(
            [(x0, y0), (x1 - 1, y1 - 1)],
            color.filled(),
        ))
        .map_err(|e| chart_err(path, &e))?;
    }
    Ok(())
}

/// One grouped bar chart: `values[s][g]` is series `s` (a checkpoint) in group `g` (a metric
/// or category); `marks[s][g]` puts a marker over that bar (a significant difference).
#[derive(Debug, Clone)]
pub struct GroupedBars<'a> {
    /// The chart's title.
    pub title: &'a str,
    /// Group names along the x axis.
    pub groups: &'a [String],
    /// Series names, shown in the legend.
    pub series: &'a [String],
    /// `values[series][group]`; `None` draws no bar.
    pub values: &'a [Vec<Option<f64>>],
    /// `marks[series][group]`: draw a significance marker over the bar.
    pub marks: &'a [Vec<bool>],
}

/// Draws a grouped bar chart into `path`. The y axis runs from 0 to 1 when every value lies
/// there (rates), else to the largest value.
pub fn grouped_bars(path: &Path, chart: &GroupedBars<'_>) -> Result<()> {
    let (ng, ns) = (
        chart.groups.len().max(1) as i32,
        chart.series.len().max(1) as i32,
    );
    let w = (160 + ng * (ns * 18 + 30)).clamp(640, 2400) as u32;
    let h = 480u32;
    let max = chart
        .values
        .iter()
        .flatten()
        .flatten()
        .fold(0.0f64, |m, v| m.max(*v));
    let top_value = if max <= 1.0 { 1.0 } else { max };
    draw_atomic(path, (w, h), |root| {
        text(root, path, chart.title, (20, 12), 3, INK)?;
        // Legend: one swatch and name per series.
        let mut lx = 20;
        for (s, name) in chart.series.iter().enumerate() {
            let color = PALETTE[s % PALETTE.len()];
            root.draw(&Rectangle::new([(lx, 40), (lx + 10, 50)], color.filled()))
                .map_err(|e| chart_err(path, &e))?;
            let label = pixfont::fit(name, 200, 2);
            text(root, path, &label, (lx + 14, 41), 2, INK)?;
            lx += 14 + pixfont::width(&label, 2) + 20;
        }
        text(
            root,
            path,
            "+ = significant vs baseline",
            (
                w as i32 - 20 - pixfont::width("+ = significant vs baseline", 1),
                44,
            ),
            1,
            MARK,
        )?;
        let (left, right, top, bottom) = (56i32, w as i32 - 20, 80i32, h as i32 - 50);
        for q in 0..=4 {
            let y = bottom - ((bottom - top) as f64 * f64::from(q) / 4.0) as i32;
            root.draw(&PathElement::new(
                vec![(left, y), (right, y)],
                RGBColor(225, 225, 225),
            ))
            .map_err(|e| chart_err(path, &e))?;
            let tick = format_tick(top_value * f64::from(q) / 4.0);
            let tw = pixfont::width(&tick, 1);
            text(root, path, &tick, (left - 6 - tw, y - 2), 1, INK)?;
        }
        let slot = ((right - left) / ng).max(4);
        let bar = ((slot - slot / 5) / ns).max(1);
        for (g, name) in chart.groups.iter().enumerate() {
            let gx = left + slot * g as i32 + slot / 10;
            for s in 0..chart.series.len() {
                let Some(v) = chart
                    .values
                    .get(s)
                    .and_then(|r| r.get(g))
                    .copied()
                    .flatten()
                else {
                    continue;
                };
                let x0 = gx + bar * s as i32;
                let x1 = (x0 + bar - 1).max(x0 + 1);
                let y0 = bottom - ((bottom - top) as f64 * (v / top_value).clamp(0.0, 1.0)) as i32;
                root.draw(&Rectangle::new(
                    [(x0, y0.min(bottom - 1)), (x1, bottom)],
                    PALETTE[s % PALETTE.len()].filled(),
                ))
                .map_err(|e| chart_err(path, &e))?;
                let marked = chart
                    .marks
                    .get(s)
                    .and_then(|r| r.get(g))
                    .copied()
                    .unwrap_or(false);
                if marked {
                    let mid = (x0 + x1) / 2;
                    text(root, path, "+", (mid - 3, y0 - 14), 2, MARK)?;
                }
            }
            let scale = if slot >= 80 { 2 } else { 1 };
            let label = pixfont::fit(name, slot - 4, scale);
            let lw = pixfont::width(&label, scale);
            let mid = left + slot * g as i32 + slot / 2;
            text(root, path, &label, (mid - lw / 2, bottom + 10), scale, INK)?;
        }
        root.draw(&PathElement::new(
            vec![(left, bottom), (right, bottom)],
            BLACK,
        ))
        .map_err(|e| chart_err(path, &e))?;
        Ok(())
    })
}

fn format_tick(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else if v < 10.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.1}")
    }
}

/// Draws a confusion heat map: `counts[r][c]` items whose gold label is `rows[r]` and whose
/// chosen label is `cols[c]`; darker cells hold more items, each cell shows its count.
pub fn confusion(
    path: &Path,
    title: &str,
    rows: &[String],
    cols: &[String],
    counts: &[Vec<usize>],
) -> Result<()> {
    let cell = 28i32;
    let label_w = 150i32;
    let (nr, nc) = (rows.len() as i32, cols.len() as i32);
    let w = (label_w + nc * cell + 40).max(480) as u32;
    let h = (90 + 130 + nr * cell + 20) as u32;
    let max = counts.iter().flatten().copied().max().unwrap_or(0).max(1) as f64;
    draw_atomic(path, (w, h), |root| {
        text(root, path, title, (20, 12), 2, INK)?;
        text(
            root,
            path,
            "rows: gold tool, columns: chosen tool",
            (20, 36),
            1,
            INK,
        )?;
        let (x0, y0) = (label_w, 90 + 130);
        // Column names, written upwards one character per line would not fit the font, so
        // each is cut to the space above its column and stacked in lines.
        for (c, name) in cols.iter().enumerate() {
            let x = x0 + c as i32 * cell + cell / 2 - 1;
            let label: Vec<char> = name.chars().take(21).collect();
            for (k, ch) in label.iter().enumerate() {
                text(
                    root,
                    path,
                    &ch.to_string(),
                    (x - 1, 60 + k as i32 * 7),
                    1,
                    INK,
                )?;
            }
        }
        for (r, name) in rows.iter().enumerate() {
            let y = y0 + r as i32 * cell;
            let label = pixfont::fit(name, label_w - 10, 1);
            text(root, path, &label, (8, y + cell / 2 - 2), 1, INK)?;
            for c in 0..cols.len() {
                let n = counts
                    .get(r)
                    .and_then(|row| row.get(c))
                    .copied()
                    .unwrap_or(0);
                let x = x0 + c as i32 * cell;
                let shade = 255 - (200.0 * n as f64 / max) as u8;
                let fill = if r < cols.len() && rows[r] == cols[c] {
                    RGBColor(shade, 255, shade)
                } else {
                    RGBColor(255, shade, shade)
                };
                let fill = if n == 0 { WHITE } else { fill };
                root.draw(&Rectangle::new(
                    [(x, y), (x + cell - 1, y + cell - 1)],
                    fill.filled(),
                ))
                .map_err(|e| chart_err(path, &e))?;
                root.draw(&Rectangle::new(
                    [(x, y), (x + cell - 1, y + cell - 1)],
                    RGBColor(210, 210, 210),
                ))
                .map_err(|e| chart_err(path, &e))?;
                if n > 0 {
                    let s = n.to_string();
                    let s = pixfont::fit(&s, cell - 2, 1);
                    let sw = pixfont::width(&s, 1);
                    text(
                        root,
                        path,
                        &s,
                        (x + cell / 2 - sw / 2, y + cell / 2 - 2),
                        1,
                        INK,
                    )?;
                }
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn charts_are_written_as_png() {
        let dir = tempfile::tempdir().unwrap();
        let groups = vec!["accuracy".to_owned(), "arg_f1".to_owned()];
        let series = vec!["base".to_owned(), "tuned".to_owned()];
        let values = vec![vec![Some(0.3), Some(0.5)], vec![Some(0.8), None]];
        let marks = vec![vec![false, false], vec![true, false]];
        let path = dir.path().join("bars.png");
        grouped_bars(
            &path,
            &GroupedBars {
                title: "metrics",
                groups: &groups,
                series: &series,
                values: &values,
                marks: &marks,
            },
        )
        .unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
        let cm = dir.path().join("cm.png");
        confusion(
            &cm,
            "confusion",
            &["a".into(), "(none)".into()],
            &["a".into(), "b".into()],
            &[vec![3, 1], vec![0, 2]],
        )
        .unwrap();
        assert_eq!(&std::fs::read(&cm).unwrap()[1..4], b"PNG");
        // Nothing but the two charts: the temporary files were renamed away.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }
}
