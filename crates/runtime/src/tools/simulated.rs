//! Simulated execution for tools that have no implementation here (synthetic tool schemas,
//! imported catalogs): a schema-driven executor whose responses are *simulated*, not real.
//! Each response is a JSON object that satisfies the response schema derived from the tool's
//! spec ([`response_schema`]), is fully determined by the tool name, the arguments and a
//! seed (the same call always gets the same response), reuses argument values where the
//! response has a field of the same name, and is kept in a [`ResponseCache`] so repeated
//! calls are answered from the cache (the idea behind StableToolBench's cached API server).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use agentune_schema::ToolSpec;
use serde_json::{Map, Value, json};

use super::{Tool, ToolError, ToolRegistry, stable_hash};
use crate::{Error, Result};

/// Responses already produced, by tool name and canonical arguments (shared by every
/// simulated tool of a registry).
#[derive(Debug, Default)]
pub struct ResponseCache {
    map: Mutex<HashMap<String, String>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl ResponseCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The cached response of a call, counting a hit or a miss.
    fn get(&self, key: &str) -> Option<String> {
        let found = self.map.lock().ok().and_then(|m| m.get(key).cloned());
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    fn put(&self, key: String, value: String) {
        if let Ok(mut m) = self.map.lock() {
            m.insert(key, value);
        }
    }

    /// Calls answered from the cache.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Calls that had to be simulated.
    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }

