//! ToolEval-style LLM judging of episode answers through any chat model: the pass rate (the
//! judge says whether an answer solves the query) and the pairwise win rate of one
//! checkpoint's answers over another's (the judge picks the better answer, shown in a seeded
//! random order to cancel position bias). Each item is judged `k` times (rounds with their own
//! sampling seed), and a rate is reported as the mean and standard deviation of its per-round
//! values: single judgements are noisy.

use serde::Serialize;

use agentune_runtime::model::ChatRequest;
use agentune_schema::Message;

/// One item to judge: the query, a checkpoint's answer and the gold answer when known.
#[derive(Debug, Clone, PartialEq)]
pub struct JudgeItem {
    /// The item's id (paired across checkpoints).
    pub id: String,
    /// The user's query.
    pub query: String,
    /// The final answer given (None: the agent gave none).
    pub answer: Option<String>,
    /// The reference answer, shown to the judge when present.
    pub reference: Option<String>,
}

const PASS_SYSTEM: &str = "You judge whether an assistant's final answer solves a user's \
query. Judge the answer only: it must address the query, be specific and not contradict the \
reference answer when one is given (wording may differ). Reply with one line: \
`Verdict: Solved` or `Verdict: Unsolved`.";

const PAIR_SYSTEM: &str = "You compare two assistants' final answers to the same user query \
and pick the one that solves it better (correct, specific, consistent with the reference \
answer when one is given). Reply with one line: `Preferred: A`, `Preferred: B` or \
`Preferred: tie`.";

fn reference_line(reference: Option<&str>) -> String {
    reference.map_or_else(String::new, |r| format!("Reference answer: {r}\n"))
}

/// The request asking whether `item`'s answer solves its query.
pub fn pass_request(item: &JudgeItem, seed: u64, temperature: f64) -> ChatRequest {
    let user = format!(
        "Query: {}\n{}Answer: {}\n",
        item.query,
        reference_line(item.reference.as_deref()),
        item.answer.as_deref().unwrap_or("(no answer)")
    );
    let mut r = ChatRequest::new(vec![Message::system(PASS_SYSTEM), Message::user(user)]);
    r.temperature = Some(temperature);
    r.seed = Some(seed);
    r.max_tokens = Some(64);
    r
}

/// The request asking which of two answers (shown as A and B) is better.
pub fn pair_request(
    query: &str,
    reference: Option<&str>,
    a: &str,
    b: &str,
    seed: u64,
    temperature: f64,
) -> ChatRequest {
    let user = format!(
        "Query: {query}\n{}Answer A: {a}\nAnswer B: {b}\n",
        reference_line(reference)
    );
    let mut r = ChatRequest::new(vec![Message::system(PAIR_SYSTEM), Message::user(user)]);
    r.temperature = Some(temperature);
    r.seed = Some(seed);
    r.max_tokens = Some(64);
    r
}

fn last_match<'a>(text: &'a str, pattern: &str) -> Option<regex::Captures<'a>> {
    regex::Regex::new(pattern)
        .ok()
        .and_then(|re| re.captures_iter(text).last())
}

/// Reads a pass verdict: the last `Verdict: Solved|Unsolved` (also as JSON, `"verdict":
/// "solved"`), else a reply that is just `Solved` or `Unsolved`. None: unreadable.
pub fn parse_pass(text: &str) -> Option<bool> {
    if let Some(c) = last_match(text, r#"(?i)verdict"?\s*[:=]\s*"?\s*(unsolved|solved)\b"#) {
        return Some(c[1].eq_ignore_ascii_case("solved"));
    }
    let t = text
        .trim()
        .trim_matches(|c: char| !c.is_alphanumeric())
        .to_ascii_lowercase();
    match t.as_str() {
        "solved" => Some(true),
        "unsolved" => Some(false),
        _ => None,
    }
}

/// Which answer the judge preferred.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Preference {
    /// The one shown first.
    A,
    /// The one shown second.
    B,
    /// Neither.
    Tie,
}

