//! The meta-agent prompt: a configurable prompt (`configs/meta-agent/*.toml`) that shows a
//! teacher one query set, the tools and the `TemplateSpec` format and asks for a new template
//! as JSON; and asking a teacher for every set, concurrently, through any [`ChatModel`].

use std::path::Path;
use std::sync::Mutex;

use agentune_data::hash::hash_str;
use agentune_runtime::Template;
use agentune_runtime::model::{ChatModel, ChatRequest};
use agentune_schema::{Message, ToolSpec};
use serde::{Deserialize, Serialize};

use crate::cluster::QuerySet;
use crate::error::{Error, Result};

/// The shipped meta-agent prompt.
const DEFAULT: &str = include_str!("../../../configs/meta-agent/default.toml");

/// Placeholders the prompt fields may use.
const VARS: &[&str] = &[
    "queries",
    "keywords",
    "language",
    "tools",
    "tool_names",
    "format",
    "example",
    "n",
];

/// A meta-agent prompt (a TOML file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetaPrompt {
    /// System message.
    pub system: String,
    /// User message; must hold `{queries}`.
    pub user: String,
    /// Built-in template shown as the example (`{example}`); empty for none.
    #[serde(default)]
    pub example: String,
    /// Sampling temperature.
    #[serde(default)]
    pub temperature: Option<f64>,
    /// Token limit of a reply.
    #[serde(default)]
    pub max_tokens: Option<u32>,
    /// Templates asked per query set.
    #[serde(default = "one")]
    pub templates_per_set: usize,
}

fn one() -> usize {
    1
}

impl MetaPrompt {
    /// The shipped prompt (`configs/meta-agent/default.toml`).
    pub fn builtin() -> Result<Self> {
        Self::parse(DEFAULT, Path::new("configs/meta-agent/default.toml"))
    }

