//! Sparse SnAp-n (`credit_snap::sparse`, `docs/snap.md` §6) on random small networks: equal to
//! the literal SnAp-n at every `n` (and on the ring copy, a pattern neither diagonal nor full),
//! its counted multiply-adds O(P) for SnAp-1 and RTRL's for a full pattern, its state's size
//! independent of the steps consumed, and it runs on `f32`, `f64` and `Dual64`.

mod common;

use common::*;
use credit_check::snap::ring;
use num_dual::Dual64;
use proptest::prelude::*;
use proptest::test_runner::{Config as PtConfig, RngSeed};

fn pt_config(cases: u32) -> PtConfig {
    PtConfig {
        cases,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(0x5A_F457),
        max_global_rejects: 4096,
        ..PtConfig::default()
    }
}

proptest! {
    #![proptest_config(pt_config(40))]

    /// `snap-fast=snap` by proptest: every cell and convention variant, every `n` from 1 to `T`,
    /// every tensor and the loss at 1e-12; and the ring copy at `n = T'`.
    #[test]
    fn sparse_equals_literal(
        kind in 0usize..4, variant in 0u32..768, n in 1usize..=6, n_in in 1usize..=3,
        steps in 1usize..=7, seed in any::<u64>(), ce in any::<bool>(), kappa in 0.0f64..=1.0,
    ) {
        let net = net_v(cell(kind, variant), n_in, n, 2, ce, kappa, variant);
        let (p, seq) = instance(&net, steps, seed);
        for order in 1..=steps {
            let lit = credit_snap::gradient(&net, &p, &seq, order).unwrap();
            let fast = credit_snap::sparse::gradient(&net, &p, &seq, order).unwrap();
            for (name, e) in per_tensor(&fast.grad, &lit.grad) {
                prop_assert!(e <= 1e-12, "n={} {}: {:e}", order, name, e);
            }
            let dl = (fast.loss - lit.loss).abs() / lit.loss.abs().max(f64::MIN_POSITIVE);
            prop_assert!(dl <= 1e-12, "n={} loss: {:e}", order, dl);
        }
        if let Some((q, cut)) = ring(&net, &p, &seq) {
            let lit = credit_snap::gradient(&net, &q, &cut, cut.len()).unwrap();
            let fast = credit_snap::sparse::gradient(&net, &q, &cut, cut.len()).unwrap();
            for (name, e) in per_tensor(&fast.grad, &lit.grad) {
                prop_assert!(e <= 1e-12, "ring {}: {:e}", name, e);
            }
        }
    }
}

/// SnAp-1's counted multiply-adds are `P_cell · (d² + 2d + K)` per step — O(P), not O(N·P) —
/// over N = 4 … 32 for every cell; a full pattern on a dense net counts exactly RTRL's
/// `P_cell · (N d² + N² d + N d + K N)` (`docs/rtrl.md` §5), SnAp-2 on the ring copy less.
#[test]
fn counted_madds_follow_the_pattern() {
    for kind in 0..4 {
        let mut per_p = Vec::new();
        for n in [4usize, 8, 16, 32] {
            let net = net(cell(kind, 0), 3, n, 2, false, 0.8);
            let (p, seq) = instance(&net, 5, 7);
            let (d, k, pc) = (net.d() as u64, net.n_out as u64, net.p_cell() as u64);
            let one = credit_snap::sparse::gradient(&net, &p, &seq, 1).unwrap();
            assert_eq!(one.madds, 5 * pc * (d * d + 2 * d + k), "kind {kind} N={n}");
            assert_eq!(one.madds % pc, 0);
            per_p.push(one.madds / pc);
            // a full pattern (generic configs: every off-diagonal W_rec entry non-zero) = RTRL
            let full = credit_snap::sparse::gradient(&net, &p, &seq, 2).unwrap();
            assert!(credit_snap::Pattern::new(&net, &p, 2).unwrap().is_full());
            let nn = n as u64;
            let rtrl = pc * (nn * d * d + nn * nn * d + nn * d + k * nn);
            assert_eq!(full.madds, 5 * rtrl, "kind {kind} N={n}");
            let at_t = credit_snap::sparse::gradient(&net, &p, &seq, 5).unwrap();
            assert_eq!(at_t.madds, 5 * rtrl, "kind {kind} N={n}: SnAp-T");
            // a sparse recurrent graph: fewer than RTRL, more than SnAp-1
            let (q, cut) = ring(&net, &p, &instance(&net, n, 7).1).unwrap();
            let two = credit_snap::sparse::gradient(&net, &q, &cut, 2).unwrap();
            let steps = cut.len() as u64;
            assert!(two.madds < steps * rtrl && two.madds > steps * pc * (d * d + 2 * d + k));
        }
        // madds / P does not grow with N
        assert!(per_p.iter().all(|&x| x == per_p[0]), "kind {kind}: {per_p:?}");
    }
}

/// The sparse state is online: its size does not change over 200 steps and SnAp-1 holds
/// `d·P_loc·N` entries of `S`, the literal's dense `N·d·P_cell` never.
#[test]
fn sparse_state_does_not_grow_and_keeps_the_pattern_only() {
    for kind in 0..4 {
        let net = net(cell(kind, 0), 2, 6, 2, false, 0.8);
        let (p, seq) = instance(&net, 200, 3);
        let mut st = credit_snap::sparse::SparseState::new(&net, &p, 1).unwrap();
        assert_eq!(st.layout.kept(), net.d() * net.p_loc() * net.n);
        let size = st.len_scalars();
        for t in 0..seq.len() {
            st.step(&net, &seq.x[t], &seq.target[t], seq.mask[t]);
            assert_eq!(st.len_scalars(), size);
        }
        let literal =
            credit_snap::SnapState::<f64>::new(&net, &credit_snap::Pattern::new(&net, &p, 1).unwrap());
        assert!(size < literal.len_scalars());
    }
}

/// The same sparse code on `f32`, `f64` and `Dual64` (the real part of the dual run = the `f64`
/// run; the dual parts are live), and `n = 0` refused with the literal's typed error.
#[test]
fn sparse_runs_on_every_scalar() {
    for kind in 0..4 {
        let net = net(cell(kind, 0), 2, 4, 2, false, 0.8);
        let (p, seq) = instance(&net, 6, 11);
        let g64 = credit_snap::sparse::gradient(&net, &p, &seq, 1).unwrap();
        let g32 = credit_snap::sparse::gradient(&net, &p.cast::<f32>(), &seq, 1).unwrap();
        assert_close("f32", &g32.grad, &g64.grad, 1e-3);
        let pd: credit_core::Params<Dual64> = p.map(|v| Dual64::new(v, 1.0));
        let gd = credit_snap::sparse::gradient(&net, &pd, &seq, 1).unwrap();
        assert_close("Dual64 real part", &gd.grad, &g64.grad, 1e-14);
        assert!(gd.grad.tensors.iter().any(|t| t.value.iter().any(|v| v.eps != 0.0)), "kind {kind}");
        let e = credit_snap::sparse::gradient(&net, &p, &seq, 0).unwrap_err();
        assert!(e.to_string().starts_with("snap.n"), "{e}");
    }
}
