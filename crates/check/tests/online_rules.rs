//! The related online rules of issue 15 on random small networks: SnAp-n (`docs/snap.md`),
//! E-BPTT and F-BPTT (`docs/tbptt.md`), RFLO and KeRNL (`docs/rflo.md`), UORO, KF-RTRL and
//! R-KF-RTRL (`docs/uoro.md`), MDGL (`docs/mdgl.md`).
//! Proptest sweeps in `f64`, the same tests over `f32`/`f64`/`Dual64`, the online state's size,
//! typed errors, and guards that the approximations are live.

// Exact (bit-for-bit) equalities are intended where they are asserted.
#![allow(clippy::float_cmp)]

mod common;

use common::*;
use credit_check::snap::{diag_r_zero, eprop_with_diag_r, ring};
use credit_core::{ForwardOptions, Params, Scalar, forward};
use credit_eprop::Feedback;
use nalgebra::DMatrix;
use num_dual::Dual64;
use proptest::prelude::*;
use proptest::test_runner::{Config as PtConfig, RngSeed};

fn pt_config(cases: u32) -> PtConfig {
    PtConfig {
        cases,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(0x5A_A9),
        max_global_rejects: 4096,
        ..PtConfig::default()
    }
}

fn cells(p: &Params<f64>, nc: usize) -> Params<f64> {
    Params { tensors: p.tensors[..nc].to_vec() }
}

proptest! {
    #![proptest_config(pt_config(40))]

    /// SnAp-T = RTRL (P9) on the net and on its ring copy (pattern not full); SnAp-1 = e-prop's
    /// trace code with D + diag R; SnAp-1 = e-prop where diag R = 0.
    #[test]
    fn snap_relations_hold(
        kind in 0usize..4, variant in 0u32..768, n in 1usize..=5, n_in in 1usize..=3,
        steps in 1usize..=8, seed in any::<u64>(), ce in any::<bool>(), kappa in 0.0f64..=1.0,
    ) {
        let net = net_v(cell(kind, variant), n_in, n, 2, ce, kappa, variant);
        let nc = net.n_cell_tensors();
        let (p, seq) = instance(&net, steps, seed);
        let rtrl = credit_rtrl::gradient(&net, &p, &seq).unwrap();
        let full = credit_snap::gradient(&net, &p, &seq, steps).unwrap();
        for (name, e) in per_tensor(&full.grad, &rtrl.grad) {
            prop_assert!(e <= 1e-12, "snap-T vs RTRL {}: {:e}", name, e);
        }
        let long = Sequence::random(&net, 8, seed).unwrap();
        if let Some((q, cut)) = ring(&net, &p, &long) {
            let a = credit_snap::gradient(&net, &q, &cut, cut.len()).unwrap();
            let b = credit_rtrl::gradient(&net, &q, &cut).unwrap();
            prop_assert!(!credit_snap::Pattern::new(&net, &q, cut.len()).unwrap().is_full());
            for (name, e) in per_tensor(&a.grad, &b.grad) {
                prop_assert!(e <= 1e-12, "ring snap-T vs RTRL {}: {:e}", name, e);
            }
        }
        let one = credit_snap::gradient(&net, &p, &seq, 1).unwrap();
        let traj = forward(&net, &p, &seq, ForwardOptions::default()).unwrap();
        let witness = eprop_with_diag_r(&net, &p, &seq, &traj).unwrap();
        for (name, e) in per_tensor(&cells(&one.grad, nc), &witness) {
            prop_assert!(e <= 1e-12, "snap-1 vs e-prop with D + diag R {}: {:e}", name, e);
        }
        if diag_r_zero(&net, &p) {
            let ep = credit_eprop::gradient(&net, &p, &seq, &Feedback::Symmetric).unwrap();
            for (name, e) in per_tensor(&one.grad, &ep.grad) {
                prop_assert!(e <= 1e-12, "snap-1 vs e-prop at diag R = 0 {}: {:e}", name, e);
            }
        }
    }
}

use credit_core::Sequence;

