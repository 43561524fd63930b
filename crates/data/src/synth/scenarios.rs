//! The positive scenario generators: each draws a phrasing and slot values, runs the calls
//! the query needs through the real tools, reads the observations, and writes the answer from
//! the observed values in the query's language.

use agentune_runtime::tools::City;
use serde_json::{Value, json};

use super::Draft;
use super::Scenario;
use super::data::{city_name, seed};
use super::episode::{Episode, Lang, f, fill, fmt_num, num, pick, s};

type Out = Result<Draft, String>;

/// A draft for a positive query of `scenario`.
pub(crate) fn draft(scenario: Scenario, complex: bool, ep: Episode<'_>) -> Out {
    match scenario {
        Scenario::Weather => weather(ep, complex),
        Scenario::Travel => travel(ep, complex),
        Scenario::Math => math(ep, complex),
        Scenario::Units => units(ep, complex),
        Scenario::Currency => currency(ep, complex),
        Scenario::Dates => dates(ep, complex),
        Scenario::Knowledge => knowledge(ep, complex),
        Scenario::Notes => notes(ep, complex),
        Scenario::Chain => chain(ep),
    }
}

/// A phrasing in the episode's language.
fn phrase(ep: &mut Episode<'_>, en: &[&str], zh: &[&str]) -> String {
    let list = match ep.lang {
        Lang::En => en,
        Lang::Zh => zh,
    };
    (*pick(ep.rng, list)).to_owned()
}

fn any_city(ep: &mut Episode<'_>) -> Result<&'static City, String> {
    let sd = seed()?;
    Ok(pick(ep.rng, sd.cities))
}

// ---------------------------------------------------------------------------------------
// Weather

const W_TODAY_EN: &[&str] = &[
    "What's the weather like in {city} today?",
    "How's the weather in {city} right now?",
    "Is it hot in {city} today?",
    "Weather in {city} today, please.",
    "Can you check today's weather in {city}?",
    "Tell me the weather for {city}.",
    "What is it like outside in {city} today?",
    "I'm in {city}. What's the weather doing today?",
    "Give me today's conditions in {city}.",
    "Do I need a jacket in {city} today?",
    "Current weather in {city}?",
    "What's the temperature in {city} today?",
    "How humid is it in {city} today?",
    "Is it a nice day in {city}?",
    "Quick weather check for {city}, please.",
    "what's the weather in {city}",
    "Could you look up the weather in {city} for today?",
    "Any rain in {city} today?",
    "I need today's weather report for {city}.",
    "How cold is it in {city} today?",
];
const W_TODAY_ZH: &[&str] = &[
    "{city}今天天气怎么样？",
    "今天{city}的天气如何？",
    "帮我查一下{city}今天的天气。",
    "{city}今天热不热？",
    "{city}现在天气怎样？",
    "查询{city}今日天气",
    "我在{city}，今天天气如何？",
    "今天在{city}需要穿外套吗？",
    "{city}今天多少度？",
    "告诉我{city}今天的天气情况。",
    "{city}今天的气温和湿度是多少？",
    "想知道{city}今天的天气。",
    "{city}今天下雨吗？",
    "看看{city}今天天气",
    "请问{city}今天天气好吗？",
    "{city}今天冷不冷？",
    "帮忙看下{city}今天的天气预报。",
    "今天{city}适合出门吗？看看天气。",
];
const W_TOMORROW_EN: &[&str] = &[
    "Will it rain in {city} tomorrow?",
    "What's the forecast for {city} tomorrow?",
    "How will the weather be in {city} tomorrow?",
    "Should I bring an umbrella in {city} tomorrow?",
    "Tomorrow's weather in {city}?",
    "Is tomorrow going to be sunny in {city}?",
    "What will the temperature be in {city} tomorrow?",
    "I'm flying to {city}; what's the weather tomorrow?",
    "Check tomorrow's weather in {city} for me.",
    "Will tomorrow be a good day for a walk in {city}?",
    "How hot will it get in {city} tomorrow?",
    "What does tomorrow look like weather-wise in {city}?",
];
const W_TOMORROW_ZH: &[&str] = &[
    "{city}明天会下雨吗？",
    "明天{city}天气怎么样？",
    "{city}明天的天气预报是什么？",
    "明天去{city}要带伞吗？",
    "帮我看看{city}明天的天气。",
    "{city}明天晴天吗？",
    "{city}明天气温多少？",
    "我明天要去{city}，天气如何？",
    "查一下明天{city}的天气",
    "明天{city}适合散步吗？",
    "{city}明天最高温度多少？",
    "明天{city}冷吗？",
];
const W_DAYS_EN: &[&str] = &[
    "What's the {n}-day forecast for {city}?",
    "Give me the weather for the next {n} days in {city}.",
    "How does the weather look in {city} over the next {n} days?",
    "Forecast for {city}, next {n} days please.",
    "I'll be in {city} for {n} days starting today. What weather should I expect?",
    "Show me {city}'s forecast for the coming {n} days.",
    "Will it rain in {city} at any point in the next {n} days?",
    "What are the highs and lows in {city} for the next {n} days?",
];
const W_DAYS_ZH: &[&str] = &[
    "{city}未来{n}天天气怎么样？",
    "帮我查{city}接下来{n}天的天气预报。",
    "{city}这{n}天的天气如何？",
    "给我{city}未来{n}天的天气。",
    "我从今天起在{city}待{n}天，天气会怎样？",
    "{city}接下来{n}天会下雨吗？",
    "{city}未来{n}天的最高最低气温是多少？",
    "看看{city}今后{n}天的天气。",
];
const W_FAHRENHEIT_EN: &[&str] = &[
    "What's the weather in {city} today in Fahrenheit?",
    "Today's temperature in {city} in °F?",
    "How warm is it in {city} today? Give it to me in Fahrenheit.",
    "Weather for {city} today, in degrees Fahrenheit please.",
];
const W_FAHRENHEIT_ZH: &[&str] = &[
    "{city}今天的天气，用华氏度显示。",
    "用华氏度告诉我{city}今天的气温。",
    "{city}今天多少华氏度？",
];
const W_COMPARE_EN: &[&str] = &[
    "Is it warmer in {a} or {b} today?",
    "Compare today's weather in {a} and {b}.",
    "Which is hotter today, {a} or {b}?",
    "What's the weather in {a} and in {b} today?",
    "I can go to {a} or {b} today. Where is the weather better?",
    "Today's weather in {a} vs {b}?",
    "Check the weather in both {a} and {b} for today.",
];
const W_COMPARE_ZH: &[&str] = &[
    "今天{a}和{b}哪个更暖和？",
    "比较一下{a}和{b}今天的天气。",
    "今天{a}和{b}的天气分别怎么样？",
    "{a}和{b}今天哪里更热？",
    "今天去{a}还是{b}？看看两地天气。",
    "帮我查{a}和{b}今天的天气。",
    "{a}跟{b}今天的气温差多少？",
];

fn is_wet(d: &Value) -> bool {
    let c = s(d, "condition");
    c.contains("rain")
        || c.contains("snow")
        || c.contains("thunder")
        || f(d, "chance_of_rain") >= 50.0
}

fn unit_symbol(obs: &Value) -> &'static str {
    if s(obs, "unit") == "fahrenheit" {
        "°F"
    } else {
        "°C"
    }
}

/// One day of weather as a sentence.
fn day_line(lang: Lang, place: &str, when: &str, d: &Value, unit: &str) -> String {
    match lang {
        Lang::En => format!(
            "{place} {when}: {}, {} to {} {unit}, humidity {}%, {}% chance of rain.",
            s(d, "condition"),
            num(d, "temp_low"),
            num(d, "temp_high"),
            num(d, "humidity"),
            num(d, "chance_of_rain"),
        ),
        Lang::Zh => format!(
            "{place}{when}{}，气温{}~{}{unit}，湿度{}%，降水概率{}%。",
            s(d, "condition_zh"),
            num(d, "temp_low"),
            num(d, "temp_high"),
            num(d, "humidity"),
            num(d, "chance_of_rain"),
        ),
    }
}

fn simulated_note(lang: Lang) -> &'static str {
    lang.pick(
        "(The weather data is simulated.)",
        "（以上为模拟天气数据。）",
    )
}

