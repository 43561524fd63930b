//! The report of a template run: candidates, accepted, rejected by reason, and the diversity
//! of what was accepted (distribution of pairwise similarity, coverage of languages, syntaxes,
//! labels, call markers, argument keys, observation roles, tool listings, give-up support),
//! written as JSON and as markdown.

use std::collections::BTreeMap;
use std::path::Path;

use agentune_data::minhash::similarity;
use agentune_data::rng::Rng;
use agentune_runtime::Template;
use agentune_schema::{ObservationRole, StepSyntax};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::validate::{Checked, Rejection};

/// Summary statistics of the pairwise similarities of accepted templates.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SimilarityStats {
    /// Pairs measured (all pairs, or a seeded sample of 200,000 when there are more).
    pub pairs: usize,
    /// Smallest estimated Jaccard similarity.
    pub min: f64,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
    /// Pairs per tenth: `histogram[i]` counts similarities in `[i/10, (i+1)/10)` (the last
    /// bin includes 1).
    pub histogram: Vec<usize>,
}

/// How often each value of each template feature occurs among accepted templates.
pub type Coverage = BTreeMap<String, BTreeMap<String, usize>>;

/// The report of one run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Where the candidates came from (`grammar`, `teacher`).
    pub source: String,
    /// Candidates checked.
    pub candidates: usize,
    /// Accepted.
    pub accepted: usize,
    /// Rejected, by reason.
    pub rejected: BTreeMap<String, usize>,
    /// Pairwise similarity of the accepted templates.
    pub similarity: SimilarityStats,
    /// Feature coverage of the accepted templates.
    pub coverage: Coverage,
    /// Near-duplicate threshold in force.
    pub near_duplicate: f64,
}

const MAX_PAIRS: usize = 200_000;

impl Report {
    /// The report of a run: `accepted` in order, every rejection.
    pub fn new(
        source: &str,
        accepted: &[&Checked],
        rejections: &[Rejection],
        near_duplicate: f64,
    ) -> Self {
        let mut rejected = BTreeMap::new();
        for r in rejections {
            *rejected.entry(r.reason.as_str().to_owned()).or_insert(0) += 1;
        }
        Self {
            source: source.to_owned(),
            candidates: accepted.len() + rejections.len(),
            accepted: accepted.len(),
            rejected,
            similarity: similarity_stats(accepted),
            coverage: coverage(accepted.iter().map(|c| &c.template)),
            near_duplicate,
        }
    }

    /// Writes `report.json` and `report.md` into `dir`, atomically.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let json = serde_json::to_string_pretty(self).unwrap_or_default();
        agentune_schema::write_atomic(dir.join("report.json"), format!("{json}\n").as_bytes())?;
        agentune_schema::write_atomic(dir.join("report.md"), self.markdown().as_bytes())?;
        Ok(())
    }

    /// The report as markdown.
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        md.push_str(&format!("# Template report ({})\n\n", self.source));
        md.push_str(&format!(
            "{} candidates: **{} accepted**, {} rejected.\n\n",
            self.candidates,
            self.accepted,
            self.candidates - self.accepted
        ));
        if !self.rejected.is_empty() {
            md.push_str("| rejected because | count |\n|---|---:|\n");
            for (r, n) in &self.rejected {
                md.push_str(&format!("| {r} | {n} |\n"));
            }
            md.push('\n');
        }
        let s = &self.similarity;
        md.push_str(&format!(
            "## Pairwise similarity\n\nEstimated Jaccard similarity of character 5-grams over {} pairs of accepted templates (near-duplicates at >= {} were dropped).\n\n",
            s.pairs, self.near_duplicate
        ));
        md.push_str("| min | mean | p50 | p90 | p99 | max |\n|---:|---:|---:|---:|---:|---:|\n");
        md.push_str(&format!(
            "| {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |\n\n",
            s.min, s.mean, s.p50, s.p90, s.p99, s.max
        ));
        if s.pairs > 0 {
            md.push_str("| similarity | pairs |\n|---|---:|\n");
            for (i, n) in s.histogram.iter().enumerate() {
                md.push_str(&format!(
                    "| {:.1}-{:.1} | {n} |\n",
                    i as f64 / 10.0,
                    (i + 1) as f64 / 10.0
                ));
            }
            md.push('\n');
        }
        md.push_str("## Coverage\n\n");
        for (feature, values) in &self.coverage {
            md.push_str(&format!("- **{feature}**: "));
            let parts: Vec<String> = values.iter().map(|(v, n)| format!("`{v}` {n}")).collect();
            md.push_str(&parts.join(", "));
            md.push('\n');
        }
        md
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Pairwise similarity statistics (all pairs, or a seeded sample when there are many).
pub fn similarity_stats(accepted: &[&Checked]) -> SimilarityStats {
    let n = accepted.len();
    let total = n * n.saturating_sub(1) / 2;
    let mut sims = Vec::with_capacity(total.min(MAX_PAIRS));
    if total <= MAX_PAIRS {
        for i in 0..n {
            for j in i + 1..n {
                sims.push(similarity(&accepted[i].signature, &accepted[j].signature));
            }
        }
    } else {
        let mut rng = Rng::new(5);
        while sims.len() < MAX_PAIRS {
            let (i, j) = (rng.below(n), rng.below(n));
            if i != j {
                sims.push(similarity(&accepted[i].signature, &accepted[j].signature));
            }
        }
    }
    if sims.is_empty() {
        return SimilarityStats {
            histogram: vec![0; 10],
            ..Default::default()
        };
    }
    sims.sort_by(f64::total_cmp);
    let mut histogram = vec![0usize; 10];
    for s in &sims {
        histogram[((s * 10.0) as usize).min(9)] += 1;
    }
    SimilarityStats {
        pairs: sims.len(),
        min: sims[0],
        mean: sims.iter().sum::<f64>() / sims.len() as f64,
        p50: percentile(&sims, 0.5),
        p90: percentile(&sims, 0.9),
        p99: percentile(&sims, 0.99),
        max: sims[sims.len() - 1],
        histogram,
    }
}

