//! Stacked layers: BPTT and RTRL through a stack equal the dual-number oracle, per tensor, on
//! random stacks of 1–3 layers of every cell, both inter-layer timings and both readouts.

mod common;

use common::*;
use credit_core::stack::{InterLayer, Layer, LayerCut, ReadoutFrom, Stack};
use credit_core::{Detach, Loss, Params, Readout, Sequence};
use proptest::prelude::*;
use proptest::test_runner::{Config as PtConfig, RngSeed};

fn pt_config(cases: u32) -> PtConfig {
    PtConfig {
        cases,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(0x57AC),
        max_global_rejects: 4096,
        ..PtConfig::default()
    }
}

fn random_params(stack: &Stack, seed: u64) -> Params<f64> {
    stack.random_params(seed).unwrap()
}

fn sequence(stack: &Stack, steps: usize, seed: u64) -> Sequence {
    stack.random_sequence(steps, seed).unwrap()
}

proptest! {
    #![proptest_config(pt_config(32))]

    #[test]
    fn stack_bptt_rtrl_oracle_agree(
        kinds in proptest::collection::vec((0usize..4, 0u32..48, 1usize..=4), 1..=3),
        n_in in 1usize..=3, k in 1usize..=2, steps in 1usize..=8, seed in any::<u64>(),
        same_step in any::<bool>(), all in any::<bool>(), ce in any::<bool>(), kappa in 0.0f64..=0.95,
    ) {
        let layers: Vec<Layer> = kinds.iter().map(|&(kind, v, n)| Layer { cell: cell(kind, v), n }).collect();
        let loss = if ce { Loss::CrossEntropy } else { Loss::Mse };
        let mut stack = Stack::new(layers, n_in, k, Readout::leaky(kappa), loss).unwrap();
        stack.inter = if same_step { InterLayer::SameStep } else { InterLayer::OneStep };
        stack.readout_from = if all { ReadoutFrom::All } else { ReadoutFrom::Top };
        let p = random_params(&stack, seed % 1000);
        let seq = sequence(&stack, steps, seed);
        let oracle = credit_oracle::gradient_of(&stack, &p, &seq, Detach::default()).unwrap();
        let bptt = credit_bptt::stack::gradient(&stack, &p, &seq).unwrap();
        prop_assert!((bptt.loss - oracle.loss).abs() <= 1e-12 * oracle.loss.abs().max(1.0));
        for (name, e) in per_tensor(&bptt.grad, &oracle.grad) {
            prop_assert!(e <= 1e-10, "{} bptt {}: {:e}", stack.id(), name, e);
        }
        // deep e-prop (a reconstruction) = the exact gradient with within-layer z^{t-1} detached
        let deep = credit_deep::gradient(&stack, &p, &seq).unwrap();
        let cut = credit_oracle::gradient_of(&stack, &p, &seq, Detach { recurrent: true, reset: true, adaptation: false }).unwrap();
        for (name, e) in per_tensor(&deep.grad, &cut.grad) {
            prop_assert!(e <= 1e-10, "{} deep {}: {:e}", stack.id(), name, e);
        }
        // OSTL: the top layer (and the readout) get the exact gradient
        let ostl = credit_ostl::gradient(&stack, &p, &seq).unwrap();
        let top = stack.layer_tensors(stack.layers.len() - 1);
        for (i, (a, b)) in ostl.grad.tensors.iter().zip(&oracle.grad.tensors).enumerate() {
            if top.contains(&i) || i + 2 >= ostl.grad.tensors.len() {
                let e = credit_check::max_rel_err(&a.value, &b.value);
                prop_assert!(e <= 1e-10, "{} ostl top {}: {:e}", stack.id(), a.name, e);
            }
        }
        // OSTL, every layer: the exact gradient of the graph with every temporal edge of the
        // layers above the parameter's layer cut (docs/deep.md §7, Eq. O-D)
        let nl = stack.layers.len();
        let target = credit_oracle::gradient_cut(&stack, &p, &seq, Detach::default(), |layer| {
            (0..nl).map(|k| if layer.is_some_and(|l| k > l) { LayerCut::TEMPORAL } else { LayerCut::default() }).collect()
        }).unwrap();
        prop_assert_eq!(target.loss.to_bits(), oracle.loss.to_bits());
        for (name, e) in per_tensor(&ostl.grad, &target.grad) {
            prop_assert!(e <= 1e-10, "{} ostl {}: {:e}", stack.id(), name, e);
        }
        let rtrl = credit_rtrl::stack::gradient(&stack, &p, &seq).unwrap();
        prop_assert!((rtrl.loss - oracle.loss).abs() <= 1e-12 * oracle.loss.abs().max(1.0));
        for (name, e) in per_tensor(&rtrl.grad, &oracle.grad) {
            prop_assert!(e <= 1e-10, "{} rtrl {}: {:e}", stack.id(), name, e);
        }
    }
}

