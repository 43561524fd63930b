//! A note store confined to one directory, and the `write_note`, `read_note`, `list_notes` and
//! `delete_note` tools on it. Note names are relative paths of plain components: absolute
//! paths, `..`, `.`, hidden names, backslashes and control characters are refused, no symbolic
//! link is ever followed (each existing component is checked with `symlink_metadata`, and the
//! resolved parent must lie inside the store's canonical root), and sizes are limited.

use std::fs;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use agentune_schema::ToolSpec;
use serde_json::{Map, Value, json};

use super::{Tool, ToolError, json_text, ordered, str_arg};
use crate::{Error, Result};

/// Largest note, in bytes.
pub const MAX_NOTE_BYTES: usize = 64 * 1024;
/// Most notes in a store.
pub const MAX_NOTES: usize = 500;
/// Largest name, in characters.
const MAX_NAME_CHARS: usize = 120;
/// Deepest folder nesting in a name (`a/b/c/note.md` is 4).
const MAX_DEPTH: usize = 4;

/// The directory notes live in, and the rules that keep them there.
#[derive(Debug)]
pub struct NoteStore {
    root: PathBuf,
    /// Serialises writes so the count and size limits hold under parallel calls.
    lock: Mutex<()>,
}

impl NoteStore {
    /// Opens (creating if needed) the store at `dir`. The directory itself may be reached
    /// through a symbolic link; everything inside is resolved against its canonical path.
    pub fn open(dir: &Path) -> Result<Self> {
        fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let root = fs::canonicalize(dir).map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        Ok(Self {
            root,
            lock: Mutex::new(()),
        })
    }

