//! Setup shared by the criterion benches of `credit-bptt`, `credit-rtrl` and `credit-oracle`
//! (included with `#[path]`): the benchmarked cells and sizes, built as in the gradient-check
//! suite of `credit-check`.
#![allow(dead_code)]

use credit_core::cell::{Alif, Cell, Lif, Rate, Reset, Spiking};
use credit_core::{Loss, Network, Params, Readout, Sequence};

/// Sequence length.
pub const T: usize = 100;
/// Input dimension.
pub const N_IN: usize = 4;
/// Number of outputs.
pub const K: usize = 2;
/// Readout leak.
pub const KAPPA: f64 = 0.9;
/// Network sizes.
pub const SIZES: [usize; 3] = [8, 32, 64];
/// Seed of parameters and data.
pub const SEED: u64 = 1;

/// LIF with τ_m = 20 steps, v_th = 1 and the default surrogate (as in `credit-check`).
pub fn lif(n_ref: u32, reset: Reset) -> Cell {
    let mut sp = Spiking::new((-1.0f64 / 20.0).exp(), 1.0);
    sp.n_ref = n_ref;
    sp.reset = reset;
    Cell::Lif(Lif { spiking: sp })
}

/// ALIF with τ_m = 20, τ_a = 50 steps, β = 0.3 (as in `credit-check`).
pub fn alif(n_ref: u32, reset: Reset) -> Cell {
    let mut sp = Spiking::new((-1.0f64 / 20.0).exp(), 1.0);
    sp.n_ref = n_ref;
    sp.reset = reset;
    Cell::Alif(Alif { spiking: sp, rho: (-1.0f64 / 50.0).exp(), beta: 0.3 })
}

/// The benchmarked cells.
pub fn cells() -> [(&'static str, Cell); 3] {
    [
        ("rate", Cell::Rate(Rate { alpha: 0.5 })),
        ("lif", lif(0, Reset::Differentiated)),
        ("alif", alif(0, Reset::Differentiated)),
    ]
}

/// Network, parameters and sequence of one configuration.
pub fn setup(cell: Cell, n: usize) -> (Network, Params<f64>, Sequence) {
    let net = Network::new(cell, N_IN, n, K, Readout::leaky(KAPPA), Loss::Mse).expect("valid network");
    let p = Params::<f64>::random(&net, SEED).expect("valid parameters");
    let seq = Sequence::random(&net, T, SEED).expect("valid sequence");
    (net, p, seq)
}
