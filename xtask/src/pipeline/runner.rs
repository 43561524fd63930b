//! The pipeline's stage runner: one progress display, a log file per stage, child processes of
//! this same binary timed and watched for peak memory, and `pipeline.json`, the record of
//! finished stages that lets a re-run skip what is unchanged.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use agentune_data::hash::hash_str;
use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// The record of finished stages, in the run folder.
pub const MANIFEST: &str = "pipeline.json";

/// What is known of one finished stage.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StageRecord {
    /// Settings and inputs it ran with.
    pub fingerprint: String,
    /// Wall time.
    pub seconds: f64,
    /// Peak resident memory of its processes, bytes (0 when not measured).
    pub peak_rss: u64,
    /// The log file, relative to the run folder.
    pub log: String,
}

/// `pipeline.json`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Manifest {
    /// Per stage name.
    pub stages: BTreeMap<String, StageRecord>,
}

/// The work a stage does: runs child processes through the [`StageCtx`].
pub type StageFn<'a> = Box<dyn FnOnce(&mut StageCtx) -> Result<()> + 'a>;

/// One stage: a name, what decides whether it must run again, and its work.
pub struct Stage<'a> {
    pub name: &'static str,
    /// Settings that change its outputs.
    pub settings: serde_json::Value,
    /// Files read that no earlier stage writes (their size and time enter the fingerprint).
    pub external: Vec<PathBuf>,
    /// Files or folders it must leave behind.
    pub outputs: Vec<PathBuf>,
    pub run: StageFn<'a>,
}

/// Handed to a running stage: starts child processes with the stage's log and memory watch.
pub struct StageCtx {
    exe: PathBuf,
    log: PathBuf,
    peak_rss: u64,
}

impl StageCtx {
    /// Runs `xtask ARGS...` to completion, its output appended to the stage's log.
    pub fn xtask(&mut self, args: &[String]) -> Result<()> {
        let mut child = self.spawn(args)?;
        let status = self.watch(&mut child)?;
        if !status.success() {
            bail!(
                "`xtask {}` failed ({status}); its output is in {}{}",
                args.join(" "),
                self.log.display(),
                log_tail(&self.log, 15)
            );
        }
        Ok(())
    }

    fn log_file(&self) -> Result<std::fs::File> {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("cannot open the log {}", self.log.display()))
    }

    fn spawn(&mut self, args: &[String]) -> Result<Child> {
        use std::io::Write;
        let mut log = self.log_file()?;
        writeln!(log, "$ xtask {}", args.join(" "))
            .with_context(|| format!("writing {}", self.log.display()))?;
        let err = log
            .try_clone()
            .with_context(|| format!("writing {}", self.log.display()))?;
        Command::new(&self.exe)
            .args(args)
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(err))
            .spawn()
            .with_context(|| format!("cannot start {}", self.exe.display()))
    }

    /// Waits for `child`, sampling its peak memory.
    fn watch(&mut self, child: &mut Child) -> Result<std::process::ExitStatus> {
        loop {
            self.peak_rss = self.peak_rss.max(peak_rss_of(child.id()));
            if let Some(status) = child.try_wait().context("waiting for a stage process")? {
                return Ok(status);
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Starts `xtask serve` on a free loopback port for `model`; the server stops when the
    /// returned guard is dropped.
    pub fn serve(&mut self, model: &str, name: &str, max_batch: usize) -> Result<ServerGuard> {
        let args: Vec<String> = [
            "serve",
            "--model",
            model,
            "--served-model-name",
            name,
            "--f32",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--max-batch",
            &max_batch.to_string(),
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        use std::io::Write;
        let mut log = self.log_file()?;
        writeln!(log, "$ xtask {}", args.join(" "))
            .with_context(|| format!("writing {}", self.log.display()))?;
        let mut child = Command::new(&self.exe)
            .args(&args)
            .env("AGENTUNE_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start the server {}", self.exe.display()))?;
        let Some(stderr) = child.stderr.take() else {
            bail!("the server's output could not be read");
        };
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        // Copies the server's output into the log, and hands over its address.
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let _ = writeln!(log, "[serve] {line}");
                if !sent && let Some(rest) = line.split("http://").nth(1) {
                    let addr = rest.split('/').next().unwrap_or_default().to_owned();
                    sent = tx.send(addr).is_ok();
                }
            }
        });
        let start = Instant::now();
        let addr = loop {
            if let Ok(a) = rx.recv_timeout(Duration::from_millis(200)) {
                break a;
            }
            if let Some(status) = child.try_wait().context("waiting for the server")? {
                bail!(
                    "the server for {model} ended before listening ({status}); see {}{}",
                    self.log.display(),
                    log_tail(&self.log, 15)
                );
            }
            if start.elapsed() > Duration::from_secs(600) {
                let _ = child.kill();
                bail!("the server for {model} did not listen within 10 minutes");
            }
        };
        Ok(ServerGuard {
            child,
            url: format!("http://{addr}/v1"),
        })
    }

    /// Samples the server's memory into the stage's peak.
    pub fn sample(&mut self, server: &ServerGuard) {
        self.peak_rss = self.peak_rss.max(peak_rss_of(server.child.id()));
    }

    /// Appends a line to the stage's log.
    pub fn note(&self, text: &str) -> Result<()> {
        use std::io::Write;
        let mut log = self.log_file()?;
        writeln!(log, "{text}").with_context(|| format!("writing {}", self.log.display()))
    }
}

