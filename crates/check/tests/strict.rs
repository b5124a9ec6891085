//! Strict inputs, atomic outputs, bounded runs (`docs/fixtures.md` §4): every bad input is a
//! typed error of one line naming what is wrong (the CLIs exit 2), a failed export leaves nothing
//! that looks like a fixture, and sizes are checked against the cost estimate before anything is
//! allocated.

use credit_check::budget::{self, Limits, Sizes};
use credit_check::fixtures::{self, FixtureError, WriteOptions};
use ndarray::ArrayD;
use ndarray_npy::{NpzReader, NpzWriter, WriteNpyExt};
use serde_json::{Value, json};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("credit-strict-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    let _ = std::fs::remove_file(&d);
    d
}

/// A written single-layer fixture (lif-tf) and a stack fixture, shared by the tests.
fn reference(stack: bool) -> &'static PathBuf {
    static SINGLE: OnceLock<PathBuf> = OnceLock::new();
    static STACK: OnceLock<PathBuf> = OnceLock::new();
    if stack {
        STACK.get_or_init(|| {
            let dir = tmp("ref-stack");
            fixtures::stack::write(&dir, &fixtures::stack::canonical_stack()).unwrap();
            dir
        })
    } else {
        SINGLE.get_or_init(|| {
            let fx = fixtures::canonical().into_iter().find(|f| f.config.name.starts_with("lif-tf")).unwrap();
            let dir = tmp("ref-single");
            fixtures::write(&dir, &fx).unwrap();
            dir
        })
    }
}

/// A copy of a reference fixture's inputs (`config.json`, `inputs.npz`) with its config edited.
fn input_with(name: &str, stack: bool, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let dir = tmp(name);
    std::fs::create_dir_all(&dir).unwrap();
    let src = reference(stack);
    std::fs::copy(src.join("inputs.npz"), dir.join("inputs.npz")).unwrap();
    let mut v: Value =
        serde_json::from_str(&std::fs::read_to_string(src.join("config.json")).unwrap()).unwrap();
    edit(&mut v);
    std::fs::write(dir.join("config.json"), serde_json::to_string_pretty(&v).unwrap()).unwrap();
    dir
}

fn read_err(dir: &Path) -> FixtureError {
    let Err(e) = fixtures::read_any(dir) else { panic!("{} loaded", dir.display()) };
    assert!(!e.to_string().contains('\n'), "not one line: {e}");
    e
}

/// `(field, message)` of a config key error.
fn key_err(dir: &Path) -> (String, String) {
    match read_err(dir) {
        FixtureError::Config { field, message, .. } => (field, message),
        other => panic!("expected a config key error, got {other}"),
    }
}

fn bin(name: &str) -> Command {
    Command::new(match name {
        "export-fixtures" => env!("CARGO_BIN_EXE_export-fixtures"),
        "check-gradients" => env!("CARGO_BIN_EXE_check-gradients"),
        "family-table" => env!("CARGO_BIN_EXE_family-table"),
        "rules-table" => env!("CARGO_BIN_EXE_rules-table"),
        "deep-table" => env!("CARGO_BIN_EXE_deep-table"),
        other => panic!("no binary {other}"),
    })
}

/// Runs a tool that must refuse: exit 2 and exactly one line on stderr, which is returned.
fn refused(name: &str, args: &[&str]) -> String {
    let out = bin(name).args(args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "{name} {args:?}: {err}");
    assert_eq!(err.lines().count(), 1, "{name} {args:?}: not one line: {err}");
    assert!(err.starts_with(&format!("{name}: ")), "{err}");
    err
}

fn names_in(npz: &Path) -> Vec<String> {
    NpzReader::new(std::fs::File::open(npz).unwrap()).unwrap().names().unwrap()
}

// ---------------------------------------------------------------- 1. strict config.json

