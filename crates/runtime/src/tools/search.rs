//! The bundled datasets (cities, places, knowledge entries under `data/`), a small BM25 index
//! with a tokenizer that handles English words and Chinese text (character bigrams), and the
//! `search_places` and `lookup_knowledge` tools built on them.

use std::collections::HashMap;
use std::sync::OnceLock;

use agentune_schema::ToolSpec;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{Field, Ordered, Tool, ToolError, json_out, opt_int_arg, opt_str_arg, str_arg};
use crate::{Error, Result};

const CITIES_FILE: &str = "data/cities.jsonl";
const PLACES_FILE: &str = "data/places.jsonl";
const KNOWLEDGE_FILE: &str = "data/knowledge.jsonl";
const CITIES_TEXT: &str = include_str!("../../../../data/cities.jsonl");
const PLACES_TEXT: &str = include_str!("../../../../data/places.jsonl");
const KNOWLEDGE_TEXT: &str = include_str!("../../../../data/knowledge.jsonl");

/// Climate parameters driving the weather simulation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Climate {
    /// Annual mean of the daily mean temperature, °C.
    pub temp_mean: f64,
    /// Half the difference between the warmest and the coldest month's mean, °C.
    pub temp_amp: f64,
    /// Typical difference between a day's high and low, °C.
    pub diurnal: f64,
    /// Days with precipitation in a typical year.
    pub rain_days: f64,
    /// When it rains most: `summer`, `winter` or `even`.
    pub rain_season: String,
    /// Mean relative humidity, %.
    pub humidity: f64,
}

/// A city known to the weather simulation, the time-zone lookup and place search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct City {
    /// Stable id (`beijing`, `new_york`).
    pub id: String,
    /// English name.
    pub name: String,
    /// Chinese name.
    pub name_zh: String,
    /// Other names it is asked by (`Peking`, `NYC`, `北京市`).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Country, in English.
    pub country: String,
    /// Latitude, degrees north (negative south).
    pub lat: f64,
    /// Longitude, degrees east.
    pub lon: f64,
    /// Standard-time UTC offset in minutes.
    pub utc_offset_minutes: i32,
    /// Daylight-saving rule: `none`, `us`, `eu`, `au` or `nz`.
    pub dst: String,
    /// Climate parameters.
    pub climate: Climate,
}

/// A point of interest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Place {
    /// Stable id.
    pub id: String,
    /// The city's id.
    pub city: String,
    /// Name (English, or the usual romanised name).
    pub name: String,
    /// Chinese name, when there is a usual one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_zh: Option<String>,
    /// One of [`CATEGORIES`].
    pub category: String,
    /// Keywords (`lake`, `free`, `kids`, `night view`...).
    #[serde(default)]
    pub tags: Vec<String>,
    /// A short description.
    pub description: String,
    /// Typical visitor rating, 1 to 5.
    pub rating: f64,
    /// `free`, `$`, `$$` or `$$$`.
    pub price: String,
}

/// A knowledge entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Knowledge {
    /// Stable id.
    pub id: String,
    /// Title.
    pub title: String,
    /// The fact(s), a short paragraph.
    pub text: String,
    /// Keywords.
    #[serde(default)]
    pub tags: Vec<String>,
    /// `en` or `zh`.
    pub lang: String,
}

/// Price levels, cheapest first.
pub const PRICES: &[&str] = &["free", "$", "$$", "$$$"];

fn price_rank(price: &str) -> Option<usize> {
    PRICES.iter().position(|p| *p == price)
}

/// The place categories.
pub const CATEGORIES: &[&str] = &[
    "park",
    "camping",
    "hiking",
    "beach",
    "museum",
    "attraction",
    "temple",
    "restaurant",
    "cafe",
    "shopping",
    "nightlife",
];

