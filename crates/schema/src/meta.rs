//! What a query is about: scenario, kind (positive / hard negative / general), complexity,
//! language; and the dataset split a record belongs to.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Whether a query needs tools.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum QueryKind {
    /// Needs at least one tool call ("will it rain in Beijing tomorrow?").
    Positive,
    /// Looks tool-related but needs no tool ("what a nice day"): the agent must answer
    /// directly.
    HardNegative,
    /// General SFT data mixed in to keep general ability.
    General,
}

/// How much work a query needs.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Complexity {
    /// At most one step.
    Simple,
    /// Several steps or several tools.
    Complex,
}

/// Which dataset split a record belongs to.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    /// Trained on.
    Train,
    /// Watched during training.
    #[serde(alias = "val", alias = "valid", alias = "dev")]
    Validation,
    /// Held out for evaluation.
    Test,
}

/// Labels of a query, used for ratios, balancing and per-slice evaluation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryMeta {
    /// The business scenario (`weather`, `travel`, `math`, ... or the source dataset's task).
    pub scenario: String,
    /// Positive, hard negative or general.
    pub kind: QueryKind,
    /// Simple or complex.
    pub complexity: Complexity,
    /// BCP-47 language tag of the query (`en`, `zh`, ...).
    pub language: String,
}

impl QueryMeta {
    /// Labels from their parts.
    pub fn new(
        scenario: impl Into<String>,
        kind: QueryKind,
        complexity: Complexity,
        language: impl Into<String>,
    ) -> Self {
        Self {
            scenario: scenario.into(),
            kind,
            complexity,
            language: language.into(),
        }
    }
}
