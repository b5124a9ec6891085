//! What the command-line tools share: argument parsing with one-line usage errors (exit 2),
//! output files opened before a run, CSV fields, a progress bar on a terminal, and printing that
//! stops quietly — keeping the run's exit code — when stdout is closed.

use indicatif::{ProgressBar, ProgressStyle};
use std::fmt::Display;
use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;

/// Parses the arguments of tool `name`. The help starts with the tool's own purpose (the doc
/// comment of `A`) and `--version` prints `name VERSION`. A usage error prints one line
/// `name: …` to stderr and yields exit code 2; `--help`/`--version` print and yield 0.
///
/// Every option that takes a value accepts a leading `-`, so that `--n -1` reaches the option's
/// value parser (e.g. [`non_negative`]) and gets a message about the value instead of clap's
/// "unexpected argument '-1'".
pub fn parse<A: clap::Parser>(name: &'static str) -> Result<A, ExitCode> {
    parse_from(name, std::env::args_os())
}

/// [`parse`] on given arguments (the first is the program name).
pub fn parse_from<A: clap::Parser, I, T>(name: &'static str, args: I) -> Result<A, ExitCode>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    match try_parse_from(name, args) {
        Ok(a) => Ok(a),
        Err(e) if e.use_stderr() => {
            eprintln!("{name}: {}", one_line(&e.to_string()));
            Err(ExitCode::from(2))
        }
        Err(e) => {
            // --help, --version; a closed stdout is not an error here
            let _ = write!(std::io::stdout(), "{e}");
            Err(ExitCode::SUCCESS)
        }
    }
}

/// The parse of [`parse_from`], without printing.
fn try_parse_from<A: clap::Parser, I, T>(name: &'static str, args: I) -> Result<A, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cmd = A::command()
        .name(name)
        .bin_name(name)
        .mut_args(|a| if a.get_action().takes_values() { a.allow_negative_numbers(true) } else { a });
    cmd.try_get_matches_from(args).and_then(|mut m| A::from_arg_matches_mut(&mut m))
}

/// clap's message, up to its usage block, folded into one line without the `error: ` prefix.
fn one_line(msg: &str) -> String {
    let parts: Vec<&str> = msg
        .lines()
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    parts.join(" ").trim_start_matches("error: ").to_string()
}

/// Value parser for counts, sizes and seeds: a negative number is named as such.
///
/// ```
/// use credit_check::cli::non_negative;
/// assert_eq!(non_negative::<usize>("12"), Ok(12));
/// assert!(non_negative::<usize>("-1").unwrap_err().contains("negative"));
/// ```
pub fn non_negative<T: FromStr>(s: &str) -> Result<T, String>
where
    T::Err: Display,
{
    if s.trim_start().starts_with('-') {
        return Err(format!("`{s}` is negative; expected an integer ≥ 0"));
    }
    s.parse::<T>().map_err(|e| format!("`{s}` is not an integer ≥ 0 ({e})"))
}

/// An output file (`--json PATH`, `--csv PATH`), created before the run so that an unwritable
/// path is reported at once rather than after minutes of work.
#[derive(Debug)]
pub struct OutputFile {
    path: PathBuf,
    file: std::fs::File,
}

impl OutputFile {
    /// Creates (truncates) `path` for option `flag` of tool `tool`; on failure prints one line
    /// `tool: --flag PATH: cannot write: …` and yields exit code 2.
    pub fn create(tool: &str, flag: &str, path: &Path) -> Result<Self, ExitCode> {
        match std::fs::File::create(path) {
            Ok(file) => Ok(OutputFile { path: path.to_path_buf(), file }),
            Err(e) => {
                eprintln!("{tool}: {flag} {}: cannot write: {e}", path.display());
                Err(ExitCode::from(2))
            }
        }
    }

    /// [`OutputFile::create`] for an optional path.
    pub fn create_opt(tool: &str, flag: &str, path: Option<&Path>) -> Result<Option<Self>, ExitCode> {
        path.map(|p| Self::create(tool, flag, p)).transpose()
    }

