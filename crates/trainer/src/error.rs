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

/// The trainer crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
