//! `compare-fixture EXPECTED CANDIDATE [--tol T]`: compares another implementation's output
//! (same layout) with a reference fixture, per array and per step. Exit 0 when every array
//! agrees within the tolerance, 1 when one does not (the first step and array where they part
//! are printed), 2 when a file is unusable.

use clap::Parser;
use credit_check::fixtures::compare::compare;
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
    /// Relative tolerance (`max|a − b| / max|b|` per array); 1e-6 suits float32 ports.
    #[arg(long, default_value_t = 1e-6)]
    tol: f64,
}

fn main() -> ExitCode {
    let args: Args = match credit_check::cli::parse("compare-fixture") {
        Ok(a) => a,
        Err(code) => return code,
    };
    let report = match compare(&args.expected, &args.candidate, args.tol) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("compare-fixture: {e}");
            return ExitCode::from(2);
        }
    };
    out!(
        "{:<18}  {:<40}  {:>10}  {:>10}  {:>10}  verdict",
        "file",
        "array",
        "rel. err",
        "abs. err",
        "first step"
    );
    for a in &report.arrays {
        out!(
            "{:<18}  {:<40}  {:>10.2e}  {:>10.2e}  {:>10}  {}",
            a.file,
            a.name,
            a.rel,
            a.abs,
            a.first_step.map_or("-".into(), |t| t.to_string()),
            if a.pass { "ok" } else { "FAIL" }
        );
    }
    let failed = report.arrays.iter().filter(|a| !a.pass).count();
    out!("\ntolerance {:.1e} (relative)", report.tol);
    if let Some(f) = report.first_failure() {
        out!(
            "first parting: {} `{}`{} — relative {:.3e}, absolute {:.3e}",
            f.file,
            f.name,
            f.first_step.map_or(String::new(), |t| format!(" at step {t}")),
            f.rel,
            f.abs
        );
    }
    out!("{} passed, {} failed", report.arrays.len() - failed, failed);
    if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