fn parse_jsonl<T: serde::de::DeserializeOwned>(file: &str, text: &str) -> Result<Vec<T>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut de = serde_json::Deserializer::from_str(line);
        let record = serde_path_to_error::deserialize(&mut de).map_err(|e| Error::Data {
            file: file.to_owned(),
            line: i + 1,
            message: format!("at `{}`: {}", e.path(), e.inner()),
        })?;
        out.push(record);
    }
    Ok(out)
}

struct Datasets {
    cities: Vec<City>,
    places: Vec<Place>,
    knowledge: Vec<Knowledge>,
}

fn load() -> Result<Datasets> {
    let cities: Vec<City> = parse_jsonl(CITIES_FILE, CITIES_TEXT)?;
    let places: Vec<Place> = parse_jsonl(PLACES_FILE, PLACES_TEXT)?;
    let knowledge: Vec<Knowledge> = parse_jsonl(KNOWLEDGE_FILE, KNOWLEDGE_TEXT)?;
    for (i, p) in places.iter().enumerate() {
        let bad = |message: String| Error::Data {
            file: PLACES_FILE.into(),
            line: i + 1,
            message,
        };
        if !cities.iter().any(|c| c.id == p.city) {
            return Err(bad(format!("unknown city id `{}`", p.city)));
        }
        if !CATEGORIES.contains(&p.category.as_str()) {
            return Err(bad(format!("unknown category `{}`", p.category)));
        }
    }
    Ok(Datasets {
        cities,
        places,
        knowledge,
    })
}

fn datasets() -> Result<&'static Datasets> {
    static DATA: OnceLock<std::result::Result<Datasets, (String, usize, String)>> = OnceLock::new();
    let loaded = DATA.get_or_init(|| {
        load().map_err(|e| match e {
            Error::Data {
                file,
                line,
                message,
            } => (file, line, message),
            other => (String::new(), 0, other.to_string()),
        })
    });
    loaded
        .as_ref()
        .map_err(|(file, line, message)| Error::Data {
            file: file.clone(),
            line: *line,
            message: message.clone(),
        })
}

/// The bundled cities.
pub fn cities() -> Result<&'static [City]> {
    Ok(&datasets()?.cities)
}

/// The bundled places (`data/places.jsonl`).
pub fn places() -> Result<&'static [Place]> {
    Ok(&datasets()?.places)
}

/// The bundled knowledge entries (`data/knowledge.jsonl`).
pub fn knowledge() -> Result<&'static [Knowledge]> {
    Ok(&datasets()?.knowledge)
}

/// Lower-cased, trimmed, without a trailing "city" / "市".
fn normalise_city(name: &str) -> String {
    let lower = name.trim().to_lowercase();
    let lower = lower.strip_suffix(" city").unwrap_or(&lower);
    let lower = lower.strip_suffix('市').unwrap_or(lower);
    lower.trim().replace(['-', '_'], " ")
}

