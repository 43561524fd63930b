//! Human review of generated records before training: a [`ReviewSession`] holds a data file
//! and its review log (JSONL, one line per decision: accept, reject with a reason, or edit with
//! the before/after diff), never rewriting the data file. Every decision names the revision of
//! the record it was based on, so a decision made on a stale view is a conflict rather than a
//! silent overwrite; reopening the log replays it, so an interrupted session resumes where it
//! stopped. Edited call arguments are checked against the tool's schema; the observations after
//! an edit are re-executed with the runtime's built-in tools where they are deterministic here,
//! and marked stale otherwise. [`apply_review`] writes the reviewed dataset.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};

use agentune_runtime::tools::{Clock, Date, ToolRegistry};
use agentune_runtime::validate::{format_errors, validate_arguments};
use agentune_runtime::{ParseMode, Template};
use agentune_schema::{Check, JsonlWriter, Step, ToolSpec, Trajectory};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::hash::hash_bytes;
use crate::record::Record;

/// The reasons offered for a rejection (free text is accepted too).
pub const REJECT_REASONS: &[&str] = &[
    "wrong_answer",
    "wrong_tool",
    "bad_arguments",
    "hallucination",
    "unsafe",
    "duplicate",
    "other",
];

/// Tools whose result depends on "now": re-executable only under the record's fixed clock.
const CLOCK_TOOLS: &[&str] = &["current_datetime", "get_weather", "get_forecast"];
/// Tools that change the note store: replayed before an edited step so the state matches.
const STATEFUL_TOOLS: &[&str] = &["write_note", "delete_note"];
/// The name of the check that marks an observation not re-executed after an edit.
pub const STALE_CHECK: &str = "stale";

/// Where a record stands in the review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewState {
    /// Not decided yet.
    Pending,
    /// Edited, not yet accepted.
    Edited,
    /// Accepted (possibly after edits).
    Accepted,
    /// Rejected.
    Rejected,
}

impl ReviewState {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Edited => "edited",
            Self::Accepted => "accepted",
            Self::Rejected => "rejected",
        }
    }
}

/// What a decision did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Accept the record as it is now.
    Accept,
    /// Reject the record.
    Reject,
    /// Change the record.
    Edit,
}

/// The kind of one change of an edit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeOp {
    /// A value that was there was replaced.
    Replace,
    /// A value that was not there was added.
    Add,
    /// A value was removed.
    Remove,
}

/// One change of a record, at a JSON pointer (`/steps/1/step/calls/0/arguments/city`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    /// Replace, add or remove.
    pub op: ChangeOp,
    /// The JSON pointer of the value in the record.
    pub path: String,
    /// The value before (absent for `add`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// The value after (absent for `remove`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

/// One line of the review log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// When the decision was made (RFC 3339, UTC).
    pub time: String,
    /// The record's id.
    pub id: String,
    /// Accept, reject or edit.
    pub action: Action,
    /// The revision the reviewer saw when deciding.
    pub base: String,
    /// The record's revision after the decision.
    pub revision: String,
    /// Why a record was rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What an edit changed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diff: Vec<Change>,
    /// What happened besides the diff (re-executed or stale observations).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// One change a reviewer asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "field", rename_all = "snake_case")]
pub enum Edit {
    /// A step's thought (empty text removes it).
    Thought {
        /// The step index.
        step: usize,
        /// The new thought.
        text: String,
    },
    /// A call's arguments: a JSON object, or the JSON text of one.
    Arguments {
        /// The step index.
        step: usize,
        /// The call index within the step.
        call: usize,
        /// The new arguments.
        arguments: Value,
    },
    /// The final answer.
    Answer {
        /// The step index (a `final_answer` step).
        step: usize,
        /// The new answer.
        text: String,
    },
}

/// A validation finding shown next to a record or one of its steps.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// The check: a recorded one (`format`, `execution`, `semantic`, ...), or `structure` and
    /// `schema` computed when the data is loaded.
    pub check: String,
    /// Whether the record passed it.
    pub passed: bool,
    /// The step concerned, when the finding is about one step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<usize>,
    /// The call concerned within that step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call: Option<usize>,
    /// What was found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A record as the queue lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Position in the data file (0-based).
    pub index: usize,
    /// The record id.
    pub id: String,
    /// The query, as given.
    pub query: String,
    /// Scenario label.
    pub scenario: String,
    /// Positive, hard negative or general.
    pub kind: String,
    /// Simple or complex.
    pub complexity: String,
    /// The agent template, when known.
    pub template: Option<String>,
    /// `passed` or `failed`.
    pub validation: &'static str,
    /// The names of the checks that failed.
    pub failed_checks: Vec<String>,
    /// The review state.
    pub state: ReviewState,
    /// The rejection reason, when rejected.
    pub reason: Option<String>,
    /// The current revision.
    pub revision: String,
}

/// Everything the record view shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Detail {
    /// The queue fields.
    #[serde(flatten)]
    pub summary: Summary,
    /// The record now (with edits).
    pub record: Value,
    /// The validation findings.
    pub findings: Vec<Finding>,
    /// Tool names whose calls are re-executed after an edit (the rest are marked stale).
    pub deterministic_tools: Vec<String>,
    /// Every decision made on the record, oldest first.
    pub decisions: Vec<Decision>,
}

#[derive(Debug)]
struct Entry {
    record: Record,
    state: ReviewState,
    reason: Option<String>,
    decisions: Vec<Decision>,
    edited: bool,
}

impl Entry {
    fn revision(&self) -> Result<String> {
        revision_of(&self.record, self.decisions.len())
    }
}

/// The revision of a record: how many decisions it has seen and a hash of its content.
fn revision_of(record: &Record, decisions: usize) -> Result<String> {
    let value = serde_json::to_value(record)
        .map_err(|e| Error::Invalid(format!("cannot encode record `{}`: {e}", record.id())))?;
    let text = canonical_json(&value);
    Ok(format!(
        "{decisions}-{:016x}{:016x}",
        hash_bytes(text.as_bytes(), 0x5EED),
        hash_bytes(text.as_bytes(), 0xFACE)
    ))
}

