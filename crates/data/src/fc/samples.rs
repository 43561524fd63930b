//! Function-calling samples over a tool catalog (synthesised or imported), in the kinds BFCL
//! tests: *simple* (one function offered, one call), *multiple* (several offered, one
//! called), *parallel* (several calls of one function), *parallel-multiple* (calls of several
//! functions) and *irrelevance* (no offered function fits; the answer makes no call). Every
//! argument value is said in the query (numbers, names, units, dates, lists, converted where
//! people write them differently), optional parameters the query does not give are left out,
//! every gold call is validated against its schema, and the observations come from the
//! runtime's simulated executor, so each record is a complete trajectory that the template
//! renderer turns into training samples like the scenario data.

use std::collections::HashSet;

use agentune_runtime::tools::ToolRegistry;
use agentune_runtime::validate::{format_errors, validate_arguments};
use agentune_schema::{
    Check, Complexity, Outcome, Provenance, QueryKind, QueryMeta, Step, ToolCall, ToolSpec,
    Trajectory, TrajectoryStep,
};
use serde_json::{Map, Value};

use super::library::{ACTIONS, Action, Concept, concept};
use super::specs::{camel, description};
use super::values::{Drawn, draw_concept, draw_generic};
use crate::error::{Error, Result};
use crate::hash::mix64;
use crate::rng::Rng;
use crate::synth::Lang;

/// The kinds of function-calling samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FcKind {
    /// One function offered, one call.
    Simple,
    /// Several functions offered, one called.
    Multiple,
    /// Several calls of one function in one step.
    Parallel,
    /// Calls of several functions in one step.
    ParallelMultiple,
    /// No offered function fits: a direct answer, no call.
    Irrelevance,
}

impl FcKind {
    /// Every kind, in a fixed order.
    pub const ALL: [FcKind; 5] = [
        Self::Simple,
        Self::Multiple,
        Self::Parallel,
        Self::ParallelMultiple,
        Self::Irrelevance,
    ];

    /// The kind's name, written as `meta.scenario` (`fc_simple`, ...).
    pub fn scenario(self) -> &'static str {
        match self {
            Self::Simple => "fc_simple",
            Self::Multiple => "fc_multiple",
            Self::Parallel => "fc_parallel",
            Self::ParallelMultiple => "fc_parallel_multiple",
            Self::Irrelevance => "fc_irrelevance",
        }
    }
}

/// Shares of the positive kinds (relative weights).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FcShares {
    /// Simple.
    pub simple: f64,
    /// Multiple.
    pub multiple: f64,
    /// Parallel.
    pub parallel: f64,
    /// Parallel-multiple.
    pub parallel_multiple: f64,
}

impl Default for FcShares {
    fn default() -> Self {
        Self {
            simple: 0.4,
            multiple: 0.3,
            parallel: 0.15,
            parallel_multiple: 0.15,
        }
    }
}

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct FcSettings {
    /// Trajectories to produce.
    pub count: usize,
    /// Seed of every choice and of the simulated responses.
    pub seed: u64,
    /// Shares of the positive kinds.
    pub shares: FcShares,
    /// Positive : irrelevance ratio (4 means 4 : 1).
    pub positive_to_irrelevance: f64,
    /// Query languages (dealt in turn); empty means English and Chinese.
    pub languages: Vec<Lang>,
    /// Most functions offered in one record.
    pub max_offered: usize,
    /// Chance that the query gives an optional parameter.
    pub optional_given: f64,
}

impl Default for FcSettings {
    fn default() -> Self {
        Self {
            count: 200,
            seed: 42,
            shares: FcShares::default(),
            positive_to_irrelevance: 4.0,
            languages: Vec::new(),
            max_offered: 4,
            optional_given: 0.4,
        }
    }
}

