//! `compare-fixture` (`docs/fixtures.md` §3): the per-entry rule (R2) catches a small entry the
//! tensor-relative measure (R3) lets through, NaN/inf is its own failure naming the entry, a shape
//! mismatch prints both shapes, a time axis names the step and entry where the two part, a
//! missing directory is one line with exit 2 — through the library and through the binary.

mod common;

use common::{read_all, write_all};
use credit_check::fixtures::{
    self,
    compare::{Failure, Tolerance, compare_with},
};
use ndarray::{ArrayD, Dimension, IxDyn};
use ndarray_npy::NpzWriter;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("credit-compare-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The `lif-paper` fixture (it has an entry small against its tensor), written once per test
/// binary.
fn reference() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let fx = fixtures::canonical().into_iter().find(|f| f.config.name.starts_with("lif-paper")).unwrap();
        let dir = tmp("ref");
        fixtures::write(&dir, &fx).unwrap();
        dir
    })
}

/// A candidate holding the reference's `bptt/*` gradients, changed by `edit`.
fn bptt_candidate(name: &str, edit: impl FnOnce(&mut Vec<(String, ArrayD<f64>)>)) -> PathBuf {
    let dir = tmp(name);
    let mut g = read_all(&reference().join("gradients.npz"));
    g.retain(|(n, _)| n.starts_with("bptt/"));
    edit(&mut g);
    write_all(&dir.join("gradients.npz"), &g);
    dir
}

