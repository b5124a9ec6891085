//! Criterion benchmark of BPTT ([`credit_bptt::gradient`]): the wall-clock time of one
//! gradient call, i.e. the exact `dE/dθ` of one sequence of `T = 100` steps (the forward pass
//! that stores the trajectory plus the reverse recursion), in `f64`.
//!
//! Configurations: cells `rate` (α = 0.5), `lif` and `alif` (built as in the gradient-check
//! suite of `credit-check`), `N ∈ {8, 32, 64}` recurrent neurons, `N_in = 4` inputs, `K = 2`
//! outputs, MSE loss, readout leak κ = 0.9, default initialisation (`Params::random`).
//! Throughput is reported in time steps (`Throughput::Elements(T)`).
//!
//! Theoretical order: time `O(T·N²)` (the recurrent products `W_rec z` and `(∂M/∂z)ᵀ λ` per
//! step), memory `O(T·N·d)` for the stored trajectory. Doubling `N` should cost ×4 once the
//! `N²` terms dominate.

use std::hint::black_box;

use credit_core::cell::{Alif, Cell, Lif, Rate, Reset, Spiking};
use credit_core::{Loss, Network, Params, Readout, Sequence};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

/// Sequence length.
const T: usize = 100;
/// Input dimension.
const N_IN: usize = 4;
/// Number of outputs.
const K: usize = 2;
/// Readout leak.
const KAPPA: f64 = 0.9;
/// Network sizes.
const SIZES: [usize; 3] = [8, 32, 64];
/// Seed of parameters and data.
const SEED: u64 = 1;

/// LIF with τ_m = 20 steps, v_th = 1 and the default surrogate (as in `credit-check`).
fn lif(n_ref: u32, reset: Reset) -> Cell {
    let mut sp = Spiking::new((-1.0f64 / 20.0).exp(), 1.0);
    sp.n_ref = n_ref;
    sp.reset = reset;
    Cell::Lif(Lif { spiking: sp })
}

/// ALIF with τ_m = 20, τ_a = 50 steps, β = 0.3 (as in `credit-check`).
fn alif(n_ref: u32, reset: Reset) -> Cell {
    let mut sp = Spiking::new((-1.0f64 / 20.0).exp(), 1.0);
    sp.n_ref = n_ref;
    sp.reset = reset;
    Cell::Alif(Alif { spiking: sp, rho: (-1.0f64 / 50.0).exp(), beta: 0.3 })
}

/// The benchmarked cells.
fn cells() -> [(&'static str, Cell); 3] {
    [
        ("rate", Cell::Rate(Rate { alpha: 0.5 })),
        ("lif", lif(0, Reset::Differentiated)),
        ("alif", alif(0, Reset::Differentiated)),
    ]
}

/// Network, parameters and sequence of one configuration.
fn setup(cell: Cell, n: usize) -> (Network, Params<f64>, Sequence) {
    let net = Network::new(cell, N_IN, n, K, Readout::leaky(KAPPA), Loss::Mse).expect("valid network");
    let p = Params::<f64>::random(&net, SEED).expect("valid parameters");
    let seq = Sequence::random(&net, T, SEED).expect("valid sequence");
    (net, p, seq)
}

fn bench_bptt(c: &mut Criterion) {
    for (name, cell) in cells() {
        let mut group = c.benchmark_group(format!("bptt/{name}"));
        group.throughput(Throughput::Elements(T as u64));
        for n in SIZES {
            let (net, p, seq) = setup(cell.clone(), n);
            group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
                b.iter(|| {
                    credit_bptt::gradient(black_box(&net), black_box(&p), black_box(&seq)).expect("gradient")
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench_bptt);
criterion_main!(benches);
