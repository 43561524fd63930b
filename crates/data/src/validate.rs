//! Strict validation as a cleaning [`Rule`]: every assistant turn of a rendered sample must be
//! exactly what its agent template produces (the runtime's strict parser), every tool call
//! must name a tool that is offered and known, and its arguments must satisfy that tool's JSON
//! Schema. Trajectories get the call checks. Samples whose template is not known to the rule
//! (imported data with a foreign format) are left alone.

use std::collections::BTreeMap;

use agentune_runtime::tools::ToolRegistry;
use agentune_runtime::validate::{format_errors, validate_arguments};
use agentune_runtime::{ParseMode, Template};
use agentune_schema::{Role, Sample, ToolCall, ToolSpec, Trajectory};

use crate::clean::{Rule, Verdict};
use crate::error::{Error, Result};
use crate::record::Record;

/// The strict-format rule (loss reason `strict_format`).
#[derive(Debug, Clone)]
pub struct StrictFormatRule {
    templates: BTreeMap<String, Template>,
    catalogue: BTreeMap<String, ToolSpec>,
}

impl StrictFormatRule {
    /// The rule with every shipped template and the built-in tools' schemas as the catalogue
    /// for samples that list their tools only in the prompt text.
    pub fn new() -> Result<Self> {
        let mut templates = BTreeMap::new();
        for id in Template::builtin_ids() {
            let t = Template::builtin(id).map_err(|e| Error::Invalid(e.to_string()))?;
            templates.insert(t.id().to_owned(), t);
        }
        let dir = tempfile::Builder::new()
            .prefix("agentune-strict-")
            .tempdir()
            .map_err(|e| Error::io("create", std::env::temp_dir(), e))?;
        let reg = ToolRegistry::builtin(dir.path().join("notes"))
            .map_err(|e| Error::Invalid(format!("cannot set up the built-in tools: {e}")))?;
        let catalogue = reg
            .specs()
            .into_iter()
            .map(|s| (s.name.clone(), s))
            .collect();
        Ok(Self {
            templates,
            catalogue,
        })
    }

    /// Adds (or replaces) a template, e.g. one a meta-agent wrote.
    pub fn with_template(mut self, template: Template) -> Self {
        self.templates.insert(template.id().to_owned(), template);
        self
    }

    /// Adds tool schemas to the catalogue (for samples whose tools are only in the prompt).
    pub fn with_tools(mut self, tools: impl IntoIterator<Item = ToolSpec>) -> Self {
        for t in tools {
            self.catalogue.insert(t.name.clone(), t);
        }
        self
    }

    /// The template ids the rule can check.
    pub fn template_ids(&self) -> Vec<&str> {
        self.templates.keys().map(String::as_str).collect()
    }

    /// Every problem of a record, each naming where it is.
    pub fn problems(&self, record: &Record) -> Vec<String> {
        match record {
            Record::Sample(s) => self.sample_problems(s),
            Record::Trajectory(t) => self.trajectory_problems(t),
        }
    }

    fn check_call(
        &self,
        at: &str,
        call: &ToolCall,
        offered: &[ToolSpec],
        prompt: Option<&str>,
        out: &mut Vec<String>,
    ) {
        let spec = if offered.is_empty() {
            // Tools listed only in the prompt text: the name must appear there; the schema
            // comes from the catalogue, and a tool outside it cannot be checked further.
            if !prompt.is_some_and(|p| p.contains(call.name.as_str())) {
                out.push(format!(
                    "{at}: unknown tool `{}` (not listed in the prompt)",
                    call.name
                ));
                return;
            }
            match self.catalogue.get(&call.name) {
                Some(spec) => spec,
                None => return,
            }
        } else {
            match offered.iter().find(|t| t.name == call.name) {
                Some(spec) => spec,
                None => {
                    out.push(format!("{at}: unknown tool `{}` (not offered)", call.name));
                    return;
                }
            }
        };
        if let Err(errors) = validate_arguments(&spec.parameters_schema(), &call.arguments) {
            out.push(format!(
                "{at}: call `{}`: invalid arguments: {}",
                call.name,
                format_errors(&errors)
            ));
        }
    }

    fn sample_problems(&self, s: &Sample) -> Vec<String> {
        let mut out = Vec::new();
        let Some(template) = s
            .template_id
            .as_deref()
            .and_then(|id| self.templates.get(id))
        else {
            return out;
        };
        let first_reply = s
            .messages
            .iter()
            .position(|m| m.role == Role::Assistant)
            .unwrap_or(s.messages.len());
        let prompt: String = s.messages[..first_reply]
            .iter()
            .map(|m| m.content_str())
            .collect::<Vec<_>>()
            .join("\n");
        if first_reply == s.messages.len() {
            out.push("no assistant turn".to_owned());
        }
        for (i, m) in s.messages.iter().enumerate() {
            if m.role != Role::Assistant {
                continue;
            }
            match template.parse_message(m, ParseMode::Strict) {
                Ok(step) => {
                    for (j, c) in step.calls().iter().enumerate() {
                        self.check_call(
                            &format!("messages[{i}].calls[{j}]"),
                            c,
                            &s.tools,
                            Some(&prompt),
                            &mut out,
                        );
                    }
                }
                Err(e) => out.push(format!(
                    "messages[{i}]: not in template `{}`'s exact format: {e}",
                    template.id()
                )),
            }
        }
        out
    }

    fn trajectory_problems(&self, t: &Trajectory) -> Vec<String> {
        let mut out = Vec::new();
        let offered: Vec<ToolSpec> = if t.tools.is_empty() {
            self.catalogue.values().cloned().collect()
        } else {
            t.tools.clone()
        };
        for (i, s) in t.steps.iter().enumerate() {
            for (j, c) in s.step.calls().iter().enumerate() {
                self.check_call(
                    &format!("steps[{i}].step.calls[{j}]"),
                    c,
                    &offered,
                    None,
                    &mut out,
                );
            }
        }
        out
    }
}

impl Rule for StrictFormatRule {
    fn name(&self) -> &str {
        "strict_format"
    }

    fn apply(&self, record: &mut Record) -> Verdict {
        let problems = self.problems(record);
        match problems.len() {
            0 => Verdict::Keep,
            1 => Verdict::Drop(problems.into_iter().next().unwrap_or_default()),
            n => Verdict::Drop(format!(
                "{} (and {} more)",
                problems.into_iter().next().unwrap_or_default(),
                n - 1
            )),
        }
    }
}