fn run(expected: &Path, candidate: &Path, extra: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_compare-fixture"))
        .arg(expected)
        .arg(candidate)
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn small_entry_error_fails_the_entry_rule_though_the_tensor_measure_passes() {
    // an entry small against its tensor (|b| <= 0.005 max|b|) but well above atol / (1e-4 - rtol)
    let g = read_all(&reference().join("gradients.npz"));
    let (name, index) = g
        .iter()
        .filter(|(n, _)| n.starts_with("bptt/"))
        .find_map(|(n, a)| {
            let scale = a.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            a.indexed_iter()
                .find(|(_, v)| v.abs() > 0.02 && v.abs() < 0.005 * scale)
                .map(|(i, _)| (n.clone(), i.slice().to_vec()))
        })
        .expect("the lif-paper fixture has a small entry");
    let cand = bptt_candidate("small", |g| {
        let (_, a) = g.iter_mut().find(|(n, _)| *n == name).unwrap();
        a[index.as_slice()] *= 1.0 + 1e-4;
    });
    let report = compare_with(reference(), &cand, &Tolerance::DEFAULT).unwrap();
    let bad: Vec<_> = report.arrays.iter().filter(|a| !a.pass).collect();
    assert_eq!(bad.len(), 1, "{bad:?}");
    let a = bad[0];
    assert_eq!(a.name, name);
    assert_eq!(a.failure, Some(Failure::Tolerance));
    assert!(a.rel <= Tolerance::DEFAULT.tol && a.rel > 0.0, "(R3) alone passes: {a:?}");
    let worst = a.worst.as_ref().unwrap();
    assert_eq!(worst.index, index);
    assert!(worst.ratio > 2.0, "{worst:?}");
    // the tensor-relative measure alone lets it through
    let alone = compare_with(reference(), &cand, &Tolerance::tensor_relative(1e-6)).unwrap();
    assert!(alone.first_failure().is_none(), "{:?}", alone.first_failure());
    // the binary names the entry and exits 1
    let (code, out, _) = run(reference(), &cand, &[]);
    assert_eq!(code, 1, "{out}");
    let entry = format!("gradients.npz {name}{index:?}");
    assert!(out.lines().any(|l| l.starts_with(&format!("first parting: {entry}: "))), "{out}");
    assert!(out.lines().any(|l| l.starts_with(&format!("worst: {entry}: "))), "{out}");
    assert!(out.ends_with("4 passed, 1 failed\n"), "{out}");
    // a looser per-entry rule accepts it
    let (code, out, _) = run(reference(), &cand, &["--rtol", "2e-4"]);
    assert_eq!(code, 0, "{out}");
    let _ = std::fs::remove_dir_all(&cand);
}

#[test]
fn nan_and_inf_are_their_own_failure() {
    let cand = bptt_candidate("nan", |g| {
        let (_, a) = g.iter_mut().find(|(n, _)| n == "bptt/w_rec").unwrap();
        a[[3, 1]] = f64::NAN;
        a[[4, 4]] = f64::NAN;
        let (_, b) = g.iter_mut().find(|(n, _)| n == "bptt/w_out").unwrap();
        b[[1, 2]] = f64::NEG_INFINITY;
    });
    let report = compare_with(reference(), &cand, &Tolerance::DEFAULT).unwrap();
    let w = report.arrays.iter().find(|a| a.name == "bptt/w_rec").unwrap();
    match &w.failure {
        Some(Failure::NonFinite(e)) => {
            assert_eq!((e.index.as_slice(), e.actual.is_nan()), (&[3, 1][..], true))
        }
        f => panic!("{f:?}"),
    }
    // the rest of the tensor is measured: finite, and zero (nothing else changed)
    assert!(w.rel == 0.0 && w.abs == 0.0, "{w:?}");
    assert_eq!(w.worst.as_ref().unwrap().index, vec![3, 1]);
    let (code, out, _) = run(reference(), &cand, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAIL: NaN at [3, 1] (expected "), "{out}");
    assert!(out.contains("FAIL: -inf at [1, 2] (expected "), "{out}");
    assert!(out.contains("first parting: gradients.npz bptt/w_rec: NaN at [3, 1]"), "{out}");
    // no NaN/inf leaks into the error columns
    for line in out.lines().filter(|l| l.contains("FAIL")) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert!(
            cols[2].parse::<f64>().unwrap().is_finite() && cols[3].parse::<f64>().unwrap().is_finite(),
            "{line}"
        );
    }
    let _ = std::fs::remove_dir_all(&cand);
}

#[test]
fn shape_mismatch_prints_both_shapes() {
    let cand = bptt_candidate("shape", |g| {
        let (_, a) = g.iter_mut().find(|(n, _)| n == "bptt/w_in").unwrap();
        *a = ArrayD::from_shape_fn(IxDyn(&[5, 2]), |i| a[[i[0], i[1]]]);
    });
    let report = compare_with(reference(), &cand, &Tolerance::DEFAULT).unwrap();
    let a = report.first_failure().unwrap();
    assert_eq!(a.name, "bptt/w_in");
    assert_eq!(a.failure, Some(Failure::Shape { actual: vec![5, 2], expected: vec![5, 3] }));
    assert!(a.first_step.is_none() && a.worst.is_none());
    let (code, out, _) = run(reference(), &cand, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAIL: shape [5, 2], expected [5, 3]"), "{out}");
    assert!(out.contains("first parting: gradients.npz bptt/w_in: shape [5, 2], expected [5, 3]"), "{out}");
    assert!(!out.contains("inf") && !out.contains("step 0"), "{out}");
    let _ = std::fs::remove_dir_all(&cand);
}

#[test]
fn time_axis_names_the_step_and_entry() {
    let cand = tmp("drift");
    let mut im = read_all(&reference().join("intermediates.npz"));
    im.retain(|(n, _)| n == "h" || n == "z" || n == "loss");
    let (_, h) = im.iter_mut().find(|(n, _)| n == "h").unwrap();
    for t in 7..h.shape()[0] {
        h[[t, 2, 0]] += 1e-3 * (t as f64 - 6.0);
    }
    write_all(&cand.join("intermediates.npz"), &im);
    let report = compare_with(reference(), &cand, &Tolerance::DEFAULT).unwrap();
    let h = report.first_failure().unwrap();
    assert_eq!((h.name.as_str(), h.first_step), ("h", Some(7)));
    assert_eq!(h.first.as_ref().unwrap().index, vec![7, 2, 0]);
    // the drift grows: the worst entry is at the last step
    assert_eq!(h.worst.as_ref().unwrap().index, vec![20, 2, 0]);
    let (code, out, _) = run(reference(), &cand, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("first parting: intermediates.npz h[7, 2, 0] at step 7: "), "{out}");
    assert!(out.contains("worst: intermediates.npz h[20, 2, 0]: "), "{out}");
    let _ = std::fs::remove_dir_all(&cand);
}

#[test]
fn identical_and_float32_candidates() {
    // a bit-identical copy passes with every bound zero and no worst entry
    let same = bptt_candidate("same", |_| {});
    let exact = Tolerance { tol: 0.0, rtol: 0.0, atol: 0.0 };
    let report = compare_with(reference(), &same, &exact).unwrap();
    assert!(report.arrays.iter().all(|a| a.pass && a.worst.is_none()), "{report:?}");
    let (code, out, _) = run(reference(), &same, &["--tol", "0", "--rtol", "0", "--atol", "0"]);
    assert_eq!(code, 0, "{out}");
    // a float32 port is widened exactly and measured: ~1e-8 relative, within the defaults
    let f32dir = tmp("f32");
    let mut w = NpzWriter::new(std::fs::File::create(f32dir.join("gradients.npz")).unwrap());
    for (n, a) in
        read_all(&reference().join("gradients.npz")).into_iter().filter(|(n, _)| n.starts_with("bptt/"))
    {
        w.add_array(n.as_str(), &a.mapv(|v| v as f32)).unwrap();
    }
    w.finish().unwrap();
    let report = compare_with(reference(), &f32dir, &Tolerance::DEFAULT).unwrap();
    assert!(report.arrays.iter().all(|a| a.pass && a.rel > 1e-10 && a.rel < 1e-7), "{report:?}");
    assert!(compare_with(reference(), &f32dir, &exact).unwrap().first_failure().is_some());
    for d in [same, f32dir] {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn missing_directories_and_bad_bounds_exit_2_with_one_line() {
    let missing = std::env::temp_dir().join("credit-compare-test-no-such-dir");
    for (e, c) in [(reference().as_path(), missing.as_path()), (missing.as_path(), reference().as_path())] {
        let (code, out, err) = run(e, c, &[]);
        assert_eq!(code, 2, "{out}{err}");
        assert!(out.is_empty(), "{out}");
        assert_eq!(err, format!("compare-fixture: {}: directory does not exist\n", missing.display()));
    }
    for (flag, value) in [("--rtol", "-1"), ("--tol", "nan"), ("--atol", "-0.5"), ("--tol", "inf")] {
        let (code, _, err) = run(reference(), reference(), &[&format!("{flag}={value}")]);
        assert_eq!(code, 2, "{flag}");
        assert!(err.starts_with(&format!("compare-fixture: {flag}: ")) && err.lines().count() == 1, "{err}");
    }
}

/// A candidate whose npy header claims a huge shape (5 × 2⁴⁰ float64, 44 TB) with a few bytes
/// stored: one line naming the array and exit 2, before any allocation (no abort).
#[test]
fn a_header_claiming_more_than_is_stored_is_refused_before_reading() {
    use std::io::Write as _;
    let dir = tmp("huge-header");
    let header = "{'descr': '<f8', 'fortran_order': False, 'shape': (5, 1099511627776), }";
    let header = format!("{header:<117}\n");
    let mut npy = b"\x93NUMPY\x01\x00".to_vec();
    npy.extend_from_slice(&(header.len() as u16).to_le_bytes());
    npy.extend_from_slice(header.as_bytes());
    npy.extend_from_slice(&[0u8; 64]);
    let file = std::fs::File::create(dir.join("gradients.npz")).unwrap();
    let mut zip = zip::ZipWriter::new(file);
    zip.start_file("bptt/w_rec.npy", zip::write::SimpleFileOptions::default()).unwrap();
    zip.write_all(&npy).unwrap();
    zip.finish().unwrap();
    let (code, _, err) = run(reference(), &dir, &[]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("bptt/w_rec") && err.contains("1099511627776"), "{err}");
}