fn days_of(obs: &Value) -> Vec<Value> {
    obs.get("days")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn weather(mut ep: Episode<'_>, complex: bool) -> Out {
    let lang = ep.lang;
    if complex {
        let a = any_city(&mut ep)?;
        let b = any_city(&mut ep)?;
        if a.id == b.id {
            return Err("same city drawn twice".into());
        }
        let (an, bn) = (city_name(a, lang).to_owned(), city_name(b, lang).to_owned());
        let q = fill(
            &phrase(&mut ep, W_COMPARE_EN, W_COMPARE_ZH),
            &[("a", &an), ("b", &bn)],
        );
        let th = match lang {
            Lang::En => (
                format!("I need today's weather in {an} and {bn}; I'll check both at once."),
                format!("First, today's weather in {an}."),
                format!("Now the weather in {bn}."),
            ),
            Lang::Zh => (
                format!("需要同时查询{an}和{bn}今天的天气。"),
                format!("先查{an}今天的天气。"),
                format!("再查{bn}的天气。"),
            ),
        };
        let (wa, wb) = ep.pair(
            th,
            ("get_weather", json!({"city": an})),
            ("get_weather", json!({"city": bn})),
        )?;
        let (ha, hb) = (f(&wa, "temp_high"), f(&wb, "temp_high"));
        let today = lang.pick("today", "今天");
        let verdict = match lang {
            Lang::En if ha > hb => {
                format!("{an} is warmer, by {} °C at the high.", fmt_num(ha - hb))
            }
            Lang::En if hb > ha => {
                format!("{bn} is warmer, by {} °C at the high.", fmt_num(hb - ha))
            }
            Lang::En => "Both reach the same high.".to_owned(),
            Lang::Zh if ha > hb => format!("{an}更暖和，最高气温高{}°C。", fmt_num(ha - hb)),
            Lang::Zh if hb > ha => format!("{bn}更暖和，最高气温高{}°C。", fmt_num(hb - ha)),
            Lang::Zh => "两地最高气温相同。".to_owned(),
        };
        let answer = format!(
            "{}\n{}\n{verdict} {}",
            day_line(lang, &an, today, &wa, "°C"),
            day_line(lang, &bn, today, &wb, "°C"),
            simulated_note(lang)
        );
        return Ok(ep.answer(q, answer));
    }
    let city = any_city(&mut ep)?;
    let cn = city_name(city, lang).to_owned();
    let variant = ep.rng.below(4);
    match variant {
        0 => {
            let q = fill(&phrase(&mut ep, W_TODAY_EN, W_TODAY_ZH), &[("city", &cn)]);
            let th = match lang {
                Lang::En => {
                    format!("The user wants today's weather in {cn}; get_weather gives it.")
                }
                Lang::Zh => format!("用户想知道{cn}今天的天气，调用get_weather查询。"),
            };
            let w = ep.call(th, "get_weather", json!({"city": cn}))?;
            let answer = format!(
                "{} {}",
                day_line(lang, &cn, lang.pick("today", "今天"), &w, unit_symbol(&w)),
                simulated_note(lang)
            );
            Ok(ep.answer(q, answer))
        }
        1 => {
            let q = fill(
                &phrase(&mut ep, W_TOMORROW_EN, W_TOMORROW_ZH),
                &[("city", &cn)],
            );
            let th = match lang {
                Lang::En => format!("Tomorrow's weather is in a 2-day forecast for {cn}."),
                Lang::Zh => format!("查询{cn}两天的天气预报，第二天就是明天。"),
            };
            let fc = ep.call(th, "get_forecast", json!({"city": cn, "days": 2}))?;
            let days = days_of(&fc);
            let d = days.get(1).ok_or("forecast without a second day")?;
            let advice = match (lang, is_wet(d)) {
                (Lang::En, true) => "Take an umbrella.",
                (Lang::En, false) => "No umbrella needed.",
                (Lang::Zh, true) => "建议带伞。",
                (Lang::Zh, false) => "不用带伞。",
            };
            let when = match lang {
                Lang::En => format!("tomorrow ({})", s(d, "date")),
                Lang::Zh => format!("明天（{}）", s(d, "date")),
            };
            let answer = format!(
                "{} {advice} {}",
                day_line(lang, &cn, &when, d, "°C"),
                simulated_note(lang)
            );
            Ok(ep.answer(q, answer))
        }
        2 => {
            let n = 3 + ep.rng.below(5);
            let ns = n.to_string();
            let q = fill(
                &phrase(&mut ep, W_DAYS_EN, W_DAYS_ZH),
                &[("city", &cn), ("n", &ns)],
            );
            let th = match lang {
                Lang::En => format!("I'll get the {n}-day forecast for {cn}."),
                Lang::Zh => format!("查询{cn}未来{n}天的天气预报。"),
            };
            let fc = ep.call(th, "get_forecast", json!({"city": cn, "days": n}))?;
            let lines: Vec<String> = days_of(&fc)
                .iter()
                .map(|d| {
                    let when = format!(
                        "{} ({})",
                        s(d, "date"),
                        lang.pick(s(d, "weekday"), s(d, "weekday"))
                    );
                    match lang {
                        Lang::En => {
                            format!("- {}", day_line(lang, "", &when, d, "°C").trim_start())
                        }
                        Lang::Zh => format!(
                            "- {}",
                            day_line(lang, "", &format!("{}：", s(d, "date")), d, "°C")
                        ),
                    }
                })
                .collect();
            let wet = days_of(&fc).iter().filter(|d| is_wet(d)).count();
            let head = match lang {
                Lang::En => format!("The {n}-day forecast for {cn} ({wet} wet day(s)):"),
                Lang::Zh => format!("{cn}未来{n}天天气（{wet}天可能有降水）："),
            };
            let answer = format!("{head}\n{}\n{}", lines.join("\n"), simulated_note(lang));
            Ok(ep.answer(q, answer))
        }
        _ => {
            let q = fill(
                &phrase(&mut ep, W_FAHRENHEIT_EN, W_FAHRENHEIT_ZH),
                &[("city", &cn)],
            );
            let th = match lang {
                Lang::En => format!("get_weather can report {cn}'s weather in Fahrenheit."),
                Lang::Zh => format!("调用get_weather并指定华氏度查询{cn}。"),
            };
            let w = ep.call(th, "get_weather", json!({"city": cn, "unit": "fahrenheit"}))?;
            let answer = format!(
                "{} {}",
                day_line(lang, &cn, lang.pick("today", "今天"), &w, unit_symbol(&w)),
                simulated_note(lang)
            );
            Ok(ep.answer(q, answer))
        }
    }
}

// ---------------------------------------------------------------------------------------
// Travel

/// Category: id, English plural, Chinese word, English keyword, Chinese keyword.
const CATS: &[(&str, &str, &str, &str, &str)] = &[
    ("park", "parks", "公园", "park", "公园"),
    ("camping", "campsites", "露营地", "camping", "露营"),
    (
        "hiking",
        "hiking trails",
        "徒步路线",
        "hiking trail",
        "徒步",
    ),
    ("beach", "beaches", "海滩", "beach", "海滩"),
    ("museum", "museums", "博物馆", "museum", "博物馆"),
    ("attraction", "sights", "景点", "sightseeing", "景点"),
    ("temple", "temples", "寺庙", "temple", "寺庙"),
    ("restaurant", "restaurants", "餐厅", "restaurant", "餐厅"),
    (
        "shopping",
        "shopping spots",
        "购物的地方",
        "shopping",
        "购物",
    ),
    (
        "nightlife",
        "nightlife spots",
        "夜生活去处",
        "nightlife",
        "夜生活",
    ),
];

const T_EN: &[&str] = &[
    "Where should I go for {cat} in {city}?",
    "Looking for {cat} in {city}. Ideas?",
    "What {cat} do locals like in {city}?",
    "Name some well-rated {cat} in {city}.",
    "I'll be in {city} next week. Which {cat} are worth it?",
    "Show me {cat} around {city}.",
    "Help me pick {cat} in {city}.",
    "Are there any {cat} you'd recommend in {city}?",
    "Best {cat} in {city}, please.",
    "Give me a short list of {cat} in {city}.",
    "What are some popular {cat} in {city}?",
    "Could you search {cat} in {city} for me?",
    "Recommend some {cat} in {city}.",
    "What are the best {cat} in {city}?",
    "Any good {cat} in {city}?",
    "I'm visiting {city}; which {cat} should I check out?",
    "Find me {cat} in {city}.",
    "Where can I find nice {cat} in {city}?",
    "List a few {cat} worth visiting in {city}.",
    "Suggest {cat} in {city} for this weekend.",
    "My friends are coming to {city}. What {cat} would you suggest?",
    "Top-rated {cat} in {city}?",
    "Search for {cat} in {city}, please.",
    "We have a free afternoon in {city}. Any {cat} nearby?",
];
const T_ZH: &[&str] = &[
    "{city}有哪些值得推荐的{cat}？",
    "在{city}想找{cat}，有什么建议？",
    "{city}本地人喜欢去哪些{cat}？",
    "说几个{city}评价好的{cat}。",
    "下周去{city}，哪些{cat}值得一去？",
    "看看{city}附近的{cat}。",
    "帮我挑几个{city}的{cat}。",
    "{city}有没有推荐的{cat}？",
    "{city}最好的{cat}是哪些？",
    "给我一份{city}{cat}的清单。",
    "{city}有哪些热门{cat}？",
    "帮我搜索一下{city}的{cat}吧。",
    "推荐几个{city}的{cat}。",
    "{city}有什么好的{cat}？",
    "我要去{city}，有哪些{cat}值得去？",
    "帮我找找{city}的{cat}。",
    "{city}哪里有不错的{cat}？",
    "列几个{city}值得去的{cat}。",
    "周末想在{city}逛逛，推荐些{cat}吧。",
    "{city}的{cat}有哪些推荐？",
    "朋友来{city}玩，有什么{cat}推荐？",
    "{city}评分高的{cat}有哪些？",
    "搜一下{city}的{cat}",
    "下午在{city}有空，附近有什么{cat}？",
];
const T2_EN: &[&str] = &[
    "Find {cat} in {city}, and separately some {cat2}.",
    "One day in {city}: I need {cat} in the morning and {cat2} later. Suggestions?",
    "Recommend both {cat} and {cat2} in {city}.",
    "Which {cat} and {cat2} are good in {city}?",
    "Looking for {cat} and {cat2} in {city}.",
    "I'm in {city} for a day: find me {cat} and {cat2}.",
    "Plan my afternoon in {city}: I'd like {cat} and then {cat2}.",
    "What {cat} and what {cat2} do you recommend in {city}?",
    "Search {city} for {cat}, and also for {cat2}.",
    "Visiting {city} tomorrow. Suggest {cat} plus some {cat2}.",
];
const T2_ZH: &[&str] = &[
    "在{city}找找{cat}，另外再找些{cat2}。",
    "{city}一日游：上午去{cat}，下午去{cat2}，有推荐吗？",
    "同时推荐{city}的{cat}和{cat2}。",
    "{city}有哪些不错的{cat}和{cat2}？",
    "想在{city}找{cat}和{cat2}。",
    "我在{city}待一天，帮我找{cat}和{cat2}。",
    "在{city}的下午想去{cat}，之后再去{cat2}，有推荐吗？",
    "{city}有哪些{cat}和{cat2}推荐？",
    "分别搜一下{city}的{cat}和{cat2}。",
    "明天去{city}，推荐些{cat}和{cat2}。",
];

/// The English or Chinese part of a bilingual description.
fn desc_part(desc: &str, lang: Lang) -> String {
    let cut = desc
        .char_indices()
        .find(|(_, c)| crate::is_cjk(*c))
        .map(|(i, _)| i);
    match (cut, lang) {
        (Some(i), Lang::En) if i > 0 => desc[..i].trim().to_owned(),
        (Some(i), Lang::Zh) => desc[i..].trim().to_owned(),
        _ => desc.trim().to_owned(),
    }
}

fn place_lines(obs: &Value, lang: Lang) -> Vec<String> {
    obs.get("results")
        .and_then(Value::as_array)
        .map(|rs| {
            rs.iter()
                .enumerate()
                .map(|(i, p)| {
                    let name = match lang {
                        Lang::Zh if !s(p, "name_zh").is_empty() => s(p, "name_zh"),
                        _ => s(p, "name"),
                    };
                    let desc = desc_part(s(p, "description"), lang);
                    match lang {
                        Lang::En => format!(
                            "{}. {name} (rating {}, price {}): {desc}",
                            i + 1,
                            num(p, "rating"),
                            s(p, "price")
                        ),
                        Lang::Zh => format!(
                            "{}. {name}（评分{}，价位{}）：{desc}",
                            i + 1,
                            num(p, "rating"),
                            match s(p, "price") {
                                "free" => "免费",
                                other => other,
                            }
                        ),
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Results a place search asks for. The queries ask for "some" places and never say how
/// many, so the count is fixed: one drawn at random would be a gold argument no model can infer
/// from the query.
const SEARCH_LIMIT: usize = 3;

/// Entries a knowledge lookup asks for; fixed for the same reason as [`SEARCH_LIMIT`].
const LOOKUP_LIMIT: usize = 3;

fn travel(mut ep: Episode<'_>, complex: bool) -> Out {
    let lang = ep.lang;
    let sd = seed()?;
    let cat = *pick(ep.rng, CATS);
    let ids = sd.cities_with(cat.0);
    let city = sd
        .city(pick::<&str>(ep.rng, &ids))
        .ok_or("place in an unknown city")?;
    let cn = city_name(city, lang).to_owned();
    let cat_word = lang.pick(cat.1, cat.2);
    let limit = SEARCH_LIMIT;
    let search = |c: (&str, &str, &str, &str, &str)| json!({"query": lang.pick(c.3, c.4), "city": cn, "category": c.0, "limit": limit});
    if complex {
        let cat2 = *pick(ep.rng, CATS);
        if cat2.0 == cat.0 || !sd.cities_with(cat2.0).contains(&city.id.as_str()) {
            return Err("second category not in that city".into());
        }
        let cat2_word = lang.pick(cat2.1, cat2.2);
        let q = fill(
            &phrase(&mut ep, T2_EN, T2_ZH),
            &[("city", &cn), ("cat", cat_word), ("cat2", cat2_word)],
        );
        let th = match lang {
            Lang::En => (
                format!("Two searches in {cn}: {cat_word} and {cat2_word}."),
                format!("First I'll search {cn} for {cat_word}."),
                format!("Now {cat2_word} in {cn}."),
            ),
            Lang::Zh => (
                format!("需要在{cn}分别搜索{cat_word}和{cat2_word}。"),
                format!("先搜索{cn}的{cat_word}。"),
                format!("再搜索{cn}的{cat2_word}。"),
            ),
        };
        let (r1, r2) = ep.pair(
            th,
            ("search_places", search(cat)),
            ("search_places", search(cat2)),
        )?;
        if f(&r1, "count") == 0.0 || f(&r2, "count") == 0.0 {
            return Err("empty place search".into());
        }
        let answer = match lang {
            Lang::En => format!(
                "{} in {cn}:\n{}\n\n{} in {cn}:\n{}",
                capitalise(cat_word),
                place_lines(&r1, lang).join("\n"),
                capitalise(cat2_word),
                place_lines(&r2, lang).join("\n")
            ),
            Lang::Zh => format!(
                "{cn}的{cat_word}：\n{}\n\n{cn}的{cat2_word}：\n{}",
                place_lines(&r1, lang).join("\n"),
                place_lines(&r2, lang).join("\n")
            ),
        };
        return Ok(ep.answer(q, answer));
    }
    let q = fill(
        &phrase(&mut ep, T_EN, T_ZH),
        &[("city", &cn), ("cat", cat_word)],
    );
    let th = match lang {
        Lang::En => format!("I'll search for {cat_word} in {cn}."),
        Lang::Zh => format!("搜索{cn}的{cat_word}。"),
    };
    let r = ep.call(th, "search_places", search(cat))?;
    if f(&r, "count") == 0.0 {
        return Err("empty place search".into());
    }
    let answer = match lang {
        Lang::En => format!(
            "Here is what I found for {cat_word} in {cn}:\n{}",
            place_lines(&r, lang).join("\n")
        ),
        Lang::Zh => format!(
            "为你找到{cn}的{cat_word}：\n{}",
            place_lines(&r, lang).join("\n")
        ),
    };
    Ok(ep.answer(q, answer))
}

fn capitalise(text: &str) -> String {
    let mut c = text.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

// ---------------------------------------------------------------------------------------
// Math

/// A one-call arithmetic question: phrasings (English, Chinese) and the expression.
fn math_simple(ep: &mut Episode<'_>) -> (String, String) {
    let r = &mut *ep.rng;
    let a = 12 + r.below(988);
    let b = 3 + r.below(97);
    let p = [5, 8, 10, 12, 15, 18, 20, 25, 30, 35, 40, 75][r.below(12)];
    let n = 2 + r.below(10);
    let (a, b, p, n) = (a.to_string(), b.to_string(), p.to_string(), n.to_string());
    let sq = [2, 3, 5, 7, 10, 50, 144, 200, 625, 1000][r.below(10)].to_string();
    let kind = r.below(7);
    let slots = [
        ("a", a.as_str()),
        ("b", b.as_str()),
        ("p", p.as_str()),
        ("n", n.as_str()),
        ("sq", sq.as_str()),
    ];
    let (en, zh, expr): (&[&str], &[&str], &str) = match kind {
        0 => (
            &[
                "What is {a} times {b}?",
                "Calculate {a} × {b}.",
                "How much is {a} multiplied by {b}?",
                "{a} * {b} = ?",
                "Multiply {a} by {b} for me.",
            ],
            &[
                "{a}乘以{b}等于多少？",
                "算一下{a}×{b}。",
                "{a}乘{b}是多少？",
                "帮我计算{a}*{b}",
                "{a}和{b}的乘积是多少？",
            ],
            "{a}*{b}",
        ),
        1 => (
            &[
                "What is {p}% of {a}?",
                "Calculate {p} percent of {a}.",
                "How much is {p}% of {a}?",
                "Find {p}% of {a}.",
            ],
            &[
                "{a}的{p}%是多少？",
                "计算{a}的百分之{p}。",
                "{a}乘以{p}%等于多少？",
                "帮我算{a}的{p}%。",
            ],
            "{a}*{p}/100",
        ),
        2 => (
            &[
                "What's the square root of {sq}?",
                "Calculate sqrt({sq}).",
                "Square root of {sq}, please.",
            ],
            &["{sq}的平方根是多少？", "计算根号{sq}。", "帮我开方：{sq}"],
            "sqrt({sq})",
        ),
        3 => (
            &[
                "What is {a} divided by {b}?",
                "Divide {a} by {b}.",
                "How much is {a} / {b}?",
                "If {a} is split into {b} equal parts, how big is each?",
            ],
            &[
                "{a}除以{b}等于多少？",
                "算一下{a}÷{b}。",
                "{a}平均分成{b}份，每份多少？",
                "{a}/{b}是多少？",
            ],
            "{a}/{b}",
        ),
        4 => (
            &[
                "The bill is {a} and we add a {p}% tip. Split between {n} people, how much does each pay?",
                "Split a {a} dinner bill with a {p}% tip among {n} friends.",
                "{n} of us owe {a} plus {p}% tip. What's each share?",
            ],
            &[
                "账单{a}元，加{p}%小费，{n}个人平摊每人多少？",
                "{n}个人吃饭花了{a}，再加{p}%服务费，每人付多少？",
                "帮我算：{a}加上{p}%小费后{n}人AA，每人多少钱？",
            ],
            "{a}*(1+{p}/100)/{n}",
        ),
        5 => (
            &[
                "What is {b} to the power of {n}?",
                "Compute {b}^{n}.",
                "Raise {b} to the {n}th power.",
            ],
            &[
                "{b}的{n}次方是多少？",
                "计算{b}^{n}。",
                "{b}的{n}次幂等于多少？",
            ],
            "{b}^{n}",
        ),
        _ => (
            &[
                "What's the average of {a}, {b} and {n}?",
                "Find the mean of {a}, {b}, {n}.",
                "Average these numbers: {a}, {b}, {n}.",
            ],
            &[
                "{a}、{b}和{n}的平均数是多少？",
                "求{a}，{b}，{n}的平均值。",
                "算一下{a}、{b}、{n}三个数的平均数。",
            ],
            "({a}+{b}+{n})/3",
        ),
    };
    let list = match ep.lang {
        Lang::En => en,
        Lang::Zh => zh,
    };
    let q = fill(pick::<&str>(ep.rng, list), &slots);
    (q, fill(expr, &slots))
}

fn math(mut ep: Episode<'_>, complex: bool) -> Out {
    let lang = ep.lang;
    if complex {
        let r = &mut *ep.rng;
        let principal = (1 + r.below(50)) * 1000;
        let rate = ["2", "2.5", "3", "3.5", "4", "4.5", "5", "6"][r.below(8)];
        let years = 2 + r.below(18);
        let (ps, ys) = (principal.to_string(), years.to_string());
        let slots = [("p", ps.as_str()), ("r", rate), ("y", ys.as_str())];
        let q = fill(
            &phrase(
                &mut ep,
                &[
                    "If I invest {p} at {r}% interest compounded yearly for {y} years, what will I have, and how much of it is interest?",
                    "{p} dollars at {r}% a year, compounded annually, for {y} years: final balance and total interest?",
                    "How much interest does {p} earn over {y} years at {r}% compound interest? Also give the final amount.",
                    "Compound {p} at {r}% per year for {y} years. What's the end value and the gain?",
                ],
                &[
                    "{p}元按年利率{r}%复利存{y}年，最后有多少钱？其中利息多少？",
                    "本金{p}，年利率{r}%，按年复利{y}年，本息合计和利息分别是多少？",
                    "存{p}元，{y}年复利，年利率{r}%，到期能拿多少？赚了多少利息？",
                    "帮我算{p}元以{r}%复利投资{y}年的终值和收益。",
                ],
            ),
            &slots,
        );
        let expr = fill("{p}*(1+{r}/100)^{y}", &slots);
        let th1 = match lang {
            Lang::En => format!("Final amount = {ps} × (1 + {rate}/100)^{ys}; I'll compute it."),
            Lang::Zh => format!("本息合计 = {ps} × (1 + {rate}/100)^{ys}，先计算它。"),
        };
        let total = ep.call(th1, "calculator", json!({"expression": expr}))?;
        let t = total
            .get("result")
            .and_then(Value::as_f64)
            .ok_or("no result")?;
        let t_text = total
            .get("result")
            .map(Value::to_string)
            .unwrap_or_default();
        let th2 = match lang {
            Lang::En => format!("The final amount is {t_text}. Interest = {t_text} − {ps}."),
            Lang::Zh => format!("本息合计为{t_text}，利息 = {t_text} − {ps}。"),
        };
        let interest = ep.call(
            th2,
            "calculator",
            json!({"expression": format!("{t_text}-{ps}")}),
        )?;
        let i = interest
            .get("result")
            .and_then(Value::as_f64)
            .ok_or("no result")?;
        let answer = match lang {
            Lang::En => format!(
                "After {ys} years at {rate}% compounded yearly, {ps} grows to {}; the interest earned is {}.",
                fmt_num(t),
                fmt_num(i)
            ),
            Lang::Zh => format!(
                "按年利率{rate}%复利{ys}年，{ps}元将增长到{}元，其中利息为{}元。",
                fmt_num(t),
                fmt_num(i)
            ),
        };
        return Ok(ep.answer(q, answer));
    }
    let (q, expr) = math_simple(&mut ep);
    let th = match lang {
        Lang::En => format!("I'll evaluate {expr} with the calculator."),
        Lang::Zh => format!("用计算器计算{expr}。"),
    };
    let r = ep.call(th, "calculator", json!({"expression": expr}))?;
    let v = r.get("result").and_then(Value::as_f64).ok_or("no result")?;
    let exact = r.get("result").map(Value::to_string).unwrap_or_default();
    let shown = fmt_num(v);
    let answer = match lang {
        Lang::En if shown != exact => format!("{expr} = {exact}, about {shown}."),
        Lang::En => format!("{expr} = {exact}."),
        Lang::Zh if shown != exact => format!("{expr} = {exact}，约为{shown}。"),
        Lang::Zh => format!("{expr} = {exact}。"),
    };
    Ok(ep.answer(q, answer))
}

// ---------------------------------------------------------------------------------------
// Units

/// Unit: symbol, English name (plural), Chinese name, category.
const UNITS: &[(&str, &str, &str, &str)] = &[
    ("km", "kilometres", "公里", "length"),
    ("mi", "miles", "英里", "length"),
    ("m", "metres", "米", "length"),
    ("ft", "feet", "英尺", "length"),
    ("in", "inches", "英寸", "length"),
    ("cm", "centimetres", "厘米", "length"),
    ("kg", "kilograms", "千克", "mass"),
    ("lb", "pounds", "磅", "mass"),
    ("g", "grams", "克", "mass"),
    ("oz", "ounces", "盎司", "mass"),
    ("jin", "jin", "斤", "mass"),
    ("C", "degrees Celsius", "摄氏度", "temperature"),
    ("F", "degrees Fahrenheit", "华氏度", "temperature"),
    ("l", "litres", "升", "volume"),
    ("gal", "US gallons", "加仑", "volume"),
    ("ml", "millilitres", "毫升", "volume"),
    ("cup", "cups", "杯", "volume"),
    ("km/h", "km/h", "公里每小时", "speed"),
    ("mph", "mph", "英里每小时", "speed"),
    ("m2", "square metres", "平方米", "area"),
    ("ft2", "square feet", "平方英尺", "area"),
    ("mu", "mu", "亩", "area"),
    ("ha", "hectares", "公顷", "area"),
    ("acre", "acres", "英亩", "area"),
    ("GB", "gigabytes", "GB", "data"),
    ("MB", "megabytes", "MB", "data"),
    ("GiB", "GiB", "GiB", "data"),
    ("h", "hours", "小时", "time"),
    ("min", "minutes", "分钟", "time"),
    ("day", "days", "天", "time"),
];

const U_EN: &[&str] = &[
    "Turn {v} {from} into {to}.",
    "What does {v} {from} come to in {to}?",
    "Express {v} {from} in {to}.",
    "Quick conversion: {v} {from} in {to}?",
    "My recipe says {v} {from}. How many {to} is that?",
    "Convert {v} {from} into {to}, please.",
    "How many {to} make {v} {from}?",
    "{v} {from} equals how many {to}?",
    "Need {v} {from} in {to}.",
    "What's the {to} equivalent of {v} {from}?",
    "I measured {v} {from}. What's that in {to}?",
    "Change {v} {from} to {to}.",
    "Help me convert {v} {from} to {to}.",
    "If something is {v} {from}, how many {to} is it?",
    "How many {to} are in {v} {from}?",
    "Convert {v} {from} to {to}.",
    "What is {v} {from} in {to}?",
    "{v} {from} = how many {to}?",
    "Please change {v} {from} into {to}.",
    "I have {v} {from}. How much is that in {to}?",
    "What's {v} {from} expressed in {to}?",
    "Can you convert {v} {from} into {to} for me?",
    "{v} {from} to {to}?",
    "How much is {v} {from} in {to}?",
];
const U_ZH: &[&str] = &[
    "{v}{from}合计多少{to}？",
    "把{v}{from}换成{to}吧。",
    "{v}{from}用{to}表示是多少？",
    "快速换算：{v}{from}是多少{to}？",
    "菜谱上写{v}{from}，是多少{to}？",
    "请把{v}{from}换算为{to}。",
    "多少{to}等于{v}{from}？",
    "{v}{from}等于几{to}？",
    "需要把{v}{from}换成{to}。",
    "{v}{from}相当于多少{to}？",
    "我量出来是{v}{from}，换成{to}是多少？",
    "{v}{from}转成{to}。",
    "帮我换算{v}{from}到{to}。",
    "一个东西{v}{from}，是多少{to}？",
    "{v}{from}等于多少{to}？",
    "把{v}{from}换算成{to}。",
    "{v}{from}是多少{to}？",
    "{v}{from}换算成{to}是多少？",
    "帮我把{v}{from}转换为{to}。",
    "我有{v}{from}，合多少{to}？",
    "{v}{from}折合多少{to}？",
    "请问{v}{from}等于几{to}？",
    "单位换算：{v}{from}→{to}",
    "{v}{from}大概是多少{to}？",
];
const U2_EN: &[&str] = &[
    "Express {v} {from} in {to} and in {to2}.",
    "I need {v} {from} converted twice: into {to} and into {to2}.",
    "What's {v} {from} in {to}? And in {to2}?",
    "Convert {v} {from} to {to} and to {to2}.",
    "What is {v} {from} in {to}, and in {to2}?",
    "Give me {v} {from} both in {to} and in {to2}.",
    "How many {to} and how many {to2} are in {v} {from}?",
];
const U2_ZH: &[&str] = &[
    "{v}{from}用{to}和{to2}分别表示是多少？",
    "把{v}{from}换算两次：换成{to}，再换成{to2}。",
    "{v}{from}是多少{to}？是多少{to2}？",
    "把{v}{from}分别换算成{to}和{to2}。",
    "{v}{from}等于多少{to}？又等于多少{to2}？",
    "{v}{from}换成{to}和{to2}各是多少？",
    "帮我把{v}{from}转换成{to}，再转换成{to2}。",
];

fn unit_value(ep: &mut Episode<'_>, category: &str) -> f64 {
    let r = &mut *ep.rng;
    match category {
        "temperature" => (r.below(80) as f64) - 20.0,
        _ if r.below(4) == 0 => (r.below(400) as f64) / 2.0 + 0.5,
        _ => (1 + r.below(500)) as f64,
    }
}

fn units(mut ep: Episode<'_>, complex: bool) -> Out {
    let lang = ep.lang;
    let from = *pick(ep.rng, UNITS);
    let same: Vec<_> = UNITS
        .iter()
        .filter(|u| u.3 == from.3 && u.0 != from.0)
        .copied()
        .collect();
    if same.is_empty() {
        return Err("no unit to convert to".into());
    }
    let to = *pick(ep.rng, &same);
    let v = unit_value(&mut ep, from.3);
    let vs = fmt_num(v);
    let name = |u: (&str, &str, &str, &str)| lang.pick(u.1, u.2).to_owned();
    let conv =
        |u: (&str, &str, &str, &str)| json!({"value": v, "from_unit": from.0, "to_unit": u.0});
    let line = |u: (&str, &str, &str, &str), obs: &Value| match lang {
        Lang::En => format!("{vs} {} = {} {}", from.1, num(obs, "result"), u.1),
        Lang::Zh => format!("{vs}{} = {}{}", from.2, num(obs, "result"), u.2),
    };
    if complex {
        let others: Vec<_> = same.iter().filter(|u| u.0 != to.0).copied().collect();
        if others.is_empty() {
            return Err("no second unit".into());
        }
        let to2 = *pick(ep.rng, &others);
        let q = fill(
            &phrase(&mut ep, U2_EN, U2_ZH),
            &[
                ("v", &vs),
                ("from", &name(from)),
                ("to", &name(to)),
                ("to2", &name(to2)),
            ],
        );
        let th = match lang {
            Lang::En => (
                format!(
                    "Two conversions of {vs} {}: to {} and to {}.",
                    from.0, to.0, to2.0
                ),
                format!("First {} to {}.", from.0, to.0),
                format!("Then {} to {}.", from.0, to2.0),
            ),
            Lang::Zh => (
                format!("需要把{vs}{}分别换算成{}和{}。", from.2, to.2, to2.2),
                format!("先换算成{}。", to.2),
                format!("再换算成{}。", to2.2),
            ),
        };
        let (a, b) = ep.pair(
            th,
            ("convert_units", conv(to)),
            ("convert_units", conv(to2)),
        )?;
        let answer = match lang {
            Lang::En => format!("{}, and {}.", line(to, &a), line(to2, &b)),
            Lang::Zh => format!("{}；{}。", line(to, &a), line(to2, &b)),
        };
        return Ok(ep.answer(q, answer));
    }
    let q = fill(
        &phrase(&mut ep, U_EN, U_ZH),
        &[("v", &vs), ("from", &name(from)), ("to", &name(to))],
    );
    let th = match lang {
        Lang::En => format!(
            "This is a {} conversion from {} to {}.",
            from.3, from.0, to.0
        ),
        Lang::Zh => format!("这是单位换算：{}换算为{}。", from.2, to.2),
    };
    let obs = ep.call(th, "convert_units", conv(to))?;
    let answer = match lang {
        Lang::En => format!("{}.", line(to, &obs)),
        Lang::Zh => format!("{}。", line(to, &obs)),
    };
    Ok(ep.answer(q, answer))
}

// ---------------------------------------------------------------------------------------
// Currency

const CURRENCIES: &[(&str, &str, &str)] = &[
    ("USD", "US dollars", "美元"),
    ("CNY", "Chinese yuan", "人民币"),
    ("EUR", "euros", "欧元"),
    ("GBP", "British pounds", "英镑"),
    ("JPY", "Japanese yen", "日元"),
    ("KRW", "Korean won", "韩元"),
    ("HKD", "Hong Kong dollars", "港币"),
    ("SGD", "Singapore dollars", "新加坡元"),
    ("AUD", "Australian dollars", "澳元"),
    ("CAD", "Canadian dollars", "加元"),
    ("CHF", "Swiss francs", "瑞士法郎"),
    ("THB", "Thai baht", "泰铢"),
    ("INR", "Indian rupees", "印度卢比"),
    ("TWD", "New Taiwan dollars", "新台币"),
    ("MYR", "Malaysian ringgit", "马来西亚林吉特"),
];

const C_EN: &[&str] = &[
    "Convert {a} {from} into {to} for me.",
    "What do {a} {from} come to in {to}?",
    "If I pay {a} {from}, how much is that in {to}?",
    "Exchange rate question: {a} {from} in {to}?",
    "{a} {from} equals how many {to}?",
    "How much would I get in {to} for {a} {from}?",
    "My budget is {a} {from}. What's that in {to}?",
    "Quick currency check: {a} {from} to {to}.",
    "The ticket costs {a} {from}. How much in {to}?",
    "What's the {to} value of {a} {from}?",
    "Please change {a} {from} to {to}.",
    "Tell me {a} {from} in {to}.",
    "How much is {a} {from} in {to}?",
    "Convert {a} {from} to {to}.",
    "What's {a} {from} worth in {to}?",
    "I have {a} {from}. How many {to} is that?",
    "Exchange {a} {from} into {to}: how much do I get?",
    "{a} {from} to {to}?",
    "What would {a} {from} be in {to}?",
    "Change {a} {from} into {to}, please.",
    "How many {to} can I get for {a} {from}?",
    "Price is {a} {from}. What's that in {to}?",
];
const C_ZH: &[&str] = &[
    "帮我把{a}{from}换算成{to}。",
    "{a}{from}合多少{to}？",
    "付{a}{from}的话相当于多少{to}？",
    "汇率问题：{a}{from}换{to}是多少？",
    "{a}{from}等于几{to}？",
    "用{a}{from}能换到多少{to}？",
    "我的预算是{a}{from}，折合{to}多少？",
    "查一下{a}{from}兑{to}。",
    "门票{a}{from}，换成{to}是多少？",
    "{a}{from}的{to}价值是多少？",
    "请把{a}{from}兑换成{to}。",
    "告诉我{a}{from}是多少{to}。",
    "{a}{from}等于多少{to}？",
    "把{a}{from}换成{to}。",
    "{a}{from}能换多少{to}？",
    "我有{a}{from}，合多少{to}？",
    "{a}{from}兑换{to}是多少？",
    "{a}{from}折合{to}多少钱？",
    "帮我算一下{a}{from}等于多少{to}。",
    "标价{a}{from}，换成{to}是多少？",
    "{a}{from}换{to}",
    "请问{a}{from}相当于多少{to}？",
];
const C2_EN: &[&str] = &[
    "Each night costs {a} {from}; I'm staying {n} nights. What's the total in {to}?",
    "A tour is {a} {from} per person for {n} people. Total in {to}?",
    "{n} tickets at {a} {from} each: how much in {to}?",
    "A hotel costs {a} {from} per night. What do {n} nights cost in {to}?",
    "I'm staying {n} nights at {a} {from} a night; total in {to}?",
    "Rent is {a} {from} per night for {n} nights. How much is that altogether in {to}?",
];
const C2_ZH: &[&str] = &[
    "每晚{a}{from}，住{n}晚，总共多少{to}？",
    "旅游团每人{a}{from}，{n}个人一共多少{to}？",
    "{n}张票每张{a}{from}，合计多少{to}？",
    "酒店每晚{a}{from}，住{n}晚一共多少{to}？",
    "每晚{a}{from}，住{n}晚，总价折合{to}是多少？",
    "一晚{a}{from}，订{n}晚，合计换成{to}多少钱？",
];

fn currency(mut ep: Episode<'_>, complex: bool) -> Out {
    let lang = ep.lang;
    let from = *pick(ep.rng, CURRENCIES);
    let to = *pick(ep.rng, CURRENCIES);
    if from.0 == to.0 {
        return Err("same currency".into());
    }
    let amount = [
        20, 50, 88, 100, 150, 200, 250, 300, 500, 750, 1000, 1200, 2000, 5000,
    ][ep.rng.below(14)];
    let amount = if from.0 == "JPY" || from.0 == "KRW" {
        amount * 100
    } else {
        amount
    };
    let name = |c: (&str, &str, &str)| lang.pick(c.1, c.2).to_owned();
    let rate_note = |obs: &Value| match lang {
        Lang::En => format!(
            "(fixed reference rate {} dated {}, not a live quote)",
            exact(obs, "rate"),
            s(obs, "rate_date")
        ),
        Lang::Zh => format!(
            "（按{}的固定参考汇率{}计算，并非实时汇率）",
            s(obs, "rate_date"),
            exact(obs, "rate")
        ),
    };
    if complex {
        let n = 2 + ep.rng.below(9);
        let (a_s, n_s) = (amount.to_string(), n.to_string());
        let q = fill(
            &phrase(&mut ep, C2_EN, C2_ZH),
            &[
                ("a", &a_s),
                ("n", &n_s),
                ("from", &name(from)),
                ("to", &name(to)),
            ],
        );
        let th1 = match lang {
            Lang::En => format!("First the total in {}: {a_s} × {n_s}.", from.0),
            Lang::Zh => format!("先算{}总价：{a_s} × {n_s}。", from.2),
        };
        let total = ep.call(
            th1,
            "calculator",
            json!({"expression": format!("{a_s}*{n_s}")}),
        )?;
        let t = total
            .get("result")
            .and_then(Value::as_f64)
            .ok_or("no result")?;
        let th2 = match lang {
            Lang::En => format!(
                "The total is {} {}; now convert it to {}.",
                fmt_num(t),
                from.0,
                to.0
            ),
            Lang::Zh => format!("总价{}{}，再换算成{}。", fmt_num(t), from.2, to.2),
        };
        let obs = ep.call(
            th2,
            "currency_convert",
            json!({"amount": t, "from_currency": from.0, "to_currency": to.0}),
        )?;
        let answer = match lang {
            Lang::En => format!(
                "{n_s} nights at {a_s} {} come to {} {}, which is about {} {} {}.",
                from.0,
                fmt_num(t),
                from.0,
                num(&obs, "result"),
                to.0,
                rate_note(&obs)
            ),
            Lang::Zh => format!(
                "{n_s}晚共{}{}，约合{}{}{}。",
                fmt_num(t),
                from.2,
                num(&obs, "result"),
                to.2,
                rate_note(&obs)
            ),
        };
        return Ok(ep.answer(q, answer));
    }
    let a_s = amount.to_string();
    let q = fill(
        &phrase(&mut ep, C_EN, C_ZH),
        &[("a", &a_s), ("from", &name(from)), ("to", &name(to))],
    );
    let th = match lang {
        Lang::En => format!(
            "Convert {a_s} {} to {} with currency_convert.",
            from.0, to.0
        ),
        Lang::Zh => format!("用currency_convert把{a_s}{}换算成{}。", from.2, to.2),
    };
    let obs = ep.call(
        th,
        "currency_convert",
        json!({"amount": amount, "from_currency": from.0, "to_currency": to.0}),
    )?;
    let answer = match lang {
        Lang::En => format!(
            "{a_s} {} is about {} {} {}.",
            from.0,
            num(&obs, "result"),
            to.0,
            rate_note(&obs)
        ),
        Lang::Zh => format!(
            "{a_s}{}约合{}{}{}。",
            from.2,
            num(&obs, "result"),
            to.2,
            rate_note(&obs)
        ),
    };
    Ok(ep.answer(q, answer))
}

// ---------------------------------------------------------------------------------------
// Dates

fn random_date(ep: &mut Episode<'_>) -> (i32, u32, u32) {
    let r = &mut *ep.rng;
    let y = 2024 + r.below(4) as i32;
    let m = 1 + r.below(12) as u32;
    let d = 1 + r.below(28) as u32;
    (y, m, d)
}

/// The Chinese name of an English weekday.
fn weekday_zh(en: &str) -> &str {
    agentune_runtime::tools::weekday_zh(en).unwrap_or(en)
}

/// A JSON field exactly as the tool wrote it.
fn exact(v: &Value, key: &str) -> String {
    v.get(key).map(Value::to_string).unwrap_or_default()
}

fn iso(d: (i32, u32, u32)) -> String {
    format!("{:04}-{:02}-{:02}", d.0, d.1, d.2)
}

fn spoken(d: (i32, u32, u32), lang: Lang, iso_form: bool) -> String {
    use agentune_runtime::tools::MONTHS;
    match lang {
        Lang::En if iso_form => iso(d),
        Lang::En => format!("{} {}, {}", MONTHS[(d.1 - 1) as usize], d.2, d.0),
        Lang::Zh => format!("{}年{}月{}日", d.0, d.1, d.2),
    }
}

fn iso_to_tuple(text: &str) -> Option<(i32, u32, u32)> {
    let mut it = text.split('-');
    Some((
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
        it.next()?.parse().ok()?,
    ))
}

fn dates(mut ep: Episode<'_>, complex: bool) -> Out {
    let lang = ep.lang;
    if complex {
        let today_th = match lang {
            Lang::En => "I need today's date first.".to_owned(),
            Lang::Zh => "先获取今天的日期。".to_owned(),
        };
        if ep.rng.below(2) == 0 {
            let n = [30, 45, 50, 60, 90, 100, 120, 180, 200, 365, 500, 1000][ep.rng.below(12)];
            let ns = n.to_string();
            let q = fill(
                &phrase(
                    &mut ep,
                    &[
                        "What date will it be {n} days from today?",
                        "Which day is {n} days after today?",
                        "I start a {n}-day challenge today. On what date does it end?",
                        "Count {n} days forward from today: what's the date and weekday?",
                        "My visa is valid for {n} days from today. When does it expire?",
                    ],
                    &[
                        "从今天起{n}天后是几月几号？",
                        "今天往后数{n}天是哪一天？",
                        "我今天开始{n}天挑战，哪天结束？",
                        "{n}天以后是什么日期、星期几？",
                        "签证从今天起有效{n}天，哪天到期？",
                    ],
                ),
                &[("n", &ns)],
            );
            let now = ep.call(today_th, "current_datetime", json!({}))?;
            let today = s(&now, "date").to_owned();
            let th = match lang {
                Lang::En => format!("Today is {today}; add {n} days."),
                Lang::Zh => format!("今天是{today}，加上{n}天。"),
            };
            let r = ep.call(th, "date_add", json!({"date": today, "days": n}))?;
            let answer = match lang {
                Lang::En => format!(
                    "Today is {today}, so {n} days from today is {} ({}).",
                    s(&r, "date"),
                    s(&r, "weekday")
                ),
                Lang::Zh => format!(
                    "今天是{today}，{n}天后是{}（{}）。",
                    s(&r, "date"),
                    weekday_zh(s(&r, "weekday"))
                ),
            };
            return Ok(ep.answer(q, answer));
        }
        let target = random_date(&mut ep);
        let target = (target.0 + 1, target.1, target.2);
        let sp = spoken(target, lang, ep.rng.below(3) == 0);
        let q = fill(
            &phrase(
                &mut ep,
                &[
                    "How many days are left until {d}?",
                    "How long until {d}, in days?",
                    "Count the days from today to {d}.",
                    "My exam is on {d}. How many days do I have?",
                    "How many working days are there between today and {d}?",
                    "Days remaining until {d}?",
                ],
                &[
                    "距离{d}还有多少天？",
                    "今天到{d}还有几天？",
                    "数一数从今天到{d}有多少天。",
                    "我{d}考试，还剩几天？",
                    "从今天到{d}有多少个工作日？",
                    "离{d}还剩多少天？",
                ],
            ),
            &[("d", &sp)],
        );
        let now = ep.call(today_th, "current_datetime", json!({}))?;
        let today = s(&now, "date").to_owned();
        let th = match lang {
            Lang::En => format!("Today is {today}; count the days to {}.", iso(target)),
            Lang::Zh => format!("今天是{today}，计算到{}的天数。", iso(target)),
        };
        let r = ep.call(
            th,
            "date_diff",
            json!({"start_date": today, "end_date": iso(target)}),
        )?;
        let days = f(&r, "days");
        if days <= 0.0 {
            return Err("target date not in the future".into());
        }
        let answer = match lang {
            Lang::En => format!(
                "Today is {today}. There are {} days until {} ({} weeks and {} days), of which {} are working days (Monday to Friday).",
                num(&r, "days"),
                iso(target),
                num(&r, "weeks"),
                num(&r, "remaining_days"),
                num(&r, "working_days")
            ),
            Lang::Zh => format!(
                "今天是{today}，距离{}还有{}天（{}周零{}天），其中工作日（周一至周五）{}天。",
                iso(target),
                num(&r, "days"),
                num(&r, "weeks"),
                num(&r, "remaining_days"),
                num(&r, "working_days")
            ),
        };
        return Ok(ep.answer(q, answer));
    }
    let d = random_date(&mut ep);
    let iso_form = ep.rng.below(3) == 0;
    let sp = spoken(d, lang, iso_form);
    match ep.rng.below(3) {
        0 => {
            let q = fill(
                &phrase(
                    &mut ep,
                    &[
                        "What day of the week is {d}?",
                        "Which weekday falls on {d}?",
                        "Is {d} a weekend?",
                        "{d}: what day is that?",
                        "Tell me the weekday of {d}.",
                        "Was {d} a Monday?",
                    ],
                    &[
                        "{d}是星期几？",
                        "{d}是周几？",
                        "{d}是周末吗？",
                        "查一下{d}星期几。",
                        "{d}那天是工作日吗？",
                        "请问{d}是星期几",
                    ],
                ),
                &[("d", &sp)],
            );
            let th = match lang {
                Lang::En => format!("weekday tells the day of the week of {}.", iso(d)),
                Lang::Zh => format!("用weekday查询{}是星期几。", iso(d)),
            };
            let r = ep.call(th, "weekday", json!({"date": iso(d)}))?;
            let weekend = r
                .get("is_weekend")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let answer = match (lang, weekend) {
                (Lang::En, true) => format!(
                    "{} is a {}, which is a weekend day.",
                    iso(d),
                    s(&r, "weekday")
                ),
                (Lang::En, false) => format!("{} is a {}, a weekday.", iso(d), s(&r, "weekday")),
                (Lang::Zh, true) => format!("{}是{}，是周末。", iso(d), s(&r, "weekday_zh")),
                (Lang::Zh, false) => format!("{}是{}，是工作日。", iso(d), s(&r, "weekday_zh")),
            };
            Ok(ep.answer(q, answer))
        }
        1 => {
            let d2 = random_date(&mut ep);
            let (a, b) = if d2 > d { (d, d2) } else { (d2, d) };
            if a == b {
                return Err("same dates".into());
            }
            let q = fill(
                &phrase(
                    &mut ep,
                    &[
                        "How many days are there between {a} and {b}?",
                        "Count the days from {a} to {b}.",
                        "How long is it from {a} to {b}?",
                        "Number of days between {a} and {b}?",
                        "How many weeks from {a} to {b}?",
                    ],
                    &[
                        "{a}到{b}之间有多少天？",
                        "从{a}到{b}一共几天？",
                        "算一下{a}和{b}相差多少天。",
                        "{a}距{b}有几周？",
                        "{a}到{b}隔了多少天？",
                    ],
                ),
                &[
                    ("a", &spoken(a, lang, iso_form)),
                    ("b", &spoken(b, lang, iso_form)),
                ],
            );
            let th = match lang {
                Lang::En => format!("date_diff counts the days from {} to {}.", iso(a), iso(b)),
                Lang::Zh => format!("用date_diff计算{}到{}的天数。", iso(a), iso(b)),
            };
            let r = ep.call(
                th,
                "date_diff",
                json!({"start_date": iso(a), "end_date": iso(b)}),
            )?;
            let answer = match lang {
                Lang::En => format!(
                    "From {} to {} is {} days ({} weeks and {} days), including {} working days.",
                    iso(a),
                    iso(b),
                    num(&r, "days"),
                    num(&r, "weeks"),
                    num(&r, "remaining_days"),
                    num(&r, "working_days")
                ),
                Lang::Zh => format!(
                    "从{}到{}共{}天（{}周零{}天），其中工作日{}天。",
                    iso(a),
                    iso(b),
                    num(&r, "days"),
                    num(&r, "weeks"),
                    num(&r, "remaining_days"),
                    num(&r, "working_days")
                ),
            };
            Ok(ep.answer(q, answer))
        }
        _ => {
            let (field, n) = match ep.rng.below(3) {
                0 => ("days", 1 + ep.rng.below(200) as i64),
                1 => ("weeks", 1 + ep.rng.below(30) as i64),
                _ => ("months", 1 + ep.rng.below(18) as i64),
            };
            let back = ep.rng.below(4) == 0;
            let n_signed = if back { -n } else { n };
            let unit = match (lang, field) {
                (Lang::En, f) => f.to_owned(),
                (Lang::Zh, "days") => "天".to_owned(),
                (Lang::Zh, "weeks") => "周".to_owned(),
                (Lang::Zh, _) => "个月".to_owned(),
            };
            let ns = n.to_string();
            let (en, zh): (&[&str], &[&str]) = if back {
                (
                    &[
                        "What date was {n} {u} before {d}?",
                        "Go back {n} {u} from {d}: which date is it?",
                        "{n} {u} before {d} is what date?",
                    ],
                    &[
                        "{d}之前{n}{u}是哪天？",
                        "{d}往前推{n}{u}是几号？",
                        "从{d}倒退{n}{u}是什么日期？",
                    ],
                )
            } else {
                (
                    &[
                        "What date is {n} {u} after {d}?",
                        "Add {n} {u} to {d}.",
                        "If I start on {d}, what's the date {n} {u} later?",
                        "{d} plus {n} {u}?",
                        "The warranty starts {d} and lasts {n} {u}. When does it end?",
                    ],
                    &[
                        "{d}之后{n}{u}是哪天？",
                        "{d}加上{n}{u}是几号？",
                        "从{d}开始，{n}{u}后是什么日期？",
                        "{d}往后推{n}{u}是哪一天？",
                        "保修从{d}开始，为期{n}{u}，哪天到期？",
                    ],
                )
            };
            let q = fill(
                &phrase(&mut ep, en, zh),
                &[("d", &sp), ("n", &ns), ("u", &unit)],
            );
            let th = match lang {
                Lang::En => format!("date_add with {field} = {n_signed} from {}.", iso(d)),
                Lang::Zh => format!("用date_add从{}加{n_signed}{unit}。", iso(d)),
            };
            let mut a = serde_json::Map::new();
            a.insert("date".into(), json!(iso(d)));
            a.insert(field.into(), json!(n_signed));
            let r = ep.call(th, "date_add", Value::Object(a))?;
            let answer = match lang {
                Lang::En => format!(
                    "{} {} {ns} {field} is {} ({}).",
                    iso(d),
                    if back { "minus" } else { "plus" },
                    s(&r, "date"),
                    s(&r, "weekday")
                ),
                Lang::Zh => format!(
                    "{}{}{n}{unit}是{}（{}）。",
                    iso(d),
                    if back { "往前" } else { "往后" },
                    s(&r, "date"),
                    weekday_zh(s(&r, "weekday"))
                ),
            };
            let _ = iso_to_tuple(s(&r, "date")).ok_or("date_add returned no date")?;
            Ok(ep.answer(q, answer))
        }
    }
}

// ---------------------------------------------------------------------------------------
// Knowledge

const K_EN: &[&str] = &[
    "What is {t}?",
    "I'm curious about {t}. What can you tell me?",
    "Give me a quick overview of {t}.",
    "Find me facts about {t}.",
    "Please look up {t}.",
    "Can you tell me something about {t}?",
    "Summarise what is known about {t}.",
    "I need information about {t}.",
    "What are the key facts about {t}?",
    "Do you have anything on {t}?",
    "Brief me on {t}.",
    "Teach me about {t}.",
    "Tell me about {t}.",
    "What do you know about {t}?",
    "Look up {t} for me.",
    "Give me some facts about {t}.",
    "I'd like a short summary of {t}.",
    "What should I know about {t}?",
    "Explain {t} briefly.",
    "Can you find information on {t}?",
    "Quick facts: {t}?",
    "Search the reference for {t}.",
];
const K_ZH: &[&str] = &[
    "{t}是什么？",
    "我对{t}很好奇，能讲讲吗？",
    "快速介绍一下{t}。",
    "帮我找找关于{t}的资料。",
    "请查询{t}。",
    "能告诉我一些{t}的事吗？",
    "总结一下{t}的相关知识。",
    "我需要{t}的信息。",
    "{t}有哪些关键信息？",
    "有没有关于{t}的资料？",
    "给我讲讲{t}吧。",
    "科普一下{t}。",
    "介绍一下{t}。",
    "{t}有什么特点？",
    "帮我查一下{t}的资料。",
    "关于{t}你知道什么？",
    "简单讲讲{t}。",
    "查查{t}",
    "我想了解{t}。",
    "给我一些关于{t}的知识。",
    "{t}是怎么回事？",
    "搜索一下{t}的相关信息。",
];

fn lookup(ep: &mut Episode<'_>, title: &str, thought: String) -> Result<String, String> {
    let limit = LOOKUP_LIMIT;
    let r = ep.call(
        thought,
        "lookup_knowledge",
        json!({"query": title, "limit": limit}),
    )?;
    let first = r
        .get("results")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .ok_or("no knowledge hit")?;
    if s(first, "title") != title {
        return Err(format!("best hit for `{title}` is `{}`", s(first, "title")));
    }
    Ok(s(first, "text").to_owned())
}

fn knowledge(mut ep: Episode<'_>, complex: bool) -> Out {
    let lang = ep.lang;
    let sd = seed()?;
    let pool: Vec<_> = sd
        .knowledge
        .iter()
        .filter(|k| k.lang == lang.code())
        .collect();
    if pool.is_empty() {
        return Err("no knowledge entries in this language".into());
    }
    let a = *pick(ep.rng, &pool);
    let th = |t: &str| match lang {
        Lang::En => format!("I'll look up {t} in the reference."),
        Lang::Zh => format!("在资料库中查询{t}。"),
    };
    if complex {
        let b = *pick(ep.rng, &pool);
        if a.title == b.title {
            return Err("same entry twice".into());
        }
        let q = fill(
            &phrase(
                &mut ep,
                &[
                    "Tell me about {a} and about {b}.",
                    "I have two questions: what is {a}, and what is {b}?",
                    "Look up {a}, then {b}.",
                    "Give me short facts on {a} and {b}.",
                ],
                &[
                    "分别介绍一下{a}和{b}。",
                    "两个问题：{a}是什么？{b}又是什么？",
                    "先查{a}，再查{b}。",
                    "给我讲讲{a}和{b}。",
                ],
            ),
            &[("a", &a.title), ("b", &b.title)],
        );
        let ta = lookup(&mut ep, &a.title, th(&a.title))?;
        let tb = lookup(&mut ep, &b.title, th(&b.title))?;
        let answer = match lang {
            Lang::En => format!("{}: {ta}\n\n{}: {tb}", a.title, b.title),
            Lang::Zh => format!("{}：{ta}\n\n{}：{tb}", a.title, b.title),
        };
        return Ok(ep.answer(q, answer));
    }
    let topic = if !a.tags.is_empty() && ep.rng.below(3) == 0 && lang == Lang::En {
        format!("{} ({})", a.title, pick(ep.rng, &a.tags))
    } else {
        a.title.clone()
    };
    let q = fill(&phrase(&mut ep, K_EN, K_ZH), &[("t", &topic)]);
    let text = lookup(&mut ep, &a.title, th(&a.title))?;
    let answer = match lang {
        Lang::En => format!("According to the reference: {text}"),
        Lang::Zh => format!("根据资料：{text}"),
    };
    Ok(ep.answer(q, answer))
}

// ---------------------------------------------------------------------------------------
// Notes

const NOTE_NAMES: &[(&str, &str)] = &[
    ("shopping list", "购物清单"),
    ("packing list", "行李清单"),
    ("todo", "待办事项"),
    ("meeting notes", "会议记录"),
    ("ideas", "灵感"),
    ("reading list", "书单"),
    ("recipes/dumplings", "菜谱/饺子"),
    ("travel/itinerary", "旅行/行程"),
    ("gift ideas", "礼物清单"),
    ("workout plan", "健身计划"),
];
const NOTE_ITEMS_EN: &[&str] = &[
    "milk",
    "eggs",
    "bread",
    "call the dentist",
    "book train tickets",
    "passport",
    "charger",
    "sunscreen",
    "pay the electricity bill",
    "water the plants",
    "buy a birthday card",
    "review the budget",
    "rice",
    "apples",
    "umbrella",
    "renew the library card",
];
const NOTE_ITEMS_ZH: &[&str] = &[
    "牛奶",
    "鸡蛋",
    "面包",
    "给牙医打电话",
    "订火车票",
    "护照",
    "充电器",
    "防晒霜",
    "交电费",
    "给花浇水",
    "买生日贺卡",
    "检查预算",
    "大米",
    "苹果",
    "雨伞",
    "续借图书证",
];

fn notes(mut ep: Episode<'_>, complex: bool) -> Out {
    let lang = ep.lang;
    let (en_name, zh_name) = *pick(ep.rng, NOTE_NAMES);
    let name = lang.pick(en_name, zh_name).to_owned();
    let items_pool = lang.pick_list(NOTE_ITEMS_EN, NOTE_ITEMS_ZH);
    let k = 2 + ep.rng.below(3);
    let mut items: Vec<&str> = Vec::new();
    while items.len() < k {
        let it = *pick(ep.rng, items_pool);
        if !items.contains(&it) {
            items.push(it);
        }
    }
    let content = match lang {
        Lang::En => items
            .iter()
            .map(|i| format!("- {i}"))
            .collect::<Vec<_>>()
            .join("\n"),
        Lang::Zh => items
            .iter()
            .map(|i| format!("- {i}"))
            .collect::<Vec<_>>()
            .join("\n"),
    };
    let listed = match lang {
        Lang::En => items.join(", "),
        Lang::Zh => items.join("、"),
    };
    let write_th = match lang {
        Lang::En => format!("I'll save the items in a note named \"{name}\"."),
        Lang::Zh => format!("把这些内容保存到名为“{name}”的笔记。"),
    };
    if complex {
        let read_back = ep.rng.below(2) == 0;
        let q = fill(
            &phrase(
                &mut ep,
                if read_back {
                    &[
                        "Save a note called \"{n}\" with {i}, then read it back to me.",
                        "Write {i} into my \"{n}\" note and show me what it says.",
                        "Create the note \"{n}\" containing {i}, and confirm by reading it.",
                    ]
                } else {
                    &[
                        "Save {i} as a note named \"{n}\" and then list all my notes.",
                        "Put {i} in a note called \"{n}\"; after that, what notes do I have?",
                        "Make a \"{n}\" note with {i}, then show me my notes.",
                    ]
                },
                if read_back {
                    &[
                        "新建笔记“{n}”，内容是{i}，然后读给我听。",
                        "把{i}写进“{n}”笔记，再显示一下内容。",
                        "创建名为“{n}”的笔记，写入{i}，并读取确认。",
                    ]
                } else {
                    &[
                        "把{i}存成笔记“{n}”，然后列出我所有的笔记。",
                        "新建“{n}”笔记记下{i}，之后看看我有哪些笔记。",
                        "记一条“{n}”：{i}，再把笔记列表给我看。",
                    ]
                },
            ),
            &[("n", &name), ("i", &listed)],
        );
        let w = ep.call(
            write_th,
            "write_note",
            json!({"name": name, "content": content}),
        )?;
        if read_back {
            let th = match lang {
                Lang::En => "Saved; now I'll read it back.".to_owned(),
                Lang::Zh => "已保存，现在读取确认。".to_owned(),
            };
            let r = ep.call(th, "read_note", json!({"name": name}))?;
            let answer = match lang {
                Lang::En => format!(
                    "Saved \"{name}\" ({} bytes). It reads:\n{}",
                    num(&w, "bytes"),
                    s(&r, "content")
                ),
                Lang::Zh => format!(
                    "已保存“{name}”（{}字节），内容如下：\n{}",
                    num(&w, "bytes"),
                    s(&r, "content")
                ),
            };
            return Ok(ep.answer(q, answer));
        }
        let th = match lang {
            Lang::En => "Saved; now list the notes.".to_owned(),
            Lang::Zh => "已保存，接着列出所有笔记。".to_owned(),
        };
        let l = ep.call(th, "list_notes", json!({}))?;
        let names: Vec<String> = l
            .get("notes")
            .and_then(Value::as_array)
            .map(|a| a.iter().map(|n| s(n, "name").to_owned()).collect())
            .unwrap_or_default();
        let answer = match lang {
            Lang::En => format!(
                "Saved \"{name}\". You now have {} note(s): {}.",
                num(&l, "count"),
                names.join(", ")
            ),
            Lang::Zh => format!(
                "已保存“{name}”。你现在共有{}条笔记：{}。",
                num(&l, "count"),
                names.join("、")
            ),
        };
        return Ok(ep.answer(q, answer));
    }
    let q = fill(
        &phrase(
            &mut ep,
            &[
                "Save a note called \"{n}\": {i}.",
                "Please write down {i} in a note named \"{n}\".",
                "Create a note \"{n}\" with {i}.",
                "Make a note titled \"{n}\" listing {i}.",
                "Remember this for me in \"{n}\": {i}.",
                "Jot down {i} under \"{n}\".",
                "Can you store {i} in my \"{n}\" note?",
                "New note \"{n}\": {i}",
            ],
            &[
                "帮我记一条笔记“{n}”：{i}。",
                "新建笔记“{n}”，写上{i}。",
                "把{i}记到“{n}”里。",
                "创建一个叫“{n}”的笔记，内容是{i}。",
                "帮我记下来：{i}，笔记名“{n}”。",
                "存一条笔记“{n}”：{i}",
                "把{i}保存到我的“{n}”笔记。",
                "记一下{i}，标题叫“{n}”。",
            ],
        ),
        &[("n", &name), ("i", &listed)],
    );
    let w = ep.call(
        write_th,
        "write_note",
        json!({"name": name, "content": content}),
    )?;
    let answer = match lang {
        Lang::En => format!(
            "Done: the note \"{}\" is saved ({} bytes) with {listed}.",
            s(&w, "saved"),
            num(&w, "bytes")
        ),
        Lang::Zh => format!(
            "已保存笔记“{}”（{}字节），内容：{listed}。",
            s(&w, "saved"),
            num(&w, "bytes")
        ),
    };
    Ok(ep.answer(q, answer))
}

// ---------------------------------------------------------------------------------------
// Multi-tool chains

const CAMP_EN: &[&str] = &[
    "Is the weather near {city} OK for a camping trip this weekend? Where could we camp?",
    "We want to camp near {city} on the weekend. Check the forecast and find campsites if it looks good.",
    "Camping near {city} this Saturday and Sunday: yes or no? If yes, where?",
    "Look at this weekend's weather for {city} and tell me whether to go camping, with places if so.",
    "Any chance of a dry camping weekend near {city}? Recommend spots if it works out.",
    "I'd like to sleep in a tent near {city} this weekend. Is that a good idea, and where?",
    "Is this weekend good for camping near {city}? If so, suggest some places.",
    "Thinking of camping around {city} this weekend. Will the weather allow it, and where should I go?",
    "Check the weekend weather in {city}; if it's dry, recommend campsites.",
    "Can we go camping near {city} on Saturday and Sunday? Suggest spots if the weather is fine.",
    "Weekend trip idea: camping near {city}. Good weather? Where?",
    "Should I plan a camping weekend near {city}? Please check the forecast and suggest places.",
];
const CAMP_ZH: &[&str] = &[
    "这周末{city}附近的天气适合露营吗？可以去哪儿露营？",
    "周末想在{city}附近露营，看看天气，合适的话找几个营地。",
    "这周六周日去{city}附近露营行不行？行的话去哪儿？",
    "看一下{city}这周末天气，告诉我能不能露营，能的话推荐地方。",
    "{city}这周末会不会下雨？不下的话推荐露营地点。",
    "周末想在{city}附近搭帐篷过夜，合适吗？去哪里好？",
    "这个周末适合去{city}附近露营吗？适合的话推荐几个地方。",
    "周末想在{city}周边露营，天气允许吗？去哪里好？",
    "看看{city}这周末的天气，如果不下雨就推荐露营地。",
    "周六周日能去{city}附近露营吗？天气好的话推荐地点。",
    "周末打算去{city}露营，天气怎么样？有什么好去处？",
    "帮我查下{city}周末天气，适合露营就推荐几个营地。",
];
const NOTE_FC_EN: &[&str] = &[
    "Write {city}'s {n}-day forecast into the note \"{note}\".",
    "Look up the weather in {city} for {n} days and keep it in \"{note}\".",
    "Forecast {city}, {n} days, then save it as \"{note}\".",
    "Get the {n}-day forecast for {city} and save it in a note called \"{note}\".",
    "Check {city}'s weather for the next {n} days and write it down in my \"{note}\" note.",
    "Save the next {n} days of {city} weather to a note named \"{note}\".",
];
const NOTE_FC_ZH: &[&str] = &[
    "把{city}未来{n}天的天气写进笔记“{note}”。",
    "查{city}{n}天的天气，保存在“{note}”里。",
    "预报{city}未来{n}天天气，然后存为“{note}”。",
    "查一下{city}未来{n}天的天气，并保存到笔记“{note}”。",
    "把{city}接下来{n}天的天气预报记到“{note}”笔记里。",
    "获取{city}未来{n}天天气，存成名为“{note}”的笔记。",
];

fn chain(mut ep: Episode<'_>) -> Out {
    let lang = ep.lang;
    let sd = seed()?;
    if ep.rng.below(3) > 0 {
        // Weekend camping: the forecast decides whether to search for campsites.
        let mut ids = sd.cities_with("camping");
        ids.extend(sd.cities_with("hiking"));
        ids.sort_unstable();
        ids.dedup();
        let city = sd.city(pick::<&str>(ep.rng, &ids)).ok_or("unknown city")?;
        let cn = city_name(city, lang).to_owned();
        let q = fill(&phrase(&mut ep, CAMP_EN, CAMP_ZH), &[("city", &cn)]);
        let th = match lang {
            Lang::En => format!(
                "I need the weather for the coming weekend in {cn}; a 7-day forecast covers it."
            ),
            Lang::Zh => format!("需要{cn}本周末的天气，查询7天预报即可覆盖。"),
        };
        let fc = ep.call(th, "get_forecast", json!({"city": cn, "days": 7}))?;
        let days = days_of(&fc);
        let weekend: Vec<&Value> = {
            let sat = days.iter().position(|d| s(d, "weekday") == "Saturday");
            let sun = days.iter().position(|d| s(d, "weekday") == "Sunday");
            match (sat, sun) {
                (Some(a), Some(b)) if b == a + 1 => vec![&days[a], &days[b]],
                (_, Some(b)) => vec![&days[b]],
                (Some(a), None) => vec![&days[a]],
                _ => Vec::new(),
            }
        };
        if weekend.is_empty() {
            return Err("no weekend day in the forecast".into());
        }
        let lines: Vec<String> = weekend
            .iter()
            .map(|d| {
                let when = match lang {
                    Lang::En => format!("{} ({})", s(d, "weekday"), s(d, "date")),
                    Lang::Zh => format!(
                        "{}（{}）",
                        if s(d, "weekday") == "Saturday" {
                            "周六"
                        } else {
                            "周日"
                        },
                        s(d, "date")
                    ),
                };
                day_line(lang, "", &when, d, "°C").trim_start().to_owned()
            })
            .collect();
        let wet = weekend.iter().any(|d| is_wet(d));
        let cold = weekend.iter().any(|d| f(d, "temp_low") < 3.0);
        let hot = weekend.iter().any(|d| f(d, "temp_high") > 35.0);
        if wet || cold || hot {
            let why = match (lang, wet, cold) {
                (Lang::En, true, _) => "rain or snow is likely",
                (Lang::En, _, true) => "the nights are close to freezing",
                (Lang::En, _, _) => "it will be very hot",
                (Lang::Zh, true, _) => "可能有降水",
                (Lang::Zh, _, true) => "夜间气温接近冰点",
                (Lang::Zh, _, _) => "天气过于炎热",
            };
            if !sd.cities_with("museum").contains(&city.id.as_str()) {
                return Err("bad weekend and no indoor alternative".into());
            }
            let th2 = match lang {
                Lang::En => format!(
                    "Not camping weather: {why}. I'll look for an indoor alternative in {cn} instead."
                ),
                Lang::Zh => format!("天气不适合露营（{why}），改为搜索{cn}的室内去处。"),
            };
            let r = ep.call(
                th2,
                "search_places",
                json!({"query": lang.pick("museum", "博物馆"), "city": cn, "category": "museum", "limit": 2}),
            )?;
            if f(&r, "count") == 0.0 {
                return Err("no indoor place".into());
            }
            let answer = match lang {
                Lang::En => format!(
                    "This weekend is not good for camping near {cn}: {why}.\n{}\nBetter pick another weekend. If you stay in town, these indoor options are worth a visit:\n{}\n{}",
                    lines.join("\n"),
                    place_lines(&r, lang).join("\n"),
                    simulated_note(lang)
                ),
                Lang::Zh => format!(
                    "这个周末不适合在{cn}附近露营：{why}。\n{}\n建议换个周末。如果留在市区，可以去这些室内场所：\n{}\n{}",
                    lines.join("\n"),
                    place_lines(&r, lang).join("\n"),
                    simulated_note(lang)
                ),
            };
            return Ok(ep.answer(q, answer));
        }
        let category = if sd.cities_with("camping").contains(&city.id.as_str()) {
            "camping"
        } else {
            "hiking"
        };
        let th2 = match lang {
            Lang::En => format!(
                "The weekend looks dry and mild, so I'll look for {category} spots near {cn}."
            ),
            Lang::Zh => format!("周末天气晴好、气温适宜，接着搜索{cn}附近的露营或徒步地点。"),
        };
        let kw = lang.pick(
            if category == "camping" {
                "camping"
            } else {
                "hiking trail"
            },
            if category == "camping" {
                "露营"
            } else {
                "徒步"
            },
        );
        let r = ep.call(
            th2,
            "search_places",
            json!({"query": kw, "city": cn, "category": category, "limit": 3}),
        )?;
        if f(&r, "count") == 0.0 {
            return Err("no camping place".into());
        }
        let answer = match lang {
            Lang::En => format!(
                "Yes, the weekend looks good for camping near {cn}:\n{}\nPlaces to consider:\n{}\n{}",
                lines.join("\n"),
                place_lines(&r, lang).join("\n"),
                simulated_note(lang)
            ),
            Lang::Zh => format!(
                "这个周末适合在{cn}附近露营：\n{}\n推荐地点：\n{}\n{}",
                lines.join("\n"),
                place_lines(&r, lang).join("\n"),
                simulated_note(lang)
            ),
        };
        return Ok(ep.answer(q, answer));
    }
    // Forecast, then a note with the summary.
    let city = any_city(&mut ep)?;
    let cn = city_name(city, lang).to_owned();
    let n = 2 + ep.rng.below(4);
    let note = match lang {
        Lang::En => format!("weather/{}", city.id),
        Lang::Zh => format!("天气/{}", city.name_zh),
    };
    let ns = n.to_string();
    let q = fill(
        &phrase(&mut ep, NOTE_FC_EN, NOTE_FC_ZH),
        &[("city", &cn), ("n", &ns), ("note", &note)],
    );
    let th = match lang {
        Lang::En => format!("First the {n}-day forecast for {cn}."),
        Lang::Zh => format!("先查询{cn}未来{n}天的天气。"),
    };
    let fc = ep.call(th, "get_forecast", json!({"city": cn, "days": n}))?;
    let lines: Vec<String> = days_of(&fc)
        .iter()
        .map(|d| match lang {
            Lang::En => format!(
                "{} {}: {}, {}-{} °C, rain {}%",
                s(d, "date"),
                s(d, "weekday"),
                s(d, "condition"),
                num(d, "temp_low"),
                num(d, "temp_high"),
                num(d, "chance_of_rain")
            ),
            Lang::Zh => format!(
                "{} {}，{}~{}°C，降水概率{}%",
                s(d, "date"),
                s(d, "condition_zh"),
                num(d, "temp_low"),
                num(d, "temp_high"),
                num(d, "chance_of_rain")
            ),
        })
        .collect();
    let content = lines.join("\n");
    let th2 = match lang {
        Lang::En => format!("Now save the forecast in the note \"{note}\"."),
        Lang::Zh => format!("把预报保存到笔记“{note}”。"),
    };
    let w = ep.call(th2, "write_note", json!({"name": note, "content": content}))?;
    let answer = match lang {
        Lang::En => format!(
            "Saved the {n}-day forecast for {cn} in \"{note}\" ({} bytes):\n{content}\n{}",
            num(&w, "bytes"),
            simulated_note(lang)
        ),
        Lang::Zh => format!(
            "已将{cn}未来{n}天的天气保存到“{note}”（{}字节）：\n{content}\n{}",
            num(&w, "bytes"),
            simulated_note(lang)
        ),
    };
    Ok(ep.answer(q, answer))
}