proptest! {
    #![proptest_config(pt_config(40))]

    /// E-BPTT and F-BPTT with a window ≥ T are BPTT (P16); E-BPTT's first window is BPTT on
    /// the prefix; a window of one step under F-BPTT equals one under E-BPTT (both keep only
    /// t = s).
    #[test]
    fn truncated_bptt_relations_hold(
        kind in 0usize..4, variant in 0u32..192, n in 1usize..=5, n_in in 1usize..=3,
        steps in 1usize..=9, seed in any::<u64>(), ce in any::<bool>(), kappa in 0.0f64..=1.0,
        extra in 0usize..3, window in 1usize..=4,
    ) {
        let net = net_v(cell(kind, variant), n_in, n, 2, ce, kappa, variant);
        let (p, seq) = instance(&net, steps, seed);
        let bptt = credit_bptt::gradient(&net, &p, &seq).unwrap();
        let e = credit_tbptt::ebptt(&net, &p, &seq, steps + extra).unwrap();
        let f = credit_tbptt::fbptt(&net, &p, &seq, steps + extra).unwrap();
        for (name, err) in per_tensor(&e.grad, &bptt.grad).into_iter().chain(per_tensor(&f.grad, &bptt.grad)) {
            prop_assert!(err <= 1e-12, "full window vs BPTT {}: {:e}", name, err);
        }
        prop_assert!((e.loss - bptt.loss).abs() <= 1e-12 * bptt.loss.abs().max(1.0));
        let w = window.min(steps);
        let first = credit_check::tbptt::ebptt_first_window(&net, &p, &seq, w).unwrap();
        let pre = credit_bptt::gradient(&net, &p, &credit_check::tbptt::prefix(&seq, w)).unwrap();
        for (name, err) in per_tensor(&first, &pre.grad) {
            prop_assert!(err <= 1e-12, "first window vs BPTT on the prefix {}: {:e}", name, err);
        }
        let (e1, f1) = (credit_tbptt::ebptt(&net, &p, &seq, 1).unwrap(), credit_tbptt::fbptt(&net, &p, &seq, 1).unwrap());
        for (name, err) in per_tensor(&e1.grad, &f1.grad) {
            prop_assert!(err <= 1e-12, "L = 1: E-BPTT vs F-BPTT {}: {:e}", name, err);
        }
    }
}

proptest! {
    #![proptest_config(pt_config(40))]

    /// RFLO with α_r = α is random e-prop (P10); KeRNL with A = I, α_i = α and zero learning
    /// rates is RFLO (P11); rate cells with every readout convention.
    #[test]
    fn rflo_and_kernl_relations_hold(
        variant in 0u32..192, n in 1usize..=5, n_in in 1usize..=3, steps in 1usize..=10,
        seed in any::<u64>(), ce in any::<bool>(), kappa in 0.0f64..=1.0, alpha in 0.05f64..=1.0,
    ) {
        let net = net_v(credit_check::suite::rate(alpha), n_in, n, 2, ce, kappa, variant);
        let (p, seq) = instance(&net, steps, seed);
        let fb = credit_eprop::random_feedback(&net, seed);
        let rflo = credit_rflo::rflo::gradient(&net, &p, &seq, &fb, alpha).unwrap();
        let ep = credit_eprop::gradient(&net, &p, &seq, &Feedback::Matrix(fb.clone())).unwrap();
        for (name, e) in per_tensor(&rflo.grad, &ep.grad) {
            prop_assert!(e <= 1e-12, "RFLO vs random e-prop {}: {:e}", name, e);
        }
        let k = credit_rflo::kernl::gradient(&net, &p, &seq, &fb, &credit_rflo::KernlConfig::fixed(seed)).unwrap();
        for (name, e) in per_tensor(&k.grad, &rflo.grad) {
            prop_assert!(e <= 1e-12, "fixed KeRNL vs RFLO {}: {:e}", name, e);
        }
    }
}

