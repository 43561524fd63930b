//! `ParseError`: why a model reply does not parse, and where (byte offset, line, column).

use std::fmt;

/// A reply that does not parse under a template: what went wrong and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// What went wrong, in a few words.
    pub message: String,
    /// What the template expects at that point, when that can be said.
    pub expected: Option<String>,
    /// What the reply has there instead (a short excerpt, or "end of reply").
    pub found: Option<String>,
    /// Byte offset into the reply.
    pub offset: usize,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

impl ParseError {
    /// An error at byte `offset` of `text` (clamped to the text and to a character boundary).
    pub fn at(text: &str, offset: usize, message: impl Into<String>) -> Self {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = text[line_start..offset].chars().count() + 1;
        Self {
            message: message.into(),
            expected: None,
            found: None,
            offset,
            line,
            column,
        }
    }

    /// The same error saying what was expected, with an excerpt of what the reply has at the
    /// error's offset.
    pub fn expected(mut self, text: &str, expected: impl Into<String>) -> Self {
        self.expected = Some(expected.into());
        self.found = Some(excerpt(text, self.offset));
        self
    }

    /// The same error with an explicit description of what was found.
    pub fn found(mut self, found: impl Into<String>) -> Self {
        self.found = Some(found.into());
        self
    }
}

/// A short, quoted excerpt of `text` from `offset` (or "end of reply").
pub(crate) fn excerpt(text: &str, offset: usize) -> String {
    let rest = text.get(offset..).unwrap_or("");
    if rest.is_empty() {
        return "end of reply".into();
    }
    let cut: String = rest.chars().take(32).collect();
    if cut.len() < rest.len() {
        format!("{:?}...", cut)
    } else {
        format!("{cut:?}")
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {} (byte {}): {}",
            self.line, self.column, self.offset, self.message
        )?;
        match (&self.expected, &self.found) {
            (Some(e), Some(found)) => write!(f, ": expected {e}, found {found}"),
            (Some(e), None) => write!(f, ": expected {e}"),
            (None, Some(found)) => write!(f, ": found {found}"),
            (None, None) => Ok(()),
        }
    }
}

impl std::error::Error for ParseError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_characters() {
        let text = "Thought: 天气\nAction get";
        let off = text.find("Action").unwrap_or(0);
        let e = ParseError::at(text, off, "bad label").expected(text, "`Action:`");
        assert_eq!((e.line, e.column, e.offset), (2, 1, off));
        assert_eq!(
            e.to_string(),
            format!(
                "line 2, column 1 (byte {off}): bad label: expected `Action:`, found \"Action get\""
            )
        );
        let e = ParseError::at("思考", 4, "x");
        assert_eq!((e.line, e.column, e.offset), (1, 2, 3));
        let e = ParseError::at("ab", 2, "cut").expected("ab", "`}`");
        assert_eq!(e.found.as_deref(), Some("end of reply"));
    }
}