#[test]
fn unknown_keys_are_named_with_the_nearest_valid_one() {
    let d = input_with("unknown-top", false, |v| {
        v["nn"] = json!(5);
    });
    assert_eq!(key_err(&d), ("config.nn".into(), "unknown key; did you mean `n`?".into()));
    let d = input_with("unknown-nested", false, |v| {
        let k = v["readout"]["kappa"].take();
        v["readout"].as_object_mut().unwrap().remove("kappa");
        v["readout"]["kapa"] = k;
    });
    assert_eq!(key_err(&d), ("config.readout.kapa".into(), "unknown key; did you mean `kappa`?".into()));
    let d = input_with("unknown-training", false, |v| {
        v["training"]["momentum"] = json!(0.9);
    });
    let (field, message) = key_err(&d);
    assert_eq!(field, "config.training.momentum");
    assert!(message.contains("valid here: lr, updates"), "{message}");
    // layers are 0-based like JSON: layers[1] is the second (ALIF) layer
    let d = input_with("unknown-layer", true, |v| {
        let cell = &mut v["layers"][1]["cell"];
        let rho = cell["rho"].take();
        cell.as_object_mut().unwrap().remove("rho");
        cell["rhoo"] = rho;
    });
    assert_eq!(key_err(&d), ("config.layers[1].cell.rhoo".into(), "unknown key; did you mean `rho`?".into()));
    let d = input_with("unknown-layer-key", true, |v| {
        v["layers"][0]["size"] = json!(5);
    });
    assert_eq!(key_err(&d).0, "config.layers[0].size");
    let d = input_with("empty-layer", true, |v| {
        v["layers"][1]["n"] = json!(0);
    });
    let e = read_err(&d).to_string();
    assert!(e.contains("config.layers[1].n: must not be empty"), "{e}");
    // and so are the paths of the core's checks on a layer's values
    let d = input_with("bad-layer-value", true, |v| {
        v["layers"][1]["cell"]["alpha"] = json!(7.0);
    });
    let e = read_err(&d).to_string();
    assert!(e.contains("config.layers[1].cell.alpha"), "{e}");
}

#[test]
fn misplaced_keys_are_errors() {
    // an ALIF key on a LIF cell
    let d = input_with("rho-on-lif", false, |v| {
        v["cell"]["rho"] = json!(0.9);
    });
    let (field, message) = key_err(&d);
    assert_eq!(field, "config.cell.rho");
    assert!(message.contains("not a key of a `lif` cell") && message.contains("alif"), "{message}");
    // a width for the piecewise-linear surrogate, which has none
    let d = input_with("beta-with-pl", false, |v| {
        v["cell"]["surrogate"] = json!("pl");
        v["cell"]["surrogate_beta"] = json!(2.0);
    });
    assert_eq!(key_err(&d).0, "config.cell.surrogate_beta");
    // `cell` and `layers` together
    let d = input_with("cell-and-layers", true, |v| {
        v["cell"] = json!({ "kind": "lif", "alpha": 0.9, "v_th": 1.0 });
    });
    let (field, message) = key_err(&d);
    assert_eq!(field, "config.cell");
    assert!(message.contains("stack config"), "{message}");
    // a stack key in a single-layer config
    let d = input_with("stack-key-in-single", false, |v| {
        v["inter_layer"] = json!("same");
    });
    assert_eq!(key_err(&d).0, "config.inter_layer");
    // null stands for an absent optional key: the exporter's own configs load
    assert!(fixtures::read_any(reference(false)).is_ok() && fixtures::read_any(reference(true)).is_ok());
    let d = input_with("null-is-absent", false, |v| {
        v["cell"]["rho"] = Value::Null;
    });
    assert!(fixtures::read_any(&d).is_ok());
}