/// JSON text with every object's keys sorted, so equal values hash equally whatever their
/// key order.
pub fn canonical_json(v: &Value) -> String {
    fn write(v: &Value, out: &mut String) {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push(':');
                    if let Some(x) = m.get(k) {
                        write(x, out);
                    }
                }
                out.push('}');
            }
            Value::Array(a) => {
                out.push('[');
                for (i, x) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(x, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    write(v, &mut out);
    out
}

/// The current time as RFC 3339 UTC, to the second.
fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let day = Date::from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{day}T{:02}:{:02}:{:02}Z",
        s / 3600,
        (s % 3600) / 60,
        s % 60
    )
}

/// The default review log of a data file: `<data>.review.jsonl` beside it.
pub fn default_log_path(data: &Path) -> PathBuf {
    let mut name = data
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".review.jsonl");
    data.with_file_name(name)
}

/// A data file under review with its append-only log.
#[derive(Debug)]
pub struct ReviewSession {
    data: PathBuf,
    log_path: PathBuf,
    entries: Vec<Entry>,
    by_id: HashMap<String, usize>,
    log: Option<std::fs::File>,
    /// The log's length as this session last read or wrote it: a log that grew otherwise was
    /// written by another session.
    log_len: u64,
    resumed: usize,
}

impl ReviewSession {
    /// Opens a data file and replays its review log (created on the first decision). A log
    /// line that does not fit the data (an unknown id, a revision that does not match) is an
    /// error naming the line; an unfinished last line (an interrupted write) is dropped.
    pub fn open(data: &Path, log_path: &Path) -> Result<Self> {
        let records = crate::io::read_records(data, || {})?;
        let mut by_id = HashMap::with_capacity(records.len());
        let mut entries = Vec::with_capacity(records.len());
        for (i, record) in records.into_iter().enumerate() {
            if record.id().is_empty() {
                return Err(Error::input(
                    data,
                    None,
                    "id",
                    format!("record {} has no id; review needs ids", i + 1),
                ));
            }
            if by_id.insert(record.id().to_owned(), i).is_some() {
                return Err(Error::input(
                    data,
                    None,
                    "id",
                    format!("id `{}` appears more than once", record.id()),
                ));
            }
            entries.push(Entry {
                record,
                state: ReviewState::Pending,
                reason: None,
                decisions: Vec::new(),
                edited: false,
            });
        }
        let mut session = Self {
            data: data.to_path_buf(),
            log_path: log_path.to_path_buf(),
            entries,
            by_id,
            log: None,
            log_len: 0,
            resumed: 0,
        };
        session.replay()?;
        Ok(session)
    }

