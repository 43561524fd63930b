//! `cargo xtask ci`: the checks a submission must pass, in the order that fails fastest.

use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

/// Options of `cargo xtask ci`.
#[derive(Debug, clap::Args)]
pub struct CiArgs {
    /// Skip the format check.
    #[arg(long)]
    no_fmt: bool,
    /// Skip clippy.
    #[arg(long)]
    no_clippy: bool,
    /// Skip the tests.
    #[arg(long)]
    no_test: bool,
}

pub fn run(args: &CiArgs) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let root = crate::workspace_root();
    let mut steps: Vec<(&str, Vec<&str>)> = Vec::new();
    if !args.no_fmt {
        steps.push(("format", vec!["fmt", "--all", "--", "--check"]));
    }
    if !args.no_clippy {
        steps.push((
            "clippy",
            // Release, like the tests: build scripts and proc macros are then built once for
            // both steps.
            vec![
                "clippy",
                "--workspace",
                "--all-targets",
                "--release",
                "--",
                "-D",
                "warnings",
            ],
        ));
    }
    if !args.no_test {
        // Release mode shares the dependency builds with `cargo xtask` itself, which halves a
        // cold CI build; numeric tests also run faster.
        steps.push(("tests", vec!["test", "--workspace", "--release"]));
    }
    let total = Instant::now();
    for (name, cmd_args) in &steps {
        eprintln!("==> {name}: cargo {}", cmd_args.join(" "));
        let start = Instant::now();
        let status = Command::new(&cargo)
            .args(cmd_args)
            .current_dir(&root)
            .status()
            .with_context(|| format!("cannot start `{cargo}` for the {name} step"))?;
        if !status.success() {
            bail!(
                "the {name} step failed ({status}); run `cargo {}` to see why",
                cmd_args.join(" ")
            );
        }
        eprintln!("==> {name}: ok in {:.1}s", start.elapsed().as_secs_f64());
    }
    eprintln!(
        "==> ci: all {} step(s) passed in {:.1}s",
        steps.len(),
        total.elapsed().as_secs_f64()
    );
    Ok(())
}