#[test]
fn missing_keys_and_wrong_types_are_named() {
    let d = input_with("missing-steps", false, |v| {
        v.as_object_mut().unwrap().remove("steps");
    });
    assert_eq!(key_err(&d), ("config.steps".into(), "missing (required)".into()));
    let d = input_with("string-n", false, |v| {
        v["n"] = json!("5");
    });
    let (field, message) = key_err(&d);
    assert_eq!(field, "config.n");
    assert!(message.contains("expected an integer") && message.contains("a string"), "{message}");
    let d = input_with("negative-updates", false, |v| {
        v["training"]["updates"] = json!(-1);
    });
    assert_eq!(key_err(&d).0, "config.training.updates");
    let d = input_with("cell-kind-typo", false, |v| {
        v["cell"]["kind"] = json!("alf");
    });
    let (field, message) = key_err(&d);
    assert_eq!(field, "config.cell.kind");
    assert!(message.contains("did you mean `alif`?"), "{message}");
}

// ---------------------------------------------------------------- inputs.npz

fn rewrite_inputs(dir: &Path, edit: impl FnOnce(&mut Vec<(String, ArrayD<f64>)>)) {
    let path = dir.join("inputs.npz");
    let mut r = NpzReader::new(std::fs::File::open(&path).unwrap()).unwrap();
    let mut arrays: Vec<(String, ArrayD<f64>)> =
        r.names().unwrap().into_iter().map(|n| (n.clone(), r.by_name(&n).unwrap())).collect();
    edit(&mut arrays);
    let mut w = NpzWriter::new(std::fs::File::create(&path).unwrap());
    for (n, a) in &arrays {
        w.add_array(n.as_str(), a).unwrap();
    }
    w.finish().unwrap();
}

#[test]
fn extra_arrays_are_named() {
    let d = input_with("extra-array", false, |_| {});
    rewrite_inputs(&d, |a| {
        a.push(("params/w_hidden".into(), ArrayD::zeros(ndarray::IxDyn(&[2, 2]))));
        a.push(("notes".into(), ArrayD::zeros(ndarray::IxDyn(&[1]))));
    });
    let e = read_err(&d).to_string();
    assert!(e.contains("inputs.npz") && e.contains("`params/w_hidden`") && e.contains("`notes`"), "{e}");
}

#[test]
fn one_dimensional_biases_are_accepted() {
    for stack in [false, true] {
        let d = input_with(&format!("flat-bias-{stack}"), stack, |_| {});
        let mut flattened = 0;
        rewrite_inputs(&d, |a| {
            for (n, arr) in a.iter_mut() {
                if n.starts_with("params/") && arr.shape()[1] == 1 {
                    *arr = arr.clone().into_shape_with_order(ndarray::IxDyn(&[arr.shape()[0]])).unwrap();
                    flattened += 1;
                }
            }
        });
        assert!(flattened >= 2, "{flattened}");
        match (fixtures::read_any(&d).unwrap(), fixtures::read_any(reference(stack)).unwrap()) {
            (fixtures::AnyFixture::Single(a), fixtures::AnyFixture::Single(b)) => {
                assert_eq!(a.params, b.params)
            }
            (fixtures::AnyFixture::Stack(a), fixtures::AnyFixture::Stack(b)) => {
                assert_eq!(a.params, b.params)
            }
            _ => panic!("kind changed"),
        }
    }
    // but a 1-D array is no weight matrix
    let d = input_with("flat-w-in", false, |_| {});
    rewrite_inputs(&d, |a| {
        let (_, w) = a.iter_mut().find(|(n, _)| n == "params/w_in").unwrap();
        let len = w.len();
        *w = w.clone().into_shape_with_order(ndarray::IxDyn(&[len])).unwrap();
    });
    let e = read_err(&d).to_string();
    assert!(e.contains("params/w_in") && e.contains("expected shape"), "{e}");
}

/// An `.npy` whose header claims `shape`, followed by `body` bytes.
fn npy_claiming(shape: &str, body: usize) -> Vec<u8> {
    let mut header = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend_from_slice(&(header.len() as u16).to_le_bytes());
    b.extend_from_slice(header.as_bytes());
    b.extend(std::iter::repeat_n(0u8, body));
    b
}

