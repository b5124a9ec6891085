//! Project automation, std only (it is compiled by every CI run, so it has no dependencies).
//!
//! ```text
//! cargo xtask check-gradients [--json PATH] [--csv PATH] [--cell …] [--preset …] [--relations ID,…] [--list-relations] [--fixture DIR] [--failures-only] [--wide]
//! cargo xtask family-table [--n N] [--steps T] [--seed S] [--reading …] [--orders 0,1,2,4 | --max-m M] [--fixture DIR] [--json PATH] [--csv PATH]
//! cargo xtask rules-table [--n N] [--steps T] [--seed S] [--window L] [--draws K] [--fixture DIR] [--json PATH] [--csv PATH]
//! cargo xtask deep-table [--cell alif] [--n 6] [--steps 16] [--read top|all] [--fixture DIR] [--json PATH] [--csv PATH]
//! cargo xtask export-fixtures DIR [--fixture IN]
//! cargo xtask compare-fixture EXPECTED CANDIDATE [--tol 1e-6]
//! cargo xtask train --task T --out DIR [--cell C] [--rule R] [--iterations K] [--preset P] [--seed S] [--lr η] [--optimizer sgd|adam] [--batch B] [--cosine]
//! cargo xtask report OUT [--quick]   # index.html + SVGs: curves, family, deep, relations, rules table
//! cargo xtask bench --rule R [--cell C] [--n N] [--steps T] [--layers L] [--scalar f32|f64] [--literal] [--repeat K] [--json PATH]
//! cargo xtask tidy     # one nalgebra, one simba, one num-dual in the dependency graph
//! cargo xtask doc      # rustdoc with KaTeX maths (docs/katex-header.html), target/doc/
//! cargo xtask ci       # fmt --check, clippy -D warnings, tests, tidy, check-gradients
//! cargo xtask mutants [--in-diff [BASE]] [--shard K/N] [--list] [-- CARGO-MUTANTS-ARGS…]
//! cargo xtask mutants --hand [--only ID,…]   # the catalogue of realistic bugs, xtask/hand-mutants.txt
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
    package_bin("credit-check", bin, args)
}

/// Runs binary `bin` of package `package` in release with `args`, in the caller's working
/// directory.
fn package_bin(package: &str, bin: &str, args: &[String]) -> Result<(), Failed> {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    let manifest = root().join("Cargo.toml");
    c.arg("run").arg("--manifest-path").arg(manifest);
    c.args(["--quiet", "--release", "--package", package, "--bin", bin, "--"]);
    c.args(args);
    run(c)
}

fn check_gradients(args: &[String]) -> Result<(), Failed> {
    check_bin("check-gradients", args)
}

/// `report OUT [--quick]`: check-gradients, family-table, deep-table and rules-table write their
/// JSON into OUT, then credit-train's `report` trains every rule on the default tasks and writes
/// OUT/index.html with its SVGs. `--quick` (the CI report) checks rate and LSTM cells only and
/// shortens the training runs.
fn report(args: &[String]) -> Result<(), Failed> {
    let usage = || Failed(2, "usage: cargo xtask report OUT [--quick]".into());
    let (out, quick) = match args {
        [out] if !out.starts_with('-') => (out.clone(), false),
        [out, q] | [q, out] if q == "--quick" && !out.starts_with('-') => (out.clone(), true),
        _ => return Err(usage()),
    };
    std::fs::create_dir_all(&out).map_err(|e| Failed(2, format!("report: {out}: cannot create: {e}")))?;
    let path = |f: &str| std::path::Path::new(&out).join(f).to_string_lossy().into_owned();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let mut check = s(&["--json", &path("check-gradients.json")]);
    if quick {
        check.extend(s(&["--cell", "rate,lstm", "--failures-only"]));
    } else {
        check.push("--failures-only".into());
    }
    check_bin("check-gradients", &check)?;
    let sizes: &[&str] = if quick { &["--n", "6", "--steps", "12"] } else { &["--n", "8", "--steps", "16"] };
    let mut family = s(&["--json", &path("family-table.json")]);
    family.extend(s(sizes));
    check_bin("family-table", &family)?;
    check_bin("deep-table", &s(&["--json", &path("deep-table.json")]))?;
    let mut rules = s(&["--json", &path("rules-table.json")]);
    if quick {
        rules.extend(s(&["--n", "6", "--steps", "8", "--draws", "4"]));
    }
    check_bin("rules-table", &rules)?;
    let mut rep = s(&[
        &out,
        "--check",
        &path("check-gradients.json"),
        "--family",
        &path("family-table.json"),
        "--deep",
        &path("deep-table.json"),
        "--rules",
        &path("rules-table.json"),
    ]);
    if quick {
        rep.push("--quick".into());
    }
    package_bin("credit-train", "report", &rep)
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
    if !bad.is_empty() {
        return Err(Failed(
            1,
            format!(
                "tidy: duplicated numeric crates (num-dual needs the nalgebra it was built on):\n{}",
                bad.join("\n")
            ),
        ));
    }
    println!("tidy: nalgebra, simba and num-dual are unique in the dependency graph");
    hand_catalogue_fresh()
}

