//! Tools an agent can call: the [`Tool`] trait, the [`ToolRegistry`] that validates arguments,
//! enforces a timeout and turns every failure into an error [`Observation`] the model can
//! reflect on, and the built-in deterministic tools (calculator, units, currency, dates,
//! simulated weather, place and knowledge search, a sandboxed note store) plus HTTP tools, and
//! schema-driven simulated tools for specs without an implementation (synthetic or imported).

mod calculator;
mod currency;
mod datetime;
mod http;
mod notes;
mod search;
mod simulated;
mod units;
mod weather;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use agentune_schema::{Observation, ToolCall, ToolSpec};
use serde_json::{Map, Value};

use crate::validate::{format_errors, validate_arguments};
use crate::{Error, Result};

pub use calculator::{Calculator, evaluate};
pub use currency::{CurrencyConvert, RATE_DATE, usd_rates};
pub use datetime::{
    Clock, CurrentDatetime, Date, DateAdd, DateDiff, MONTHS, WEEKDAYS, WEEKDAYS_ZH, Weekday,
    weekday_zh,
};
pub use http::{DEFAULT_HTTP_TIMEOUT, HttpTool, MAX_OBSERVATION_CHARS, tools_from_mcp_list};
pub use notes::{DeleteNote, ListNotes, MAX_NOTE_BYTES, MAX_NOTES, NoteStore, ReadNote, WriteNote};
pub use search::{
    Bm25Index, CATEGORIES, City, Climate, Knowledge, LookupKnowledge, PRICES, Place, SearchPlaces,
    cities, find_city, knowledge, places, tokenize,
};
pub use simulated::{ResponseCache, ResponseShape, SimulatedTool, response_schema, words};
pub use units::{Conversion, ConvertUnits, convert};
pub use weather::{DayWeather, GetForecast, GetWeather, simulate_day, sun_times};

/// Why a tool call failed. The message is shown to the model, so it says what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ToolError {
    /// An argument passed the schema but makes no sense (unknown city, unparsable date...).
    #[error("invalid argument `{argument}`: {message}")]
    InvalidArgument {
        /// The argument's name.
        argument: String,
        /// What is wrong and what would be accepted.
        message: String,
    },
    /// The thing asked for does not exist (a note, a knowledge entry...).
    #[error("not found: {0}")]
    NotFound(String),
    /// The tool could not do its work (division by zero, HTTP failure, full store...).
    #[error("{0}")]
    Failed(String),
}

impl ToolError {
    /// An invalid-argument error.
    pub fn invalid(argument: &str, message: impl Into<String>) -> Self {
        Self::InvalidArgument {
            argument: argument.to_owned(),
            message: message.into(),
        }
    }
}

/// A function an agent can call.
///
/// `call` receives arguments that already passed the spec's JSON Schema (the registry checks),
/// and returns the observation text (built-ins return compact JSON). Tools run on a worker
/// thread so that a slow one can be abandoned after the registry's timeout.
pub trait Tool: Send + Sync + std::fmt::Debug {
    /// Name, description and JSON Schema of the arguments.
    fn spec(&self) -> &ToolSpec;
    /// Runs the tool.
    fn call(&self, args: &Map<String, Value>) -> Result<String, ToolError>;
}

/// A tool made of a spec and a function: for tools defined in code (tests, small custom
/// tools) without a type of their own.
pub struct FnTool<F> {
    spec: ToolSpec,
    f: F,
}

impl<F> FnTool<F>
where
    F: Fn(&Map<String, Value>) -> Result<String, ToolError> + Send + Sync,
{
    /// A tool with this spec that runs `f`.
    pub fn new(spec: ToolSpec, f: F) -> Self {
        Self { spec, f }
    }
}

impl<F> std::fmt::Debug for FnTool<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FnTool")
            .field("name", &self.spec.name)
            .finish_non_exhaustive()
    }
}

impl<F> Tool for FnTool<F>
where
    F: Fn(&Map<String, Value>) -> Result<String, ToolError> + Send + Sync,
{
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn call(&self, args: &Map<String, Value>) -> Result<String, ToolError> {
        (self.f)(args)
    }
}

