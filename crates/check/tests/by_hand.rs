//! BPTT and RTRL against a gradient written out by hand (no oracle involved): a one-neuron
//! vanilla RNN (`α = 1`), two steps, leaky readout `κ = 0.5`, squared error.
//!
//! ```text
//! h1 = tanh(w x1 + b)          y1 = o h1 + c
//! h2 = tanh(r h1 + w x2 + b)   y2 = κ y1 + o h2 + c          E = ½(y1 − t1)² + ½(y2 − t2)²
//! ```

// Exact (bit-for-bit) equalities are intended where they are asserted.
#![allow(clippy::float_cmp)]

use credit_core::cell::{Cell, Rate};
use credit_core::{Loss, Network, Params, Readout, Sequence};
use nalgebra::{DMatrix, dvector};

#[test]
fn two_step_vanilla_rnn_by_hand() {
    let (w, r, b, o, c) = (0.8, -0.6, 0.1, 1.7, -0.2);
    let (x1, x2, t1, t2, kappa) = (0.9, -0.4, 0.3, -0.5, 0.5);
    let net =
        Network::new(Cell::Rate(Rate { alpha: 1.0 }), 1, 1, 1, Readout::leaky(kappa), Loss::Mse).unwrap();
    let m = |v: f64| DMatrix::from_element(1, 1, v);
    let p = Params::<f64>::from_tensors(
        &net,
        vec![("w_in", m(w)), ("w_rec", m(r)), ("b", m(b)), ("w_out", m(o)), ("b_out", m(c))],
    )
    .unwrap();
    let seq = Sequence {
        x: vec![dvector![x1], dvector![x2]],
        target: vec![dvector![t1], dvector![t2]],
        mask: vec![1.0, 1.0],
    };

    let h1 = f64::tanh(w * x1 + b);
    let h2 = f64::tanh(r * h1 + w * x2 + b);
    let y1 = o * h1 + c;
    let y2 = kappa * y1 + o * h2 + c;
    let (e1, e2) = (y1 - t1, y2 - t2);
    let dy1 = e1 + kappa * e2; // dE/dy1 through the leaky readout
    let dh2 = o * e2;
    let dh1 = o * dy1 + dh2 * (1.0 - h2 * h2) * r;
    let (g2, g1) = (dh2 * (1.0 - h2 * h2), dh1 * (1.0 - h1 * h1));
    let expect = [
        ("w_in", g2 * x2 + g1 * x1),
        ("w_rec", g2 * h1),
        ("b", g2 + g1),
        ("w_out", dy1 * h1 + e2 * h2),
        ("b_out", dy1 + e2),
    ];
    let loss = 0.5 * e1 * e1 + 0.5 * e2 * e2;

    let bptt = credit_bptt::gradient(&net, &p, &seq).unwrap();
    let rtrl = credit_rtrl::gradient(&net, &p, &seq).unwrap();
    for (name, v) in expect {
        for (rule, g) in [("bptt", &bptt.grad), ("rtrl", &rtrl.grad)] {
            let got = g.get(name).unwrap()[(0, 0)];
            assert!((got - v).abs() <= 1e-15 * v.abs().max(1.0), "{rule} {name}: {got} vs {v}");
        }
    }
    assert!((bptt.loss - loss).abs() < 1e-15 && (rtrl.loss - loss).abs() < 1e-15);
    // the total learning signals of Eq. (B4): δ^2 = o e2, δ^1 = o dy1 + r (1 − h2²) δ^2
    assert!((bptt.learning_signal[2][0] - dh2).abs() < 1e-15);
    assert!((bptt.learning_signal[1][0] - dh1).abs() < 1e-15);
}