#[test]
fn a_header_claiming_a_huge_shape_is_refused_before_reading() {
    let d = input_with("huge-header", false, |_| {});
    let path = d.join("inputs.npz");
    let mut r = NpzReader::new(std::fs::File::open(&path).unwrap()).unwrap();
    let arrays: Vec<(String, ArrayD<f64>)> =
        r.names().unwrap().into_iter().map(|n| (n.clone(), r.by_name(&n).unwrap())).collect();
    let mut w = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let stored = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (n, a) in &arrays {
        w.start_file(format!("{n}.npy"), stored).unwrap();
        if n == "x" {
            w.write_all(&npy_claiming("(5, 1099511627776)", 40)).unwrap(); // (5, 2^40): 40 TiB
        } else {
            let mut bytes = Vec::new();
            a.write_npy(&mut bytes).unwrap();
            w.write_all(&bytes).unwrap();
        }
    }
    w.finish().unwrap();
    let e = read_err(&d).to_string();
    assert!(e.contains("array `x`: expected shape [20, 3], found [5, 1099511627776]"), "{e}");
    let err = refused(
        "export-fixtures",
        &[tmp("huge-header-out").to_str().unwrap(), "--fixture", d.to_str().unwrap()],
    );
    assert!(err.contains("1099511627776"), "{err}");
    refused("check-gradients", &["--fixture", d.to_str().unwrap()]);
}

// ---------------------------------------------------------------- 3. sizes against the budget

#[test]
fn sizes_over_the_budget_are_refused_before_reading_the_arrays() {
    // N = 100000 in the config: refused from the config alone (inputs.npz is not even there)
    let d = input_with("huge-n", false, |v| {
        v["n"] = json!(100_000);
    });
    std::fs::remove_file(d.join("inputs.npz")).unwrap();
    match read_err(&d) {
        FixtureError::Budget { source: budget::OverBudget::Memory { .. }, .. } => {}
        other => panic!("expected a memory refusal, got {other}"),
    }
    for tool in ["check-gradients", "family-table", "export-fixtures"] {
        let out = tmp("huge-n-out");
        let mut args = vec!["--fixture", d.to_str().unwrap()];
        if tool == "export-fixtures" {
            args.insert(0, out.to_str().unwrap());
        }
        let err = refused(tool, &args);
        assert!(err.contains("--max-memory"), "{err}");
    }
    // a stack fixture in deep-table
    let d = input_with("huge-layer", true, |v| {
        v["layers"][1]["n"] = json!(1_000_000);
    });
    assert!(refused("deep-table", &["--fixture", d.to_str().unwrap()]).contains("--max-memory"));
    // the built-in tables' sizes
    for (tool, args) in [
        ("family-table", ["--n", "100000"]),
        ("family-table", ["--steps", "1000000"]),
        ("rules-table", ["--n", "100000"]),
        ("rules-table", ["--steps", "1000000"]),
        ("deep-table", ["--n", "100000"]),
        ("deep-table", ["--steps", "10000000"]),
    ] {
        let err = refused(tool, &args);
        assert!(err.contains("over --max-"), "{err}");
    }
    // raising the limit lets the fixture through the check (the run itself is another matter)
    let small = input_with("small-n", false, |_| {});
    let tight = Limits { max_memory: 1000, ..Limits::default() };
    assert!(matches!(fixtures::read_any_limited(&small, &tight), Err(FixtureError::Budget { .. })));
    let enough = Limits { max_memory: 1 << 20, ..Limits::default() };
    assert!(fixtures::read_any_limited(&small, &enough).is_ok());
}

