//! Hand-computed trajectories: the forward equations of `docs/cells.md` checked number by
//! number on one- and two-neuron systems (independent of any derivative code).

// Exact (bit-for-bit) equalities are intended where they are asserted.
#![allow(clippy::float_cmp)]

use credit_core::cell::{Alif, Cell, InputScale, Lif, Lstm, Rate, Reset, Spiking};
use credit_core::{
    CellModel, CellState, Detach, Edges, ForwardOptions, Loss, Network, Params, Readout, Sequence, forward,
};
use nalgebra::{DMatrix, DVector, dvector};
use num_dual::Dual64;

fn params(
    net: &Network,
    w_in: &[f64],
    w_rec: &[f64],
    b: &[f64],
    w_out: &[f64],
    b_out: &[f64],
) -> Params<f64> {
    let (n, n_in, k) = (net.n, net.n_in, net.n_out);
    Params::from_tensors(
        net,
        vec![
            ("w_in", DMatrix::from_row_slice(n, n_in, w_in)),
            ("w_rec", DMatrix::from_row_slice(n, n, w_rec)),
            ("b", DMatrix::from_row_slice(n, 1, b)),
            ("w_out", DMatrix::from_row_slice(k, n, w_out)),
            ("b_out", DMatrix::from_row_slice(k, 1, b_out)),
        ],
    )
    .unwrap()
}

fn seq(x: &[f64], target: &[f64]) -> Sequence {
    Sequence {
        x: x.iter().map(|&v| dvector![v]).collect(),
        target: target.iter().map(|&v| dvector![v]).collect(),
        mask: vec![1.0; x.len()],
    }
}

/// One LIF neuron, v_th = 1, α = 0.5, input weight 1.5, reset differentiated; Eqs. (L1), (L2).
#[test]
fn lif_single_neuron_by_hand() {
    let net = Network::new(
        Cell::Lif(Lif { spiking: Spiking::new(0.5, 1.0) }),
        1,
        1,
        1,
        Readout::leaky(0.0),
        Loss::Mse,
    )
    .unwrap();
    let p = params(&net, &[1.5], &[0.0], &[0.0], &[1.0], &[0.0]);
    let s = seq(&[1.0, 1.0, 0.0, 1.0], &[0.0; 4]);
    let tr = forward(&net, &p, &s, ForwardOptions::default()).unwrap();
    // v1 = 1.5 → spike; v2 = 0.75 + 1.5 − 1 = 1.25 → spike; v3 = 0.625 − 1 = −0.375; v4 = −0.1875 + 1.5 = 1.3125 → spike
    let v: Vec<f64> = tr.states[1..].iter().map(|s| s.h[0]).collect();
    assert_eq!(v, vec![1.5, 1.25, -0.375, 1.3125]);
    let z: Vec<f64> = tr.z[1..].iter().map(|z| z[0]).collect();
    assert_eq!(z, vec![1.0, 1.0, 0.0, 1.0]);
    // loss ½Σ z² with a memoryless identity readout
    assert_eq!(tr.loss, 1.5);
}

/// Refractoriness (Eq. L4): with n_ref = 2 a spike at t blocks t+1 and t+2.
#[test]
fn refractory_period_blocks_spikes_and_surrogate() {
    let mut sp = Spiking::new(1.0, 1.0);
    sp.n_ref = 2;
    sp.reset = Reset::Detached;
    let net = Network::new(Cell::Lif(Lif { spiking: sp }), 1, 1, 1, Readout::leaky(0.0), Loss::Mse).unwrap();
    let p = params(&net, &[2.0], &[0.0], &[0.0], &[1.0], &[0.0]);
    let s = seq(&[1.0; 6], &[0.0; 6]);
    let tr = forward(&net, &p, &s, ForwardOptions::default()).unwrap();
    let z: Vec<f64> = tr.z[1..].iter().map(|z| z[0]).collect();
    assert_eq!(z, vec![1.0, 0.0, 0.0, 1.0, 0.0, 0.0]);
    let refr: Vec<u32> = tr.states[1..].iter().map(|s| s.refractory[0]).collect();
    assert_eq!(refr, vec![0, 2, 1, 0, 2, 1]);
    for t in 1..=6 {
        let psi = net.cell.output_jacobian(&tr.states[t])[(0, 0)];
        if refr[t - 1] > 0 {
            assert_eq!(psi, 0.0, "ψ must vanish while refractory (t={t})");
        }
    }
}