    fn replay(&mut self) -> Result<()> {
        let text = match std::fs::read(&self.log_path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io("read", &self.log_path, e)),
        };
        let text = String::from_utf8(text).map_err(|_| {
            Error::input(&self.log_path, None, "log", "the review log is not UTF-8")
        })?;
        let complete = text.rfind('\n').map_or(0, |i| i + 1);
        self.log_len = complete as u64;
        if complete < text.len() {
            // A write that did not finish: keep the complete lines only.
            tracing::warn!(
                log = %self.log_path.display(),
                "dropping an unfinished last line of the review log"
            );
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(&self.log_path)
                .map_err(|e| Error::io("open", &self.log_path, e))?;
            f.set_len(complete as u64)
                .map_err(|e| Error::io("truncate", &self.log_path, e))?;
        }
        let path = self.log_path.clone();
        for (n, line) in text[..complete].lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let at = |message: String| Error::input(&path, Some(n + 1), "decision", message);
            let d: Decision = serde_json::from_str(line).map_err(|e| at(e.to_string()))?;
            self.replay_one(d).map_err(|e| at(e.to_string()))?;
            self.resumed += 1;
        }
        Ok(())
    }

    fn replay_one(&mut self, d: Decision) -> Result<()> {
        let i = self.index_of(&d.id)?;
        let current = self.entries[i].revision()?;
        if current != d.base {
            return Err(Error::Invalid(format!(
                "record `{}`: the decision was based on revision {} but the data is at {current} (was the data file changed?)",
                d.id, d.base
            )));
        }
        let entry = &mut self.entries[i];
        match d.action {
            Action::Accept => entry.state = ReviewState::Accepted,
            Action::Reject => {
                entry.state = ReviewState::Rejected;
                entry.reason = d.reason.clone();
            }
            Action::Edit => {
                let mut value = serde_json::to_value(&entry.record)
                    .map_err(|e| Error::Invalid(format!("cannot encode record: {e}")))?;
                apply_changes(&mut value, &d.diff)?;
                entry.record = Record::from_json(&value)?;
                entry.state = ReviewState::Edited;
                entry.edited = true;
            }
        }
        entry.decisions.push(d.clone());
        let after = entry.revision()?;
        if after != d.revision {
            return Err(Error::Invalid(format!(
                "record `{}`: replaying the decision gives revision {after}, the log says {}",
                d.id, d.revision
            )));
        }
        Ok(())
    }

    fn index_of(&self, id: &str) -> Result<usize> {
        self.by_id
            .get(id)
            .copied()
            .ok_or_else(|| Error::UnknownRecord(id.to_owned()))
    }

    /// The data file.
    pub fn data_path(&self) -> &Path {
        &self.data
    }

    /// The review log.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// How many decisions were replayed from the log when the session opened.
    pub fn resumed(&self) -> usize {
        self.resumed
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the data file holds no record.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The current record of an id (with edits applied).
    pub fn record(&self, id: &str) -> Result<&Record> {
        Ok(&self.entries[self.index_of(id)?].record)
    }

    /// The review state of an id.
    pub fn state(&self, id: &str) -> Result<ReviewState> {
        Ok(self.entries[self.index_of(id)?].state)
    }

    /// The current revision of an id.
    pub fn revision(&self, id: &str) -> Result<String> {
        self.entries[self.index_of(id)?].revision()
    }

    /// The queue entry of every record, in file order.
    pub fn summaries(&self) -> Result<Vec<Summary>> {
        (0..self.entries.len()).map(|i| self.summary(i)).collect()
    }

    fn summary(&self, index: usize) -> Result<Summary> {
        let e = &self.entries[index];
        let meta = e.record.meta_or_inferred();
        let findings = findings(&e.record);
        let mut failed: Vec<String> = findings
            .iter()
            .filter(|f| !f.passed)
            .map(|f| f.check.clone())
            .collect();
        failed.sort();
        failed.dedup();
        let enum_name = |v: Value| v.as_str().unwrap_or("").to_owned();
        Ok(Summary {
            index,
            id: e.record.id().to_owned(),
            query: e.record.query().to_owned(),
            scenario: meta.scenario.clone(),
            kind: enum_name(serde_json::to_value(meta.kind).unwrap_or(Value::Null)),
            complexity: enum_name(serde_json::to_value(meta.complexity).unwrap_or(Value::Null)),
            template: e.record.template_id().map(str::to_owned),
            validation: if failed.is_empty() {
                "passed"
            } else {
                "failed"
            },
            failed_checks: failed,
            state: e.state,
            reason: e.reason.clone(),
            revision: e.revision()?,
        })
    }

    /// Everything the record view shows about one id.
    pub fn detail(&self, id: &str) -> Result<Detail> {
        let i = self.index_of(id)?;
        let e = &self.entries[i];
        let record = serde_json::to_value(&e.record)
            .map_err(|err| Error::Invalid(format!("cannot encode record `{id}`: {err}")))?;
        let deterministic_tools = match &e.record {
            Record::Trajectory(t) => {
                let mut names: Vec<String> = t
                    .steps
                    .iter()
                    .flat_map(|s| s.step.calls().iter().map(|c| c.name.clone()))
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect();
                let builtin = builtin_specs();
                names.retain(|n| replayable(t, n, builtin));
                names
            }
            Record::Sample(_) => Vec::new(),
        };
        Ok(Detail {
            summary: self.summary(i)?,
            record,
            findings: findings(&e.record),
            deterministic_tools,
            decisions: e.decisions.clone(),
        })
    }

    /// Accepts a record as it is now.
    pub fn accept(&mut self, id: &str, base: &str) -> Result<Decision> {
        self.decide(id, base, Action::Accept, None, None)
    }

    /// Rejects a record; the reason is one of [`REJECT_REASONS`] or free text.
    pub fn reject(&mut self, id: &str, base: &str, reason: &str) -> Result<Decision> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(Error::InvalidEdit {
                field: "reason".into(),
                message: "a rejection needs a reason".into(),
            });
        }
        self.decide(id, base, Action::Reject, Some(reason.to_owned()), None)
    }

    /// Edits a record: thoughts, call arguments (checked against the tool's schema) and the
    /// final answer. Observations from the first changed call on are re-executed where the
    /// tool is deterministic here; a changed call whose tool is not is marked stale.
    pub fn edit(&mut self, id: &str, base: &str, edits: &[Edit]) -> Result<Decision> {
        let i = self.index_of(id)?;
        self.check_base(i, id, base)?;
        let Record::Trajectory(t) = &self.entries[i].record else {
            return Err(Error::InvalidEdit {
                field: "record".into(),
                message: "only trajectories can be edited here".into(),
            });
        };
        if edits.is_empty() {
            return Err(Error::InvalidEdit {
                field: "edits".into(),
                message: "nothing to change".into(),
            });
        }
        let mut t: Trajectory = (**t).clone();
        let changed = apply_edits(&mut t, edits)?;
        let mut notes = rewrite_replies(&mut t, edits);
        notes.extend(reexecute(&mut t, &changed)?);
        let before = serde_json::to_value(&self.entries[i].record)
            .map_err(|e| Error::Invalid(format!("cannot encode record: {e}")))?;
        let after = serde_json::to_value(&t)
            .map_err(|e| Error::Invalid(format!("cannot encode record: {e}")))?;
        let mut diff = Vec::new();
        diff_values("", &before, &after, &mut diff);
        if diff.is_empty() {
            return Err(Error::InvalidEdit {
                field: "edits".into(),
                message: "the edit changes nothing".into(),
            });
        }
        self.decide(id, base, Action::Edit, None, Some((diff, notes)))
    }

    fn check_base(&self, i: usize, id: &str, base: &str) -> Result<()> {
        let current = self.entries[i].revision()?;
        if current != base {
            return Err(Error::Conflict {
                id: id.to_owned(),
                base: base.to_owned(),
                current,
            });
        }
        Ok(())
    }

    fn decide(
        &mut self,
        id: &str,
        base: &str,
        action: Action,
        reason: Option<String>,
        edit: Option<(Vec<Change>, Vec<String>)>,
    ) -> Result<Decision> {
        let i = self.index_of(id)?;
        self.check_base(i, id, base)?;
        let (diff, notes) = edit.unwrap_or_default();
        // The decision is applied the way a resumed session replays it, so the live state
        // and the replayed one cannot differ.
        let mut entry_record = self.entries[i].record.clone();
        if action == Action::Edit {
            let mut value = serde_json::to_value(&entry_record)
                .map_err(|e| Error::Invalid(format!("cannot encode record: {e}")))?;
            apply_changes(&mut value, &diff)?;
            entry_record = Record::from_json(&value)?;
        }
        let revision = revision_of(&entry_record, self.entries[i].decisions.len() + 1)?;
        let decision = Decision {
            time: now_rfc3339(),
            id: id.to_owned(),
            action,
            base: base.to_owned(),
            revision,
            reason,
            diff,
            notes,
        };
        self.append(&decision)?;
        let entry = &mut self.entries[i];
        entry.record = entry_record;
        match action {
            Action::Accept => entry.state = ReviewState::Accepted,
            Action::Reject => {
                entry.state = ReviewState::Rejected;
                entry.reason = decision.reason.clone();
            }
            Action::Edit => {
                entry.state = ReviewState::Edited;
                entry.edited = true;
            }
        }
        entry.decisions.push(decision.clone());
        tracing::info!(id, action = ?action, "review decision");
        Ok(decision)
    }

    /// Appends one decision to the log and syncs it to disk before the state changes.
    fn append(&mut self, d: &Decision) -> Result<()> {
        if self.log.is_none() {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.log_path)
                .map_err(|e| Error::io("open", &self.log_path, e))?;
            self.log = Some(f);
        }
        let mut line = serde_json::to_string(d)
            .map_err(|e| Error::Invalid(format!("cannot encode the decision: {e}")))?;
        line.push('\n');
        let path = self.log_path.clone();
        let f = self
            .log
            .as_mut()
            .ok_or_else(|| Error::Invalid("the review log is not open".into()))?;
        let len = f.metadata().map_err(|e| Error::io("read", &path, e))?.len();
        if len != self.log_len {
            return Err(Error::LogChanged(path));
        }
        f.write_all(line.as_bytes())
            .and_then(|()| f.sync_data())
            .map_err(|e| Error::io("append to", &path, e))?;
        self.log_len += line.len() as u64;
        Ok(())
    }
}

