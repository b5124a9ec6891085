//! Golden values: the exact gradient (BPTT, asserted equal to the oracle first) of one
//! canonical tiny config per cell, rounded to 6 significant digits with `-0` normalised so
//! that the files are platform-stable. A change of any digit is a change of the mathematics.

// Exact (bit-for-bit) equalities are intended where they are asserted.
#![allow(clippy::float_cmp)]

mod common;

use common::*;
use credit_core::{Detach, Params};

fn golden(kind: usize) -> String {
    let net = net(cell(kind, 0), 2, 3, 2, false, 0.8);
    let (p, seq) = instance(&net, 8, 2024);
    let bptt = credit_bptt::gradient(&net, &p, &seq).unwrap();
    let oracle = credit_oracle::gradient(&net, &p, &seq, Detach::default()).unwrap();
    assert_close("bptt vs oracle", &bptt.grad, &oracle.grad, 1e-12);
    let traj = credit_core::forward(&net, &p, &seq, Default::default()).unwrap();
    let spikes = if credit_core::CellModel::is_spiking(&net.cell) {
        format!("spikes: {}\n", traj.spike_count())
    } else {
        String::new()
    };
    let mut out = format!(
        "cell: {}\nconfig: N_in=2 N=3 K=2 T=8 mse kappa=0.8 seed=2024\n{spikes}loss: {}\n",
        credit_core::CellModel::id(&net.cell),
        snap(bptt.loss, 10)
    );
    let g: &Params<f64> = &bptt.grad;
    for t in &g.tensors {
        out.push_str(&format!("dE/d{}:\n{}\n", t.name, snap_matrix(&t.value, 6)));
    }
    out
}

#[test]
fn golden_gradient_rate() {
    insta::assert_snapshot!("rate", golden(0));
}

#[test]
fn golden_gradient_lif() {
    let s = golden(1);
    assert!(!s.contains("spikes: 0\n"), "the golden LIF config must spike");
    insta::assert_snapshot!("lif", s);
}

#[test]
fn golden_gradient_alif() {
    let s = golden(2);
    assert!(!s.contains("spikes: 0\n"), "the golden ALIF config must spike");
    insta::assert_snapshot!("alif", s);
}

#[test]
fn golden_gradient_lstm() {
    insta::assert_snapshot!("lstm", golden(3));
}

#[test]
fn snap_normalises_negative_zero_and_rounds() {
    assert_eq!(snap(-1e-20, 3), "-1.00e-20");
    assert_eq!(snap(-0.0, 3), "+0.00e0");
    assert_eq!(snap(1.234567, 3), "+1.23e0");
}