/// Counts of each feature value over templates.
pub fn coverage<'a>(templates: impl Iterator<Item = &'a Template>) -> Coverage {
    let mut cov: Coverage = BTreeMap::new();
    let mut add = |feature: &str, value: String| {
        *cov.entry(feature.to_owned())
            .or_default()
            .entry(value)
            .or_insert(0) += 1;
    };
    for t in templates {
        let s = t.spec();
        add("language", s.language.clone());
        add("family", s.family.as_str().to_owned());
        let (kind, thought, call, args) = match &s.syntax {
            StepSyntax::Labeled(l) => (
                if l.finish.is_some() {
                    "labeled+finish"
                } else {
                    "labeled"
                },
                l.thought.clone(),
                l.action.clone(),
                l.action_input.clone(),
            ),
            StepSyntax::Json(j) => (
                "json",
                j.thoughts_key.clone(),
                j.command_key.clone(),
                j.args_key.clone(),
            ),
            StepSyntax::Tagged(tg) => (
                "tagged",
                "(free text)".into(),
                tg.open.clone(),
                tg.args_key.clone(),
            ),
            StepSyntax::Native(_) => (
                "native",
                "(content)".into(),
                "(tool_calls)".into(),
                "(arguments)".into(),
            ),
        };
        add("syntax", kind.to_owned());
        add("thought_label", thought);
        add("call_marker", call);
        add("argument_key", args);
        if let StepSyntax::Tagged(tg) = &s.syntax {
            add(
                "tagged_fence",
                tg.fence.clone().unwrap_or_else(|| "(none)".into()),
            );
        }
        add(
            "observation_role",
            match s.observation.role {
                ObservationRole::Tool => "tool",
                ObservationRole::User => "user",
            }
            .to_owned(),
        );
        let listing = if s.tools.line.contains("{openai}") {
            "openai json"
        } else if s.tools.line.contains("{function}") {
            "function json"
        } else if s.tools.line.contains('\n') {
            "multi-line text"
        } else {
            "one-line text"
        };
        add("tool_listing", listing.to_owned());
        let give_up = match (t.can_give_up(true), t.can_give_up(false)) {
            (true, true) => "restart+give_up",
            (true, false) => "restart",
            (false, true) => "give_up",
            (false, false) => "none",
        };
        add("give_up", give_up.to_owned());
        add("parallel_calls", t.parallel_calls().to_string());
        add(
            "final_answer_prompt",
            t.has_final_answer_prompt().to_string(),
        );
        let sections: Vec<&str> = [
            ("constraints", ["Constraints", "Rules", "约束", "规则"]),
            (
                "best_practices",
                ["Best practices", "Tips", "最佳实践", "建议"],
            ),
        ]
        .iter()
        .filter(|(_, words)| words.iter().any(|w| s.system.contains(w)))
        .map(|(name, _)| *name)
        .collect();
        add(
            "sections",
            if sections.is_empty() {
                "(core only)".into()
            } else {
                sections.join("+")
            },
        );
    }
    cov
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::{Reason, ValidationSettings, Validator};
    use agentune_runtime::tools::ToolRegistry;

    #[test]
    fn report_counts_reasons_similarity_and_coverage() {
        let tools = ToolRegistry::builtin_specs().unwrap();
        let mut v = Validator::new(
            tools,
            &["weather in Paris".into()],
            ValidationSettings::default(),
        )
        .unwrap();
        let mut rejections = Vec::new();
        for id in Template::builtin_ids() {
            let spec = Template::builtin(id).unwrap().spec().clone();
            if let Err(r) = v.check_spec(spec, "builtin") {
                rejections.push(r);
            }
        }
        if let Err(r) = v.check_text("no json here", "teacher", None) {
            rejections.push(r);
        }
        let accepted: Vec<&Checked> = v.accepted().collect();
        let report = Report::new("test", &accepted, &rejections, 0.9);
        assert_eq!(report.candidates, Template::builtin_ids().len() + 1);
        assert_eq!(report.rejected.get(Reason::NoTemplate.as_str()), Some(&1));
        let n = report.accepted;
        assert_eq!(report.similarity.pairs, n * (n - 1) / 2);
        assert_eq!(
            report.similarity.histogram.iter().sum::<usize>(),
            report.similarity.pairs
        );
        assert!(
            report.similarity.min <= report.similarity.p50
                && report.similarity.p50 <= report.similarity.max
        );
        assert!(report.similarity.max < 0.9);
        assert_eq!(report.coverage["language"]["zh"], 2);
        assert_eq!(report.coverage["syntax"]["tagged"], 2);
        assert_eq!(report.coverage["give_up"]["restart"], 2);
        let md = report.markdown();
        assert!(
            md.contains("| no_template | 1 |") && md.contains("**thought_label**"),
            "{md}"
        );
        let dir = tempfile::tempdir().unwrap();
        report.write(dir.path()).unwrap();
        let back: Report =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join("report.json")).unwrap())
                .unwrap();
        assert_eq!(back, report);
    }
}
