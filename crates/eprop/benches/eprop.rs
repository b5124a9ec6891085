//! Criterion benchmark of e-prop: the wall-clock time of one gradient of one sequence of
//! `T = 100` steps in `f64` with symmetric feedback, for the literal online form
//! ([`credit_eprop::gradient`], group `eprop/<cell>`) and the fast path ([`credit_eprop::fast`],
//! group `eprop-fast/<cell>`, `docs/fast.md` §4). Configurations as the other benches
//! (`benches/setup.rs`): cells `rate`, `lif`, `alif`, `N ∈ {8, 32, 64}`.
//!
//! Theoretical order: time `O(T·N·d·P_loc) = O(T·N²)` for both, memory `O(N·P_loc)`, flat in `T`.

use std::hint::black_box;

use credit_eprop::Feedback;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

#[path = "../../../benches/setup.rs"]
mod setup;
use setup::{SIZES, T, cells, setup};

fn bench_eprop(c: &mut Criterion) {
    for (label, fast) in [("eprop", false), ("eprop-fast", true)] {
        for (name, cell) in cells() {
            let mut group = c.benchmark_group(format!("{label}/{name}"));
            group.throughput(Throughput::Elements(T as u64));
            for n in SIZES {
                let (net, p, seq) = setup(cell.clone(), n);
                group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
                    b.iter(|| {
                        let (net, p, seq) = (black_box(&net), black_box(&p), black_box(&seq));
                        if fast {
                            credit_eprop::fast(net, p, seq, &Feedback::Symmetric).expect("gradient").loss
                        } else {
                            credit_eprop::gradient(net, p, seq, &Feedback::Symmetric).expect("gradient").loss
                        }
                    })
                });
            }
            group.finish();
        }
    }
}

criterion_group!(benches, bench_eprop);
criterion_main!(benches);