#[test]
fn estimates_grow_with_the_known_orders() {
    let sizes = |n: f64, steps: f64| Sizes {
        steps,
        n_in: 3.0,
        n,
        n_out: 2.0,
        d: 1.0,
        p_loc: 3.0 + n + 1.0,
        p: n * (n + 4.0) + 2.0 * (n + 1.0),
    };
    let ratio = |f: fn(&Sizes) -> budget::Cost, bytes: bool| {
        let (a, b) = (f(&sizes(1000.0, 10.0)), f(&sizes(2000.0, 10.0)));
        if bytes { b.bytes / a.bytes } else { b.madds / a.madds }
    };
    // RTRL: O(N³) memory, O(N⁴) work per step; the oracle: P² ~ N⁴ work; BPTT: ~N² work
    assert!((ratio(budget::rtrl, true) - 8.0).abs() < 0.1, "{}", ratio(budget::rtrl, true));
    assert!((ratio(budget::rtrl, false) - 16.0).abs() < 0.2, "{}", ratio(budget::rtrl, false));
    assert!((ratio(budget::oracle, false) - 16.0).abs() < 0.2);
    assert!((ratio(budget::bptt, false) - 4.0).abs() < 0.1);
    // the family table sums T orders: quadratic and more in T
    let (a, b) = (budget::family_table(&sizes(8.0, 100.0)), budget::family_table(&sizes(8.0, 200.0)));
    assert!(b.madds / a.madds > 4.0, "{}", b.madds / a.madds);
}

// ---------------------------------------------------------------- 2. atomic outputs

fn leftovers(parent: &Path, name: &str) -> Vec<String> {
    std::fs::read_dir(parent)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().to_string()))
        .filter(|n| n.starts_with(&format!(".{name}.")))
        .collect()
}

#[test]
fn a_failed_export_leaves_nothing() {
    let parent = tmp("atomic-parent");
    std::fs::create_dir_all(&parent).unwrap();
    let target = parent.join("out");
    // a run that fails after writing part of its files
    let r = fixtures::publish(&target, false, |d| -> Result<(), FixtureError> {
        std::fs::write(d.join("config.json"), "{}").unwrap();
        std::fs::write(d.join("inputs.npz"), b"PK\x03\x04 truncated").unwrap();
        Err(FixtureError::Io {
            path: d.join("gradients.npz").display().to_string(),
            message: "disk full".into(),
        })
    });
    assert!(r.is_err());
    assert!(!target.exists(), "a failed run left {}", target.display());
    assert!(leftovers(&parent, "out").is_empty(), "{:?}", leftovers(&parent, "out"));
    // a successful one renames into place and leaves no temporary directory
    fixtures::publish(&target, false, |d| {
        std::fs::write(d.join("a"), "1")
            .map_err(|e| FixtureError::Io { path: "a".into(), message: e.to_string() })
    })
    .unwrap();
    assert!(target.join("a").exists() && leftovers(&parent, "out").is_empty());
}

#[test]
fn a_file_in_the_way_is_one_line_and_creates_nothing() {
    let parent = tmp("file-in-the-way");
    std::fs::write(&parent, "a file where a directory should be").unwrap();
    let target = parent.join("out");
    let input = reference(false).to_str().unwrap().to_string();
    let err = refused("export-fixtures", &[target.to_str().unwrap(), "--fixture", &input]);
    assert!(err.contains("file-in-the-way") && !err.contains("Os {"), "{err}");
    assert!(std::fs::metadata(&parent).unwrap().is_file());
    // the target itself is a file
    let err = refused("export-fixtures", &[parent.to_str().unwrap(), "--fixture", &input]);
    assert!(err.contains("file-in-the-way"), "{err}");
    let _ = std::fs::remove_file(&parent);
}

