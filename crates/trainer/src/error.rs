//! The trainer crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong planning, running or resuming a training run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The network or its weights failed.
    #[error(transparent)]
    Model(#[from] agentune_model::Error),
    /// Reading the training shards failed.
    #[error(transparent)]
    Data(#[from] agentune_data::Error),
    /// Writing a file atomically failed.
    #[error(transparent)]
    Schema(#[from] agentune_schema::Error),
    /// A tensor operation failed.
    #[error(transparent)]
    Tensor(#[from] candle_core::Error),
    /// A configuration file or value is invalid.
    #[error("config {}: {message}", path.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "value".into()))]
    Config {
        /// The file, when the value came from one.
        path: Option<PathBuf>,
        /// What is wrong.
        message: String,
    },
    /// A collective operation between ranks failed.
    #[error("communication: {0}")]
    Comm(String),
    /// A checkpoint is missing, incomplete or does not fit this run.
    #[error("checkpoint {}: {message}", path.display())]
    Checkpoint {
        /// The checkpoint folder or file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Training cannot go on (no data, a non-finite loss, ...).
    #[error("training: {0}")]
    Training(String),
    /// A file could not be read or written.
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
}

impl Error {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            op,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn config(path: Option<&std::path::Path>, message: impl Into<String>) -> Self {
        Self::Config {
            path: path.map(PathBuf::from),
            message: message.into(),
        }
    }

    pub(crate) fn checkpoint(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self::Checkpoint {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// The trainer crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
