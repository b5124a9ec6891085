//! Criterion benchmark of RTRL ([`credit_rtrl::gradient`]): the wall-clock time of one
//! gradient call, i.e. the exact `dE/dθ` of one sequence of `T = 100` steps computed online
//! by the influence-matrix recursion, in `f64`.
//!
//! Configurations: cells `rate` (α = 0.5), `lif` and `alif` (built as in the gradient-check
//! suite of `credit-check`), `N ∈ {8, 32, 64}` recurrent neurons, `N_in = 4` inputs, `K = 2`
//! outputs, MSE loss, readout leak κ = 0.9, default initialisation (`Params::random`).
//! Throughput is reported in time steps (`Throughput::Elements(T)`).
//!
//! Theoretical order: time `O(T·N⁴)` (per step the product `∂M/∂z^{t-1} · Z^{t-1}` of an
//! `(N·d)×N` by an `N×P_cell` matrix, with `P_cell ≈ N²`), memory `O(N³)` for the influence
//! matrix `S^t` (`(N·d)×P_cell`) — independent of `T`. Doubling `N` should cost ×16.
//! `N = 64` takes about half a second per call: it runs 10 flat samples with a 5 s target.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};

#[path = "../../../benches/setup.rs"]
mod setup;
use setup::{SIZES, T, cells, setup};

fn bench_rtrl(c: &mut Criterion) {
    for (name, cell) in cells() {
        let mut group = c.benchmark_group(format!("rtrl/{name}"));
        group.throughput(Throughput::Elements(T as u64));
        for n in SIZES {
            let (net, p, seq) = setup(cell.clone(), n);
            if n >= 64 {
                // ~0.4-0.8 s per call: 10 flat samples of one or two calls, not criterion's 100
                group
                    .sample_size(10)
                    .sampling_mode(SamplingMode::Flat)
                    .measurement_time(Duration::from_secs(5));
            }
            group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
                b.iter(|| {
                    credit_rtrl::gradient(black_box(&net), black_box(&p), black_box(&seq)).expect("gradient")
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench_rtrl);
criterion_main!(benches);
