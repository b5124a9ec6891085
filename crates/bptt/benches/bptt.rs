//! Criterion benchmark of BPTT ([`credit_bptt::gradient`]): the wall-clock time of one
//! gradient call, i.e. the exact `dE/dθ` of one sequence of `T = 100` steps (the forward pass
//! that stores the trajectory plus the reverse recursion), in `f64`.
//!
//! Configurations: cells `rate` (α = 0.5), `lif` and `alif` (built as in the gradient-check
//! suite of `credit-check`), `N ∈ {8, 32, 64}` recurrent neurons, `N_in = 4` inputs, `K = 2`
//! outputs, MSE loss, readout leak κ = 0.9, default initialisation (`Params::random`).
//! Throughput is reported in time steps (`Throughput::Elements(T)`).
//!
//! A second group, `bptt-fast/<cell>`, runs the fast path [`credit_bptt::fast`] on the same
//! configurations.
//!
//! Theoretical order: time `O(T·N²)` (the recurrent products `W_rec z` and `(∂M/∂z)ᵀ λ` per
//! step), memory `O(T·N·d)` for the stored trajectory. Doubling `N` should cost ×4 once the
//! `N²` terms dominate.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

#[path = "../../../benches/setup.rs"]
mod setup;
use setup::{SIZES, T, cells, setup};

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

/// The fast path [`credit_bptt::fast`] (`docs/fast.md` §3) on the same configurations, group
/// `bptt-fast/<cell>`: the ratio to `bptt/<cell>` is the fast path's speed-up.
fn bench_bptt_fast(c: &mut Criterion) {
    for (name, cell) in cells() {
        let mut group = c.benchmark_group(format!("bptt-fast/{name}"));
        group.throughput(Throughput::Elements(T as u64));
        for n in SIZES {
            let (net, p, seq) = setup(cell.clone(), n);
            group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
                b.iter(|| {
                    credit_bptt::fast(black_box(&net), black_box(&p), black_box(&seq)).expect("gradient")
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench_bptt, bench_bptt_fast);
criterion_main!(benches);
