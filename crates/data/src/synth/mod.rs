//! Scenario synthesis, the built-in teacher verified by execution: scenario generators
//! (weather, travel, math, units, currency, dates, knowledge, notes, multi-tool chains) write
//! queries in English and Chinese from phrasing templates slot-filled with the bundled data,
//! and build the gold trajectory by *running* the runtime's built-in tools under a fixed clock,
//! so every observation is real and every answer is composed from observed values. Hard
//! negatives (tool-looking queries that need no tool) get direct answers.
//!
//! A run is fully determined by its settings and seed: the same seed gives byte-identical
//! records, and [`verify_execution`] re-runs every call of a record to prove its observations.

mod data;
mod episode;
mod negatives;
mod scenarios;

use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, OnceLock};

use agentune_runtime::tools::{
    Calculator, Clock, ConvertUnits, CurrencyConvert, CurrentDatetime, DateAdd, DateDiff,
    DeleteNote, GetForecast, GetWeather, ListNotes, LookupKnowledge, NoteStore, ReadNote,
    SearchPlaces, ToolRegistry, Weekday, WriteNote,
};
use agentune_schema::{
    Check, Complexity, Outcome, Provenance, QueryKind, QueryMeta, Step, ToolSpec, Trajectory,
};

use crate::error::{Error, Result};
use crate::hash::mix64;
use crate::rng::Rng;

pub use episode::{Lang, fmt_num};

/// A family of generated queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scenario {
    /// Current weather and forecasts (`get_weather`, `get_forecast`).
    Weather,
    /// Places to visit, eat, camp (`search_places`).
    Travel,
    /// Arithmetic, percentages, interest (`calculator`).
    Math,
    /// Unit conversion (`convert_units`).
    Units,
    /// Currency conversion at the fixed reference rates (`currency_convert`).
    Currency,
    /// Dates, weekdays, date arithmetic (`current_datetime`, `date_add`, `date_diff`, `weekday`).
    Dates,
    /// Encyclopedic lookups (`lookup_knowledge`).
    Knowledge,
    /// The note store (`write_note`, `read_note`, `list_notes`, `delete_note`).
    Notes,
    /// Several tools, later calls conditional on earlier observations ("is this weekend good
    /// for camping near Beijing? if so, suggest places").
    Chain,
}

impl Scenario {
    /// Every scenario, in a fixed order.
    pub const ALL: [Scenario; 9] = [
        Scenario::Weather,
        Scenario::Travel,
        Scenario::Math,
        Scenario::Units,
        Scenario::Currency,
        Scenario::Dates,
        Scenario::Knowledge,
        Scenario::Notes,
        Scenario::Chain,
    ];

    /// The scenario's name, as written in `meta.scenario`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Weather => "weather",
            Self::Travel => "travel",
            Self::Math => "math",
            Self::Units => "units",
            Self::Currency => "currency",
            Self::Dates => "dates",
            Self::Knowledge => "knowledge",
            Self::Notes => "notes",
            Self::Chain => "chain",
        }
    }

    /// The tools this scenario is about (offered to hard negatives too, so they look
    /// tool-related).
    pub fn tools(self) -> &'static [&'static str] {
        match self {
            Self::Weather => &["get_weather", "get_forecast"],
            Self::Travel => &["search_places"],
            Self::Math => &["calculator"],
            Self::Units => &["convert_units"],
            Self::Currency => &["currency_convert"],
            Self::Dates => &["current_datetime", "date_add", "date_diff", "weekday"],
            Self::Knowledge => &["lookup_knowledge"],
            Self::Notes => &["write_note", "read_note", "list_notes"],
            Self::Chain => &["get_forecast", "search_places", "write_note"],
        }
    }

    /// Whether the scenario has simple (one-call) queries; multi-tool chains are always
    /// complex.
    pub fn has_simple(self) -> bool {
        self != Self::Chain
    }
}

impl FromStr for Scenario {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let key = s.trim().to_ascii_lowercase();
        let key = match key.as_str() {
            "places" => "travel",
            "unit" | "unit_conversion" => "units",
            "date" | "calendar" => "dates",
            "multi" | "multi_tool" => "chain",
            other => other,
        };
        Self::ALL
            .iter()
            .copied()
            .find(|sc| sc.name() == key)
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "unknown scenario `{s}`; known: {}",
                    Self::ALL.map(Scenario::name).join(", ")
                ))
            })
    }
}