/// A one-layer stack is the single-layer network: same loss and gradients, bit for bit in the
/// forward pass and to rounding in the gradients.
#[test]
fn one_layer_stack_is_the_network() {
    for kind in 0..4 {
        let net = net(cell(kind, 0), 3, 4, 2, false, 0.8);
        let (p, seq) = instance(&net, 10, 31 + kind as u64);
        let stack = Stack::of_network(&net).unwrap();
        let q = stack.rename(&p);
        let single = credit_bptt::gradient(&net, &p, &seq).unwrap();
        let stacked = credit_bptt::stack::gradient(&stack, &q, &seq).unwrap();
        assert_eq!(single.loss.to_bits(), stacked.loss.to_bits());
        for (a, b) in stacked.grad.tensors.iter().zip(&single.grad.tensors) {
            assert!(credit_check::max_rel_err(&a.value, &b.value) <= 1e-14, "{} {}", kind, a.name);
        }
        let r = credit_rtrl::stack::gradient(&stack, &q, &seq).unwrap();
        for (a, b) in r.grad.tensors.iter().zip(&single.grad.tensors) {
            assert!(credit_check::max_rel_err(&a.value, &b.value) <= 1e-12, "{} {}", kind, a.name);
        }
    }
}

/// The depth term matters: in a 2-layer stack the lower layer's gradient flows only through the
/// layer above, and it is not zero.
#[test]
fn lower_layers_receive_gradient_through_the_stack() {
    let layers = vec![Layer { cell: cell(0, 1), n: 3 }, Layer { cell: cell(2, 0), n: 4 }];
    let stack = Stack::new(layers, 2, 2, Readout::leaky(0.8), Loss::Mse).unwrap();
    let p = random_params(&stack, 5);
    let seq = sequence(&stack, 12, 5);
    let g = credit_bptt::stack::gradient(&stack, &p, &seq).unwrap().grad;
    assert_eq!(stack.id(), "stack(rate,alif)");
    let lower = g.get("l1.w_in").unwrap();
    assert!(lower.amax() > 1e-6, "{lower}");
}

/// Deep e-prop is BPTT when no layer has a within-layer explicit path (W_rec = 0 everywhere, the
/// reset detached), for any depth and either inter-layer timing.
#[test]
fn deep_eprop_is_bptt_without_within_layer_recurrence() {
    for (i, same_step) in [true, false].into_iter().enumerate() {
        // variant 1: reset detached
        let layers = vec![
            Layer { cell: cell(1, 1), n: 4 },
            Layer { cell: cell(0, 1), n: 3 },
            Layer { cell: cell(2, 1), n: 4 },
        ];
        let mut stack = Stack::new(layers, 2, 2, Readout::leaky(0.8), Loss::Mse).unwrap();
        stack.inter = if same_step { InterLayer::SameStep } else { InterLayer::OneStep };
        let mut p = random_params(&stack, 40 + i as u64);
        for t in p.tensors.iter_mut().filter(|t| t.name.contains(".w_rec")) {
            t.value.fill(0.0);
        }
        let seq = sequence(&stack, 12, 40);
        let deep = credit_deep::gradient(&stack, &p, &seq).unwrap();
        let bptt = credit_bptt::stack::gradient(&stack, &p, &seq).unwrap();
        for (name, e) in per_tensor(&deep.grad, &bptt.grad) {
            assert!(e <= 1e-10, "{name}: {e:e}");
        }
        assert!(bptt.grad.get("l1.w_in").unwrap().amax() > 1e-8, "the bottom layer must receive gradient");
    }
}

/// One layer of deep e-prop is e-prop.
#[test]
fn deep_eprop_of_one_layer_is_eprop() {
    for kind in 0..4 {
        let net = net(cell(kind, 0), 3, 4, 2, false, 0.8);
        let (p, seq) = instance(&net, 10, 60 + kind as u64);
        let stack = Stack::of_network(&net).unwrap();
        let q = stack.rename(&p);
        let deep = credit_deep::gradient(&stack, &q, &seq).unwrap();
        let ep = credit_eprop::gradient(&net, &p, &seq, &credit_eprop::Feedback::Symmetric).unwrap();
        for (a, b) in deep.grad.tensors.iter().zip(&ep.grad.tensors) {
            assert!(credit_check::max_rel_err(&a.value, &b.value) <= 1e-12, "{kind} {}", a.name);
        }
    }
}