/// A running server; killed when dropped.
pub struct ServerGuard {
    child: Child,
    /// Its OpenAI base URL (`http://127.0.0.1:PORT/v1`).
    pub url: String,
}

impl Drop for ServerGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Peak resident memory of a process (Linux `VmHWM`), 0 where unknown.
fn peak_rss_of(pid: u32) -> u64 {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return 0;
    };
    text.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// The last `n` lines of a log, as text to append to an error.
fn log_tail(path: &Path, n: usize) -> String {
    let Ok(text) = std::fs::read_to_string(path) else {
        return String::new();
    };
    let lines: Vec<&str> = text.lines().collect();
    let tail = &lines[lines.len().saturating_sub(n)..];
    format!("; its last lines:\n{}", tail.join("\n"))
}

/// A fingerprint of a file or folder's size and modification time (recursively for folders).
fn stamp(path: &Path) -> String {
    fn walk(p: &Path, out: &mut Vec<String>) {
        let Ok(meta) = std::fs::metadata(p) else {
            out.push(format!("{} missing", p.display()));
            return;
        };
        if meta.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
                .map(|r| r.filter_map(|e| e.ok().map(|e| e.path())).collect())
                .unwrap_or_default();
            entries.sort();
            for e in entries {
                walk(&e, out);
            }
        } else {
            let t = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            out.push(format!("{} {} {t}", p.display(), meta.len()));
        }
    }
    let mut out = Vec::new();
    walk(path, &mut out);
    out.join("\n")
}

/// Runs the stages in order under one progress display.
pub struct Runner {
    dir: PathBuf,
    exe: PathBuf,
    manifest: Manifest,
    /// Stages from this one on run even when unchanged.
    from: Option<String>,
    forcing: bool,
    bar: ProgressBar,
    /// The fingerprint of every stage so far (later stages depend on all earlier ones).
    chain: Vec<String>,
}