    /// The store's canonical directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Checks a note name and returns the path it stands for inside the store.
    pub fn resolve(&self, name: &str) -> Result<PathBuf, ToolError> {
        let bad = |why: &str| ToolError::invalid("name", format!("`{name}` {why}"));
        let trimmed = name.trim();
        if trimmed.is_empty() {
            return Err(ToolError::invalid("name", "the note name is empty"));
        }
        if trimmed.chars().count() > MAX_NAME_CHARS {
            return Err(bad(&format!("is longer than {MAX_NAME_CHARS} characters")));
        }
        if trimmed.contains('\\') {
            return Err(bad("contains a backslash; separate folders with `/`"));
        }
        if trimmed.chars().any(char::is_control) {
            return Err(bad("contains control characters"));
        }
        let path = Path::new(trimmed);
        if path.is_absolute() || trimmed.starts_with('/') || trimmed.starts_with('~') {
            return Err(bad(
                "is an absolute path; note names are relative to the note store",
            ));
        }
        let mut parts = Vec::new();
        for comp in path.components() {
            match comp {
                Component::Normal(part) => {
                    let part = part.to_str().ok_or_else(|| bad("is not valid text"))?;
                    if part.starts_with('.') {
                        return Err(bad("has a hidden component (starting with `.`)"));
                    }
                    if !part
                        .chars()
                        .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ' '))
                    {
                        return Err(bad(
                            "may only contain letters, digits, spaces, `-`, `_`, `.` and `/`",
                        ));
                    }
                    parts.push(part);
                }
                Component::ParentDir => return Err(bad("goes outside the note store (`..`)")),
                Component::CurDir => return Err(bad("contains `.` components")),
                Component::RootDir | Component::Prefix(_) => {
                    return Err(bad(
                        "is an absolute path; note names are relative to the note store",
                    ));
                }
            }
        }
        if parts.is_empty() {
            return Err(ToolError::invalid("name", "the note name is empty"));
        }
        if parts.len() > MAX_DEPTH {
            return Err(bad(&format!("nests deeper than {MAX_DEPTH} levels")));
        }
        // No existing component may be a symbolic link: a link could lead anywhere.
        let mut cur = self.root.clone();
        for part in &parts {
            cur.push(part);
            match fs::symlink_metadata(&cur) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    return Err(bad(
                        "passes through a symbolic link, which the note store refuses",
                    ));
                }
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                Err(e) => return Err(ToolError::Failed(format!("cannot inspect `{name}`: {e}"))),
            }
        }
        Ok(self.root.join(parts.join("/")))
    }

    /// Defence in depth: the existing parent of `path`, resolved, must be inside the root.
    fn check_inside(&self, path: &Path, name: &str) -> Result<(), ToolError> {
        let mut parent = path.parent();
        while let Some(p) = parent {
            if p.exists() {
                let real = fs::canonicalize(p)
                    .map_err(|e| ToolError::Failed(format!("cannot resolve `{name}`: {e}")))?;
                if !real.starts_with(&self.root) {
                    return Err(ToolError::invalid(
                        "name",
                        format!("`{name}` resolves outside the note store"),
                    ));
                }
                return Ok(());
            }
            parent = p.parent();
        }
        Err(ToolError::invalid(
            "name",
            format!("`{name}` resolves outside the note store"),
        ))
    }

    /// Every note (relative name, size in bytes), sorted by name. Links and hidden files are
    /// skipped.
    pub fn list(&self) -> Result<Vec<(String, u64)>, ToolError> {
        let mut out = Vec::new();
        let mut stack = vec![(self.root.clone(), String::new(), 0usize)];
        while let Some((dir, prefix, depth)) = stack.pop() {
            let entries = fs::read_dir(&dir)
                .map_err(|e| ToolError::Failed(format!("cannot list the note store: {e}")))?;
            for entry in entries {
                let entry = entry
                    .map_err(|e| ToolError::Failed(format!("cannot list the note store: {e}")))?;
                let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                    continue;
                };
                if name.starts_with('.') {
                    continue;
                }
                let Ok(meta) = fs::symlink_metadata(entry.path()) else {
                    continue;
                };
                let rel = format!("{prefix}{name}");
                if meta.is_dir() && depth + 1 < MAX_DEPTH {
                    stack.push((entry.path(), format!("{rel}/"), depth + 1));
                } else if meta.is_file() {
                    out.push((rel, meta.len()));
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// Writes (or appends to) a note atomically; returns the note's new size.
    pub fn write(&self, name: &str, content: &str, append: bool) -> Result<usize, ToolError> {
        let _guard = self
            .lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let path = self.resolve(name)?;
        let existing = match fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => {
                return Err(ToolError::invalid(
                    "name",
                    format!("`{name}` is a folder, not a note"),
                ));
            }
            Ok(_) => true,
            Err(_) => false,
        };
        let mut text = String::new();
        if append && existing {
            text = self.read_path(&path, name)?;
        }
        text.push_str(content);
        if text.len() > MAX_NOTE_BYTES {
            return Err(ToolError::Failed(format!(
                "the note would be {} bytes, more than the limit of {MAX_NOTE_BYTES}",
                text.len()
            )));
        }
        if !existing && self.list()?.len() >= MAX_NOTES {
            return Err(ToolError::Failed(format!(
                "the store already holds {MAX_NOTES} notes; delete some first"
            )));
        }
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| {
                ToolError::Failed(format!("cannot create the folder for `{name}`: {e}"))
            })?;
        }
        self.check_inside(&path, name)?;
        // Re-check after creating folders: nothing on the way may have become a link.
        let path = self.resolve(name)?;
        agentune_schema::write_atomic(&path, text.as_bytes())
            .map_err(|e| ToolError::Failed(format!("cannot write `{name}`: {e}")))?;
        Ok(text.len())
    }

    fn read_path(&self, path: &Path, name: &str) -> Result<String, ToolError> {
        let meta = fs::symlink_metadata(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                ToolError::NotFound(format!(
                    "no note named `{name}`; list_notes shows what exists"
                ))
            } else {
                ToolError::Failed(format!("cannot read `{name}`: {e}"))
            }
        })?;
        if meta.file_type().is_symlink() {
            return Err(ToolError::invalid(
                "name",
                format!("`{name}` is a symbolic link, which the note store refuses"),
            ));
        }
        if meta.is_dir() {
            return Err(ToolError::invalid(
                "name",
                format!("`{name}` is a folder, not a note"),
            ));
        }
        if meta.len() > MAX_NOTE_BYTES as u64 {
            return Err(ToolError::Failed(format!(
                "`{name}` is larger than {MAX_NOTE_BYTES} bytes"
            )));
        }
        self.check_inside(path, name)?;
        let bytes =
            fs::read(path).map_err(|e| ToolError::Failed(format!("cannot read `{name}`: {e}")))?;
        String::from_utf8(bytes)
            .map_err(|_| ToolError::Failed(format!("`{name}` is not UTF-8 text")))
    }

    /// Reads a note.
    pub fn read(&self, name: &str) -> Result<String, ToolError> {
        let path = self.resolve(name)?;
        self.read_path(&path, name)
    }

    /// Deletes a note.
    pub fn delete(&self, name: &str) -> Result<(), ToolError> {
        let _guard = self
            .lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let path = self.resolve(name)?;
        // Reading checks existence, kind and confinement the same way.
        self.read_path(&path, name).or_else(|e| match e {
            ToolError::Failed(m) if m.contains("not UTF-8") || m.contains("larger than") => {
                Ok(String::new())
            }
            other => Err(other),
        })?;
        fs::remove_file(&path)
            .map_err(|e| ToolError::Failed(format!("cannot delete `{name}`: {e}")))
    }
}

