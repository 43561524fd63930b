//! The bundled seed data the generators fill their phrasings from: places and knowledge
//! entries (`data/*.jsonl`, the same files the runtime's search tools index) and the cities
//! the runtime exposes.

use std::sync::OnceLock;

use agentune_runtime::tools::{City, cities};
use serde::Deserialize;

const PLACES: &str = include_str!("../../../../data/places.jsonl");
const KNOWLEDGE: &str = include_str!("../../../../data/knowledge.jsonl");

/// What a generator needs of a place.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PlaceRow {
    pub city: String,
    pub category: String,
}

/// What a generator needs of a knowledge entry.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct KnowledgeRow {
    pub title: String,
    #[serde(default)]
    pub tags: Vec<String>,
    pub lang: String,
}

#[derive(Debug)]
pub(crate) struct Seed {
    pub places: Vec<PlaceRow>,
    pub knowledge: Vec<KnowledgeRow>,
    pub cities: &'static [City],
}

fn parse<T: for<'de> Deserialize<'de>>(file: &str, text: &str) -> Result<Vec<T>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str(l).map_err(|e| format!("data/{file}:{}: {e}", i + 1)))
        .collect()
}

/// The seed data, parsed once.
pub(crate) fn seed() -> Result<&'static Seed, String> {
    static SEED: OnceLock<Result<Seed, String>> = OnceLock::new();
    SEED.get_or_init(|| {
        Ok(Seed {
            places: parse("places.jsonl", PLACES)?,
            knowledge: parse("knowledge.jsonl", KNOWLEDGE)?,
            cities: cities().map_err(|e| e.to_string())?,
        })
    })
    .as_ref()
    .map_err(Clone::clone)
}

impl Seed {
    /// The city with this id.
    pub fn city(&self, id: &str) -> Option<&'static City> {
        self.cities.iter().find(|c| c.id == id)
    }

    /// Ids of cities with at least one place of `category`.
    pub fn cities_with(&self, category: &str) -> Vec<&str> {
        let mut out: Vec<&str> = self
            .places
            .iter()
            .filter(|p| p.category == category)
            .map(|p| p.city.as_str())
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }
}

/// A city's name in a language.
pub(crate) fn city_name(c: &City, lang: super::Lang) -> &str {
    lang.pick(&c.name, &c.name_zh)
}
