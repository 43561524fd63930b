//! Answer similarity: ROUGE-L F1 over tokens (Chinese, Japanese and Korean text scored per
//! character, other text per lower-cased word) and normalised exact match.

/// Whether `c` is scored as a token of its own (CJK ideographs, kana, hangul, CJK punctuation).
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3000..=0x303F // CJK symbols and punctuation
        | 0x3040..=0x30FF // Hiragana, Katakana
        | 0x3400..=0x4DBF // CJK extension A
        | 0x4E00..=0x9FFF // CJK unified ideographs
        | 0xAC00..=0xD7AF // Hangul syllables
        | 0xF900..=0xFAFF // CJK compatibility ideographs
        | 0xFF00..=0xFFEF // Half-width and full-width forms
        | 0x20000..=0x2FA1F // CJK extensions B-F, compatibility supplement
    )
}

/// The tokens ROUGE-L compares: each CJK character alone, runs of letters and digits as
/// lower-cased words; other characters (spaces, punctuation) separate tokens.
pub fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    for c in text.chars() {
        if is_cjk(c) {
            if !word.is_empty() {
                out.push(std::mem::take(&mut word));
            }
            if c.is_alphanumeric() {
                out.push(c.to_string());
            }
        } else if c.is_alphanumeric() {
            word.extend(c.to_lowercase());
        } else if !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// Length of the longest common subsequence of two token lists.
pub fn lcs_len<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    if a.is_empty() || b.is_empty() {
        return 0;
    }
    let mut prev = vec![0usize; b.len() + 1];
    let mut cur = vec![0usize; b.len() + 1];
    for x in a {
        for (j, y) in b.iter().enumerate() {
            cur[j + 1] = if x == y {
                prev[j] + 1
            } else {
                cur[j].max(prev[j + 1])
            };
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// ROUGE-L F1 of a candidate against a reference (0 when either has no token; 1 when both
/// are empty).
pub fn rouge_l(candidate: &str, reference: &str) -> f64 {
    let c = tokens(candidate);
    let r = tokens(reference);
    if c.is_empty() && r.is_empty() {
        return 1.0;
    }
    let l = lcs_len(&c, &r) as f64;
    if l == 0.0 {
        return 0.0;
    }
    let p = l / c.len() as f64;
    let rec = l / r.len() as f64;
    2.0 * p * rec / (p + rec)
}

/// Text for exact comparison: full-width forms folded to ASCII, lower case, punctuation and
/// whitespace removed.
pub fn normalize(text: &str) -> String {
    text.chars()
        .map(|c| match c as u32 {
            0xFF01..=0xFF5E => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            0x3000 => ' ',
            _ => c,
        })
        .flat_map(char::to_lowercase)
        .filter(|c| c.is_alphanumeric())
        .collect()
}

/// Whether two answers are equal after [`normalize`].
pub fn normalized_match(candidate: &str, reference: &str) -> bool {
    normalize(candidate) == normalize(reference)
}

/// An episode answer's success: normalised match, or ROUGE-L at least `threshold`.
pub fn answer_matches(candidate: &str, reference: &str, threshold: f64) -> bool {
    normalized_match(candidate, reference) || rouge_l(candidate, reference) >= threshold
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_split_words_and_cjk_characters() {
        assert_eq!(tokens("The cat, sat!"), ["the", "cat", "sat"]);
        assert_eq!(tokens("北京明天下雨"), ["北", "京", "明", "天", "下", "雨"]);
        assert_eq!(tokens("温度25度"), ["温", "度", "25", "度"]);
        assert_eq!(tokens("，。"), Vec::<String>::new());
    }

    #[test]
    fn lcs_of_known_sequences() {
        assert_eq!(lcs_len(&[1, 2, 3, 4], &[1, 3, 4]), 3);
        assert_eq!(lcs_len(&[1, 2], &[3]), 0);
        assert_eq!(lcs_len::<u8>(&[], &[1]), 0);
        assert_eq!(
            lcs_len(
                &['a', 'b', 'c', 'b', 'd', 'a', 'b'],
                &['b', 'd', 'c', 'a', 'b', 'a']
            ),
            4
        );
    }

    #[test]
    fn rouge_l_by_hand() {
        // candidate "the cat sat" vs reference "the cat sat down": LCS 3, P 1, R 3/4.
        let f = rouge_l("The cat sat", "the cat sat down");
        assert!((f - 2.0 * 0.75 / 1.75).abs() < 1e-12, "{f}");
        assert_eq!(rouge_l("a b", "c d"), 0.0);
        assert_eq!(rouge_l("", ""), 1.0);
        assert_eq!(rouge_l("x", ""), 0.0);
        // Chinese per character: 北京下雨 vs 北京明天下雨: LCS 4, P 1, R 4/6 -> F 0.8.
        let f = rouge_l("北京下雨", "北京明天下雨");
        assert!((f - 0.8).abs() < 1e-12, "{f}");
    }

    #[test]
    fn normalized_match_ignores_case_punctuation_and_width() {
        assert!(normalized_match("25°C.", "25 c"));
        assert!(normalized_match("ＡＢＣ１２３", "abc123"));
        assert!(normalized_match("北京，晴。", "北京晴"));
        assert!(!normalized_match("25", "26"));
        assert!(answer_matches(
            "It will rain in Beijing",
            "it will rain in beijing tomorrow",
            0.8
        ));
        assert!(!answer_matches("sunny", "rain", 0.5));
    }
}
