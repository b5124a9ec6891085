//! The command-line tools as a user meets them: help and version, one-line usage errors (exit
//! 2), `--relations`, the tables' JSON and CSV, and the exit code of `check-gradients` when its
//! stdout is closed early. Each test runs the binaries Cargo built for this test (debug), on small
//! inputs.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const BINS: [(&str, &str); 7] = [
    ("check-gradients", env!("CARGO_BIN_EXE_check-gradients")),
    ("family-table", env!("CARGO_BIN_EXE_family-table")),
    ("rules-table", env!("CARGO_BIN_EXE_rules-table")),
    ("deep-table", env!("CARGO_BIN_EXE_deep-table")),
    ("export-fixtures", env!("CARGO_BIN_EXE_export-fixtures")),
    ("compare-fixture", env!("CARGO_BIN_EXE_compare-fixture")),
    ("bench", env!("CARGO_BIN_EXE_bench")),
];

fn bin(name: &str) -> &'static str {
    BINS.iter().find(|(n, _)| *n == name).map(|(_, p)| *p).expect("known binary")
}

fn run(name: &str, args: &[&str]) -> Output {
    Command::new(bin(name)).args(args).output().expect("the binary runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("credit-cli-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A usage error: exit 2, nothing on stdout, one line on stderr starting with the tool's name.
fn assert_usage_error(name: &str, out: &Output, needle: &str) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{name}: {err}");
    assert!(out.stdout.is_empty(), "{name}: {}", text(&out.stdout));
    assert_eq!(err.lines().count(), 1, "{name}: {err}");
    assert!(err.starts_with(&format!("{name}: ")), "{err}");
    assert!(err.contains(needle), "{name}: `{needle}` not in {err}");
}

#[test]
fn help_starts_with_the_tools_purpose_and_version_names_it() {
    let crate_description = env!("CARGO_PKG_DESCRIPTION");
    let mut firsts = Vec::new();
    for (name, _) in BINS {
        let help = run(name, &["--help"]);
        assert_eq!(help.status.code(), Some(0), "{name}");
        let first = text(&help.stdout).lines().next().unwrap_or_default().to_string();
        assert!(!first.is_empty() && !crate_description.starts_with(&first), "{name}: {first}");
        firsts.push(first);
        let version = run(name, &["--version"]);
        assert_eq!(text(&version.stdout), format!("{name} {}\n", env!("CARGO_PKG_VERSION")));
    }
    firsts.sort();
    firsts.dedup();
    assert_eq!(firsts.len(), BINS.len(), "every tool has its own first line: {firsts:?}");
}

#[test]
fn negative_numbers_and_unknown_ids_are_one_line_errors() {
    assert_usage_error("family-table", &run("family-table", &["--n", "-1"]), "`-1` is negative");
    assert_usage_error("deep-table", &run("deep-table", &["--steps", "-3"]), "`-3` is negative");
    assert_usage_error("family-table", &run("family-table", &["--orders", "0,-2"]), "`-2` is negative");
    assert_usage_error(
        "family-table",
        &run("family-table", &["--orders", "0,10"]),
        "m = 10 exceeds T − 1 = 9",
    );
    assert_usage_error(
        "family-table",
        &run("family-table", &["--orders", "1", "--max-m", "2"]),
        "cannot be used",
    );
    let out = run("check-gradients", &["--relations", "bptt=oracle,nope"]);
    assert_usage_error("check-gradients", &out, "unknown relation `nope` (known: jacobian=dual, ");
}

#[test]
fn list_relations_names_every_id_once() {
    let out = run("check-gradients", &["--list-relations"]);
    assert_eq!(out.status.code(), Some(0));
    let ids: Vec<String> =
        text(&out.stdout).lines().map(|l| l.split_whitespace().next().unwrap().to_string()).collect();
    assert!(ids.len() >= 25, "{ids:?}");
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len());
    for id in ["bptt=oracle", "eprop!=bptt", "familym!=rtrl", "ostl-lower!=bptt", "f32~f64"] {
        assert!(ids.iter().any(|i| i == id), "{id}");
    }
}

