//! Tool schema synthesis: function specs drawn from the action and concept tables of
//! [`super::library`], in many domains, with names in several styles (`get_stock_price`,
//! `getStockPrice`, `finance.get_stock_price`, `stock_price.get`, ...), typed parameters
//! (string, integer, number, boolean, enum, array, nested object, date and time strings),
//! required and optional parameters (optional ones with defaults where a default makes sense),
//! and descriptions in English or Chinese. Reproducible from a seed; names are unique.

use std::collections::HashSet;

use agentune_schema::ToolSpec;
use serde_json::{Map, Value, json};

use super::library::{ACTIONS, Action, Concept, Kind, concept};
use crate::error::{Error, Result};
use crate::hash::mix64;
use crate::rng::Rng;

/// What to synthesise.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSynthSettings {
    /// Specs wanted (fewer when the tables run out of distinct names; the caller is told).
    pub count: usize,
    /// Seed of every choice.
    pub seed: u64,
    /// Share of specs described in Chinese (the rest in English).
    pub zh_share: f64,
    /// Chance that each optional parameter of an action is part of a spec.
    pub optional_share: f64,
}

impl Default for ToolSynthSettings {
    fn default() -> Self {
        Self {
            count: 500,
            seed: 42,
            zh_share: 0.3,
            optional_share: 0.7,
        }
    }
}

/// Naming styles of function names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameStyle {
    /// `get_stock_price`
    Snake,
    /// `getStockPrice`
    Camel,
    /// `finance.get_stock_price`
    DottedDomain,
    /// `stock_price.get`
    DottedNoun,
    /// `finance.getStockPrice`
    DottedCamel,
    /// `finance_get_stock_price`
    Prefixed,
}

impl NameStyle {
    /// Every style.
    pub const ALL: [NameStyle; 6] = [
        Self::Snake,
        Self::Camel,
        Self::DottedDomain,
        Self::DottedNoun,
        Self::DottedCamel,
        Self::Prefixed,
    ];

    /// The function name of a verb, noun and domain in this style.
    pub fn name(self, domain: &str, verb: &str, noun: &str) -> String {
        let snake = format!("{verb}_{noun}");
        match self {
            Self::Snake => snake,
            Self::Camel => camel(&snake),
            Self::DottedDomain => format!("{domain}.{snake}"),
            Self::DottedNoun => format!("{noun}.{verb}"),
            Self::DottedCamel => format!("{domain}.{}", camel(&snake)),
            Self::Prefixed => format!("{domain}_{snake}"),
        }
    }

    fn camel_params(self) -> bool {
        matches!(self, Self::Camel | Self::DottedCamel)
    }
}

