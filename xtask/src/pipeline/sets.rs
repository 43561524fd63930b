//! The pipeline's evaluation sets, drawn once so the base and the tuned model answer the same
//! items: a seeded sample of the test split's agent samples, the test trajectories rendered
//! under the held-out templates (never trained on), and the test split's general samples for
//! the forgetting check.

use std::collections::HashSet;

use agentune_data::Record;
use agentune_data::hash::hash_bytes;
use agentune_schema::{QueryKind, Sample};
use anyhow::{Context, Result};

use super::runner::StageCtx;
use super::{Paths, PipelineConfig, args, s};

/// Orders items by a seeded hash of their id: a shuffle that does not depend on file order.
fn seeded_order<T>(items: &mut [T], seed: u64, id: impl Fn(&T) -> &str) {
    items.sort_by_cached_key(|x| (hash_bytes(id(x).as_bytes(), seed), id(x).to_owned()));
}

/// The trajectory a rendered sample came from (`<trajectory>@<template>`).
fn trajectory_id(sample_id: &str) -> &str {
    sample_id.rsplit_once('@').map_or(sample_id, |(t, _)| t)
}

fn take(mut v: Vec<Sample>, n: usize) -> Vec<Sample> {
    if n > 0 {
        v.truncate(n);
    }
    v
}

/// The first `n` samples (all when `n` is 0), then further hard negatives in order until
/// `hard` of them are in (or none are left).
fn with_hard_negatives(v: Vec<Sample>, n: usize, hard: usize) -> Vec<Sample> {
    if n == 0 {
        return v;
    }
    let mut have = 0;
    let mut out = Vec::new();
    for (i, x) in v.into_iter().enumerate() {
        let negative = x.meta.kind == QueryKind::HardNegative;
        if i < n || (negative && have < hard) {
            have += usize::from(negative);
            out.push(x);
        }
    }
    out
}

/// Writes heldout.jsonl, general.jsonl and unseen.jsonl into the sets folder.
pub(super) fn write(ctx: &mut StageCtx, cfg: &PipelineConfig, paths: &Paths) -> Result<()> {
    let dir = paths.sets();
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let test = paths.build().join("split/test.jsonl");
    let mut agent = Vec::new();
    let mut general = Vec::new();
    for r in crate::data::read_records(&test)? {
        if let Record::Sample(sample) = r {
            match sample.meta.kind {
                QueryKind::General => general.push(*sample),
                _ if sample.template_id.is_some() => agent.push(*sample),
                _ => {}
            }
        }
    }
    anyhow::ensure!(
        !agent.is_empty(),
        "the test split {} holds no agent sample; raise data.synth or the test share",
        test.display()
    );
    seeded_order(&mut agent, cfg.seed, |x| &x.id);
    seeded_order(&mut general, cfg.seed, |x| &x.id);
    let traj_ids: Vec<String> = agent
        .iter()
        .map(|x| trajectory_id(&x.id).to_owned())
        .collect();
    let heldout = with_hard_negatives(agent, cfg.eval.heldout, cfg.eval.hard_negatives);
    let hard = heldout
        .iter()
        .filter(|x| x.meta.kind == QueryKind::HardNegative)
        .count();
    agentune_schema::write_jsonl(dir.join("heldout.jsonl"), &heldout)?;
    let general = if cfg.eval.forgetting > 0 {
        take(general, cfg.eval.forgetting)
    } else {
        Vec::new()
    };
    agentune_schema::write_jsonl(dir.join("general.jsonl"), &general)?;
    ctx.note(&format!(
        "held-out agent samples: {} ({hard} hard negatives); general samples for the forgetting check: {}",
        heldout.len(),
        general.len()
    ))?;
    let unseen = dir.join("unseen.jsonl");
    if cfg.eval.unseen == 0 {
        agentune_schema::write_jsonl(&unseen, &Vec::<Sample>::new())?;
        return Ok(());
    }
    // Test trajectories, in the same seeded order, each once.
    let mut seen = HashSet::new();
    let order: Vec<String> = traj_ids
        .into_iter()
        .filter(|id| seen.insert(id.clone()))
        .take(cfg.eval.unseen)
        .collect();
    let wanted: HashSet<&str> = order.iter().map(String::as_str).collect();
    let mut trajectories = Vec::new();
    for r in crate::data::read_records(&paths.build().join("clean.jsonl"))? {
        if let Record::Trajectory(t) = r
            && wanted.contains(t.id.as_str())
        {
            trajectories.push(*t);
        }
    }
    let source = dir.join("unseen_trajectories.jsonl");
    agentune_schema::write_jsonl(&source, &trajectories)?;
    let split = super::read_template_split(paths)?;
    ctx.note(&format!(
        "{} test trajectories rendered under the held-out templates {:?}",
        trajectories.len(),
        split.held_out
    ))?;
    ctx.xtask(&args(&[
        "data",
        "--config",
        &s(&paths.data_config()),
        "render",
        "--in",
        &s(&source),
        "--out",
        &s(&unseen),
        "--templates",
        &split.held_out.join(","),
        "--per-record",
        "1",
        "--any-language",
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trajectory_ids_drop_the_template() {
        assert_eq!(trajectory_id("weather.12@react"), "weather.12");
        assert_eq!(trajectory_id("a@b@hermes"), "a@b");
        assert_eq!(trajectory_id("plain"), "plain");
    }

    #[test]
    fn hard_negatives_are_topped_up() {
        let mk = |id: &str, kind| Sample {
            schema_version: Default::default(),
            id: id.into(),
            messages: Vec::new(),
            tools: Vec::new(),
            template_id: None,
            meta: agentune_schema::QueryMeta::new(
                "weather",
                kind,
                agentune_schema::Complexity::Simple,
                "en",
            ),
            split: None,
            group: None,
            provenance: None,
        };
        let v = vec![
            mk("a", QueryKind::Positive),
            mk("b", QueryKind::HardNegative),
            mk("c", QueryKind::Positive),
            mk("d", QueryKind::HardNegative),
            mk("e", QueryKind::HardNegative),
            mk("f", QueryKind::HardNegative),
        ];
        let ids = |v: Vec<Sample>| v.into_iter().map(|s| s.id).collect::<Vec<_>>();
        assert_eq!(
            ids(with_hard_negatives(v.clone(), 2, 3)),
            ["a", "b", "d", "e"]
        );
        assert_eq!(ids(with_hard_negatives(v.clone(), 3, 0)), ["a", "b", "c"]);
        assert_eq!(ids(with_hard_negatives(v.clone(), 2, 9)).len(), 5);
        assert_eq!(ids(with_hard_negatives(v, 0, 1)).len(), 6);
    }

    #[test]
    fn seeded_order_is_stable_and_seed_dependent() {
        let ids: Vec<String> = (0..20).map(|i| format!("id{i}")).collect();
        let mut a = ids.clone();
        let mut b: Vec<String> = ids.iter().rev().cloned().collect();
        seeded_order(&mut a, 1, |x| x);
        seeded_order(&mut b, 1, |x| x);
        assert_eq!(a, b);
        let mut c = ids.clone();
        seeded_order(&mut c, 2, |x| x);
        assert_ne!(a, c);
    }
}
