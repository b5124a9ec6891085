//! The e-prop relations (issue 3), properties P2–P6, P15, P17 of the design notes.
//!
//! | id | compared | expect |
//! |---|---|---|
//! | `eprop-total=bptt` | `Σ_t L e` with the total signal `dE/dz` from the oracle's taps vs BPTT (P2, Bellec Eq. 1) | equal |
//! | `eprop-causal=eprop-noncausal` | online form (instantaneous error, κ-filtered ē) vs `Σ_t (c B ȳ^{t+δ} + ∂E_reg/∂z^t) e^t`, symmetric and random `B` (P3) | equal |
//! | `eprop=oracle-detached` | symmetric e-prop vs the oracle on the graph with recurrent and reset `z^{t-1}` detached (P4) | equal |
//! | `eprop=bptt@R0` | symmetric e-prop vs BPTT when `R ≡ 0` (`W_rec = 0`, reset detached) (P5) | equal |
//! | `eprop!=bptt` | symmetric e-prop vs BPTT on generic nets, and with `W_rec = 0` but the reset differentiated (P5's "false" half) | differ |
//! | `eprop-wout=bptt` | the readout gradient of symmetric and random e-prop vs BPTT (P6) | equal |
//! | `adaptive-decay` | `‖B − W_outᵀ‖` after each of 5 adaptive updates / before, vs `1 − λ` (P15) | equal |
//! | `eprop-random=oracle-feedback` | random e-prop (online, `B` of the config) and adaptive e-prop (online, `B` after the 5 updates of `adaptive-decay`) vs `Σ_t Σ_j L_j^t dz_j^t/dθ` built by the oracle alone: `L^t = B dE/du^{t+δ} + ∂E_reg/∂z^t` from taps on the readout drive (O5) and on `z` (O2), tangents on the graph with recurrent and reset `z^{t−1}` detached (O6); cell tensors | equal |
//! | `eprop-literal=eprop-generic` | the paper's LIF/ALIF traces vs the generic `ε = Dε + I`, every step (P17) | equal |

use crate::compare::{alive, worst_tensor};
use crate::relations::{Ctx, Expect, TOL_F64};
use crate::suite::Role;
use credit_core::cell::{Cell, Reset};
use credit_core::stack::renamed;
use credit_core::{CellModel, Detach, Network, Params, Sequence, Trajectory};
use credit_eprop::{Adaptive, Feedback};
use nalgebra::{DMatrix, DVector};

/// Threshold of the `differ` relations: the rule must be further than this from BPTT in
/// at least one cell tensor (the row reports the maximum over cell tensors); rounding is
/// ~1e-15, a real approximation is at the percent level.
pub const TOL_DIFFER: f64 = 1e-6;
/// Tolerance of `adaptive-decay` (a ratio of norms after a handful of updates).
pub const TOL_ADAPTIVE: f64 = 1e-12;
/// `λ` of the `adaptive-decay` run.
pub const ADAPTIVE_LAMBDA: f64 = 0.1;
/// Step of the `adaptive-decay` run, relative: the learning rate is `STEP·gap/max_k ‖g_k‖`, so
/// no tensor moves by more than this fraction of the current gap `‖B − W_outᵀ‖`. The property holds for any
/// learning rate; a step of the size of the gap keeps rounding at the level of the gap
/// (a huge raw step would bury it under cancellation).
pub const ADAPTIVE_STEP: f64 = 0.5;

/// The ids of this module's relations (`check-gradients --relations` runs `rows` when one
/// of them is selected).
pub const IDS: &[&str] = &[
    "eprop-total=bptt",
    "eprop-causal=eprop-noncausal",
    "eprop=oracle-detached",
    "eprop=bptt@R0",
    "eprop!=bptt",
    "deep1=eprop",
    "ostl1=bptt",
    "eprop-wout=bptt",
    "adaptive-decay",
    "eprop-random=oracle-feedback",
    "eprop-literal=eprop-generic",
];

fn cell_only(p: &Params<f64>, n_cell: usize) -> Params<f64> {
    Params { tensors: p.tensors[..n_cell].to_vec() }
}

