//! Synthetic records for benchmarks and tests: agent trajectories over several scenarios in
//! English and Chinese (simple and complex positives, hard negatives), general conversations,
//! and a controlled share of exact duplicates, near duplicates, conflicts and PII. Seeded, so a
//! benchmark input is reproducible. (Scenario synthesis verified by running real tools is a
//! separate stage; this generator only has to look like data to the cleaning machinery.)

use agentune_schema::{
    Check, Complexity, Message, Observation, Outcome, Provenance, QueryKind, QueryMeta, Sample,
    Step, ToolCall, ToolSpec, Trajectory, TrajectoryStep,
};
use serde_json::{Map, Value, json};

use crate::record::Record;
use crate::rng::Rng;

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticSpec {
    /// Records to produce.
    pub records: usize,
    /// Seed.
    pub seed: u64,
    /// Share of records that repeat an earlier one exactly (under a new id).
    pub exact_dup: f64,
    /// Share that repeat an earlier one with a small edit of the query.
    pub near_dup: f64,
    /// Share that repeat an earlier input with a different, unverified output.
    pub conflict: f64,
    /// Share of records mentioning an e-mail address or phone number.
    pub pii: f64,
    /// Shares of hard negatives and general records (the rest are positives).
    pub hard_negative: f64,
    /// Share of general records.
    pub general: f64,
    /// Share of complex records among positives.
    pub complex: f64,
}

impl Default for SyntheticSpec {
    fn default() -> Self {
        Self {
            records: 1000,
            seed: 7,
            exact_dup: 0.05,
            near_dup: 0.05,
            conflict: 0.01,
            pii: 0.05,
            hard_negative: 0.25,
            general: 0.25,
            complex: 0.3,
        }
    }
}

const CITIES_EN: &[&str] = &[
    "Beijing", "Shanghai", "Hangzhou", "Chengdu", "Xi'an", "Shenzhen", "Paris", "Berlin", "Tokyo",
    "Nairobi", "Lima", "Toronto", "Oslo", "Cairo", "Sydney", "Madrid",
];
const CITIES_ZH: &[&str] = &[
    "北京", "上海", "杭州", "成都", "西安", "深圳", "广州", "南京", "武汉", "重庆", "苏州", "青岛",
];
const DAYS_EN: &[&str] = &[
    "today",
    "tomorrow",
    "on Saturday",
    "on Sunday",
    "next Monday",
    "this weekend",
];
const DAYS_ZH: &[&str] = &["今天", "明天", "周六", "周日", "下周一", "这个周末"];
const TEMPLATES: &[&str] = &[
    "react",
    "modelscope",
    "autogpt",
    "toolllama",
    "openai",
    "hermes",
];
const WORDS: &[&str] = &[
    "quick", "plan", "family", "trip", "budget", "meeting", "garden", "river", "museum", "coffee",
    "project", "report", "friends", "market", "station", "lecture", "concert", "hiking", "school",
    "office", "dinner", "picnic", "festival", "library", "airport", "hotel", "beach", "mountain",
];
const SCENARIOS: &[&str] = &[
    "weather",
    "travel",
    "math",
    "currency",
    "calendar",
    "knowledge",
    "notes",
];

fn pick<'a>(rng: &mut Rng, xs: &[&'a str]) -> &'a str {
    xs[rng.below(xs.len())]
}

const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "pu", "te", "sa", "no", "ri", "ve", "du", "ba", "zo", "fi", "ge", "ha", "ju",
    "qua", "xe", "wo", "yi", "ren", "tal", "mos", "dar",
];
const SYLLABLES_ZH: &[&str] = &[
    "山", "水", "花", "林", "星", "月", "云", "风", "湖", "桥", "茶", "书", "灯", "雨", "石", "竹",
    "松", "河", "田", "港",
];

/// A made-up name (a person, a place, a product), so records differ the way real ones do.
fn name(rng: &mut Rng, zh: bool) -> String {
    let n = 2 + rng.below(2);
    let src = if zh { SYLLABLES_ZH } else { SYLLABLES };
    let mut out: String = (0..n).map(|_| pick(rng, src)).collect();
    if !zh && let Some(f) = out.get_mut(0..1) {
        f.make_ascii_uppercase();
    }
    out
}

