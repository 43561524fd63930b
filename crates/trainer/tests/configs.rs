//! The shipped training configs (`configs/train/*.toml`) parse with unknown fields refused;
//! the CPU ones validate, and the GPU ones are refused with a pointer to docs/gpu.md until the
//! CUDA backend exists.

#![allow(clippy::unwrap_used)] // Test code: a panic is the failure report.

use std::path::Path;

use agentune_trainer::TrainConfig;
use agentune_trainer::config::DeviceKind;

#[test]
fn shipped_configs_parse_and_validate() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/train");
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let cfg = TrainConfig::load(&path).unwrap();
        let checked = cfg.validate(Some(&path));
        match cfg.train.device {
            DeviceKind::Cpu => {
                checked.unwrap();
            }
            DeviceKind::Cuda => {
                let err = checked.unwrap_err().to_string();
                assert!(err.contains("docs/gpu.md"), "{err}");
                assert!(cfg.train.world_size > 1);
            }
        }
        seen.push(path.file_stem().unwrap().to_string_lossy().into_owned());
    }
    seen.sort();
    assert_eq!(
        seen,
        ["14b-gpu", "72b-gpu", "7b-gpu", "smollm2-cpu", "tiny"]
    );
}
