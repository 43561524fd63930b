//! The data crate's one error type: bad input files (with file, line and field), bad
//! configuration, bad arguments, and failures of the files and charts written.

use std::path::PathBuf;

/// Everything that can go wrong importing, cleaning, mixing, splitting or reporting data.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a record file failed (the schema crate names file, line and field).
    #[error(transparent)]
    Schema(#[from] agentune_schema::Error),
    /// One record of an input file is not in the expected format.
    #[error("{}{}: {field}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Input {
        /// The file read.
        path: PathBuf,
        /// The 1-based line (JSONL) or 1-based record index (JSON arrays), when known.
        line: Option<usize>,
        /// The field at fault, as a path like `conversations[3].value`.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// A file could not be opened, read or listed.
    #[error("cannot {op} {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The path concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A configuration file or value is invalid.
    #[error("config {}: {message}", path.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "value".into()))]
    Config {
        /// The file, when the value came from one.
        path: Option<PathBuf>,
        /// What is wrong.
        message: String,
    },
    /// An argument or a combination of records cannot be processed.
    #[error("{0}")]
    Invalid(String),
    /// A review decision was based on a revision of the record that is no longer current
    /// (another tab or reviewer decided first).
    #[error("record `{id}` changed since it was shown (revision {base}, now {current}): reload it")]
    Conflict {
        /// The record id.
        id: String,
        /// The revision the decision was based on.
        base: String,
        /// The current revision.
        current: String,
    },
    /// The review log grew under this session: another session on the same data wrote to it.
    #[error("the review log {} was written by another review session; restart this one to pick up its decisions", .0.display())]
    LogChanged(PathBuf),
    /// No record has this id.
    #[error("no record has id `{0}`")]
    UnknownRecord(String),
    /// A review edit cannot be applied (bad JSON, arguments that do not fit the schema, a
    /// step that does not exist).
    #[error("{field}: {message}")]
    InvalidEdit {
        /// The field of the record at fault.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A chart could not be drawn or written.
    #[error("cannot draw chart {}: {message}", path.display())]
    Chart {
        /// The PNG file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

impl Error {
    /// Shorthand for an [`Error::Input`].
    pub fn input(
        path: impl Into<PathBuf>,
        line: Option<usize>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::Input {
            path: path.into(),
            line,
            field: field.into(),
            message: message.into(),
        }
    }

    /// Shorthand for an [`Error::Io`].
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            op,
            path: path.into(),
            source,
        }
    }
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
