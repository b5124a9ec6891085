//! `export-fixtures DIR [--fixture IN]`: writes the canonical conformance fixtures into
//! `DIR/<name>/`, or — with `--fixture IN` — recomputes every output for the config, weights and
//! inputs of the fixture `IN` (drawn by another framework, say) and writes them to `DIR`.
//! Usually invoked as `cargo xtask export-fixtures DIR`.

use clap::Parser;
use credit_check::fixtures;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// Writes the conformance fixtures (config, inputs, per-step intermediates, every rule's
/// gradient) that a port compares itself with, one directory each (docs/fixtures.md).
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Output directory.
    dir: PathBuf,
    /// Recompute the outputs of this fixture (its config.json and inputs.npz) instead of the
    /// canonical set.
    #[arg(long, value_name = "IN")]
    fixture: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args: Args = match credit_check::cli::parse("export-fixtures") {
        Ok(a) => a,
        Err(code) => return code,
    };
    let result = match &args.fixture {
        Some(input) => fixtures::read_any(input).and_then(|fx| {
            match &fx {
                fixtures::AnyFixture::Single(f) => fixtures::write(&args.dir, f)?,
                fixtures::AnyFixture::Stack(f) => fixtures::stack::write(&args.dir, f)?,
            }
            let _ =
                writeln!(std::io::stdout(), "{}: recomputed from {}", args.dir.display(), input.display());
            Ok(())
        }),
        None => fixtures::canonical()
            .iter()
            .try_for_each(|fx| {
                let dir = args.dir.join(&fx.config.name);
                fixtures::write(&dir, fx)?;
                let _ = writeln!(std::io::stdout(), "{}", dir.display()); // a closed pipe is not an error
                Ok(())
            })
            .and_then(|()| {
                let fx = fixtures::stack::canonical_stack();
                let dir = args.dir.join(&fx.config.name);
                fixtures::stack::write(&dir, &fx)?;
                let _ = writeln!(std::io::stdout(), "{}", dir.display());
                Ok(())
            }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("export-fixtures: {e}");
            ExitCode::from(2)
        }
    }
}
