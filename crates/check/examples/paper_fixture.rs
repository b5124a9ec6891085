//! Writes the inputs (`config.json`, `inputs.npz`) of a paper-sized single-layer fixture —
//! 100 inputs, 100 LIF neurons (paper conventions), 2 readouts, T = 1000 — into `DIR`, to time
//! `export-fixtures OUT --fixture DIR` on it (`docs/fixtures.md` §4):
//!
//! ```sh
//! cargo run --release -p credit-check --example paper_fixture /tmp/paper-in
//! time target/release/export-fixtures /tmp/paper-out --fixture /tmp/paper-in
//! ```
//!
//! With `--bench CELL` (`rate`, `lif`, `alif`, `lstm`) it writes instead the network `bench`
//! times at `N = 128`, `T = 1000` (`fixtures::bench_sized`), on which `.ci/run` checks the fast
//! paths against the literal ones:
//!
//! ```sh
//! cargo run --release -p credit-check --example paper_fixture -- --bench lstm /tmp/lstm-in
//! target/release/check-gradients --fixture /tmp/lstm-in --relations bptt-fast=bptt,eprop-fast=eprop
//! ```

use credit_check::fixtures;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    // `--seed S` (default 1, bench's): anywhere before DIR
    let mut seed = 1;
    if let Some(i) = args.iter().position(|a| a == "--seed") {
        match args.get(i + 1).map(|s| s.parse::<u64>()) {
            Some(Ok(s)) => seed = s,
            _ => {
                eprintln!("paper_fixture: --seed takes a non-negative integer");
                return ExitCode::from(2);
            }
        }
        args.drain(i..i + 2);
    }
    let (fixture, dir) = match args.as_slice() {
        [dir] if !dir.starts_with('-') => (fixtures::paper_sized(), dir.clone()),
        [flag, cell, dir] if flag == "--bench" => match fixtures::bench_sized(cell, seed) {
            Some(fx) => (fx, dir.clone()),
            None => {
                eprintln!("paper_fixture: --bench {cell}: unknown cell (rate, lif, alif, lstm)");
                return ExitCode::from(2);
            }
        },
        _ => {
            eprintln!("paper_fixture: usage: paper_fixture [--bench rate|lif|alif|lstm] DIR");
            return ExitCode::from(2);
        }
    };
    let result = fixture.map_err(|e| e.to_string()).and_then(|fx| {
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