proptest! {
    #![proptest_config(pt_config(40))]

    /// KeRNL's readout side, directly. (a) The learning signal `Aᵀ q^t` of (K5) with a fixed,
    /// non-symmetric `A` (zero learning rates, `α_i = α`): `Aᵀ (c B g) = c (Aᵀ B) g`, so KeRNL
    /// with feedback `B` is RFLO with feedback `Aᵀ B` on every tensor (`kernl-fixed=rflo` has
    /// `A = I`, where `A` and `Aᵀ` agree). (b) The readout tensors of a KeRNL run that learns `A`
    /// and `α_i` from a non-symmetric start are the exact gradient (E6): BPTT's, at 1e-12.
    #[test]
    fn kernl_signal_and_readout_are_exact(
        variant in 0u32..192, n in 2usize..=5, n_in in 1usize..=3, steps in 1usize..=10,
        seed in any::<u64>(), ce in any::<bool>(), kappa in 0.0f64..=1.0, alpha in 0.05f64..=1.0,
    ) {
        let net = net_v(credit_check::suite::rate(alpha), n_in, n, 2, ce, kappa, variant);
        let (p, seq) = instance(&net, steps, seed);
        let fb = credit_eprop::random_feedback(&net, seed);
        let a = DMatrix::from_fn(n, n, |i, j| {
            if i == j { 1.0 } else { (0.3 * (i as f64) + 0.7 * (j as f64) + (seed % 7) as f64).sin() * 0.5 }
        });
        prop_assert!((&a - a.transpose()).amax() > 1e-3, "A must be non-symmetric");
        let fixed = credit_rflo::KernlConfig { a0: Some(a.clone()), ..credit_rflo::KernlConfig::fixed(seed) };
        let k = credit_rflo::kernl::gradient(&net, &p, &seq, &fb, &fixed).unwrap();
        let r = credit_rflo::rflo::gradient(&net, &p, &seq, &(a.transpose() * &fb), alpha).unwrap();
        for (name, e) in per_tensor(&k.grad, &r.grad) {
            prop_assert!(e <= 1e-12, "KeRNL(A) vs RFLO(Aᵀ B) {}: {:e}", name, e);
        }
        // liveness: A ≠ Aᵀ must matter where the cell gradient is alive — RFLO with A B differs
        let nc = net.n_cell_tensors();
        let wrong = credit_rflo::rflo::gradient(&net, &p, &seq, &(&a * &fb), alpha).unwrap();
        if cells(&r.grad, nc).tensors.iter().any(|t| t.value.amax() > 1e-12) {
            let apart = per_tensor(&cells(&wrong.grad, nc), &cells(&r.grad, nc))
                .into_iter()
                .map(|(_, e)| e)
                .fold(0.0, f64::max);
            prop_assert!(apart > 1e-9, "A vs Aᵀ invisible: {:e}", apart);
        }
        // (b) learning A and α_i: the readout tensors are still exact
        let learning = credit_rflo::KernlConfig {
            a0: Some(a),
            alpha0: Some((0..n).map(|i| alpha * (0.8 + 0.1 * i as f64)).collect()),
            ..credit_check::rflo::LEARNING
        };
        let kl = credit_rflo::kernl::gradient(&net, &p, &seq, &fb, &learning).unwrap();
        let bptt = credit_bptt::gradient(&net, &p, &seq).unwrap();
        let tail = |g: &Params<f64>| Params { tensors: g.tensors[nc..].to_vec() };
        prop_assert_eq!(tail(&kl.grad).tensors.len(), 2);
        for (name, e) in per_tensor(&tail(&kl.grad), &tail(&bptt.grad)) {
            prop_assert!(e <= 1e-12, "learning KeRNL readout vs BPTT {}: {:e}", name, e);
        }
        prop_assert!((kl.loss - bptt.loss).abs() <= 1e-12 * bptt.loss.abs().max(1.0));
    }
}

/// The approximations are live: RFLO with a trace decay other than α is not e-prop; KeRNL that
/// learns moves A away from I and its gradient away from RFLO's; KeRNL with A ≠ I is not RFLO.
#[test]
fn rflo_and_kernl_approximations_are_live() {
    let net = net(credit_check::suite::rate(0.3), 3, 5, 2, false, 0.8);
    let (p, seq) = instance(&net, 20, 11);
    let fb = credit_eprop::random_feedback(&net, 11);
    let worst =
        |a: &Params<f64>, b: &Params<f64>| per_tensor(a, b).into_iter().map(|(_, e)| e).fold(0.0, f64::max);
    let rflo = credit_rflo::rflo::gradient(&net, &p, &seq, &fb, 0.3).unwrap();
    let off = credit_rflo::rflo::gradient(&net, &p, &seq, &fb, 0.5).unwrap();
    assert!(worst(&off.grad, &rflo.grad) > 1e-3);
    let cfg = credit_check::rflo::LEARNING;
    let mut st = credit_rflo::Kernl::<f64>::new(&net, &cfg).unwrap();
    let w = p.cell_tensors(&net);
    let fbt: DMatrix<f64> = fb.clone();
    for t in 0..seq.len() {
        st.step(&net, &p, &w, &fbt, &seq.x[t], &seq.target[t], seq.mask[t]);
    }
    let moved = (&st.a - DMatrix::<f64>::identity(5, 5)).amax();
    assert!(moved > 1e-4, "A moved by {moved:e}");
    assert!(st.alpha.iter().any(|&a| (a - 0.3).abs() > 1e-6), "the timescales did not move");
    assert!(worst(&st.grad, &rflo.grad) > 1e-6);
    let mixed = credit_rflo::KernlConfig {
        a0: Some(DMatrix::from_element(5, 5, 0.2)),
        ..credit_rflo::KernlConfig::fixed(1)
    };
    let k = credit_rflo::kernl::gradient(&net, &p, &seq, &fb, &mixed).unwrap();
    assert!(worst(&k.grad, &rflo.grad) > 1e-3);
}