/// The default limit on one tool call.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Tools by name, executed safely: every problem becomes an error observation, never a panic.
#[derive(Debug, Clone)]
pub struct ToolRegistry {
    tools: BTreeMap<String, Arc<dyn Tool>>,
    /// Registration order, which is the order specs are listed in prompts.
    order: Vec<String>,
    timeout: Duration,
}

impl Default for ToolRegistry {
    fn default() -> Self {
        Self::new()
    }
}

impl ToolRegistry {
    /// An empty registry with the default timeout.
    pub fn new() -> Self {
        Self {
            tools: BTreeMap::new(),
            order: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Every built-in tool, with the system clock; notes live in `sandbox_dir` (created if
    /// missing).
    pub fn builtin(sandbox_dir: impl AsRef<Path>) -> Result<Self> {
        Self::builtin_with_clock(sandbox_dir, Clock::System)
    }

    /// Every built-in tool, reading "now" from `clock` (a fixed clock makes runs reproducible).
    pub fn builtin_with_clock(sandbox_dir: impl AsRef<Path>, clock: Clock) -> Result<Self> {
        let store = Arc::new(NoteStore::open(sandbox_dir.as_ref())?);
        let mut reg = Self::new();
        reg.register(Calculator::new())?;
        reg.register(ConvertUnits::new())?;
        reg.register(CurrencyConvert::new())?;
        reg.register(CurrentDatetime::new(clock.clone()))?;
        reg.register(DateAdd::new())?;
        reg.register(DateDiff::new())?;
        reg.register(Weekday::new())?;
        reg.register(GetWeather::new(clock.clone())?)?;
        reg.register(GetForecast::new(clock)?)?;
        reg.register(SearchPlaces::new()?)?;
        reg.register(LookupKnowledge::new()?)?;
        reg.register(WriteNote::new(Arc::clone(&store)))?;
        reg.register(ReadNote::new(Arc::clone(&store)))?;
        reg.register(ListNotes::new(Arc::clone(&store)))?;
        reg.register(DeleteNote::new(store))?;
        Ok(reg)
    }

    /// The specs of every built-in tool, in the order [`ToolRegistry::builtin`] lists them,
    /// without creating a note store (for prompts, data generation and listings).
    pub fn builtin_specs() -> Result<Vec<ToolSpec>> {
        let clock = Clock::System;
        Ok(vec![
            Calculator::new().spec().clone(),
            ConvertUnits::new().spec().clone(),
            CurrencyConvert::new().spec().clone(),
            CurrentDatetime::new(clock.clone()).spec().clone(),
            DateAdd::new().spec().clone(),
            DateDiff::new().spec().clone(),
            Weekday::new().spec().clone(),
            GetWeather::new(clock.clone())?.spec().clone(),
            GetForecast::new(clock)?.spec().clone(),
            SearchPlaces::new()?.spec().clone(),
            LookupKnowledge::new()?.spec().clone(),
            WriteNote::tool_spec(),
            ReadNote::tool_spec(),
            ListNotes::tool_spec(),
            DeleteNote::tool_spec(),
        ])
    }

    /// The same registry with another per-call timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The per-call timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Adds a tool. Its spec must be valid and its name unused.
    pub fn register(&mut self, tool: impl Tool + 'static) -> Result<()> {
        self.register_arc(Arc::new(tool))
    }

    /// Adds a shared tool. Its spec must be valid and its name unused.
    pub fn register_arc(&mut self, tool: Arc<dyn Tool>) -> Result<()> {
        let spec = tool.spec();
        spec.validate().map_err(|e| Error::ToolSetup {
            name: spec.name.clone(),
            message: e.to_string(),
        })?;
        if self.tools.contains_key(&spec.name) {
            return Err(Error::ToolSetup {
                name: spec.name.clone(),
                message: "a tool of this name is already registered".into(),
            });
        }
        let name = spec.name.clone();
        self.order.push(name.clone());
        self.tools.insert(name, tool);
        Ok(())
    }

    /// Removes a tool; returns whether it was there.
    pub fn remove(&mut self, name: &str) -> bool {
        self.order.retain(|n| n != name);
        self.tools.remove(name).is_some()
    }

    /// Keeps only the named tools (a scenario's subset), in registration order.
    pub fn retain(&mut self, names: &[&str]) {
        self.order.retain(|n| names.contains(&n.as_str()));
        self.tools.retain(|n, _| names.contains(&n.as_str()));
    }

    /// The tool of that name.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Tool>> {
        self.tools.get(name)
    }

    /// Tool names in registration order.
    pub fn names(&self) -> Vec<&str> {
        self.order.iter().map(String::as_str).collect()
    }

    /// Number of tools.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// True when no tool is registered.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The specs, in registration order (what a prompt lists).
    pub fn specs(&self) -> Vec<ToolSpec> {
        self.order
            .iter()
            .filter_map(|n| self.tools.get(n))
            .map(|t| t.spec().clone())
            .collect()
    }

    /// Checks a call without running it: the tool exists and the arguments fit its schema.
    /// The error is the text an error observation would carry.
    pub fn check_call(&self, call: &ToolCall) -> Result<(), String> {
        let tool = self
            .tools
            .get(&call.name)
            .ok_or_else(|| self.unknown_tool(&call.name))?;
        let schema = tool.spec().parameters_schema();
        validate_arguments(&schema, &call.arguments).map_err(|errors| {
            format!(
                "invalid arguments for `{}`: {}",
                call.name,
                format_errors(&errors)
            )
        })
    }

    /// Runs one call and returns its observation. Unknown tools, arguments that fail the
    /// schema, tool errors, timeouts and panics all become observations with `is_error`
    /// set and a message saying what went wrong.
    pub fn execute(&self, call: &ToolCall) -> Observation {
        self.execute_all(std::slice::from_ref(call))
            .pop()
            .unwrap_or_else(|| error_observation(call, "the call produced no result".into()))
    }

    /// Runs one step's calls concurrently (each on its own thread, all under the same
    /// deadline) and returns their observations in call order.
    pub fn execute_all(&self, calls: &[ToolCall]) -> Vec<Observation> {
        let now = Instant::now();
        // A huge timeout means "wait as long as it takes"; Instant arithmetic must not overflow.
        let deadline = now
            .checked_add(self.timeout)
            .unwrap_or_else(|| now + Duration::from_secs(365 * 86_400));
        let pending: Vec<Result<Pending, String>> = calls
            .iter()
            .map(|call| {
                self.check_call(call)?;
                let tool = self
                    .tools
                    .get(&call.name)
                    .cloned()
                    .ok_or_else(|| self.unknown_tool(&call.name))?;
                spawn_call(tool, call.arguments.clone())
            })
            .collect();
        calls
            .iter()
            .zip(pending)
            .map(
                |(call, p)| match p.and_then(|p| p.wait(deadline, self.timeout)) {
                    Ok(text) => Observation {
                        tool_call_id: call.id.clone(),
                        name: call.name.clone(),
                        content: text,
                        is_error: false,
                    },
                    Err(message) => {
                        tracing::debug!(tool = %call.name, %message, "tool call failed");
                        error_observation(call, message)
                    }
                },
            )
            .collect()
    }

    fn unknown_tool(&self, name: &str) -> String {
        let mut message = format!(
            "unknown tool `{name}`; available tools: {}",
            self.order.join(", ")
        );
        if let Some(best) = crate::validate::closest(name, self.order.iter().map(String::as_str)) {
            message.push_str(&format!(" (did you mean `{best}`?)"));
        }
        message
    }
}

fn error_observation(call: &ToolCall, message: String) -> Observation {
    Observation {
        tool_call_id: call.id.clone(),
        name: call.name.clone(),
        content: format!("Error: {message}"),
        is_error: true,
    }
}

type Outcome = std::thread::Result<Result<String, ToolError>>;

/// A tool call running on its worker thread.
struct Pending {
    name: String,
    rx: mpsc::Receiver<Outcome>,
}

/// Starts the tool on a worker thread. A tool still running when its caller stops waiting is
/// abandoned: its thread finishes in the background and its result is dropped.
fn spawn_call(tool: Arc<dyn Tool>, args: Map<String, Value>) -> Result<Pending, String> {
    let name = tool.spec().name.clone();
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name(format!("tool-{name}"))
        .spawn(move || {
            let outcome =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| tool.call(&args)));
            // The receiver is gone after a timeout; nothing is left to tell.
            let _ = tx.send(outcome);
        })
        .map_err(|e| format!("tool `{name}` could not start: {e}"))?;
    Ok(Pending { name, rx })
}

