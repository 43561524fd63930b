//! Checkpoints: `checkpoints/step-NNNNNNNN/` holds the model as a Hugging Face folder
//! (`model/`), every rank's optimizer shard (`optimizer/rank-R-of-W.safetensors`: fp32 master
//! weights and both moments per parameter group) and `trainer_state.json` (step, data cursor,
//! data-order seed and epoch). A checkpoint is written under a temporary name and renamed
//! into place when complete, so a folder with the final name is always whole; the oldest are
//! removed beyond the number kept. Loading re-shards, so a run may resume with another world
//! size.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use agentune_model::{ModelConfig, ModelTokenizer, Weights};
use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::comm::Communicator;
use crate::engine::{Engine, ShardState};
use crate::error::{Error, Result};
use crate::optim::Moments;
use crate::params::Layout;

/// Version of the checkpoint layout written here.
pub const CHECKPOINT_VERSION: u32 = 1;
/// The state file inside a checkpoint.
pub const STATE_FILE: &str = "trainer_state.json";

/// What besides the weights a run needs to continue exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainerState {
    /// Checkpoint layout version.
    pub version: u32,
    /// Optimizer steps taken.
    pub step: u64,
    /// Steps the run was planned for.
    pub total_steps: u64,
    /// Data cursor: rows consumed from the stream.
    pub rows_consumed: u64,
    /// Rows per step.
    pub rows_per_step: usize,
    /// Seed of the data order (the random state of the stream: the order is a function of
    /// the seed, the epoch and the position).
    pub data_seed: u64,
    /// Epoch the cursor is in.
    pub data_epoch: u64,
    /// Ranks that wrote the optimizer shards.
    pub world_size: usize,
    /// Parameters in the model.
    pub num_parameters: usize,
    /// Rows in the shards the run reads.
    pub data_rows: usize,
}

/// What is saved with the model so the folder loads in `transformers`.
#[derive(Debug, Clone, Default)]
pub struct ModelFiles {
    /// The tokenizer, when the run has one.
    pub tokenizer: Option<ModelTokenizer>,
    /// The chat template.
    pub chat_template: Option<String>,
    /// `generation_config.json`.
    pub generation_config: Option<serde_json::Value>,
    /// The agent template the model is tuned with, as TOML ([`AGENT_TEMPLATE_FILE`]).
    pub agent_template: Option<String>,
}

/// The agent template's file in a saved model folder: serve, eval and the agent runtime load
/// it from there by default, so the tuned model is prompted exactly as it was trained.
pub const AGENT_TEMPLATE_FILE: &str = "agent_template.toml";

/// The folder name of the checkpoint after `step`.
pub fn checkpoint_name(step: u64) -> String {
    format!("step-{step:08}")
}

fn step_of(name: &str) -> Option<u64> {
    name.strip_prefix("step-")?.parse().ok()
}