/// RFLO's and KeRNL's states do not grow with time; bad input is a typed error naming the field.
#[test]
fn rflo_and_kernl_states_and_errors() {
    let net = net(credit_check::suite::rate(0.5), 2, 4, 2, false, 0.9);
    let (p, seq) = instance(&net, 200, 7);
    let (w, fb) = (p.cell_tensors(&net), credit_eprop::random_feedback(&net, 7));
    let mut r = credit_rflo::Rflo::<f64>::new(&net, 0.5).unwrap();
    let mut k = credit_rflo::Kernl::<f64>::new(&net, &credit_check::rflo::LEARNING).unwrap();
    let (r0, k0) = (r.len_scalars(), k.len_scalars());
    for t in 0..seq.len() {
        r.step(&net, &p, &w, &fb, &seq.x[t], &seq.target[t], seq.mask[t]);
        k.step(&net, &p, &w, &fb, &seq.x[t], &seq.target[t], seq.mask[t]);
        assert_eq!((r.len_scalars(), k.len_scalars()), (r0, k0), "step {t}");
    }
    let lif = common::net(cell(1, 0), 2, 4, 2, false, 0.9);
    let (pl, sl) = instance(&lif, 5, 1);
    let e = credit_rflo::rflo::gradient(&lif, &pl, &sl, &credit_eprop::random_feedback(&lif, 1), 0.5)
        .unwrap_err();
    assert!(e.to_string().starts_with("network.cell"), "{e}");
    let e = credit_rflo::rflo::gradient(&net, &p, &seq, &fb, 0.0).unwrap_err();
    assert!(e.to_string().starts_with("rflo.alpha"), "{e}");
    let e = credit_rflo::rflo::gradient(&net, &p, &seq, &DMatrix::zeros(2, 4), 0.5).unwrap_err();
    assert!(e.to_string().starts_with("feedback.B"), "{e}");
    let bad = credit_rflo::KernlConfig { alpha0: Some(vec![0.5; 3]), ..credit_rflo::KernlConfig::fixed(1) };
    let e = credit_rflo::kernl::gradient(&net, &p, &seq, &fb, &bad).unwrap_err();
    assert!(e.to_string().starts_with("kernl.alpha0"), "{e}");
    let reg = net_v(credit_check::suite::rate(0.5), 2, 4, 2, false, 0.9, 192);
    let e = credit_rflo::Rflo::<f64>::new(&reg, 0.5).unwrap_err();
    assert!(e.to_string().starts_with("network.reg"), "{e}");
}

proptest! {
    #![proptest_config(pt_config(12))]

    /// Unbiasedness (P12): the mean over every sign pattern of the noise is RTRL, on random tiny
    /// nets of every cell (KF-RTRL: rate only) with every readout convention.
    #[test]
    fn low_rank_estimators_are_unbiased(
        kind in 0usize..4, variant in 0u32..192, n_in in 1usize..=2, steps in 1usize..=2,
        seed in any::<u64>(), ce in any::<bool>(), kappa in 0.0f64..=1.0,
    ) {
        let net = net_v(cell(kind, variant), n_in, 2, 2, ce, kappa, variant);
        let (p, seq) = instance(&net, steps, seed);
        let rtrl = credit_rtrl::gradient(&net, &p, &seq).unwrap();
        let mut kinds = vec![credit_uoro::Kind::Uoro, credit_uoro::Kind::Rkf];
        if kind == 0 {
            kinds.push(credit_uoro::Kind::Kf);
        }
        for k in kinds {
            let mean = credit_check::uoro::exact_mean(&net, &p, &seq, k).unwrap();
            for (name, e) in per_tensor(&mean, &rtrl.grad) {
                prop_assert!(e <= 1e-12, "{:?} mean vs RTRL {}: {:e}", k, name, e);
            }
        }
    }
}

/// One draw is not RTRL (the noise is live); the states do not grow; bad noise and a spiking
/// KF-RTRL are typed errors naming the field.
#[test]
fn low_rank_draws_states_and_errors() {
    use credit_uoro::{Kind, LowRank, Noise};
    let net = net(cell(0, 1), 3, 4, 2, false, 0.8);
    let (p, seq) = instance(&net, 12, 21);
    let rtrl = credit_rtrl::gradient(&net, &p, &seq).unwrap();
    for k in [Kind::Uoro, Kind::Kf, Kind::Rkf] {
        let g = credit_uoro::gradient(&net, &p, &seq, k, &Noise::Seed(3)).unwrap();
        let worst = per_tensor(&g.grad, &rtrl.grad).into_iter().map(|(_, e)| e).fold(0.0, f64::max);
        assert!(worst > 1e-3, "{k:?}: one draw = RTRL to {worst:e}");
        let mut st = LowRank::<f64>::new(&net, k).unwrap();
        let size0 = st.len_scalars();
        let w = p.cell_tensors(&net);
        for t in 0..200 {
            let i = t % seq.len();
            st.step(&net, &p, &w, &vec![1.0; k.noise_len(&net)], &seq.x[i], &seq.target[i], seq.mask[i]);
            assert_eq!(st.len_scalars(), size0);
        }
    }
    let bad = Noise::Signs(vec![vec![1.0; 4]; 3]);
    let e = credit_uoro::gradient(&net, &p, &seq, Kind::Uoro, &bad).unwrap_err();
    assert!(e.to_string().starts_with("uoro.noise"), "{e}");
    let mut signs = vec![vec![1.0; 4]; seq.len()];
    signs[2][1] = 0.5;
    let e = credit_uoro::gradient(&net, &p, &seq, Kind::Rkf, &Noise::Signs(signs)).unwrap_err();
    assert!(e.to_string().starts_with("rkf.noise[2]"), "{e}");
    let lif = common::net(cell(1, 0), 2, 3, 2, false, 0.9);
    let e = LowRank::<f64>::new(&lif, Kind::Kf).unwrap_err();
    assert!(e.to_string().starts_with("network.cell"), "{e}");
}