/// The findings of a record: its recorded checks, the trajectory invariants (`structure`) and
/// every call's arguments against the offered tool's schema (`schema`).
pub fn findings(record: &Record) -> Vec<Finding> {
    let Record::Trajectory(t) = record else {
        return Vec::new();
    };
    let mut out: Vec<Finding> = t
        .checks
        .iter()
        .map(|c| Finding {
            check: c.check.clone(),
            passed: c.passed,
            step: c.step,
            call: None,
            message: c.message.clone(),
        })
        .collect();
    for (path, message) in t.problems() {
        let (step, call) = step_call_of(&path);
        out.push(Finding {
            check: "structure".into(),
            passed: false,
            step,
            call,
            message: Some(format!("{path}: {message}")),
        });
    }
    out.extend(format_findings(t));
    let builtin = builtin_specs();
    let mut calls = 0;
    let mut bad = 0;
    for (i, s) in t.steps.iter().enumerate() {
        for (j, c) in s.step.calls().iter().enumerate() {
            calls += 1;
            let Some(spec) = spec_of(t, &c.name, builtin) else {
                continue;
            };
            if let Err(errors) = validate_arguments(&spec.parameters_schema(), &c.arguments) {
                bad += 1;
                out.push(Finding {
                    check: "schema".into(),
                    passed: false,
                    step: Some(i),
                    call: Some(j),
                    message: Some(format!("`{}`: {}", c.name, format_errors(&errors))),
                });
            }
        }
    }
    if calls > 0 && bad == 0 {
        out.push(Finding {
            check: "schema".into(),
            passed: true,
            step: None,
            call: None,
            message: Some(format!("{calls} call(s) fit their tools' schemas")),
        });
    }
    out
}

/// The agent template a trajectory was generated under, when it is a built-in one that
/// writes text (the native family's replies are not text to parse).
fn text_template(t: &Trajectory) -> Option<Template> {
    let id = t.template_id.as_deref()?;
    Template::builtin(id).ok().filter(|tpl| !tpl.native_tools())
}

/// Strict parsing of each recorded reply under the record's template (`format`): the reply
/// must read back, exactly, as the step it is recorded with.
fn format_findings(t: &Trajectory) -> Vec<Finding> {
    if t.steps.iter().all(|s| s.reply.is_none()) {
        return Vec::new();
    }
    let Some(tpl) = text_template(t) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut replies = 0;
    for (i, s) in t.steps.iter().enumerate() {
        let Some(reply) = &s.reply else { continue };
        replies += 1;
        let problem = match (tpl.parse(reply, ParseMode::Strict), tpl.canonical(&s.step)) {
            (Err(e), _) => Some(format!("the reply does not parse strictly: {e}")),
            (Ok(got), Ok(want)) if got != want => {
                Some("the reply reads as another step than the one recorded".to_owned())
            }
            (Ok(_), Err(e)) => Some(format!("the step cannot be written in `{}`: {e}", tpl.id())),
            (Ok(_), Ok(_)) => None,
        };
        if let Some(message) = problem {
            out.push(Finding {
                check: "format".into(),
                passed: false,
                step: Some(i),
                call: None,
                message: Some(message),
            });
        }
    }
    if out.is_empty() {
        out.push(Finding {
            check: "format".into(),
            passed: true,
            step: None,
            call: None,
            message: Some(format!(
                "{replies} reply(ies) parse strictly under `{}`",
                tpl.id()
            )),
        });
    }
    out
}

/// `steps[2].step.calls[1].name` -> (Some(2), Some(1)).
fn step_call_of(path: &str) -> (Option<usize>, Option<usize>) {
    let index_after = |key: &str| {
        path.find(key).and_then(|p| {
            let rest = &path[p + key.len()..];
            rest.split(']').next().and_then(|n| n.parse().ok())
        })
    };
    (index_after("steps["), index_after("calls["))
}

/// The spec of a called tool: the offered one, or the built-in one when none are listed.
fn spec_of<'a>(t: &'a Trajectory, name: &str, builtin: &'a [ToolSpec]) -> Option<&'a ToolSpec> {
    if t.tools.is_empty() {
        builtin.iter().find(|s| s.name == name)
    } else {
        t.tools.iter().find(|s| s.name == name)
    }
}

/// The built-in tools' specs, built once (building them indexes the bundled search data).
fn builtin_specs() -> &'static [ToolSpec] {
    static SPECS: std::sync::OnceLock<Vec<ToolSpec>> = std::sync::OnceLock::new();
    SPECS.get_or_init(|| {
        ToolRegistry::builtin_specs().unwrap_or_else(|e| {
            tracing::warn!("cannot list the built-in tools: {e}");
            Vec::new()
        })
    })
}

/// The fixed clock of a synthesised record (its seed), the one its observations were made at.
fn record_clock(t: &Trajectory) -> Option<Clock> {
    if t.provenance.source.starts_with("synth") {
        t.provenance.seed.map(crate::synth::record_clock)
    } else {
        None
    }
}

/// Whether calls of `name` can be re-executed here with the same result the generator got:
/// a built-in tool, offered with the built-in schema, and (for tools that read the clock)
/// a record whose fixed clock is known.
fn replayable(t: &Trajectory, name: &str, builtin: &[ToolSpec]) -> bool {
    let Some(b) = builtin.iter().find(|s| s.name == name) else {
        return false;
    };
    let same_spec = t.tools.is_empty()
        || t.tools
            .iter()
            .any(|s| s.name == name && s.parameters_schema() == b.parameters_schema());
    same_spec && (!CLOCK_TOOLS.contains(&name) || record_clock(t).is_some())
}

