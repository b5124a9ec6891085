//! The built-in suite of `check-gradients` as tests: it covers every cell and every relation
//! of the foundation, its small configs pass, and its guards catch what they must catch.

// Exact (bit-for-bit) equalities are intended where they are asserted.
#![allow(clippy::float_cmp)]

mod common;

use common::*;
use credit_check::{Liveness, builtin_suite, relations::run_config};
use credit_core::{CellModel, Detach, Params};

#[test]
fn suite_covers_every_cell_and_relation() {
    let suite = builtin_suite();
    for id in ["rate", "lif", "alif"] {
        assert!(suite.iter().filter(|c| c.net.cell.id() == id).count() >= 3, "{id}");
    }
    let small: Vec<_> = suite.iter().filter(|c| c.net.n <= 6).collect();
    let mut seen = std::collections::BTreeSet::new();
    for cfg in small {
        let rows = run_config(cfg).unwrap();
        for r in &rows {
            assert!(
                r.pass,
                "{} {} {} {} {}: {:e}",
                r.relation, r.cell, r.config, r.scalar, r.tensor, r.max_rel_err
            );
            seen.insert((r.relation, r.cell.clone()));
        }
    }
    for rel in ["jacobian=dual", "bptt=oracle", "rtrl=oracle", "rtrl=bptt", "f32~f64"] {
        for cell in ["rate", "lif", "alif"] {
            assert!(seen.contains(&(rel, cell.to_string())), "{rel} missing for {cell}");
        }
    }
    assert!(seen.contains(&("fd=oracle", "rate".to_string())));
}

/// Every spiking config of the suite spikes, and not always.
#[test]
fn suite_spiking_configs_are_alive() {
    for cfg in builtin_suite().iter().filter(|c| c.net.cell.is_spiking()) {
        let (p, seq) = cfg.instantiate().unwrap();
        let g = credit_bptt::gradient(&cfg.net, &p, &seq).unwrap().grad;
        let live = Liveness::measure(&cfg.net, &p, &seq, &g).unwrap();
        assert!(live.ok(&cfg.net), "{} {}: {:?}", cfg.net.cell.id(), cfg.name, live);
        assert!(live.spikes * 50 >= live.outputs, "{} {}: fewer than 2% spikes", cfg.net.cell.id(), cfg.name);
    }
}

/// Negative test of the guard: a silent LIF net (no input) passes every gradient comparison
/// trivially, and the liveness guard must reject it.
#[test]
fn liveness_rejects_a_silent_net() {
    let net = net(cell(1, 0), 2, 3, 2, false, 0.8);
    let (p, mut seq) = instance(&net, 10, 1);
    for x in &mut seq.x {
        x.fill(0.0);
    }
    let mut p = p;
    let i = p.tensors.iter().position(|t| t.name == "b").unwrap();
    p.tensors[i].value.fill(0.0);
    let g = credit_oracle::gradient(&net, &p, &seq, Detach::default()).unwrap().grad;
    let live = Liveness::measure(&net, &p, &seq, &g).unwrap();
    assert_eq!(live.spikes, 0);
    assert!(!live.ok(&net), "a silent net must fail the liveness guard: {live:?}");
}

/// Negative test of the measure: a gradient wrong by one part in 1e8 in a single entry fails
/// the 1e-10 bar, in the tensor where it was planted only.
#[test]
fn error_measure_catches_a_planted_error() {
    let net = net(cell(2, 0), 3, 4, 2, false, 0.9);
    let (p, seq) = instance(&net, 12, 3);
    let b = credit_bptt::gradient(&net, &p, &seq).unwrap().grad;
    let mut bad: Params<f64> = b.clone();
    let i = bad.tensors.iter().position(|t| t.name == "w_rec").unwrap();
    let m = bad.tensors[i].value.amax();
    bad.tensors[i].value[(1, 2)] += 1e-8 * m;
    for (name, e) in per_tensor(&bad, &b) {
        if name == "w_rec" {
            assert!(e > 1e-10 && e < 1e-7, "{e:e}");
        } else {
            assert_eq!(e, 0.0, "{name}");
        }
    }
}

/// The report's JSON has the documented schema.
#[test]
fn json_schema_2() {
    let cfg = &builtin_suite()[0];
    let rows = run_config(cfg).unwrap();
    let v: serde_json::Value = serde_json::from_str(&credit_check::report::to_json(&rows)).unwrap();
    assert_eq!(v["schema"], 2);
    let r = &v["results"][0];
    for key in [
        "relation",
        "expect",
        "cell",
        "config",
        "scalar",
        "tensor",
        "max_rel_err",
        "tolerance",
        "pass",
        "reason",
        "spec",
    ] {
        assert!(r.get(key).is_some(), "missing {key}");
    }
    assert_eq!(r["expect"], "equal");
}

/// A NaN in a compared gradient fails the row even next to agreeing finite entries.
#[test]
fn error_measure_propagates_nan() {
    let b = nalgebra::DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 3.0, 4.0]);
    let mut a = b.clone();
    a[(0, 1)] = f64::NAN;
    assert!(credit_check::max_rel_err(&a, &b).is_infinite());
    assert!(credit_check::max_rel_err(&b, &a).is_infinite());
    assert!(!credit_check::alive(&a));
    assert!(credit_check::alive(&b));
    assert!(!credit_check::alive(&nalgebra::DMatrix::zeros(2, 2)));
}
