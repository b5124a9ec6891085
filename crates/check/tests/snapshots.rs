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

/// e-prop golden values per preset: per-step traces `e^t` (rows = neurons, columns = local
/// parameters `[w_in row | w_rec row | b]`), the instantaneous learning signals `L^t = c·B·g^t`
/// (the regulariser's constant signal is applied to `Σ_t e^t` at the end, Eq. E12) and the
/// symmetric e-prop gradient of a canonical LIF / ALIF config with firing-rate regularisation.
fn golden_eprop(preset: credit_core::Preset, alif: bool) -> String {
    let conv = preset.conventions();
    let (alpha, kappa) = ((-1.0f64 / 20.0).exp(), (-1.0f64 / 10.0).exp());
    let cell = if alif { conv.alif(alpha, 1.0, (-1.0f64 / 50.0).exp(), 0.3) } else { conv.lif(alpha, 1.0) };
    let net = credit_core::Network::new(cell, 2, 3, 2, conv.readout(kappa), credit_core::Loss::Mse)
        .unwrap()
        .with_reg(conv.reg(0.5, 0.1, 1.0))
        .unwrap();
    let (p, seq) = instance(&net, 8, 4242);
    let traj = credit_core::forward(&net, &p, &seq, Default::default()).unwrap();
    assert!(traj.spike_count() > 0, "the golden e-prop config must spike");
    let w = p.cell_tensors(&net);
    let b = p.w_out().transpose();
    let mut st = credit_eprop::Online::new(&net);
    let mut out = format!(
        "preset: {}\ncell: {}\nconfig: N_in=2 N=3 K=2 T=8 mse kappa=e^-0.1 reg(c=0.5, f*=0.1) seed=4242\nspikes: {}\n",
        preset.name(),
        credit_core::CellModel::id(&net.cell),
        traj.spike_count()
    );
    for t in 0..seq.len() {
        st.step(&net, &p, &w, &b, &seq.x[t], &seq.target[t], seq.mask[t]);
        out.push_str(&format!(
            "t={}\ne:\n{}\nL: {}\n",
            t + 1,
            snap_matrix(&st.e, 6),
            snap_matrix(&nalgebra::DMatrix::from_row_slice(1, st.signal.len(), st.signal.as_slice()), 6)
        ));
    }
    st.finish(&net);
    out.push_str(&format!("loss: {}\n", snap(st.loss, 10)));
    for t in &st.grad.tensors {
        out.push_str(&format!("eprop dE/d{}:\n{}\n", t.name, snap_matrix(&t.value, 6)));
    }
    out
}

#[test]
fn golden_eprop_per_preset() {
    for preset in credit_core::Preset::SUITE {
        for alif in [false, true] {
            let name = format!("eprop_{}_{}", preset.name(), if alif { "alif" } else { "lif" });
            insta::assert_snapshot!(name, golden_eprop(preset, alif));
        }
    }
}
