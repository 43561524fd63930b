//! `Sample`: one training record, the rendered conversation a model is tuned on.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::message::{Message, Role};
use crate::meta::{QueryMeta, Split};
use crate::tool::ToolSpec;
use crate::trajectory::Provenance;
use crate::version::SchemaVersion;

/// One training record: messages (already rendered under an agent template, or in the native
/// function-calling form when `tools` are set), labels and split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sample {
    /// Record format version.
    #[serde(default)]
    pub schema_version: SchemaVersion,
    /// Stable record id.
    pub id: String,
    /// The conversation. Loss goes on assistant messages unless a message's `loss` says
    /// otherwise.
    pub messages: Vec<Message>,
    /// Tools offered through the chat template's native tool support (empty when the agent
    /// template already lists them in the prompt).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolSpec>,
    /// The agent template the messages were rendered with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_id: Option<String>,
    /// Labels of the query.
    pub meta: QueryMeta,
    /// The split, once assigned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<Split>,
    /// The near-duplicate group of the query: records of one group always share a split.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Where the record came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
}

impl Sample {
    /// Whether any token of this record is trained on.
    pub fn has_trainable_tokens(&self) -> bool {
        self.messages.iter().any(|m| {
            m.loss_weight() > 0.0 && (!m.content_str().is_empty() || !m.tool_calls.is_empty())
        })
    }

    /// The first user message's text: the query, for deduplication and splitting.
    pub fn query(&self) -> Option<&str> {
        self.messages
            .iter()
            .find(|m| m.role == Role::User)
            .map(Message::content_str)
    }

    /// Whether this record may be used for training at all.
    pub fn trainable(&self) -> bool {
        !self.provenance.as_ref().is_some_and(|p| p.eval_only)
    }
}