/// The surrogate: Heaviside in the value, ψ = (γ/v_th)·max(0, 1 − |v − v_th|/v_th) in the
/// derivative (Eqs. L2, L3).
#[test]
fn surrogate_spike_carries_psi() {
    let sp = Spiking::new(0.9, 2.0);
    for (v, z, psi) in
        [(2.5, 1.0, 0.3 / 2.0 * 0.75), (1.0, 0.0, 0.3 / 2.0 * 0.5), (5.0, 1.0, 0.0), (2.0, 0.0, 0.3 / 2.0)]
    {
        let out = sp.spike(Dual64::new(v, 1.0), Dual64::from(2.0), 0);
        assert_eq!(out.re, z, "v={v}");
        assert!((out.eps - psi).abs() < 1e-16, "v={v}: {} vs {psi}", out.eps);
        assert!((sp.psi(v, 2.0, 0) - psi).abs() < 1e-16);
        let blocked = sp.spike(Dual64::new(v, 1.0), Dual64::from(2.0), 1);
        assert_eq!((blocked.re, blocked.eps), (0.0, 0.0));
    }
}

/// ALIF (Eqs. A1–A3): a spike raises the threshold by β from the next step on; the reset
/// subtracts v_th, not the adapted threshold.
#[test]
fn alif_adaptation_by_hand() {
    let net = Network::new(
        Cell::Alif(Alif { spiking: Spiking::new(1.0, 1.0), rho: 0.5, beta: 0.4 }),
        1,
        1,
        1,
        Readout::leaky(0.0),
        Loss::Mse,
    )
    .unwrap();
    let p = params(&net, &[1.2], &[0.0], &[0.0], &[1.0], &[0.0]);
    let s = seq(&[1.0, 0.0, 1.0], &[0.0; 3]);
    let tr = forward(&net, &p, &s, ForwardOptions::default()).unwrap();
    // t1: v = 1.2, a = 0, A = 1 → spike. t2: v = 1.2 − 1 = 0.2, a = 0 + 1 = 1, A = 1.4 → no.
    // t3: v = 0.2 + 1.2 = 1.4, a = 0.5, A = 1.2 → spike.
    let h: Vec<(f64, f64)> = tr.states[1..].iter().map(|s| (s.h[0], s.h[1])).collect();
    let expect = [(1.2, 0.0), (0.2, 1.0), (1.4, 0.5)];
    for (a, b) in h.iter().zip(expect) {
        assert!((a.0 - b.0).abs() < 1e-15 && (a.1 - b.1).abs() < 1e-15, "{a:?} vs {b:?}");
    }
    let z: Vec<f64> = tr.z[1..].iter().map(|z| z[0]).collect();
    assert_eq!(z, vec![1.0, 0.0, 1.0]);
}

/// Rate cell (Eqs. R1, R2): a two-step trajectory by hand, and α = 1 is the vanilla RNN.
#[test]
fn rate_cell_by_hand() {
    let net =
        Network::new(Cell::Rate(Rate { alpha: 0.25 }), 1, 1, 1, Readout::leaky(0.5), Loss::Mse).unwrap();
    let p = params(&net, &[0.7], &[-0.4], &[0.1], &[2.0], &[0.3]);
    let s = seq(&[1.0, -2.0], &[0.5, 0.0]);
    let tr = forward(&net, &p, &s, ForwardOptions::default()).unwrap();
    let h1 = 0.25 * (0.7f64 + 0.1).tanh();
    let h2 = 0.75 * h1 + 0.25 * (-0.4 * h1 - 1.4 + 0.1f64).tanh();
    assert!((tr.z[1][0] - h1).abs() < 1e-16 && (tr.z[2][0] - h2).abs() < 1e-16);
    let y1 = 2.0 * h1 + 0.3;
    let y2 = 0.5 * y1 + 2.0 * h2 + 0.3;
    let loss = 0.5 * (y1 - 0.5f64).powi(2) + 0.5 * y2 * y2;
    assert!((tr.loss - loss).abs() < 1e-15);
}