fn readout_only(p: &Params<f64>, n_cell: usize) -> Params<f64> {
    Params { tensors: p.tensors[n_cell..].to_vec() }
}

pub(crate) fn rows(
    cx: &mut Ctx,
    p: &Params<f64>,
    seq: &Sequence,
    traj: &Trajectory<f64>,
    bptt: &Params<f64>,
) -> credit_core::Result<()> {
    let net = &cx.cfg.net.clone();
    let nc = net.n_cell_tensors();
    let role = cx.cfg.role;

    // P2: the exact factorisation with the total learning signal from the oracle's taps
    if cx.select.wants("eprop-total=bptt") {
        let total = credit_oracle::learning_signals(net, p, seq, Detach::default())?;
        let fact = credit_eprop::gradient_with_signals(net, p, seq, &total)?;
        cx.tensors("eprop-total=bptt", "f64", "", &fact, bptt, TOL_F64);
    }

    // P3: causal = non-causal, symmetric and random feedback
    let b_random = cx.cfg.feedback.clone().unwrap_or_else(|| credit_eprop::random_feedback(net, cx.cfg.seed));
    let random = Feedback::Matrix(b_random.clone());
    let sym = credit_eprop::gradient(net, p, seq, &Feedback::Symmetric)?;
    let rnd = credit_eprop::gradient(net, p, seq, &random)?;
    let sym_nc = credit_eprop::gradient_noncausal(net, p, seq, &Feedback::Symmetric)?;
    let rnd_nc = credit_eprop::gradient_noncausal(net, p, seq, &random)?;
    cx.tensors("eprop-causal=eprop-noncausal", "f64", "sym/", &sym.grad, &sym_nc, TOL_F64);
    cx.tensors("eprop-causal=eprop-noncausal", "f64", "rand/", &rnd.grad, &rnd_nc, TOL_F64);

    // P4: symmetric e-prop = exact gradient of the graph with recurrent and reset z detached
    if cx.select.wants("eprop=oracle-detached") {
        let detached =
            credit_oracle::gradient(net, p, seq, Detach { recurrent: true, reset: true, adaptation: false })?;
        cx.tensors("eprop=oracle-detached", "f64", "", &sym.grad, &detached.grad, TOL_F64);
    }

    // P5: equal to BPTT iff R ≡ 0; otherwise it must differ (cell tensors only: the readout is
    // exact by P6)
    let reset_detached = match &net.cell {
        Cell::Lif(c) => c.spiking.reset == Reset::Detached,
        Cell::Alif(c) => c.spiking.reset == Reset::Detached,
        _ => true, // no reset at all
    };
    let r_zero = role == Role::NoRecurrence && reset_detached;
    let (relation, expect, tol) = if r_zero {
        ("eprop=bptt@R0", Expect::Equal, TOL_F64)
    } else {
        ("eprop!=bptt", Expect::Differ, TOL_DIFFER)
    };
    let (a, b) = (cell_only(&sym.grad, nc), cell_only(bptt, nc));
    match expect {
        // equality is claimed per tensor
        Expect::Equal => cx.tensors(relation, "f64", "", &a, &b, tol),
        // "the rule is not BPTT" holds when any cell tensor differs: one row per config with the
        // largest per-tensor error and the tensor that has it
        Expect::Differ => {
            let (worst, name, all_alive) = worst_tensor(&a.tensors, &b.tensors);
            let tensor = format!("max over cell tensors ({name})");
            cx.push_expect(relation, expect, "f64", tensor, worst, tol, all_alive);
        }
    }

    // deep1 = e-prop: a one-layer stack under deep e-prop is single-layer symmetric e-prop.
    // Stacks carry no regulariser: a regularised config is compared without it (same cell,
    // conventions, weights and data), so these rows see every convention of the suite too.
    if cx.select.any(&["deep1=eprop", "ostl1=bptt"]) {
        let plain = credit_core::Network { reg: None, ..net.clone() };
        let (sym_plain, bptt_plain) = if net.reg.is_some() {
            let s = credit_eprop::gradient(&plain, p, seq, &Feedback::Symmetric)?.grad;
            (s, credit_bptt::gradient(&plain, p, seq)?.grad)
        } else {
            (sym.grad.clone(), bptt.clone())
        };
        let one = credit_core::Stack::of_network(&plain)?;
        let q = one.rename(p);
        let as_network = |g: &Params<f64>| renamed(g, p.tensors.iter().map(|t| t.name));
        let deep = credit_deep::gradient(&one, &q, seq)?;
        cx.tensors("deep1=eprop", "f64", "", &as_network(&deep.grad), &sym_plain, TOL_F64);
        // ostl1 = BPTT: on one layer OSTL's temporal trace is the layer's full RTRL
        let ostl = credit_ostl::gradient(&one, &q, seq)?;
        cx.tensors("ostl1=bptt", "f64", "", &as_network(&ostl.grad), &bptt_plain, TOL_F64);
    }

    // P6: the readout gradient is exact whatever B
    let (bo, so, ro) = (readout_only(bptt, nc), readout_only(&sym.grad, nc), readout_only(&rnd.grad, nc));
    cx.tensors("eprop-wout=bptt", "f64", "sym/", &so, &bo, TOL_F64);
    cx.tensors("eprop-wout=bptt", "f64", "rand/", &ro, &bo, TOL_F64);

    // P15: adaptive feedback decays towards W_outᵀ by exactly (1 − λ) per update
    if cx.select.any(&["adaptive-decay", "eprop-random=oracle-feedback"]) {
        let b_adaptive = adaptive_decay(cx, p, seq)?;

        // random and adaptive e-prop against a witness built from the oracle alone
        if cx.select.wants("eprop-random=oracle-feedback") {
            let adaptive = credit_eprop::gradient(net, p, seq, &Feedback::Matrix(b_adaptive.clone()))?;
            let witness = FeedbackWitness::new(net, p, seq)?;
            for (prefix, rule, b) in
                [("rand/", &rnd.grad, b_random), ("adaptive/", &adaptive.grad, b_adaptive)]
            {
                let w = witness.gradient(net, p, &b);
                let (a, r) = (cell_only(rule, nc), cell_only(&w, nc));
                cx.tensors("eprop-random=oracle-feedback", "f64", prefix, &a, &r, TOL_F64);
            }
        }
    }

    // P17 / literal transcription: the paper's LIF/ALIF traces = the generic traces, every step
    if let Some(lit) = credit_eprop::literal::traces(&net.cell, traj) {
        let w = p.cell_tensors(net);
        let mut elig = credit_eprop::traces::Eligibility::new(net);
        let (mut diff, mut scale) = (0.0f64, 0.0f64);
        for t in 1..=seq.len() {
            elig.step(&net.cell.jacobians(&w, &traj.states[t - 1], &traj.z[t - 1], &traj.x[t]));
            let generic = elig.traces(net, &traj.states[t]);
            let finite = lit[t].iter().chain(generic.iter()).all(|v| v.is_finite());
            diff = diff.max(if finite { (&lit[t] - &generic).amax() } else { f64::INFINITY });
            scale = scale.max(generic.amax());
        }
        let err = if diff.is_infinite() {
            f64::INFINITY
        } else if scale > 0.0 {
            diff / scale
        } else {
            diff
        };
        cx.push("eprop-literal=eprop-generic", "f64", "e (all t)".into(), err, TOL_F64, scale > 0.0);
    }
    Ok(())
}