/// The catalogue of realistic bugs must apply to the tree as it is: every entry's text occurs
/// exactly once in its file, ids are unique and each replacement changes something. A refactor
/// that moves the code a mutant names fails here, not an hour into `mutants --hand`.
fn hand_catalogue_fresh() -> Result<(), Failed> {
    let path = root().join("xtask").join("hand-mutants.txt");
    let text = std::fs::read_to_string(&path).map_err(|e| Failed(2, format!("{}: {e}", path.display())))?;
    let list = parse_hand_mutants(&text).map_err(|e| Failed(1, format!("{}: {e}", path.display())))?;
    let mut problems = Vec::new();
    for (k, m) in list.iter().enumerate() {
        if list[..k].iter().any(|o| o.id == m.id) {
            problems.push(format!("{}: duplicate id", m.id));
        }
        if m.old == m.new {
            problems.push(format!("{}: the replacement equals the text", m.id));
        }
        match std::fs::read_to_string(root().join(&m.file)) {
            Ok(src) => match src.matches(&m.old).count() {
                1 => {}
                n => {
                    problems.push(format!("{}: its text occurs {n} times in {} (must be once)", m.id, m.file))
                }
            },
            Err(e) => problems.push(format!("{}: {}: {e}", m.id, m.file)),
        }
    }
    if problems.is_empty() {
        println!("tidy: the {} hand mutants of xtask/hand-mutants.txt all apply to this tree", list.len());
        Ok(())
    } else {
        Err(Failed(1, format!("tidy: stale entries in xtask/hand-mutants.txt:\n{}", problems.join("\n"))))
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

/// Mutation testing of the cells, the readout, the forward pass, the oracle and the rules
/// (`.cargo/mutants.toml` lists the files and the test command: the whole workspace's tests plus
/// the ignored `check-gradients`-as-a-test, `crates/check/tests/full_suite.rs`). Installs
/// cargo-mutants when it is missing. `--in-diff [BASE]` mutates only the lines changed since
/// `BASE` (default `HEAD`: the uncommitted change); `--shard K/N` runs one of `N` shards (round-robin: mutant `i` on shard `i mod N`, so each
/// shard samples every file);
/// `--list` lists the mutants without running them; arguments after `--` go to cargo-mutants.
/// Results: `target/mutants/mutants.out/` (`caught.txt`, `missed.txt`, `timeout.txt`, `unviable.txt`).
/// Not part of CI (a full run takes hours on two cores).
fn mutants(args: &[String]) -> Result<(), Failed> {
    if args.first().is_some_and(|a| a == "--hand") {
        return hand_mutants(&args[1..]);
    }
    let installed = cargo()
        .args(["mutants", "--version"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !installed {
        eprintln!("xtask: cargo-mutants is missing; installing it (cargo install --locked cargo-mutants)");
        let mut install = cargo();
        install.args(["install", "--locked", "cargo-mutants"]);
        run(install)?;
    }
    let mut c = cargo();
    // every mutant meets the whole workspace's tests: the relations live in credit-check. The
    // baseline run tests only the mutated packages, so the timeout cargo-mutants derives from it
    // is far too short for the workspace's tests (~2–4 min in debug on two cores): set a floor.
    c.args(["mutants", "--output", "target/mutants", "--test-workspace=true", "--minimum-test-timeout=900"]);
    let mut rest = args.iter().peekable();
    while let Some(a) = rest.next() {
        match a.as_str() {
            "--in-diff" => {
                let base = match rest.peek() {
                    Some(b) if !b.starts_with("--") => rest.next().map(String::as_str).unwrap_or("HEAD"),
                    _ => "HEAD",
                };
                let diff = git_diff(base)?;
                if diff.trim().is_empty() {
                    println!("xtask: no change against {base}: nothing to mutate");
                    return Ok(());
                }
                let file = root().join("target").join("mutants-in-diff.patch");
                std::fs::create_dir_all(root().join("target"))
                    .and_then(|()| std::fs::write(&file, diff))
                    .map_err(|e| Failed(1, format!("cannot write {}: {e}", file.display())))?;
                c.arg("--in-diff").arg(file);
            }
            "--shard" => {
                let Some(k_n) = rest.next() else {
                    return Err(Failed(2, "--shard needs K/N, e.g. --shard 0/8".into()));
                };
                // round-robin: a shard samples every file, so one shard gives an estimate of the score
                c.args(["--shard", k_n, "--sharding", "round-robin"]);
            }
            "--list" => {
                c.arg("--list");
            }
            "--" => {
                c.args(rest.by_ref());
            }
            other => {
                return Err(Failed(
                    2,
                    format!("mutants: unknown option `{other}` (pass cargo-mutants options after `--`)"),
                ));
            }
        }
    }
    run(c)
}

/// One entry of `xtask/hand-mutants.txt`: a realistic bug, as the replacement of one exact
/// piece of text in one file.
struct HandMutant {
    id: String,
    why: String,
    file: String,
    old: String,
    new: String,
}

/// Parses the catalogue: blocks `=== id`, `why: …`, `file: …`, then `---` (the exact text, one
/// or more lines) and `+++` (its replacement) up to the next `===`. Lines starting with `#`
/// outside the text blocks are comments.
fn parse_hand_mutants(text: &str) -> Result<Vec<HandMutant>, String> {
    let mut out: Vec<HandMutant> = Vec::new();
    let mut section = ' ';
    for (no, line) in text.lines().enumerate() {
        if let Some(id) = line.strip_prefix("=== ") {
            out.push(HandMutant {
                id: id.trim().to_string(),
                why: String::new(),
                file: String::new(),
                old: String::new(),
                new: String::new(),
            });
            section = ' ';
            continue;
        }
        let Some(m) = out.last_mut() else {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            return Err(format!("line {}: text before the first `=== id`", no + 1));
        };
        match (section, line) {
            (_, "---") => section = '-',
            (_, "+++") => section = '+',
            ('-', l) => m.old.push_str(&format!("{l}\n")),
            ('+', l) => m.new.push_str(&format!("{l}\n")),
            (_, l) if l.starts_with("why: ") => m.why = l[5..].to_string(),
            (_, l) if l.starts_with("file: ") => m.file = l[6..].trim().to_string(),
            (_, l) if l.trim().is_empty() || l.starts_with('#') => {}
            (_, l) => return Err(format!("line {}: unexpected `{l}`", no + 1)),
        }
    }
    for m in &mut out {
        // the blank lines that separate blocks are not part of the replacement
        m.new = m.new.trim_end_matches('\n').to_string() + "\n";
        m.old = m.old.trim_end_matches('\n').to_string() + "\n";
        if m.file.is_empty() || m.old.trim().is_empty() {
            return Err(format!("mutant {}: needs `file:` and a `---` block", m.id));
        }
    }
    Ok(out)
}

/// Runs the catalogue of realistic bugs (`xtask/hand-mutants.txt`), one at a time, in a
/// detached work tree of `HEAD` (`target/hand-mutants/tree`, own target directory): each is
/// caught when `check-gradients` fails, or else when the NumPy transcription's test fails
/// (`python/tests`, when `target/venv` exists). Prints one line per mutant and a summary; exits
/// 1 if one survives.
fn hand_mutants(args: &[String]) -> Result<(), Failed> {
    let only: Vec<String> = match args {
        [] => Vec::new(),
        [flag, ids] if flag == "--only" => ids.split(',').map(str::to_string).collect(),
        _ => return Err(Failed(2, "usage: cargo xtask mutants --hand [--only ID,ID,…]".into())),
    };
    let path = root().join("xtask").join("hand-mutants.txt");
    let text = std::fs::read_to_string(&path).map_err(|e| Failed(2, format!("{}: {e}", path.display())))?;
    let mut list = parse_hand_mutants(&text).map_err(|e| Failed(2, format!("{}: {e}", path.display())))?;
    if let Some(unknown) = only.iter().find(|id| !list.iter().any(|m| &&m.id == id)) {
        return Err(Failed(2, format!("no hand mutant `{unknown}` in {}", path.display())));
    }
    if !only.is_empty() {
        list.retain(|m| only.contains(&m.id));
    }
    let base = root().join("target").join("hand-mutants");
    let tree = base.join("tree");
    if tree.exists() {
        let mut rm = Command::new("git");
        rm.current_dir(root()).args(["worktree", "remove", "--force"]).arg(&tree);
        run(rm)?;
    }
    let mut add = Command::new("git");
    add.current_dir(root()).args(["worktree", "add", "--detach", "--quiet"]).arg(&tree).arg("HEAD");
    run(add)?;
    let venv = root().join("target").join("venv").join("bin").join("python");
    let in_tree = |program: &str| {
        let mut c = Command::new(program);
        c.current_dir(&tree).env("CARGO_TARGET_DIR", base.join("target"));
        c
    };
    let quiet = |mut c: Command| -> bool {
        c.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
        c.status().is_ok_and(|s| s.success())
    };
    // the unmutated tree must pass, or every mutant would count as caught
    let cargo_bin = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // a mutant that does not build is unviable, not caught
    let build = || {
        let mut c = in_tree(&cargo_bin);
        c.args(["build", "--quiet", "--release", "-p", "credit-check", "--bins"]);
        c
    };
    let check = || {
        let mut c = in_tree(&cargo_bin);
        c.args(["run", "--quiet", "--release", "-p", "credit-check", "--bin", "check-gradients", "--"]);
        c.arg("--failures-only");
        c
    };
    let numpy = || {
        let mut c = in_tree(&venv.to_string_lossy());
        c.args(["-m", "pytest", "-q", "-x", "python/tests"]);
        c
    };
    println!("hand mutants: baseline (unmutated HEAD) …");
    if !quiet(check()) || (venv.exists() && !quiet(numpy())) {
        return Err(Failed(1, "the unmutated tree fails its checks: fix that first".into()));
    }
    let (mut caught, mut survived, mut stale) = (0, Vec::new(), Vec::new());
    for m in &list {
        let file = tree.join(&m.file);
        let original =
            std::fs::read_to_string(&file).map_err(|e| Failed(2, format!("{}: {e}", file.display())))?;
        if original.matches(&m.old).count() != 1 {
            println!("{:<34} STALE  (the text to replace is not found exactly once in {})", m.id, m.file);
            stale.push(m.id.clone());
            continue;
        }
        std::fs::write(&file, original.replacen(&m.old, &m.new, 1))
            .map_err(|e| Failed(1, format!("{}: {e}", file.display())))?;
        let by = if !quiet(build()) {
            Some("UNVIABLE (does not build)")
        } else if !quiet(check()) {
            Some("check-gradients")
        } else if venv.exists() && !quiet(numpy()) {
            Some("numpy transcription")
        } else {
            None
        };
        std::fs::write(&file, &original).map_err(|e| Failed(1, format!("{}: {e}", file.display())))?;
        match by {
            Some(by) if by.starts_with("UNVIABLE") => {
                println!("{:<34} {by}", m.id);
                stale.push(m.id.clone());
            }
            Some(by) => {
                caught += 1;
                println!("{:<34} caught by {by:<20} {}", m.id, m.why);
            }
            None => {
                survived.push(m.id.clone());
                println!("{:<34} SURVIVED                      {}", m.id, m.why);
            }
        }
    }
    println!("{caught} caught, {} survived, {} stale or unviable", survived.len(), stale.len());
    if !venv.exists() {
        println!("(no target/venv: the NumPy transcription was not run; `bash .ci/run` creates it)");
    }
    if survived.is_empty() && stale.is_empty() { Ok(()) } else { Err(Failed(1, String::new())) }
}

/// `git diff BASE` of the work tree (the change to mutate with `--in-diff`).
fn git_diff(base: &str) -> Result<String, Failed> {
    let out = Command::new("git")
        .current_dir(root())
        .args(["diff", base, "--", "crates"])
        .output()
        .map_err(|e| Failed(1, format!("git diff: {e}")))?;
    if !out.status.success() {
        return Err(Failed(2, format!("git diff {base}: {}", String::from_utf8_lossy(&out.stderr).trim())));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A task: its name, a one-line description for the usage, and what it does with its arguments.
type Task = (&'static str, &'static str, fn(&[String]) -> Result<(), Failed>);

/// The tasks, in the order of the usage. A new task is one more line here.
const TASKS: &[Task] = &[
    ("check-gradients", "prove every relation (release build)", check_gradients),
    ("family-table", "the m-order family per order: accuracy and cost", |a| check_bin("family-table", a)),
    ("rules-table", "every online rule per cell: accuracy and cost", |a| check_bin("rules-table", a)),
    ("deep-table", "deep rules on stacks of 1–4 layers", |a| check_bin("deep-table", a)),
    ("export-fixtures", "write conformance fixtures to DIR", |a| check_bin("export-fixtures", a)),
    ("compare-fixture", "compare a port's arrays with a fixture", |a| check_bin("compare-fixture", a)),
    ("train", "train on a seeded task with any rule; curves as CSV, JSON, SVG", |a| {
        package_bin("credit-train", "train", a)
    }),
    ("report", "static HTML report with SVG plots: OUT [--quick]", report),
    ("bench", "median time and peak memory of one gradient, fast or --literal", |a| check_bin("bench", a)),
    ("tidy", "one nalgebra, simba and num-dual in the dependency graph", |_| tidy()),
    ("doc", "rustdoc with KaTeX maths", |_| doc()),
    ("ci", "fmt, clippy, tests, tidy, check-gradients", |_| ci()),
    (
        "mutants",
        "mutation testing: [--in-diff [BASE]] [--shard K/N] [--list] | --hand [--only ID,…]",
        mutants,
    ),
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