#[test]
fn unwritable_output_fails_before_the_run() {
    let missing = std::env::temp_dir().join("credit-cli-no-such-dir").join("out.json");
    let m = missing.to_str().unwrap();
    let started = std::time::Instant::now();
    for (name, flag) in
        [("check-gradients", "--json"), ("check-gradients", "--csv"), ("family-table", "--csv")]
    {
        let out = run(name, &[flag, m]);
        assert_usage_error(name, &out, "cannot write");
    }
    let out = run("deep-table", &["--json", m]);
    assert_usage_error("deep-table", &out, &format!("--json {m}: cannot write"));
    // the full suite in a debug build takes minutes; failing at once means it did not run
    assert!(started.elapsed().as_secs() < 20, "{:?}", started.elapsed());
}

/// Exports the canonical fixture `name` into `dir`, with its inputs `x` replaced by zeros when
/// `silent` (then `w_in` has a zero gradient, a dead reference: its rows fail; its trajectory is
/// empty, since a net that does not learn is refused by the export).
fn fixture(dir: &Path, name: &str, silent: bool) -> PathBuf {
    let mut fx = credit_check::fixtures::canonical()
        .into_iter()
        .find(|f| f.config.name == name)
        .expect("a canonical fixture");
    if silent {
        fx.seq.x.iter_mut().for_each(|x| x.fill(0.0));
        fx.config.training.updates = 0; // a silent net does not learn: no trajectory to refuse
    }
    let out = dir.join(name);
    credit_check::fixtures::write(&out, &fx).unwrap();
    out
}

