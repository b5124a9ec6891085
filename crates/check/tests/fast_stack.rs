//! Fast BPTT through a stack (`credit_bptt::fast::stack_gradient`, `docs/fast.md` §6) equals the
//! literal `credit_bptt::stack::gradient` it names: on random stacks of 1–3 layers of every cell
//! and convention, both inter-layer timings, both readouts, both readout delays and both losses,
//! per tensor at 1e-12; the same test in `f32`, `f64` and `Dual64` (dual parts asserted on the
//! extracted `.eps`); live references on fixed stacks; bad input is a typed error.

mod common;

use common::*;
use credit_core::Params;
use num_dual::Dual64;
use proptest::prelude::*;

proptest! {
    #![proptest_config(pt_config(48, 0xFA5B))]

    #[test]
    fn fast_stack_bptt_equals_literal(
        kinds in proptest::collection::vec((0usize..4, 0u32..48, 1usize..=4), 1..=3),
        n_in in 1usize..=3, k in 1usize..=2, steps in 1usize..=8, seed in any::<u64>(),
        same_step in any::<bool>(), all in any::<bool>(), ce in any::<bool>(), kappa in 0.0f64..=0.95,
        delay in any::<bool>(), one_minus_kappa in any::<bool>(),
    ) {
        let mut stack = stack_of(&kinds, n_in, k, ce, same_step, all, 0.8);
        stack.readout.kappa = kappa;
        if delay {
            stack.readout.delay = credit_core::ReadoutDelay::OneStep;
        }
        if one_minus_kappa {
            stack.readout.scale = credit_core::ReadoutScale::OneMinusKappa;
        }
        let p = stack.random_params(seed % 1000).unwrap();
        let seq = stack.random_sequence(steps, seed).unwrap();
        let lit = credit_bptt::stack::gradient(&stack, &p, &seq).unwrap();
        let fast = credit_bptt::fast::stack_gradient(&stack, &p, &seq).unwrap();
        prop_assert!((fast.loss - lit.loss).abs() <= 1e-12 * lit.loss.abs().max(1.0));
        for (name, e) in per_tensor(&fast.grad, &lit.grad) {
            prop_assert!(e <= 1e-12, "{} {}: {:e}", stack.id(), name, e);
        }
    }
}

/// Liveness: on stacks with every cell below and above another (the first of a few seeds on
/// which the literal gradient is non-zero in every tensor: spiking layers may stay silent on a
/// given draw), the references are live (equality is not `0 = 0`) and the fast path equals the
/// literal one.
#[test]
fn fast_stack_bptt_on_live_stacks() {
    for kind in 0..4 {
        for (same_step, all) in [(true, false), (false, true)] {
            let stack = stack_of(&[(kind, 0, 4), ((kind + 1) % 4, 0, 3)], 3, 2, false, same_step, all, 0.8);
            let live = (0..32u64).find_map(|seed| {
                let p = stack.random_params(seed).unwrap();
                let seq = stack.random_sequence(24, seed).unwrap();
                let lit = credit_bptt::stack::gradient(&stack, &p, &seq).unwrap();
                lit.grad.tensors.iter().all(|t| credit_check::alive(&t.value)).then_some((p, seq, lit))
            });
            let (p, seq, lit) = live.unwrap_or_else(|| panic!("{}: no live seed", stack.id()));
            let fast = credit_bptt::fast::stack_gradient(&stack, &p, &seq).unwrap();
            assert_close(&stack.id(), &fast.grad, &lit.grad, 1e-12);
        }
    }
}

/// Bad input is a typed error naming the field.
#[test]
fn fast_stack_bptt_rejects_bad_input() {
    let stack = stack_of(&[(0, 0, 3), (1, 0, 3)], 2, 2, false, true, false, 0.8);
    let p = stack.random_params(1).unwrap();
    let net = net(cell(0, 0), 3, 4, 2, false, 0.9);
    let bad_seq = credit_core::Sequence::random(&net, 4, 1).unwrap(); // 3 inputs, the stack takes 2
    let e = credit_bptt::fast::stack_gradient(&stack, &p, &bad_seq).unwrap_err();
    assert!(e.to_string().contains("seq"), "{e}");
    let seq = stack.random_sequence(4, 1).unwrap();
    let mut q = p.clone();
    q.tensors[1].value = nalgebra::DMatrix::zeros(1, 1);
    let e = credit_bptt::fast::stack_gradient(&stack, &q, &seq).unwrap_err();
    assert!(e.to_string().contains("params.l1.w_rec"), "{e}");
    let mut q = p.clone();
    let w = stack.layer_tensors(1).start + 1; // l2.w_rec of the LIF layer: no autapse
    q.tensors[w].value[(0, 0)] = 0.5;
    let e = credit_bptt::fast::stack_gradient(&stack, &q, &seq).unwrap_err();
    assert!(e.to_string().contains("params.l2.w_rec[(0, 0)]"), "{e}");
}

macro_rules! fast_stack_scalar_tests {
    ($($module:ident: $t:ty, tol = $tol:expr, dual = $dual:expr;)*) => {$(
        mod $module {
            use super::*;

            /// `f64` parameters lifted into the scalar, the direction `dir` in the dual part.
            fn lift(p: &Params<f64>, dir: &Params<f64>) -> Params<$t> {
                common::lift(p, dir, $dual.0)
            }

            /// Fast = literal in this scalar type on two-layer stacks of every cell pair (and
            /// for `Dual64` the derivative along a direction, compared on the `.eps` parts, on
            /// the first of a few seeds where it is live in every tensor).
            #[test]
            fn fast_stack_bptt_equals_literal() {
                let eps: fn($t) -> f64 = $dual.1;
                let plain = eps($dual.0(1.0, 1.0)) == 0.0;
                for kind in 0..4 {
                    for upper in 0..4 {
                        let stack = stack_of(&[(kind, 3, 3), (upper, 0, 3)], 2, 2, false, kind % 2 == 0, upper % 2 == 0, 0.8);
                        let live = (0..32u64).find_map(|seed| {
                            let p = stack.random_params(seed).unwrap();
                            let q = lift(&p, &stack.random_params(seed + 100).unwrap());
                            let seq = stack.random_sequence(12, seed).unwrap();
                            let b = parts(&credit_bptt::stack::gradient(&stack, &q, &seq).unwrap().grad, eps);
                            // Dual64: the derivative is live in every tensor (not `0 = 0`)
                            let ok = b.0.tensors.iter().chain(if plain { &[][..] } else { &b.1.tensors[..] })
                                .all(|t| credit_check::alive(&t.value));
                            ok.then_some((q, seq, b))
                        });
                        let (q, seq, b) = live.unwrap_or_else(|| panic!("{}: no live seed", stack.id()));
                        let a = parts(&credit_bptt::fast::stack_gradient(&stack, &q, &seq).unwrap().grad, eps);
                        assert_close(&format!("{} real", stack.id()), &a.0, &b.0, $tol);
                        assert_close(&format!("{} dual", stack.id()), &a.1, &b.1, $tol);
                    }
                }
            }
        }
    )*};
}

fast_stack_scalar_tests! {
    f32_: f32, tol = 1e-4, dual = (|x: f64, _: f64| x as f32, |_: f32| 0.0);
    f64_: f64, tol = 1e-12, dual = (|x: f64, _: f64| x, |_: f64| 0.0);
    dual64: Dual64, tol = 1e-12, dual = (|x: f64, v: f64| Dual64::new(x, v), |x: Dual64| x.eps);
}
