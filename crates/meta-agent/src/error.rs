//! The meta-agent crate's one error type: bad input files (with file, line and field), bad
//! settings, failed writes, and failures of the runtime (templates, model calls).

use std::path::PathBuf;

/// Everything that can go wrong clustering queries, generating and validating templates.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a record file failed (the schema crate names file, line and field).
    #[error(transparent)]
    Schema(#[from] agentune_schema::Error),
    /// A template or a model call of the runtime failed.
    #[error(transparent)]
    Runtime(#[from] agentune_runtime::Error),
    /// One record of an input file is not in the expected format.
    #[error("{}{}: {field}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Input {
        /// The file read.
        path: PathBuf,
        /// The 1-based line, when known.
        line: Option<usize>,
        /// The field at fault.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// A file or folder could not be opened, read, listed or written.
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
    /// A setting or a combination of inputs cannot be processed.
    #[error("{0}")]
    Invalid(String),
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

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
