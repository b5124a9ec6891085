//! `check-gradients`: runs every relation over the built-in suite and prints the table.
//! Usually invoked as `cargo xtask check-gradients` (release build).

use clap::Parser;
use credit_check::out;
use credit_check::stacks::{builtin_stacks, run_stack};
use credit_check::{builtin_suite, report, run_config};
use indicatif::{ProgressBar, ProgressStyle};
use std::process::ExitCode;

/// Proves the relations between BPTT, RTRL, the dual-number oracle and finite differences.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Also write the results as JSON (schema 1) to this path.
    #[arg(long, value_name = "PATH")]
    json: Option<std::path::PathBuf>,
    /// Only run configs of these cells (comma-separated ids: rate, lif, alif, lstm; `stack` for
    /// the stacked networks).
    #[arg(long, value_delimiter = ',')]
    cell: Vec<String>,
    /// Only run the configs of this named preset of e-prop conventions (paper, tf, nest).
    #[arg(long, value_name = "NAME")]
    preset: Option<String>,
    /// Run every relation on this fixture's config, weights and inputs instead of the suite.
    #[arg(long, value_name = "DIR")]
    fixture: Option<std::path::PathBuf>,
    /// Print only failing rows and the summary.
    #[arg(long)]
    failures_only: bool,
    #[command(flatten)]
    limits: credit_check::budget::Limits,
}

fn main() -> ExitCode {
    let args: Args = match credit_check::cli::parse("check-gradients") {
        Ok(a) => a,
        Err(code) => return code,
    };
    let mut fixture_stack = None;
    let mut suite = match &args.fixture {
        None => builtin_suite(),
        Some(dir) => match credit_check::fixtures::read_any_limited(dir, &args.limits) {
            Ok(fx) => {
                use credit_check::budget::{Sizes, stack_suite, suite};
                let cost = match &fx {
                    credit_check::fixtures::AnyFixture::Single(f) => {
                        suite(&Sizes::of_network(&f.net, f.seq.len()))
                    }
                    credit_check::fixtures::AnyFixture::Stack(f) => {
                        stack_suite(&Sizes::of_stack(&f.stack, f.seq.len()))
                    }
                };
                if let Err(e) = args.limits.check("checking every relation", cost) {
                    eprintln!("check-gradients: {}: {e}", dir.display());
                    return ExitCode::from(2);
                }
                match fx {
                    credit_check::fixtures::AnyFixture::Single(fx) => {
                        vec![credit_check::suite::from_fixture(&fx)]
                    }
                    credit_check::fixtures::AnyFixture::Stack(fx) => {
                        fixture_stack = Some(credit_check::stacks::from_fixture(&fx));
                        Vec::new()
                    }
                }
            }
            Err(e) => {
                eprintln!("check-gradients: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let mut stacks = match fixture_stack {
        Some(s) => vec![s],
        None if args.fixture.is_some() || args.preset.is_some() => Vec::new(),
        None => builtin_stacks(),
    };
    let known = ["rate", "lif", "alif", "lstm", "stack"];
    for c in &args.cell {
        if !known.contains(&c.as_str()) {
            eprintln!("check-gradients: unknown cell `{c}` (known: {})", known.join(", "));
            return ExitCode::from(2);
        }
    }
    if !args.cell.is_empty() {
        use credit_core::CellModel;
        suite.retain(|c| args.cell.iter().any(|id| id == c.net.cell.id()));
        if !args.cell.iter().any(|id| id == "stack") {
            stacks.clear();
        }
    }
    if let Some(name) = &args.preset {
        match credit_core::Preset::parse(name) {
            Ok(p) => {
                let tag = format!("preset-{}-", p.name());
                suite.retain(|c| c.name.starts_with(&tag));
            }
            Err(e) => {
                eprintln!("check-gradients: {e}");
                return ExitCode::from(2);
            }
        }
    }
    if suite.is_empty() && stacks.is_empty() {
        eprintln!("check-gradients: the selection (--cell, --preset, --fixture) leaves no config to check");
        return ExitCode::from(2);
    }
    let started = std::time::Instant::now();
    let bar = ProgressBar::new((suite.len() + stacks.len()) as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} configs  {elapsed}  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut rows = Vec::new();
    for cfg in &suite {
        use credit_core::CellModel;
        bar.set_message(format!("{} {}", cfg.net.cell.id(), cfg.name));
        match run_config(cfg) {
            Ok(r) => rows.extend(r),
            Err(e) => {
                bar.finish_and_clear();
                eprintln!("check-gradients: config {} {}: {e}", cfg.net.cell.id(), cfg.name);
                return ExitCode::from(2);
            }
        }
        bar.inc(1);
    }
    for cfg in &stacks {
        bar.set_message(format!("{} {}", cfg.stack.id(), cfg.name));
        match run_stack(cfg) {
            Ok(r) => rows.extend(r),
            Err(e) => {
                bar.finish_and_clear();
                eprintln!("check-gradients: config {} {}: {e}", cfg.stack.id(), cfg.name);
                return ExitCode::from(2);
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let shown: Vec<_> = rows.iter().filter(|r| !args.failures_only || !r.pass).cloned().collect();
    out!("{}", report::table(&shown).trim_end());
    let failed = rows.iter().filter(|r| !r.pass).count();
    let relations: Vec<&str> =
        rows.iter().map(|r| r.relation).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    out!(
        "\n{} rows, {} relations ({}), {} configs, {:.1} s",
        rows.len(),
        relations.len(),
        relations.join(", "),
        suite.len() + stacks.len(),
        started.elapsed().as_secs_f64()
    );
    out!("{} passed, {} failed", rows.len() - failed, failed);
    if let Some(path) = &args.json
        && let Err(e) = std::fs::write(path, report::to_json(&rows))
    {
        eprintln!("check-gradients: cannot write {}: {e}", path.display());
        return ExitCode::from(2);
    }
    if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