/// What to synthesise.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthSettings {
    /// Trajectories to produce.
    pub count: usize,
    /// Seed of every choice; the same seed gives the same records.
    pub seed: u64,
    /// Scenarios to draw from (balanced); empty means all.
    pub scenarios: Vec<Scenario>,
    /// Query languages (balanced); empty means English and Chinese.
    pub languages: Vec<Lang>,
    /// Positive : hard-negative ratio (4 means 4 : 1).
    pub positive_to_hard_negative: f64,
    /// Simple : complex ratio among positives (6 means 6 : 1).
    pub simple_to_complex: f64,
    /// Most distractor tools offered beyond the ones a query needs.
    pub max_distractors: usize,
    /// Relative weights of scenarios (absent ones weigh 1); empty means equal shares.
    pub scenario_weights: Vec<(Scenario, f64)>,
    /// Share of positive queries whose trajectory starts with a failed attempt (a call that
    /// the tool rejects, then a give-up with restart) before the gold attempt. Chosen by the
    /// query text, so one query always gets the same trajectory.
    pub restart_share: f64,
}

impl Default for SynthSettings {
    fn default() -> Self {
        Self {
            count: 100,
            seed: 42,
            scenarios: Vec::new(),
            languages: Vec::new(),
            positive_to_hard_negative: 4.0,
            simple_to_complex: 6.0,
            max_distractors: 3,
            scenario_weights: Vec::new(),
            restart_share: 0.0,
        }
    }
}

impl SynthSettings {
    /// Checks the values once.
    pub fn validate(&self) -> Result<()> {
        for (name, v) in [
            ("positive_to_hard_negative", self.positive_to_hard_negative),
            ("simple_to_complex", self.simple_to_complex),
        ] {
            if !v.is_finite() || v < 0.0 {
                return Err(Error::Invalid(format!(
                    "{name} must be a finite number >= 0, found {v}"
                )));
            }
        }
        for (sc, w) in &self.scenario_weights {
            if !w.is_finite() || *w < 0.0 {
                return Err(Error::Invalid(format!(
                    "weight of scenario {} must be a finite number >= 0, found {w}",
                    sc.name()
                )));
            }
        }
        if !(0.0..=1.0).contains(&self.restart_share) {
            return Err(Error::Invalid(format!(
                "restart_share must be between 0 and 1, found {}",
                self.restart_share
            )));
        }
        Ok(())
    }

    /// The weight of a scenario.
    fn weight(&self, sc: Scenario) -> f64 {
        self.scenario_weights
            .iter()
            .rev()
            .find(|(s, _)| *s == sc)
            .map_or(1.0, |(_, w)| *w)
    }
}

/// Deals items by weight, deterministically: smooth weighted round-robin, so after `n` picks
/// each item has been dealt `n * weight / total` times, give or take one.
struct Dealer {
    weights: Vec<f64>,
    current: Vec<f64>,
}

impl Dealer {
    fn new(weights: Vec<f64>) -> Self {
        let current = vec![0.0; weights.len()];
        Self { weights, current }
    }

    fn next(&mut self) -> usize {
        let total: f64 = self.weights.iter().sum();
        let mut best = 0;
        for i in 0..self.weights.len() {
            self.current[i] += self.weights[i];
            if self.current[i] > self.current[best] {
                best = i;
            }
        }
        self.current[best] -= total;
        best
    }
}

/// The plan of one record: what kind of query, which scenario, which language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slot {
    kind: QueryKind,
    complexity: Complexity,
    scenario: Scenario,
    lang: Lang,
}

/// The generator: a plan for every record index, and a scratch folder for note stores.
#[derive(Debug)]
pub struct Synthesizer {
    settings: SynthSettings,
    slots: Vec<Slot>,
    scratch: tempfile::TempDir,
}