/// Applies the reviewer's edits; returns the calls whose arguments changed.
fn apply_edits(t: &mut Trajectory, edits: &[Edit]) -> Result<BTreeSet<(usize, usize)>> {
    let builtin = builtin_specs();
    let mut changed = BTreeSet::new();
    let n = t.steps.len();
    let bad = |field: String, message: String| Error::InvalidEdit { field, message };
    for e in edits {
        match e {
            Edit::Thought { step, text } => {
                let s = t
                    .steps
                    .get_mut(*step)
                    .ok_or_else(|| bad(format!("steps[{step}]"), format!("only {n} step(s)")))?;
                let new = Some(text.clone()).filter(|x| !x.trim().is_empty());
                match &mut s.step {
                    Step::ToolCalls { thought, .. }
                    | Step::FinalAnswer { thought, .. }
                    | Step::GiveUp { thought, .. } => *thought = new,
                }
            }
            Edit::Answer { step, text } => {
                let s = t
                    .steps
                    .get_mut(*step)
                    .ok_or_else(|| bad(format!("steps[{step}]"), format!("only {n} step(s)")))?;
                match &mut s.step {
                    Step::FinalAnswer { answer, .. } => *answer = text.clone(),
                    _ => {
                        return Err(bad(
                            format!("steps[{step}].step.answer"),
                            "the step is not a final answer".into(),
                        ));
                    }
                }
            }
            Edit::Arguments {
                step,
                call,
                arguments,
            } => {
                let field = format!("steps[{step}].step.calls[{call}].arguments");
                let parsed: Value = match arguments {
                    Value::String(text) => serde_json::from_str(text)
                        .map_err(|e| bad(field.clone(), format!("not valid JSON: {e}")))?,
                    other => other.clone(),
                };
                let Value::Object(args) = parsed else {
                    return Err(bad(field, "the arguments must be a JSON object".into()));
                };
                let name = t
                    .steps
                    .get(*step)
                    .and_then(|s| s.step.calls().get(*call))
                    .map(|c| c.name.clone())
                    .ok_or_else(|| bad(field.clone(), "no such call".into()))?;
                let spec = spec_of(t, &name, builtin).ok_or_else(|| {
                    bad(
                        field.clone(),
                        format!("tool `{name}` is not offered, so its arguments cannot be checked"),
                    )
                })?;
                validate_arguments(&spec.parameters_schema(), &args).map_err(|errors| {
                    bad(
                        field.clone(),
                        format!("does not fit `{name}`'s schema: {}", format_errors(&errors)),
                    )
                })?;
                if let Some(Step::ToolCalls { calls, .. }) =
                    t.steps.get_mut(*step).map(|s| &mut s.step)
                    && let Some(c) = calls.get_mut(*call)
                    && c.arguments != args
                {
                    c.arguments = args;
                    changed.insert((*step, *call));
                }
            }
        }
    }
    Ok(changed)
}

/// A recorded reply no longer matches its edited step: it is written again from the step
/// under the record's template, or dropped when the template is unknown here.
fn rewrite_replies(t: &mut Trajectory, edits: &[Edit]) -> Vec<String> {
    let steps: BTreeSet<usize> = edits
        .iter()
        .map(|e| match e {
            Edit::Thought { step, .. }
            | Edit::Arguments { step, .. }
            | Edit::Answer { step, .. } => *step,
        })
        .collect();
    let tpl = text_template(t);
    let mut notes = Vec::new();
    for i in steps {
        let Some(s) = t.steps.get_mut(i) else {
            continue;
        };
        if s.reply.is_none() {
            continue;
        }
        match tpl
            .as_ref()
            .map(|tpl| (tpl.id().to_owned(), tpl.render_step_text(&s.step)))
        {
            Some((id, Ok(text))) => {
                if s.reply.as_deref() != Some(text.as_str()) {
                    s.reply = Some(text);
                    notes.push(format!("steps[{i}].reply: written again under `{id}`"));
                }
            }
            _ => {
                s.reply = None;
                notes.push(format!(
                    "steps[{i}].reply: dropped (it no longer matches the step and the template is not known here)"
                ));
            }
        }
    }
    notes
}

/// Re-executes the observations from the first changed call on, where the tool is
/// replayable; a changed call whose tool is not gets a stale mark. Returns what was done.
fn reexecute(t: &mut Trajectory, changed: &BTreeSet<(usize, usize)>) -> Result<Vec<String>> {
    let Some(&(first, _)) = changed.iter().next() else {
        return Ok(Vec::new());
    };
    let builtin = builtin_specs();
    let dir = tempfile::Builder::new()
        .prefix("agentune-review-")
        .tempdir()
        .map_err(|e| Error::io("create", std::env::temp_dir(), e))?;
    let clock = record_clock(t).unwrap_or(Clock::System);
    let reg = ToolRegistry::builtin_with_clock(dir.path().join("notes"), clock)
        .map_err(|e| Error::Invalid(format!("cannot set up the built-in tools: {e}")))?;
    let mut notes = Vec::new();
    let mut stale = Vec::new();
    for i in 0..t.steps.len() {
        let calls = t.steps[i].step.calls().to_vec();
        for (j, c) in calls.iter().enumerate() {
            let ok = replayable(t, &c.name, builtin);
            let at = format!("steps[{i}].observations[{j}]");
            if i < first {
                // Earlier calls are unchanged; only the note store's state must be rebuilt.
                if ok && STATEFUL_TOOLS.contains(&c.name.as_str()) {
                    reg.execute(c);
                }
                continue;
            }
            let was_changed = changed.contains(&(i, j));
            if ok {
                let obs = reg.execute(c);
                // A fresh result replaces a stale mark of this observation.
                t.checks.retain(|k| {
                    !(k.check == STALE_CHECK
                        && k.message.as_deref().is_some_and(|m| m.starts_with(&at)))
                });
                match t.steps[i].observations.get_mut(j) {
                    Some(o) if o.content != obs.content || o.is_error != obs.is_error => {
                        o.content = obs.content;
                        o.is_error = obs.is_error;
                        notes.push(format!("{at} ({}): re-executed, result changed", c.name));
                    }
                    Some(_) => {
                        if was_changed {
                            notes.push(format!("{at} ({}): re-executed, same result", c.name));
                        }
                    }
                    None => {
                        notes.push(format!("{at} ({}): missing, not re-executed", c.name));
                    }
                }
            } else if was_changed {
                stale.push((i, at, c.name.clone()));
            }
        }
    }
    for (i, at, name) in stale {
        let message = format!(
            "{at} ({name}): not re-executed after the call's arguments were edited (the tool is not deterministic here)"
        );
        let already = t.checks.iter().any(|k| {
            k.check == STALE_CHECK && k.message.as_deref().is_some_and(|m| m.starts_with(&at))
        });
        if !already {
            t.checks.push(Check {
                check: STALE_CHECK.into(),
                passed: false,
                step: Some(i),
                message: Some(message),
            });
        }
        notes.push(format!("{at} ({name}): marked stale"));
    }
    Ok(notes)
}

