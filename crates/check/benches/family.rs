//! Criterion benchmark of the m-order family (kept in `credit-check` because its baselines are
//! other algorithm crates, which `credit-family` may not depend on): the literal recursion
//! ([`credit_family::recursion::gradient`]) and the fast one ([`credit_family::fast::gradient`])
//! at orders `m ∈ {0, 1, 2, 3}` (hop-count reading), and symmetric e-prop
//! ([`credit_eprop::gradient`], the literal one: the baseline of order 0), one gradient of a
//! sequence of `T = 100` steps in `f64` per iteration.
//!
//! Configurations: the rate cell (α = 0.5) of `benches/setup.rs`, `N ∈ {32, 64}`, `N_in = 4`,
//! `K = 2`, MSE, κ = 0.9. Groups `family/<N>` (ids `literal/m`, `fast/m`) and `eprop/<N>` (ids
//! `literal`, and `rtrl-fast`: one fast RTRL gradient, the yardstick of a level).
//! The cost of one order level is the difference of consecutive orders: level 1 is `O(N·P)`
//! per step (the hop out of the block-sparse level 0), levels `k ≥ 2` are each one RTRL step
//! (`O(N²·P)`, one GEMM), compared with `eprop/<N>/rtrl-fast` in the same run.

use std::hint::black_box;
use std::time::Duration;

use credit_family::Reading;
use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main};

#[path = "../../../benches/setup.rs"]
mod setup;
use setup::{T, cells, setup};

fn bench_family(c: &mut Criterion) {
    for n in [32usize, 64] {
        let (net, p, seq) = setup(cells()[0].1.clone(), n);
        let mut group = c.benchmark_group(format!("family/{n}"));
        group.throughput(Throughput::Elements(T as u64));
        group.sample_size(10).sampling_mode(SamplingMode::Flat).measurement_time(Duration::from_secs(4));
        for m in 0..=3usize {
            group.bench_with_input(BenchmarkId::new("fast", m), &m, |b, &m| {
                b.iter(|| {
                    credit_family::fast::gradient(
                        black_box(&net),
                        black_box(&p),
                        black_box(&seq),
                        m,
                        Reading::HopCount,
                    )
                    .expect("gradient")
                })
            });
            group.bench_with_input(BenchmarkId::new("literal", m), &m, |b, &m| {
                b.iter(|| {
                    credit_family::recursion::gradient(
                        black_box(&net),
                        black_box(&p),
                        black_box(&seq),
                        m,
                        Reading::HopCount,
                    )
                    .expect("gradient")
                })
            });
        }
        group.finish();
        let mut group = c.benchmark_group(format!("eprop/{n}"));
        group.throughput(Throughput::Elements(T as u64));
        group.sample_size(10).sampling_mode(SamplingMode::Flat).measurement_time(Duration::from_secs(4));
        group.bench_function("rtrl-fast", |b| {
            b.iter(|| {
                credit_rtrl::fast::gradient(black_box(&net), black_box(&p), black_box(&seq))
                    .expect("gradient")
            })
        });
        group.bench_function("literal", |b| {
            b.iter(|| {
                credit_eprop::gradient(
                    black_box(&net),
                    black_box(&p),
                    black_box(&seq),
                    &credit_eprop::Feedback::Symmetric,
                )
                .expect("gradient")
            })
        });
        group.finish();
    }
}

criterion_group!(benches, bench_family);
criterion_main!(benches);