impl Synthesizer {
    /// Plans `settings.count` records: exact hard-negative and complex counts from the ratios,
    /// scenarios and languages dealt round-robin within each class, the order shuffled by the
    /// seed.
    pub fn new(settings: SynthSettings) -> Result<Self> {
        settings.validate()?;
        let scenarios: Vec<Scenario> = if settings.scenarios.is_empty() {
            Scenario::ALL.to_vec()
        } else {
            settings.scenarios.clone()
        }
        .into_iter()
        .filter(|&sc| settings.weight(sc) > 0.0)
        .collect();
        if scenarios.is_empty() {
            return Err(Error::Invalid(
                "every scenario has weight 0; nothing to synthesise".into(),
            ));
        }
        let languages = if settings.languages.is_empty() {
            vec![Lang::En, Lang::Zh]
        } else {
            settings.languages.clone()
        };
        let n = settings.count;
        let hn_share = 1.0 / (1.0 + settings.positive_to_hard_negative);
        let n_hn = (n as f64 * hn_share).round() as usize;
        let positives = n - n_hn.min(n);
        let complex_share = 1.0 / (1.0 + settings.simple_to_complex);
        let simple_ok: Vec<Scenario> = scenarios
            .iter()
            .copied()
            .filter(|s| s.has_simple())
            .collect();
        let mut n_cx = (positives as f64 * complex_share).round() as usize;
        if simple_ok.is_empty() {
            n_cx = positives;
        }
        let mut classes: Vec<(QueryKind, Complexity)> = Vec::with_capacity(n);
        classes.extend(std::iter::repeat_n(
            (QueryKind::HardNegative, Complexity::Simple),
            n_hn.min(n),
        ));
        classes.extend(std::iter::repeat_n(
            (QueryKind::Positive, Complexity::Complex),
            n_cx,
        ));
        classes.extend(std::iter::repeat_n(
            (QueryKind::Positive, Complexity::Simple),
            positives - n_cx,
        ));
        let mut rng = Rng::new(settings.seed ^ 0x5CE2_A210);
        rng.shuffle(&mut classes);
        let negatives: Vec<Scenario> = scenarios
            .iter()
            .copied()
            .filter(|s| s.has_simple())
            .collect();
        let negatives = if negatives.is_empty() {
            scenarios.clone()
        } else {
            negatives
        };
        let mut counters = [0usize; 3];
        let weighted = settings.scenario_weights.iter().any(|(_, w)| *w != 1.0);
        let pools = [&scenarios, &simple_ok, &negatives];
        let mut dealers =
            pools.map(|p| Dealer::new(p.iter().map(|&sc| settings.weight(sc)).collect()));
        let mut per_scenario: std::collections::HashMap<(usize, Scenario), usize> =
            std::collections::HashMap::new();
        let slots = classes
            .into_iter()
            .map(|(kind, complexity)| {
                let c = match (kind, complexity) {
                    (QueryKind::Positive, Complexity::Complex) => 0,
                    (QueryKind::Positive, _) => 1,
                    _ => 2,
                };
                let pool = pools[c];
                let k = counters[c];
                counters[c] += 1;
                let (scenario, lang) = if weighted {
                    // Weighted: scenarios dealt by weight, languages in turn per scenario.
                    let sc = pool[dealers[c].next()];
                    let n = per_scenario.entry((c, sc)).or_default();
                    *n += 1;
                    (sc, languages[(*n - 1) % languages.len()])
                } else {
                    (
                        pool[k % pool.len()],
                        languages[(k % pool.len() + k / pool.len()) % languages.len()],
                    )
                };
                Slot {
                    kind,
                    complexity,
                    scenario,
                    lang,
                }
            })
            .collect();
        let scratch = tempfile::Builder::new()
            .prefix("agentune-synth-")
            .tempdir()
            .map_err(|e| Error::io("create", std::env::temp_dir(), e))?;
        Ok(Self {
            settings,
            slots,
            scratch,
        })
    }

    /// Records planned.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True when no record is planned.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Record `index` (deterministic: depends only on the settings and the index).
    pub fn generate(&self, index: usize) -> Result<Trajectory> {
        let slot = *self
            .slots
            .get(index)
            .ok_or_else(|| Error::Invalid(format!("record {index} is not planned")))?;
        let record_seed =
            mix64(self.settings.seed.wrapping_mul(0x9E37_79B9) ^ mix64(index as u64 + 1));
        // A record that may write notes gets a private, empty note store, removed afterwards;
        // the others share one that nothing writes to.
        let writes_notes = slot.kind == QueryKind::Positive
            && matches!(slot.scenario, Scenario::Notes | Scenario::Chain);
        let dir = if writes_notes {
            self.scratch.path().join(format!("r{index}"))
        } else {
            self.scratch.path().join("shared")
        };
        let out = generate_one(slot, record_seed, &dir, index, &self.settings);
        if writes_notes && dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| Error::io("remove", &dir, e))?;
        }
        let mut t = out?;
        t.id = format!("synth-{}-{index:06}", self.settings.seed);
        Ok(t)
    }

    /// Every planned record, in order; `progress` is called after each.
    pub fn generate_all(&self, mut progress: impl FnMut()) -> Result<Vec<Trajectory>> {
        let mut out = Vec::with_capacity(self.len());
        for i in 0..self.len() {
            out.push(self.generate(i)?);
            progress();
        }
        Ok(out)
    }
}