/// Escapes one JSON pointer token.
fn pointer_token(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// The changes that turn `a` into `b`: objects are compared key by key, arrays of equal length
/// element by element; anything else that differs is replaced whole.
fn diff_values(path: &str, a: &Value, b: &Value, out: &mut Vec<Change>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, va) in x {
                let p = format!("{path}/{}", pointer_token(k));
                match y.get(k) {
                    Some(vb) => diff_values(&p, va, vb, out),
                    None => out.push(Change {
                        op: ChangeOp::Remove,
                        path: p,
                        before: Some(va.clone()),
                        after: None,
                    }),
                }
            }
            for (k, vb) in y {
                if !x.contains_key(k) {
                    out.push(Change {
                        op: ChangeOp::Add,
                        path: format!("{path}/{}", pointer_token(k)),
                        before: None,
                        after: Some(vb.clone()),
                    });
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                diff_values(&format!("{path}/{i}"), va, vb, out);
            }
        }
        _ if a != b => out.push(Change {
            op: ChangeOp::Replace,
            path: path.to_owned(),
            before: Some(a.clone()),
            after: Some(b.clone()),
        }),
        _ => {}
    }
}

/// Applies logged changes to a record's JSON.
fn apply_changes(value: &mut Value, changes: &[Change]) -> Result<()> {
    for c in changes {
        let bad = |message: &str| Error::Invalid(format!("change at `{}`: {message}", c.path));
        if c.path.is_empty() {
            if c.op != ChangeOp::Replace {
                return Err(bad("only a replace can change the whole record"));
            }
            *value = c.after.clone().unwrap_or(Value::Null);
            continue;
        }
        let (parent_path, last) = c
            .path
            .rsplit_once('/')
            .ok_or_else(|| bad("not a JSON pointer"))?;
        let key = last.replace("~1", "/").replace("~0", "~");
        let parent = if parent_path.is_empty() {
            Some(&mut *value)
        } else {
            value.pointer_mut(parent_path)
        }
        .ok_or_else(|| bad("the parent is missing"))?;
        match (parent, c.op) {
            (Value::Object(m), ChangeOp::Remove) => {
                m.remove(&key).ok_or_else(|| bad("nothing to remove"))?;
            }
            (Value::Object(m), op) => {
                if op == ChangeOp::Replace && !m.contains_key(&key) {
                    return Err(bad("nothing to replace"));
                }
                m.insert(key, c.after.clone().unwrap_or(Value::Null));
            }
            (Value::Array(a), ChangeOp::Replace) => {
                let slot = key
                    .parse::<usize>()
                    .ok()
                    .and_then(|i| a.get_mut(i))
                    .ok_or_else(|| bad("no such array element"))?;
                *slot = c.after.clone().unwrap_or(Value::Null);
            }
            _ => return Err(bad("cannot apply to this value")),
        }
    }
    Ok(())
}

/// What `apply-review` keeps besides accepted records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ApplySettings {
    /// Keep records not decided yet (pending or edited but not accepted).
    pub keep_pending: bool,
}

/// What [`apply_review`] wrote.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ApplyReport {
    /// Records in the data file.
    pub records: usize,
    /// Accepted as they were.
    pub accepted: usize,
    /// Accepted after edits.
    pub accepted_edited: usize,
    /// Rejected, dropped.
    pub rejected: usize,
    /// Not decided (kept only with `keep_pending`).
    pub pending: usize,
    /// Records written.
    pub written: usize,
    /// Rejections by reason.
    pub reasons: std::collections::BTreeMap<String, usize>,
    /// Decisions read from the log.
    pub decisions: usize,
}

/// Writes the reviewed dataset: every accepted record (with its edits, and a passed `review`
/// check on trajectories), in data-file order, atomically; rejected records are left out, and
/// undecided ones too unless `keep_pending`. Optionally writes the rejected records with their
/// reason (a failed `review` check).
pub fn apply_review(
    data: &Path,
    log: &Path,
    output: &Path,
    rejected: Option<&Path>,
    settings: ApplySettings,
) -> Result<ApplyReport> {
    if !log.exists() {
        return Err(Error::Invalid(format!(
            "no review log at {} (review the data first, or name the log)",
            log.display()
        )));
    }
    let session = ReviewSession::open(data, log)?;
    let mut report = ApplyReport {
        records: session.len(),
        decisions: session.resumed(),
        ..ApplyReport::default()
    };
    let mut out = JsonlWriter::<Record>::create(output)?;
    let mut rej = rejected.map(JsonlWriter::<Record>::create).transpose()?;
    for e in &session.entries {
        let mut record = e.record.clone();
        let keep = match e.state {
            ReviewState::Accepted => {
                if e.edited {
                    report.accepted_edited += 1;
                } else {
                    report.accepted += 1;
                }
                add_review_check(
                    &mut record,
                    true,
                    if e.edited {
                        "accepted after edits"
                    } else {
                        "accepted"
                    },
                );
                true
            }
            ReviewState::Rejected => {
                report.rejected += 1;
                let reason = e.reason.clone().unwrap_or_else(|| "other".into());
                *report.reasons.entry(reason.clone()).or_default() += 1;
                if let Some(w) = rej.as_mut() {
                    add_review_check(&mut record, false, &format!("rejected: {reason}"));
                    w.write(&record)?;
                }
                false
            }
            ReviewState::Pending | ReviewState::Edited => {
                report.pending += 1;
                settings.keep_pending
            }
        };
        if keep {
            out.write(&record)?;
            report.written += 1;
        }
    }
    out.finish()?;
    if let Some(w) = rej {
        w.finish()?;
    }
    Ok(report)
}