impl FcSettings {
    /// Checks the values once.
    pub fn validate(&self) -> Result<()> {
        let s = &self.shares;
        for (name, v) in [
            ("shares.simple", s.simple),
            ("shares.multiple", s.multiple),
            ("shares.parallel", s.parallel),
            ("shares.parallel_multiple", s.parallel_multiple),
            ("positive_to_irrelevance", self.positive_to_irrelevance),
        ] {
            if !v.is_finite() || v < 0.0 {
                return Err(Error::Invalid(format!(
                    "{name} must be a finite number >= 0, found {v}"
                )));
            }
        }
        if s.simple + s.multiple + s.parallel + s.parallel_multiple <= 0.0
            && self.positive_to_irrelevance > 0.0
        {
            return Err(Error::Invalid(
                "every positive share is 0; give at least one kind a share".into(),
            ));
        }
        if !(0.0..=1.0).contains(&self.optional_given) {
            return Err(Error::Invalid(format!(
                "optional_given must be between 0 and 1, found {}",
                self.optional_given
            )));
        }
        if self.max_offered < 2 {
            return Err(Error::Invalid(format!(
                "max_offered must be at least 2, found {}",
                self.max_offered
            )));
        }
        Ok(())
    }

    /// Records of each kind for `count`: irrelevance from the ratio, positives split by the
    /// shares with the largest remainders rounded up.
    pub fn plan(&self) -> Vec<(FcKind, usize)> {
        let n = self.count;
        let n_irr = (n as f64 / (1.0 + self.positive_to_irrelevance)).round() as usize;
        let positives = n - n_irr.min(n);
        let s = &self.shares;
        let weights = [
            (FcKind::Simple, s.simple),
            (FcKind::Multiple, s.multiple),
            (FcKind::Parallel, s.parallel),
            (FcKind::ParallelMultiple, s.parallel_multiple),
        ];
        let total: f64 = weights.iter().map(|w| w.1).sum();
        let mut out: Vec<(FcKind, usize, f64)> = weights
            .iter()
            .map(|&(k, w)| {
                let exact = if total > 0.0 {
                    positives as f64 * w / total
                } else {
                    0.0
                };
                (k, exact.floor() as usize, exact - exact.floor())
            })
            .collect();
        let mut left = positives - out.iter().map(|o| o.1).sum::<usize>().min(positives);
        let mut by_rest: Vec<usize> = (0..out.len()).collect();
        by_rest.sort_by(|&a, &b| out[b].2.total_cmp(&out[a].2));
        for i in by_rest {
            if left == 0 {
                break;
            }
            if total > 0.0 && out[i].2 > 0.0 {
                out[i].1 += 1;
                left -= 1;
            }
        }
        let mut plan: Vec<(FcKind, usize)> = out.into_iter().map(|(k, c, _)| (k, c)).collect();
        plan.push((FcKind::Irrelevance, n_irr.min(n)));
        plan
    }
}

/// A parameter of a profiled spec.
#[derive(Debug, Clone)]
struct Param {
    name: String,
    schema: Value,
    required: bool,
    concept: Option<&'static Concept>,
}

/// What the generator knows of a spec: how a request for it is phrased in each language,
/// and how each parameter's values are drawn and said.
#[derive(Debug, Clone)]
struct Profile {
    spec: ToolSpec,
    /// The action, when the spec was synthesised from the tables (else the name).
    key: String,
    say_en: Option<String>,
    say_zh: Option<String>,
    params: Vec<Param>,
}

impl Profile {
    fn of(spec: &ToolSpec) -> Option<Self> {
        let desc = spec.description().trim();
        let action: Option<&'static Action> = ACTIONS
            .iter()
            .find(|a| description(a, false) == desc || description(a, true) == desc);
        let schema = spec.parameters_schema();
        let props = schema.get("properties").and_then(Value::as_object)?;
        let required = spec.required_parameters();
        let params = props
            .iter()
            .map(|(name, s)| Param {
                name: name.clone(),
                schema: s.clone(),
                required: required.contains(&name.as_str()),
                concept: action.and_then(|a| {
                    a.required
                        .iter()
                        .chain(a.optional)
                        .filter_map(|id| concept(id))
                        .find(|c| {
                            c.names
                                .iter()
                                .any(|n| *n == name.as_str() || camel(n) == *name)
                        })
                }),
            })
            .collect();
        let (say_en, say_zh, key) = match action {
            Some(a) => (
                Some(a.say.0.to_owned()),
                Some(a.say.1.to_owned()),
                a.id.to_owned(),
            ),
            None => {
                // Imported: the request is the first sentence of the description, in its
                // own language only.
                let first = desc
                    .split(['.', '。', '\n'])
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_owned();
                if first.is_empty() || first.chars().count() > 120 {
                    return None;
                }
                if first.chars().any(crate::is_cjk) {
                    (None, Some(first), spec.name.clone())
                } else {
                    let mut c = first.chars();
                    let lower = match c.next() {
                        Some(f) => f.to_lowercase().chain(c).collect(),
                        None => String::new(),
                    };
                    (Some(lower), None, spec.name.clone())
                }
            }
        };
        Some(Self {
            spec: spec.clone(),
            key,
            say_en,
            say_zh,
            params,
        })
    }

