//! Template diversity: each template-independent trajectory is rendered under several agent
//! templates into training [`Sample`]s, the templates drawn per record from a weighted
//! distribution over the shipped ids and any template files (a meta-agent's output, say).
//! Templates that cannot express a trajectory (parallel calls in a one-call template, a
//! give-up in a template without one) are skipped and counted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use agentune_runtime::Template;
use agentune_schema::{Message, Role, Sample, Step, Trajectory};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::hash::{hash_str, mix64};
use crate::import::QUERY_GROUP_PREFIX;
use crate::record::{detect_language, infer_meta};
use crate::rng::Rng;

/// Templates with sampling weights.
#[derive(Debug, Clone)]
pub struct TemplateMix {
    entries: Vec<(Template, f64)>,
}

impl TemplateMix {
    /// A mix from templates and weights (finite, positive; ids unique).
    pub fn new(entries: Vec<(Template, f64)>) -> Result<Self> {
        if entries.is_empty() {
            return Err(Error::Invalid("the template mix is empty".into()));
        }
        for (i, (t, w)) in entries.iter().enumerate() {
            if !w.is_finite() || *w <= 0.0 {
                return Err(Error::Invalid(format!(
                    "template `{}`: weight must be a positive number, found {w}",
                    t.id()
                )));
            }
            if entries[..i].iter().any(|(o, _)| o.id() == t.id()) {
                return Err(Error::Invalid(format!(
                    "template `{}` is listed twice",
                    t.id()
                )));
            }
        }
        Ok(Self { entries })
    }

    /// Every shipped template, equally weighted.
    pub fn builtin() -> Result<Self> {
        let entries = Template::builtin_ids()
            .iter()
            .map(|id| Ok((builtin(id)?, 1.0)))
            .collect::<Result<Vec<_>>>()?;
        Self::new(entries)
    }

    /// A mix from command-line style specs: each is a shipped id, a template file (TOML or
    /// JSON), a folder (every `*.toml` and `*.json` in it) or a file-name pattern with `*` and
    /// `?` (`generated/*.toml`). `weights` gives one weight per spec (shared by every
    /// template a folder or pattern yields); empty means equal weights.
    pub fn from_specs(specs: &[String], weights: &[f64]) -> Result<Self> {
        if !weights.is_empty() && weights.len() != specs.len() {
            return Err(Error::Invalid(format!(
                "{} weight(s) for {} template spec(s); give one weight per spec",
                weights.len(),
                specs.len()
            )));
        }
        let mut entries = Vec::new();
        for (i, spec) in specs.iter().enumerate() {
            let w = weights.get(i).copied().unwrap_or(1.0);
            let spec = spec.trim();
            if Template::builtin_ids().contains(&spec) {
                entries.push((builtin(spec)?, w));
                continue;
            }
            let paths = expand(spec)?;
            if paths.is_empty() {
                return Err(Error::Invalid(format!(
                    "template spec `{spec}` matches no file (shipped ids: {})",
                    Template::builtin_ids().join(", ")
                )));
            }
            for p in paths {
                let t = Template::load(&p).map_err(|e| Error::Invalid(e.to_string()))?;
                entries.push((t, w));
            }
        }
        Self::new(entries)
    }

    /// The templates, in order.
    pub fn templates(&self) -> impl Iterator<Item = &Template> {
        self.entries.iter().map(|(t, _)| t)
    }

    /// The template with this id.
    pub fn get(&self, id: &str) -> Option<&Template> {
        self.templates().find(|t| t.id() == id)
    }

    /// A weighted random order of all templates (sampling without replacement).
    fn order(&self, rng: &mut Rng) -> Vec<usize> {
        let mut left: Vec<usize> = (0..self.entries.len()).collect();
        let mut out = Vec::with_capacity(left.len());
        while !left.is_empty() {
            let total: f64 = left.iter().map(|&i| self.entries[i].1).sum();
            let mut x = rng.unit() * total;
            let mut pick = left.len() - 1;
            for (k, &i) in left.iter().enumerate() {
                x -= self.entries[i].1;
                if x < 0.0 {
                    pick = k;
                    break;
                }
            }
            out.push(left.remove(pick));
        }
        out
    }
}

fn builtin(id: &str) -> Result<Template> {
    Template::builtin(id).map_err(|e| Error::Invalid(e.to_string()))
}

