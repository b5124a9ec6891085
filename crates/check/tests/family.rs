//! The m-order family (a reconstruction, `docs/family.md`) on random small networks: the
//! recursion equals the hop-graded forward pass at every order, order 0 is e-prop, order T − 1
//! is RTRL; the last-step-hop reading agrees where it must and differs where it must.

mod common;

use common::*;
use credit_eprop::Feedback;
use credit_family::{Reading, graded, recursion};
use proptest::prelude::*;
use proptest::test_runner::{Config as PtConfig, RngSeed};

fn pt_config(cases: u32) -> PtConfig {
    PtConfig {
        cases,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(0xFA_4117),
        max_global_rejects: 4096,
        ..PtConfig::default()
    }
}

proptest! {
    #![proptest_config(pt_config(48))]

    #[test]
    fn recursion_equals_graded_at_every_order(
        kind in 0usize..4, variant in 0u32..768, n in 1usize..=5, n_in in 1usize..=3,
        steps in 1usize..=10, seed in any::<u64>(), ce in any::<bool>(), kappa in 0.0f64..=1.0,
    ) {
        let net = net_v(cell(kind, variant), n_in, n, 2, ce, kappa, variant);
        let (p, seq) = instance(&net, steps, seed);
        let by_order = graded::family_gradients::<12>(&net, &p, &seq).unwrap();
        for m in 0..steps {
            let rec = recursion::gradient(&net, &p, &seq, m, Reading::HopCount).unwrap();
            for (name, e) in per_tensor(&rec.grad, &by_order[m]) {
                prop_assert!(e <= 1e-10, "m={} {}: {:e}", m, name, e);
            }
        }
        // the ends of the family
        let ep = credit_eprop::gradient(&net, &p, &seq, &Feedback::Symmetric).unwrap();
        for (name, e) in per_tensor(&by_order[0], &ep.grad) {
            prop_assert!(e <= 1e-10, "m=0 vs e-prop {}: {:e}", name, e);
        }
        let rtrl = credit_rtrl::gradient(&net, &p, &seq).unwrap();
        for (name, e) in per_tensor(&by_order[steps - 1], &rtrl.grad) {
            prop_assert!(e <= 1e-10, "m=T-1 vs RTRL {}: {:e}", name, e);
        }
    }

    /// The last-step-hop (MDGL-like) reading: order 0 is e-prop; with T = 2 a single hop can
    /// only happen at the last step, so order 1 is RTRL.
    #[test]
    fn last_step_hop_reading_limits(
        kind in 0usize..4, variant in 0u32..768, n in 1usize..=5, seed in any::<u64>(),
    ) {
        let net = net_v(cell(kind, variant), 2, n, 2, false, 0.7, variant);
        let (p, seq) = instance(&net, 2, seed);
        let a = recursion::gradient(&net, &p, &seq, 0, Reading::LastStepHop).unwrap();
        let b = recursion::gradient(&net, &p, &seq, 0, Reading::HopCount).unwrap();
        for (name, e) in per_tensor(&a.grad, &b.grad) {
            prop_assert!(e <= 1e-12, "m=0 {}: {:e}", name, e);
        }
        let one = recursion::gradient(&net, &p, &seq, 1, Reading::LastStepHop).unwrap();
        let rtrl = credit_rtrl::gradient(&net, &p, &seq).unwrap();
        for (name, e) in per_tensor(&one.grad, &rtrl.grad) {
            prop_assert!(e <= 1e-10, "T=2, m=1 vs RTRL {}: {:e}", name, e);
        }
    }
}

/// On a generic rate net the two readings of order 1 are different rules, and neither is RTRL.
#[test]
fn readings_differ_at_order_one() {
    let net = net(cell(0, 1), 3, 5, 2, false, 0.8);
    let (p, seq) = instance(&net, 10, 3);
    let hop = recursion::gradient(&net, &p, &seq, 1, Reading::HopCount).unwrap();
    let last = recursion::gradient(&net, &p, &seq, 1, Reading::LastStepHop).unwrap();
    let rtrl = credit_rtrl::gradient(&net, &p, &seq).unwrap();
    let worst = |a: &credit_core::Params<f64>, b: &credit_core::Params<f64>| {
        per_tensor(a, b).into_iter().map(|(_, e)| e).fold(0.0, f64::max)
    };
    assert!(worst(&hop.grad, &last.grad) > 1e-4);
    assert!(worst(&hop.grad, &rtrl.grad) > 1e-4);
    assert!(worst(&last.grad, &rtrl.grad) > 1e-4);
}