/// The fixed clock of a record, from its seed (kept in `provenance.seed`): a moment between
/// 2025-01-01 and 2026-12-31, UTC.
pub fn record_clock(record_seed: u64) -> Clock {
    const START: i64 = 1_735_689_600; // 2025-01-01T00:00:00Z
    let h = mix64(record_seed ^ 0xC10C);
    let day = (h % 730) as i64;
    let minute = ((h >> 20) % (24 * 60)) as i64;
    Clock::Fixed(START + day * 86_400 + minute * 60)
}

/// The search tools index the bundled data once; every registry shares them.
struct SharedSearch {
    places: Arc<SearchPlaces>,
    knowledge: Arc<LookupKnowledge>,
}

fn shared_search() -> Result<&'static SharedSearch> {
    static SHARED: OnceLock<std::result::Result<SharedSearch, String>> = OnceLock::new();
    SHARED
        .get_or_init(|| {
            Ok(SharedSearch {
                places: Arc::new(SearchPlaces::new().map_err(|e| e.to_string())?),
                knowledge: Arc::new(LookupKnowledge::new().map_err(|e| e.to_string())?),
            })
        })
        .as_ref()
        .map_err(|e| Error::Invalid(format!("cannot index the bundled data: {e}")))
}

/// The built-in tools under a record's clock, with notes in `notes_dir`: the same tools, in
/// the same order, as `ToolRegistry::builtin_with_clock` (a test checks), with the search
/// indexes built once instead of per record.
fn registry(record_seed: u64, notes_dir: &Path) -> Result<ToolRegistry> {
    let setup = |e: agentune_runtime::Error| {
        Error::Invalid(format!("cannot set up the built-in tools: {e}"))
    };
    let clock = record_clock(record_seed);
    let shared = shared_search()?;
    let store = Arc::new(NoteStore::open(notes_dir).map_err(setup)?);
    let mut reg = ToolRegistry::new();
    reg.register(Calculator::new()).map_err(setup)?;
    reg.register(ConvertUnits::new()).map_err(setup)?;
    reg.register(CurrencyConvert::new()).map_err(setup)?;
    reg.register(CurrentDatetime::new(clock.clone()))
        .map_err(setup)?;
    reg.register(DateAdd::new()).map_err(setup)?;
    reg.register(DateDiff::new()).map_err(setup)?;
    reg.register(Weekday::new()).map_err(setup)?;
    reg.register(GetWeather::new(clock.clone()).map_err(setup)?)
        .map_err(setup)?;
    reg.register(GetForecast::new(clock).map_err(setup)?)
        .map_err(setup)?;
    reg.register_arc(shared.places.clone()).map_err(setup)?;
    reg.register_arc(shared.knowledge.clone()).map_err(setup)?;
    reg.register(WriteNote::new(Arc::clone(&store)))
        .map_err(setup)?;
    reg.register(ReadNote::new(Arc::clone(&store)))
        .map_err(setup)?;
    reg.register(ListNotes::new(Arc::clone(&store)))
        .map_err(setup)?;
    reg.register(DeleteNote::new(store)).map_err(setup)?;
    Ok(reg)
}

fn generate_one(
    slot: Slot,
    record_seed: u64,
    notes_dir: &Path,
    index: usize,
    settings: &SynthSettings,
) -> Result<Trajectory> {
    let max_distractors = settings.max_distractors;
    let reg = registry(record_seed, notes_dir)?;
    let clock = record_clock(record_seed);
    let mut last_error = String::new();
    // A draw can fail (a knowledge query whose best hit is another entry, say): draw again.
    for attempt in 0..24u64 {
        let mut rng = Rng::new(record_seed ^ mix64(attempt));
        let drafted = match slot.kind {
            QueryKind::Positive => scenarios::draft(
                slot.scenario,
                slot.complexity == Complexity::Complex,
                episode::Episode::new(&reg, slot.lang, &mut rng),
            ),
            _ => negatives::draft(slot.scenario, slot.lang, &mut rng),
        };
        match drafted {
            Ok(mut draft) => {
                if slot.kind == QueryKind::Positive && wants_restart(&draft.query, settings) {
                    draft = with_restart(draft, &reg, slot.lang);
                }
                return Ok(assemble(
                    slot,
                    draft,
                    &reg,
                    &mut rng,
                    record_seed,
                    &clock,
                    max_distractors,
                ));
            }
            Err(e) => {
                last_error = e;
                if notes_dir.exists() {
                    std::fs::remove_dir_all(notes_dir)
                        .map_err(|e| Error::io("remove", notes_dir, e))?;
                    std::fs::create_dir_all(notes_dir)
                        .map_err(|e| Error::io("create", notes_dir, e))?;
                }
            }
        }
    }
    Err(Error::Invalid(format!(
        "record {index} ({} {:?} {:?}): no valid draft: {last_error}",
        slot.scenario.name(),
        slot.kind,
        slot.complexity
    )))
}

