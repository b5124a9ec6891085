//! The fast forward-mode paths (issue 11) equal the literal transcriptions they name: fast RTRL
//! (single layer and stacks), the fast m-order recursion (every order, every reading), fast deep
//! e-prop (both depths) and fast OSTL, on random small networks and stacks of every cell, per
//! tensor at 1e-12; the same tests in `f32`, `f64` and `Dual64` (dual parts asserted on the
//! extracted `.eps`); bad input is a typed error.

// Exact equalities of counted costs are intended where they are asserted.
#![allow(clippy::float_cmp)]

mod common;

use common::*;
use credit_core::Params;
use credit_deep::Depth;
use credit_family::Reading;
use nalgebra::DMatrix;
use num_dual::Dual64;
use proptest::prelude::*;

const READINGS: [Reading; 3] = [Reading::HopCount, Reading::LastStepHop, Reading::TimeLag];

proptest! {
    #![proptest_config(pt_config(48, 0xFA57))]

    #[test]
    fn fast_single_layer_equals_literal(
        kind in 0usize..4, variant in 0u32..768, n in 1usize..=5, n_in in 1usize..=3,
        steps in 1usize..=8, seed in any::<u64>(), ce in any::<bool>(), kappa in 0.0f64..=1.0,
        m in 0usize..8, r in 0usize..3, block in 1usize..=7,
    ) {
        let net = net_v(cell(kind, variant), n_in, n, 2, ce, kappa, variant);
        let (p, seq) = instance(&net, steps, seed);
        let lit = credit_rtrl::gradient(&net, &p, &seq).unwrap();
        let fast = credit_rtrl::fast::gradient(&net, &p, &seq).unwrap();
        prop_assert!((fast.loss - lit.loss).abs() <= 1e-12 * lit.loss.abs().max(1.0));
        for (name, e) in per_tensor(&fast.grad, &lit.grad) {
            prop_assert!(e <= 1e-12, "rtrl {}: {:e}", name, e);
        }
        let (m, reading) = (m.min(steps), READINGS[r]);
        let lit = credit_family::recursion::gradient(&net, &p, &seq, m, reading).unwrap();
        let fast = credit_family::fast::gradient(&net, &p, &seq, m, reading).unwrap();
        prop_assert_eq!(fast.cost, lit.cost);
        prop_assert!((fast.loss - lit.loss).abs() <= 1e-12 * lit.loss.abs().max(1.0));
        for (name, e) in per_tensor(&fast.grad, &lit.grad) {
            prop_assert!(e <= 1e-12, "family m={} {:?} {}: {:e}", m, reading, name, e);
        }
        // narrow column blocks: the suite's nets fit in one block of the default width
        let blocked = credit_family::fast::gradient_blocked(&net, &p, &seq, m, reading, block).unwrap();
        prop_assert!((blocked.loss - lit.loss).abs() <= 1e-12 * lit.loss.abs().max(1.0));
        for (name, e) in per_tensor(&blocked.grad, &lit.grad) {
            prop_assert!(e <= 1e-12, "family m={} {:?} block {} {}: {:e}", m, reading, block, name, e);
        }
    }
}