/// A detail clause naming two made-up names and a number.
fn detail(rng: &mut Rng, zh: bool) -> String {
    let (a, b, n) = (name(rng, zh), name(rng, zh), 1 + rng.below(500));
    if zh {
        format!("(和{a}一起, 顺便去{b}, 编号{n})")
    } else {
        format!("(with {a}, stopping by {b}, ref {n})")
    }
}

fn args(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn tool(name: &str, desc: &str, props: Value, required: &[&str]) -> ToolSpec {
    ToolSpec::new(
        name,
        desc,
        json!({"type": "object", "properties": props, "required": required}),
    )
}

fn scenario_tools(scenario: &str) -> Vec<ToolSpec> {
    let city = json!({"city": {"type": "string"}, "date": {"type": "string"}});
    match scenario {
        "weather" => vec![tool(
            "get_weather",
            "Weather forecast for a city and day",
            city,
            &["city"],
        )],
        "travel" => vec![
            tool(
                "get_weather",
                "Weather forecast for a city and day",
                city,
                &["city"],
            ),
            tool(
                "search_places",
                "Places of a kind near a city",
                json!({"near": {"type": "string"}, "kind": {"type": "string"}}),
                &["near"],
            ),
        ],
        "math" => vec![tool(
            "calculator",
            "Evaluate an arithmetic expression",
            json!({"expression": {"type": "string"}}),
            &["expression"],
        )],
        "currency" => vec![tool(
            "convert_currency",
            "Convert an amount between currencies",
            json!({"amount": {"type": "number"}, "from": {"type": "string"}, "to": {"type": "string"}}),
            &["amount", "from", "to"],
        )],
        "calendar" => vec![tool(
            "date_diff",
            "Days between two dates",
            json!({"start": {"type": "string"}, "end": {"type": "string"}}),
            &["start", "end"],
        )],
        "knowledge" => vec![tool(
            "lookup",
            "Look up a fact in the knowledge base",
            json!({"topic": {"type": "string"}}),
            &["topic"],
        )],
        _ => vec![tool(
            "save_note",
            "Save a note",
            json!({"title": {"type": "string"}, "text": {"type": "string"}}),
            &["title", "text"],
        )],
    }
}

/// A call: tool name, arguments, observation.
type Call = (String, Map<String, Value>, String);

/// A query, the calls it needs (empty for hard negatives) and a final answer.
fn content(
    rng: &mut Rng,
    scenario: &str,
    zh: bool,
    kind: QueryKind,
    complex: bool,
) -> (String, Vec<Call>, String) {
    let city = if zh {
        pick(rng, CITIES_ZH)
    } else {
        pick(rng, CITIES_EN)
    };
    let day = if zh {
        pick(rng, DAYS_ZH)
    } else {
        pick(rng, DAYS_EN)
    };
    let w1 = pick(rng, WORDS);
    let w2 = pick(rng, WORDS);
    let n1 = 10 + rng.below(9990);
    let n2 = 2 + rng.below(97);
    let temp = rng.below(35);
    if kind == QueryKind::HardNegative {
        let q = if zh {
            format!("{city}{day}的{w1}和{w2}真让人开心, 你觉得呢?")
        } else {
            format!(
                "What a nice {w1} we had in {city} {day}; what does the word '{w2}' mean to you?"
            )
        };
        let a = if zh {
            format!("听起来很棒!{w1}和{w2}都是生活中的小确幸, 祝你在{city}玩得开心。")
        } else {
            format!("Sounds lovely! '{w2}' usually brings to mind good times; enjoy {city}.")
        };
        return (q, Vec::new(), a);
    }
    let (q, mut calls) = match scenario {
        "weather" | "travel" => {
            let q = if zh {
                format!("{day}{city}天气怎么样?我想去{w1}。")
            } else {
                format!("What's the weather in {city} {day}? I plan a {w1} {w2}.")
            };
            (
                q,
                vec![(
                    "get_weather".to_owned(),
                    args(json!({"city": city, "date": day})),
                    format!("{{\"temp_c\": {temp}, \"rain\": {}}}", rng.below(100)),
                )],
            )
        }
        "math" => {
            let q = if zh {
                format!("帮我算一下 {n1} 乘以 {n2} 再加 {temp} 是多少?")
            } else {
                format!("Compute {n1} times {n2} plus {temp} for my {w1} {w2}.")
            };
            let e = format!("{n1} * {n2} + {temp}");
            (
                q,
                vec![(
                    "calculator".to_owned(),
                    args(json!({"expression": e})),
                    format!("{}", n1 * n2 + temp),
                )],
            )
        }
        "currency" => {
            let q = if zh {
                format!("{n1} 美元能换多少人民币?用于{w1}。")
            } else {
                format!("How much is {n1} US dollars in euros for a {w1} {w2}?")
            };
            (
                q,
                vec![(
                    "convert_currency".to_owned(),
                    args(json!({"amount": n1, "from": "USD", "to": if zh {"CNY"} else {"EUR"}})),
                    format!("{{\"result\": {}.{:02}}}", n1 * 7, n2),
                )],
            )
        }
        "calendar" => {
            let q = if zh {
                format!(
                    "从 2025-0{}-{:02} 到 2025-12-{:02} 还有多少天?",
                    1 + n2 % 9,
                    1 + temp % 28,
                    1 + n2 % 28
                )
            } else {
                format!(
                    "How many days from 2025-0{}-{:02} to 2025-12-{:02} for the {w1}?",
                    1 + n2 % 9,
                    1 + temp % 28,
                    1 + n2 % 28
                )
            };
            (
                q,
                vec![(
                    "date_diff".to_owned(),
                    args(json!({"start": "2025-01-01", "end": "2025-12-01"})),
                    format!("{}", 100 + n2),
                )],
            )
        }
        "knowledge" => {
            let q = if zh {
                format!("给我讲讲{city}的{w1}历史, 和{w2}有关吗?")
            } else {
                format!("Tell me about the history of the {w1} in {city} and its {w2}.")
            };
            (
                q,
                vec![(
                    "lookup".to_owned(),
                    args(json!({"topic": format!("{city} {w1}")})),
                    format!("The {w1} of {city} dates back {n2} years."),
                )],
            )
        }
        _ => {
            let q = if zh {
                format!("帮我记一下:{day}在{city}和朋友{w1}, 预算 {n1} 元。")
            } else {
                format!(
                    "Save a note: {w1} with friends in {city} {day}, budget {n1} dollars, bring {w2}."
                )
            };
            let call = (
                "save_note".to_owned(),
                args(json!({"title": w1, "text": q.clone()})),
                "{\"saved\": true}".to_owned(),
            );
            (q, vec![call])
        }
    };
    if complex {
        if scenario == "travel" {
            calls.push((
                "search_places".to_owned(),
                args(json!({"near": city, "kind": w2})),
                format!("[\"{city} {w2} park\", \"{city} north {w1}\"]"),
            ));
        } else {
            let (name, a, o) = calls[0].clone();
            let mut a2 = a.clone();
            a2.insert("retry".into(), json!(n2));
            calls.push((name, a2, format!("{o} (second look {n2})")));
        }
    }
    let a = if zh {
        format!("根据查询结果, {city}{day}的情况是 {temp} 度左右, 适合{w1}。")
    } else {
        format!("Based on the results, {city} {day} looks fine at about {temp} C for your {w1}.")
    };
    (q, calls, a)
}

fn with_pii(rng: &mut Rng, q: &str, zh: bool) -> String {
    let phone = format!("13{}{:08}", 3 + rng.below(7), rng.below(100_000_000));
    let mail = format!("{}.{}@example.com", pick(rng, WORDS), rng.below(1000));
    if zh {
        format!("{q} 我的电话是{phone}, 邮箱 {mail}")
    } else {
        format!("{q} Reach me at {mail} or {phone}.")
    }
}

/// Generates the records.
pub fn generate(spec: &SyntheticSpec) -> Vec<Record> {
    let mut rng = Rng::new(spec.seed);
    let mut out: Vec<Record> = Vec::with_capacity(spec.records);
    for i in 0..spec.records {
        let id = format!("syn-{i:07}");
        let roll = rng.unit();
        if !out.is_empty() && roll < spec.exact_dup + spec.near_dup + spec.conflict {
            let j = rng.below(out.len());
            let mut r = out[j].clone();
            set_id(&mut r, &id);
            if roll >= spec.exact_dup {
                let near = roll < spec.exact_dup + spec.near_dup;
                edit(&mut r, near, &mut rng);
            }
            out.push(r);
            continue;
        }
        let zh = rng.unit() < 0.4;
        let k = rng.unit();
        let scenario = pick(&mut rng, SCENARIOS);
        let template = pick(&mut rng, TEMPLATES);
        let lang = if zh { "zh" } else { "en" };
        if k < spec.general {
            let topic = pick(&mut rng, WORDS);
            let other = pick(&mut rng, WORDS);
            let n = rng.below(1000);
            let (q, a) = if zh {
                (
                    format!("写一段关于{topic}和{other}的短文, 第{n}篇。"),
                    format!("{topic}与{other}相映成趣, 这是第{n}篇关于它们的小文, 愿你喜欢。"),
                )
            } else {
                (
                    format!("Write a short paragraph about {topic} and {other}, number {n}."),
                    format!(
                        "The {topic} met the {other} one quiet evening; paragraph {n} tells how they became friends."
                    ),
                )
            };
            out.push(Record::from(Sample {
                schema_version: Default::default(),
                id,
                messages: vec![Message::user(q), Message::assistant(a)],
                tools: Vec::new(),
                template_id: None,
                meta: QueryMeta::new("general", QueryKind::General, Complexity::Simple, lang),
                split: None,
                group: None,
                provenance: Some(Provenance::source("synthetic/general")),
            }));
            continue;
        }
        let kind = if k < spec.general + spec.hard_negative {
            QueryKind::HardNegative
        } else {
            QueryKind::Positive
        };
        let complex = kind == QueryKind::Positive && rng.unit() < spec.complex;
        let (mut q, calls, mut answer) = content(&mut rng, scenario, zh, kind, complex);
        let extra = detail(&mut rng, zh);
        q = format!("{q} {extra}");
        answer = format!("{answer} {}", detail(&mut rng, zh));
        if rng.unit() < spec.pii {
            q = with_pii(&mut rng, &q, zh);
        }
        let mut steps = Vec::new();
        for (n, (name, a, obs)) in calls.iter().enumerate() {
            let call = ToolCall::new(name.clone(), a.clone()).with_id(format!("call_{n}"));
            steps.push(
                TrajectoryStep::new(Step::ToolCalls {
                    thought: Some(format!("Step {}: use {name}.", n + 1)),
                    calls: vec![call],
                })
                .with_observations(vec![Observation {
                    tool_call_id: Some(format!("call_{n}")),
                    name: name.clone(),
                    content: obs.clone(),
                    is_error: false,
                }]),
            );
        }
        steps.push(TrajectoryStep::new(Step::FinalAnswer {
            thought: None,
            answer,
        }));
        let complexity = if complex {
            Complexity::Complex
        } else {
            Complexity::Simple
        };
        out.push(Record::from(Trajectory {
            schema_version: Default::default(),
            id,
            query: q,
            history: Vec::new(),
            tools: scenario_tools(scenario),
            steps,
            outcome: Outcome::Answered,
            template_id: Some(template.to_owned()),
            meta: Some(QueryMeta::new(scenario, kind, complexity, lang)),
            provenance: Provenance {
                seed: Some(spec.seed),
                ..Provenance::source(format!("synthetic/{scenario}"))
            },
            checks: vec![Check {
                check: "execution".into(),
                passed: true,
                step: None,
                message: None,
            }],
        }));
    }
    out
}

fn set_id(r: &mut Record, id: &str) {
    match r {
        Record::Trajectory(t) => t.id = id.to_owned(),
        Record::Sample(s) => s.id = id.to_owned(),
    }
}

/// A near duplicate (small query edit) or a conflict (same input, another unverified answer).
fn edit(r: &mut Record, near: bool, rng: &mut Rng) {
    match r {
        Record::Trajectory(t) => {
            if near {
                t.query = format!("{} please", t.query.trim_end_matches(['?', '。', '.']));
            } else {
                if let Some(TrajectoryStep {
                    step: Step::FinalAnswer { answer, .. },
                    ..
                }) = t.steps.last_mut()
                {
                    *answer = format!(
                        "I am not sure, maybe ask again later ({}).",
                        rng.below(1000)
                    );
                }
                t.checks.clear();
            }
        }
        Record::Sample(s) => {
            if let Some(m) = s
                .messages
                .iter_mut()
                .find(|m| m.role == agentune_schema::Role::User)
                && near
                && let Some(c) = m.content.as_mut()
            {
                c.push_str(" please");
            }
            if !near
                && let Some(m) = s
                    .messages
                    .iter_mut()
                    .rev()
                    .find(|m| m.role == agentune_schema::Role::Assistant)
            {
                m.content = Some(format!("A different answer, number {}.", rng.below(1000)));
            }
        }
    }
}