    /// Responses held.
    pub fn len(&self) -> usize {
        self.map.lock().map_or(0, |m| m.len())
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What a tool's name says it does, which decides the shape of its response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseShape {
    /// Search, list, find, recommend: a list of results.
    Search,
    /// Create, book, send, schedule, update: a record with an id and a status.
    Create,
    /// Delete, cancel, remove: a status.
    Delete,
    /// Calculate, convert, estimate: a number.
    Compute,
    /// Get, fetch, check and everything else: one record.
    Get,
}

const SEARCH: &[&str] = &[
    "search",
    "list",
    "find",
    "recommend",
    "browse",
    "query",
    "discover",
    "suggest",
    "filter",
    "搜索",
    "查找",
    "列出",
    "推荐",
];
const CREATE: &[&str] = &[
    "create",
    "add",
    "book",
    "send",
    "schedule",
    "post",
    "set",
    "update",
    "reserve",
    "register",
    "upload",
    "start",
    "submit",
    "place",
    "order",
    "log",
    "record",
    "save",
    "share",
    "enable",
    "translate",
    "generate",
    "make",
    "play",
    "turn",
    "subscribe",
    "transfer",
    "pay",
];
const GET: &[&str] = &[
    "get",
    "fetch",
    "check",
    "lookup",
    "look",
    "retrieve",
    "read",
    "track",
    "show",
    "view",
    "describe",
    "compare",
    "validate",
    "extract",
    "summarize",
    "open",
    "detect",
    "classify",
];
const DELETE: &[&str] = &[
    "delete",
    "cancel",
    "remove",
    "stop",
    "unsubscribe",
    "disable",
    "clear",
];
const COMPUTE: &[&str] = &[
    "calculate",
    "compute",
    "convert",
    "estimate",
    "predict",
    "analyze",
    "analyse",
    "count",
    "measure",
    "score",
    "evaluate",
    "solve",
    "sum",
    "average",
    "factorial",
    "area",
    "volume",
];

impl ResponseShape {
    /// The shape of a tool name's response: its words (snake_case, camelCase, dotted) are
    /// matched against verb lists, those of the last dotted segment first (`order.cancel`),
    /// then in order, so the verb wins over a noun that is also a verb (`get_order_status`).
    pub fn of(name: &str) -> Self {
        let (head, last) = name.rsplit_once('.').unwrap_or(("", name));
        let mut all = words(last);
        all.extend(words(head));
        for w in &all {
            let w = w.as_str();
            if GET.contains(&w) {
                return Self::Get;
            }
            if DELETE.contains(&w) {
                return Self::Delete;
            }
            if SEARCH.contains(&w) {
                return Self::Search;
            }
            if COMPUTE.contains(&w) {
                return Self::Compute;
            }
            if CREATE.contains(&w) {
                return Self::Create;
            }
        }
        Self::Get
    }
}

/// The lower-case words of an identifier (`stock.getPrice_v2` -> stock, get, price, v2).
pub fn words(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_lowercase() || c.is_numeric();
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The JSON Schema of a simulated response of `spec`: an object whose `status` is `"success"`
/// and whose `result` has the shape of the tool's [`ResponseShape`]; for a record, the string,
/// number and enum parameters of the call reappear as fields of the result.
pub fn response_schema(spec: &ToolSpec) -> Value {
    let params = spec.parameters_schema();
    let props = params
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let id = json!({"type": "string", "pattern": "^[a-z]+_[0-9a-f]{8}$"});
    let when = json!({"type": "string", "format": "date-time"});
    let result = match ResponseShape::of(&spec.name) {
        ResponseShape::Search => json!({
            "type": "object",
            "properties": {
                "total": {"type": "integer", "minimum": 0, "maximum": 500},
                "items": {
                    "type": "array", "minItems": 1, "maxItems": 3,
                    "items": {
                        "type": "object",
                        "properties": {
                            "id": id,
                            "name": {"type": "string"},
                            "score": {"type": "number", "minimum": 0, "maximum": 1}
                        },
                        "required": ["id", "name", "score"]
                    }
                }
            },
            "required": ["total", "items"]
        }),
        ResponseShape::Create => json!({
            "type": "object",
            "properties": {
                "id": id,
                "state": {"type": "string", "enum": ["created", "confirmed", "queued"]},
                "created_at": when
            },
            "required": ["id", "state", "created_at"]
        }),
        ResponseShape::Delete => json!({
            "type": "object",
            "properties": {
                "state": {"type": "string", "enum": ["deleted", "cancelled"]},
                "affected": {"type": "integer", "minimum": 0, "maximum": 5}
            },
            "required": ["state", "affected"]
        }),
        ResponseShape::Compute => json!({
            "type": "object",
            "properties": {
                "value": {"type": "number", "minimum": -10000, "maximum": 10000},
                "precision": {"type": "integer", "minimum": 0, "maximum": 6}
            },
            "required": ["value", "precision"]
        }),
        ResponseShape::Get => {
            let mut fields = Map::new();
            let mut required = Vec::new();
            for (k, p) in &props {
                let ty = p.get("type").and_then(Value::as_str).unwrap_or("");
                if matches!(ty, "string" | "integer" | "number" | "boolean") {
                    let mut s = Map::new();
                    s.insert("type".into(), Value::from(ty));
                    for key in ["enum", "minimum", "maximum", "format"] {
                        if let Some(v) = p.get(key) {
                            s.insert(key.into(), v.clone());
                        }
                    }
                    fields.insert(k.clone(), Value::Object(s));
                }
            }
            for (k, v) in [
                ("summary", json!({"type": "string"})),
                (
                    "value",
                    json!({"type": "number", "minimum": 0, "maximum": 1000}),
                ),
                ("updated_at", when),
            ] {
                if !fields.contains_key(k) {
                    fields.insert(k.into(), v);
                    required.push(Value::from(k));
                }
            }
            json!({"type": "object", "properties": fields, "required": required})
        }
    };
    json!({
        "type": "object",
        "properties": {
            "status": {"type": "string", "enum": ["success"]},
            "result": result
        },
        "required": ["status", "result"]
    })
}

/// A tool answered by simulation from its schema (see the module docs): deterministic for a
/// given seed, name and arguments, consistent with [`response_schema`], cached.
#[derive(Debug)]
pub struct SimulatedTool {
    spec: ToolSpec,
    response: Value,
    seed: u64,
    cache: Arc<ResponseCache>,
}

impl SimulatedTool {
    /// A simulated tool with its own cache.
    pub fn new(spec: ToolSpec, seed: u64) -> Self {
        Self::with_cache(spec, seed, Arc::new(ResponseCache::new()))
    }

    /// A simulated tool sharing `cache`.
    pub fn with_cache(spec: ToolSpec, seed: u64, cache: Arc<ResponseCache>) -> Self {
        let response = response_schema(&spec);
        Self {
            spec,
            response,
            seed,
            cache,
        }
    }

    /// Uses an explicit response schema instead of the derived one.
    pub fn with_response_schema(mut self, schema: Value) -> Self {
        self.response = schema;
        self
    }

    /// The schema every response satisfies.
    pub fn response_schema(&self) -> &Value {
        &self.response
    }

    /// The response to `args`, simulated afresh (no cache).
    pub fn simulate(&self, args: &Map<String, Value>) -> Value {
        let canonical = Value::Object(args.clone()).to_string();
        let seed = stable_hash(&[&self.seed.to_string(), &self.spec.name, &canonical]);
        let schema = self.spec.parameters_schema();
        let params: Vec<&str> = schema
            .get("properties")
            .and_then(Value::as_object)
            .map(|p| p.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let g = Gen { seed, args, params };
        g.value(&self.response, &self.response, "", 0)
    }
}

impl Tool for SimulatedTool {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn call(&self, args: &Map<String, Value>) -> std::result::Result<String, ToolError> {
        // serde_json's map is ordered by key, so this text is canonical.
        let key = format!("{}\u{1}{}", self.spec.name, Value::Object(args.clone()));
        if let Some(hit) = self.cache.get(&key) {
            return Ok(hit);
        }
        let text = self.simulate(args).to_string();
        self.cache.put(key, text.clone());
        Ok(text)
    }
}

impl ToolRegistry {
    /// A registry of simulated tools, one per spec, sharing one response cache.
    pub fn simulated(specs: impl IntoIterator<Item = ToolSpec>, seed: u64) -> Result<Self> {
        let cache = Arc::new(ResponseCache::new());
        let mut reg = Self::new();
        for spec in specs {
            reg.register(SimulatedTool::with_cache(spec, seed, Arc::clone(&cache)))
                .map_err(|e| match e {
                    Error::ToolSetup { name, message } => Error::ToolSetup {
                        name,
                        message: format!("simulated tool: {message}"),
                    },
                    other => other,
                })?;
        }
        Ok(reg)
    }
}

const NAMES: &[&str] = &[
    "Aurora", "Beacon", "Cedar", "Delta", "Ember", "Fable", "Granite", "Harbor", "Iris", "Juniper",
    "Keystone", "Lumen", "Meridian", "Nimbus", "Orchid", "Pioneer", "Quartz", "Ridge", "Summit",
    "Tidal",
];

/// Draws values for a schema from a seed, path by path.
struct Gen<'a> {
    seed: u64,
    args: &'a Map<String, Value>,
    /// The tool's parameter names: an optional response field named like one the call left
    /// out is left out too (the response does not make up what the call did not say).
    params: Vec<&'a str>,
}

impl Gen<'_> {
    fn draw(&self, path: &str, salt: &str) -> u64 {
        stable_hash(&[&self.seed.to_string(), path, salt])
    }

    fn unit(&self, path: &str, salt: &str) -> f64 {
        super::unit_from_hash(self.draw(path, salt))
    }

    fn value(&self, root: &Value, schema: &Value, path: &str, depth: usize) -> Value {
        let Some(obj) = schema.as_object() else {
            return Value::Null;
        };
        if depth > 8 {
            return Value::Null;
        }
        if let Some(r) = obj.get("$ref").and_then(Value::as_str) {
            let target = r
                .strip_prefix("#/")
                .map(|p| p.split('/').try_fold(root, |v, k| v.get(k)));
            if let Some(Some(t)) = target {
                return self.value(root, t, path, depth + 1);
            }
            return Value::Null;
        }
        if let Some(c) = obj.get("const") {
            return c.clone();
        }
        if let Some(Value::Array(options)) = obj.get("enum") {
            if options.is_empty() {
                return Value::Null;
            }
            let i = (self.draw(path, "enum") % options.len() as u64) as usize;
            return options[i].clone();
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(Value::Array(options)) = obj.get(key)
                && let Some(first) = options.first()
            {
                return self.value(root, first, path, depth + 1);
            }
        }
        let ty = match obj.get("type") {
            Some(Value::String(t)) => t.as_str(),
            Some(Value::Array(ts)) => ts
                .iter()
                .filter_map(Value::as_str)
                .find(|t| *t != "null")
                .unwrap_or("null"),
            _ if obj.contains_key("properties") => "object",
            _ => "string",
        };
        match ty {
            "object" | "dict" => {
                let mut out = Map::new();
                let required: Vec<&str> = obj
                    .get("required")
                    .and_then(Value::as_array)
                    .map(|r| r.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                if let Some(props) = obj.get("properties").and_then(Value::as_object) {
                    for (k, p) in props {
                        if !required.contains(&k.as_str())
                            && self.params.contains(&k.as_str())
                            && !self.args.contains_key(k)
                        {
                            continue;
                        }
                        let sub = format!("{path}.{k}");
                        let v = self
                            .echo(k, p)
                            .unwrap_or_else(|| self.value(root, p, &sub, depth + 1));
                        out.insert(k.clone(), v);
                    }
                }
                Value::Object(out)
            }
            "array" | "tuple" => {
                let min = obj.get("minItems").and_then(Value::as_u64).unwrap_or(1);
                let max = obj
                    .get("maxItems")
                    .and_then(Value::as_u64)
                    .unwrap_or(3)
                    .max(min);
                let n = min + self.draw(path, "len") % (max - min + 1);
                let items = obj
                    .get("items")
                    .cloned()
                    .unwrap_or(json!({"type": "string"}));
                (0..n)
                    .map(|i| self.value(root, &items, &format!("{path}[{i}]"), depth + 1))
                    .collect()
            }
            "integer" => {
                let lo = obj.get("minimum").and_then(Value::as_i64).unwrap_or(0);
                let hi = obj
                    .get("maximum")
                    .and_then(Value::as_i64)
                    .unwrap_or(100)
                    .max(lo);
                let span = (hi - lo) as u64 + 1;
                Value::from(lo + (self.draw(path, "int") % span) as i64)
            }
            "number" | "float" => {
                let lo = obj.get("minimum").and_then(Value::as_f64).unwrap_or(0.0);
                let hi = obj
                    .get("maximum")
                    .and_then(Value::as_f64)
                    .unwrap_or(100.0)
                    .max(lo);
                let x = lo + self.unit(path, "num") * (hi - lo);
                Value::from(((x * 100.0).round() / 100.0).clamp(lo, hi))
            }
            "boolean" => Value::Bool(self.draw(path, "bool").is_multiple_of(2)),
            "null" => Value::Null,
            _ => Value::String(self.string(obj, path)),
        }
    }

    /// A field named like an argument takes the argument's value when it fits.
    fn echo(&self, key: &str, schema: &Value) -> Option<Value> {
        let v = self.args.get(key)?;
        let ty = schema.get("type").and_then(Value::as_str)?;
        let fits = match ty {
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            _ => false,
        };
        let allowed = schema
            .get("enum")
            .and_then(Value::as_array)
            .is_none_or(|e| e.contains(v));
        (fits && allowed).then(|| v.clone())
    }

    fn string(&self, obj: &Map<String, Value>, path: &str) -> String {
        let h = self.draw(path, "str");
        let format = obj.get("format").and_then(Value::as_str).unwrap_or("");
        let pattern = obj.get("pattern").and_then(Value::as_str).unwrap_or("");
        let field = path.rsplit('.').next().unwrap_or("");
        let day = (h % 730) as i64;
        let (y, m, d) = civil(20_089 + day); // 2025-01-01 + day
        if format == "date-time" || field.ends_with("_at") {
            return format!(
                "{y:04}-{m:02}-{d:02}T{:02}:{:02}:00Z",
                (h >> 12) % 24,
                (h >> 20) % 60
            );
        }
        if format == "date" || field.contains("date") {
            return format!("{y:04}-{m:02}-{d:02}");
        }
        if format == "time" || field.contains("time") {
            return format!("{:02}:{:02}", (h >> 12) % 24, ((h >> 20) % 4) * 15);
        }
        if pattern == "^[a-z]+_[0-9a-f]{8}$" || field == "id" || field.ends_with("_id") {
            let prefix: String = field
                .trim_end_matches("_id")
                .chars()
                .filter(char::is_ascii_lowercase)
                .take(8)
                .collect();
            let prefix = if prefix.is_empty() {
                "id".into()
            } else {
                prefix
            };
            return format!("{prefix}_{:08x}", h >> 32);
        }
        let name = NAMES[(h % NAMES.len() as u64) as usize];
        if field == "summary" {
            return format!("{name} report: {} item(s) checked", 1 + (h >> 16) % 9);
        }
        format!("{name} {}", 1 + (h >> 8) % 99)
    }
}

/// Year, month, day of a count of days since 1970-01-01 (proleptic Gregorian).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::validate::validate_value;
    use agentune_schema::ToolCall;

    fn spec(name: &str) -> ToolSpec {
        ToolSpec::new(
            name,
            "test tool",
            json!({
                "type": "object",
                "properties": {
                    "city": {"type": "string"},
                    "days": {"type": "integer", "minimum": 1, "maximum": 7},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                    "tags": {"type": "array", "items": {"type": "string"}}
                },
                "required": ["city"]
            }),
        )
    }

    fn args(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn names_map_to_actions() {
        assert_eq!(ResponseShape::of("search_hotels"), ResponseShape::Search);
        assert_eq!(ResponseShape::of("hotels.search"), ResponseShape::Search);
        assert_eq!(ResponseShape::of("bookFlight"), ResponseShape::Create);
        assert_eq!(ResponseShape::of("cancel_order"), ResponseShape::Delete);
        assert_eq!(ResponseShape::of("math.factorial"), ResponseShape::Compute);
        assert_eq!(ResponseShape::of("get_weather"), ResponseShape::Get);
        assert_eq!(ResponseShape::of("get_order_status"), ResponseShape::Get);
        assert_eq!(ResponseShape::of("order_status.track"), ResponseShape::Get);
        assert_eq!(ResponseShape::of("order.place"), ResponseShape::Create);
        assert_eq!(
            ResponseShape::of("shop_search_products"),
            ResponseShape::Search
        );
        assert_eq!(
            words("getStockPrice.v2_x"),
            ["get", "stock", "price", "v2", "x"]
        );
    }

    #[test]
    fn responses_are_deterministic_schema_consistent_and_echo_arguments() {
        for name in [
            "get_weather",
            "search_hotels",
            "bookFlight",
            "cancel.order",
            "calc.area",
        ] {
            let tool = SimulatedTool::new(spec(name), 7);
            let schema = tool.response_schema().clone();
            for city in ["Paris", "Lyon", "成都"] {
                let a = args(json!({"city": city, "days": 3, "unit": "celsius"}));
                let first = tool.simulate(&a);
                assert_eq!(first, tool.simulate(&a), "{name}");
                assert_eq!(
                    first,
                    SimulatedTool::new(spec(name), 7).simulate(&a),
                    "{name}: a fresh tool with the same seed agrees"
                );
                validate_value(&schema, &first, "response")
                    .unwrap_or_else(|e| panic!("{name}: {e:?}: {first}"));
                if name == "get_weather" {
                    assert_eq!(first["result"]["city"], city);
                    assert_eq!(first["result"]["days"], 3);
                    assert_eq!(first["result"]["unit"], "celsius");
                    // A parameter the call leaves out is not made up in the response.
                    let bare = tool.simulate(&args(json!({"city": city})));
                    assert!(bare["result"].get("unit").is_none(), "{bare}");
                    assert!(bare["result"].get("days").is_none(), "{bare}");
                    validate_value(&schema, &bare, "response").unwrap();
                }
            }
            let a = args(json!({"city": "Paris"}));
            let b = args(json!({"city": "Rome"}));
            let other_seed = SimulatedTool::new(spec(name), 8).simulate(&a);
            assert!(
                tool.simulate(&a) != tool.simulate(&b) || tool.simulate(&a) != other_seed,
                "{name}: responses depend on the call"
            );
        }
    }

    #[test]
    fn the_registry_validates_calls_and_caches_responses() {
        let reg = ToolRegistry::simulated([spec("get_weather"), spec("search_hotels")], 1).unwrap();
        let call = ToolCall::new("get_weather", args(json!({"city": "Oslo"})));
        let a = reg.execute(&call);
        let b = reg.execute(&call);
        assert!(!a.is_error, "{}", a.content);
        assert_eq!(a.content, b.content);
        let tool = reg.get("get_weather").unwrap();
        // Two executions: the second came from the cache.
        let text = tool.call(&args(json!({"city": "Oslo"}))).unwrap();
        assert_eq!(text, a.content);
        let bad = reg.execute(&ToolCall::new("get_weather", args(json!({"days": 3}))));
        assert!(
            bad.is_error && bad.content.contains("city"),
            "{}",
            bad.content
        );
        assert!(ToolRegistry::simulated([spec("x"), spec("x")], 1).is_err());
    }

    #[test]
    fn the_cache_counts_hits_and_misses() {
        let cache = Arc::new(ResponseCache::new());
        let tool = SimulatedTool::with_cache(spec("get_weather"), 3, Arc::clone(&cache));
        let a = args(json!({"city": "Oslo"}));
        let first = tool.call(&a).unwrap();
        let second = tool.call(&a).unwrap();
        assert_eq!(first, second);
        assert_eq!((cache.hits(), cache.misses(), cache.len()), (1, 1, 1));
        tool.call(&args(json!({"city": "Bergen"}))).unwrap();
        assert_eq!((cache.hits(), cache.misses(), cache.len()), (1, 2, 2));
    }

    #[test]
    fn dates_are_calendar_dates() {
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(20_089), (2025, 1, 1));
        assert_eq!(civil(20_089 + 59), (2025, 3, 1));
    }
}