/// Finds a bundled city by English or Chinese name, alias or id (case, spaces, a trailing
/// "city" or "市" do not matter); the error says what is known and suggests a close name.
pub fn find_city(name: &str) -> std::result::Result<&'static City, String> {
    let all = cities().map_err(|e| e.to_string())?;
    let key = normalise_city(name);
    if key.is_empty() {
        return Err("the city name is empty".into());
    }
    let matches = |c: &City| {
        normalise_city(&c.id) == key
            || normalise_city(&c.name) == key
            || normalise_city(&c.name_zh) == key
            || c.aliases.iter().any(|a| normalise_city(a) == key)
    };
    if let Some(city) = all.iter().find(|c| matches(c)) {
        return Ok(city);
    }
    let mut message = format!("unknown city `{}`", name.trim());
    if let Some(best) = crate::validate::closest(&key, all.iter().map(|c| c.name.as_str())) {
        message.push_str(&format!(" (did you mean `{best}`?)"));
    }
    message.push_str(&format!(
        "; {} cities are covered, e.g. {}",
        all.len(),
        all.iter()
            .take(8)
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    Err(message)
}

const STOPWORDS: &[&str] = &[
    "a", "an", "the", "of", "in", "on", "at", "to", "for", "and", "or", "is", "are", "was", "what",
    "where", "which", "who", "how", "with", "near", "me", "i", "my", "some", "any", "there", "do",
    "does", "can", "by", "it", "its", "be", "about",
];

fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

/// A light English plural stemmer: cities -> city, beaches -> beach, parks -> park.
fn stem(w: String) -> String {
    if !w.is_ascii() || w.len() <= 3 {
        return w;
    }
    if w.len() > 4 && w.ends_with("ies") {
        return format!("{}y", &w[..w.len() - 3]);
    }
    if ["ches", "shes", "sses", "xes"]
        .iter()
        .any(|e| w.ends_with(e))
    {
        return w[..w.len() - 2].to_owned();
    }
    if w.ends_with('s') && !w.ends_with("ss") && !w.ends_with("us") {
        return w[..w.len() - 1].to_owned();
    }
    w
}

/// Splits text into index terms: lower-cased English words (stop words dropped, plurals
/// removed) and, for Chinese, the bigrams of each run of CJK characters (a lone character is
/// kept as itself).
pub fn tokenize(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut run: Vec<char> = Vec::new();
    let flush_word = |word: &mut String, out: &mut Vec<String>| {
        if !word.is_empty() {
            let w = std::mem::take(word);
            if !STOPWORDS.contains(&w.as_str()) {
                out.push(stem(w));
            }
        }
    };
    let flush_run = |run: &mut Vec<char>, out: &mut Vec<String>| {
        match run.len() {
            0 => {}
            1 => out.push(run[0].to_string()),
            _ => {
                for pair in run.windows(2) {
                    out.push(pair.iter().collect());
                }
            }
        }
        run.clear();
    };
    for c in text.chars() {
        if is_cjk(c) {
            flush_word(&mut word, &mut out);
            run.push(c);
        } else if c.is_alphanumeric() {
            flush_run(&mut run, &mut out);
            word.extend(c.to_lowercase());
        } else {
            flush_word(&mut word, &mut out);
            flush_run(&mut run, &mut out);
        }
    }
    flush_word(&mut word, &mut out);
    flush_run(&mut run, &mut out);
    out
}

/// An Okapi BM25 index over a fixed list of documents (k1 = 1.2, b = 0.75).
#[derive(Debug, Clone)]
pub struct Bm25Index {
    postings: HashMap<String, Vec<(usize, u32)>>,
    doc_len: Vec<f64>,
    avg_len: f64,
}

impl Bm25Index {
    const K1: f64 = 1.2;
    const B: f64 = 0.75;

    /// Indexes the documents (their position is their id).
    pub fn new<S: AsRef<str>>(docs: &[S]) -> Self {
        let mut postings: HashMap<String, Vec<(usize, u32)>> = HashMap::new();
        let mut doc_len = Vec::with_capacity(docs.len());
        for (id, doc) in docs.iter().enumerate() {
            let terms = tokenize(doc.as_ref());
            doc_len.push(terms.len() as f64);
            let mut counts: HashMap<String, u32> = HashMap::new();
            for t in terms {
                *counts.entry(t).or_default() += 1;
            }
            for (t, n) in counts {
                postings.entry(t).or_default().push((id, n));
            }
        }
        let avg_len = if doc_len.is_empty() {
            1.0
        } else {
            (doc_len.iter().sum::<f64>() / doc_len.len() as f64).max(1.0)
        };
        Self {
            postings,
            doc_len,
            avg_len,
        }
    }

    /// Number of documents.
    pub fn len(&self) -> usize {
        self.doc_len.len()
    }

    /// True when no document is indexed.
    pub fn is_empty(&self) -> bool {
        self.doc_len.is_empty()
    }

    /// The best `limit` documents for the query among those `keep` accepts, best first, with
    /// their scores; documents sharing no term with the query are left out. Ties keep
    /// document order, so results are deterministic.
    pub fn search(
        &self,
        query: &str,
        keep: impl Fn(usize) -> bool,
        limit: usize,
    ) -> Vec<(usize, f64)> {
        let n = self.doc_len.len() as f64;
        let mut scores: HashMap<usize, f64> = HashMap::new();
        let mut terms = tokenize(query);
        terms.sort();
        terms.dedup();
        for term in &terms {
            let Some(list) = self.postings.get(term) else {
                continue;
            };
            let df = list.len() as f64;
            let idf = ((n - df + 0.5) / (df + 0.5) + 1.0).ln();
            for &(doc, tf) in list {
                if !keep(doc) {
                    continue;
                }
                let tf = f64::from(tf);
                let norm = Self::K1 * (1.0 - Self::B + Self::B * self.doc_len[doc] / self.avg_len);
                *scores.entry(doc).or_default() += idf * tf * (Self::K1 + 1.0) / (tf + norm);
            }
        }
        let mut ranked: Vec<(usize, f64)> = scores.into_iter().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked.truncate(limit);
        ranked
    }
}

/// The `search_places` tool.
#[derive(Debug)]
pub struct SearchPlaces {
    spec: ToolSpec,
    places: &'static [Place],
    index: Bm25Index,
}

impl SearchPlaces {
    /// The tool over the bundled places.
    pub fn new() -> Result<Self> {
        let data = datasets()?;
        let docs: Vec<String> = data
            .places
            .iter()
            .map(|p| {
                let city = data.cities.iter().find(|c| c.id == p.city);
                format!(
                    "{} {} {} {} {} {} {}",
                    p.name,
                    p.name_zh.as_deref().unwrap_or(""),
                    p.category,
                    p.tags.join(" "),
                    p.description,
                    city.map_or("", |c| c.name.as_str()),
                    city.map_or("", |c| c.name_zh.as_str()),
                )
            })
            .collect();
        Ok(Self {
            spec: ToolSpec::new(
                "search_places",
                "Search points of interest (parks, campsites, hiking trails, beaches, museums, \
                 sights, temples, restaurants, cafes, shopping, nightlife) by keywords, \
                 optionally within one city and one category. Returns the best matches with a \
                 short description, rating (1-5) and price level; can be limited to a price level \
                 and a minimum rating. Works with English or Chinese keywords and city names.",
                json!({
                    "type": "object",
                    "properties": {
                        "query": {"type": "string", "minLength": 1, "description": "Keywords, e.g. \"lake walk\" or \"烤鸭\"."},
                        "city": {"type": "string", "description": "City name in English or Chinese, e.g. \"Hangzhou\" or \"杭州\"."},
                        "category": {"type": "string", "enum": CATEGORIES, "description": "Only places of this kind."},
                        "max_price": {"type": "string", "enum": PRICES, "description": "Only places at this price level or cheaper (\"free\" < \"$\" < \"$$\" < \"$$$\")."},
                        "min_rating": {"type": "number", "minimum": 1, "maximum": 5, "description": "Only places rated at least this (1 to 5)."},
                        "limit": {"type": "integer", "minimum": 1, "maximum": 10, "description": "Most results to return (default 5)."}
                    },
                    "required": ["query"],
                    "additionalProperties": false
                }),
            ),
            places: &data.places,
            index: Bm25Index::new(&docs),
        })
    }
}

impl Tool for SearchPlaces {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn call(&self, args: &Map<String, Value>) -> std::result::Result<String, ToolError> {
        let query = str_arg(args, "query")?;
        let city = match opt_str_arg(args, "city").filter(|c| !c.trim().is_empty()) {
            Some(name) => Some(find_city(name).map_err(|e| ToolError::invalid("city", e))?),
            None => None,
        };
        let category = opt_str_arg(args, "category");
        let limit = opt_int_arg(args, "limit")?.unwrap_or(5).clamp(1, 10) as usize;
        let max_price = opt_str_arg(args, "max_price").and_then(price_rank);
        let min_rating = args.get("min_rating").and_then(Value::as_f64);
        let keep = |i: usize| {
            let p = &self.places[i];
            city.is_none_or(|c| c.id == p.city)
                && category.is_none_or(|k| k == p.category)
                && max_price.is_none_or(|m| price_rank(&p.price).is_some_and(|r| r <= m))
                && min_rating.is_none_or(|m| p.rating >= m)
        };
        let mut hits = self.index.search(query, keep, limit);
        // Filters with no keyword match still select places: list the best rated.
        let filtered =
            city.is_some() || category.is_some() || max_price.is_some() || min_rating.is_some();
        if hits.is_empty() && filtered {
            let mut all: Vec<usize> = (0..self.places.len()).filter(|i| keep(*i)).collect();
            all.sort_by(|a, b| self.places[*b].rating.total_cmp(&self.places[*a].rating));
            hits = all.into_iter().take(limit).map(|i| (i, 0.0)).collect();
        }
        let cities = cities().map_err(|e| ToolError::Failed(e.to_string()))?;
        let results: Vec<Ordered> = hits
            .iter()
            .map(|(i, _)| {
                let p = &self.places[*i];
                let c = cities.iter().find(|c| c.id == p.city);
                let mut fields = vec![("name", json!(p.name))];
                if let Some(zh) = &p.name_zh {
                    fields.push(("name_zh", json!(zh)));
                }
                fields.extend([
                    (
                        "city",
                        json!(c.map_or(p.city.as_str(), |c| c.name.as_str())),
                    ),
                    ("category", json!(p.category)),
                    ("description", json!(p.description)),
                    ("rating", json!(p.rating)),
                    ("price", json!(p.price)),
                    ("tags", json!(p.tags)),
                ]);
                Ordered::new(fields)
            })
            .collect();
        let mut out = vec![("query", Field::Json(json!(query)))];
        if let Some(c) = city {
            out.push(("city", Field::Json(json!(c.name))));
        }
        out.push(("count", Field::Json(json!(results.len()))));
        if results.is_empty() {
            out.push((
                "message",
                Field::Json(json!(
                    "no place matched; try other keywords, another category or no city"
                )),
            ));
        }
        out.push(("results", Field::Objects(results)));
        json_out(&Ordered(out))
    }
}

/// The `lookup_knowledge` tool.
#[derive(Debug)]
pub struct LookupKnowledge {
    spec: ToolSpec,
    entries: &'static [Knowledge],
    index: Bm25Index,
}

impl LookupKnowledge {
    /// The tool over the bundled knowledge entries.
    pub fn new() -> Result<Self> {
        let data = datasets()?;
        let docs: Vec<String> = data
            .knowledge
            .iter()
            .map(|k| format!("{} {} {} {}", k.title, k.title, k.tags.join(" "), k.text))
            .collect();
        Ok(Self {
            spec: ToolSpec::new(
                "lookup_knowledge",
                "Look up short encyclopedic facts (geography, science, history, health, travel \
                 and everyday know-how) in a small offline reference, by keywords in English or \
                 Chinese. Returns the best matching entries with their text; answer from them \
                 and say so when nothing relevant is found.",
                json!({
                    "type": "object",
                    "properties": {
                        "query": {"type": "string", "minLength": 1, "description": "What to look up, e.g. \"height of Mount Everest\" or \"长城 长度\"."},
                        "limit": {"type": "integer", "minimum": 1, "maximum": 5, "description": "Most entries to return (default 3)."}
                    },
                    "required": ["query"],
                    "additionalProperties": false
                }),
            ),
            entries: &data.knowledge,
            index: Bm25Index::new(&docs),
        })
    }
}

impl Tool for LookupKnowledge {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn call(&self, args: &Map<String, Value>) -> std::result::Result<String, ToolError> {
        let query = str_arg(args, "query")?;
        let limit = opt_int_arg(args, "limit")?.unwrap_or(3).clamp(1, 5) as usize;
        let hits = self.index.search(query, |_| true, limit);
        let results: Vec<Ordered> = hits
            .iter()
            .map(|(i, score)| {
                let k = &self.entries[*i];
                Ordered::new(vec![
                    ("title", json!(k.title)),
                    ("text", json!(k.text)),
                    ("score", json!(super::round_to(*score, 2))),
                ])
            })
            .collect();
        let mut out = vec![
            ("query", Field::Json(json!(query))),
            ("count", Field::Json(json!(results.len()))),
        ];
        if results.is_empty() {
            out.push((
                "message",
                Field::Json(json!("nothing relevant found in the reference")),
            ));
        }
        out.push(("results", Field::Objects(results)));
        json_out(&Ordered(out))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn tokenizer_handles_english_and_chinese() {
        assert_eq!(tokenize("The Parks of Paris!"), vec!["park", "pari"]);
        assert_eq!(
            tokenize("beaches cities glasses museums campus"),
            vec!["beach", "city", "glass", "museum", "campus"]
        );
        assert_eq!(
            tokenize("西湖边的公园"),
            vec!["西湖", "湖边", "边的", "的公", "公园"]
        );
        assert_eq!(tokenize("湖 lake"), vec!["湖", "lake"]);
        assert_eq!(tokenize("5km徒步"), vec!["5km", "徒步"]);
    }

    #[test]
    fn bm25_ranks_rarer_and_denser_terms_higher() {
        let docs = [
            "lake park with lake views",
            "city park",
            "museum of art",
            "lake",
        ];
        let idx = Bm25Index::new(&docs);
        let hits = idx.search("lake", |_| true, 10);
        assert_eq!(hits.len(), 2);
        assert_eq!(hits[0].0, 3, "the short all-lake document wins: {hits:?}");
        let hits = idx.search("park museum", |_| true, 10);
        assert_eq!(hits.len(), 3);
        assert_eq!(hits[0].0, 2);
        assert!(idx.search("volcano", |_| true, 10).is_empty());
        assert_eq!(idx.search("park", |d| d != 1, 10).len(), 1);
    }

    #[test]
    fn bundled_data_loads_and_is_consistent() {
        let data = datasets().unwrap();
        assert!(data.cities.len() >= 50, "{}", data.cities.len());
        assert!(data.places.len() >= 150, "{}", data.places.len());
        assert!(data.knowledge.len() >= 80, "{}", data.knowledge.len());
        let mut ids: Vec<&str> = data.cities.iter().map(|c| c.id.as_str()).collect();
        ids.extend(data.places.iter().map(|p| p.id.as_str()));
        ids.extend(data.knowledge.iter().map(|k| k.id.as_str()));
        let n = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), n, "ids are unique");
        for c in &data.cities {
            assert!(
                ["none", "us", "eu", "au", "nz"].contains(&c.dst.as_str()),
                "{}",
                c.id
            );
            assert!(
                ["summer", "winter", "even"].contains(&c.climate.rain_season.as_str()),
                "{}",
                c.id
            );
            assert!(
                (-90.0..=90.0).contains(&c.lat) && (-180.0..=180.0).contains(&c.lon),
                "{}",
                c.id
            );
            assert!((0.0..=365.0).contains(&c.climate.rain_days), "{}", c.id);
        }
        for p in &data.places {
            assert!((1.0..=5.0).contains(&p.rating), "{}", p.id);
            assert!(
                ["free", "$", "$$", "$$$"].contains(&p.price.as_str()),
                "{}",
                p.id
            );
        }
        for k in &data.knowledge {
            assert!(["en", "zh"].contains(&k.lang.as_str()), "{}", k.id);
        }
        let zh = data.cities.iter().filter(|c| c.country == "China").count();
        assert!(zh >= 15, "{zh} Chinese cities");
    }

    #[test]
    fn cities_are_found_by_any_name() {
        assert_eq!(find_city("Beijing").unwrap().id, "beijing");
        assert_eq!(find_city("北京").unwrap().id, "beijing");
        assert_eq!(find_city("北京市").unwrap().id, "beijing");
        assert_eq!(find_city(" new york city ").unwrap().id, "new_york");
        assert_eq!(find_city("NYC").unwrap().id, "new_york");
        let err = find_city("Bejing").unwrap_err();
        assert!(err.contains("did you mean `Beijing`"), "{err}");
        assert!(find_city("").is_err());
    }

    fn call(tool: &dyn Tool, v: Value) -> Value {
        serde_json::from_str(&tool.call(v.as_object().unwrap()).unwrap()).unwrap()
    }

    #[test]
    fn search_places_filters_by_city_and_category() {
        let tool = SearchPlaces::new().unwrap();
        let out = call(&tool, json!({"query": "lake", "city": "杭州"}));
        assert_eq!(out["city"], "Hangzhou");
        assert!(out["count"].as_u64().unwrap() >= 1);
        assert!(
            out["results"][0]["name"]
                .as_str()
                .unwrap()
                .contains("West Lake"),
            "{out}"
        );
        let out = call(
            &tool,
            json!({"query": "烤鸭", "city": "Beijing", "category": "restaurant"}),
        );
        assert!(
            out["results"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["category"] == "restaurant")
        );
        assert!(out["count"].as_u64().unwrap() >= 1, "{out}");
        let out = call(
            &tool,
            json!({"query": "camping", "category": "camping", "limit": 10}),
        );
        let n = out["count"].as_u64().unwrap();
        assert!((3..=10).contains(&n), "{out}");
        let out = call(
            &tool,
            json!({"query": "museum", "city": "Beijing", "max_price": "free", "min_rating": 4.5}),
        );
        let results = out["results"].as_array().unwrap();
        assert!(!results.is_empty(), "{out}");
        for r in results {
            assert_eq!(r["price"], "free", "{r}");
            assert!(r["rating"].as_f64().unwrap() >= 4.5, "{r}");
        }
        let out = call(
            &tool,
            json!({"query": "zzzz", "city": "Beijing", "max_price": "$"}),
        );
        let results = out["results"].as_array().unwrap();
        assert!(
            !results.is_empty(),
            "filters alone still select places: {out}"
        );
        assert!(
            results
                .iter()
                .all(|r| r["price"] == "free" || r["price"] == "$"),
            "{out}"
        );
        let out = call(&tool, json!({"query": "zzzz qqqq"}));
        assert_eq!(out["count"], 0);
        assert!(out["message"].is_string());
        let err = tool
            .call(
                json!({"query": "park", "city": "Gotham"})
                    .as_object()
                    .unwrap(),
            )
            .unwrap_err();
        assert!(matches!(err, ToolError::InvalidArgument { .. }), "{err}");
    }

    #[test]
    fn lookup_knowledge_finds_facts_in_both_languages() {
        let tool = LookupKnowledge::new().unwrap();
        let out = call(&tool, json!({"query": "How tall is Mount Everest?"}));
        let first = out["results"][0]["text"].as_str().unwrap();
        assert!(first.contains("8,848") || first.contains("8848"), "{out}");
        let out = call(&tool, json!({"query": "长城有多长"}));
        assert!(
            out["results"][0]["title"]
                .as_str()
                .unwrap()
                .contains("长城"),
            "{out}"
        );
        let out = call(&tool, json!({"query": "zzzz"}));
        assert_eq!(out["count"], 0);
    }
}
