//! What the command-line tools share: argument parsing with one-line usage errors (exit 2) and
//! printing that stops quietly when stdout is closed.

use std::process::ExitCode;

/// Parses the arguments of tool `name`. A usage error prints one line `name: …` to stderr and
/// yields exit code 2; `--help`/`--version` print and yield 0.
pub fn parse<A: clap::Parser>(name: &str) -> Result<A, ExitCode> {
    match A::try_parse() {
        Ok(a) => Ok(a),
        Err(e) if e.use_stderr() => {
            // clap's message, up to its usage block, folded into one line
            let msg = e.to_string();
            let parts: Vec<&str> = msg
                .lines()
                .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            eprintln!("{name}: {}", parts.join(" ").trim_start_matches("error: "));
            Err(ExitCode::from(2))
        }
        Err(e) => {
            print!("{e}");
            Err(ExitCode::SUCCESS)
        }
    }
}

/// `println!` that ends the calling `main` (returning `ExitCode::SUCCESS`) when stdout is closed,
/// e.g. piped into `head`.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if writeln!(std::io::stdout(), $($arg)*).is_err() {
            return std::process::ExitCode::SUCCESS;
        }
    }};
}
