//! e-prop properties on random small networks (proptest: every cell, N 1–6, T 1–12):
//! P2 (total signal = BPTT), P3 (causal = non-causal), P4 (= oracle on the detached graph),
//! P5 (= BPTT iff R ≡ 0), P6 (exact readout), P17 (literal = generic traces), random e-prop =
//! a witness built from the oracle alone (`eprop-random=oracle-feedback`), and the online loop
//! keeps no history.

mod common;

use common::*;
use credit_check::Liveness;
use credit_core::cell::{Cell, Reset};
use credit_core::{Detach, ForwardOptions, InitScale, Params, forward};
use credit_eprop::Feedback;
use proptest::prelude::*;
use proptest::test_runner::{Config as PtConfig, RngSeed};

fn pt_config(cases: u32) -> PtConfig {
    PtConfig {
        cases,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(0xE9_0F),
        max_global_rejects: 4096,
        ..PtConfig::default()
    }
}

/// `Σ_t Σ_j L_j^t dz_j^t/dθ` for the cell tensors, built from the oracle alone:
/// `L^t = B dE/du^{t+δ} + ∂E_reg/∂z^t`, the drive signal from (O5), the regulariser's from (O2)
/// with `W_out = 0` and the explicit edges detached, the tangents (O6) of the graph `detach`.
fn oracle_feedback_gradient(
    net: &credit_core::Network,
    p: &Params<f64>,
    seq: &credit_core::Sequence,
    b: &nalgebra::DMatrix<f64>,
    detach: Detach,
) -> Params<f64> {
    let drive = credit_oracle::readout_signals(net, p, seq).unwrap();
    let mut q = p.clone();
    let k = q.tensors.len() - 2;
    q.tensors[k].value.fill(0.0);
    let explicit = Detach { recurrent: true, reset: true, adaptation: false };
    let reg = credit_oracle::learning_signals(net, &q, seq, explicit).unwrap();
    let tangents = credit_oracle::output_tangents(net, p, seq, detach).unwrap();
    let steps = seq.len();
    let lag = net.readout.lag();
    let mut g = p.map(|_| 0.0);
    for (i, tan) in tangents.iter().enumerate() {
        let (ti, r, c) = g.locate(i).unwrap();
        g.tensors[ti].value[(r, c)] = (1..=steps)
            .map(|t| {
                let mut l = reg[t].clone();
                if t + lag <= steps {
                    l += b * &drive[t + lag];
                }
                l.dot(&tan.column(t))
            })
            .sum();
    }
    Params { tensors: g.tensors[..net.n_cell_tensors()].to_vec() }
}