#[test]
fn a_non_empty_target_needs_force_and_the_input_is_never_the_output() {
    let input = input_with("force-input", false, |_| {});
    let before = std::fs::read(input.join("config.json")).unwrap();
    let out = tmp("force-out");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("precious.txt"), "keep me").unwrap();
    let (o, i) = (out.to_str().unwrap(), input.to_str().unwrap());
    let err = refused("export-fixtures", &[o, "--fixture", i, "--rules", "bptt"]);
    assert!(err.contains("not empty") && err.contains("--force"), "{err}");
    assert!(out.join("precious.txt").exists());
    let ok = bin("export-fixtures").args([o, "--fixture", i, "--rules", "bptt", "--force"]).output().unwrap();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    assert!(!out.join("precious.txt").exists() && out.join("config.json").exists());
    assert!(leftovers(out.parent().unwrap(), out.file_name().unwrap().to_str().unwrap()).is_empty());
    // the input as output, with or without --force, written as another path, or nested
    let nested = input.join("out");
    let dotted = format!("{}/../{}", i, input.file_name().unwrap().to_str().unwrap());
    for args in [
        vec![i, "--fixture", i],
        vec![i, "--fixture", i, "--force"],
        vec![&dotted, "--fixture", i, "--force"],
        vec![nested.to_str().unwrap(), "--fixture", i],
    ] {
        let err = refused("export-fixtures", &args);
        assert!(err.contains("--fixture input"), "{err}");
    }
    assert_eq!(std::fs::read(input.join("config.json")).unwrap(), before);
    assert!(!nested.exists());
}

// ---------------------------------------------------------------- 4. rule selection

