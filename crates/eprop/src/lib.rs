//! # credit-eprop — e-prop (Bellec et al. 2020)
//!
//! Eligibility propagation as a literal transcription of `docs/eprop.md`, for any cell of
//! `credit-core` and any scalar:
//!
//! * [`traces`]: generic eligibility vectors `ε^t = D^t ε^{t-1} + I^t` and traces
//!   `e^t = (∂z^t/∂h^t) ε^t` (E1)–(E2), from the cell's local Jacobians alone;
//! * [`literal`]: the paper's LIF and ALIF traces written out (E7)–(E10), independent of the
//!   generic code;
//! * [`factorised`]: the gradient `Σ_t L_j^t e_j^t` for *given* learning signals (E3) — with the
//!   total signal `L = dE/dz` this is Bellec's exact factorisation (Eq. 1 of the paper), with
//!   the partial signal `L^t = c B ȳ^{t+δ} (+ ∂E_reg/∂z^t)` the non-causal form of e-prop (E4);
//! * [`online`]: the causal online form with the instantaneous error and κ-filtered traces
//!   (E5)–(E6): what a chip or a simulator runs;
//! * [`feedback`]: symmetric (`B = W_outᵀ`), random (fixed `B` from a seed) and adaptive
//!   (Kolen–Pollack, E11) learning-signal feedback.
//!
//! ## Requirements
//! Any cell (`rate`, `lif`, `alif`, `lstm`); any [`credit_core::Scalar`]. The online form keeps
//! `O(N·d·P_loc)` numbers (the eligibility vectors) and costs `O(N·d²·P_loc)` per step.
//!
//! ## Reference
//! G. Bellec, F. Scherr, A. Subramoney, E. Hajek, D. Salaj, R. Legenstein, W. Maass, "A solution
//! to the learning dilemma for recurrent networks of spiking neurons", Nature Communications
//! 11:3625 (2020); authors' code `IGITUGraz/eligibility_propagation`. Derivation and the map of
//! equations to lines: `docs/eprop.md`.
//!
//! ```
//! use credit_core::{cell::{Cell, Rate}, Loss, Network, Params, Readout, Sequence};
//! use credit_eprop::Feedback;
//! let net = Network::new(Cell::Rate(Rate { alpha: 0.3 }), 2, 4, 1, Readout::leaky(0.8), Loss::Mse)?;
//! let (p, seq) = (Params::<f64>::random(&net, 1)?, Sequence::random(&net, 10, 1)?);
//! let online = credit_eprop::gradient(&net, &p, &seq, &Feedback::Symmetric)?;
//! let noncausal = credit_eprop::gradient_noncausal(&net, &p, &seq, &Feedback::Symmetric)?;
//! // the causal rewrite with κ-filtered traces is exact (property P3)
//! let (a, b) = (online.grad.get("w_rec").unwrap(), noncausal.get("w_rec").unwrap());
//! assert!((a - b).amax() <= 1e-12 * b.amax());
//! # Ok::<(), credit_core::Error>(())
//! ```

pub mod factorised;
pub mod fast;
pub mod feedback;
pub mod literal;
pub mod online;
pub mod traces;

pub use factorised::{gradient_noncausal, gradient_with_signals, partial_signals};
pub use feedback::{Adaptive, Feedback, random_feedback};
pub use online::Online;

/// Fast online e-prop ([`fast::gradient`]): equal to [`gradient`] (loss and gradient),
/// `docs/fast.md` §4.
pub use fast::gradient as fast;

use credit_core::{Network, Params, Scalar, Sequence};

/// e-prop gradient of `seq` in the causal online form (Eqs. E5–E6), weights frozen over the
/// sequence. Validates its inputs (and the shape of a given feedback matrix).
pub fn gradient<T: Scalar>(
    net: &Network,
    params: &Params<T>,
    seq: &Sequence,
    feedback: &Feedback<T>,
) -> credit_core::Result<Online<T>> {
    net.validate()?;
    params.validate(net)?;
    seq.validate(net)?;
    let b = checked_feedback(net, params, feedback)?;
    Ok(online::run(net, params, seq, &b))
}

pub(crate) fn checked_feedback<T: Scalar>(
    net: &Network,
    params: &Params<T>,
    feedback: &Feedback<T>,
) -> credit_core::Result<nalgebra::DMatrix<T>> {
    let b = feedback.matrix(params);
    if b.shape() != (net.n, net.n_out) {
        return Err(credit_core::Error::Shape {
            field: "feedback.B".into(),
            expected: format!("{}×{}", net.n, net.n_out),
            found: format!("{}×{}", b.nrows(), b.ncols()),
        });
    }
    if let Some(v) = b.iter().find(|v| !v.is_finite_value()) {
        return Err(credit_core::Error::NonFinite {
            field: "feedback.B".into(),
            index: "-".into(),
            value: v.value(),
        });
    }
    Ok(b)
}