/// The counted cost grows with the order as the theory says: the first hop is cheap
/// (block-sparse level 0), every further order adds one dense `∂M/∂z · Z` product.
#[test]
fn counted_cost_follows_the_orders() {
    let net = net(cell(0, 1), 3, 8, 2, false, 0.8);
    let (p, seq) = instance(&net, 6, 3);
    let cost = |m| recursion::gradient(&net, &p, &seq, m, Reading::HopCount).unwrap().cost;
    let (c0, c1, c2, c3) = (cost(0), cost(1), cost(2), cost(3));
    let (n, pc, pl) = (net.n as u64, net.p_cell() as u64, net.p_loc() as u64);
    // per step, d = 1: order 2 adds N·N·P_cell (dense hop) + N·P_cell (D S) + N·P_cell (Z)
    assert_eq!((c2.madds - c1.madds) / 6, n * n * pc + 2 * n * pc);
    assert_eq!((c3.madds - c2.madds) / 6, n * n * pc + 2 * n * pc);
    // the first hop uses the block-sparse level 0: N·N·P_loc instead of N·N·P_cell
    assert!((c1.madds - c0.madds) / 6 < n * n * pc);
    assert!((c1.madds - c0.madds) / 6 >= n * n * pl);
    // memory: each order ≥ 1 holds S^{(k)} and Z^{(k)}
    assert_eq!(c2.floats - c1.floats, n * pc + n * pc);
}

/// The graded pass refuses sequences longer than its number of coefficients.
#[test]
fn graded_rejects_too_long_sequences() {
    let net = net(cell(0, 1), 2, 2, 1, false, 0.5);
    let (p, seq) = instance(&net, 5, 1);
    let e = graded::hop_gradients::<4>(&net, &p, &seq).unwrap_err();
    assert!(e.to_string().starts_with("family.graded.T = 5"), "{e}");
}

/// The graded pass truncated at `G` coefficients is exact below `G` whatever `T`: on `T = 12`
/// its orders `0..4` are those of the full pass (`G = 24`) bit for bit, and on `T = 30 > 24`
/// they equal the recursion.
#[test]
fn truncated_graded_pass_is_exact_below_g() {
    for kind in 0..4 {
        let net = net(cell(kind, 0), 2, 4, 2, false, 0.8);
        let (p, seq) = instance(&net, 12, 40 + kind as u64);
        let full = graded::family_gradients::<24>(&net, &p, &seq).unwrap();
        let cut = graded::family_gradients_truncated::<4>(&net, &p, &seq).unwrap();
        assert_eq!(cut.len(), 4);
        for m in 0..4 {
            for (a, b) in cut[m].tensors.iter().zip(&full[m].tensors) {
                assert!(a.value == b.value, "kind {kind} m={m} {}", a.name);
            }
        }
        let (p, seq) = instance(&net, 30, 50 + kind as u64);
        let cut = graded::family_gradients_truncated::<4>(&net, &p, &seq).unwrap();
        for (m, g) in cut.iter().enumerate() {
            let rec = recursion::gradient(&net, &p, &seq, m, Reading::HopCount).unwrap();
            assert_close(&format!("kind {kind} m={m}"), &rec.grad, g, 1e-10);
        }
    }
}

/// The time-lag reading: order 0 is e-prop, order `T` keeps every path (RTRL), and in between it
/// is a different rule from the hop-count reading.
#[test]
fn time_lag_reading_limits() {
    for kind in 0..4 {
        let net = net(cell(kind, 0), 3, 4, 2, false, 0.8);
        let (p, seq) = instance(&net, 8, 90 + kind as u64);
        let ep = credit_eprop::gradient(&net, &p, &seq, &Feedback::Symmetric).unwrap();
        let lag0 = recursion::gradient(&net, &p, &seq, 0, Reading::TimeLag).unwrap();
        for (name, e) in per_tensor(&lag0.grad, &ep.grad) {
            assert!(e <= 1e-12, "{kind} m=0 {name}: {e:e}");
        }
        let rtrl = credit_rtrl::gradient(&net, &p, &seq).unwrap();
        let full = recursion::gradient(&net, &p, &seq, 8, Reading::TimeLag).unwrap();
        for (name, e) in per_tensor(&full.grad, &rtrl.grad) {
            assert!(e <= 1e-10, "{kind} m=T {name}: {e:e}");
        }
    }
    let net = net(cell(0, 1), 3, 5, 2, false, 0.8);
    let (p, seq) = instance(&net, 10, 3);
    let lag = recursion::gradient(&net, &p, &seq, 2, Reading::TimeLag).unwrap();
    let hop = recursion::gradient(&net, &p, &seq, 2, Reading::HopCount).unwrap();
    let worst = per_tensor(&lag.grad, &hop.grad).into_iter().map(|(_, e)| e).fold(0.0, f64::max);
    assert!(worst > 1e-4, "time lag and hop count of order 2 coincide: {worst:e}");
}