impl Runner {
    /// A runner writing into `dir`; `from` names the first stage to force.
    pub fn new(dir: &Path, total: usize, from: Option<String>) -> Result<Self> {
        std::fs::create_dir_all(dir.join("logs"))
            .with_context(|| format!("cannot create {}", dir.join("logs").display()))?;
        let manifest = match std::fs::read_to_string(dir.join(MANIFEST)) {
            Ok(text) => serde_json::from_str(&text).unwrap_or_else(|e| {
                tracing::warn!("{}: {e}; every stage runs again", MANIFEST);
                Manifest::default()
            }),
            Err(_) => Manifest::default(),
        };
        let exe = std::env::current_exe().context("cannot find this program's own path")?;
        let bar = ProgressBar::new(total as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "pipeline [{bar:20}] {pos}/{len} stages · {elapsed_precise} · {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(500));
        Ok(Self {
            dir: dir.to_path_buf(),
            exe,
            manifest,
            from,
            forcing: false,
            bar,
            chain: Vec::new(),
        })
    }

    /// The record of finished stages.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Runs `stage` unless it is unchanged since it last finished.
    pub fn stage(&mut self, stage: Stage<'_>) -> Result<()> {
        if self.from.as_deref() == Some(stage.name) {
            self.forcing = true;
        }
        let external: Vec<String> = stage.external.iter().map(|p| stamp(p)).collect();
        let text = json!({
            "settings": stage.settings,
            "external": external,
            "before": self.chain,
        })
        .to_string();
        let fp = format!("{:016x}", hash_str(&text));
        self.chain.push(fp.clone());
        let done = self
            .manifest
            .stages
            .get(stage.name)
            .is_some_and(|r| r.fingerprint == fp)
            && stage.outputs.iter().all(|o| o.exists());
        if done && !self.forcing {
            self.say(&format!("{:>12}  up to date, skipped", stage.name));
            self.bar.inc(1);
            return Ok(());
        }
        // Forget the stage first: a stage that fails half-way must run again.
        self.manifest.stages.remove(stage.name);
        self.save()?;
        let log_rel = format!("logs/{:02}-{}.log", self.chain.len(), stage.name);
        let log = self.dir.join(&log_rel);
        std::fs::write(&log, "")
            .with_context(|| format!("cannot create the log {}", log.display()))?;
        self.bar
            .set_message(format!("{} (log: {})", stage.name, log.display()));
        let mut ctx = StageCtx {
            exe: self.exe.clone(),
            log,
            peak_rss: 0,
        };
        let start = Instant::now();
        let result = (stage.run)(&mut ctx);
        let seconds = start.elapsed().as_secs_f64();
        if let Err(e) = result {
            self.bar
                .abandon_with_message(format!("{} failed", stage.name));
            return Err(e.context(format!(
                "pipeline stage `{}` failed after {seconds:.0} s (fix it, then rerun: finished stages are skipped)",
                stage.name
            )));
        }
        for o in &stage.outputs {
            if !o.exists() {
                bail!(
                    "pipeline stage `{}` finished without writing {}",
                    stage.name,
                    o.display()
                );
            }
        }
        self.say(&format!(
            "{:>12}  done in {seconds:.1} s, peak memory {:.2} GB",
            stage.name,
            ctx.peak_rss as f64 / 1e9
        ));
        self.bar.inc(1);
        self.manifest.stages.insert(
            stage.name.to_owned(),
            StageRecord {
                fingerprint: fp,
                seconds,
                peak_rss: ctx.peak_rss,
                log: log_rel,
            },
        );
        self.save()?;
        Ok(())
    }

    /// A line above the progress display (plain stderr when there is no terminal).
    fn say(&self, text: &str) {
        if self.bar.is_hidden() {
            eprintln!("{text}");
        } else {
            self.bar.println(text);
        }
    }

    /// Ends the progress display.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }

    fn save(&self) -> Result<()> {
        let mut text = serde_json::to_string_pretty(&self.manifest)?;
        text.push('\n');
        agentune_schema::write_atomic(self.dir.join(MANIFEST), text.as_bytes())
            .with_context(|| format!("cannot write {}", self.dir.join(MANIFEST).display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_change_with_content_and_see_into_folders() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let f = dir.path().join("sub/a.txt");
        std::fs::create_dir_all(dir.path().join("sub")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(&f, "one").unwrap_or_else(|e| panic!("{e}"));
        let before = stamp(dir.path());
        std::fs::write(&f, "three").unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(before, stamp(dir.path()));
        assert!(stamp(&dir.path().join("nope")).contains("missing"));
    }

    #[test]
    fn own_peak_memory_is_read() {
        assert!(peak_rss_of(std::process::id()) > 0);
    }
}