/// OSTL on one layer is BPTT (reset and lateral recurrence included); on a stack with leaky
/// upper layers the lower layers' gradient differs.
#[test]
fn ostl_single_layer_exact_lower_layers_differ() {
    for kind in 0..4 {
        let net = net(cell(kind, 0), 3, 4, 2, false, 0.8);
        let (p, seq) = instance(&net, 10, 70 + kind as u64);
        let stack = Stack::of_network(&net).unwrap();
        let q = stack.rename(&p);
        let ostl = credit_ostl::gradient(&stack, &q, &seq).unwrap();
        let bptt = credit_bptt::gradient(&net, &p, &seq).unwrap();
        for (a, b) in ostl.grad.tensors.iter().zip(&bptt.grad.tensors) {
            assert!(credit_check::max_rel_err(&a.value, &b.value) <= 1e-12, "{kind} {}", a.name);
        }
    }
    let layers = vec![Layer { cell: cell(0, 1), n: 4 }, Layer { cell: cell(0, 2), n: 4 }];
    let stack = Stack::new(layers, 2, 2, Readout::leaky(0.8), Loss::Mse).unwrap();
    let p = random_params(&stack, 8);
    let seq = sequence(&stack, 12, 8);
    let ostl = credit_ostl::gradient(&stack, &p, &seq).unwrap();
    let bptt = credit_bptt::stack::gradient(&stack, &p, &seq).unwrap();
    let e = credit_check::max_rel_err(ostl.grad.get("l1.w_in").unwrap(), bptt.grad.get("l1.w_in").unwrap());
    assert!(e > 1e-3, "lower layer under a leaky upper layer: {e:e}");
}

/// The cut oracle: no cut is the exact gradient; cutting every temporal edge of a layer that is
/// memoryless anyway (rate, α = 1, W_rec = 0) changes nothing, while cutting a leaky layer's
/// does change the gradient of the layers below it (so `ostl=oracle-detached` cannot pass
/// because the cut is a no-op).
#[test]
fn layer_cuts_act_only_where_there_is_memory() {
    let build = |upper: credit_core::Cell| {
        let layers = vec![Layer { cell: cell(0, 0), n: 3 }, Layer { cell: upper, n: 3 }];
        let stack = Stack::new(layers, 2, 2, Readout::leaky(0.8), Loss::Mse).unwrap();
        let mut p = random_params(&stack, 9);
        p.tensors[stack.layer_tensors(1).start + 1].value.fill(0.0); // l2.w_rec = 0
        let seq = sequence(&stack, 10, 9);
        (stack, p, seq)
    };
    let cut_upper = |layer: Option<usize>| {
        (0..2)
            .map(|k| if layer.is_some_and(|l| k > l) { LayerCut::TEMPORAL } else { LayerCut::default() })
            .collect()
    };
    let none = |_: Option<usize>| Vec::new();
    for (upper, memoryless) in [
        (credit_core::Cell::Rate(credit_core::cell::Rate { alpha: 1.0 }), true),
        (credit_core::Cell::Rate(credit_core::cell::Rate { alpha: 0.5 }), false),
    ] {
        let (stack, p, seq) = build(upper);
        let exact = credit_oracle::gradient_of(&stack, &p, &seq, Detach::default()).unwrap();
        let uncut = credit_oracle::gradient_cut(&stack, &p, &seq, Detach::default(), none).unwrap();
        for (name, e) in per_tensor(&uncut.grad, &exact.grad) {
            assert!(e == 0.0, "uncut {name}: {e:e}");
        }
        let cut = credit_oracle::gradient_cut(&stack, &p, &seq, Detach::default(), cut_upper).unwrap();
        let lower =
            credit_check::max_rel_err(cut.grad.get("l1.w_in").unwrap(), exact.grad.get("l1.w_in").unwrap());
        if memoryless {
            assert!(lower <= 1e-14, "memoryless upper layer: {lower:e}");
        } else {
            assert!(lower > 1e-3, "leaky upper layer: the cut must matter, {lower:e}");
        }
        for name in ["l2.w_in", "l2.w_rec", "l2.b", "w_out", "b_out"] {
            let (a, b) = (cut.grad.get(name).unwrap(), exact.grad.get(name).unwrap());
            assert!(credit_check::max_rel_err(a, b) <= 1e-14, "{name}: above-or-readout tensors are not cut");
        }
    }
}