impl Pending {
    /// Waits for the result until `deadline` (`limit` is the configured timeout, for the
    /// message).
    fn wait(self, deadline: Instant, limit: Duration) -> Result<String, String> {
        let name = self.name;
        let left = deadline.saturating_duration_since(Instant::now());
        match self.rx.recv_timeout(left) {
            Ok(Ok(Ok(text))) => Ok(text),
            Ok(Ok(Err(e))) => Err(e.to_string()),
            Ok(Err(payload)) => {
                let what = payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown cause".into());
                Err(format!(
                    "tool `{name}` crashed ({what}); try different arguments or another tool"
                ))
            }
            Err(mpsc::RecvTimeoutError::Timeout) => Err(format!(
                "tool `{name}` timed out after {}; try again later or with a smaller request",
                human_duration(limit)
            )),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                Err(format!("tool `{name}` stopped without a result"))
            }
        }
    }
}

fn human_duration(d: Duration) -> String {
    if d.as_millis() < 1000 {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// Serializes a tool's JSON result compactly (the observation text of built-ins).
pub(crate) fn json_text(value: &Value) -> String {
    value.to_string()
}

/// Serializes a result struct compactly, keeping its field order (the order a reader expects:
/// city before date before condition...).
pub(crate) fn json_out<T: serde::Serialize>(value: &T) -> Result<String, ToolError> {
    serde_json::to_string(value)
        .map_err(|e| ToolError::Failed(format!("cannot encode the result: {e}")))
}

/// A JSON object whose keys keep the order they are listed in (serde_json's own map sorts
/// them, which puts `chance_of_rain` before `city`).
pub(crate) struct Ordered(pub Vec<(&'static str, Field)>);

/// A value inside an [`Ordered`] object: plain JSON, or a list of ordered objects.
pub(crate) enum Field {
    Json(Value),
    Objects(Vec<Ordered>),
}

impl Ordered {
    /// An object of plain JSON values.
    pub(crate) fn new(fields: Vec<(&'static str, Value)>) -> Self {
        Self(
            fields
                .into_iter()
                .map(|(k, v)| (k, Field::Json(v)))
                .collect(),
        )
    }
}

impl serde::Serialize for Ordered {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            match v {
                Field::Json(v) => map.serialize_entry(k, v)?,
                Field::Objects(list) => map.serialize_entry(k, list)?,
            }
        }
        map.end()
    }
}

/// An observation text from `(key, value)` pairs, in that order.
pub(crate) fn ordered(fields: Vec<(&'static str, Value)>) -> Result<String, ToolError> {
    json_out(&Ordered::new(fields))
}

/// A number as JSON: integral values print without a decimal point (`21`, not `21.0`).
pub(crate) fn num(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        Value::from(x as i64)
    } else {
        Value::from(x)
    }
}

/// A required string argument (the schema has checked presence and type; this is defensive).
pub(crate) fn str_arg<'a>(args: &'a Map<String, Value>, name: &str) -> Result<&'a str, ToolError> {
    args.get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| ToolError::invalid(name, "missing or not a string"))
}

