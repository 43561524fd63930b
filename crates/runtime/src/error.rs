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
    /// A bundled or user-supplied data file has a bad record.
    #[error("{file}:{line}: {message}")]
    Data {
        /// The file (a bundled file is named by its path in the repository).
        file: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A tool could not be registered (duplicate name, invalid spec, bad configuration).
    #[error("tool `{name}`: {message}")]
    ToolSetup {
        /// The tool's name.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// An HTTP request did not complete (connection refused, timeout, TLS unavailable...).
    #[error("request to {url} failed: {message}")]
    Http {
        /// The URL requested.
        url: String,
        /// Why it failed.
        message: String,
    },
    /// An HTTP server answered with an error status.
    #[error("{url} answered HTTP {status}: {body}")]
    HttpStatus {
        /// The URL requested.
        url: String,
        /// The status code.
        status: u16,
        /// The start of the response body (or the API's error message).
        body: String,
    },
    /// A model endpoint answered something that is not a usable chat completion.
    #[error("bad response from {url}: {message}")]
    BadResponse {
        /// The URL requested.
        url: String,
        /// What is wrong with it.
        message: String,
    },
    /// The API key's environment variable is unset or empty.
    #[error("environment variable `{var}` (the API key) is not set or is empty")]
    MissingApiKey {
        /// The variable's name.
        var: String,
    },
    /// A scripted model was asked for more replies than it holds.
    #[error("scripted model has no reply left (it held {replies})")]
    ScriptExhausted {
        /// How many replies the script held.
        replies: usize,
    },
}

/// The runtime's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