proptest! {
    #![proptest_config(pt_config(32, 0xFA57))]

    #[test]
    fn fast_stack_rules_equal_literal(
        kinds in proptest::collection::vec((0usize..4, 0u32..48, 1usize..=4), 1..=3),
        n_in in 1usize..=3, steps in 1usize..=8, seed in any::<u64>(),
        same_step in any::<bool>(), all in any::<bool>(), kappa in 0.0f64..=0.95, delay in any::<bool>(),
    ) {
        let mut stack = stack_of(&kinds, n_in, 2, false, same_step, all, kappa);
        if delay {
            stack.readout.delay = credit_core::ReadoutDelay::OneStep;
        }
        let p = stack.random_params(seed % 1000).unwrap();
        let seq = stack.random_sequence(steps, seed).unwrap();
        let lit = credit_rtrl::stack::gradient(&stack, &p, &seq).unwrap();
        let fast = credit_rtrl::fast::stack_gradient(&stack, &p, &seq).unwrap();
        prop_assert_eq!((fast.madds, fast.floats), (lit.madds, lit.floats));
        for (name, e) in per_tensor(&fast.grad, &lit.grad) {
            prop_assert!(e <= 1e-12, "{} rtrl {}: {:e}", stack.id(), name, e);
        }
        for depth in [Depth::Recursive, Depth::LayerLocal] {
            let lit = credit_deep::gradient_with(&stack, &p, &seq, depth).unwrap();
            let fast = credit_deep::fast::gradient_with(&stack, &p, &seq, depth).unwrap();
            prop_assert_eq!((fast.madds, fast.floats), (lit.madds, lit.floats));
            prop_assert!((fast.loss - lit.loss).abs() <= 1e-12 * lit.loss.abs().max(1.0));
            for (name, e) in per_tensor(&fast.grad, &lit.grad) {
                prop_assert!(e <= 1e-12, "{} deep {:?} {}: {:e}", stack.id(), depth, name, e);
            }
        }
        let lit = credit_ostl::gradient(&stack, &p, &seq).unwrap();
        let fast = credit_ostl::fast::gradient(&stack, &p, &seq).unwrap();
        prop_assert_eq!((fast.madds, fast.floats), (lit.madds, lit.floats));
        for (name, e) in per_tensor(&fast.grad, &lit.grad) {
            prop_assert!(e <= 1e-12, "{} ostl {}: {:e}", stack.id(), name, e);
        }
    }
}

/// Liveness: on a fixed live config of every cell the references are non-zero in every cell
/// tensor (so equality is not `0 = 0`), and every fast path equals its literal one.
#[test]
fn fast_paths_on_live_configs() {
    for kind in 0..4 {
        let net = net(cell(kind, 0), 3, 5, 2, false, 0.9);
        let (p, seq) = instance(&net, 14, 300 + kind as u64);
        let nc = net.n_cell_tensors();
        let lit = credit_rtrl::gradient(&net, &p, &seq).unwrap();
        for t in &lit.grad.tensors[..nc] {
            assert!(credit_check::alive(&t.value), "cell {kind}: rtrl {} is dead", t.name);
        }
        assert_close("rtrl", &credit_rtrl::fast::gradient(&net, &p, &seq).unwrap().grad, &lit.grad, 1e-12);
        for reading in READINGS {
            for m in [0, 1, 2, 13] {
                let lit = credit_family::recursion::gradient(&net, &p, &seq, m, reading).unwrap();
                for t in &lit.grad.tensors[..nc] {
                    assert!(credit_check::alive(&t.value), "cell {kind}: family {m} {} is dead", t.name);
                }
                let fast = credit_family::fast::gradient(&net, &p, &seq, m, reading).unwrap();
                assert_close("family", &fast.grad, &lit.grad, 1e-12);
                for block in [1, 4, 7] {
                    let b = credit_family::fast::gradient_blocked(&net, &p, &seq, m, reading, block).unwrap();
                    assert_close("family blocked", &b.grad, &lit.grad, 1e-12);
                }
            }
        }
    }
}

/// Bad input is a typed error naming the field, as for the literal functions.
#[test]
fn fast_paths_reject_bad_input() {
    let net = net(cell(0, 0), 3, 4, 2, false, 0.9);
    let (mut p, seq) = instance(&net, 5, 1);
    p.tensors[0].value = DMatrix::zeros(1, 1);
    let e = credit_rtrl::fast::gradient(&net, &p, &seq).unwrap_err();
    assert!(e.to_string().contains("params.w_in"), "{e}");
    let e = credit_family::fast::gradient(&net, &p, &seq, 1, Reading::HopCount).unwrap_err();
    assert!(e.to_string().contains("params.w_in"), "{e}");
    let good = Params::<f64>::random(&net, 1).unwrap();
    let e = credit_family::fast::gradient_blocked(&net, &good, &seq, 1, Reading::HopCount, 0).unwrap_err();
    assert!(e.to_string().contains("block"), "{e}");
    let stack = stack_of(&[(0, 0, 3), (1, 0, 3)], 2, 2, false, true, false, 0.9);
    let q = stack.random_params(1).unwrap();
    let bad = credit_core::Sequence::random(&net, 4, 1).unwrap(); // 3 inputs, the stack takes 2
    for e in [
        credit_rtrl::fast::stack_gradient(&stack, &q, &bad).unwrap_err(),
        credit_deep::fast::gradient(&stack, &q, &bad).unwrap_err(),
        credit_ostl::fast::gradient(&stack, &q, &bad).unwrap_err(),
    ] {
        assert!(e.to_string().contains("seq"), "{e}");
    }
}

