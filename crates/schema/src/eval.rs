//! `EvalRecord`: the result of evaluating one item (held-out step, episode, BFCL question, ...).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::meta::QueryMeta;
use crate::trajectory::Step;
use crate::version::SchemaVersion;

/// One evaluated item: what the model produced, what was expected, and the scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EvalRecord {
    /// Record format version.
    #[serde(default)]
    pub schema_version: SchemaVersion,
    /// The item's id within its suite.
    pub id: String,
    /// The suite: `heldout_step`, `heldout_episode`, `bfcl`, `kagentbench`, `forgetting`, ...
    pub suite: String,
    /// The category within the suite (`simple_python`, `irrelevance`, a scenario, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// The model or checkpoint evaluated.
    pub model: String,
    /// The agent template the prompt was rendered with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_id: Option<String>,
    /// Labels of the query, for per-slice reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<QueryMeta>,
    /// The model's raw output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
    /// The output parsed into a step, when it parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parsed: Option<Step>,
    /// The reference (gold step, possible answers, ...), in the suite's own shape.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<Value>,
    /// Named scores of this item (`tool_name_acc`, `arg_f1`, `rouge_l`, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metrics: BTreeMap<String, f64>,
    /// Pass/fail, for suites that judge items that way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passed: Option<bool>,
    /// Why the item failed or could not be scored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Generation latency in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
}