    /// Writes the whole content; on failure prints one line and yields exit code 2.
    pub fn write(mut self, tool: &str, content: &str) -> Result<(), ExitCode> {
        self.file.write_all(content.as_bytes()).and_then(|()| self.file.flush()).map_err(|e| {
            eprintln!("{tool}: cannot write {}: {e}", self.path.display());
            ExitCode::from(2)
        })
    }
}

/// The `--json PATH` and `--csv PATH` outputs of a table tool: created before its run (an
/// unwritable path fails at once, exit 2) and written after it.
pub struct TableFiles {
    tool: &'static str,
    json: Option<OutputFile>,
    csv: Option<OutputFile>,
}

impl TableFiles {
    /// Creates the files that are asked for (`None`: not asked for).
    pub fn create(tool: &'static str, json: Option<&Path>, csv: Option<&Path>) -> Result<Self, ExitCode> {
        let json = OutputFile::create_opt(tool, "--json", json)?;
        let csv = OutputFile::create_opt(tool, "--csv", csv)?;
        Ok(TableFiles { tool, json, csv })
    }

    /// Writes the files that were asked for; each content is built only if its file exists.
    pub fn write(self, json: impl FnOnce() -> String, csv: impl FnOnce() -> String) -> Result<(), ExitCode> {
        if let Some(f) = self.json {
            f.write(self.tool, &json())?;
        }
        if let Some(f) = self.csv {
            f.write(self.tool, &csv())?;
        }
        Ok(())
    }
}

/// A row of a table tool's CSV form: its column names and its record.
pub trait CsvRow {
    /// The header, in the order of [`CsvRow::csv`].
    const COLUMNS: &'static [&'static str];
    /// One record ([`csv_record`]).
    fn csv(&self) -> String;
}

/// The CSV form of `rows`: the header, then one record per row.
pub fn csv_rows<R: CsvRow>(rows: &[R]) -> String {
    let mut text = csv_record(R::COLUMNS);
    rows.iter().for_each(|r| text.push_str(&r.csv()));
    text
}

