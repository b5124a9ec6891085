//! Project automation, std only (it is compiled by every CI run, so it has no dependencies).
//!
//! ```text
//! cargo xtask check-gradients [--json PATH] [--cell rate,lif,alif,lstm] [--preset paper|tf|nest] [--fixture DIR] [--failures-only]
//! cargo xtask family-table [--n N] [--steps T] [--seed S] [--reading hop-count|last-step-hop|time-lag] [--fixture DIR]
//! cargo xtask deep-table [--cell alif] [--n 6] [--steps 16] [--read top|all] [--fixture DIR]
//! cargo xtask export-fixtures DIR [--fixture IN]
//! cargo xtask compare-fixture EXPECTED CANDIDATE [--tol 1e-6]
//! cargo xtask tidy     # one nalgebra, one simba, one num-dual in the dependency graph
//! cargo xtask doc      # rustdoc with KaTeX maths (docs/katex-header.html), target/doc/
//! cargo xtask ci       # fmt --check, clippy -D warnings, tests, tidy, check-gradients
//! ```

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

fn check_bin(bin: &str, args: &[String]) -> Result<(), Failed> {
    let mut c = cargo();
    c.args(["run", "--quiet", "--release", "--package", "credit-check", "--bin", bin, "--"]);
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

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: cargo xtask <check-gradients | family-table | deep-table | export-fixtures | compare-fixture [ARGS…] | tidy | doc | ci>";
    let result = match args.first().map(String::as_str) {
        Some("check-gradients") => check_gradients(&args[1..]),
        Some("family-table") => check_bin("family-table", &args[1..]),
        Some("deep-table") => check_bin("deep-table", &args[1..]),
        Some("export-fixtures") => check_bin("export-fixtures", &args[1..]),
        Some("compare-fixture") => check_bin("compare-fixture", &args[1..]),
        Some("tidy") => tidy(),
        Some("doc") => doc(),
        Some("ci") => ci(),
        Some("-h" | "--help") => {
            println!("{usage}");
            return ExitCode::SUCCESS;
        }
        Some(other) => {
            eprintln!("xtask: unknown task `{other}`; {usage}");
            return ExitCode::from(2);
        }
        None => {
            eprintln!("xtask: no task given; {usage}");
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
