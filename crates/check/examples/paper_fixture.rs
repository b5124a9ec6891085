//! Writes the inputs (`config.json`, `inputs.npz`) of a paper-sized single-layer fixture —
//! 100 inputs, 100 LIF neurons (paper conventions), 2 readouts, T = 1000 — into `DIR`, to time
//! `export-fixtures OUT --fixture DIR` on it (`docs/fixtures.md` §4):
//!
//! ```sh
//! cargo run --release -p credit-check --example paper_fixture /tmp/paper-in
//! time target/release/export-fixtures /tmp/paper-out --fixture /tmp/paper-in
//! ```

use credit_check::fixtures;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1) else {
        eprintln!("paper_fixture: usage: paper_fixture DIR");
        return ExitCode::from(2);
    };
    let result = fixtures::paper_sized().map_err(|e| e.to_string()).and_then(|fx| {
        fixtures::write_inputs(std::path::Path::new(&dir), &fx, false).map_err(|e| e.to_string())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("paper_fixture: {e}");
            ExitCode::from(2)
        }
    }
}