/// Reads a preference: the last `Preferred: A|B|tie` (also as JSON), else a reply that is just
/// `A`, `B` or `tie`. None: unreadable.
pub fn parse_preference(text: &str) -> Option<Preference> {
    let word = last_match(text, r#"(?i)prefer(?:red)?"?\s*[:=]\s*"?\s*(a|b|tie)\b"#)
        .map(|c| c[1].to_ascii_lowercase())
        .or_else(|| {
            let t = text
                .trim()
                .trim_matches(|c: char| !c.is_alphanumeric())
                .to_ascii_lowercase();
            matches!(t.as_str(), "a" | "b" | "tie").then_some(t)
        })?;
    match word.as_str() {
        "a" => Some(Preference::A),
        "b" => Some(Preference::B),
        _ => Some(Preference::Tie),
    }
}

/// Whether round `round` of item `index` shows the challenger first (seeded, so a rerun asks
/// the same questions and hits the cache).
pub fn challenger_first(seed: u64, round: usize, index: usize) -> bool {
    let mut rng = agentune_data::rng::Rng::new(
        seed ^ (round as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (index as u64) << 20,
    );
    rng.below(2) == 1
}

/// The challenger's score of one pairwise judgement: 1 when preferred, 0.5 for a tie, 0 when
/// the baseline is preferred.
pub fn challenger_score(preference: Preference, challenger_first: bool) -> f64 {
    match (preference, challenger_first) {
        (Preference::Tie, _) => 0.5,
        (Preference::A, true) | (Preference::B, false) => 1.0,
        _ => 0.0,
    }
}

/// A rate judged `k` times: per round the mean over the items with a readable judgement;
/// reported as the mean and (sample) standard deviation of the rounds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JudgedRate {
    /// Mean of the per-round rates.
    pub mean: f64,
    /// Standard deviation of the per-round rates (0 with one round).
    pub std: f64,
    /// Each round's rate (None: no readable judgement in that round).
    pub rounds: Vec<Option<f64>>,
    /// Judgements read.
    pub judged: usize,
    /// Judgements that could not be read (left out of the rates).
    pub unreadable: usize,
}

/// Aggregates `scores[round][item]` (None: unreadable). None when no round has a rate.
pub fn judged_rate(scores: &[Vec<Option<f64>>]) -> Option<JudgedRate> {
    let mut rounds = Vec::with_capacity(scores.len());
    let (mut judged, mut unreadable) = (0, 0);
    for round in scores {
        let read: Vec<f64> = round.iter().flatten().copied().collect();
        judged += read.len();
        unreadable += round.len() - read.len();
        rounds.push((!read.is_empty()).then(|| read.iter().sum::<f64>() / read.len() as f64));
    }
    let rates: Vec<f64> = rounds.iter().flatten().copied().collect();
    if rates.is_empty() {
        return None;
    }
    let mean = rates.iter().sum::<f64>() / rates.len() as f64;
    let std = if rates.len() > 1 {
        (rates.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (rates.len() - 1) as f64).sqrt()
    } else {
        0.0
    };
    Some(JudgedRate {
        mean,
        std,
        rounds,
        judged,
        unreadable,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn pass_verdicts_are_read_or_refused() {
        assert_eq!(parse_pass("Verdict: Solved"), Some(true));
        assert_eq!(
            parse_pass("The answer is vague.\nVerdict: Unsolved"),
            Some(false)
        );
        assert_eq!(parse_pass("verdict = unsolved"), Some(false));
        assert_eq!(parse_pass(r#"{"verdict": "solved"}"#), Some(true));
        assert_eq!(parse_pass("  Solved. "), Some(true));
        assert_eq!(parse_pass("UNSOLVED"), Some(false));
        // The last verdict counts (a judge that reconsiders).
        assert_eq!(
            parse_pass("Verdict: Solved... no, wait. Verdict: Unsolved"),
            Some(false)
        );
        assert_eq!(parse_pass("It looks solved to me"), None);
        assert_eq!(parse_pass(""), None);
        assert_eq!(parse_pass("Verdict: maybe"), None);
    }

    #[test]
    fn preferences_are_read_or_refused() {
        assert_eq!(parse_preference("Preferred: A"), Some(Preference::A));
        assert_eq!(
            parse_preference("B is more specific.\nPreferred: B"),
            Some(Preference::B)
        );
        assert_eq!(parse_preference("preferred: Tie"), Some(Preference::Tie));
        assert_eq!(
            parse_preference(r#"{"preferred": "b"}"#),
            Some(Preference::B)
        );
        assert_eq!(parse_preference("A"), Some(Preference::A));
        assert_eq!(parse_preference("Preferred: C"), None);
        assert_eq!(parse_preference("Both are bad"), None);
        assert_eq!(parse_preference("Preferred: Apple"), None);
    }

    #[test]
    fn order_is_seeded_and_scores_follow_it() {
        let order: Vec<bool> = (0..64).map(|i| challenger_first(5, 1, i)).collect();
        assert_eq!(
            order,
            (0..64)
                .map(|i| challenger_first(5, 1, i))
                .collect::<Vec<_>>()
        );
        // Both orders occur, and another round shuffles differently.
        assert!(order.iter().any(|x| *x) && order.iter().any(|x| !*x));
        assert_ne!(
            order,
            (0..64)
                .map(|i| challenger_first(5, 2, i))
                .collect::<Vec<_>>()
        );
        assert_eq!(challenger_score(Preference::A, true), 1.0);
        assert_eq!(challenger_score(Preference::A, false), 0.0);
        assert_eq!(challenger_score(Preference::B, false), 1.0);
        assert_eq!(challenger_score(Preference::B, true), 0.0);
        assert_eq!(challenger_score(Preference::Tie, true), 0.5);
    }

    #[test]
    fn rates_are_means_over_rounds_with_their_spread() {
        let r = judged_rate(&[
            vec![Some(1.0), Some(0.0), None, Some(1.0)],
            vec![Some(1.0), Some(1.0), Some(1.0), Some(1.0)],
            vec![Some(0.0), Some(0.0), Some(1.0), None],
        ])
        .unwrap();
        let rounds = [2.0 / 3.0, 1.0, 1.0 / 3.0];
        for (got, want) in r.rounds.iter().zip(rounds) {
            assert!((got.unwrap() - want).abs() < 1e-12);
        }
        assert!((r.mean - 2.0 / 3.0).abs() < 1e-12);
        // Sample standard deviation of 2/3, 1, 1/3: 1/3.
        assert!((r.std - 1.0 / 3.0).abs() < 1e-12, "{r:?}");
        assert_eq!((r.judged, r.unreadable), (10, 2));
        let one = judged_rate(&[vec![Some(1.0), Some(0.0)]]).unwrap();
        assert_eq!((one.mean, one.std), (0.5, 0.0));
        assert!(judged_rate(&[vec![None, None]]).is_none());
        assert!(judged_rate(&[]).is_none());
    }

    #[test]
    fn requests_carry_query_answers_reference_and_seed() {
        let item = JudgeItem {
            id: "x".into(),
            query: "2+2?".into(),
            answer: Some("4".into()),
            reference: Some("4".into()),
        };
        let r = pass_request(&item, 9, 0.7);
        let user = r.messages[1].content.clone().unwrap();
        assert!(user.contains("Query: 2+2?") && user.contains("Reference answer: 4"));
        assert!(user.contains("Answer: 4"));
        assert_eq!((r.seed, r.temperature), (Some(9), Some(0.7)));
        let p = pair_request("2+2?", None, "4", "five", 1, 0.0);
        let user = p.messages[1].content.clone().unwrap();
        assert!(user.contains("Answer A: 4\nAnswer B: five"));
        assert!(!user.contains("Reference"));
    }
}