/// `get_stock_price` -> `getStockPrice`.
pub fn camel(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut up = false;
    for c in snake.chars() {
        if c == '_' {
            up = !out.is_empty();
        } else if up {
            out.extend(c.to_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// An action's description in a language: its request phrase as a sentence.
pub(crate) fn description(action: &Action, zh: bool) -> String {
    if zh {
        format!("{}。", action.say.1.trim_end_matches('：'))
    } else {
        let s = action.say.0.trim_end_matches(':');
        let mut c = s.chars();
        match c.next() {
            Some(f) => format!("{}{}.", f.to_uppercase(), c.as_str()),
            None => String::new(),
        }
    }
}

/// The JSON Schema of a concept's values, described in a language; `optional` adds the
/// default a caller gets when the argument is left out (where one makes sense).
pub(crate) fn concept_schema(c: &Concept, zh: bool, optional: bool) -> Value {
    let desc = if zh { c.desc.1 } else { c.desc.0 };
    let mut s = match c.kind {
        Kind::Text(_) => json!({"type": "string"}),
        Kind::Int { min, max, .. } => json!({"type": "integer", "minimum": min, "maximum": max}),
        Kind::Num { min, max, .. } => json!({"type": "number", "minimum": min, "maximum": max}),
        Kind::Bool => json!({"type": "boolean"}),
        Kind::Enum(values) => {
            json!({"type": "string", "enum": values.iter().map(|v| v.0).collect::<Vec<_>>()})
        }
        Kind::Date => json!({"type": "string", "format": "date"}),
        Kind::Time => json!({"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"}),
        Kind::Minutes { min, max } => {
            json!({"type": "integer", "minimum": min, "maximum": max})
        }
        Kind::Percent { .. } => json!({"type": "number", "minimum": 0, "maximum": 1}),
        Kind::List(_) => json!({"type": "array", "items": {"type": "string"}, "minItems": 1}),
        Kind::IntList { .. } => {
            json!({"type": "array", "items": {"type": "number"}, "minItems": 1})
        }
        Kind::Object(fields) => {
            let mut props = Map::new();
            for f in fields {
                if let Some(fc) = concept(f) {
                    props.insert(fc.names[0].to_owned(), concept_schema(fc, zh, false));
                }
            }
            let required: Vec<&str> = fields
                .iter()
                .filter_map(|f| concept(f).map(|fc| fc.names[0]))
                .collect();
            json!({"type": "object", "properties": props, "required": required})
        }
    };
    if let Some(obj) = s.as_object_mut() {
        obj.insert("description".into(), Value::from(desc));
        if optional && let Some(d) = default_of(c) {
            obj.insert("default".into(), d);
        }
    }
    s
}

/// The default of an optional concept: the first enum value, false, the smallest count.
fn default_of(c: &Concept) -> Option<Value> {
    match c.kind {
        Kind::Enum(values) => values.first().map(|v| Value::from(v.0)),
        Kind::Bool => Some(Value::Bool(false)),
        Kind::Int { min, max, .. } if c.id == "limit" || c.id == "page" => {
            Some(Value::from(if c.id == "page" {
                1
            } else {
                (min + max) / 2
            }))
        }
        Kind::Int { min, .. } if matches!(c.id, "guests" | "passengers" | "days" | "quantity") => {
            Some(Value::from(min))
        }
        _ => None,
    }
}

/// One synthesised spec with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthTool {
    /// The spec.
    pub spec: ToolSpec,
    /// The action id it implements.
    pub action: &'static str,
    /// The naming style.
    pub style: NameStyle,
}

/// Synthesises `settings.count` specs (or as many distinct ones as the tables allow).
pub fn synthesize_tools(settings: &ToolSynthSettings) -> Result<Vec<SynthTool>> {
    for (name, v) in [
        ("zh_share", settings.zh_share),
        ("optional_share", settings.optional_share),
    ] {
        if !(0.0..=1.0).contains(&v) {
            return Err(Error::Invalid(format!(
                "{name} must be between 0 and 1, found {v}"
            )));
        }
    }
    let mut rng = Rng::new(mix64(settings.seed ^ 0x7001_5EED));
    let mut names: HashSet<String> = HashSet::new();
    let mut out = Vec::with_capacity(settings.count);
    // Actions dealt in shuffled rounds, so a small count still spans many domains.
    let mut order: Vec<usize> = (0..ACTIONS.len()).collect();
    let mut misses = 0usize;
    while out.len() < settings.count && misses < 64 * ACTIONS.len() {
        rng.shuffle(&mut order);
        let before = out.len();
        for &ai in &order {
            if out.len() == settings.count {
                break;
            }
            let action = &ACTIONS[ai];
            match draw_spec(action, settings, &mut rng, &names) {
                Some(tool) => {
                    names.insert(tool.spec.name.clone());
                    out.push(tool);
                }
                None => misses += 1,
            }
        }
        if out.len() == before {
            break;
        }
    }
    if out.len() < settings.count {
        tracing::warn!(
            wanted = settings.count,
            made = out.len(),
            "the action tables ran out of distinct function names"
        );
    }
    Ok(out)
}

fn draw_spec(
    action: &'static Action,
    settings: &ToolSynthSettings,
    rng: &mut Rng,
    taken: &HashSet<String>,
) -> Option<SynthTool> {
    // A few tries for an unused name.
    let (name, style) = (0..8).find_map(|_| {
        let style = NameStyle::ALL[rng.below(NameStyle::ALL.len())];
        let verb = action.verbs[rng.below(action.verbs.len())];
        let noun = action.nouns[rng.below(action.nouns.len())];
        let name = style.name(action.domain, verb, noun);
        (!taken.contains(&name)).then_some((name, style))
    })?;
    let zh = rng.unit() < settings.zh_share;
    let mut props = Map::new();
    let mut required = Vec::new();
    let mut used: HashSet<String> = HashSet::new();
    let optional: Vec<&str> = action
        .optional
        .iter()
        .copied()
        .filter(|_| rng.unit() < settings.optional_share)
        .collect();
    for (id, is_required) in action
        .required
        .iter()
        .map(|id| (*id, true))
        .chain(optional.into_iter().map(|id| (id, false)))
    {
        let c = concept(id)?;
        let mut variants: Vec<&str> = c.names.to_vec();
        rng.shuffle(&mut variants);
        let pname = variants.into_iter().find_map(|n| {
            let n = if style.camel_params() {
                camel(n)
            } else {
                n.to_owned()
            };
            (!used.contains(&n)).then_some(n)
        })?;
        used.insert(pname.clone());
        props.insert(pname.clone(), concept_schema(c, zh, !is_required));
        if is_required {
            required.push(Value::from(pname));
        }
    }
    let params = json!({"type": "object", "properties": props, "required": required});
    Some(SynthTool {
        spec: ToolSpec::new(name, description(action, zh), params),
        action: action.id,
        style,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn settings(count: usize, seed: u64) -> ToolSynthSettings {
        ToolSynthSettings {
            count,
            seed,
            ..ToolSynthSettings::default()
        }
    }

    #[test]
    fn names_in_every_style() {
        let n = |s: NameStyle| s.name("finance", "get", "stock_price");
        assert_eq!(n(NameStyle::Snake), "get_stock_price");
        assert_eq!(n(NameStyle::Camel), "getStockPrice");
        assert_eq!(n(NameStyle::DottedDomain), "finance.get_stock_price");
        assert_eq!(n(NameStyle::DottedNoun), "stock_price.get");
        assert_eq!(n(NameStyle::DottedCamel), "finance.getStockPrice");
        assert_eq!(n(NameStyle::Prefixed), "finance_get_stock_price");
    }

    #[test]
    fn every_spec_is_valid_unique_and_reproducible() {
        let tools = synthesize_tools(&settings(1500, 3)).unwrap();
        assert_eq!(tools.len(), 1500);
        let mut names = HashSet::new();
        let mut zh = 0;
        let mut types = HashSet::new();
        let mut optional_with_default = 0;
        for t in &tools {
            t.spec.validate().unwrap();
            assert!(
                names.insert(t.spec.name.clone()),
                "duplicate {}",
                t.spec.name
            );
            zh += usize::from(t.spec.description().chars().any(crate::is_cjk));
            let p = t.spec.parameters.as_ref().unwrap();
            let props = p["properties"].as_object().unwrap();
            let required = t.spec.required_parameters();
            assert!(required.iter().all(|r| props.contains_key(*r)));
            for (k, s) in props {
                assert!(s["description"].is_string(), "{}.{k}", t.spec.name);
                let ty = s["type"].as_str().unwrap();
                let fmt = s.get("format").and_then(Value::as_str).unwrap_or("");
                types.insert(if s.get("enum").is_some() {
                    "enum"
                } else if fmt == "date" {
                    "date"
                } else {
                    ty
                });
                if let Some(d) = s.get("default") {
                    assert!(!required.contains(&k.as_str()));
                    agentune_runtime::validate::validate_value(s, d, k).unwrap();
                    optional_with_default += 1;
                }
            }
        }
        for ty in [
            "string", "integer", "number", "boolean", "enum", "array", "object", "date",
        ] {
            assert!(types.contains(ty), "no {ty} parameter in {types:?}");
        }
        assert!(optional_with_default > 100);
        assert!((300..600).contains(&zh), "{zh} Chinese descriptions");
        let domains: HashSet<&str> = tools
            .iter()
            .filter_map(|t| ACTIONS.iter().find(|a| a.id == t.action).map(|a| a.domain))
            .collect();
        assert!(domains.len() >= 25, "{domains:?}");
        assert_eq!(synthesize_tools(&settings(1500, 3)).unwrap(), tools);
        assert_ne!(synthesize_tools(&settings(1500, 4)).unwrap(), tools);
        // A smaller run is a prefix-like draw over all actions.
        let small = synthesize_tools(&settings(ACTIONS.len(), 3)).unwrap();
        let actions: HashSet<&str> = small.iter().map(|t| t.action).collect();
        assert_eq!(actions.len(), ACTIONS.len());
    }

    #[test]
    fn bad_shares_are_refused() {
        let mut s = settings(5, 1);
        s.zh_share = 1.5;
        assert!(synthesize_tools(&s).is_err());
    }
}
