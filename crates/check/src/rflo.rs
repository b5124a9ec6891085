//! The RFLO and KeRNL relations (issue 15), properties P10–P11 of the design notes;
//! `docs/rflo.md`. Rate cells only (both rules are defined for the leaky rate RNN); a
//! regularised config is compared without its regulariser (both rules refuse it).
//!
//! | id | compared | expect |
//! |---|---|---|
//! | `rflo=eprop-random` | RFLO (`α_r = α`, `W_FBᵀ` = the config's random `B`) vs random e-prop (online, generic Jacobians) (P10) | equal (1e-12) |
//! | `kernl-fixed=rflo` | KeRNL with `A = I`, `α_i = α`, zero learning rates vs RFLO (P11); and with the fixed non-symmetric [`fixed_a`] vs RFLO with feedback `Aᵀ B` (the signal `Aᵀ q` of (K5)) | equal (1e-12) |
//! | `rflo!=bptt` | RFLO vs BPTT on generic nets (cell tensors) | differ |
//! | `kernl!=bptt` | KeRNL learning `A` and `α_i` ([`LEARNING`]) vs BPTT on generic nets (cell tensors) | differ |

use crate::compare::worst_tensor;
use crate::eprop::TOL_DIFFER;
use crate::relations::{Ctx, Expect};
use crate::suite::Role;
use credit_core::cell::Cell;
use credit_core::{Network, Params, Sequence};
use credit_eprop::Feedback;
use credit_rflo::KernlConfig;
use nalgebra::DMatrix;

/// Tolerance of the RFLO/KeRNL equalities (1e-12 relative per tensor).
pub const TOL_RFLO: f64 = 1e-12;

/// The KeRNL run of `kernl!=bptt`: perturbations of `σ = 0.05`, learning rates `0.5`.
pub const LEARNING: KernlConfig =
    KernlConfig { a0: None, alpha0: None, lr_a: 0.5, lr_alpha: 0.5, sigma: 0.05, seed: 15 };

/// The ids of this module's relations.
pub const IDS: &[&str] = &["rflo=eprop-random", "kernl-fixed=rflo", "rflo!=bptt", "kernl!=bptt"];

/// The fixed non-symmetric `A` of `kernl-fixed=rflo`'s second run: `I` plus
/// `0.3 sin(i + 2j + 1)` off the diagonal.
pub fn fixed_a(n: usize) -> DMatrix<f64> {
    DMatrix::from_fn(n, n, |i, j| if i == j { 1.0 } else { 0.3 * ((i + 2 * j + 1) as f64).sin() })
}

fn cell_only(p: &Params<f64>, nc: usize) -> Params<f64> {
    Params { tensors: p.tensors[..nc].to_vec() }
}

pub(crate) fn rows(
    cx: &mut Ctx,
    p: &Params<f64>,
    seq: &Sequence,
    bptt: &Params<f64>,
) -> credit_core::Result<()> {
    let net = &cx.cfg.net.clone();
    let Cell::Rate(rate) = &net.cell else { return Ok(()) };
    let alpha = rate.alpha;
    let nc = net.n_cell_tensors();
    let plain = Network { reg: None, ..net.clone() };
    let fb = cx.cfg.feedback.clone().unwrap_or_else(|| credit_eprop::random_feedback(net, cx.cfg.seed));
    let rflo = credit_rflo::rflo::gradient(&plain, p, seq, &fb, alpha)?;
    if cx.select.wants("rflo=eprop-random") {
        let ep = credit_eprop::gradient(&plain, p, seq, &Feedback::Matrix(fb.clone()))?;
        cx.tensors("rflo=eprop-random", "f64", "", &rflo.grad, &ep.grad, TOL_RFLO);
    }
    if cx.select.wants("kernl-fixed=rflo") {
        let k = credit_rflo::kernl::gradient(&plain, p, seq, &fb, &KernlConfig::fixed(cx.cfg.seed))?;
        cx.tensors("kernl-fixed=rflo", "f64", "A=I, α_i=α, η=0: ", &k.grad, &rflo.grad, TOL_RFLO);
        // a fixed non-symmetric A: Aᵀ q = c (Aᵀ B) g, so KeRNL with B = RFLO with Aᵀ B (with
        // A = I, A and Aᵀ cannot be told apart)
        let a = fixed_a(net.n);
        let cfg = KernlConfig { a0: Some(a.clone()), ..KernlConfig::fixed(cx.cfg.seed) };
        let k = credit_rflo::kernl::gradient(&plain, p, seq, &fb, &cfg)?;
        let r = credit_rflo::rflo::gradient(&plain, p, seq, &(a.transpose() * &fb), alpha)?;
        cx.tensors(
            "kernl-fixed=rflo",
            "f64",
            "A fixed non-symmetric, RFLO with AᵀB: ",
            &k.grad,
            &r.grad,
            TOL_RFLO,
        );
    }
    if cx.cfg.role == Role::Generic && cx.select.any(&["rflo!=bptt", "kernl!=bptt"]) {
        let exact =
            if net.reg.is_some() { credit_bptt::gradient(&plain, p, seq)?.grad } else { bptt.clone() };
        let exact = cell_only(&exact, nc);
        let learning = credit_rflo::kernl::gradient(&plain, p, seq, &fb, &LEARNING)?;
        for (id, g) in [("rflo!=bptt", &rflo.grad), ("kernl!=bptt", &learning.grad)] {
            let (e, name, live) = worst_tensor(&cell_only(g, nc).tensors, &exact.tensors);
            let tensor = format!("max over cell tensors ({name})");
            cx.push_expect(id, Expect::Differ, "f64", tensor, e, TOL_DIFFER, live);
        }
    }
    Ok(())
}