/// Whether a positive query's trajectory gets a failed first attempt: a function of the query
/// text, so one query always gets the same trajectory (no conflicts).
fn wants_restart(query: &str, settings: &SynthSettings) -> bool {
    let draw = (mix64(crate::hash::hash_str(query) ^ 0x02E5_7A27) % 10_000) as f64;
    settings.restart_share > 0.0 && draw < settings.restart_share * 10_000.0
}

/// Puts a failed attempt before a draft's gold steps: the first call with one string
/// argument mistyped, run for real so the observation is the tool's own error, then a
/// give-up with restart (ToolLLaMA's `give_up_and_restart`); the gold steps follow as the
/// second attempt. A draft where no mistyped argument makes the call fail is kept as it is.
fn with_restart(mut draft: Draft, reg: &ToolRegistry, lang: Lang) -> Draft {
    let Some((thought, first)) = draft.steps.first().and_then(|s| match &s.step {
        Step::ToolCalls { thought, calls } => calls.first().map(|c| (thought.clone(), c.clone())),
        _ => None,
    }) else {
        return draft;
    };
    let keys: Vec<String> = first
        .arguments
        .iter()
        .filter(|(_, v)| v.as_str().is_some_and(|s| !s.is_empty()))
        .map(|(k, _)| k.clone())
        .collect();
    for key in keys {
        let Some(value) = first.arguments.get(&key).and_then(|v| v.as_str()) else {
            continue;
        };
        let mut chars: Vec<char> = value.chars().collect();
        let typos = [
            // A doubled last character, a stray character, a transposition.
            {
                let mut t = value.to_owned();
                t.extend(chars.last());
                t
            },
            format!("{value}?"),
            {
                if chars.len() >= 2 {
                    chars.swap(0, 1);
                }
                chars.iter().collect()
            },
        ];
        for typo in typos {
            if typo == value {
                continue;
            }
            let mut call = first.clone();
            call.arguments
                .insert(key.clone(), serde_json::Value::String(typo));
            call.id = Some("call_failed_0".into());
            if reg.check_call(&call).is_err() {
                continue;
            }
            let obs = reg.execute(&call);
            if !obs.is_error {
                continue;
            }
            let give_up = match lang {
                Lang::En => format!(
                    "The {} call returned an error, so this attempt is a dead end. I will give up and restart.",
                    call.name
                ),
                Lang::Zh => format!(
                    "{}调用返回了错误，这条路走不通，放弃并重新开始。",
                    call.name
                ),
            };
            let failed = vec![
                agentune_schema::TrajectoryStep::new(Step::ToolCalls {
                    thought,
                    calls: vec![call],
                })
                .with_observations(vec![obs]),
                agentune_schema::TrajectoryStep::new(Step::GiveUp {
                    thought: Some(give_up),
                    restart: true,
                }),
            ];
            let gold = std::mem::replace(&mut draft.steps, failed);
            draft.steps.extend(gold);
            return draft;
        }
    }
    draft
}

/// A generated episode before it becomes a trajectory.
#[derive(Debug)]
pub(crate) struct Draft {
    pub query: String,
    pub steps: Vec<agentune_schema::TrajectoryStep>,
}