/// Complete checkpoints under `root`, oldest first.
pub fn list_checkpoints(root: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(Error::io("list", root, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("list", root, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(step) = step_of(&name)
            && entry.path().join(STATE_FILE).is_file()
        {
            out.push((step, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// The newest complete checkpoint under `root`.
pub fn latest_checkpoint(root: &Path) -> Result<Option<PathBuf>> {
    Ok(list_checkpoints(root)?.pop().map(|(_, p)| p))
}

fn shard_file(rank: usize, world: usize) -> String {
    format!("rank-{rank:05}-of-{world:05}.safetensors")
}

/// Writes the HF model folder `dir` (with the tokenizer files when there is a tokenizer).
fn save_model(
    dir: &Path,
    config: &ModelConfig,
    weights: &Weights,
    files: &ModelFiles,
) -> Result<()> {
    match &files.tokenizer {
        Some(tok) => agentune_model::save_hf(
            dir,
            config,
            weights,
            tok,
            files.chat_template.as_deref(),
            files.generation_config.as_ref(),
        )?,
        None => {
            std::fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
            let json = serde_json::to_vec_pretty(&config.to_hf_json("float32"))
                .map_err(|e| Error::Training(format!("cannot serialise config.json: {e}")))?;
            agentune_schema::write_atomic(dir.join("config.json"), &json)?;
            let known: std::collections::BTreeSet<String> =
                agentune_model::expected_tensors(config)
                    .into_iter()
                    .map(|(n, _)| n)
                    .collect();
            let mut tensors: HashMap<String, Tensor> = HashMap::new();
            for (name, w) in weights.iter() {
                if known.contains(name) {
                    tensors.insert(name.clone(), w.to_f32()?.contiguous()?);
                }
            }
            let st = dir.join("model.safetensors");
            candle_core::safetensors::save(&tensors, &st)
                .map_err(|e| Error::io("write", &st, std::io::Error::other(e.to_string())))?;
        }
    }
    if let Some(text) = &files.agent_template {
        agentune_schema::write_atomic(dir.join(AGENT_TEMPLATE_FILE), text.as_bytes())?;
    }
    Ok(())
}

/// Writes the checkpoint of `state.step` under `root` (collective: every rank calls it), then
/// removes the oldest checkpoints beyond `keep`. Returns the checkpoint folder.
pub fn save<C: Communicator>(
    engine: &Engine<C>,
    root: &Path,
    state: &TrainerState,
    config: &ModelConfig,
    files: &ModelFiles,
    keep: usize,
) -> Result<PathBuf> {
    let comm = engine.comm();
    let (rank, world) = (comm.rank(), comm.world_size());
    let name = checkpoint_name(state.step);
    let final_dir = root.join(&name);
    let tmp = root.join(format!(".{name}.tmp"));
    let opt_dir = tmp.join("optimizer");
    if rank == 0 {
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(|e| Error::io("remove", &tmp, e))?;
        }
        std::fs::create_dir_all(&opt_dir).map_err(|e| Error::io("create", &opt_dir, e))?;
    }
    comm.barrier()?;
    let shard = engine.shard_state();
    let mut tensors: HashMap<String, Tensor> = HashMap::new();
    for (g, group) in engine.layout().groups.iter().enumerate() {
        let t = |v: &Vec<f32>| Tensor::from_slice(v, v.len(), &Device::Cpu);
        tensors.insert(format!("{}.param", group.name), t(&shard.params[g])?);
        tensors.insert(
            format!("{}.exp_avg", group.name),
            t(&shard.moments[g].exp_avg)?,
        );
        tensors.insert(
            format!("{}.exp_avg_sq", group.name),
            t(&shard.moments[g].exp_avg_sq)?,
        );
    }
    let path = opt_dir.join(shard_file(rank, world));
    candle_core::safetensors::save(&tensors, &path)
        .map_err(|e| Error::io("write", &path, std::io::Error::other(e.to_string())))?;
    drop(tensors);
    let weights = engine.full_weights("checkpoint")?;
    if rank == 0 {
        save_model(&tmp.join("model"), config, &weights, files)?;
        let json = serde_json::to_vec_pretty(state)
            .map_err(|e| Error::Training(format!("cannot serialise the trainer state: {e}")))?;
        agentune_schema::write_atomic(tmp.join(STATE_FILE), &json)?;
    }
    drop(weights);
    comm.barrier()?;
    if rank == 0 {
        if final_dir.exists() {
            std::fs::remove_dir_all(&final_dir).map_err(|e| Error::io("remove", &final_dir, e))?;
        }
        std::fs::rename(&tmp, &final_dir).map_err(|e| Error::io("rename into place", &tmp, e))?;
        let all = list_checkpoints(root)?;
        let extra = all.len().saturating_sub(keep);
        for (_, old) in all.into_iter().take(extra) {
            std::fs::remove_dir_all(&old).map_err(|e| Error::io("remove", &old, e))?;
            tracing::debug!(checkpoint = %old.display(), "removed an old checkpoint");
        }
    }
    comm.barrier()?;
    Ok(final_dir)
}

/// Reads a checkpoint's `trainer_state.json`.
pub fn load_state(dir: &Path) -> Result<TrainerState> {
    let path = dir.join(STATE_FILE);
    let text = std::fs::read(&path).map_err(|e| Error::io("read", &path, e))?;
    let state: TrainerState = serde_json::from_slice(&text)
        .map_err(|e| Error::checkpoint(&path, format!("unreadable: {e}")))?;
    if state.version != CHECKPOINT_VERSION {
        return Err(Error::checkpoint(
            &path,
            format!("layout version {} is not supported", state.version),
        ));
    }
    Ok(state)
}

/// This rank's optimizer state from the checkpoint in `dir`, written by `state.world_size`
/// ranks and re-sharded for `layout` (any world size).
pub fn load_shard(
    dir: &Path,
    state: &TrainerState,
    layout: &Layout,
    rank: usize,
) -> Result<ShardState> {
    let saved = Layout {
        groups: layout
            .groups
            .iter()
            .map(|g| {
                let mut g = g.clone();
                g.shard_len = g.len.div_ceil(state.world_size);
                g
            })
            .collect(),
        world: state.world_size,
    };
    let mut full: Vec<[Vec<f32>; 3]> = saved
        .groups
        .iter()
        .map(|g| {
            let n = g.padded_len(state.world_size);
            [vec![0f32; n], vec![0f32; n], vec![0f32; n]]
        })
        .collect();
    for r in 0..state.world_size {
        let path = dir.join("optimizer").join(shard_file(r, state.world_size));
        if !path.is_file() {
            return Err(Error::checkpoint(&path, "missing optimizer shard"));
        }
        let tensors = candle_core::safetensors::load(&path, &Device::Cpu)
            .map_err(|e| Error::checkpoint(&path, format!("unreadable: {e}")))?;
        for (g, group) in saved.groups.iter().enumerate() {
            let range = group.shard_range(r);
            for (k, suffix) in ["param", "exp_avg", "exp_avg_sq"].iter().enumerate() {
                let key = format!("{}.{suffix}", group.name);
                let v = tensors
                    .get(&key)
                    .ok_or_else(|| Error::checkpoint(&path, format!("no tensor {key}")))?
                    .to_vec1::<f32>()
                    .map_err(|e| Error::checkpoint(&path, format!("{key}: {e}")))?;
                if v.len() != range.len() {
                    return Err(Error::checkpoint(
                        &path,
                        format!("{key} has {} values, expected {}", v.len(), range.len()),
                    ));
                }
                full[g][k][range.clone()].copy_from_slice(&v);
            }
        }
    }
    let mut params = Vec::with_capacity(layout.groups.len());
    let mut moments = Vec::with_capacity(layout.groups.len());
    for (g, group) in layout.groups.iter().enumerate() {
        let take = |v: &Vec<f32>| -> Vec<f32> {
            let mut padded = v[..group.len].to_vec();
            padded.resize(group.padded_len(layout.world), 0.0);
            padded[group.shard_range(rank)].to_vec()
        };
        params.push(take(&full[g][0]));
        moments.push(Moments {
            exp_avg: take(&full[g][1]),
            exp_avg_sq: take(&full[g][2]),
        });
    }
    Ok(ShardState {
        params,
        moments,
        step: state.step,
    })
}