    /// Loads a prompt file; errors name the file, line and field.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
        Self::parse(&text, path)
    }

    /// Parses and checks a prompt's TOML text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let p: MetaPrompt = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            Error::input(path, line, "", e.message().trim().replace('\n', " "))
        })?;
        for (field, value) in [("system", &p.system), ("user", &p.user)] {
            for name in placeholders(value) {
                if !VARS.contains(&name.as_str()) {
                    return Err(Error::input(
                        path,
                        None,
                        field,
                        format!(
                            "unknown placeholder `{{{name}}}`; known: {}",
                            VARS.iter()
                                .map(|v| format!("{{{v}}}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ));
                }
            }
        }
        if !p.user.contains("{queries}") && !p.system.contains("{queries}") {
            return Err(Error::input(path, None, "user", "must hold `{queries}`"));
        }
        if p.templates_per_set == 0 {
            return Err(Error::input(
                path,
                None,
                "templates_per_set",
                "must be at least 1",
            ));
        }
        if !p.example.is_empty() {
            Template::builtin(&p.example)
                .map_err(|e| Error::input(path, None, "example", e.to_string()))?;
        }
        Ok(p)
    }

    /// The request for template `n` (0-based) of a set: each gets its own seed, so asking
    /// twice for one set gives two templates while a rerun hits the cache.
    pub fn request(&self, set: &QuerySet, tools: &[ToolSpec], n: usize) -> Result<ChatRequest> {
        let queries = set
            .queries
            .iter()
            .map(|q| format!("- {}", q.query))
            .collect::<Vec<_>>()
            .join("\n");
        let tool_lines = tools
            .iter()
            .map(|t| t.to_openai_tool().to_string())
            .collect::<Vec<_>>()
            .join("\n");
        let names = tools
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let format = agentune_schema::record_schemas()
            .into_iter()
            .find(|(name, _)| *name == "template_spec")
            .map(|(_, s)| serde_json::to_string(&s).unwrap_or_default())
            .unwrap_or_default();
        let example = if self.example.is_empty() {
            String::new()
        } else {
            let t = Template::builtin(&self.example)?;
            serde_json::to_string_pretty(t.spec()).unwrap_or_default()
        };
        let n_text = (n + 1).to_string();
        let vars: [(&str, &str); 8] = [
            ("queries", &queries),
            ("keywords", &set.keywords.join(", ")),
            ("language", &set.language),
            ("tools", &tool_lines),
            ("tool_names", &names),
            ("format", &format),
            ("example", &example),
            ("n", &n_text),
        ];
        let mut request = ChatRequest::new(vec![
            Message::system(fill(&self.system, &vars)),
            Message::user(fill(&self.user, &vars)),
        ]);
        request.temperature = self.temperature;
        request.max_tokens = self.max_tokens;
        request.seed = Some(hash_str(&format!("{}#{n}", set.id)) >> 1);
        Ok(request)
    }
}

/// The `{name}` placeholders of a text (lowercase letters and `_`); `{{` escapes a brace.
fn placeholders(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'{' {
            if b.get(i + 1) == Some(&b'{') {
                i += 2;
                continue;
            }
            let mut j = i + 1;
            while j < b.len() && (b[j].is_ascii_lowercase() || b[j] == b'_') {
                j += 1;
            }
            if j > i + 1 && b.get(j) == Some(&b'}') {
                out.push(text[i + 1..j].to_owned());
                i = j + 1;
                continue;
            }
        }
        i += 1;
    }
    out
}

/// Fills placeholders in one pass; `{{` and `}}` become literal braces.
fn fill(text: &str, vars: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(text.len());
    let b = text.as_bytes();
    let mut i = 0;
    let mut last = 0;
    while i < b.len() {
        if (b[i] == b'{' && b.get(i + 1) == Some(&b'{'))
            || (b[i] == b'}' && b.get(i + 1) == Some(&b'}'))
        {
            out.push_str(&text[last..=i]);
            i += 2;
            last = i;
            continue;
        }
        if b[i] == b'{' {
            let mut j = i + 1;
            while j < b.len() && (b[j].is_ascii_lowercase() || b[j] == b'_') {
                j += 1;
            }
            if j > i + 1
                && b.get(j) == Some(&b'}')
                && let Some((_, v)) = vars.iter().find(|(n, _)| *n == &text[i + 1..j])
            {
                out.push_str(&text[last..i]);
                out.push_str(v);
                i = j + 1;
                last = i;
                continue;
            }
        }
        i += 1;
    }
    out.push_str(&text[last..]);
    out
}

/// One teacher answer.
#[derive(Debug, Clone, PartialEq)]
pub struct TeacherReply {
    /// `teacher:{set}#{n}`.
    pub source: String,
    /// The query set asked about.
    pub set_id: String,
    /// Which template of the set (0-based).
    pub n: usize,
    /// The reply text, or why the call failed.
    pub reply: std::result::Result<String, String>,
}

/// Asks the teacher for `templates_per_set` templates per set, `concurrency` requests at a
/// time; `progress` is called after each answer. Replies come back in set order.
pub fn ask<M: ChatModel + Sync + ?Sized>(
    model: &M,
    prompt: &MetaPrompt,
    sets: &[QuerySet],
    tools: &[ToolSpec],
    concurrency: usize,
    progress: &(dyn Fn() + Sync),
) -> Result<Vec<TeacherReply>> {
    let mut jobs = Vec::new();
    for set in sets {
        for n in 0..prompt.templates_per_set {
            jobs.push((set, n, prompt.request(set, tools, n)?));
        }
    }
    let next = Mutex::new(0usize);
    let results: Mutex<Vec<Option<TeacherReply>>> = Mutex::new(vec![None; jobs.len()]);
    std::thread::scope(|scope| {
        for _ in 0..concurrency.clamp(1, jobs.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = {
                        let Ok(mut n) = next.lock() else { return };
                        let i = *n;
                        *n += 1;
                        i
                    };
                    let Some((set, n, request)) = jobs.get(i) else {
                        return;
                    };
                    let reply = model
                        .chat(request)
                        .map(|r| r.message.content_str().to_owned())
                        .map_err(|e| e.to_string());
                    if let Ok(mut r) = results.lock() {
                        r[i] = Some(TeacherReply {
                            source: format!("teacher:{}#{n}", set.id),
                            set_id: set.id.clone(),
                            n: *n,
                            reply,
                        });
                    }
                    progress();
                }
            });
        }
    });
    let results = results
        .into_inner()
        .map_err(|_| Error::Invalid("a teacher worker panicked".into()))?;
    Ok(results.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::SeedQuery;
    use agentune_runtime::model::ScriptedModel;

    fn set(id: &str) -> QuerySet {
        QuerySet {
            id: id.into(),
            language: "en".into(),
            keywords: vec!["rain".into()],
            cohesion: 0.5,
            queries: vec![SeedQuery {
                id: "q1".into(),
                query: "Will it rain in Oslo?".into(),
                answer: None,
            }],
        }
    }

    #[test]
    fn the_builtin_prompt_shows_queries_tools_format_and_example() {
        let p = MetaPrompt::builtin().unwrap();
        let tools = agentune_runtime::tools::ToolRegistry::builtin_specs().unwrap();
        let r = p.request(&set("set-000"), &tools, 0).unwrap();
        let user = r.messages[1].content_str();
        assert!(user.contains("- Will it rain in Oslo?"));
        assert!(user.contains("\"get_weather\"") || user.contains(&tools[0].name));
        assert!(
            user.contains("\"syntax\"") && user.contains("StepSyntax"),
            "the schema is shown"
        );
        assert!(user.contains("\"id\": \"react\""), "the example is shown");
        assert!(
            user.contains("{tools} and {query}"),
            "escaped braces stay literal"
        );
        let r2 = p.request(&set("set-000"), &tools, 1).unwrap();
        assert_ne!(r.seed, r2.seed);
        assert_eq!(r.seed, p.request(&set("set-000"), &tools, 0).unwrap().seed);
    }

    #[test]
    fn bad_prompt_files_name_the_field() {
        let p = Path::new("m.toml");
        let e = MetaPrompt::parse("system = \"x\"\nuser = \"{querys}\"\n", p)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("m.toml") && e.contains("user") && e.contains("{querys}"),
            "{e}"
        );
        let e = MetaPrompt::parse("system = \"x\"\nuser = \"no set\"\n", p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("{queries}"), "{e}");
        let e = MetaPrompt::parse("system = \"x\"\nuser = \"{queries}\"\nbogus = 1\n", p)
            .unwrap_err()
            .to_string();
        assert!(e.contains("m.toml:3") && e.contains("bogus"), "{e}");
        let e = MetaPrompt::parse(
            "system = \"x\"\nuser = \"{queries}\"\nexample = \"nope\"\n",
            p,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("example"), "{e}");
    }

    #[test]
    fn every_set_is_asked_concurrently_and_answers_keep_their_order() {
        let p = MetaPrompt::parse(
            "system = \"s\"\nuser = \"{queries}\"\ntemplates_per_set = 2\n",
            Path::new("m.toml"),
        )
        .unwrap();
        let model = ScriptedModel::from_texts(["a", "b", "c", "d", "e", "f"]);
        let sets = [set("set-000"), set("set-001"), set("set-002")];
        let count = std::sync::atomic::AtomicUsize::new(0);
        let replies = ask(&model, &p, &sets, &[], 3, &|| {
            count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        })
        .unwrap();
        assert_eq!(replies.len(), 6);
        assert_eq!(count.into_inner(), 6);
        assert_eq!(replies[3].source, "teacher:set-001#1");
        let mut texts: Vec<String> = replies.iter().map(|r| r.reply.clone().unwrap()).collect();
        texts.sort();
        assert_eq!(texts, ["a", "b", "c", "d", "e", "f"]);
        // A failing teacher is recorded per reply, not a crash.
        let empty = ScriptedModel::from_texts(Vec::<String>::new());
        let replies = ask(&empty, &p, &sets[..1], &[], 2, &|| {}).unwrap();
        assert!(replies.iter().all(|r| r.reply.is_err()));
    }
}
