//! Record files: JSONL reading that names the file, line and field of a bad record, and atomic
//! writing (temp file in the same directory, fsync, rename) so a crash never leaves half a file.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, FieldPath, Result};

/// A file being written beside its destination; [`AtomicFile::commit`] moves it into place.
/// Dropped without a commit, the temporary file is removed and the destination is untouched.
#[derive(Debug)]
pub struct AtomicFile {
    dest: PathBuf,
    tmp: PathBuf,
    writer: Option<BufWriter<File>>,
}

impl AtomicFile {
    /// Starts writing `dest`, creating its parent directories.
    pub fn create(dest: impl AsRef<Path>) -> Result<Self> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let dest = dest.as_ref().to_path_buf();
        let parent = dest
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        fs::create_dir_all(parent).map_err(|e| Error::io("create directory", parent, e))?;
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "out".into());
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = parent.join(format!(".{name}.tmp-{}-{n}", std::process::id()));
        let file = File::create(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
        Ok(Self {
            dest,
            tmp,
            writer: Some(BufWriter::new(file)),
        })
    }

    /// The final path.
    pub fn path(&self) -> &Path {
        &self.dest
    }

    /// Flushes, syncs and renames the file into place.
    pub fn commit(mut self) -> Result<()> {
        if let Some(writer) = self.writer.take() {
            let file = writer
                .into_inner()
                .map_err(|e| Error::io("write", &self.tmp, e.into_error()))?;
            file.sync_all()
                .map_err(|e| Error::io("sync", &self.tmp, e))?;
        }
        fs::rename(&self.tmp, &self.dest)
            .map_err(|e| Error::io("rename into place", &self.dest, e))?;
        // Make the rename itself durable where the platform allows opening directories.
        if let Some(parent) = self.dest.parent().filter(|p| !p.as_os_str().is_empty())
            && let Ok(dir) = File::open(parent)
        {
            let _ = dir.sync_all();
        }
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.writer.as_mut() {
            Some(w) => w.write(buf),
            None => Err(std::io::Error::other("atomic file already committed")),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self.writer.as_mut() {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.writer.take().is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: impl AsRef<Path>, bytes: &[u8]) -> Result<()> {
    let mut f = AtomicFile::create(path)?;
    f.write_all(bytes)
        .map_err(|e| Error::io("write", f.path().to_path_buf(), e))?;
    f.commit()
}

/// Streams records into a JSONL file that appears only when [`JsonlWriter::finish`] succeeds.
#[derive(Debug)]
pub struct JsonlWriter<T> {
    file: AtomicFile,
    count: usize,
    _record: PhantomData<fn(&T)>,
}

impl<T: Serialize> JsonlWriter<T> {
    /// Starts writing `path`.
    pub fn create(path: impl AsRef<Path>) -> Result<Self> {
        Ok(Self {
            file: AtomicFile::create(path)?,
            count: 0,
            _record: PhantomData,
        })
    }

    /// Appends one record as one line.
    pub fn write(&mut self, record: &T) -> Result<()> {
        let path = self.file.path().to_path_buf();
        serde_json::to_writer(&mut self.file, record)
            .map_err(|e| Error::io("write", &path, std::io::Error::other(e)))?;
        self.file
            .write_all(b"\n")
            .map_err(|e| Error::io("write", &path, e))?;
        self.count += 1;
        Ok(())
    }

    /// Moves the file into place and returns how many records it holds.
    pub fn finish(self) -> Result<usize> {
        let n = self.count;
        self.file.commit()?;
        Ok(n)
    }
}

/// Writes all `records` to `path` as JSONL, atomically; returns how many were written.
pub fn write_jsonl<'a, T: Serialize + 'a>(
    path: impl AsRef<Path>,
    records: impl IntoIterator<Item = &'a T>,
) -> Result<usize> {
    let mut w = JsonlWriter::create(path)?;
    for r in records {
        w.write(r)?;
    }
    w.finish()
}

/// Iterates the records of a JSONL file. Blank lines are skipped; a bad line yields an error
/// naming the file, line, column and field, and iteration can go on past it.
#[derive(Debug)]
pub struct JsonlReader<T, R = BufReader<File>> {
    path: PathBuf,
    reader: R,
    line_no: usize,
    buf: String,
    _record: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> JsonlReader<T> {
    /// Opens `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let file = File::open(&path).map_err(|e| Error::io("open", &path, e))?;
        Ok(Self::from_reader(path, BufReader::new(file)))
    }
}

impl<T: DeserializeOwned, R: BufRead> JsonlReader<T, R> {
    /// Reads records from any buffered reader; `name` is used in error messages.
    pub fn from_reader(name: impl Into<PathBuf>, reader: R) -> Self {
        Self {
            path: name.into(),
            reader,
            line_no: 0,
            buf: String::new(),
            _record: PhantomData,
        }
    }

    /// The 1-based number of the line read last.
    pub fn line(&self) -> usize {
        self.line_no
    }
}

impl<T: DeserializeOwned, R: BufRead> Iterator for JsonlReader<T, R> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            self.buf.clear();
            self.line_no += 1;
            match self.reader.read_line(&mut self.buf) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                    return Some(Err(self.record_error(
                        None,
                        FieldPath::root(),
                        "line is not valid UTF-8".into(),
                    )));
                }
                Err(e) => return Some(Err(Error::io("read", &self.path, e))),
            }
            let mut text = self.buf.trim_end_matches(['\n', '\r']);
            if self.line_no == 1 {
                text = text.strip_prefix('\u{feff}').unwrap_or(text);
            }
            if text.trim().is_empty() {
                continue;
            }
            let mut de = serde_json::Deserializer::from_str(text);
            let parsed = match serde_path_to_error::deserialize(&mut de) {
                Ok(v) => de.end().map(|()| v).map_err(|e| (FieldPath::root(), e)),
                Err(e) => Err((FieldPath::from_serde(e.path()), e.into_inner())),
            };
            return Some(parsed.map_err(|(location, inner)| {
                let column = (inner.line() > 0).then(|| inner.column());
                self.record_error(column, location, strip_position(&inner))
            }));
        }
    }
}

impl<T, R> JsonlReader<T, R> {
    fn record_error(&self, column: Option<usize>, location: FieldPath, message: String) -> Error {
        Error::Record {
            path: self.path.clone(),
            line: self.line_no,
            column,
            location,
            message,
        }
    }
}

/// serde_json appends " at line L column C" to its messages; we report the position ourselves.
fn strip_position(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

/// Reads every record of a JSONL file, stopping at the first bad one.
pub fn read_jsonl<T: DeserializeOwned>(path: impl AsRef<Path>) -> Result<Vec<T>> {
    JsonlReader::open(path)?.collect()
}
