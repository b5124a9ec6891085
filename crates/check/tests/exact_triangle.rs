//! P1 of the design notes: BPTT = RTRL = the dual-number oracle, and the hand-derived local
//! Jacobians = dual-number Jacobians, on random small networks of every cell (proptest:
//! N 1–6, T 1–12, random sizes, seeds, losses, readout decays and conventions).

// Exact (bit-for-bit) equalities are intended where they are asserted.
#![allow(clippy::float_cmp)]

mod common;

use common::*;
use credit_check::Liveness;
use credit_core::{CellModel, Detach, ForwardOptions, forward};
use proptest::prelude::*;
use proptest::test_runner::{Config as PtConfig, RngSeed};

fn pt_config(cases: u32) -> PtConfig {
    PtConfig {
        cases,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(0xC4ED17),
        max_global_rejects: 4096,
        ..PtConfig::default()
    }
}

proptest! {
    #![proptest_config(pt_config(96))]

    /// Hand-derived D, ∂M/∂z, I and ∂z/∂h equal dual-number Jacobians at every step, ≤ 1e-12.
    #[test]
    fn hand_jacobians_equal_dual_jacobians(
        kind in 0usize..4, variant in 0u32..768, n in 1usize..=6, n_in in 1usize..=3, k in 1usize..=3,
        steps in 1usize..=12, seed in any::<u64>(), ce in any::<bool>(), kappa in 0.0f64..=1.0,
    ) {
        let net = net_v(cell(kind, variant), n_in, n, k, ce, kappa, variant);
        let (p, seq) = instance(&net, steps, seed);
        let traj = forward(&net, &p, &seq, ForwardOptions::default()).unwrap();
        let w = p.cell_tensors(&net);
        for t in 1..=steps {
            let hand = net.cell.jacobians(&w, &traj.states[t - 1], &traj.z[t - 1], &traj.x[t]);
            let rows = net.cell.output_jacobian(&traj.states[t]);
            let input = net.cell.input_jacobian(&w, &traj.states[t - 1], &traj.z[t - 1], &traj.x[t]);
            let hand = credit_oracle::dense_hand_jacobians(&net, &hand, &rows, &input);
            let dual = credit_oracle::step_jacobians(&net, &p, &traj.states[t - 1], &traj.z[t - 1], &traj.x[t]);
            for (name, a, b) in [("D", &hand.d, &dual.d), ("dM/dz", &hand.m_z, &dual.m_z), ("I", &hand.i, &dual.i), ("dz/dh", &hand.z_h, &dual.z_h), ("dM/dx", &hand.m_x, &dual.m_x)] {
                let e = credit_check::max_rel_err(a, b);
                prop_assert!(e <= 1e-12, "{} at t={}: {:e}", name, t, e);
            }
        }
    }

    /// BPTT = oracle = RTRL per tensor, ≤ 1e-10, on live configs (spiking configs whose
    /// surrogate is never active are rejected, not passed).
    #[test]
    fn bptt_rtrl_oracle_agree(
        kind in 0usize..4, variant in 0u32..768, n in 1usize..=6, n_in in 1usize..=3, k in 1usize..=3,
        steps in 1usize..=12, seed in any::<u64>(), ce in any::<bool>(), kappa in 0.0f64..=1.0,
    ) {
        let net = net_v(cell(kind, variant), n_in, n, k, ce, kappa, variant);
        let (p, seq) = instance(&net, steps, seed);
        let oracle = credit_oracle::gradient(&net, &p, &seq, Detach::default()).unwrap();
        let live = Liveness::measure(&net, &p, &seq, &oracle.grad).unwrap();
        prop_assume!(live.active_derivatives > 0 && live.grad_norm > 1e-8);
        let bptt = credit_bptt::gradient(&net, &p, &seq).unwrap();
        let rtrl = credit_rtrl::gradient(&net, &p, &seq).unwrap();
        prop_assert!((bptt.loss - oracle.loss).abs() <= 1e-12 * oracle.loss.abs().max(1.0));
        prop_assert!((rtrl.loss - oracle.loss).abs() <= 1e-12 * oracle.loss.abs().max(1.0));
        for (name, e) in per_tensor(&bptt.grad, &oracle.grad) {
            prop_assert!(e <= 1e-10, "bptt vs oracle, {}: {:e}", name, e);
        }
        for (name, e) in per_tensor(&rtrl.grad, &oracle.grad) {
            prop_assert!(e <= 1e-10, "rtrl vs oracle, {}: {:e}", name, e);
        }
    }

    /// BPTT's total learning signal δ^t equals the oracle's tap dE/dz_j^t (Eq. B4 vs O2).
    #[test]
    fn bptt_learning_signal_equals_tap(
        kind in 0usize..4, variant in 0u32..768, n in 1usize..=5, steps in 1usize..=10, seed in any::<u64>(),
    ) {
        let net = net_v(cell(kind, variant), 2, n, 2, false, 0.8, variant);
        let (p, seq) = instance(&net, steps, seed);
        let taps = credit_oracle::learning_signals(&net, &p, &seq, Detach::default()).unwrap();
        let bptt = credit_bptt::gradient(&net, &p, &seq).unwrap();
        for t in 1..=steps {
            let scale = taps[t].amax().max(1e-300);
            let e = (&bptt.learning_signal[t] - &taps[t]).amax() / scale;
            prop_assert!(e <= 1e-10, "t={}: {:e}", t, e);
        }
    }

    /// Central finite differences agree with the oracle for the smooth rate cell.
    #[test]
    fn finite_differences_agree_for_rate(
        variant in 0u32..3, n in 1usize..=5, n_in in 1usize..=3, steps in 1usize..=10,
        seed in any::<u64>(), ce in any::<bool>(), kappa in 0.0f64..=1.0,
    ) {
        let net = net(cell(0, variant), n_in, n, 2, ce, kappa);
        let (p, seq) = instance(&net, steps, seed);
        let oracle = credit_oracle::gradient(&net, &p, &seq, Detach::default()).unwrap();
        let fd = credit_oracle::finite_difference(&net, &p, &seq, 1e-5).unwrap();
        for (name, e) in per_tensor(&fd, &oracle.grad) {
            prop_assert!(e <= 1e-6, "{}: {:e}", name, e);
        }
    }
}

