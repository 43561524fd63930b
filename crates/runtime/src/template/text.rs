//! Text helpers shared by rendering and parsing: `{placeholder}` filling and checking, code
//! fences, and the forgiving label matching of lenient mode.

/// The `{name}` placeholders of `text` (names of lowercase ASCII letters and `_`), with the
/// byte offset of each opening brace.
pub(crate) fn placeholders(text: &str) -> Vec<(&str, usize)> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'{' {
            let mut j = i + 1;
            while j < bytes.len() && (bytes[j].is_ascii_lowercase() || bytes[j] == b'_') {
                j += 1;
            }
            if j > i + 1 && j < bytes.len() && bytes[j] == b'}' {
                out.push((&text[i + 1..j], i));
                i = j + 1;
                continue;
            }
        }
        i += 1;
    }
    out
}

/// Replaces the placeholders named in `vars` in one pass (values are never re-scanned);
/// other braces stay as they are.
pub(crate) fn fill(text: &str, vars: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (name, at) in placeholders(text) {
        if let Some((_, value)) = vars.iter().find(|(n, _)| *n == name) {
            out.push_str(&text[last..at]);
            out.push_str(value);
            last = at + name.len() + 2;
        }
    }
    out.push_str(&text[last..]);
    out
}

/// `text` without the lines that hold `{name}`.
pub(crate) fn drop_lines_with(text: &str, name: &str) -> String {
    let needle = format!("{{{name}}}");
    if !text.contains(&needle) {
        return text.to_owned();
    }
    text.split_inclusive('\n')
        .filter(|l| !l.contains(&needle))
        .collect::<String>()
        .trim_end_matches('\n')
        .to_owned()
}

/// A leading `<think>...</think>` block (reasoning models such as Qwen3 write one): its
/// trimmed content and the trimmed text after it. `None` when the text does not start with one.
pub(crate) fn split_think(text: &str) -> Option<(String, &str)> {
    let rest = text.trim_start().strip_prefix("<think>")?;
    let end = rest.find("</think>")?;
    Some((
        rest[..end].trim().to_owned(),
        rest[end + "</think>".len()..].trim(),
    ))
}

/// The byte range of `text[start..end]` without surrounding whitespace.
pub(crate) fn trim_range(text: &str, start: usize, end: usize) -> (usize, usize) {
    let s = &text[start..end];
    let lead = s.len() - s.trim_start().len();
    let trail = s.len() - s.trim_end().len();
    if lead == s.len() {
        return (start, start);
    }
    (start + lead, end - trail)
}

/// When `text[start..end]` (trimmed) is wrapped in a Markdown code fence, the range inside it;
/// otherwise the trimmed range. A missing closing fence is tolerated.
pub(crate) fn unfence(text: &str, start: usize, end: usize) -> (usize, usize) {
    let (s, e) = trim_range(text, start, end);
    let body = &text[s..e];
    if !body.starts_with("```") {
        return (s, e);
    }
    let Some(nl) = body.find('\n') else {
        return (s, e);
    };
    let inner_start = s + nl + 1;
    let mut inner_end = e;
    if body.len() > nl + 1 && body.ends_with("```") {
        inner_end = e - 3;
    }
    trim_range(text, inner_start, inner_end.max(inner_start))
}

/// Lenient label match at the start of `line`: leading whitespace and Markdown emphasis
/// (`*`, `#`, `>`) skipped, case, spaces and underscores ignored inside the label, then `:` or
/// the full-width `：`, then spaces. Returns the byte length of the matched prefix.
pub(crate) fn match_label_loose(line: &str, label: &str) -> Option<usize> {
    let want: Vec<char> = label
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '_')
        .flat_map(char::to_lowercase)
        .collect();
    if want.is_empty() {
        return None;
    }
    let mut it = line.char_indices().peekable();
    while let Some(&(_, c)) = it.peek() {
        if c.is_whitespace() || matches!(c, '*' | '#' | '>') {
            it.next();
        } else {
            break;
        }
    }
    let mut k = 0;
    while k < want.len() {
        let &(_, c) = it.peek()?;
        if c == ' ' || c == '_' {
            it.next();
            continue;
        }
        let mut lower = c.to_lowercase();
        let matches = lower.next() == Some(want[k]) && lower.next().is_none();
        if !matches {
            return None;
        }
        it.next();
        k += 1;
    }
    while let Some(&(_, c)) = it.peek() {
        if c == ' ' || c == '*' {
            it.next();
        } else {
            break;
        }
    }
    let &(_, c) = it.peek()?;
    if c != ':' && c != '：' {
        return None;
    }
    it.next();
    while let Some(&(_, c)) = it.peek() {
        if c == ' ' || c == '\t' || c == '*' {
            it.next();
        } else {
            break;
        }
    }
    Some(it.peek().map_or(line.len(), |&(i, _)| i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_replaces_only_named_placeholders_once() {
        let t = "Tools: {tools}\nExample: {\"a\": 1} {unknown} {query}";
        let out = fill(t, &[("tools", "{query}"), ("query", "Q")]);
        assert_eq!(out, "Tools: {query}\nExample: {\"a\": 1} {unknown} Q");
        let names: Vec<_> = placeholders(t).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["tools", "unknown", "query"]);
    }

    #[test]
    fn date_lines_are_dropped() {
        assert_eq!(drop_lines_with("a\nToday is {date}.\nb", "date"), "a\nb");
        assert_eq!(drop_lines_with("a\nToday is {date}.", "date"), "a");
        assert_eq!(drop_lines_with("a\nb", "date"), "a\nb");
    }

    #[test]
    fn fences_are_removed() {
        let t = "  ```json\n{\"a\": 1}\n```\n";
        let (s, e) = unfence(t, 0, t.len());
        assert_eq!(&t[s..e], "{\"a\": 1}");
        let t = "```\nThought: x";
        let (s, e) = unfence(t, 0, t.len());
        assert_eq!(&t[s..e], "Thought: x");
        let t = "plain";
        assert_eq!(unfence(t, 0, t.len()), (0, 5));
    }

    #[test]
    fn think_blocks_split_off() {
        assert_eq!(
            split_think(" <think>\nrain?\n</think>\n\nIt rains."),
            Some(("rain?".to_owned(), "It rains."))
        );
        assert_eq!(split_think("It rains. <think>x</think>"), None);
        assert_eq!(split_think("<think>unclosed"), None);
    }

    #[test]
    fn loose_labels() {
        assert_eq!(
            match_label_loose("Action Input: {}", "Action Input"),
            Some(14)
        );
        assert_eq!(
            match_label_loose("  **action input**：{}", "Action Input"),
            Some(21)
        );
        assert_eq!(
            match_label_loose("ACTION_INPUT:{}", "Action Input"),
            Some(13)
        );
        assert_eq!(match_label_loose("Action Input: {}", "Action"), None);
        assert_eq!(match_label_loose("行动输入：{}", "行动输入"), Some(15));
        assert_eq!(match_label_loose("行动输入：{}", "行动"), None);
        assert_eq!(match_label_loose("Thoughts are", "Thought"), None);
        assert_eq!(match_label_loose("Thought:", "Thought"), Some(8));
    }
}
