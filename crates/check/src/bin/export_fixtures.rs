//! `export-fixtures DIR [--fixture IN] [--rules …] [--force] [--max-memory …] [--max-work …]`:
//! writes the canonical conformance fixtures into `DIR/<name>/`, or — with `--fixture IN` —
//! recomputes every output for the config, weights and inputs of the fixture `IN` (drawn by
//! another framework, say) and writes them to `DIR`. The output is built beside `DIR` and renamed
//! into place on success; a non-empty `DIR` is refused unless `--force`; `DIR` may not be `IN`.
//! Usually invoked as `cargo xtask export-fixtures DIR` (`docs/fixtures.md` §4).

use clap::Parser;
use credit_check::budget::Limits;
use credit_check::fixtures::{self, AnyFixture, FixtureError, WriteOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Writes the conformance fixtures (config, inputs, per-step intermediates, every rule's
/// gradient) that a port compares itself with, one directory each (docs/fixtures.md).
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Output directory (absent or empty, unless --force).
    dir: PathBuf,
    /// Recompute the outputs of this fixture (its config.json and inputs.npz) instead of the
    /// canonical set.
    #[arg(long, value_name = "IN")]
    fixture: Option<PathBuf>,
    /// Replace a non-empty output directory.
    #[arg(long)]
    force: bool,
    /// Export only these gradient rules (comma-separated names of gradients.npz: bptt, rtrl,
    /// oracle, oracle_detached, eprop_total, eprop_symmetric, eprop_noncausal_symmetric,
    /// eprop_random, family_m1; stacks: bptt, rtrl, oracle, oracle_detached, deep_eprop, ostl).
    /// Without it, rules over a limit are skipped (said on stderr).
    #[arg(long, value_delimiter = ',', value_name = "RULES")]
    rules: Option<Vec<String>>,
    #[command(flatten)]
    limits: Limits,
}

/// The path `p` would have once created: canonical parent joined with the file name.
fn resolved(p: &Path) -> Option<PathBuf> {
    if let Ok(c) = p.canonicalize() {
        return Some(c);
    }
    let parent = match p.parent() {
        Some(q) if !q.as_os_str().is_empty() => q.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Some(resolved(&parent)?.join(p.file_name()?))
}

/// Exports and returns one line per fixture written (`DIR: rules …`), and the number of rules
/// skipped by the cost limits.
fn run(args: &Args) -> Result<(Vec<String>, usize), FixtureError> {
    let opts = WriteOptions { force: args.force, rules: args.rules.clone(), limits: args.limits };
    let n_skipped = std::cell::Cell::new(0usize);
    let skipped = |plan: &fixtures::Plan, name: &str| {
        for (rule, why) in &plan.skipped {
            eprintln!("export-fixtures: {name}: skipping {rule}: {why}");
        }
        n_skipped.set(n_skipped.get() + plan.skipped.len());
    };
    let line = |dir: &Path, plan: &fixtures::Plan| format!("{}: {}", dir.display(), plan.rules.join(", "));
    match &args.fixture {
        Some(input) => {
            if let (Some(i), Some(o)) = (resolved(input), resolved(&args.dir))
                && (i == o || i.starts_with(&o) || o.starts_with(&i))
            {
                return Err(FixtureError::Refused {
                    path: args.dir.display().to_string(),
                    message: format!(
                        "is, holds or lies inside the --fixture input {}: write the outputs elsewhere",
                        input.display()
                    ),
                });
            }
            let fx = fixtures::read_any_limited(input, &args.limits)?;
            let name = input.display().to_string();
            let bar = credit_check::cli::progress(1, "fixtures");
            bar.set_message(name.clone());
            let plan = match &fx {
                AnyFixture::Single(f) => {
                    let plan = fixtures::plan(input, f, &opts)?;
                    skipped(&plan, &name);
                    fixtures::publish(&args.dir, args.force, |tmp| fixtures::write_into(tmp, f, &plan))?;
                    plan
                }
                AnyFixture::Stack(f) => {
                    let plan = fixtures::stack::plan(input, f, &opts)?;
                    skipped(&plan, &name);
                    fixtures::publish(&args.dir, args.force, |tmp| {
                        fixtures::stack::write_into(tmp, f, &plan)
                    })?;
                    plan
                }
            };
            bar.finish_and_clear();
            Ok((vec![line(&args.dir, &plan)], n_skipped.get()))
        }
        None => {
            let singles = fixtures::canonical();
            let stack = fixtures::stack::canonical_stack();
            // a selection applies to each kind with the names it has (a name neither kind has
            // is left in, to be refused with the valid names)
            let norm = |x: &String| x.trim().replace('-', "_");
            let known = |x: &String| {
                fixtures::RULES.contains(&norm(x).as_str())
                    || fixtures::stack::RULES.contains(&norm(x).as_str())
            };
            let restrict = |valid: &[&str]| WriteOptions {
                rules: opts.rules.as_ref().map(|r| {
                    r.iter().filter(|x| !known(x) || valid.contains(&norm(x).as_str())).cloned().collect()
                }),
                ..opts.clone()
            };
            let (single_opts, stack_opts) = (restrict(&fixtures::RULES), restrict(&fixtures::stack::RULES));
            let mut plans = Vec::new();
            if !single_opts.rules.as_ref().is_some_and(|r| r.is_empty()) {
                for fx in &singles {
                    let plan = fixtures::plan(Path::new(&fx.config.name), fx, &single_opts)?;
                    skipped(&plan, &fx.config.name);
                    plans.push(plan);
                }
            }
            let stack_plan = match &stack_opts.rules {
                Some(r) if r.is_empty() => None,
                _ => Some(fixtures::stack::plan(Path::new(&stack.config.name), &stack, &stack_opts)?),
            };
            if let Some(plan) = &stack_plan {
                skipped(plan, &stack.config.name);
            }
            let bar = credit_check::cli::progress(
                (plans.len() + usize::from(stack_plan.is_some())) as u64,
                "fixtures",
            );
            let written = fixtures::publish(&args.dir, args.force, |tmp| {
                let mut written = Vec::new();
                for (fx, plan) in singles.iter().zip(&plans) {
                    let d = tmp.join(&fx.config.name);
                    std::fs::create_dir(&d).map_err(|e| fixtures::FixtureError::Io {
                        path: d.display().to_string(),
                        message: e.to_string(),
                    })?;
                    bar.set_message(fx.config.name.clone());
                    fixtures::write_into(&d, fx, plan)?;
                    written.push(line(&args.dir.join(&fx.config.name), plan));
                    bar.inc(1);
                }
                if let Some(plan) = &stack_plan {
                    let d = tmp.join(&stack.config.name);
                    std::fs::create_dir(&d).map_err(|e| fixtures::FixtureError::Io {
                        path: d.display().to_string(),
                        message: e.to_string(),
                    })?;
                    bar.set_message(stack.config.name.clone());
                    fixtures::stack::write_into(&d, &stack, plan)?;
                    written.push(line(&args.dir.join(&stack.config.name), plan));
                    bar.inc(1);
                }
                Ok(written)
            });
            bar.finish_and_clear();
            Ok((written?, n_skipped.get()))
        }
    }
}

fn main() -> ExitCode {
    let args: Args = match credit_check::cli::parse("export-fixtures") {
        Ok(a) => a,
        Err(code) => return code,
    };
    let started = std::time::Instant::now();
    match run(&args) {
        Ok((lines, skipped)) => {
            let summary = format!(
                "{} fixture{} written to {}{}, {:.1} s",
                lines.len(),
                if lines.len() == 1 { "" } else { "s" },
                args.dir.display(),
                match skipped {
                    0 => String::new(),
                    k => format!(
                        " ({k} rule{} skipped by the cost limits, see stderr)",
                        if k == 1 { "" } else { "s" }
                    ),
                },
                started.elapsed().as_secs_f64()
            );
            for l in lines.iter().chain([&summary]) {
                if writeln!(std::io::stdout(), "{l}").is_err() {
                    break; // a closed pipe is not an error
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("export-fixtures: {e}");
            ExitCode::from(2)
        }
    }
}