fn add_review_check(record: &mut Record, passed: bool, message: &str) {
    if let Record::Trajectory(t) = record {
        t.checks.push(Check {
            check: "review".into(),
            passed,
            step: None,
            message: Some(message.to_owned()),
        });
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::{Map, json};

    /// A weather trajectory synthesised by the built-in generator (real observations) plus a
    /// record whose observation holds markup.
    fn fixture(dir: &Path) -> PathBuf {
        let synth = crate::synth::Synthesizer::new(crate::synth::SynthSettings {
            count: 3,
            seed: 7,
            scenarios: vec![crate::synth::Scenario::Units],
            languages: vec![crate::synth::Lang::En],
            positive_to_hard_negative: 100.0,
            simple_to_complex: 100.0,
            ..Default::default()
        })
        .unwrap();
        let mut lines = String::new();
        for (i, mut t) in synth.generate_all(|| {}).unwrap().into_iter().enumerate() {
            t.id = format!("r{i}");
            lines.push_str(&serde_json::to_string(&t).unwrap());
            lines.push('\n');
        }
        let p = dir.join("data.jsonl");
        std::fs::write(&p, lines).unwrap();
        p
    }

    fn first_call(s: &ReviewSession, id: &str) -> (usize, Map<String, Value>, String) {
        let Record::Trajectory(t) = s.record(id).unwrap() else {
            panic!("not a trajectory")
        };
        let (i, step) = t
            .steps
            .iter()
            .enumerate()
            .find(|(_, s)| !s.step.calls().is_empty())
            .unwrap();
        (
            i,
            step.step.calls()[0].arguments.clone(),
            step.observations[0].content.clone(),
        )
    }

    #[test]
    fn accept_reject_edit_resume_and_apply() {
        let dir = tempfile::tempdir().unwrap();
        let data = fixture(dir.path());
        let log = default_log_path(&data);
        let original = std::fs::read(&data).unwrap();
        let mut s = ReviewSession::open(&data, &log).unwrap();
        assert_eq!(s.len(), 3);
        let b0 = s.revision("r0").unwrap();
        s.accept("r0", &b0).unwrap();
        let b1 = s.revision("r1").unwrap();
        s.reject("r1", &b1, "wrong_answer").unwrap();
        // An edit of r2's first call: the arguments change, the observation is re-executed.
        let (step, mut args, before_obs) = first_call(&s, "r2");
        let value = args.get("value").and_then(Value::as_f64).unwrap();
        args.insert("value".into(), json!(value + 1.0));
        let b2 = s.revision("r2").unwrap();
        let d = s
            .edit(
                "r2",
                &b2,
                &[
                    Edit::Arguments {
                        step,
                        call: 0,
                        arguments: Value::Object(args.clone()),
                    },
                    Edit::Thought {
                        step,
                        text: "Convert it.".into(),
                    },
                ],
            )
            .unwrap();
        assert!(d.diff.iter().any(|c| c.path.ends_with("/arguments/value")));
        assert!(
            d.notes.iter().any(|n| n.contains("result changed")),
            "{:?}",
            d.notes
        );
        let (_, _, after_obs) = first_call(&s, "r2");
        assert_ne!(before_obs, after_obs);
        assert_eq!(s.state("r2").unwrap(), ReviewState::Edited);
        let b2 = s.revision("r2").unwrap();
        let accepted = s.accept("r2", &b2).unwrap();
        assert_eq!(
            std::fs::read(&data).unwrap(),
            original,
            "the data file is never rewritten"
        );
        let log_lines = std::fs::read_to_string(&log).unwrap();
        assert_eq!(log_lines.lines().count(), 4);
        drop(s);

        // Resume: the replayed session is where the first one stopped.
        let s = ReviewSession::open(&data, &log).unwrap();
        assert_eq!(s.resumed(), 4);
        assert_eq!(s.state("r0").unwrap(), ReviewState::Accepted);
        assert_eq!(s.state("r1").unwrap(), ReviewState::Rejected);
        assert_eq!(s.state("r2").unwrap(), ReviewState::Accepted);
        assert_eq!(first_call(&s, "r2").1, args);
        assert_eq!(s.revision("r2").unwrap(), accepted.revision);

        let out = dir.path().join("reviewed.jsonl");
        let rej = dir.path().join("rejected.jsonl");
        let report = apply_review(&data, &log, &out, Some(&rej), ApplySettings::default()).unwrap();
        assert_eq!(
            (
                report.accepted,
                report.accepted_edited,
                report.rejected,
                report.written
            ),
            (1, 1, 1, 2)
        );
        assert_eq!(report.reasons.get("wrong_answer"), Some(&1));
        let kept = crate::io::read_records(&out, || {}).unwrap();
        assert_eq!(
            kept.iter().map(Record::id).collect::<Vec<_>>(),
            ["r0", "r2"]
        );
        let Record::Trajectory(t2) = &kept[1] else {
            panic!()
        };
        assert!(t2.checks.iter().any(|c| c.check == "review" && c.passed));
        assert_eq!(t2.steps[step].step.thought(), Some("Convert it."));
        // The re-executed observation is what the tools give now: verification passes.
        crate::synth::verify_execution(t2).unwrap();
        let dropped = crate::io::read_records(&rej, || {}).unwrap();
        assert_eq!(dropped.len(), 1);
    }

    #[test]
    fn stale_base_is_a_conflict_and_bad_arguments_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let data = fixture(dir.path());
        let log = dir.path().join("log.jsonl");
        let mut s = ReviewSession::open(&data, &log).unwrap();
        let base = s.revision("r0").unwrap();
        // Two tabs saw the same revision: the first wins, the second is told.
        s.accept("r0", &base).unwrap();
        let err = s.reject("r0", &base, "other").unwrap_err();
        assert!(matches!(err, Error::Conflict { .. }), "{err}");
        let (step, _, _) = first_call(&s, "r0");
        let now = s.revision("r0").unwrap();
        let edit = |arguments: Value| Edit::Arguments {
            step,
            call: 0,
            arguments,
        };
        let err = s
            .edit("r0", &base, &[edit(json!({"value": 1}))])
            .unwrap_err();
        assert!(matches!(err, Error::Conflict { .. }), "{err}");
        // Invalid JSON text, a value of the wrong type, a missing required field.
        for bad in [json!("{\"value\": "), json!({"value": "ten"}), json!({})] {
            let err = s.edit("r0", &now, &[edit(bad.clone())]).unwrap_err();
            assert!(
                matches!(&err, Error::InvalidEdit { field, .. } if field.contains("arguments")),
                "{bad}: {err}"
            );
        }
        // Refused edits leave no trace in the log.
        assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 1);
        assert_eq!(s.revision("r0").unwrap(), now);
        let err = s.reject("r0", &now, "  ").unwrap_err();
        assert!(matches!(err, Error::InvalidEdit { .. }));
        assert!(matches!(
            s.accept("nope", &now).unwrap_err(),
            Error::UnknownRecord(_)
        ));
    }

    #[test]
    fn a_torn_last_line_is_dropped_and_a_foreign_log_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let data = fixture(dir.path());
        let log = dir.path().join("log.jsonl");
        let mut s = ReviewSession::open(&data, &log).unwrap();
        let base = s.revision("r1").unwrap();
        s.accept("r1", &base).unwrap();
        drop(s);
        let mut text = std::fs::read_to_string(&log).unwrap();
        text.push_str("{\"time\":\"2026-");
        std::fs::write(&log, &text).unwrap();
        let mut s = ReviewSession::open(&data, &log).unwrap();
        assert_eq!(s.resumed(), 1);
        let base = s.revision("r2").unwrap();
        s.accept("r2", &base).unwrap();
        drop(s);
        assert_eq!(ReviewSession::open(&data, &log).unwrap().resumed(), 2);
        // A log whose base does not match the data (the data file changed) is an error
        // naming the line.
        let changed =
            std::fs::read_to_string(&data)
                .unwrap()
                .replacen("\"query\":\"", "\"query\":\"X", 2);
        std::fs::write(&data, changed).unwrap();
        let err = ReviewSession::open(&data, &log).unwrap_err().to_string();
        assert!(err.contains("log.jsonl:1"), "{err}");
    }

    #[test]
    fn unreplayable_tools_are_marked_stale_and_diffs_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let data = fixture(dir.path());
        let log = dir.path().join("log.jsonl");
        // Offer the tool with a changed schema: its calls can no longer be replayed here.
        let text = std::fs::read_to_string(&data).unwrap();
        let mut t: Trajectory = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        let (step, call) = (0..t.steps.len())
            .find(|i| !t.steps[*i].step.calls().is_empty())
            .map(|i| (i, 0))
            .unwrap();
        let name = t.steps[step].step.calls()[call].name.clone();
        for spec in &mut t.tools {
            if spec.name == name {
                spec.description = Some("a lookalike".into());
                if let Some(Value::Object(p)) = spec.parameters.as_mut() {
                    p.insert("additionalProperties".into(), json!(true));
                }
            }
        }
        std::fs::write(&data, serde_json::to_string(&t).unwrap() + "\n").unwrap();
        let mut s = ReviewSession::open(&data, &log).unwrap();
        let mut args = t.steps[step].step.calls()[call].arguments.clone();
        args.insert("note".into(), json!("extra"));
        let base = s.revision(&t.id).unwrap();
        let d = s
            .edit(
                &t.id,
                &base,
                &[Edit::Arguments {
                    step,
                    call,
                    arguments: Value::Object(args),
                }],
            )
            .unwrap();
        assert!(d.notes.iter().any(|n| n.contains("stale")), "{:?}", d.notes);
        let detail = s.detail(&t.id).unwrap();
        assert!(
            detail
                .findings
                .iter()
                .any(|f| f.check == STALE_CHECK && !f.passed && f.step == Some(step))
        );
        assert_eq!(detail.summary.validation, "failed");
        // The logged diff alone rebuilds the edited record.
        let mut v = serde_json::to_value(&t).unwrap();
        apply_changes(&mut v, &d.diff).unwrap();
        assert_eq!(v, detail.record);
    }

    #[test]
    fn a_log_written_by_another_session_stops_this_one() {
        let dir = tempfile::tempdir().unwrap();
        let data = fixture(dir.path());
        let log = dir.path().join("log.jsonl");
        let mut one = ReviewSession::open(&data, &log).unwrap();
        let mut two = ReviewSession::open(&data, &log).unwrap();
        let base = one.revision("r0").unwrap();
        one.accept("r0", &base).unwrap();
        // The second session has not seen that decision: appending would fork the log.
        let err = two.reject("r0", &base, "other").unwrap_err();
        assert!(matches!(err, Error::LogChanged(_)), "{err}");
        assert_eq!(two.state("r0").unwrap(), ReviewState::Pending);
        let base = one.revision("r1").unwrap();
        one.accept("r1", &base).unwrap();
        assert_eq!(ReviewSession::open(&data, &log).unwrap().resumed(), 2);
    }

    #[test]
    fn replies_are_checked_strictly_and_written_again_after_an_edit() {
        let dir = tempfile::tempdir().unwrap();
        let data = fixture(dir.path());
        let text = std::fs::read_to_string(&data).unwrap();
        let mut t: Trajectory = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        let tpl = Template::builtin("react").unwrap();
        t.template_id = Some("react".into());
        for s in &mut t.steps {
            s.reply = Some(tpl.render_step_text(&s.step).unwrap());
        }
        let mut tampered = t.clone();
        tampered.id = "tampered".into();
        let step = (0..t.steps.len())
            .find(|i| !t.steps[*i].step.calls().is_empty())
            .unwrap();
        tampered.steps[step].reply = Some("Thought: no format here".into());
        let lines = [&t, &tampered]
            .iter()
            .map(|x| serde_json::to_string(x).unwrap() + "\n")
            .collect::<String>();
        std::fs::write(&data, lines).unwrap();
        let mut s = ReviewSession::open(&data, &dir.path().join("log.jsonl")).unwrap();
        let bad = s.detail("tampered").unwrap();
        assert!(
            bad.findings
                .iter()
                .any(|f| f.check == "format" && !f.passed && f.step == Some(step)),
            "{:?}",
            bad.findings
        );
        let good = s.detail(&t.id).unwrap();
        assert!(
            good.findings
                .iter()
                .any(|f| f.check == "format" && f.passed)
        );
        // Editing the call writes its reply again, so the record still parses strictly.
        let mut args = t.steps[step].step.calls()[0].arguments.clone();
        let v = args.get("value").and_then(Value::as_f64).unwrap();
        args.insert("value".into(), json!(v + 3.0));
        let base = s.revision(&t.id).unwrap();
        let d = s
            .edit(
                &t.id,
                &base,
                &[Edit::Arguments {
                    step,
                    call: 0,
                    arguments: Value::Object(args),
                }],
            )
            .unwrap();
        assert!(
            d.notes.iter().any(|n| n.contains("reply: written again")),
            "{:?}",
            d.notes
        );
        let after = s.detail(&t.id).unwrap();
        assert!(
            after.findings.iter().all(|f| f.passed),
            "{:?}",
            after.findings
        );
    }

    #[test]
    fn step_and_call_indices_are_read_from_paths() {
        assert_eq!(
            step_call_of("steps[2].step.calls[1].name"),
            (Some(2), Some(1))
        );
        assert_eq!(step_call_of("outcome"), (None, None));
        assert_eq!(
            canonical_json(&json!({"b": 1, "a": [{"d": 2, "c": 3}]})),
            r#"{"a":[{"c":3,"d":2}],"b":1}"#
        );
    }
}