#[test]
fn rules_select_a_subset_and_the_costly_ones_are_skipped() {
    let input = reference(false).to_str().unwrap().to_string();
    let out = tmp("rules-out");
    let ok = bin("export-fixtures")
        .args([out.to_str().unwrap(), "--fixture", &input, "--rules", "bptt,eprop-random"])
        .output()
        .unwrap();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let mut g = names_in(&out.join("gradients.npz"));
    g.sort();
    assert!(
        g.iter().all(|n| n.starts_with("bptt/") || n.starts_with("eprop_random/")) && g.len() == 10,
        "{g:?}"
    );
    let tr = names_in(&out.join("trajectory.npz"));
    assert!(tr.contains(&"bptt/loss_task".to_string()) && tr.contains(&"eprop_random/loss_reg".to_string()));
    let m: fixtures::Manifest =
        serde_json::from_str(&std::fs::read_to_string(out.join("rules.json")).unwrap()).unwrap();
    assert_eq!(m.gradients, ["bptt", "eprop_random"]);
    assert_eq!(m.family_m1, None);
    // an unknown name
    let err = refused(
        "export-fixtures",
        &[tmp("rules-bad").to_str().unwrap(), "--fixture", &input, "--rules", "bptt,eprop_randm"],
    );
    assert!(err.contains("did you mean `eprop_random`?"), "{err}");
    // over a work limit the oracle (3·T·P² ≈ 2e5 multiply-adds here) and the family are skipped, said on stderr
    // and in rules.json …
    let out2 = tmp("rules-skip");
    let run = bin("export-fixtures")
        .args([out2.to_str().unwrap(), "--fixture", &input, "--max-work", "1.5e5"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{err}");
    assert!(
        err.contains("skipping oracle:")
            && err.contains("skipping oracle_detached:")
            && err.contains("skipping family_m1:")
            && err.lines().count() == 3,
        "{err}"
    );
    let m: fixtures::Manifest =
        serde_json::from_str(&std::fs::read_to_string(out2.join("rules.json")).unwrap()).unwrap();
    assert!(m.skipped.contains_key("oracle") && m.gradients.contains(&"bptt".to_string()), "{m:?}");
    assert!(names_in(&out2.join("gradients.npz")).iter().all(|n| !n.starts_with("oracle")));
    assert_eq!(m.family_m1, None);
    // the default export records the family member it holds
    let full: fixtures::Manifest =
        serde_json::from_str(&std::fs::read_to_string(reference(false).join("rules.json")).unwrap()).unwrap();
    assert_eq!(full.gradients, fixtures::RULES);
    assert!(full.skipped.is_empty());
    assert_eq!(full.family_m1, Some(fixtures::FamilyOrder { order: 1, reading: "hop-count".into() }));
    // … but a rule asked for by name is refused
    let err = refused(
        "export-fixtures",
        &[
            tmp("rules-refuse").to_str().unwrap(),
            "--fixture",
            &input,
            "--rules",
            "oracle",
            "--max-work",
            "1.5e5",
        ],
    );
    assert!(err.contains("rule `oracle`") && err.contains("--max-work"), "{err}");
    // and a stack takes its own names
    let out3 = tmp("rules-stack");
    let ok = bin("export-fixtures")
        .args([
            out3.to_str().unwrap(),
            "--fixture",
            reference(true).to_str().unwrap(),
            "--rules",
            "deep_eprop",
        ])
        .output()
        .unwrap();
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    assert!(names_in(&out3.join("gradients.npz")).iter().all(|n| n.starts_with("deep_eprop/")));
}

/// The paper-sized single-layer fixture (100 inputs, 100 LIF, T = 1000): the default limits keep
/// BPTT and the e-prop rules (the export takes ~5 s in release, `docs/fixtures.md` §4), and skip
/// RTRL, the oracle and the family (whose order-1 run alone takes ~165 s).
#[test]
fn a_paper_sized_fixture_keeps_bptt_and_eprop() {
    let fx = paper_sized();
    let plan = fixtures::plan(Path::new("paper"), &fx, &WriteOptions::default()).unwrap();
    let skipped: Vec<&str> = plan.skipped.iter().map(|(r, _)| *r).collect();
    assert_eq!(skipped, ["rtrl", "oracle", "oracle_detached", "family_m1"]);
    assert_eq!(
        plan.rules,
        ["bptt", "eprop_total", "eprop_symmetric", "eprop_noncausal_symmetric", "eprop_random"]
    );
}

fn paper_sized() -> fixtures::Fixture {
    fixtures::paper_sized().unwrap()
}

#[test]
fn bad_cell_values_are_named_at_their_place_in_the_file() {
    for (key, value, stack) in
        [("alpha", json!(7.0), false), ("v_th", json!(-1.0), false), ("gamma", json!(-1.0), true)]
    {
        let d = input_with(&format!("bad-{key}-{stack}"), stack, |v| {
            let cell = if stack { &mut v["layers"][0]["cell"] } else { &mut v["cell"] };
            cell[key] = value;
        });
        let e = read_err(&d).to_string();
        let at = if stack { format!("config.layers[0].cell.{key}") } else { format!("config.cell.{key}") };
        assert!(e.contains(&at), "{e}");
    }
}

// ---------------------------------------------------------------- 7. mangled configs

mod mangled {
    //! Random structural mangling of `config.json` (unknown keys, renamed keys, changed types,
    //! removed keys, anywhere in the tree): the loader answers a one-line typed error or loads,
    //! never panics; a single unknown key is always named with its path.
    use super::*;
    use proptest::prelude::*;
    use proptest::sample::Index;
    use proptest::test_runner::{Config as PtConfig, RngSeed};

    #[derive(Clone, Debug)]
    enum Seg {
        Key(String),
        At(usize),
    }

    /// Every key of every object: (path of the object, key).
    fn keys(v: &Value, at: &mut Vec<Seg>, out: &mut Vec<(Vec<Seg>, String)>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    out.push((at.clone(), k.clone()));
                    at.push(Seg::Key(k.clone()));
                    keys(x, at, out);
                    at.pop();
                }
            }
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    at.push(Seg::At(i));
                    keys(x, at, out);
                    at.pop();
                }
            }
            _ => {}
        }
    }

    fn object_at<'a>(v: &'a mut Value, path: &[Seg]) -> &'a mut serde_json::Map<String, Value> {
        let mut cur = v;
        for s in path {
            cur = match s {
                Seg::Key(k) => &mut cur[k.as_str()],
                Seg::At(i) => &mut cur[*i],
            };
        }
        cur.as_object_mut().unwrap()
    }

    fn json_path(path: &[Seg], key: &str) -> String {
        let mut s = "config".to_string();
        for seg in path {
            match seg {
                Seg::Key(k) => s += &format!(".{k}"),
                Seg::At(i) => s += &format!("[{i}]"),
            }
        }
        format!("{s}.{key}")
    }

    fn replacement(ty: u8) -> Value {
        let huge = [json!(u64::MAX), json!(1u64 << 40)];
        let small = [json!(null), json!(true), json!("text"), json!(1.5), json!(-1), json!([]), json!({})];
        small.iter().chain(&huge).nth(ty as usize % 9).unwrap().clone()
    }

    proptest! {
        #![proptest_config(PtConfig { cases: 256, failure_persistence: None, rng_seed: RngSeed::Fixed(0x57_21C7), ..PtConfig::default() })]

        #[test]
        fn mangled_configs_give_one_line_typed_errors(
            stack in any::<bool>(),
            ops in proptest::collection::vec((0u8..4, any::<Index>(), "zz[a-z_]{1,6}", 0u8..9), 1..4),
        ) {
            let src = reference(stack);
            let mut v: Value = serde_json::from_str(&std::fs::read_to_string(src.join("config.json")).unwrap()).unwrap();
            let mut named = None; // the unknown key a single op introduced
            for (op, at, word, ty) in &ops {
                let mut all = Vec::new();
                keys(&v, &mut Vec::new(), &mut all);
                let (path, key) = at.get(&all).clone();
                let obj = object_at(&mut v, &path);
                match op {
                    0 => {
                        let x = obj.remove(&key).unwrap();
                        obj.insert(word.clone(), x);
                        named = Some(json_path(&path, word));
                    }
                    1 => {
                        obj.insert(word.clone(), replacement(*ty));
                        named = Some(json_path(&path, word));
                    }
                    2 => {
                        obj.insert(key, replacement(*ty));
                    }
                    _ => {
                        obj.remove(&key);
                    }
                }
            }
            let dir = tmp("mangled");
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::copy(src.join("inputs.npz"), dir.join("inputs.npz")).unwrap();
            std::fs::write(dir.join("config.json"), serde_json::to_string_pretty(&v).unwrap()).unwrap();
            match fixtures::read_any(&dir) {
                Ok(_) => prop_assert!(named.is_none() || ops.len() > 1, "an unknown key was accepted: {:?}", named),
                Err(e) => {
                    let msg = e.to_string();
                    prop_assert!(!msg.contains('\n'), "not one line: {}", msg);
                    prop_assert!(msg.contains("config.json") || msg.contains("inputs.npz"), "{}", msg);
                    prop_assert!(matches!(e, FixtureError::Config { .. } | FixtureError::Malformed { .. } | FixtureError::Invalid { .. } | FixtureError::Budget { .. }), "{}", msg);
                    if ops.len() == 1 && let Some(field) = &named {
                        // a single rename or insertion is reported at its own path
                        match &e {
                            FixtureError::Config { field: f, .. } => prop_assert!(f == field || f.starts_with(&field[..field.rfind('.').unwrap()]), "{} for {}", msg, field),
                            _ => prop_assert!(false, "{} for {}", msg, field),
                        }
                    }
                }
            }
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

/// Sizes near `u64::MAX` are refused by the estimate (in `f64`), never an overflow panic.
#[test]
fn sizes_near_the_integer_limit_are_refused_not_overflowed() {
    for (name, stack, edit) in [
        ("max-n", false, &(|v: &mut Value| v["n"] = json!(u64::MAX)) as &dyn Fn(&mut Value)),
        ("max-n-in", false, &|v: &mut Value| v["n_in"] = json!(u64::MAX)),
        ("max-steps", false, &|v: &mut Value| v["steps"] = json!(u64::MAX)),
        ("max-layers", true, &|v: &mut Value| {
            v["layers"][0]["n"] = json!(u64::MAX);
            v["layers"][1]["n"] = json!(u64::MAX);
            v["readout_from"] = json!("all");
        }),
    ] {
        let d = input_with(name, stack, edit);
        let e = read_err(&d);
        assert!(matches!(e, FixtureError::Budget { .. } | FixtureError::Invalid { .. }), "{name}: {e}");
    }
}
