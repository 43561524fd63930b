//! The runtime's error type.

/// Everything that can go wrong in the runtime.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: std::path::PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A template id that is neither built in nor an existing file.
    #[error("unknown template `{id}`: not a built-in template ({known}) nor an existing file")]
    UnknownTemplate {
        /// The id or path asked for.
        id: String,
        /// The built-in ids.
        known: String,
    },
    /// A template file that does not read or check.
    #[error("{}: {message}", path.display())]
    TemplateFile {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong, with line and field where known.
        message: String,
    },
    /// A template spec that does not check.
    #[error("template `{id}`: field `{field}`: {message}")]
    InvalidTemplate {
        /// The template's id.
        id: String,
        /// The field at fault.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// Something the template cannot render (too many calls, an unsupported give-up, ...).
    #[error("template `{template}`: {message}")]
    Render {
        /// The template's id.
        template: String,
        /// What cannot be rendered.
        message: String,
    },
    /// A model reply that does not parse under the template.
    #[error("reply does not parse: {0}")]
    Parse(#[from] crate::template::ParseError),
    /// A shared record type rejected its input.
    #[error(transparent)]
    Schema(#[from] agentune_schema::Error),
}

/// The runtime's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