    fn say(&self, lang: Lang) -> Option<&str> {
        match lang {
            Lang::En => self.say_en.as_deref(),
            Lang::Zh => self.say_zh.as_deref(),
        }
    }

    /// A call with values drawn for the required parameters and some optional ones, and the
    /// clause of the query that asks for it. The arguments are checked against the schema.
    fn draw_call(
        &self,
        lang: Lang,
        optional_given: f64,
        rng: &mut Rng,
    ) -> Option<(ToolCall, String)> {
        let say = self.say(lang)?;
        let mut args = Map::new();
        let mut phrases = Vec::new();
        for p in &self.params {
            if !p.required && rng.unit() >= optional_given {
                continue;
            }
            let drawn: Drawn = match p.concept {
                Some(c) => draw_concept(c, lang, rng)?,
                None => draw_generic(&p.name, &p.schema, lang, rng)?,
            };
            args.insert(p.name.clone(), drawn.value);
            phrases.push(drawn.phrase);
        }
        validate_arguments(&self.spec.parameters_schema(), &args).ok()?;
        let clause = match lang {
            Lang::En if phrases.is_empty() => say.to_owned(),
            Lang::En => format!("{say} {}", phrases.join(" ")),
            Lang::Zh if phrases.is_empty() => say.to_owned(),
            Lang::Zh if say.ends_with('：') => format!("{say}{}", phrases.join("，")),
            Lang::Zh => format!("{say}，{}", phrases.join("，")),
        };
        Some((ToolCall::new(self.spec.name.clone(), args), clause))
    }
}

/// One whole request from its clauses.
fn query(clauses: &[String], lang: Lang, rng: &mut Rng) -> String {
    let frames: &[(&str, &str, &str, &str)] = match lang {
        Lang::En => &[
            ("", ", ", ", and also ", "."),
            ("Please ", "; ", "; then ", "."),
            ("Can you ", ", ", ", and ", "?"),
            ("I need you to ", ", ", ", and ", "."),
            ("Could you ", ", ", ", and then ", " for me?"),
        ],
        Lang::Zh => &[
            ("请", "；", "；另外", "。"),
            ("帮我", "，", "，再", "。"),
            ("我想", "，", "，还要", "。"),
            ("麻烦", "；", "；还有", "，谢谢。"),
        ],
    };
    let (pre, sep, last, end) = frames[rng.below(frames.len())];
    let mut text = pre.to_owned();
    for (i, c) in clauses.iter().enumerate() {
        if i > 0 {
            text.push_str(if i + 1 == clauses.len() { last } else { sep });
        }
        text.push_str(c);
    }
    text.push_str(end);
    let mut chars = text.chars();
    match chars.next() {
        Some(f) => f.to_uppercase().chain(chars).collect(),
        None => text,
    }
}

