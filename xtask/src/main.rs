//! Project automation, std only (it is compiled by every CI run, so it has no dependencies).
//!
//! ```text
//! cargo xtask check-gradients [--json PATH] [--csv PATH] [--cell …] [--preset …] [--relations ID,…] [--list-relations] [--fixture DIR] [--failures-only] [--wide]
//! cargo xtask family-table [--n N] [--steps T] [--seed S] [--reading …] [--orders 0,1,2,4 | --max-m M] [--fixture DIR] [--json PATH] [--csv PATH]
//! cargo xtask deep-table [--cell alif] [--n 6] [--steps 16] [--read top|all] [--fixture DIR] [--json PATH] [--csv PATH]
//! cargo xtask export-fixtures DIR [--fixture IN]
//! cargo xtask compare-fixture EXPECTED CANDIDATE [--tol 1e-6]
//! cargo xtask tidy     # one nalgebra, one simba, one num-dual in the dependency graph
//! cargo xtask doc      # rustdoc with KaTeX maths (docs/katex-header.html), target/doc/
//! cargo xtask ci       # fmt --check, clippy -D warnings, tests, tidy, check-gradients
//! ```
//!
//! The tools that run a `credit-check` binary run it in the caller's working directory, so
//! relative paths (`--json out.json`, `export-fixtures fixtures/`) mean what they say wherever
//! `cargo xtask` is called from; cargo itself is pointed at the workspace's manifest.

use std::process::{Command, ExitCode};

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

fn root() -> std::path::PathBuf {
    let here = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(|p| p.to_path_buf()).unwrap_or(here)
}

/// Failure of a task: the exit code to pass on, and a message (empty when the child already
/// explained itself on stderr).
struct Failed(u8, String);

fn run(mut c: Command) -> Result<(), Failed> {
    let shown = format!("{c:?}");
    match c.status() {
        Ok(s) if s.success() => Ok(()),
        // pass the child's code on (2 = bad input, 1 = a check failed); it has printed why
        Ok(s) => Err(Failed(s.code().and_then(|c| u8::try_from(c).ok()).unwrap_or(1), String::new())),
        Err(e) => Err(Failed(1, format!("{shown}: {e}"))),
    }
}

/// Runs binary `bin` of `credit-check` in release with `args`, in the caller's working directory
/// (not the workspace root: relative paths in `args` are the caller's).
fn check_bin(bin: &str, args: &[String]) -> Result<(), Failed> {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    let manifest = root().join("Cargo.toml");
    c.arg("run").arg("--manifest-path").arg(manifest);
    c.args(["--quiet", "--release", "--package", "credit-check", "--bin", bin, "--"]);
    c.args(args);
    run(c)
}

fn check_gradients(args: &[String]) -> Result<(), Failed> {
    check_bin("check-gradients", args)
}

/// nalgebra, simba and num-dual must each appear once: num-dual's `RealField` impls exist only
/// for the nalgebra/simba it was built against.
fn tidy() -> Result<(), Failed> {
    let out = cargo()
        .args([
            "tree",
            "--workspace",
            "--duplicates",
            "--edges",
            "normal,build,dev",
            "--prefix",
            "depth",
            "--format",
            "{p}",
        ])
        .output()
        .map_err(|e| Failed(1, format!("cargo tree: {e}")))?;
    if !out.status.success() {
        return Err(Failed(1, format!("cargo tree failed: {}", String::from_utf8_lossy(&out.stderr))));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let bad: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix('0')) // depth 0: the duplicated packages themselves
        .filter(|l| ["nalgebra ", "simba ", "num-dual "].iter().any(|k| l.starts_with(k)))
        .collect();
    if bad.is_empty() {
        println!("tidy: nalgebra, simba and num-dual are unique in the dependency graph");
        Ok(())
    } else {
        Err(Failed(
            1,
            format!(
                "tidy: duplicated numeric crates (num-dual needs the nalgebra it was built on):\n{}",
                bad.join("\n")
            ),
        ))
    }
}

/// `cargo doc` with the KaTeX header so that the `$…$` maths in doc comments renders.
fn doc() -> Result<(), Failed> {
    let header = root().join("docs").join("katex-header.html");
    let mut c = cargo();
    c.env("RUSTDOCFLAGS", format!("--html-in-header {}", header.display()));
    c.args(["doc", "--workspace", "--no-deps", "--exclude", "xtask"]);
    run(c)
}

fn ci() -> Result<(), Failed> {
    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--", "--check"]);
    run(fmt)?;
    let mut clippy = cargo();
    clippy.args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]);
    run(clippy)?;
    let mut test = cargo();
    test.args(["test", "--workspace"]);
    run(test)?;
    tidy()?;
    check_gradients(&[])
}

/// A task: its name, a one-line description for the usage, and what it does with its arguments.
type Task = (&'static str, &'static str, fn(&[String]) -> Result<(), Failed>);

/// The tasks, in the order of the usage. A new task is one more line here.
const TASKS: &[Task] = &[
    ("check-gradients", "prove every relation (release build)", check_gradients),
    ("family-table", "the m-order family per order: accuracy and cost", |a| check_bin("family-table", a)),
    ("deep-table", "deep rules on stacks of 1–4 layers", |a| check_bin("deep-table", a)),
    ("export-fixtures", "write conformance fixtures to DIR", |a| check_bin("export-fixtures", a)),
    ("compare-fixture", "compare a port's arrays with a fixture", |a| check_bin("compare-fixture", a)),
    ("tidy", "one nalgebra, simba and num-dual in the dependency graph", |_| tidy()),
    ("doc", "rustdoc with KaTeX maths", |_| doc()),
    ("ci", "fmt, clippy, tests, tidy, check-gradients", |_| ci()),
];

fn usage() -> String {
    let width = TASKS.iter().map(|(name, _, _)| name.len()).max().unwrap_or(0);
    let mut u = String::from(
        "usage: cargo xtask <task> [ARGS…]   (a tool's own options: cargo xtask <task> --help)\n",
    );
    for (name, what, _) in TASKS {
        u.push_str(&format!("  {name:<width$}  {what}\n"));
    }
    u
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let task = args.first().map(String::as_str);
    let result = match task {
        Some("-h" | "--help") => {
            print!("{}", usage());
            return ExitCode::SUCCESS;
        }
        Some(name) => match TASKS.iter().find(|(n, _, _)| *n == name) {
            Some((_, _, f)) => f(&args[1..]),
            None => {
                let names: Vec<&str> = TASKS.iter().map(|(n, _, _)| *n).collect();
                eprintln!("xtask: unknown task `{name}` (known: {})", names.join(", "));
                return ExitCode::from(2);
            }
        },
        None => {
            eprint!("xtask: no task given; {}", usage());
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failed(code, msg)) => {
            if !msg.is_empty() {
                eprintln!("xtask: {msg}");
            }
            ExitCode::from(code)
        }
    }
}