proptest! {
    #![proptest_config(pt_config(40))]

    /// MDGL with the self-hop = the family's order 1 under the last-step-hop reading; without
    /// it, the same where diag R = 0; with T = 2 MDGL is RTRL (the only hop is at the last step).
    #[test]
    fn mdgl_relations_hold(
        kind in 0usize..4, variant in 0u32..192, n in 1usize..=5, n_in in 1usize..=3,
        steps in 1usize..=8, seed in any::<u64>(), ce in any::<bool>(), kappa in 0.0f64..=1.0,
    ) {
        use credit_family::{Reading, recursion};
        use credit_mdgl::SelfHop;
        let net = net_v(cell(kind, variant), n_in, n, 2, ce, kappa, variant);
        let (p, seq) = instance(&net, steps, seed);
        let fam = recursion::gradient(&net, &p, &seq, 1, Reading::LastStepHop).unwrap();
        let with = credit_mdgl::gradient(&net, &p, &seq, SelfHop::Include).unwrap();
        for (name, e) in per_tensor(&with.grad, &fam.grad) {
            prop_assert!(e <= 1e-12, "MDGL vs family order 1 (last-step hop) {}: {:e}", name, e);
        }
        if diag_r_zero(&net, &p) {
            let without = credit_mdgl::gradient(&net, &p, &seq, SelfHop::Exclude).unwrap();
            for (name, e) in per_tensor(&without.grad, &fam.grad) {
                prop_assert!(e <= 1e-12, "MDGL without self-hop at diag R = 0 {}: {:e}", name, e);
            }
        }
        let two = prefix_of(&seq, steps.min(2));
        let m2 = credit_mdgl::gradient(&net, &p, &two, SelfHop::Include).unwrap();
        let r2 = credit_rtrl::gradient(&net, &p, &two).unwrap();
        for (name, e) in per_tensor(&m2.grad, &r2.grad) {
            prop_assert!(e <= 1e-12, "MDGL vs RTRL at T <= 2 {}: {:e}", name, e);
        }
    }
}

fn prefix_of(seq: &Sequence, steps: usize) -> Sequence {
    credit_check::tbptt::prefix(seq, steps)
}

/// MDGL's state does not grow; a regulariser is a typed error.
#[test]
fn mdgl_state_and_errors() {
    let net = net(cell(2, 0), 2, 4, 2, false, 0.9);
    let (p, seq) = instance(&net, 200, 9);
    let w = p.cell_tensors(&net);
    let mut st = credit_mdgl::Mdgl::<f64>::new(&net, credit_mdgl::SelfHop::Include).unwrap();
    let size0 = st.len_scalars();
    for t in 0..seq.len() {
        st.step(&net, &p, &w, &seq.x[t], &seq.target[t], seq.mask[t]);
        assert_eq!(st.len_scalars(), size0, "step {t}");
    }
    let reg = net_v(cell(1, 0), 2, 3, 2, false, 0.9, 192);
    let e = credit_mdgl::Mdgl::<f64>::new(&reg, credit_mdgl::SelfHop::Include).unwrap_err();
    assert!(e.to_string().starts_with("network.reg"), "{e}");
}

/// Short windows are approximations: they differ from BPTT on a generic net, and F-BPTT (which
/// sees more of the future) is closer to BPTT than E-BPTT with the same window here.
#[test]
fn short_windows_differ_from_bptt() {
    for kind in 0..4 {
        let net = net(cell(kind, 1), 3, 5, 2, false, 0.8);
        let (p, seq) = instance(&net, 16, 40 + kind as u64);
        let bptt = credit_bptt::gradient(&net, &p, &seq).unwrap();
        let worst =
            |a: &Params<f64>| per_tensor(a, &bptt.grad).into_iter().map(|(_, e)| e).fold(0.0, f64::max);
        let e = credit_tbptt::ebptt(&net, &p, &seq, 3).unwrap();
        let f = credit_tbptt::fbptt(&net, &p, &seq, 3).unwrap();
        assert!(worst(&e.grad) > 1e-3, "kind {kind}: E-BPTT(3) = BPTT to {:e}", worst(&e.grad));
        assert!(worst(&f.grad) > 1e-3, "kind {kind}: F-BPTT(3) = BPTT to {:e}", worst(&f.grad));
    }
}