/// ζ = 1 − α scales every input current (Eq. L1), and a detached reset changes no value.
#[test]
fn input_scale_and_detached_reset() {
    let mut sp = Spiking::new(0.8, 1.0);
    sp.input_scale = InputScale::OneMinusAlpha;
    let lif = Lif { spiking: sp };
    let w = vec![DMatrix::from_element(1, 1, 3.0), DMatrix::zeros(1, 1), DMatrix::from_element(1, 1, 0.5)];
    let prev: CellState<f64> = CellState { h: dvector![0.5], refractory: vec![0] };
    let z_prev: DVector<f64> = dvector![1.0];
    let x = DVector::from_element(1, 1.0);
    let next = lif.step(&w, &prev, &z_prev, &x, &Edges::default());
    assert!((next.h[0] - (0.8 * 0.5 + 0.2 * 3.5 - 1.0)).abs() < 1e-15);
    let detached =
        lif.step(&w, &prev, &z_prev, &x, &Edges::detached(Detach { reset: true, ..Default::default() }));
    assert_eq!(detached.h[0], next.h[0]);
}

/// Cross-entropy: value and gradient (Σπ*)·softmax(y) − π* on a hand example (Eqs. Y3, Y4).
#[test]
fn cross_entropy_by_hand() {
    let y = dvector![1.0, 2.0, 0.5];
    let target = dvector![0.0, 1.0, 0.0];
    let (e, g) = Loss::CrossEntropy.value_and_grad(&y, &target);
    let z: f64 = y.iter().map(|v: &f64| v.exp()).sum();
    assert!((e - (z.ln() - 2.0)).abs() < 1e-15);
    for k in 0..3 {
        let expect = y[k].exp() / z - target[k];
        assert!((g[k] - expect).abs() < 1e-15);
    }
    // large logits do not overflow
    let (e, g) = Loss::CrossEntropy.value_and_grad(&dvector![1000.0f64, 0.0], &dvector![1.0f64, 0.0]);
    assert!(e.is_finite() && g.iter().all(|v| v.is_finite()));
}

/// LSTM (Eqs. M1–M4): one neuron, two steps by hand.
#[test]
fn lstm_by_hand() {
    let net = Network::new(Cell::Lstm(Lstm), 1, 1, 1, Readout::leaky(0.0), Loss::Mse).unwrap();
    let m = |v: f64| DMatrix::from_element(1, 1, v);
    // per gate (i, f, c, o): w_in, w_rec, b
    let w = [(0.5, 0.2, 0.1), (-0.3, 0.4, 1.0), (0.9, -0.7, 0.0), (0.2, 0.3, -0.1)];
    let mut tensors = Vec::new();
    let names = [
        ("w_in_i", "w_rec_i", "b_i"),
        ("w_in_f", "w_rec_f", "b_f"),
        ("w_in_c", "w_rec_c", "b_c"),
        ("w_in_o", "w_rec_o", "b_o"),
    ];
    for ((a, b, c), (na, nb, nc)) in w.iter().zip(names) {
        tensors.extend([(na, m(*a)), (nb, m(*b)), (nc, m(*c))]);
    }
    tensors.extend([("w_out", m(1.0)), ("b_out", m(0.0))]);
    let p = Params::<f64>::from_tensors(&net, tensors).unwrap();
    let s = seq(&[1.0, -0.5], &[0.0, 0.0]);
    let tr = forward(&net, &p, &s, ForwardOptions::default()).unwrap();
    let sig = |x: f64| 1.0 / (1.0 + (-x).exp());
    let (mut c, mut z) = (0.0, 0.0);
    for (t, x) in [1.0, -0.5].into_iter().enumerate() {
        let u = |k: usize| w[k].0 * x + w[k].1 * z + w[k].2;
        let (i, f, g, o) = (sig(u(0)), sig(u(1)), u(2).tanh(), sig(u(3)));
        c = f * c + i * g;
        z = o * c.tanh();
        assert!((tr.states[t + 1].h[0] - c).abs() < 1e-15 && (tr.states[t + 1].h[1] - o).abs() < 1e-15);
        assert!((tr.z[t + 1][0] - z).abs() < 1e-15, "t={t}");
    }
}
