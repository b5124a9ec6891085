//! Criterion benchmark of the dual-number oracle ([`credit_oracle::gradient`] with no edge
//! detached): the wall-clock time of one gradient call, i.e. the exact `dE/dθ` of one sequence
//! of `T = 100` steps by one forward pass in `Dual<f64>` per parameter.
//!
//! Configurations: cells `rate` (α = 0.5), `lif` and `alif` (built as in the gradient-check
//! suite of `credit-check`), `N ∈ {8, 32, 64}` recurrent neurons, `N_in = 4` inputs, `K = 2`
//! outputs, MSE loss, readout leak κ = 0.9, default initialisation (`Params::random`).
//! Throughput is reported in time steps (`Throughput::Elements(T)`).
//!
//! Theoretical order: time `O(P·T·N²)` = `O(T·N⁴)` — `P ≈ N²` parameters (`N·N_in + N² + N`
//! cell parameters plus `K·N + K` readout ones), one `O(T·N²)` forward pass each; memory
//! `O(N² + T·N)` per thread (a parameter copy and a trajectory). Doubling `N` should cost
//! ×16. The passes are spread over `CREDIT_THREADS` threads (default: all cores), which
//! divides the time, not the order.
//! `N ≥ 32` runs 10 flat samples with a 5 s target (`N = 64`: ~1.5 s per call on 2 threads).

use std::hint::black_box;
use std::time::Duration;

use credit_core::Detach;
use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};

#[path = "../../../benches/setup.rs"]
mod setup;
use setup::{SIZES, T, cells, setup};

fn bench_oracle(c: &mut Criterion) {
    for (name, cell) in cells() {
        let mut group = c.benchmark_group(format!("oracle/{name}"));
        group.throughput(Throughput::Elements(T as u64));
        for n in SIZES {
            let (net, p, seq) = setup(cell.clone(), n);
            if n >= 32 {
                // 0.1-2 s per call: 10 flat samples of a few calls, not criterion's 100
                group
                    .sample_size(10)
                    .sampling_mode(SamplingMode::Flat)
                    .measurement_time(Duration::from_secs(5));
            }
            group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
                b.iter(|| {
                    credit_oracle::gradient(
                        black_box(&net),
                        black_box(&p),
                        black_box(&seq),
                        Detach::default(),
                    )
                    .expect("gradient")
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench_oracle);
criterion_main!(benches);