/// Runs check-gradients with its stdout closed from the start (as `… | head -0` would): the
/// child computes first and prints after, so its first write meets a closed pipe. Returns the
/// exit code.
fn closed_stdout(args: &[&str]) -> Option<i32> {
    let mut child = Command::new(bin("check-gradients"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(!text(&out.stderr).contains("panicked"), "{}", text(&out.stderr));
    out.status.code()
}

/// Runs check-gradients, reads the first line of its stdout, then closes the pipe (`| head -1`).
fn first_line(args: &[&str]) -> String {
    let mut child = Command::new(bin("check-gradients")).args(args).stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let _ = child.wait();
    line
}

#[test]
fn a_closed_stdout_keeps_the_verdict() {
    let dir = scratch("epipe");
    let live = fixture(&dir, "lif-paper-n5-t20", false);
    // without input, `w_in` gets no gradient: its rows fail their liveness guard (exit 1)
    let silent = {
        let d = dir.join("silent");
        std::fs::create_dir_all(&d).unwrap();
        fixture(&d, "lif-paper-n5-t20", true)
    };
    assert!(first_line(&["--fixture", live.to_str().unwrap()]).starts_with("relation"));
    assert_eq!(closed_stdout(&["--fixture", live.to_str().unwrap()]), Some(0));
    let full = run("check-gradients", &["--fixture", silent.to_str().unwrap()]);
    assert_eq!(full.status.code(), Some(1), "a net without input must fail: {}", text(&full.stdout));
    // the narrow table says why a failing row fails (the liveness evidence, after the verdict)
    let stdout = text(&full.stdout);
    let failing: Vec<&str> = stdout.lines().filter(|l| l.contains(" FAIL ")).collect();
    assert!(!failing.is_empty() && failing.iter().all(|l| l.contains("spikes=")), "{stdout}");
    assert_eq!(
        closed_stdout(&["--fixture", silent.to_str().unwrap()]),
        Some(1),
        "the verdict survives `| head`"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn check_gradients_relations_csv_and_summary() {
    let dir = scratch("cg");
    let fx = fixture(&dir, "rate-paper-n5-t20", false);
    let (csv, json) = (dir.join("rows.csv"), dir.join("rows.json"));
    let args = [
        "--fixture",
        fx.to_str().unwrap(),
        "--relations",
        "bptt=oracle,familym!=rtrl",
        "--csv",
        csv.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
    ];
    let out = run("check-gradients", &args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let csv = std::fs::read_to_string(csv).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("relation,expect,cell,config,scalar,tensor,max_rel_err,tol,verdict,liveness"),
        "the columns of the wide table"
    );
    let records: Vec<&str> = lines.collect();
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    let results = json["results"].as_array().unwrap();
    assert_eq!(records.len(), results.len());
    assert!(records.len() >= 6, "{csv}");
    for (rec, row) in records.iter().zip(results) {
        let rel = row["relation"].as_str().unwrap();
        assert!(rel == "bptt=oracle" || rel == "familym!=rtrl", "{rel}");
        assert!(rec.starts_with(&format!("{rel},{},rate,", row["expect"].as_str().unwrap())), "{rec}");
        // full precision: the CSV error parses back to the JSON's number
        let err: f64 = rec.split(',').nth(6).unwrap().parse().unwrap();
        assert_eq!(err.to_bits(), row["max_rel_err"].as_f64().unwrap().to_bits(), "{rec}");
    }
    // the narrow table: no liveness text on passing rows, no `expect` column
    let head = stdout.lines().next().unwrap();
    assert!(!head.contains("liveness") && !head.contains("expect"), "{head}");
    assert!(!stdout.lines().skip(1).take(records.len()).any(|l| l.contains("|g|=")), "{stdout}");
    // the summary: one line per relation with its counts, then the last line
    let n_bptt = results.iter().filter(|r| r["relation"] == "bptt=oracle").count();
    let summary = stdout.lines().find(|l| l.starts_with("bptt=oracle ") && l.contains(" equal ")).unwrap();
    let cols: Vec<&str> = summary.split_whitespace().collect();
    assert_eq!(cols[2..5], [n_bptt.to_string(), n_bptt.to_string(), "0".to_string()], "{summary}");
    // worst: the largest error of an `equal` relation, the smallest of a `differ` relation
    let errs = |rel: &str| -> Vec<f64> {
        results.iter().filter(|r| r["relation"] == rel).map(|r| r["max_rel_err"].as_f64().unwrap()).collect()
    };
    let max = errs("bptt=oracle").into_iter().fold(0.0, f64::max);
    assert_eq!(cols[5], format!("{max:.2e}"), "{summary}");
    let differ = stdout.lines().find(|l| l.starts_with("familym!=rtrl ") && l.contains(" differ ")).unwrap();
    assert!(errs("familym!=rtrl").len() >= 2, "several differ rows, so that min and max differ");
    let min = errs("familym!=rtrl").into_iter().fold(f64::INFINITY, f64::min);
    assert_eq!(differ.split_whitespace().nth(5).unwrap(), format!("{min:.2e}"), "{differ}");
    let last = stdout.lines().last().unwrap();
    assert!(last.ends_with(&format!("{} passed, 0 failed", records.len())), "{last}");
    // --wide prints the liveness evidence on every row
    let wide =
        run("check-gradients", &["--fixture", fx.to_str().unwrap(), "--relations", "bptt=oracle", "--wide"]);
    let wide = text(&wide.stdout);
    assert!(wide.lines().next().unwrap().contains("liveness"));
    assert_eq!(wide.lines().filter(|l| l.contains("|g|=")).count(), n_bptt, "{wide}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn family_table_orders_json_and_csv() {
    let dir = scratch("family");
    let (csv, json) = (dir.join("f.csv"), dir.join("f.json"));
    let out = run(
        "family-table",
        &["--orders", "0,1,2,9", "--csv", csv.to_str().unwrap(), "--json", json.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    assert_eq!(json["schema"], 1);
    assert_eq!(json["reading"], "hop-count");
    let rows = json["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 16, "4 cells × 4 orders");
    let ms: Vec<u64> = rows.iter().take(4).map(|r| r["m"].as_u64().unwrap()).collect();
    assert_eq!(ms, [0, 1, 2, 9]);
    for r in rows {
        // order T − 1 is RTRL, the exact gradient; lower orders are not (on these generic nets)
        let err = r["rel_err"].as_f64().unwrap();
        if r["m"] == 9 {
            assert!(err < 1e-10, "{r}");
        } else if r["m"] == 0 {
            assert!(err > 1e-6, "{r}");
        }
    }
    let csv = std::fs::read_to_string(csv).unwrap();
    assert_eq!(csv.lines().count(), 17);
    assert!(csv.starts_with(
        "cell,n,steps,m,cosine,rel_err,floats,madds_per_step,theory_madds_per_step,vs_graded\n"
    ));
    let last = text(&out.stdout).lines().last().unwrap().to_string();
    assert!(last.starts_with("16 rows: 4 cells × 4 orders (m = 0,1,2,9)"), "{last}");

    let out = run("family-table", &["--max-m", "1", "--steps", "5"]);
    let last = text(&out.stdout).lines().last().unwrap().to_string();
    assert!(last.starts_with("8 rows: 4 cells × 2 orders (m = 0,1)"), "{last}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn rules_table_rows_json_and_csv() {
    let dir = scratch("rules");
    let (csv, json) = (dir.join("r.csv"), dir.join("r.json"));
    // T = 4 with window L = 4 ≥ T: E-BPTT and F-BPTT are exact
    let args = ["--n", "4", "--steps", "4", "--window", "4", "--draws", "2"];
    let mut with_files = args.to_vec();
    with_files.extend(["--csv", csv.to_str().unwrap(), "--json", json.to_str().unwrap()]);
    let out = run("rules-table", &with_files);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(json["schema"], 1);
    assert_eq!(json["tool"], "rules-table");
    assert_eq!(json["window"], 4);
    assert_eq!(json["draws"], 2);
    let rows = json["rows"].as_array().unwrap();
    let rules = [
        "bptt",
        "rtrl",
        "eprop-symmetric",
        "eprop-random",
        "family-m1",
        "snap1",
        "snap2",
        "ebptt",
        "fbptt",
        "rflo",
        "kernl",
        "uoro",
        "uoro-mean2",
        "kf-rtrl",
        "kf-rtrl-mean2",
        "rkf-rtrl",
        "rkf-rtrl-mean2",
        "mdgl",
    ];
    assert_eq!(rows.len(), 4 * rules.len(), "every rule on every cell, n/a included");
    for (cell, chunk) in ["rate", "lif", "alif", "lstm"].iter().zip(rows.chunks(rules.len())) {
        let names: Vec<&str> = chunk.iter().map(|r| r["rule"].as_str().unwrap()).collect();
        assert_eq!(names, rules, "{cell}");
        for r in chunk {
            assert_eq!(r["cell"], *cell);
            let rule = r["rule"].as_str().unwrap();
            let rate_only = matches!(rule, "rflo" | "kernl" | "kf-rtrl" | "kf-rtrl-mean2");
            if rate_only && *cell != "rate" {
                assert!(r["na"].as_str().unwrap().contains("rate cell only"), "{r}");
                assert!(r["cosine"].is_null() && r["floats"].is_null(), "{r}");
                continue;
            }
            assert!(r["na"].is_null(), "{r}");
            let (floats, madds) = (r["floats"].as_u64().unwrap(), r["madds_per_step"].as_u64().unwrap());
            assert!(floats > 0 && madds > 0, "{r}");
            assert!(matches!(r["madds_source"].as_str().unwrap(), "counted" | "formula"), "{r}");
            assert!(!r["theory"].as_str().unwrap().is_empty(), "{r}");
            let (cos, err) = (r["cosine"].as_f64().unwrap(), r["rel_err"].as_f64().unwrap());
            assert!(cos.is_finite() && err.is_finite(), "{r}");
            match rule {
                "bptt" => assert!((cos - 1.0).abs() < 1e-15 && err == 0.0, "{r}"),
                // SnAp-2 on these dense nets keeps the full pattern: SnAp-T, i.e. RTRL
                "rtrl" | "snap2" | "ebptt" | "fbptt" => {
                    assert!(err < 1e-10 && (cos - 1.0).abs() < 1e-12, "{r}")
                }
                "eprop-random" | "uoro" => assert!(err > 1e-6, "{r}"),
                _ => {}
            }
            // SnAp's multiply-adds are counted by its sparse path (docs/snap.md §6); SnAp-2 on a
            // dense net counts RTRL's formula exactly
            if rule.starts_with("snap") {
                assert_eq!(r["madds_source"], "counted", "{r}");
            }
            if rule == "snap2" {
                let rtrl = chunk.iter().find(|x| x["rule"] == "rtrl").unwrap();
                assert_eq!(r["madds_per_step"], rtrl["madds_per_step"], "{r}");
            }
        }
    }
    let csv = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(csv.lines().count(), 1 + rows.len());
    assert!(csv.starts_with(
        "cell,n,steps,rule,na,cosine,rel_err,floats,floats_source,madds_per_step,madds_source,theory\n"
    ));
    for line in csv.lines().skip(1) {
        assert!(
            line.starts_with("rate,")
                || line.starts_with("lif,")
                || line.starts_with("alif,")
                || line.starts_with("lstm,")
        );
    }
    let last = text(&out.stdout).lines().last().unwrap().to_string();
    assert!(last.starts_with("72 rows: 4 cells × 18 rules"), "{last}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn rules_table_on_a_fixture() {
    let dir = scratch("rules-fixture");
    let fx = fixture(&dir, "rate-paper-n5-t20", false);
    let json = dir.join("r.json");
    let out = run(
        "rules-table",
        &["--fixture", fx.to_str().unwrap(), "--draws", "2", "--json", json.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(json["seed"].is_null() && json["fixture"].is_string());
    let rows = json["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 18, "one cell, every rule");
    for r in rows {
        assert_eq!(r["cell"], "rate");
        // defined, or n/a with the reason (a rule refusing the fixture's config says why)
        assert!(r["na"].is_null() != r["cosine"].is_null(), "{r}");
        if let Some(reason) = r["na"].as_str() {
            assert!(!reason.is_empty());
        }
    }
    let bptt = &rows[0];
    assert_eq!(bptt["rel_err"], 0.0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn rules_table_usage_errors() {
    let out = run("rules-table", &["--fixture", "/nonexistent/rules-table"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_usage_error("rules-table", &run("rules-table", &["--window", "0"]), "--window must be at least 1");
    assert_usage_error("rules-table", &run("rules-table", &["--draws", "0"]), "--draws must be at least 1");
    assert_usage_error("rules-table", &run("rules-table", &["--steps", "-3"]), "`-3` is negative");
    assert_usage_error("rules-table", &run("rules-table", &["--steps", "0"]), "sequence.T");
}

#[test]
fn deep_table_json_and_csv() {
    let dir = scratch("deep");
    let (csv, json) = (dir.join("d.csv"), dir.join("d.json"));
    let args = ["--steps", "8", "--n", "4", "--csv", csv.to_str().unwrap(), "--json", json.to_str().unwrap()];
    let out = run("deep-table", &args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(json).unwrap()).unwrap();
    let rows = json["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 4 * (1 + 2 + 3 + 4), "4 rules × the layers of stacks of 1–4");
    for r in rows {
        let err = r["rel_err"].as_f64().unwrap();
        match r["rule"].as_str().unwrap() {
            "rtrl" => assert!(err < 1e-10, "RTRL is exact: {r}"),
            // OSTL is exact on the top layer only
            "ostl" if r["layer"] == r["depth"] => assert!(err < 1e-10, "{r}"),
            "ostl" => assert!(err > 1e-6, "{r}"),
            "deep-eprop" | "eprop-layerwise" => {}
            other => panic!("unknown rule {other}"),
        }
    }
    let csv = std::fs::read_to_string(csv).unwrap();
    assert_eq!(csv.lines().count(), 41);
    assert!(csv.lines().nth(1).unwrap().starts_with("1,stack(alif),deep-eprop,1,"), "{csv}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A preset without built-in configs (`nest-regular-arrival`, …) is a usage error that says so,
/// before anything runs; an unknown one lists every preset.
#[test]
fn presets_outside_the_suite_are_named() {
    let out = run("check-gradients", &["--preset", "nest-no-regular-arrival"]);
    assert_usage_error("check-gradients", &out, "--preset nest-no-regular-arrival: no built-in configs");
    let out = run("check-gradients", &["--preset", "nest-regular"]);
    assert_usage_error(
        "check-gradients",
        &out,
        "nest-regular-arrival, nest-no-regular-arrival, tf-light-lif",
    );
}

/// `bench` writes its JSON and refuses what it cannot run with one line.
#[test]
fn bench_json_and_refusals() {
    let d = scratch("bench");
    let json = d.join("b.json");
    for (rule, cell, literal) in [
        ("bptt", "lif", false),
        ("eprop-adaptive", "lstm", false),
        ("rtrl", "alif", true),
        ("bptt", "alif", false),
        ("family", "rate", false),
    ] {
        let mut args = vec!["--rule", rule, "--cell", cell, "--n", "4", "--steps", "6", "--repeat", "2"];
        if cell == "alif" && !literal {
            args.extend(["--layers", "2"]); // fast BPTT through a stack
        }
        if rule == "family" {
            args.extend(["--order", "2", "--reading", "time-lag"]);
        }
        args.extend(["--json", json.to_str().unwrap()]);
        if literal {
            args.push("--literal");
        }
        let out = run("bench", &args);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let line = text(&out.stdout);
        assert!(
            line.starts_with(&format!("{rule} {} {cell} n=4 T=6", if literal { "literal" } else { "fast" })),
            "{line}"
        );
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        assert_eq!(v["times_s"].as_array().map(Vec::len), Some(2), "{v}");
        assert!(v["median_s"].as_f64().unwrap() > 0.0, "{v}");
        assert_eq!(v["path"], if literal { "literal" } else { "fast" });
    }
    // SnAp's fast path is its sparse one
    let out = run("bench", &["--rule", "snap", "--n", "4", "--steps", "6", "--repeat", "1"]);
    assert_eq!(out.status.code(), Some(0), "snap: {}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("snap fast rate n=4 T=6"), "{}", text(&out.stdout));
    // the online rules of issue 15: literal only, each runs on the rate cell
    for rule in ["snap", "rflo", "kernl", "uoro", "kf", "rkf", "mdgl", "ebptt", "fbptt"] {
        let args =
            ["--rule", rule, "--n", "4", "--steps", "6", "--repeat", "1", "--window", "3", "--literal"];
        let out = run("bench", &args);
        assert_eq!(out.status.code(), Some(0), "{rule}: {}", text(&out.stderr));
        assert!(text(&out.stdout).starts_with(&format!("{rule} literal rate n=4 T=6")), "{rule}");
    }
    // --block: fast e-prop's trace blocks, recorded in the JSON (null for the other rules)
    for (block, cell) in [("0", "alif"), ("3", "lstm"), ("64", "rate")] {
        let args = [
            "--rule", "eprop", "--cell", cell, "--n", "4", "--steps", "7", "--repeat", "1", "--block", block,
        ];
        let out = run("bench", &[&args[..], &["--json", json.to_str().unwrap()]].concat());
        assert_eq!(out.status.code(), Some(0), "--block {block}: {}", text(&out.stderr));
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        assert_eq!(v["block"].as_u64(), Some(block.parse().unwrap()), "{v}");
    }
    let out = run(
        "bench",
        &["--rule", "bptt", "--n", "4", "--steps", "5", "--repeat", "1", "--json", json.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(v["block"].is_null(), "{v}");
    let refusals: [(&[&str], &str); 14] = [
        (&["--rule", "bptt", "--block", "8"], "--block sets fast e-prop's trace blocks"),
        (&["--rule", "eprop", "--literal", "--block", "8"], "--block sets fast e-prop's trace blocks"),
        (&["--rule", "rflo", "--n", "4", "--steps", "5"], "rule `rflo` has no fast path; add --literal"),
        (&["--rule", "kf", "--cell", "lif", "--n", "4", "--steps", "5", "--literal"], "network.cell = lif"),
        (&["--rule", "snap", "--order", "0", "--literal"], "SnAp-n needs n ≥ 1"),
        (&["--rule", "fbptt", "--window", "0", "--literal"], "--window must be at least 1"),
        (&["--rule", "mdgl", "--layers", "2", "--literal"], "one layer only"),
        (&["--rule", "family", "--layers", "2", "--n", "4", "--steps", "5"], "one layer only (--layers 1)"),
        (&["--rule", "family", "--reading", "nope"], "unknown reading `nope`"),
        (&["--rule", "nope"], "unknown rule `nope`"),
        (&["--rule", "bptt", "--cell", "gru"], "unknown cell `gru`"),
        (&["--rule", "bptt", "--scalar", "f16"], "unknown scalar `f16`"),
        (&["--rule", "bptt", "--n", "0"], "--n must be at least 1"),
        (&["--rule", "eprop", "--layers", "2"], "e-prop through a stack is deep e-prop: --rule deep"),
    ];
    for (args, needle) in refusals {
        assert_usage_error("bench", &run("bench", args), needle);
    }
}

/// `bench --floor` times the unavoidable parts of fast BPTT and e-prop alone (2T or T GEMVs,
/// the streaming reads, the GEMMs) beside the gradient, in the JSON and on stdout; without it
/// `floor` is null; other rules, stacks and `--literal` are refused with one line.
#[test]
fn bench_floor() {
    let d = scratch("bench-floor");
    let json = d.join("b.json");
    let names = ["gemv", "stream", "dw_rec", "dw_in", "dw_out", "input", "readout", "signal"];
    for (rule, cell, calls) in [("bptt", "rate", 12), ("eprop", "lstm", 6)] {
        let args = ["--rule", rule, "--cell", cell, "--n", "4", "--steps", "6", "--repeat", "3", "--floor"];
        let out = run("bench", &[&args[..], &["--json", json.to_str().unwrap()]].concat());
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let stdout = text(&out.stdout);
        assert!(stdout.contains("floor gemv") && stdout.contains("floor total"), "{stdout}");
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        let f = &v["floor"];
        assert_eq!(f["gemv_calls"].as_u64(), Some(calls), "{v}");
        let parts = f["parts"].as_array().unwrap();
        assert_eq!(parts.iter().map(|p| p["name"].as_str().unwrap()).collect::<Vec<_>>(), names, "{v}");
        for p in parts {
            assert!(p["median_s"].as_f64().unwrap() > 0.0 && p["min_s"].as_f64().unwrap() > 0.0, "{p}");
            assert!(p["min_s"].as_f64() <= p["median_s"].as_f64(), "{p}");
        }
        // the total is the sum of the parts but `stream` (lstm: the 4N × N matrix)
        let sum: f64 =
            parts.iter().filter(|p| p["name"] != "stream").map(|p| p["median_s"].as_f64().unwrap()).sum();
        assert!((f["total_s"].as_f64().unwrap() - sum).abs() <= 1e-12 * sum, "{v}");
        assert!(f["total_min_s"].as_f64() <= f["total_s"].as_f64(), "{v}");
        if cell == "lstm" {
            assert!(parts[0]["what"].as_str().unwrap().contains("16 x 4 matrix"), "{v}");
        }
    }
    let out = run(
        "bench",
        &["--rule", "bptt", "--n", "4", "--steps", "6", "--repeat", "1", "--json", json.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(v["floor"].is_null(), "{v}");
    assert!(!text(&out.stdout).contains("floor"), "{}", text(&out.stdout));
    for args in [
        &["--rule", "rtrl", "--floor"][..],
        &["--rule", "bptt", "--layers", "2", "--floor"],
        &["--rule", "eprop", "--literal", "--floor"],
    ] {
        assert_usage_error(
            "bench",
            &run("bench", args),
            "--floor times the parts of fast single-layer BPTT or e-prop",
        );
    }
}

/// `bench --fixture` times the fixture's own network, weights and sequence (what a peer compares
/// against): the report carries the fixture's cell and sizes; a stack fixture, a missing
/// directory and a size flag given beside `--fixture` are refused with one line.
#[test]
fn bench_times_a_fixture() {
    use credit_check::fixtures;
    let d = scratch("bench-fixture");
    let fx = fixtures::canonical().into_iter().find(|f| f.config.name.starts_with("lif-tf")).unwrap();
    let (n, steps) = (fx.net.n, fx.seq.len());
    let single = d.join("single");
    fixtures::write(&single, &fx).unwrap();
    let json = d.join("b.json");
    let args = ["--rule", "bptt", "--fixture", single.to_str().unwrap(), "--repeat", "1"];
    let out = run("bench", &[&args[..], &["--json", json.to_str().unwrap()]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with(&format!("bptt fast lif n={n} T={steps}")),
        "{}",
        text(&out.stdout)
    );
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!((v["n"].as_u64(), v["steps"].as_u64()), (Some(n as u64), Some(steps as u64)), "{v}");
    assert_eq!(v["n_in"].as_u64(), Some(fx.net.n_in as u64), "{v}");
    assert!(v["spike_fraction"].as_f64().unwrap() > 0.0, "the fixture's net spikes: {v}");
    let stack = d.join("stack");
    fixtures::stack::write(&stack, &fixtures::stack::canonical_stack()).unwrap();
    let missing = d.join("nope");
    let refusals: [(Vec<&str>, &str); 3] = [
        (vec!["--rule", "bptt", "--fixture", stack.to_str().unwrap()], "a stack fixture"),
        (vec!["--rule", "bptt", "--fixture", single.to_str().unwrap(), "--n", "8"], "--n"),
        (vec!["--rule", "bptt", "--fixture", missing.to_str().unwrap()], "nope"),
    ];
    for (args, needle) in refusals {
        assert_usage_error("bench", &run("bench", &args), needle);
    }
}