/// The buffers never hold more than the window: the largest state over 200 steps is the
/// largest over the first two windows.
#[test]
fn truncated_state_is_bounded_by_the_window() {
    for kind in 0..4 {
        let net = net(cell(kind, 0), 2, 4, 2, false, 0.9);
        let (p, seq) = instance(&net, 200, 6);
        let w = p.cell_tensors(&net);
        let mut e = credit_tbptt::Ebptt::new(&net, 5).unwrap();
        let mut f = credit_tbptt::Fbptt::new(&net, 5).unwrap();
        let (mut early, mut late) = ((0, 0), (0, 0));
        for t in 0..seq.len() {
            e.step(&net, &p, &w, &seq.x[t], &seq.target[t], seq.mask[t]);
            f.step(&net, &p, &w, &seq.x[t], &seq.target[t], seq.mask[t]);
            let sizes = (e.len_scalars(), f.len_scalars());
            let slot = if t < 10 { &mut early } else { &mut late };
            *slot = (slot.0.max(sizes.0), slot.1.max(sizes.1));
            assert!(e.buffer.len() < 5 && f.buffer.len() < 5, "step {t}");
        }
        assert_eq!(early, late, "kind {kind}");
    }
}

/// Bad windows and a regulariser are typed errors naming the field.
#[test]
fn truncated_bptt_errors_name_the_field() {
    let net = net(cell(0, 1), 2, 3, 2, false, 0.9);
    let (p, seq) = instance(&net, 5, 1);
    let e = credit_tbptt::ebptt(&net, &p, &seq, 0).unwrap_err();
    assert!(e.to_string().starts_with("ebptt.truncation"), "{e}");
    let e = credit_tbptt::fbptt(&net, &p, &seq, 0).unwrap_err();
    assert!(e.to_string().starts_with("fbptt.truncation"), "{e}");
    let reg = net_v(cell(0, 1), 2, 3, 2, false, 0.9, 192);
    let (p, seq) = instance(&reg, 5, 1);
    let e = credit_tbptt::ebptt(&reg, &p, &seq, 3).unwrap_err();
    assert!(e.to_string().starts_with("network.reg"), "{e}");
}

/// Liveness of the approximation: on a generic dense rate net SnAp-1 is neither RTRL nor
/// e-prop (autapses), SnAp-2 is RTRL; on the ring copy SnAp-2 is not RTRL.
#[test]
fn snap_approximations_are_live() {
    let net = net(cell(0, 1), 3, 5, 2, false, 0.8);
    let (p, seq) = instance(&net, 12, 3);
    let rtrl = credit_rtrl::gradient(&net, &p, &seq).unwrap();
    let worst =
        |a: &Params<f64>, b: &Params<f64>| per_tensor(a, b).into_iter().map(|(_, e)| e).fold(0.0, f64::max);
    let one = credit_snap::gradient(&net, &p, &seq, 1).unwrap();
    assert!(worst(&one.grad, &rtrl.grad) > 1e-3);
    let ep = credit_eprop::gradient(&net, &p, &seq, &Feedback::Symmetric).unwrap();
    assert!(!diag_r_zero(&net, &p));
    assert!(worst(&one.grad, &ep.grad) > 1e-3);
    let two = credit_snap::gradient(&net, &p, &seq, 2).unwrap();
    assert!(worst(&two.grad, &rtrl.grad) <= 1e-12);
    let (q, cut) = ring(&net, &p, &seq).unwrap();
    let a = credit_snap::gradient(&net, &q, &cut, 2).unwrap();
    let b = credit_rtrl::gradient(&net, &q, &cut).unwrap();
    assert!(worst(&a.grad, &b.grad) > 1e-6);
}

/// The suite reports the ring check on most configs (it is dropped only where the short ring
/// run is silent in some tensor).
#[test]
fn the_ring_check_runs_on_most_configs() {
    let ids = vec!["snap-full=rtrl".to_string()];
    let select = credit_check::relations::Select(Some(&ids));
    let (mut configs, mut with_ring) = (0, 0);
    for cfg in credit_check::builtin_suite().into_iter().filter(|c| c.net.n >= 4 && c.steps <= 20) {
        let rows = credit_check::relations::run_config_selected(&cfg, select).unwrap();
        configs += 1;
        with_ring += usize::from(rows.iter().any(|r| r.tensor.starts_with("ring")));
        assert!(rows.iter().all(|r| r.pass), "{}", cfg.name);
    }
    assert!(configs >= 5, "only {configs} configs with N ≥ 4 and T ≤ 20");
    assert!(with_ring * 4 >= configs * 3, "ring rows on {with_ring} of {configs} configs");
}

/// The SnAp state holds the same number of scalars after 1 step and after 200.
#[test]
fn snap_state_does_not_grow_with_time() {
    for kind in 0..4 {
        let net = net(cell(kind, 0), 2, 4, 2, false, 0.9);
        let (p, seq) = instance(&net, 200, 5);
        let w = p.cell_tensors(&net);
        let pattern = credit_snap::Pattern::new(&net, &p, 1).unwrap();
        let mut st = credit_snap::SnapState::new(&net, &pattern);
        let size0 = st.len_scalars();
        for t in 0..seq.len() {
            st.step(&net, &p, &w, &seq.x[t], &seq.target[t], seq.mask[t]);
            assert_eq!(st.len_scalars(), size0, "step {t}");
        }
        // SnAp-1 keeps exactly e-prop's ε entries: N·d·P_loc
        assert_eq!(pattern.kept(&net), net.n * net.d() * net.p_loc());
    }
}