/// An optional string argument.
pub(crate) fn opt_str_arg<'a>(args: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    args.get(name).and_then(Value::as_str)
}

/// A required number argument.
pub(crate) fn num_arg(args: &Map<String, Value>, name: &str) -> Result<f64, ToolError> {
    args.get(name)
        .and_then(Value::as_f64)
        .ok_or_else(|| ToolError::invalid(name, "missing or not a number"))
}

/// An optional integer argument (3.0 counts as 3).
pub(crate) fn opt_int_arg(args: &Map<String, Value>, name: &str) -> Result<Option<i64>, ToolError> {
    match args.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => {
            if let Some(i) = v.as_i64() {
                return Ok(Some(i));
            }
            match v.as_f64() {
                Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Some(f as i64)),
                _ => Err(ToolError::invalid(name, "expected an integer")),
            }
        }
    }
}

/// Rounds to `digits` decimal places, for readable observations.
pub(crate) fn round_to(x: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (x * scale).round() / scale
}

/// A stable 64-bit FNV-1a hash (the standard library's hasher may change between releases;
/// simulated data must not).
pub(crate) fn stable_hash(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain(std::iter::once(0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    // Final avalanche (splitmix64) so nearby inputs give unrelated outputs.
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// A uniform number in [0, 1) drawn from a hash.
pub(crate) fn unit_from_hash(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}