fn assemble(
    slot: Slot,
    draft: Draft,
    reg: &ToolRegistry,
    rng: &mut Rng,
    record_seed: u64,
    clock: &Clock,
    max_distractors: usize,
) -> Trajectory {
    let all = reg.names();
    let mut offered: Vec<&str> = Vec::new();
    for s in &draft.steps {
        for c in s.step.calls() {
            if let Some(n) = all.iter().find(|n| **n == c.name)
                && !offered.contains(n)
            {
                offered.push(n);
            }
        }
    }
    for n in slot.scenario.tools() {
        if !offered.contains(n) && (offered.is_empty() || rng.unit() < 0.5) {
            offered.push(n);
        }
    }
    let mut others: Vec<&str> = all
        .iter()
        .copied()
        .filter(|n| !offered.contains(n))
        .collect();
    rng.shuffle(&mut others);
    let k = if max_distractors == 0 {
        0
    } else {
        1 + rng.below(max_distractors)
    };
    offered.extend(others.into_iter().take(k));
    rng.shuffle(&mut offered);
    let specs = reg.specs();
    let tools: Vec<ToolSpec> = offered
        .iter()
        .filter_map(|n| specs.iter().find(|s| s.name == *n).cloned())
        .collect();
    let calls = draft
        .steps
        .iter()
        .map(|s| s.step.calls().len())
        .sum::<usize>();
    let when = match clock {
        Clock::Fixed(t) => format!("unix time {t}"),
        Clock::System => "the system clock".into(),
    };
    let check = if calls > 0 {
        Check {
            check: "execution".into(),
            passed: true,
            step: None,
            message: Some(format!(
                "{calls} call(s) executed with the built-in tools at {when}; every observation is a real tool result"
            )),
        }
    } else {
        Check {
            check: "execution".into(),
            passed: true,
            step: None,
            message: Some("no tool needed; answered directly".into()),
        }
    };
    let outcome = match draft.steps.last().map(|s| &s.step) {
        Some(Step::FinalAnswer { .. }) => Outcome::Answered,
        _ => Outcome::Failed,
    };
    Trajectory {
        schema_version: Default::default(),
        id: String::new(),
        query: draft.query,
        history: Vec::new(),
        tools,
        steps: draft.steps,
        outcome,
        template_id: None,
        meta: Some(QueryMeta::new(
            slot.scenario.name(),
            slot.kind,
            slot.complexity,
            slot.lang.code(),
        )),
        provenance: Provenance {
            source: format!("synth/{}", slot.scenario.name()),
            teacher: Some("agentune-synth".into()),
            original_id: None,
            seed: Some(record_seed),
            eval_only: false,
        },
        checks: vec![check],
    }
}

/// Re-runs every call of a synthesised trajectory with fresh built-in tools under the record's
/// clock (from `provenance.seed`) and an empty note store, and compares each observation with
/// the recorded one. The error names the first step and call that differ.
pub fn verify_execution(t: &Trajectory) -> Result<()> {
    let seed = t
        .provenance
        .seed
        .ok_or_else(|| Error::Invalid(format!("{}: provenance.seed is missing", t.id)))?;
    let dir = tempfile::Builder::new()
        .prefix("agentune-verify-")
        .tempdir()
        .map_err(|e| Error::io("create", std::env::temp_dir(), e))?;
    let reg = registry(seed, &dir.path().join("notes"))?;
    for (i, s) in t.steps.iter().enumerate() {
        let calls = s.step.calls();
        if calls.len() != s.observations.len() {
            return Err(Error::Invalid(format!(
                "{}: steps[{i}]: {} call(s) but {} observation(s)",
                t.id,
                calls.len(),
                s.observations.len()
            )));
        }
        for (j, (c, o)) in calls.iter().zip(&s.observations).enumerate() {
            let again = reg.execute(c);
            if again.content != o.content || again.is_error != o.is_error {
                return Err(Error::Invalid(format!(
                    "{}: steps[{i}].observations[{j}] ({}): recorded {:?}, re-executed {:?}",
                    t.id, c.name, o.content, again.content
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_shared_registry_equals_the_builtin_one() {
        let dir = tempfile::tempdir().unwrap();
        let ours = registry(9, &dir.path().join("a")).unwrap();
        let theirs =
            ToolRegistry::builtin_with_clock(dir.path().join("b"), record_clock(9)).unwrap();
        assert_eq!(ours.names(), theirs.names());
        assert_eq!(ours.specs(), theirs.specs());
    }

    #[test]
    fn scenarios_parse_by_name_and_alias() {
        for sc in Scenario::ALL {
            assert_eq!(sc.name().parse::<Scenario>().unwrap(), sc);
        }
        assert_eq!("places".parse::<Scenario>().unwrap(), Scenario::Travel);
        assert!("stocks".parse::<Scenario>().is_err());
        assert_eq!("ZH".parse::<Lang>().unwrap(), Lang::Zh);
        assert!("fr".parse::<Lang>().is_err());
    }
}