/// `n = 0` is a typed error naming the field.
#[test]
fn snap_order_zero_is_an_error() {
    let net = net(cell(0, 1), 2, 3, 2, false, 0.9);
    let (p, seq) = instance(&net, 5, 1);
    let e = credit_snap::gradient(&net, &p, &seq, 0).unwrap_err();
    assert!(e.to_string().starts_with("snap.n"), "{e}");
}

/// Real and dual part of a scalar as `f64`.
trait Parts: Scalar {
    fn parts(self) -> (f64, f64);
    fn lift(x: f64, v: f64) -> Self;
}
impl Parts for f32 {
    fn parts(self) -> (f64, f64) {
        (self as f64, 0.0)
    }
    fn lift(x: f64, _: f64) -> Self {
        x as f32
    }
}
impl Parts for f64 {
    fn parts(self) -> (f64, f64) {
        (self, 0.0)
    }
    fn lift(x: f64, _: f64) -> Self {
        x
    }
}
impl Parts for Dual64 {
    fn parts(self) -> (f64, f64) {
        (self.re, self.eps)
    }
    fn lift(x: f64, v: f64) -> Self {
        Dual64::new(x, v)
    }
}

fn lift<T: Parts>(p: &Params<f64>, dir: &Params<f64>) -> Params<T> {
    let mut q: Params<T> = p.cast();
    for (t, d) in q.tensors.iter_mut().zip(&dir.tensors) {
        let src = p.get(t.name).expect("layout");
        t.value =
            DMatrix::from_fn(t.value.nrows(), t.value.ncols(), |i, j| T::lift(src[(i, j)], d.value[(i, j)]));
    }
    q
}

fn part<T: Parts>(g: &Params<T>, which: usize) -> Params<f64> {
    g.map(|x| if which == 0 { x.parts().0 } else { x.parts().1 })
}

