//! The model crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong loading, saving, tokenizing, templating or running a model.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be opened, read, written or renamed.
    #[error("cannot {op} {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A JSON file (config.json, tokenizer_config.json, ...) is malformed.
    #[error("{}: {message}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// What is wrong (with the field path when serde reports one).
        message: String,
    },
    /// A model configuration value is missing, out of range or unsupported.
    #[error("{source_name}: {field}: {message}")]
    Config {
        /// Where the configuration came from (a file path or "GGUF metadata").
        source_name: String,
        /// The field at fault.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The architecture is not one this crate implements.
    #[error("{source_name}: unsupported architecture `{architecture}` (supported: {supported})")]
    UnsupportedArchitecture {
        /// Where the configuration came from.
        source_name: String,
        /// The architecture named there.
        architecture: String,
        /// The supported names.
        supported: String,
    },
    /// A weight tensor is missing or has the wrong shape.
    #[error("{source_name}: tensor `{tensor}`: {message}")]
    Tensor {
        /// The weights file or folder.
        source_name: String,
        /// The tensor's name.
        tensor: String,
        /// What is wrong.
        message: String,
    },
    /// The tokenizer could not be built, loaded or run.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// A chat template could not be parsed or rendered.
    #[error("chat template: {0}")]
    Template(String),
    /// A generation request is invalid (empty prompt, bad sampling parameters, ...).
    #[error("generation: {0}")]
    Generation(String),
    /// Fetching a known model failed.
    #[error("fetch {model}: {message}")]
    Fetch {
        /// The model's short name.
        model: String,
        /// What went wrong.
        message: String,
    },
    /// A tensor operation failed.
    #[error("tensor operation: {0}")]
    Candle(#[from] candle_core::Error),
    /// Writing a file atomically failed.
    #[error(transparent)]
    Schema(#[from] agentune_schema::Error),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            op,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn config(
        source_name: impl Into<String>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::Config {
            source_name: source_name.into(),
            field: field.into(),
            message: message.into(),
        }
    }

    pub(crate) fn tensor(
        source_name: impl Into<String>,
        tensor: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::Tensor {
            source_name: source_name.into(),
            tensor: tensor.into(),
            message: message.into(),
        }
    }

    pub(crate) fn fetch(model: &str, message: impl Into<String>) -> Self {
        Self::Fetch {
            model: model.to_owned(),
            message: message.into(),
        }
    }
}