/// The oracle's detached graph is really a different graph: detaching every recurrent edge
/// changes the gradient of a recurrent net (a detach that did nothing would pass every e-prop
/// check of the next issue vacuously).
#[test]
fn detaching_recurrent_edges_changes_the_gradient() {
    for kind in 0..4 {
        let net = net(cell(kind, 0), 3, 5, 2, false, 0.9);
        let (p, seq) = instance(&net, 15, 40 + kind as u64);
        let full = credit_oracle::gradient(&net, &p, &seq, Detach::default()).unwrap();
        let cut = credit_oracle::gradient(
            &net,
            &p,
            &seq,
            Detach { recurrent: true, reset: true, adaptation: false },
        )
        .unwrap();
        let rec = full.grad.tensors.iter().position(|t| t.name.starts_with("w_rec")).unwrap();
        let e = credit_check::max_rel_err(&full.grad.tensors[rec].value, &cut.grad.tensors[rec].value);
        assert!(e > 1e-3, "cell {kind}: detaching changed w_rec's gradient by only {e:e}");
        // the loss (the forward values) is untouched by a detach
        assert_eq!(full.loss.to_bits(), cut.loss.to_bits());
        // and the readout gradients, which no detached edge reaches, are identical
        let e_out =
            credit_check::max_rel_err(full.grad.get("w_out").unwrap(), cut.grad.get("w_out").unwrap());
        assert_eq!(e_out, 0.0);
    }
}