macro_rules! scalar_tests {
    ($($module:ident: $t:ty, tol = $tol:expr;)*) => {$(
        mod $module {
            use super::*;

            /// SnAp-T = RTRL and SnAp-2 = RTRL (dense) in this scalar type, real and dual parts.
            #[test]
            fn snap_full_and_dense_snap2_equal_rtrl() {
                for kind in 0..4 {
                    let net = net(cell(kind, 0), 3, 4, 2, false, 0.9);
                    let (p, seq) = instance(&net, 10, 300 + kind as u64);
                    let dir = Params::<f64>::random(&net, 8).unwrap();
                    let q: Params<$t> = lift(&p, &dir);
                    let r = credit_rtrl::gradient(&net, &q, &seq).unwrap();
                    for n in [2, 10] {
                        let s = credit_snap::gradient(&net, &q, &seq, n).unwrap();
                        assert_close("real parts", &part(&s.grad, 0), &part(&r.grad, 0), $tol);
                        assert_close("dual parts", &part(&s.grad, 1), &part(&r.grad, 1), $tol);
                    }
                }
            }

            /// E-BPTT and F-BPTT with a full window = BPTT in this scalar type, real and dual.
            #[test]
            fn truncated_bptt_with_a_full_window_equals_bptt() {
                for kind in 0..4 {
                    let net = net(cell(kind, 0), 3, 4, 2, false, 0.9);
                    let (p, seq) = instance(&net, 10, 320 + kind as u64);
                    let dir = Params::<f64>::random(&net, 10).unwrap();
                    let q: Params<$t> = lift(&p, &dir);
                    let b = credit_bptt::gradient(&net, &q, &seq).unwrap();
                    let e = credit_tbptt::ebptt(&net, &q, &seq, 10).unwrap();
                    let f = credit_tbptt::fbptt(&net, &q, &seq, 12).unwrap();
                    for g in [&e.grad, &f.grad] {
                        assert_close("real parts", &part(g, 0), &part(&b.grad, 0), $tol);
                        assert_close("dual parts", &part(g, 1), &part(&b.grad, 1), $tol);
                    }
                }
            }

            /// RFLO = random e-prop and fixed KeRNL = RFLO in this scalar type, real and dual.
            #[test]
            fn rflo_equals_random_eprop_and_fixed_kernl() {
                let net = net(credit_check::suite::rate(0.4), 3, 4, 2, false, 0.9);
                let (p, seq) = instance(&net, 10, 330);
                let dir = Params::<f64>::random(&net, 11).unwrap();
                let q: Params<$t> = lift(&p, &dir);
                let fb = credit_eprop::random_feedback(&net, 3);
                let r = credit_rflo::rflo::gradient(&net, &q, &seq, &fb, 0.4).unwrap();
                let e = credit_eprop::gradient(&net, &q, &seq, &Feedback::Matrix(fb.map(<$t as Scalar>::c))).unwrap();
                let k = credit_rflo::kernl::gradient(&net, &q, &seq, &fb, &credit_rflo::KernlConfig::fixed(2)).unwrap();
                for g in [&e.grad, &k.grad] {
                    assert_close("real parts", &part(&r.grad, 0), &part(g, 0), $tol);
                    assert_close("dual parts", &part(&r.grad, 1), &part(g, 1), $tol);
                }
                // a fixed non-symmetric A: KeRNL(B) = RFLO(Aᵀ B)
                let a = DMatrix::from_fn(4, 4, |i, j| if i == j { 1.0 } else { (i as f64 - 2.0 * j as f64) * 0.1 });
                let cfg = credit_rflo::KernlConfig { a0: Some(a.clone()), ..credit_rflo::KernlConfig::fixed(2) };
                let k = credit_rflo::kernl::gradient(&net, &q, &seq, &fb, &cfg).unwrap();
                let r = credit_rflo::rflo::gradient(&net, &q, &seq, &(a.transpose() * &fb), 0.4).unwrap();
                assert_close("A: real parts", &part(&r.grad, 0), &part(&k.grad, 0), $tol);
                assert_close("A: dual parts", &part(&r.grad, 1), &part(&k.grad, 1), $tol);
            }

            /// UORO's exact mean = RTRL in this scalar type, real and dual parts (tiny rate net).
            #[test]
            fn uoro_mean_equals_rtrl() {
                let net = net(credit_check::suite::rate(0.5), 2, 2, 2, false, 0.7);
                let (p, seq) = instance(&net, 2, 340);
                let dir = Params::<f64>::random(&net, 12).unwrap();
                let q: Params<$t> = lift(&p, &dir);
                let r = credit_rtrl::gradient(&net, &q, &seq).unwrap();
                let mut sum = q.map(|_| <$t as Scalar>::c(0.0));
                for pattern in 0..16usize {
                    let signs: Vec<Vec<f64>> = (0..2)
                        .map(|t| (0..2).map(|k| if pattern >> (2 * t + k) & 1 == 1 { -1.0 } else { 1.0 }).collect())
                        .collect();
                    let g = credit_uoro::gradient(&net, &q, &seq, credit_uoro::Kind::Uoro, &credit_uoro::Noise::Signs(signs)).unwrap();
                    for (a, b) in sum.tensors.iter_mut().zip(&g.grad.tensors) {
                        a.value += &b.value;
                    }
                }
                let mean = sum.map(|x| x / <$t as Scalar>::c(16.0));
                assert_close("real parts", &part(&mean, 0), &part(&r.grad, 0), $tol);
                assert_close("dual parts", &part(&mean, 1), &part(&r.grad, 1), $tol);
            }

            /// MDGL = the family's order 1 (last-step hop) in this scalar type, real and dual.
            #[test]
            fn mdgl_equals_family_order_one() {
                for kind in 0..4 {
                    let net = net(cell(kind, 0), 3, 4, 2, false, 0.9);
                    let (p, seq) = instance(&net, 10, 350 + kind as u64);
                    let dir = Params::<f64>::random(&net, 13).unwrap();
                    let q: Params<$t> = lift(&p, &dir);
                    let m = credit_mdgl::gradient(&net, &q, &seq, credit_mdgl::SelfHop::Include).unwrap();
                    let f = credit_family::recursion::gradient(&net, &q, &seq, 1, credit_family::Reading::LastStepHop).unwrap();
                    assert_close("real parts", &part(&m.grad, 0), &part(&f.grad, 0), $tol);
                    assert_close("dual parts", &part(&m.grad, 1), &part(&f.grad, 1), $tol);
                }
            }

            /// SnAp-1 = e-prop on LIF/ALIF with the reset detached (diag R = 0), real and dual.
            #[test]
            fn snap1_equals_eprop_without_diag_r() {
                for kind in [1usize, 2] {
                    let net = net(cell(kind, 1), 3, 4, 2, false, 0.9);
                    let (p, seq) = instance(&net, 10, 310 + kind as u64);
                    let dir = Params::<f64>::random(&net, 9).unwrap();
                    let q: Params<$t> = lift(&p, &dir);
                    let s = credit_snap::gradient(&net, &q, &seq, 1).unwrap();
                    let e = credit_eprop::gradient(&net, &q, &seq, &Feedback::Symmetric).unwrap();
                    assert_close("real parts", &part(&s.grad, 0), &part(&e.grad, 0), $tol);
                    assert_close("dual parts", &part(&s.grad, 1), &part(&e.grad, 1), $tol);
                }
            }
        }
    )*};
}

scalar_tests! {
    online_f32: f32, tol = 1e-4;
    online_f64: f64, tol = 1e-12;
    online_dual64: Dual64, tol = 1e-12;
}
