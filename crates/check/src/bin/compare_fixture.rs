//! `compare-fixture EXPECTED CANDIDATE [--tol T] [--rtol R] [--atol A]`: compares another
//! implementation's output (same layout) with a reference fixture, per array, per entry and per
//! step (`docs/fixtures.md` §3). An entry passes when `|a − b| ≤ atol + rtol·|b|` and
//! `|a − b| / max|b| ≤ tol` (both) and neither value is NaN/inf unless both are the same
//! infinity. Exit 0 when every entry passes, 1 when one does not (the first step and entry
//! where they part and the worst entry are printed), 2 when a file or directory is unusable.

use clap::Parser;
use credit_check::fixtures::compare::{Tolerance, compare_with, render};
use credit_check::out;
use std::path::PathBuf;
use std::process::ExitCode;

/// Compares another implementation's arrays with a reference fixture and tells where they part.
///
/// Exit code 0 when every array agrees within the tolerance, 1 when one does not, 2 when a
/// file is unusable.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// The reference fixture directory.
    expected: PathBuf,
    /// The directory with the other implementation's arrays (any subset of the layout).
    candidate: PathBuf,
    /// Tensor-relative bound `max|a − b| / max|b| <= tol` per array (default suits float32 ports).
    #[arg(long, default_value_t = Tolerance::DEFAULT.tol)]
    tol: f64,
    /// Relative part of the per-entry rule `|a − b| <= atol + rtol·|b|`.
    #[arg(long, default_value_t = Tolerance::DEFAULT.rtol)]
    rtol: f64,
    /// Absolute part of the per-entry rule (`inf` switches the rule off).
    #[arg(long, default_value_t = Tolerance::DEFAULT.atol)]
    atol: f64,
}

fn main() -> ExitCode {
    let args: Args = match credit_check::cli::parse("compare-fixture") {
        Ok(a) => a,
        Err(code) => return code,
    };
    let tol = Tolerance { tol: args.tol, rtol: args.rtol, atol: args.atol };
    let report = match compare_with(&args.expected, &args.candidate, &tol) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("compare-fixture: {e}");
            return ExitCode::from(2);
        }
    };
    for line in render(&report) {
        out!("{line}");
    }
    if report.first_failure().is_none() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
