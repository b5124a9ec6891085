//! `check-gradients`: runs every relation over the built-in suite and prints the table, then a
//! one-line-per-relation summary. Usually invoked as `cargo xtask check-gradients` (release
//! build). Columns, JSON and CSV: `docs/relations.md` §4, §6.

use clap::Parser;
use credit_check::cli::TableFiles;
use credit_check::feedforward::{builtin_ff, run_ff_selected};
use credit_check::out;
use credit_check::relations::{Select, run_config_selected};
use credit_check::stacks::{builtin_stacks, run_stack_selected};
use credit_check::{builtin_suite, report};
use std::process::ExitCode;

const TOOL: &str = "check-gradients";

/// Proves the relations between BPTT, RTRL, e-prop, the m-order family, deep e-prop, OSTL, the
/// dual-number oracle and finite differences, one row per relation × config × scalar × tensor.
///
/// Exit code 0 when every row passes, 1 when one fails, 2 on bad input.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Also write the results as JSON (schema 2, docs/relations.md §6) to this path.
    #[arg(long, value_name = "PATH")]
    json: Option<std::path::PathBuf>,
    /// Also write the results as CSV (the columns of the wide table, docs/relations.md §6).
    #[arg(long, value_name = "PATH")]
    csv: Option<std::path::PathBuf>,
    /// Only run configs of these cells (comma-separated ids: rate, lif, alif, lstm; `stack` for
    /// the stacked networks; `ff` for the feedforward networks).
    #[arg(long, value_delimiter = ',')]
    cell: Vec<String>,
    /// Only run the configs of this named preset of e-prop conventions (paper, tf, nest).
    #[arg(long, value_name = "NAME")]
    preset: Option<String>,
    /// Only report these relations (comma-separated ids; see --list-relations).
    #[arg(long, value_delimiter = ',', value_name = "ID,…")]
    relations: Vec<String>,
    /// Print the relation ids with their one-line claims and exit.
    #[arg(long)]
    list_relations: bool,
    /// Run every relation on this fixture's config, weights and inputs instead of the suite.
    #[arg(long, value_name = "DIR")]
    fixture: Option<std::path::PathBuf>,
    /// Print only failing rows and the summary.
    #[arg(long)]
    failures_only: bool,
    /// Print every column (expectation, scalar, liveness evidence) instead of the narrow table.
    #[arg(long)]
    wide: bool,
    #[command(flatten)]
    limits: credit_check::budget::Limits,
}