proptest! {
    #![proptest_config(pt_config(64))]

    /// The new oracle functions rebuild the exact gradient: on the full graph the cell
    /// parameters reach E only through z, so `Σ_t (W_outᵀ dE/du^{t+δ} + ∂E_reg/∂z^t) dz^t/dθ`
    /// is (O1) — a check of (O5) and (O6) against (O1).
    #[test]
    fn drive_signals_and_tangents_rebuild_the_exact_gradient(
        kind in 0usize..4, variant in 0u32..768, n in 1usize..=5, n_in in 1usize..=3,
        steps in 1usize..=10, seed in any::<u64>(), ce in any::<bool>(), kappa in 0.0f64..=1.0,
    ) {
        let net = net_v(cell(kind, variant), n_in, n, 2, ce, kappa, variant);
        let (p, seq) = instance(&net, steps, seed);
        let w = oracle_feedback_gradient(&net, &p, &seq, &p.w_out().transpose(), Detach::default());
        let exact = credit_oracle::gradient(&net, &p, &seq, Detach::default()).unwrap();
        for (name, e) in per_tensor(&w, &exact.grad) {
            prop_assert!(e <= 1e-10, "{}: {:e}", name, e);
        }
    }

    /// Random e-prop (online form) = the oracle-built witness with the same `B`, every cell and
    /// readout convention, with and without the regulariser.
    #[test]
    fn random_eprop_equals_the_oracle_witness(
        kind in 0usize..4, variant in 0u32..768, n in 1usize..=5, n_in in 1usize..=3,
        steps in 1usize..=10, seed in any::<u64>(), ce in any::<bool>(), kappa in 0.0f64..=1.0,
    ) {
        let net = net_v(cell(kind, variant), n_in, n, 2, ce, kappa, variant);
        let (p, seq) = instance(&net, steps, seed);
        let b = credit_eprop::random_feedback(&net, seed);
        let rule = credit_eprop::gradient(&net, &p, &seq, &Feedback::Matrix(b.clone())).unwrap();
        let cut = Detach { recurrent: true, reset: true, adaptation: false };
        let w = oracle_feedback_gradient(&net, &p, &seq, &b, cut);
        for (name, e) in per_tensor(&Params { tensors: rule.grad.tensors[..net.n_cell_tensors()].to_vec() }, &w) {
            prop_assert!(e <= 1e-10, "{}: {:e}", name, e);
        }
    }

    #[test]
    fn total_signal_factorisation_is_exact(
        kind in 0usize..4, variant in 0u32..768, n in 1usize..=6, n_in in 1usize..=3,
        steps in 1usize..=12, seed in any::<u64>(), ce in any::<bool>(), kappa in 0.0f64..=1.0,
    ) {
        let net = net_v(cell(kind, variant), n_in, n, 2, ce, kappa, variant);
        let (p, seq) = instance(&net, steps, seed);
        let total = credit_oracle::learning_signals(&net, &p, &seq, Detach::default()).unwrap();
        let fact = credit_eprop::gradient_with_signals(&net, &p, &seq, &total).unwrap();
        let bptt = credit_bptt::gradient(&net, &p, &seq).unwrap();
        for (name, e) in per_tensor(&fact, &bptt.grad) {
            prop_assert!(e <= 1e-10, "{}: {:e}", name, e);
        }
    }

    #[test]
    fn causal_equals_noncausal_and_detached_oracle(
        kind in 0usize..4, variant in 0u32..768, n in 1usize..=6, n_in in 1usize..=3,
        steps in 1usize..=12, seed in any::<u64>(), ce in any::<bool>(), kappa in 0.0f64..=1.0,
    ) {
        let net = net_v(cell(kind, variant), n_in, n, 2, ce, kappa, variant);
        let (p, seq) = instance(&net, steps, seed);
        let random = Feedback::Matrix(credit_eprop::random_feedback(&net, seed));
        for fb in [Feedback::Symmetric, random] {
            let online = credit_eprop::gradient(&net, &p, &seq, &fb).unwrap();
            let noncausal = credit_eprop::gradient_noncausal(&net, &p, &seq, &fb).unwrap();
            for (name, e) in per_tensor(&online.grad, &noncausal) {
                prop_assert!(e <= 1e-10, "{}: {:e}", name, e);
            }
        }
        let sym = credit_eprop::gradient(&net, &p, &seq, &Feedback::Symmetric).unwrap();
        let cut = Detach { recurrent: true, reset: true, adaptation: false };
        let target = credit_oracle::gradient(&net, &p, &seq, cut).unwrap();
        for (name, e) in per_tensor(&sym.grad, &target.grad) {
            prop_assert!(e <= 1e-10, "detached oracle, {}: {:e}", name, e);
        }
        // P6: the readout gradient is BPTT's
        let bptt = credit_bptt::gradient(&net, &p, &seq).unwrap();
        let k = net.n_cell_tensors();
        for i in k..k + 2 {
            let e = credit_check::max_rel_err(&sym.grad.tensors[i].value, &bptt.grad.tensors[i].value);
            prop_assert!(e <= 1e-10, "readout {}: {:e}", sym.grad.tensors[i].name, e);
        }
    }

    /// P5: with W_rec = 0 and no z-mediated self-path e-prop is BPTT.
    #[test]
    fn eprop_is_bptt_without_recurrence(
        kind in 0usize..4, n in 1usize..=6, steps in 1usize..=12, seed in any::<u64>(),
    ) {
        // variant 1: reset detached for spiking cells
        let net = net(cell(kind, 1), 2, n, 2, false, 0.8);
        let mut scale = InitScale::default_for(&net);
        scale.w_rec = 0.0;
        let p = Params::<f64>::random_scaled(&net, seed, scale).unwrap();
        let seq = credit_core::Sequence::random(&net, steps, seed).unwrap();
        let sym = credit_eprop::gradient(&net, &p, &seq, &Feedback::Symmetric).unwrap();
        let bptt = credit_bptt::gradient(&net, &p, &seq).unwrap();
        for (name, e) in per_tensor(&sym.grad, &bptt.grad) {
            prop_assert!(e <= 1e-10, "{}: {:e}", name, e);
        }
    }

    /// P17 and the literal transcription: the paper's LIF/ALIF traces equal the generic ones.
    #[test]
    fn literal_traces_equal_generic_traces(
        kind in 1usize..3, variant in 0u32..768, n in 1usize..=6, n_in in 1usize..=3,
        steps in 1usize..=12, seed in any::<u64>(),
    ) {
        let net = net(cell(kind, variant), n_in, n, 2, false, 0.9);
        let (p, seq) = instance(&net, steps, seed);
        let traj = forward(&net, &p, &seq, ForwardOptions::default()).unwrap();
        let lit = credit_eprop::literal::traces(&net.cell, &traj).unwrap();
        let w = p.cell_tensors(&net);
        let mut elig = credit_eprop::traces::Eligibility::new(&net);
        for t in 1..=steps {
            elig.step(&credit_core::CellModel::jacobians(&net.cell, &w, &traj.states[t - 1], &traj.z[t - 1], &traj.x[t]));
            let g = elig.traces(&net, &traj.states[t]);
            let e = (&lit[t] - &g).amax();
            prop_assert!(e <= 1e-12 * g.amax().max(1e-300), "t={}: {:e}", t, e);
        }
    }
}