/// Files named by a path, a folder or a `*`/`?` pattern over file names, sorted.
pub fn expand(spec: &str) -> Result<Vec<PathBuf>> {
    let path = Path::new(spec);
    let listing = |dir: &Path, keep: &dyn Fn(&str) -> bool| -> Result<Vec<PathBuf>> {
        let rd = std::fs::read_dir(dir).map_err(|e| Error::io("list", dir, e))?;
        let mut out = Vec::new();
        for entry in rd {
            let entry = entry.map_err(|e| Error::io("list", dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.path().is_file() && keep(&name) {
                out.push(entry.path());
            }
        }
        out.sort();
        Ok(out)
    };
    if spec.contains('*') || spec.contains('?') {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let pattern = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        return listing(dir, &|name| wildcard(&pattern, name));
    }
    if path.is_dir() {
        return listing(path, &|name| {
            name.ends_with(".toml") || name.ends_with(".json")
        });
    }
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    Ok(Vec::new())
}

/// `*` (any run) and `?` (one character) matching of a whole name.
fn wildcard(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni, mut star, mut mark) = (0, 0, None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Why a trajectory cannot be rendered under a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unrenderable {
    /// A step calls several tools and the template allows one call per reply.
    ParallelCalls,
    /// A give-up (with or without restart) the template cannot express.
    GiveUp,
    /// Anything else the renderer refused.
    Other(String),
}

impl Unrenderable {
    /// A short reason for reports.
    pub fn reason(&self) -> &str {
        match self {
            Self::ParallelCalls => "parallel_calls",
            Self::GiveUp => "give_up",
            Self::Other(_) => "render_error",
        }
    }
}

/// Whether `template` can express every step of `t`.
pub fn expressible(t: &Trajectory, template: &Template) -> Result<(), Unrenderable> {
    for s in &t.steps {
        match &s.step {
            Step::ToolCalls { calls, .. } if calls.len() > 1 && !template.parallel_calls() => {
                return Err(Unrenderable::ParallelCalls);
            }
            Step::GiveUp { restart, .. } if !template.can_give_up(*restart) => {
                return Err(Unrenderable::GiveUp);
            }
            _ => {}
        }
    }
    Ok(())
}

/// The trajectory as one training sample under `template`: the conversation of
/// [`Template::render_conversation`] (its last attempt, whose prompt carries any failed
/// attempts), the tools in `tools` only for native-tool templates (others list them in the
/// prompt), labels and provenance kept, and a `group` naming the query, which ties all
/// renderings of one query to one split.
pub fn render_sample(t: &Trajectory, template: &Template) -> Result<Sample, Unrenderable> {
    let mut all = render_samples(t, template)?;
    all.pop()
        .ok_or_else(|| Unrenderable::Other("the trajectory has no attempt".into()))
}

/// Every attempt of the trajectory as a training sample under `template`
/// ([`Template::render_attempts`]): a trajectory that gave up and restarted yields one sample
/// per attempt, so the model learns both to give up on a dead end (the earlier attempts, id
/// `<trajectory>@<template>#<k>`, ending in the give-up) and to finish after a restart (the
/// last attempt, id `<trajectory>@<template>`, its prompt carrying the failed attempts).
/// In an earlier attempt only the give-up is trained: the replies before it led to the dead
/// end (a synthesised failed attempt calls a tool with a mistyped argument), so they stay in
/// the sample as context with loss weight 0 and are not scored as held-out steps either.
pub fn render_samples(t: &Trajectory, template: &Template) -> Result<Vec<Sample>, Unrenderable> {
    expressible(t, template)?;
    let attempts = template
        .render_attempts(t)
        .map_err(|e| Unrenderable::Other(e.to_string()))?;
    let meta = t.meta.clone().unwrap_or_else(|| {
        let calls: Vec<&str> = t
            .steps
            .iter()
            .flat_map(|s| s.step.calls().iter().map(|c| c.name.as_str()))
            .collect();
        let steps = t
            .steps
            .iter()
            .filter(|s| !s.step.calls().is_empty())
            .count();
        infer_meta(
            t.provenance.source.as_str(),
            &t.query,
            !t.tools.is_empty(),
            &calls,
            steps,
        )
    });
    let last = attempts.len().saturating_sub(1);
    Ok(attempts
        .into_iter()
        .enumerate()
        .map(|(k, mut messages)| {
            if k != last {
                context_until_last_reply(&mut messages);
            }
            Sample {
                schema_version: Default::default(),
                id: if k == last {
                    format!("{}@{}", t.id, template.id())
                } else {
                    format!("{}@{}#{k}", t.id, template.id())
                },
                messages,
                tools: if template.native_tools() {
                    t.tools.clone()
                } else {
                    Vec::new()
                },
                template_id: Some(template.id().to_owned()),
                meta: meta.clone(),
                split: None,
                // Grouped by the query itself: splitting and the leakage check compare this text,
                // not the template's prompt around it, and every rendering lands in one split.
                group: Some(format!("{QUERY_GROUP_PREFIX}{}", t.query)),
                provenance: Some(t.provenance.clone()),
            }
        })
        .collect())
}

/// Every assistant reply but the last becomes context (loss weight 0).
fn context_until_last_reply(messages: &mut [Message]) {
    if let Some(last) = messages.iter().rposition(|m| m.role == Role::Assistant) {
        for m in &mut messages[..last] {
            if m.role == Role::Assistant {
                m.loss = Some(0.0);
            }
        }
    }
}

/// Rendering settings.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderSettings {
    /// Templates per trajectory (fewer when fewer can express it).
    pub per_record: usize,
    /// Seed of the template draws.
    pub seed: u64,
    /// Try the templates written in the query's language first (a Chinese query gets
    /// `react_zh` or `toolllama_zh` when the mix has them), then the others.
    pub match_language: bool,
}

impl Default for RenderSettings {
    fn default() -> Self {
        Self {
            per_record: 2,
            seed: 42,
            match_language: true,
        }
    }
}

/// What rendering did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RenderReport {
    /// Trajectories read.
    pub trajectories: usize,
    /// Samples written.
    pub samples: usize,
    /// Samples per template id.
    pub by_template: BTreeMap<String, usize>,
    /// Skipped renderings by `template/reason`.
    pub skipped: BTreeMap<String, usize>,
    /// Trajectories no template could express.
    pub unrendered: usize,
}

impl RenderReport {
    /// Skipped renderings in all.
    pub fn skipped_total(&self) -> usize {
        self.skipped.values().sum()
    }
}

/// Renders trajectories under templates drawn from a [`TemplateMix`].
#[derive(Debug, Clone)]
pub struct Renderer {
    mix: TemplateMix,
    settings: RenderSettings,
}

impl Renderer {
    /// A renderer; `per_record` must be at least 1.
    pub fn new(mix: TemplateMix, settings: RenderSettings) -> Result<Self> {
        if settings.per_record == 0 {
            return Err(Error::Invalid(
                "templates per record must be at least 1".into(),
            ));
        }
        Ok(Self { mix, settings })
    }

    /// The samples of one trajectory: templates in a weighted random order (seeded by the
    /// trajectory id, so the result does not depend on file order), the first `per_record`
    /// that can express it; the ones tried and refused are counted in `report`. With
    /// `match_language`, the templates in the query's language come first (in their drawn
    /// order), so others are used only when too few of those can express the trajectory.
    pub fn render(&self, t: &Trajectory, report: &mut RenderReport) -> Vec<Sample> {
        report.trajectories += 1;
        let mut rng = Rng::new(mix64(self.settings.seed ^ hash_str(&t.id)));
        let mut order = self.mix.order(&mut rng);
        if self.settings.match_language {
            let lang = t
                .meta
                .as_ref()
                .map_or_else(|| detect_language(&t.query), |m| m.language.as_str());
            // A stable sort keeps the weighted draw within each group.
            order.sort_by_key(|&i| self.mix.entries[i].0.spec().language != lang);
        }
        let mut out = Vec::new();
        let mut rendered = 0;
        for i in order {
            if rendered == self.settings.per_record {
                break;
            }
            let template = &self.mix.entries[i].0;
            match render_samples(t, template) {
                Ok(samples) => {
                    *report
                        .by_template
                        .entry(template.id().to_owned())
                        .or_default() += samples.len();
                    rendered += 1;
                    out.extend(samples);
                }
                Err(e) => {
                    if let Unrenderable::Other(message) = &e {
                        tracing::debug!(id = %t.id, template = template.id(), %message, "not rendered");
                    }
                    *report
                        .skipped
                        .entry(format!("{}/{}", template.id(), e.reason()))
                        .or_default() += 1;
                }
            }
        }
        if out.is_empty() {
            report.unrendered += 1;
        }
        report.samples += out.len();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_whole_names() {
        assert!(wildcard("*.toml", "react.toml"));
        assert!(wildcard("gen_??.toml", "gen_01.toml"));
        assert!(!wildcard("gen_??.toml", "gen_1.toml"));
        assert!(!wildcard("*.toml", "react.json"));
        assert!(wildcard("*", "x"));
    }

    #[test]
    fn weights_are_checked() {
        let specs = vec!["react".to_owned(), "hermes".to_owned()];
        assert!(TemplateMix::from_specs(&specs, &[1.0]).is_err());
        assert!(TemplateMix::from_specs(&specs, &[1.0, 0.0]).is_err());
        assert!(TemplateMix::from_specs(&["react".into(), "react".into()], &[]).is_err());
        assert!(TemplateMix::from_specs(&["no_such_template".into()], &[]).is_err());
        let mix = TemplateMix::from_specs(&specs, &[3.0, 1.0]);
        assert!(mix.is_ok_and(|m| m.templates().count() == 2));
    }

    #[test]
    fn weighted_order_follows_the_weights() {
        let specs = vec!["react".to_owned(), "hermes".to_owned()];
        let Ok(mix) = TemplateMix::from_specs(&specs, &[9.0, 1.0]) else {
            panic!("mix");
        };
        let mut rng = Rng::new(1);
        let first_react = (0..2000).filter(|_| mix.order(&mut rng)[0] == 0).count();
        assert!((1700..1900).contains(&first_react), "{first_react}");
    }

    fn trajectory(id: &str, query: &str) -> Trajectory {
        Trajectory {
            schema_version: Default::default(),
            id: id.into(),
            query: query.into(),
            history: Vec::new(),
            tools: Vec::new(),
            steps: vec![agentune_schema::TrajectoryStep::new(Step::FinalAnswer {
                thought: None,
                answer: "ok".into(),
            })],
            outcome: agentune_schema::Outcome::Answered,
            template_id: None,
            meta: None,
            provenance: agentune_schema::Provenance::source("test"),
            checks: Vec::new(),
        }
    }

    #[test]
    fn queries_get_templates_in_their_language_first() {
        let specs: Vec<String> = ["react", "react_zh", "hermes", "toolllama_zh"]
            .map(String::from)
            .to_vec();
        let Ok(mix) = TemplateMix::from_specs(&specs, &[]) else {
            panic!("mix");
        };
        let renderer = |match_language| {
            Renderer::new(
                mix.clone(),
                RenderSettings {
                    per_record: 2,
                    seed: 3,
                    match_language,
                },
            )
        };
        let (Ok(on), Ok(off)) = (renderer(true), renderer(false)) else {
            panic!("renderer");
        };
        let mut report = RenderReport::default();
        let (mut zh_off, mut en_off) = (0, 0);
        for i in 0..40 {
            let zh = trajectory(&format!("z{i}"), "明天北京会下雨吗？");
            let en = trajectory(&format!("e{i}"), "Will it rain in Beijing tomorrow?");
            let ids = |r: &Renderer, t: &Trajectory, report: &mut RenderReport| {
                r.render(t, report)
                    .into_iter()
                    .map(|s| s.template_id.unwrap_or_default())
                    .collect::<Vec<_>>()
            };
            let mut z = ids(&on, &zh, &mut report);
            z.sort();
            assert_eq!(z, ["react_zh", "toolllama_zh"]);
            let e = ids(&on, &en, &mut report);
            assert!(e.iter().all(|id| !id.ends_with("_zh")), "{e:?}");
            zh_off += ids(&off, &zh, &mut report)
                .iter()
                .filter(|id| !id.ends_with("_zh"))
                .count();
            en_off += ids(&off, &en, &mut report)
                .iter()
                .filter(|id| id.ends_with("_zh"))
                .count();
        }
        // Without matching, the draw ignores the language.
        assert!(zh_off > 10 && en_off > 10, "{zh_off} {en_off}");
    }
}