/// The witness of `eprop-random=oracle-feedback` (Eq. O8 of `docs/oracle.md`): e-prop with any
/// feedback `B` from the oracle alone, without any code of `credit-eprop`,
/// `Σ_t Σ_j L_j^t dz_j^t/dθ` with `L_j^t = Σ_k B_jk dE/du_k^{t+δ} + ∂E_reg/∂z_j^t` and the
/// tangents of the graph with recurrent and reset `z^{t−1}` detached.
struct FeedbackWitness {
    /// `dE/du^t` of the readout drive, `t = 0..=T` (O5).
    drive: Vec<DVector<f64>>,
    /// `∂E_reg/∂z^t`, `t = 0..=T` (zero without a regulariser).
    reg: Vec<DVector<f64>>,
    /// `dz^t/dθ_p` per parameter on the detached graph (O6).
    tangents: Vec<DMatrix<f64>>,
}

impl FeedbackWitness {
    fn new(net: &Network, p: &Params<f64>, seq: &Sequence) -> credit_core::Result<Self> {
        let cut = Detach { recurrent: true, reset: true, adaptation: false };
        let drive = credit_oracle::readout_signals(net, p, seq)?;
        let reg = if net.reg.is_some() {
            // the tap of (O2) on a copy with W_out = 0 and recurrent and reset edges detached
            // reaches only the regulariser: ∂E_reg/∂z_j^t
            let mut q = p.clone();
            let k = q.tensors.len() - 2;
            q.tensors[k].value.fill(0.0);
            credit_oracle::learning_signals(net, &q, seq, cut)?
        } else {
            vec![DVector::zeros(net.n); seq.len() + 1]
        };
        let tangents = credit_oracle::output_tangents(net, p, seq, cut)?;
        Ok(FeedbackWitness { drive, reg, tangents })
    }

