//! One template run, from candidates to files: grammar drafts or teacher replies are validated
//! in order, and the output folder gets `templates/<id>.toml` (the accepted templates, which
//! the data crate's template mix samples from), `rejected.jsonl` (every refusal with its
//! reason), `report.json` + `report.md` (counts and diversity) and, for teacher runs,
//! `query_sets.jsonl`. Every file is written atomically.

use std::path::Path;

use agentune_schema::{TemplateSpec, write_atomic, write_jsonl};

use crate::cluster::QuerySet;
use crate::error::{Error, Result};
use crate::grammar::{Grammar, GrammarSettings};
use crate::report::Report;
use crate::teacher::TeacherReply;
use crate::validate::{Checked, Rejection, Validator};

/// What a run produced.
#[derive(Debug)]
pub struct RunOutput {
    /// Every refused candidate.
    pub rejections: Vec<Rejection>,
    /// The report.
    pub report: Report,
}

/// Grammar candidates until `settings.count` are accepted (near-duplicates and other
/// refusals are drawn again, up to `settings.max_draws_per_template` draws per wanted
/// template); `progress(accepted)` after each candidate.
pub fn grammar_candidates(
    validator: &mut Validator,
    settings: &GrammarSettings,
    progress: &dyn Fn(usize),
) -> Result<Vec<Rejection>> {
    let mut grammar = Grammar::new(settings.clone())?;
    let mut rejections = Vec::new();
    let budget = settings
        .count
        .saturating_mul(settings.max_draws_per_template.max(1));
    let mut draws = 0usize;
    while validator.accepted_len() < settings.count {
        if draws >= budget {
            return Err(Error::Invalid(format!(
                "grammar: only {} of {} templates accepted in {draws} candidates ({} near-duplicates); lower the count or raise the near-duplicate threshold",
                validator.accepted_len(),
                settings.count,
                rejections.len()
            )));
        }
        draws += 1;
        let spec = grammar.next_spec()?;
        if let Err(r) = validator.check_spec(spec, "grammar") {
            rejections.push(r);
        }
        progress(validator.accepted_len());
    }
    Ok(rejections)
}

/// Validates teacher replies in order; each accepted template gets the id
/// `{prefix}-{set}-{n}`.
pub fn teacher_candidates(
    validator: &mut Validator,
    replies: &[TeacherReply],
    prefix: &str,
) -> Vec<Rejection> {
    let mut rejections = Vec::new();
    for r in replies {
        let id = format!("{prefix}-{}-{}", r.set_id, r.n);
        let result = match &r.reply {
            Ok(text) => validator.check_text(text, &r.source, Some(&id)).map(|_| ()),
            Err(e) => Err(Rejection {
                source: r.source.clone(),
                id: Some(id),
                reason: crate::validate::Reason::Request,
                message: e.clone(),
                text: None,
            }),
        };
        if let Err(rej) = result {
            rejections.push(rej);
        }
    }
    rejections
}

/// Writes the run's files into `out` and returns the report. Template files left in
/// `out/templates/` by an earlier run and not accepted now are removed, so the folder holds
/// exactly this run's templates.
pub fn write_run(
    out: &Path,
    source: &str,
    validator: &Validator,
    rejections: Vec<Rejection>,
    sets: Option<&[QuerySet]>,
    near_duplicate: f64,
) -> Result<RunOutput> {
    let dir = out.join("templates");
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("create", &dir, e))?;
    let accepted: Vec<&Checked> = validator.accepted().collect();
    let mut keep = std::collections::HashSet::new();
    for c in &accepted {
        let spec: &TemplateSpec = c.template.spec();
        let name = format!("{}.toml", file_stem(&spec.id));
        let text = toml::to_string(spec).map_err(|e| {
            Error::Invalid(format!(
                "template `{}` cannot be written as TOML: {e}",
                spec.id
            ))
        })?;
        let header = format!(
            "# {}\n",
            spec.description
                .as_deref()
                .unwrap_or("Agent prompt template written by the meta-agent.")
                .replace('\n', " ")
        );
        write_atomic(dir.join(&name), format!("{header}{text}").as_bytes())?;
        keep.insert(name);
    }
    let listing = std::fs::read_dir(&dir).map_err(|e| Error::io("list", &dir, e))?;
    for entry in listing {
        let entry = entry.map_err(|e| Error::io("list", &dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".toml") && !keep.contains(&name) {
            std::fs::remove_file(entry.path()).map_err(|e| Error::io("remove", entry.path(), e))?;
        }
    }
    write_jsonl(out.join("rejected.jsonl"), rejections.iter())?;
    if let Some(sets) = sets {
        write_jsonl(out.join("query_sets.jsonl"), sets.iter())?;
    }
    let report = Report::new(source, &accepted, &rejections, near_duplicate);
    report.write(out)?;
    Ok(RunOutput { rejections, report })
}