/// P5, the other half: with W_rec = 0 but the reset differentiated, e-prop is *not* BPTT for
/// LIF and ALIF (the reset is an explicit self-path, R_jj = −v_th ψ_j ≠ 0).
#[test]
fn eprop_differs_from_bptt_with_a_live_reset() {
    for kind in [1usize, 2] {
        let net = net(cell(kind, 0), 3, 6, 2, false, 0.9);
        let mut scale = InitScale::default_for(&net);
        scale.w_rec = 0.0;
        scale.w_in *= 1.5;
        // seed 78: live under the guard of `compare.rs` (≥ 10 % active ψ, half of each tensor)
        let p = Params::<f64>::random_scaled(&net, 78, scale).unwrap();
        let seq = credit_core::Sequence::random(&net, 20, 78).unwrap();
        let bptt = credit_bptt::gradient(&net, &p, &seq).unwrap();
        let live = Liveness::measure(&net, &p, &seq, &bptt.grad).unwrap();
        assert!(live.ok(&net), "{live:?}");
        let sym = credit_eprop::gradient(&net, &p, &seq, &Feedback::Symmetric).unwrap();
        let worst = per_tensor(&sym.grad, &bptt.grad).into_iter().map(|(_, e)| e).fold(0.0, f64::max);
        assert!(worst > 1e-3, "cell {kind}: e-prop = BPTT to {worst:e} despite the reset path");
        assert!(matches!(net.cell, Cell::Lif(_) | Cell::Alif(_)));
        let _ = Reset::Differentiated;
    }
}

/// The online loop holds the same number of scalars after 1 step and after 200: no history.
#[test]
fn online_state_does_not_grow_with_time() {
    for kind in 0..4 {
        let net = net(cell(kind, 0), 2, 4, 2, false, 0.9);
        let (p, seq) = instance(&net, 200, 5);
        let w = p.cell_tensors(&net);
        let b = p.w_out().transpose();
        let mut st = credit_eprop::Online::new(&net);
        let size0 = st.len_scalars();
        for t in 0..seq.len() {
            let x = seq.x[t].clone();
            st.step(&net, &p, &w, &b, &x, &seq.target[t], seq.mask[t]);
            assert_eq!(st.len_scalars(), size0, "step {t}");
        }
        // and it is O(N·d·P_loc), not O(T)
        assert!(size0 < 20 * net.n * net.d() * net.p_loc() + 100);
    }
}

/// Bad feedback matrices are typed errors.
#[test]
fn feedback_shape_and_values_are_checked() {
    let net = net(cell(1, 0), 2, 3, 2, false, 0.9);
    let (p, seq) = instance(&net, 5, 1);
    let bad = Feedback::Matrix(nalgebra::DMatrix::zeros(2, 3));
    let e = credit_eprop::gradient(&net, &p, &seq, &bad).unwrap_err();
    assert!(e.to_string().starts_with("feedback.B"), "{e}");
    let mut b = nalgebra::DMatrix::zeros(3, 2);
    b[(1, 1)] = f64::NAN;
    let e = credit_eprop::gradient(&net, &p, &seq, &Feedback::Matrix(b)).unwrap_err();
    assert!(e.to_string().starts_with("feedback.B"), "{e}");
}