/// A short account of a simulated observation for the final answer.
fn summarize(name: &str, content: &str, lang: Lang) -> String {
    let Ok(v) = serde_json::from_str::<Value>(content) else {
        return format!("{name}: {content}");
    };
    let r = v.get("result").unwrap_or(&v);
    let scalar = |x: &Value| match x {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    if let (Some(total), Some(first)) = (
        r.get("total").and_then(scalar),
        r.get("items")
            .and_then(|i| i.get(0))
            .and_then(|i| i.get("name"))
            .and_then(scalar),
    ) {
        return match lang {
            Lang::En => format!("{name} found {total} result(s); the top one is {first}"),
            Lang::Zh => format!("{name}共找到{total}条结果，排第一的是{first}"),
        };
    }
    let fields: Vec<String> = r
        .as_object()
        .map(|o| {
            o.iter()
                .filter_map(|(k, x)| scalar(x).map(|s| (k, s)))
                .take(5)
                .map(|(k, s)| match lang {
                    Lang::En => format!("{} {s}", super::values::name_words(k)),
                    Lang::Zh => format!("{k}为{s}"),
                })
                .collect()
        })
        .unwrap_or_default();
    match lang {
        Lang::En => format!("{name} returned {}", fields.join(", ")),
        Lang::Zh => format!("{name}返回：{}", fields.join("，")),
    }
}

/// The function-calling generator over a catalog.
#[derive(Debug)]
pub struct FcSynthesizer {
    settings: FcSettings,
    profiles: Vec<Profile>,
    plan: Vec<(FcKind, Lang)>,
}

impl FcSynthesizer {
    /// A generator over `tools` (deduplicated by name; specs whose requests cannot be
    /// phrased are left out). Plans exact kind counts from the settings.
    pub fn new(settings: FcSettings, tools: &[ToolSpec]) -> Result<Self> {
        settings.validate()?;
        let mut seen = HashSet::new();
        let profiles: Vec<Profile> = tools
            .iter()
            .filter(|t| seen.insert(t.name.clone()))
            .filter_map(Profile::of)
            .collect();
        let keys: HashSet<&str> = profiles.iter().map(|p| p.key.as_str()).collect();
        if keys.len() < 2 && settings.count > 0 {
            return Err(Error::Invalid(format!(
                "the tool catalog has {} usable function(s) of {} kind(s); at least two kinds are needed",
                profiles.len(),
                keys.len()
            )));
        }
        let languages = if settings.languages.is_empty() {
            vec![Lang::En, Lang::Zh]
        } else {
            settings.languages.clone()
        };
        let mut kinds = Vec::with_capacity(settings.count);
        for (k, n) in settings.plan() {
            kinds.extend(std::iter::repeat_n(k, n));
        }
        let mut rng = Rng::new(mix64(settings.seed ^ 0x00FC_51A7));
        rng.shuffle(&mut kinds);
        let plan = kinds
            .into_iter()
            .enumerate()
            .map(|(i, k)| (k, languages[i % languages.len()]))
            .collect();
        Ok(Self {
            settings,
            profiles,
            plan,
        })
    }

    /// Records planned.
    pub fn len(&self) -> usize {
        self.plan.len()
    }

    /// True when nothing is planned.
    pub fn is_empty(&self) -> bool {
        self.plan.is_empty()
    }

    /// Functions the generator can use.
    pub fn usable_tools(&self) -> usize {
        self.profiles.len()
    }

    /// Every planned record, in order; `progress` is called after each. Queries are unique
    /// within a run (a repeated draw is drawn again).
    pub fn generate_all(&self, mut progress: impl FnMut()) -> Result<Vec<Trajectory>> {
        let mut seen: HashSet<String> = HashSet::new();
        let mut out = Vec::with_capacity(self.plan.len());
        for (index, &(kind, lang)) in self.plan.iter().enumerate() {
            let record_seed =
                mix64(self.settings.seed.wrapping_mul(0x9E37_79B9) ^ mix64(index as u64 + 1));
            let mut made = None;
            for attempt in 0..64u64 {
                let mut rng = Rng::new(record_seed ^ mix64(attempt));
                if let Some(t) = self.draft(kind, lang, &mut rng)?
                    && seen.insert(t.query.clone())
                {
                    made = Some(t);
                    break;
                }
            }
            let mut t = made.ok_or_else(|| {
                Error::Invalid(format!(
                    "record {index} ({} {}): no valid draw from this tool catalog",
                    kind.scenario(),
                    lang.code()
                ))
            })?;
            t.id = format!("fc-{}-{index:06}", self.settings.seed);
            t.provenance.seed = Some(record_seed);
            out.push(t);
            progress();
        }
        Ok(out)
    }

    fn pick_profile(&self, lang: Lang, rng: &mut Rng, avoid: &[&str]) -> Option<&Profile> {
        for _ in 0..32 {
            let p = &self.profiles[rng.below(self.profiles.len())];
            if p.say(lang).is_some() && !avoid.contains(&p.key.as_str()) {
                return Some(p);
            }
        }
        None
    }

    /// Distractors: functions of other kinds (never another spec of an action used).
    fn distractors<'a>(&'a self, n: usize, avoid: &[&str], rng: &mut Rng) -> Vec<&'a Profile> {
        let mut out: Vec<&Profile> = Vec::new();
        let mut keys: Vec<&str> = avoid.to_vec();
        for _ in 0..n * 8 {
            if out.len() == n {
                break;
            }
            let p = &self.profiles[rng.below(self.profiles.len())];
            if !keys.contains(&p.key.as_str()) {
                keys.push(&p.key);
                out.push(p);
            }
        }
        out
    }

    fn draft(&self, kind: FcKind, lang: Lang, rng: &mut Rng) -> Result<Option<Trajectory>> {
        let s = &self.settings;
        let (calls, clauses, mut offered): (Vec<ToolCall>, Vec<String>, Vec<&Profile>) = match kind
        {
            FcKind::Simple | FcKind::Multiple => {
                let Some(p) = self.pick_profile(lang, rng, &[]) else {
                    return Ok(None);
                };
                let Some((call, clause)) = p.draw_call(lang, s.optional_given, rng) else {
                    return Ok(None);
                };
                let mut offered = vec![p];
                if kind == FcKind::Multiple {
                    let n = 1 + rng.below(s.max_offered - 1);
                    offered.extend(self.distractors(n, &[&p.key], rng));
                    if offered.len() < 2 {
                        return Ok(None);
                    }
                }
                (vec![call], vec![clause], offered)
            }
            FcKind::Parallel => {
                let Some(p) = self.pick_profile(lang, rng, &[]) else {
                    return Ok(None);
                };
                let n = 2 + rng.below(2);
                let mut calls: Vec<ToolCall> = Vec::new();
                let mut clauses = Vec::new();
                for _ in 0..n * 4 {
                    if calls.len() == n {
                        break;
                    }
                    if let Some((c, clause)) = p.draw_call(lang, s.optional_given, rng)
                        && calls.iter().all(|x| x.arguments != c.arguments)
                    {
                        calls.push(c);
                        clauses.push(clause);
                    }
                }
                if calls.len() < 2 {
                    return Ok(None);
                }
                (calls, clauses, vec![p])
            }
            FcKind::ParallelMultiple => {
                let n = 2 + rng.below(2);
                let mut used: Vec<&str> = Vec::new();
                let mut offered = Vec::new();
                let mut calls = Vec::new();
                let mut clauses = Vec::new();
                for _ in 0..n {
                    let Some(p) = self.pick_profile(lang, rng, &used) else {
                        return Ok(None);
                    };
                    let Some((c, clause)) = p.draw_call(lang, s.optional_given, rng) else {
                        return Ok(None);
                    };
                    used.push(&p.key);
                    offered.push(p);
                    calls.push(c);
                    clauses.push(clause);
                }
                let room = s.max_offered.saturating_sub(offered.len());
                if room > 0 {
                    let k = rng.below(room + 1);
                    offered.extend(self.distractors(k, &used, rng));
                }
                (calls, clauses, offered)
            }
            FcKind::Irrelevance => {
                let Some(asked) = self.pick_profile(lang, rng, &[]) else {
                    return Ok(None);
                };
                let Some((_, clause)) = asked.draw_call(lang, s.optional_given, rng) else {
                    return Ok(None);
                };
                let n = 1 + rng.below(s.max_offered - 1);
                let offered = self.distractors(n, &[&asked.key], rng);
                if offered.is_empty() {
                    return Ok(None);
                }
                (Vec::new(), vec![clause], offered)
            }
        };
        rng.shuffle(&mut offered);
        let tools: Vec<ToolSpec> = offered.iter().map(|p| p.spec.clone()).collect();
        let query = query(&clauses, lang, rng);
        let mut steps = Vec::new();
        let calls: Vec<ToolCall> = calls
            .into_iter()
            .enumerate()
            .map(|(i, c)| c.with_id(format!("call_{i}")))
            .collect();
        // Every gold call fits its schema (checked again here, on the specs offered).
        for c in &calls {
            let spec = tools.iter().find(|t| t.name == c.name).ok_or_else(|| {
                Error::Invalid(format!("gold call of `{}`, which is not offered", c.name))
            })?;
            validate_arguments(&spec.parameters_schema(), &c.arguments).map_err(|e| {
                Error::Invalid(format!(
                    "gold call of `{}` does not fit its schema: {}",
                    c.name,
                    format_errors(&e)
                ))
            })?;
        }
        let answer = if calls.is_empty() {
            let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
            let thought = match lang {
                Lang::En => format!(
                    "None of the offered functions ({}) can do what the user asks, so I should not call any of them.",
                    names.join(", ")
                ),
                Lang::Zh => format!(
                    "提供的函数（{}）都做不到用户要求的事，不应调用它们。",
                    names.join("、")
                ),
            };
            let answer = match lang {
                Lang::En => format!(
                    "I can't do that with the functions available here: {} cover other tasks, and none of them can {}.",
                    names.join(", "),
                    clauses[0]
                ),
                Lang::Zh => format!(
                    "现有的函数（{}）用于其他任务，没有一个能{}，所以这个请求我无法通过函数调用完成。",
                    names.join("、"),
                    clauses[0].trim_end_matches('：')
                ),
            };
            (Some(thought), answer)
        } else {
            let reg = ToolRegistry::simulated(tools.iter().cloned(), self.settings.seed)
                .map_err(|e| Error::Invalid(format!("cannot simulate the tools: {e}")))?;
            let observations = reg.execute_all(&calls);
            if let Some(bad) = observations.iter().find(|o| o.is_error) {
                return Err(Error::Invalid(format!(
                    "simulated call of `{}` failed: {}",
                    bad.name, bad.content
                )));
            }
            let summaries: Vec<String> = observations
                .iter()
                .map(|o| summarize(&o.name, &o.content, lang))
                .collect();
            let mut distinct: Vec<&str> = Vec::new();
            for c in &calls {
                if !distinct.contains(&c.name.as_str()) {
                    distinct.push(&c.name);
                }
            }
            let thought = match (lang, calls.len()) {
                (Lang::En, 1) => format!(
                    "The user wants to {}. {} does this, and the request gives its arguments.",
                    clauses[0].trim_end_matches(':'),
                    calls[0].name
                ),
                (Lang::En, n) => format!(
                    "The request needs {n} independent calls of {}; I make them together.",
                    distinct.join(", ")
                ),
                (Lang::Zh, 1) => format!(
                    "用户想{}，可以用{}，参数都在请求里。",
                    clauses[0].trim_end_matches('：'),
                    calls[0].name
                ),
                (Lang::Zh, n) => format!(
                    "这个请求需要{n}次相互独立的调用（{}），可以一起发出。",
                    distinct.join("、")
                ),
            };
            let final_thought = match lang {
                Lang::En => "I have the results.",
                Lang::Zh => "结果已经拿到。",
            };
            let answer = match lang {
                Lang::En => format!("{}.", summaries.join(". ")),
                Lang::Zh => format!("{}。", summaries.join("；")),
            };
            steps.push(
                TrajectoryStep::new(Step::ToolCalls {
                    thought: Some(thought),
                    calls: calls.clone(),
                })
                .with_observations(observations),
            );
            (Some(final_thought.to_owned()), answer)
        };
        steps.push(TrajectoryStep::new(Step::FinalAnswer {
            thought: answer.0,
            answer: answer.1,
        }));
        let (qkind, complexity) = match kind {
            FcKind::Irrelevance => (QueryKind::HardNegative, Complexity::Simple),
            FcKind::ParallelMultiple => (QueryKind::Positive, Complexity::Complex),
            _ => (QueryKind::Positive, Complexity::Simple),
        };
        let check = Check {
            check: "schema".into(),
            passed: true,
            step: None,
            message: Some(if calls.is_empty() {
                "no offered function fits; answered without a call".into()
            } else {
                format!(
                    "{} gold call(s) validated against their JSON Schemas; observations simulated from the schemas",
                    calls.len()
                )
            }),
        };
        Ok(Some(Trajectory {
            schema_version: Default::default(),
            id: String::new(),
            query,
            history: Vec::new(),
            tools,
            steps,
            outcome: Outcome::Answered,
            template_id: None,
            meta: Some(QueryMeta::new(
                kind.scenario(),
                qkind,
                complexity,
                lang.code(),
            )),
            provenance: Provenance {
                source: format!("synth/{}", kind.scenario()),
                teacher: Some("agentune-fc".into()),
                original_id: None,
                seed: None,
                eval_only: false,
            },
            checks: vec![check],
        }))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::fc::specs::{ToolSynthSettings, synthesize_tools};

    fn catalog(n: usize) -> Vec<ToolSpec> {
        synthesize_tools(&ToolSynthSettings {
            count: n,
            seed: 9,
            ..ToolSynthSettings::default()
        })
        .unwrap()
        .into_iter()
        .map(|t| t.spec)
        .collect()
    }

    #[test]
    fn the_plan_follows_the_shares_and_the_ratio() {
        let s = FcSettings {
            count: 1000,
            ..FcSettings::default()
        };
        let plan: std::collections::BTreeMap<FcKind, usize> = s.plan().into_iter().collect();
        assert_eq!(plan[&FcKind::Irrelevance], 200);
        assert_eq!(plan[&FcKind::Simple], 320);
        assert_eq!(plan[&FcKind::Multiple], 240);
        assert_eq!(plan[&FcKind::Parallel], 120);
        assert_eq!(plan[&FcKind::ParallelMultiple], 120);
        let odd = FcSettings {
            count: 7,
            ..FcSettings::default()
        };
        assert_eq!(odd.plan().iter().map(|p| p.1).sum::<usize>(), 7);
    }

    #[test]
    fn samples_have_their_kinds_at_their_shares_and_gold_calls_validate() {
        let tools = catalog(300);
        let s = FcSettings {
            count: 250,
            seed: 3,
            ..FcSettings::default()
        };
        let synth = FcSynthesizer::new(s.clone(), &tools).unwrap();
        let out = synth.generate_all(|| {}).unwrap();
        assert_eq!(out.len(), 250);
        let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
        let mut zh = 0;
        for t in &out {
            let m = t.meta.as_ref().unwrap();
            *counts.entry(m.scenario.clone()).or_default() += 1;
            zh += usize::from(m.language == "zh");
            let calls: Vec<&ToolCall> = t.steps.iter().flat_map(|s| s.step.calls()).collect();
            match m.scenario.as_str() {
                "fc_simple" => assert!(calls.len() == 1 && t.tools.len() == 1),
                "fc_multiple" => assert!(calls.len() == 1 && t.tools.len() >= 2),
                "fc_parallel" => {
                    assert!(calls.len() >= 2 && t.tools.len() == 1);
                    assert!(calls.iter().all(|c| c.name == calls[0].name));
                }
                "fc_parallel_multiple" => {
                    let names: HashSet<&str> = calls.iter().map(|c| c.name.as_str()).collect();
                    assert!(names.len() >= 2, "{}", t.query);
                    assert_eq!(t.steps.len(), 2);
                }
                "fc_irrelevance" => {
                    assert!(calls.is_empty());
                    assert_eq!(m.kind, QueryKind::HardNegative);
                }
                other => panic!("{other}"),
            }
            for c in &calls {
                let spec = t.tools.iter().find(|s| s.name == c.name).unwrap();
                validate_arguments(&spec.parameters_schema(), &c.arguments).unwrap();
                // Every required argument is given; no argument outside the schema.
                for r in spec.required_parameters() {
                    assert!(c.arguments.contains_key(r));
                }
            }
            for s in &t.steps {
                assert_eq!(s.observations.len(), s.step.calls().len());
                assert!(s.observations.iter().all(|o| !o.is_error));
            }
            assert!(matches!(
                t.steps.last().map(|s| &s.step),
                Some(Step::FinalAnswer { .. })
            ));
        }
        assert_eq!(counts["fc_irrelevance"], 50);
        assert_eq!(counts["fc_simple"], 80);
        assert_eq!(counts["fc_multiple"], 60);
        assert_eq!(counts["fc_parallel"], 30);
        assert_eq!(counts["fc_parallel_multiple"], 30);
        assert_eq!(zh, 125);
        // Reproducible from the seed.
        let again = FcSynthesizer::new(s, &tools)
            .unwrap()
            .generate_all(|| {})
            .unwrap();
        assert_eq!(again, out);
        let queries: HashSet<&str> = out.iter().map(|t| t.query.as_str()).collect();
        assert_eq!(queries.len(), out.len());
    }

    #[test]
    fn argument_values_come_from_the_query_and_optional_ones_are_left_out() {
        let tools = catalog(200);
        let synth = FcSynthesizer::new(
            FcSettings {
                count: 200,
                seed: 5,
                languages: vec![Lang::En],
                ..FcSettings::default()
            },
            &tools,
        )
        .unwrap();
        let out = synth.generate_all(|| {}).unwrap();
        let (mut strings, mut found, mut omitted) = (0, 0, 0);
        for t in &out {
            for c in t.steps.iter().flat_map(|s| s.step.calls()) {
                let spec = t.tools.iter().find(|s| s.name == c.name).unwrap();
                let props = spec.parameters.as_ref().unwrap()["properties"]
                    .as_object()
                    .unwrap();
                omitted += props.len() - c.arguments.len();
                for (k, v) in &c.arguments {
                    let ps = &props[k];
                    let converted = ["enum", "format", "pattern"]
                        .iter()
                        .any(|key| ps.get(*key).is_some());
                    if let Some(s) = v.as_str() {
                        // Enum values, dates and times are converted; free text is copied.
                        if !converted {
                            strings += 1;
                            found += usize::from(t.query.contains(s));
                        }
                    }
                    if let Some(n) = v.as_i64()
                        && n > 1000
                    {
                        assert!(t.query.contains(&n.to_string()), "{n} not in {}", t.query);
                    }
                }
            }
        }
        assert!(strings > 50 && found == strings, "{found}/{strings}");
        assert!(omitted > 20, "{omitted}");
    }

    #[test]
    fn imported_specs_without_known_actions_work_too() {
        let tools: Vec<ToolSpec> = (0..6)
            .map(|i| {
                ToolSpec::new(
                    format!("tool_{i}"),
                    format!("Look up record number {i} of the archive. Extra words."),
                    serde_json::json!({
                        "type": "object",
                        "properties": {
                            "city": {"type": "string"},
                            "limit": {"type": "integer", "minimum": 1, "maximum": 9}
                        },
                        "required": ["city"]
                    }),
                )
            })
            .collect();
        let synth = FcSynthesizer::new(
            FcSettings {
                count: 20,
                languages: vec![Lang::En],
                ..FcSettings::default()
            },
            &tools,
        )
        .unwrap();
        let out = synth.generate_all(|| {}).unwrap();
        assert_eq!(out.len(), 20);
        assert!(
            out[0]
                .query
                .to_lowercase()
                .contains("look up record number")
        );
        // Chinese queries need Chinese descriptions.
        let zh = FcSynthesizer::new(
            FcSettings {
                count: 4,
                languages: vec![Lang::Zh],
                ..FcSettings::default()
            },
            &tools,
        )
        .unwrap();
        assert!(zh.generate_all(|| {}).is_err());
        assert!(FcSynthesizer::new(FcSettings::default(), &tools[..1]).is_err());
    }
}