fn main() -> ExitCode {
    let args: Args = match credit_check::cli::parse(TOOL) {
        Ok(a) => a,
        Err(code) => return code,
    };
    if args.list_relations {
        let width = credit_check::registry::RELATIONS.iter().map(|(id, _)| id.len()).max().unwrap_or(0);
        for (id, claim) in credit_check::registry::RELATIONS {
            out!("{id:<width$}  {claim}");
        }
        return ExitCode::SUCCESS;
    }
    for id in &args.relations {
        if !credit_check::registry::RELATIONS.iter().any(|(known, _)| known == id) {
            let known: Vec<&str> = credit_check::registry::RELATIONS.iter().map(|(k, _)| *k).collect();
            eprintln!("check-gradients: unknown relation `{id}` (known: {})", known.join(", "));
            return ExitCode::from(2);
        }
    }
    // --relations: the other relations are neither computed nor reported (nor budgeted)
    let select = Select((!args.relations.is_empty()).then_some(args.relations.as_slice()));
    let mut fixture_stack = None;
    let mut suite = match &args.fixture {
        None => builtin_suite(),
        Some(dir) => match credit_check::fixtures::read_any_limited(dir, &args.limits) {
            Ok(fx) => {
                use credit_check::budget::{Sizes, stack_suite, suite_for};
                use credit_check::relations::Needs;
                let cost = match &fx {
                    credit_check::fixtures::AnyFixture::Single(f) => {
                        // only what the selected relations run (all of it without --relations)
                        suite_for(&Sizes::of_network(&f.net, f.seq.len()), &Needs::of(select))
                    }
                    credit_check::fixtures::AnyFixture::Stack(f) => {
                        stack_suite(&Sizes::of_stack(&f.stack, f.seq.len()))
                    }
                };
                if let Err(e) = args.limits.check(
                    if args.relations.is_empty() {
                        "checking every relation"
                    } else {
                        "checking the selected relations"
                    },
                    cost,
                ) {
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
    let mut ffs = if args.fixture.is_some() || args.preset.is_some() { Vec::new() } else { builtin_ff() };
    let known = ["rate", "lif", "alif", "lstm", "stack", "ff"];
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
        if !args.cell.iter().any(|id| id == "ff") {
            ffs.clear();
        }
    }
    if let Some(name) = &args.preset {
        match credit_core::Preset::parse(name) {
            Ok(p) if !credit_core::Preset::SUITE.contains(&p) => {
                let suite: Vec<_> = credit_core::Preset::SUITE.iter().map(|p| p.name()).collect();
                eprintln!(
                    "check-gradients: --preset {}: no built-in configs (those of {}); run it on a fixture with \
                     --fixture",
                    p.name(),
                    suite.join(", ")
                );
                return ExitCode::from(2);
            }
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
    if suite.is_empty() && stacks.is_empty() && ffs.is_empty() {
        eprintln!("check-gradients: the selection (--cell, --preset, --fixture) leaves no config to check");
        return ExitCode::from(2);
    }
    // the output files are opened before the run: an unwritable path fails now, not in minutes
    let files = match TableFiles::create(TOOL, args.json.as_deref(), args.csv.as_deref()) {
        Ok(f) => f,
        Err(code) => return code,
    };
    let started = std::time::Instant::now();
    let bar = credit_check::cli::progress((suite.len() + stacks.len() + ffs.len()) as u64, "configs");
    let mut rows: Vec<credit_check::Row> = Vec::new();
    for cfg in &suite {
        use credit_core::CellModel;
        bar.set_message(format!("{} {}", cfg.net.cell.id(), cfg.name));
        match run_config_selected(cfg, select) {
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
        match run_stack_selected(cfg, select) {
            Ok(r) => rows.extend(r),
            Err(e) => {
                bar.finish_and_clear();
                eprintln!("check-gradients: config {} {}: {e}", cfg.stack.id(), cfg.name);
                return ExitCode::from(2);
            }
        }
        bar.inc(1);
    }
    for cfg in &ffs {
        bar.set_message(format!("{} {}", cfg.net.id(), cfg.name));
        let run = run_ff_selected(cfg, select).and_then(|mut r| {
            r.extend(credit_check::burstccn::run_burstccn_selected(cfg, select)?);
            Ok(r)
        });
        match run {
            Ok(r) => rows.extend(r),
            Err(e) => {
                bar.finish_and_clear();
                eprintln!("check-gradients: config {} {}: {e}", cfg.net.id(), cfg.name);
                return ExitCode::from(2);
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    // the catalogue of --list-relations and --relations must name every relation that runs, and
    // an unfiltered run of the suite must run every relation it names
    if let Some(r) =
        rows.iter().find(|r| !credit_check::registry::RELATIONS.iter().any(|(id, _)| *id == r.relation))
    {
        eprintln!(
            "check-gradients: relation `{}` is missing from credit_check::registry::RELATIONS (--list-relations)",
            r.relation
        );
        return ExitCode::from(2);
    }
    let unfiltered =
        args.cell.is_empty() && args.preset.is_none() && args.fixture.is_none() && args.relations.is_empty();
    if let Some((id, _)) = credit_check::registry::RELATIONS
        .iter()
        .find(|(id, _)| unfiltered && !rows.iter().any(|r| r.relation == *id))
    {
        eprintln!(
            "check-gradients: relation `{id}` of credit_check::registry::RELATIONS (--list-relations) ran on no config of the suite"
        );
        return ExitCode::from(2);
    }
    if !args.relations.is_empty() && rows.is_empty() {
        eprintln!(
            "check-gradients: no selected config has the relations {} (a check of nothing is not a pass)",
            args.relations.join(", ")
        );
        return ExitCode::from(2);
    }
    // the files and the verdict are settled before printing, so that a closed stdout
    // (`… | head -1`) changes neither
    if let Err(code) = files.write(|| report::to_json(&rows), || report::to_csv(&rows)) {
        return code;
    }
    let failed = rows.iter().filter(|r| !r.pass).count();
    let verdict = if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE };
    let shown: Vec<_> = rows.iter().filter(|r| !args.failures_only || !r.pass).cloned().collect();
    let table = if args.wide { report::table(&shown) } else { report::table_narrow(&shown) };
    out!(exit = verdict; "{}", table.trim_end());
    out!(exit = verdict; "\n{}", report::summary_table(&report::summarise(&rows)).trim_end());
    let relations = rows.iter().map(|r| r.relation).collect::<std::collections::BTreeSet<_>>().len();
    out!(
        exit = verdict;
        "\n{} rows, {} relations, {} configs, {:.1} s: {} passed, {} failed",
        rows.len(),
        relations,
        suite.len() + stacks.len() + ffs.len(),
        started.elapsed().as_secs_f64(),
        rows.len() - failed,
        failed
    );
    verdict
}
