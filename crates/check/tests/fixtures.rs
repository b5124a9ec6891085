//! Conformance fixtures: export → import round-trips, the comparison finds a planted error at
//! the right step, unusable files are errors, and the NumPy example of `docs/fixtures.md` agrees
//! with the fixture (run only where `python3` with numpy is installed).

mod common;

use common::{read_all, write_all};
use credit_check::fixtures::{self, compare::compare};
use ndarray::ArrayD;
use ndarray_npy::NpzWriter;
use std::path::{Path, PathBuf};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("credit-fixture-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn canonical_set_covers_every_cell_and_preset() {
    let names: Vec<String> = fixtures::canonical().into_iter().map(|f| f.config.name).collect();
    for want in [
        "rate-paper",
        "lstm-paper",
        "lif-paper",
        "lif-tf",
        "lif-nest",
        "alif-paper",
        "alif-tf",
        "alif-nest",
        "lif-nest-no-regular-arrival",
    ] {
        assert!(names.iter().any(|n| n.starts_with(want)), "{want} missing from {names:?}");
    }
}

#[test]
fn export_import_round_trip_and_self_comparison() {
    for fx in fixtures::canonical()
        .into_iter()
        .filter(|f| f.config.name.starts_with("alif-nest") || f.config.name.starts_with("lstm"))
    {
        let dir = tmp(&fx.config.name);
        fixtures::write(&dir, &fx).unwrap();
        let back = fixtures::read(&dir).unwrap();
        assert_eq!(back.config, fx.config);
        assert_eq!(back.net, fx.net);
        assert_eq!(back.params, fx.params);
        assert_eq!(back.seq, fx.seq);
        assert_eq!(back.feedback, fx.feedback);
        // recomputing from the imported fixture reproduces every array bit for bit
        let again = tmp(&format!("{}-again", fx.config.name));
        fixtures::write(&again, &back).unwrap();
        let report = compare(&dir, &again, 0.0).unwrap();
        assert!(report.arrays.len() > 60, "{}", report.arrays.len());
        assert!(report.arrays.iter().all(|a| a.pass && a.abs == 0.0), "{:?}", report.first_failure());
        // the recorded gradients satisfy the identities the suite checks
        let g = read_all(&dir.join("gradients.npz"));
        let get = |k: &str| g.iter().find(|(n, _)| n == k).map(|(_, a)| a.clone()).unwrap();
        for t in ["w_in", "b", "w_out"] {
            let t = if fx.config.cell.kind == "lstm" {
                format!("{t}{}", if t == "w_out" { "" } else { "_o" })
            } else {
                t.to_string()
            };
            let (b, r, o) =
                (get(&format!("bptt/{t}")), get(&format!("rtrl/{t}")), get(&format!("oracle/{t}")));
            let scale = o.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            for (x, y) in b.iter().chain(r.iter()).zip(o.iter().chain(o.iter())) {
                assert!((x - y).abs() <= 1e-10 * scale, "{t}");
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_dir_all(&again);
    }
}

#[test]
fn comparison_reports_where_a_port_parts() {
    let fx = fixtures::canonical().into_iter().find(|f| f.config.name.starts_with("lif-tf")).unwrap();
    let dir = tmp("lif-tf-ref");
    fixtures::write(&dir, &fx).unwrap();
    let cand = tmp("lif-tf-cand");
    std::fs::create_dir_all(&cand).unwrap();
    // a port whose membrane drifts from step 7 on, and whose BPTT gradient is off by 1e-5
    let mut im = read_all(&dir.join("intermediates.npz"));
    for (n, a) in im.iter_mut() {
        if n == "h" {
            for t in 7..a.shape()[0] {
                a[[t, 2, 0]] += 1e-3;
            }
        }
    }
    im.retain(|(n, _)| n == "h" || n == "z");
    write_all(&cand.join("intermediates.npz"), &im);
    let mut g = read_all(&dir.join("gradients.npz"));
    g.retain(|(n, _)| n.starts_with("bptt/"));
    let (_, w) = g.iter_mut().find(|(n, _)| n == "bptt/w_rec").unwrap();
    w[[0, 1]] *= 1.0 + 1e-5;
    write_all(&cand.join("gradients.npz"), &g);

    let report = compare(&dir, &cand, 1e-6).unwrap();
    let first = report.first_failure().unwrap();
    assert_eq!(
        (first.file.as_str(), first.name.as_str(), first.first_step),
        ("intermediates.npz", "h", Some(7))
    );
    let z = report.arrays.iter().find(|a| a.name == "z").unwrap();
    assert!(z.pass, "the spikes did not change: {z:?}");
    let w = report.arrays.iter().find(|a| a.name == "bptt/w_rec").unwrap();
    assert!(!w.pass && w.rel > 1e-7 && w.rel < 1e-4, "{w:?}");
    assert!(
        report
            .arrays
            .iter()
            .filter(|a| a.name.starts_with("bptt/") && a.name != "bptt/w_rec")
            .all(|a| a.pass)
    );
    // a looser tolerance accepts it
    assert!(compare(&dir, &cand, 1e-2).unwrap().first_failure().is_none());
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&cand);
}

#[test]
fn unusable_files_are_errors() {
    let fx = fixtures::canonical().into_iter().next().unwrap();
    let dir = tmp("unusable-ref");
    fixtures::write(&dir, &fx).unwrap();
    let cand = tmp("unusable-cand");
    std::fs::create_dir_all(&cand).unwrap();
    // nothing to compare
    assert!(compare(&dir, &cand, 1e-6).unwrap_err().to_string().contains("no fixture arrays"));
    // not an npz
    std::fs::write(cand.join("gradients.npz"), b"not a zip").unwrap();
    assert!(compare(&dir, &cand, 1e-6).unwrap_err().to_string().contains("gradients.npz"));
    // an array the layout does not have
    write_all(
        &cand.join("gradients.npz"),
        &[("bptt/w_hidden".to_string(), ArrayD::zeros(ndarray::IxDyn(&[2])))],
    );
    assert!(compare(&dir, &cand, 1e-6).unwrap_err().to_string().contains("bptt/w_hidden"));
    // a config with a bad field names it
    let bad = tmp("unusable-config");
    std::fs::create_dir_all(&bad).unwrap();
    for f in ["config.json", "inputs.npz"] {
        std::fs::copy(dir.join(f), bad.join(f)).unwrap();
    }
    let text =
        std::fs::read_to_string(bad.join("config.json")).unwrap().replace("\"kappa\": ", "\"kappa\": 7");
    std::fs::write(bad.join("config.json"), text).unwrap();
    let e = fixtures::read(&bad).unwrap_err().to_string();
    assert!(e.contains("readout.kappa"), "{e}");
    // inputs with a wrong shape name the array
    write_all(
        &bad.join("inputs.npz"),
        &[("params/w_in".to_string(), ArrayD::zeros(ndarray::IxDyn(&[1, 1])))],
    );
    std::fs::copy(dir.join("config.json"), bad.join("config.json")).unwrap();
    let e = fixtures::read(&bad).unwrap_err().to_string();
    assert!(e.contains("params/w_in") && e.contains("expected shape"), "{e}");
    for d in [dir, cand, bad] {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// The worked example of `docs/fixtures.md`: a NumPy BPTT written independently of this crate
/// agrees with the rate fixture. Runs only where numpy is available: in the venv `.ci/run`
/// creates (`target/venv`), else in `python3`.
#[test]
fn numpy_example_agrees_where_numpy_is_installed() {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/venv/bin/python");
    let python = if venv.exists() { venv } else { PathBuf::from("python3") };
    let has_numpy = std::process::Command::new(&python)
        .args(["-c", "import numpy"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !has_numpy {
        eprintln!("skipped: neither target/venv nor python3 has numpy");
        return;
    }
    let fx = fixtures::canonical().into_iter().find(|f| f.config.name.starts_with("rate")).unwrap();
    let dir = tmp("numpy-ref");
    let cand = tmp("numpy-cand");
    fixtures::write(&dir, &fx).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/examples/numpy_bptt_rate.py");
    let out = std::process::Command::new(&python).arg(script).arg(&dir).arg(&cand).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report = compare(&dir, &cand, 1e-10).unwrap();
    assert_eq!(report.arrays.len(), 8);
    assert!(report.first_failure().is_none(), "{:?}", report.first_failure());
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&cand);
}

/// The stack fixture: export → import round trip, recomputation bit for bit, every relation on
/// it passes (`check-gradients --fixture` runs the same code).
#[test]
fn stack_fixture_round_trip() {
    let fx = fixtures::stack::canonical_stack();
    let dir = tmp("stack-ref");
    fixtures::stack::write(&dir, &fx).unwrap();
    let back = match fixtures::read_any(&dir).unwrap() {
        fixtures::AnyFixture::Stack(s) => s,
        fixtures::AnyFixture::Single(_) => panic!("a stack fixture read as a single layer"),
    };
    assert_eq!(back.config, fx.config);
    assert_eq!(back.stack, fx.stack);
    assert_eq!(back.params, fx.params);
    assert_eq!(back.seq, fx.seq);
    let again = tmp("stack-again");
    fixtures::stack::write(&again, &back).unwrap();
    let report = compare(&dir, &again, 0.0).unwrap();
    assert!(report.arrays.iter().all(|a| a.pass && a.abs == 0.0), "{:?}", report.first_failure());
    let rows = credit_check::stacks::run_stack(&credit_check::stacks::from_fixture(&back)).unwrap();
    assert!(rows.len() > 30 && rows.iter().all(|r| r.pass), "{:?}", rows.iter().find(|r| !r.pass));
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&again);
}

mod corrupted {
    //! The loader never panics on corrupted fixtures: truncated or bit-flipped `.npz` files and
    //! mangled `config.json` give a typed error naming the file (or load, when the corruption
    //! happens to leave a valid file), never a panic.
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::{Config as PtConfig, RngSeed};
    use std::sync::OnceLock;

    fn reference() -> &'static PathBuf {
        static DIR: OnceLock<PathBuf> = OnceLock::new();
        DIR.get_or_init(|| {
            let fx = fixtures::canonical().into_iter().find(|f| f.config.name.starts_with("lif-tf")).unwrap();
            let dir = tmp("corrupt-ref");
            fixtures::write(&dir, &fx).unwrap();
            dir
        })
    }

    fn copy_to(name: &str) -> PathBuf {
        let dir = tmp(name);
        std::fs::create_dir_all(&dir).unwrap();
        for f in ["config.json", "inputs.npz", "intermediates.npz", "gradients.npz", "trajectory.npz"] {
            std::fs::copy(reference().join(f), dir.join(f)).unwrap();
        }
        dir
    }

    proptest! {
        #![proptest_config(PtConfig { cases: 64, failure_persistence: None, rng_seed: RngSeed::Fixed(0xBAD_F11E), ..PtConfig::default() })]

        #[test]
        fn corrupted_inputs_npz_is_an_error_not_a_panic(cut in 0.0f64..1.0, flips in proptest::collection::vec((0.0f64..1.0, 1u8..=255), 0..4), truncate in any::<bool>()) {
            let dir = copy_to("corrupt-npz");
            let path = dir.join("inputs.npz");
            let mut bytes = std::fs::read(&path).unwrap();
            if truncate {
                bytes.truncate((cut * bytes.len() as f64) as usize);
            }
            for (at, x) in &flips {
                if !bytes.is_empty() {
                    let i = ((at * bytes.len() as f64) as usize).min(bytes.len() - 1);
                    bytes[i] ^= x;
                }
            }
            std::fs::write(&path, &bytes).unwrap();
            match fixtures::read_any(&dir) {
                Ok(_) => {} // the corruption missed everything the loader reads
                Err(e) => prop_assert!(e.to_string().contains("inputs.npz") || e.to_string().contains("config.json"), "{}", e),
            }
            // comparing a corrupted candidate never panics either
            let _ = compare(reference(), &dir, 1e-6);
            let _ = std::fs::remove_dir_all(&dir);
        }

        #[test]
        fn mangled_config_is_an_error_not_a_panic(cut in 0.0f64..1.0, replace_at in 0.0f64..1.0, with in "[a-z0-9{}\\[\\]:,\" -]{0,6}") {
            let dir = copy_to("corrupt-json");
            let path = dir.join("config.json");
            let text = std::fs::read_to_string(&path).unwrap();
            let mut chars: Vec<char> = text.chars().collect();
            let i = ((replace_at * chars.len() as f64) as usize).min(chars.len().saturating_sub(1));
            let end = (i + with.len()).min(chars.len());
            chars.splice(i..end, with.chars());
            let mut mangled: String = chars.into_iter().collect();
            if cut < 0.2 {
                let keep = (cut * 5.0 * mangled.len() as f64) as usize;
                mangled = mangled.chars().take(keep).collect();
            }
            std::fs::write(&path, &mangled).unwrap();
            if let Err(e) = fixtures::read_any(&dir) {
                prop_assert!(e.to_string().contains("config.json") || e.to_string().contains("inputs.npz"), "{}", e);
            }
            let _ = std::fs::remove_dir_all(&dir);
        }
    }

    /// Wrong dtype: a float32 array where float64 is required names the array.
    #[test]
    fn wrong_dtype_names_the_array() {
        let dir = copy_to("corrupt-dtype");
        let mut arrays: Vec<(String, ndarray::ArrayD<f32>)> =
            read_all(&dir.join("inputs.npz")).into_iter().map(|(n, a)| (n, a.mapv(|v| v as f32))).collect();
        arrays.sort_by(|a, b| a.0.cmp(&b.0));
        let mut w = NpzWriter::new(std::fs::File::create(dir.join("inputs.npz")).unwrap());
        for (n, a) in &arrays {
            w.add_array(n.as_str(), a).unwrap();
        }
        w.finish().unwrap();
        let e = fixtures::read_any(&dir).unwrap_err().to_string();
        assert!(e.contains("inputs.npz") && e.contains("float64"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// An imported fixture with `W_rec = 0` and the reset detached is checked as a no-recurrence
/// config (e-prop must equal BPTT), and its own feedback matrix is the one random e-prop uses.
#[test]
fn imported_fixture_roles_and_feedback() {
    let mut fx = fixtures::canonical().into_iter().find(|f| f.config.name.starts_with("lif-paper")).unwrap();
    fx.config.cell.reset = Some("detached".into());
    fx.net = fx.config.network().unwrap();
    let i = fx.params.tensors.iter().position(|t| t.name == "w_rec").unwrap();
    fx.params.tensors[i].value.fill(0.0);
    fx.feedback *= -3.0;
    // the trajectories are not what this test is about (with `W_rec = 0` and a tripled,
    // sign-flipped `B` the canonical rate need not make them fall, and the export would refuse)
    fx.config.training.updates = 0;
    let dir = tmp("imported-r0");
    fixtures::write(&dir, &fx).unwrap();
    let back = match fixtures::read_any(&dir).unwrap() {
        fixtures::AnyFixture::Single(f) => f,
        fixtures::AnyFixture::Stack(_) => panic!("single-layer fixture read as a stack"),
    };
    let cfg = credit_check::suite::from_fixture(&back);
    assert_eq!(cfg.role, credit_check::suite::Role::NoRecurrence);
    assert_eq!(cfg.feedback.as_ref(), Some(&fx.feedback));
    let rows = credit_check::run_config(&cfg).unwrap();
    assert!(rows.iter().any(|r| r.relation == "eprop=bptt@R0"));
    assert!(rows.iter().all(|r| r.relation != "eprop!=bptt"));
    assert!(rows.iter().all(|r| r.pass), "{:?}", rows.iter().find(|r| !r.pass));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every canonical fixture is live, so that a port error anywhere shows in it: each spiking
/// neuron spikes at least once and not at every step, and every off-diagonal entry of the exact
/// `w_rec` gradient (BPTT; of each layer of the stack) is non-zero.
#[test]
fn canonical_fixtures_are_live() {
    use credit_core::{CellModel, Edges, ForwardOptions, forward};
    let check_w_rec = |name: &str, tensor: &str, g: &nalgebra::DMatrix<f64>| {
        for i in 0..g.nrows() {
            for j in (0..g.ncols()).filter(|&j| j != i) {
                assert!(g[(i, j)] != 0.0, "{name}: d E / d {tensor}[{i}, {j}] is zero");
            }
        }
    };
    let check_spikes = |name: &str, z: &[nalgebra::DVector<f64>]| {
        for j in 0..z[0].len() {
            let count = z[1..].iter().filter(|zt| zt[j] != 0.0).count();
            assert!(
                count > 0 && count < z.len() - 1,
                "{name}: neuron {j} spikes {count} of {} steps",
                z.len() - 1
            );
        }
    };
    for fx in fixtures::canonical() {
        let name = fx.config.name.as_str();
        let traj = forward(&fx.net, &fx.params, &fx.seq, ForwardOptions::default()).unwrap();
        if fx.net.cell.is_spiking() {
            check_spikes(name, &traj.z);
        }
        let g = credit_bptt::gradient(&fx.net, &fx.params, &fx.seq).unwrap().grad;
        for t in g.tensors.iter().filter(|t| t.name.starts_with("w_rec")) {
            check_w_rec(name, t.name, &t.value);
        }
    }
    let fx = fixtures::stack::canonical_stack();
    let traj = fx.stack.forward(&fx.params, &fx.seq, &Edges::default()).unwrap();
    for (l, lt) in traj.layers.iter().enumerate() {
        check_spikes(&format!("{} layer {l}", fx.config.name), &lt.z);
    }
    let g = credit_bptt::stack::gradient(&fx.stack, &fx.params, &fx.seq).unwrap().grad;
    for t in g.tensors.iter().filter(|t| t.name.contains("w_rec")) {
        check_w_rec(&fx.config.name, t.name, &t.value);
    }
}
