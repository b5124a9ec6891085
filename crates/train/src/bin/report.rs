//! `report`: the static HTML report (`docs/training.md` §8). Trains every rule on the default
//! tasks in-process and reads the JSON outputs of `check-gradients`, `family-table`,
//! `deep-table` and `rules-table` (run first by `cargo xtask report`); writes `OUT/index.html`
//! and its SVGs.

use clap::Parser;
use credit_check::cli::{self, non_negative};
use credit_check::out;
use std::path::PathBuf;
use std::process::ExitCode;

/// Write the static report: learning curves per rule and task, the family's accuracy and cost
/// against the order, the deep rules' per-layer error against depth, check-gradients' summary.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Output directory (created if missing): index.html and the SVGs.
    out: PathBuf,
    /// Shorter training runs (the CI report).
    #[arg(long)]
    quick: bool,
    /// `check-gradients --json` output to summarise.
    #[arg(long, value_name = "PATH")]
    check: Option<PathBuf>,
    /// `family-table --json` output to plot.
    #[arg(long, value_name = "PATH")]
    family: Option<PathBuf>,
    /// `deep-table --json` output to plot.
    #[arg(long, value_name = "PATH")]
    deep: Option<PathBuf>,
    /// `rules-table --json` output to show (the online rules' alignment and cost).
    #[arg(long, value_name = "PATH")]
    rules: Option<PathBuf>,
    /// Seed of the training runs.
    #[arg(long, default_value_t = 1, value_parser = non_negative::<u64>)]
    seed: u64,
}

const TOOL: &str = "report";

fn read(flag: &str, path: &Option<PathBuf>) -> Result<serde_json::Value, ExitCode> {
    let Some(p) = path else { return Ok(serde_json::Value::Null) };
    let text = std::fs::read_to_string(p).map_err(|e| {
        eprintln!("{TOOL}: {flag} {}: cannot read: {e}", p.display());
        ExitCode::from(2)
    })?;
    serde_json::from_str(&text).map_err(|e| {
        eprintln!("{TOOL}: {flag} {}: not JSON: {e}", p.display());
        ExitCode::from(2)
    })
}

fn main() -> ExitCode {
    let a = match cli::parse::<Args>(TOOL) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let inputs = (|| {
        Ok::<_, ExitCode>((
            read("--check", &a.check)?,
            read("--family", &a.family)?,
            read("--deep", &a.deep)?,
            read("--rules", &a.rules)?,
        ))
    })();
    let (check, family, deep, rules) = match inputs {
        Ok(x) => x,
        Err(code) => return code,
    };
    if let Err(e) = std::fs::create_dir_all(&a.out) {
        eprintln!("{TOOL}: {}: cannot create: {e}", a.out.display());
        return ExitCode::from(2);
    }
    let start = std::time::Instant::now();
    let bar = cli::progress(credit_train::report::training_run_count() as u64, "runs");
    let runs = match credit_train::report::training_runs(a.quick, a.seed, |what| {
        bar.inc(1);
        bar.set_message(what.to_string());
    }) {
        Ok(r) => r,
        Err(e) => {
            bar.finish_and_clear();
            eprintln!("{TOOL}: training failed: {e}");
            return ExitCode::from(1);
        }
    };
    bar.finish_and_clear();
    let inputs = credit_train::report::Inputs { check, family, deep, rules };
    if let Err(e) = credit_train::report::write(&a.out, &runs, &inputs, a.quick) {
        eprintln!("{TOOL}: {e}");
        return ExitCode::from(1);
    }
    let svgs = match credit_train::report::validate(&a.out) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("{TOOL}: {e}");
            return ExitCode::from(1);
        }
    };
    out!(
        "report: {} training runs in {:.1} s; {}/index.html and {svgs} SVGs, well-formed",
        runs.len(),
        start.elapsed().as_secs_f64(),
        a.out.display()
    );
    ExitCode::SUCCESS
}