/// One CSV record (RFC 4180): fields joined by `,`, a field quoted when it holds a comma, a
/// quote or a line break (quotes doubled), ended by `\n`.
///
/// ```
/// use credit_check::cli::csv_record;
/// assert_eq!(csv_record(["a", "stack(lif,alif)", "say \"hi\""]), "a,\"stack(lif,alif)\",\"say \"\"hi\"\"\"\n");
/// ```
pub fn csv_record<I: IntoIterator<Item = S>, S: AsRef<str>>(fields: I) -> String {
    let mut line = fields
        .into_iter()
        .map(|f| {
            let f = f.as_ref();
            if f.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", f.replace('"', "\"\""))
            } else {
                f.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(",");
    line.push('\n');
    line
}

/// A progress bar of `len` steps on stderr, drawn only when stderr is a terminal (hidden when it
/// is redirected, so that logs and pipes stay clean). `unit` names the steps (`configs`).
pub fn progress(len: u64, unit: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    let template = format!("{{bar:30}} {{pos}}/{{len}} {unit}  {{elapsed}}  {{msg}}");
    bar.set_style(ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_bar()));
    bar
}

/// `println!` that ends the calling `main` when stdout is closed (e.g. piped into `head`): with
/// `ExitCode::SUCCESS`, or with the given code in the form `out!(exit = code; "fmt", args…)` —
/// a tool whose verdict is known before it prints passes the verdict on.
#[macro_export]
macro_rules! out {
    (exit = $code:expr; $($arg:tt)*) => {{
        use std::io::Write as _;
        if writeln!(std::io::stdout(), $($arg)*).is_err() {
            return $code;
        }
    }};
    ($($arg:tt)*) => {
        $crate::out!(exit = std::process::ExitCode::SUCCESS; $($arg)*)
    };
}

/// One single-layer case of a table tool: network, parameters, sequence.
pub type Case = (credit_core::Network, credit_core::Params<f64>, credit_core::Sequence);

/// The cases of `family-table` and `rules-table`: a fixture's config, weights and inputs
/// (`fixture`), or the four built-in cells (rate α = 0.5, LIF and ALIF with a differentiated
/// reset, LSTM; `N_in = 3`, `K = 2`, leaky readout κ = 0.8, MSE) with `n` neurons, `steps` steps
/// and parameters and data drawn from `seed`. Each case is refused, before anything is
/// allocated, when the family table's cost estimate (the costliest rule of both tables is RTRL)
/// exceeds `limits`. A stack fixture, an unreadable fixture or an invalid size prints one line
/// `TOOL: …` and gives exit code 2; `what` names the table in messages ("the family table").
pub fn single_layer_cases(
    tool: &str,
    what: &str,
    fixture: Option<&Path>,
    (n, steps, seed): (usize, usize, u64),
    limits: &crate::budget::Limits,
) -> Result<Vec<Case>, ExitCode> {
    use crate::budget::{Sizes, family_table};
    use crate::suite::{alif, lif, lstm, rate};
    use credit_core::cell::Reset;
    use credit_core::{Loss, Network, Params, Readout, Sequence};
    let fail = |e: &dyn Display| {
        eprintln!("{tool}: {e}");
        ExitCode::from(2)
    };
    let budget = |net: &Network, steps: usize| {
        limits.check(what, family_table(&Sizes::of_network(net, steps))).map_err(|e| fail(&e))
    };
    let mut cases = Vec::new();
    match fixture {
        Some(dir) => match crate::fixtures::read_any_limited(dir, limits) {
            Ok(crate::fixtures::AnyFixture::Single(fx)) => cases.push((fx.net, fx.params, fx.seq)),
            Ok(crate::fixtures::AnyFixture::Stack(_)) => {
                return Err(fail(&format!(
                    "{} is a stack fixture; {what} is for single layers (see deep-table)",
                    dir.display()
                )));
            }
            Err(e) => return Err(fail(&e)),
        },
        None => {
            for cell in [rate(0.5), lif(0, Reset::Differentiated), alif(0, Reset::Differentiated), lstm()] {
                let sized = Network::new(cell, 3, n, 2, Readout::leaky(0.8), Loss::Mse);
                // refused before anything is allocated
                if let Ok(net) = &sized {
                    budget(net, steps)?;
                }
                let built = sized.and_then(|net| {
                    let p = Params::<f64>::random(&net, seed)?;
                    let seq = Sequence::random(&net, steps, seed)?;
                    Ok((net, p, seq))
                });
                cases.push(built.map_err(|e| fail(&e))?);
            }
        }
    }
    for (net, _, seq) in &cases {
        budget(net, seq.len())?;
    }
    Ok(cases)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// A tool of one option, documented.
    #[derive(Parser, Debug)]
    #[command(version)]
    struct Tool {
        /// Neurons.
        #[arg(long, default_value_t = 3, value_parser = non_negative::<usize>)]
        n: usize,
    }

    #[test]
    fn negative_numbers_reach_the_value_parser() {
        // without allow_negative_numbers clap reports "unexpected argument '-1'"; the value
        // parser must see it and name the problem
        assert_eq!(parse_from::<Tool, _, _>("tool", ["tool", "--n", "-1"]).unwrap_err(), ExitCode::from(2));
        let err = try_parse_from::<Tool, _, _>("tool", ["tool", "--n", "-1"]).unwrap_err();
        let msg = one_line(&err.to_string());
        assert!(msg.contains("`-1` is negative"), "{msg}");
        assert!(!msg.contains('\n') && !msg.contains("unexpected argument"), "{msg}");
        let version = try_parse_from::<Tool, _, _>("tool", ["tool", "--version"]).unwrap_err();
        assert_eq!(version.to_string(), format!("tool {}\n", env!("CARGO_PKG_VERSION")));
        assert_eq!(parse_from::<Tool, _, _>("tool", ["tool", "--n", "4"]).unwrap().n, 4);
    }

    #[test]
    fn csv_quotes_only_what_needs_it() {
        assert_eq!(csv_record(["1e-10", "ok"]), "1e-10,ok\n");
        assert_eq!(csv_record(["a\nb"]), "\"a\nb\"\n");
    }

    #[test]
    fn output_file_reports_an_unwritable_path_at_once() {
        let missing = std::env::temp_dir().join("credit-no-such-dir-7d1f").join("x.json");
        assert_eq!(OutputFile::create("t", "--json", &missing).unwrap_err(), ExitCode::from(2));
    }
}
