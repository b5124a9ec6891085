//! Criterion benchmark of RTRL ([`credit_rtrl::gradient`], and the fast path
//! [`credit_rtrl::fast::gradient`] beside it, with the GEMM bound of one step): the wall-clock time of one
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

/// The fast path ([`credit_rtrl::fast::gradient`]) beside the literal one, same configs: groups
/// `rtrl-fast/<cell>` (`f64`) and `rtrl-fast-f32/rate`.
fn bench_rtrl_fast(c: &mut Criterion) {
    for (name, cell) in cells() {
        let mut group = c.benchmark_group(format!("rtrl-fast/{name}"));
        group.throughput(Throughput::Elements(T as u64));
        for n in SIZES {
            let (net, p, seq) = setup(cell.clone(), n);
            if n >= 64 {
                group
                    .sample_size(10)
                    .sampling_mode(SamplingMode::Flat)
                    .measurement_time(Duration::from_secs(5));
            }
            group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
                b.iter(|| {
                    credit_rtrl::fast::gradient(black_box(&net), black_box(&p), black_box(&seq))
                        .expect("gradient")
                })
            });
        }
        group.finish();
    }
    let mut group = c.benchmark_group("rtrl-fast-f32/rate");
    group.throughput(Throughput::Elements(T as u64));
    group.sample_size(10).sampling_mode(SamplingMode::Flat).measurement_time(Duration::from_secs(5));
    let (net, p, seq) = setup(cells()[0].1.clone(), 64);
    let p32: credit_core::Params<f32> = p.cast();
    group.bench_function(BenchmarkId::from_parameter(64), |b| {
        b.iter(|| {
            credit_rtrl::fast::gradient(black_box(&net), black_box(&p32), black_box(&seq)).expect("gradient")
        })
    });
    group.finish();
}

/// The GEMM bound of one RTRL step: the `(N·d)×N` by `N×P_cell` product of (T1) alone, as the
/// fast path runs it (nalgebra's `gemm` into preallocated storage, `β = 1`), rate cell (`d = 1`),
/// `f64` and `f32`. One iteration is `2·N²·P_cell` FLOP; the GEMM rate is that over the median.
fn bench_gemm_bound(c: &mut Criterion) {
    let mut group = c.benchmark_group("gemm-bound");
    for n in SIZES {
        let (net, ..) = setup(cells()[0].1.clone(), n);
        let p = net.p_cell();
        let flop = 2 * n * n * p;
        group.throughput(Throughput::Elements(flop as u64));
        let a = nalgebra::DMatrix::<f64>::from_fn(n, n, |i, j| ((i * 7 + j * 3) % 11) as f64 * 0.01);
        let b = nalgebra::DMatrix::<f64>::from_fn(n, p, |i, j| ((i * 5 + j) % 13) as f64 * 0.01);
        let mut s = nalgebra::DMatrix::<f64>::zeros(n, p);
        group.bench_with_input(BenchmarkId::new("f64", n), &n, |bch, _| {
            bch.iter(|| s.gemm(1.0, black_box(&a), black_box(&b), 1.0))
        });
        let (a32, b32) = (a.map(|x| x as f32), b.map(|x| x as f32));
        let mut s32 = nalgebra::DMatrix::<f32>::zeros(n, p);
        group.bench_with_input(BenchmarkId::new("f32", n), &n, |bch, _| {
            bch.iter(|| s32.gemm(1.0, black_box(&a32), black_box(&b32), 1.0))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_rtrl, bench_rtrl_fast, bench_gemm_bound);
criterion_main!(benches);