/// A file name for a template id: characters other than letters, digits, `-` and `_` become
/// `_`.
pub fn file_stem(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::{Reason, ValidationSettings};
    use agentune_runtime::Template;
    use agentune_runtime::tools::ToolRegistry;

    fn validator() -> Validator {
        Validator::new(
            ToolRegistry::builtin_specs().unwrap(),
            &["weather in Paris tomorrow".into(), "北京明天下雨吗".into()],
            ValidationSettings::default(),
        )
        .unwrap()
    }

    #[test]
    fn grammar_run_writes_loadable_templates_and_a_report() {
        let mut v = validator();
        let settings = GrammarSettings {
            count: 60,
            seed: 9,
            ..Default::default()
        };
        let rejections = grammar_candidates(&mut v, &settings, &|_| {}).unwrap();
        assert_eq!(v.accepted_len(), 60);
        assert!(
            rejections.iter().all(|r| r.reason == Reason::NearDuplicate),
            "{rejections:?}"
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("templates")).unwrap();
        std::fs::write(dir.path().join("templates/stale.toml"), "x").unwrap();
        let out = write_run(dir.path(), "grammar", &v, rejections, None, 0.9).unwrap();
        assert_eq!(out.report.accepted, 60);
        let files: Vec<_> = std::fs::read_dir(dir.path().join("templates"))
            .unwrap()
            .collect();
        assert_eq!(files.len(), 60);
        assert!(!dir.path().join("templates/stale.toml").exists());
        // The data crate samples from the folder.
        let spec = dir.path().join("templates").to_string_lossy().into_owned();
        let mix = agentune_data::render::TemplateMix::from_specs(&[spec], &[]).unwrap();
        assert_eq!(mix.templates().count(), 60);
        let first = mix.templates().next().unwrap();
        assert_eq!(
            first.spec(),
            v.accepted()
                .find(|c| c.template.id() == first.id())
                .unwrap()
                .template
                .spec()
        );
        assert!(
            dir.path().join("report.md").exists() && dir.path().join("rejected.jsonl").exists()
        );
    }

    #[test]
    fn teacher_replies_are_validated_with_reasons_and_ids() {
        let mut v = validator();
        let good = serde_json::to_string(Template::builtin("hermes").unwrap().spec()).unwrap();
        let replies = vec![
            TeacherReply {
                source: "teacher:set-000#0".into(),
                set_id: "set-000".into(),
                n: 0,
                reply: Ok(format!("```json\n{good}\n```")),
            },
            TeacherReply {
                source: "teacher:set-001#0".into(),
                set_id: "set-001".into(),
                n: 0,
                reply: Ok("I cannot help".into()),
            },
            TeacherReply {
                source: "teacher:set-002#0".into(),
                set_id: "set-002".into(),
                n: 0,
                reply: Err("HTTP 500".into()),
            },
            TeacherReply {
                source: "teacher:set-003#0".into(),
                set_id: "set-003".into(),
                n: 0,
                reply: Ok(good.clone()),
            },
        ];
        let rej = teacher_candidates(&mut v, &replies, "meta");
        assert_eq!(v.accepted().next().unwrap().template.id(), "meta-set-000-0");
        let reasons: Vec<Reason> = rej.iter().map(|r| r.reason).collect();
        assert_eq!(
            reasons,
            [Reason::NoTemplate, Reason::Request, Reason::NearDuplicate]
        );
        assert_eq!(rej[0].text.as_deref(), Some("I cannot help"));
        assert_eq!(file_stem("meta/set 1"), "meta_set_1");
    }
}