macro_rules! fast_scalar_tests {
    ($($module:ident: $t:ty, tol = $tol:expr, dual = $dual:expr, live = $live:expr;)*) => {$(
        mod $module {
            use super::*;

            /// `f64` parameters lifted into the scalar, the direction `dir` in the dual part.
            fn lift(p: &Params<f64>, dir: &Params<f64>) -> Params<$t> {
                common::lift(p, dir, $dual.0)
            }

            /// Liveness of the dual part: with a direction in the parameters, `Dual64`'s
            /// derivative of the gradient must not vanish (else `0 = 0` would pass).
            fn live_dual(what: &str, d: &Params<f64>) {
                if $live {
                    let nonzero = d.tensors.iter().any(|t| t.value.iter().any(|&x| x != 0.0));
                    assert!(nonzero, "{what}: every dual part is zero");
                }
            }

            #[test]
            fn fast_equals_literal() {
                let eps: fn($t) -> f64 = $dual.1;
                for kind in 0..4 {
                    let net = net(cell(kind, 3), 3, 4, 2, false, 0.9);
                    let (p, seq) = instance(&net, 10, 400 + kind as u64);
                    let dir = Params::<f64>::random(&net, 7).unwrap();
                    let q = lift(&p, &dir);
                    let (a, b) = (
                        parts(&credit_rtrl::fast::gradient(&net, &q, &seq).unwrap().grad, eps),
                        parts(&credit_rtrl::gradient(&net, &q, &seq).unwrap().grad, eps),
                    );
                    assert_close("rtrl real", &a.0, &b.0, $tol);
                    assert_close("rtrl dual", &a.1, &b.1, $tol);
                    live_dual("rtrl", &b.1);
                    for reading in READINGS {
                        for m in [0, 2] {
                            let (a, b) = (
                                parts(&credit_family::fast::gradient(&net, &q, &seq, m, reading).unwrap().grad, eps),
                                parts(&credit_family::recursion::gradient(&net, &q, &seq, m, reading).unwrap().grad, eps),
                            );
                            assert_close("family real", &a.0, &b.0, $tol);
                            assert_close("family dual", &a.1, &b.1, $tol);
                            live_dual("family", &b.1);
                        }
                    }
                    let stack = stack_of(&[(kind, 3, 3), ((kind + 1) % 4, 0, 3)], 2, 2, false, kind % 2 == 0, true, 0.8);
                    let sp = stack.random_params(5).unwrap();
                    let sd = stack.random_params(6).unwrap();
                    let sq = lift(&sp, &sd);
                    let sseq = stack.random_sequence(9, 5).unwrap();
                    let pairs = [
                        (credit_rtrl::fast::stack_gradient(&stack, &sq, &sseq).unwrap().grad,
                         credit_rtrl::stack::gradient(&stack, &sq, &sseq).unwrap().grad),
                        (credit_deep::fast::gradient(&stack, &sq, &sseq).unwrap().grad,
                         credit_deep::gradient(&stack, &sq, &sseq).unwrap().grad),
                        (credit_ostl::fast::gradient(&stack, &sq, &sseq).unwrap().grad,
                         credit_ostl::gradient(&stack, &sq, &sseq).unwrap().grad),
                    ];
                    for (f, l) in &pairs {
                        let (a, b) = (parts(f, eps), parts(l, eps));
                        assert_close("stack real", &a.0, &b.0, $tol);
                        assert_close("stack dual", &a.1, &b.1, $tol);
                        live_dual("stack", &b.1);
                    }
                }
            }
        }
    )*};
}

fast_scalar_tests! {
    f32_: f32, tol = 1e-4, dual = (|x: f64, _: f64| x as f32, |_: f32| 0.0), live = false;
    f64_: f64, tol = 1e-12, dual = (|x: f64, _: f64| x, |_: f64| 0.0), live = false;
    dual64: Dual64, tol = 1e-12, dual = (|x: f64, v: f64| Dual64::new(x, v), |x: Dual64| x.eps), live = true;
}