    /// `Σ_t Σ_j L_j^t dz_j^t/dθ_p` for every parameter with feedback `b` (`N × K`).
    fn gradient(&self, net: &Network, p: &Params<f64>, b: &DMatrix<f64>) -> Params<f64> {
        let steps = self.drive.len() - 1;
        let lag = net.readout.lag();
        // L^t = B dE/du^{t+δ} + ∂E_reg/∂z^t, with dE/du^{T+1} = 0
        let signal: Vec<DVector<f64>> = (0..=steps)
            .map(|t| {
                let ahead = t + lag;
                let drive =
                    if t > 0 && ahead <= steps { b * &self.drive[ahead] } else { DVector::zeros(net.n) };
                drive + &self.reg[t]
            })
            .collect();
        let mut g = p.map(|_| 0.0);
        for (k, tan) in self.tangents.iter().enumerate() {
            let (ti, r, c) = g.locate(k).expect("k < P");
            g.tensors[ti].value[(r, c)] = (1..=steps).map(|t| signal[t].dot(&tan.column(t))).sum();
        }
        g
    }
}

/// Five adaptive e-prop updates; each must shrink `‖B − W_outᵀ‖_F` by exactly `1 − λ`. Returns
/// the feedback matrix reached.
fn adaptive_decay(
    cx: &mut Ctx,
    p: &Params<f64>,
    seq: &Sequence,
) -> credit_core::Result<nalgebra::DMatrix<f64>> {
    let net = &cx.cfg.net.clone();
    let mut params = p.clone();
    let mut ad = Adaptive { b: credit_eprop::random_feedback(net, cx.cfg.seed ^ 7), lambda: ADAPTIVE_LAMBDA };
    let gap = |pp: &Params<f64>, b: &nalgebra::DMatrix<f64>| (b - pp.w_out().transpose()).norm();
    let mut worst = 0.0f64;
    let mut moved = false; // the feedback must have received a non-zero gradient at least once
    for _ in 0..5 {
        let before = gap(&params, &ad.b);
        let g = credit_eprop::gradient(net, &params, seq, &Feedback::Matrix(ad.b.clone()))?.grad;
        moved |= alive(g.w_out());
        let largest = g.tensors.iter().map(|t| t.value.norm()).fold(0.0, f64::max);
        let lr = ADAPTIVE_STEP * before / largest.max(f64::MIN_POSITIVE);
        ad.update(&mut params, &g, lr);
        let ratio = gap(&params, &ad.b) / before;
        let err = ((ratio - (1.0 - ad.lambda)) / (1.0 - ad.lambda)).abs();
        worst = worst.max(if err.is_finite() { err } else { f64::INFINITY });
    }
    cx.push("adaptive-decay", "f64", "‖B−W_outᵀ‖ ratio".into(), worst, TOL_ADAPTIVE, moved);
    Ok(ad.b)
}