fn name_schema() -> Value {
    json!({
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_NAME_CHARS,
        "description": "The note's name, a relative path such as \"shopping.md\" or \"trips/paris.txt\" (letters, digits, spaces, - _ . and / only)."
    })
}

macro_rules! note_tool {
    ($ty:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug)]
        pub struct $ty {
            spec: ToolSpec,
            store: Arc<NoteStore>,
        }
    };
}

note_tool!(WriteNote, "The `write_note` tool.");
note_tool!(ReadNote, "The `read_note` tool.");
note_tool!(ListNotes, "The `list_notes` tool.");
note_tool!(DeleteNote, "The `delete_note` tool.");

impl WriteNote {
    /// The tool on `store`.
    pub fn new(store: Arc<NoteStore>) -> Self {
        Self {
            spec: Self::tool_spec(),
            store,
        }
    }

    /// The spec alone (no store needed).
    pub fn tool_spec() -> ToolSpec {
        ToolSpec::new(
            "write_note",
            format!(
                "Save a text note in the private note store (creates it, replaces it, or \
                     appends to it with append=true). Notes are at most {} KiB.",
                MAX_NOTE_BYTES / 1024
            ),
            json!({
                "type": "object",
                "properties": {
                    "name": name_schema(),
                    "content": {"type": "string", "maxLength": MAX_NOTE_BYTES, "description": "The text to save."},
                    "append": {"type": "boolean", "description": "Add to the end of an existing note instead of replacing it (default false)."}
                },
                "required": ["name", "content"],
                "additionalProperties": false
            }),
        )
    }
}

impl Tool for WriteNote {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn call(&self, args: &Map<String, Value>) -> Result<String, ToolError> {
        let name = str_arg(args, "name")?.trim();
        let content = str_arg(args, "content")?;
        let append = args.get("append").and_then(Value::as_bool).unwrap_or(false);
        let bytes = self.store.write(name, content, append)?;
        ordered(vec![
            ("saved", json!(name)),
            ("bytes", json!(bytes)),
            ("appended", json!(append)),
        ])
    }
}

impl ReadNote {
    /// The tool on `store`.
    pub fn new(store: Arc<NoteStore>) -> Self {
        Self {
            spec: Self::tool_spec(),
            store,
        }
    }

    /// The spec alone (no store needed).
    pub fn tool_spec() -> ToolSpec {
        ToolSpec::new(
            "read_note",
            "Read a note from the private note store.",
            json!({
                "type": "object",
                "properties": {"name": name_schema()},
                "required": ["name"],
                "additionalProperties": false
            }),
        )
    }
}

impl Tool for ReadNote {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn call(&self, args: &Map<String, Value>) -> Result<String, ToolError> {
        let name = str_arg(args, "name")?.trim();
        let content = self.store.read(name)?;
        ordered(vec![("name", json!(name)), ("content", json!(content))])
    }
}

impl ListNotes {
    /// The tool on `store`.
    pub fn new(store: Arc<NoteStore>) -> Self {
        Self {
            spec: Self::tool_spec(),
            store,
        }
    }

    /// The spec alone (no store needed).
    pub fn tool_spec() -> ToolSpec {
        ToolSpec::new(
            "list_notes",
            "List the notes in the private note store with their sizes in bytes.",
            json!({"type": "object", "properties": {}, "additionalProperties": false}),
        )
    }
}

impl Tool for ListNotes {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn call(&self, _args: &Map<String, Value>) -> Result<String, ToolError> {
        let notes: Vec<Value> = self
            .store
            .list()?
            .into_iter()
            .map(|(name, bytes)| json!({"name": name, "bytes": bytes}))
            .collect();
        Ok(json_text(&json!({"count": notes.len(), "notes": notes})))
    }
}

impl DeleteNote {
    /// The tool on `store`.
    pub fn new(store: Arc<NoteStore>) -> Self {
        Self {
            spec: Self::tool_spec(),
            store,
        }
    }

    /// The spec alone (no store needed).
    pub fn tool_spec() -> ToolSpec {
        ToolSpec::new(
            "delete_note",
            "Delete a note from the private note store.",
            json!({
                "type": "object",
                "properties": {"name": name_schema()},
                "required": ["name"],
                "additionalProperties": false
            }),
        )
    }
}

impl Tool for DeleteNote {
    fn spec(&self) -> &ToolSpec {
        &self.spec
    }

    fn call(&self, args: &Map<String, Value>) -> Result<String, ToolError> {
        let name = str_arg(args, "name")?.trim();
        self.store.delete(name)?;
        Ok(json_text(&json!({"deleted": name})))
    }
}
