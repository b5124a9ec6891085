//! # credit-rflo — RFLO and KeRNL on the leaky rate RNN
//!
//! Literal transcriptions of `docs/rflo.md`:
//!
//! * [`rflo`]: random-feedback local online learning (Murray, "Local online learning in
//!   recurrent networks with random feedback", eLife 8:e43299, 2019), Eqs. (RF1)–(RF3);
//! * [`kernl`]: kernel RNN learning (Roth, Kanitscheider & Fiete, "Kernel RNN learning
//!   (KeRNL)", ICLR 2019), Eqs. (K1)–(K5): RFLO's trace with a learned timescale per neuron and a
//!   learned mixing matrix `A`, both fitted online to the network's response to perturbations.
//!
//! One crate because KeRNL *is* RFLO's trace generalised (with `A = I`, `α_i = α` and zero
//! learning rates it is RFLO exactly — the test `test_kernl_reduce_rflo` of the authors'
//! review code `omarschall/vanilla-rtrl`, relation `kernl-fixed=rflo`).
//!
//! ## Requirements
//! The leaky rate cell only ([`credit_core::cell::Rate`]): both traces are written for
//! `h^t = (1 − α) h^{t−1} + α φ(u^t)` with `D = (1 − α) I` and the immediate influence
//! `α φ'(u_i) â_j`; on a spiking or LSTM cell their analogue is e-prop's trace
//! (`credit-eprop`), which uses the cell's own `D`. Any other cell is refused
//! (`network.cell`), as is the firing-rate regulariser (`network.reg`). Any [`Scalar`].
//! Online: each state holds `O(N·P_loc)` numbers (KeRNL adds `N² + 4N`), independent of `T`.

pub mod kernl;
pub mod rflo;

pub use kernl::{Kernl, KernlConfig};
pub use rflo::Rflo;

use credit_core::cell::Cell;
use credit_core::{Network, Params, Scalar};
use nalgebra::{DMatrix, DVector};

/// What a run returns.
#[derive(Clone, Debug, PartialEq)]
pub struct Estimate<T: Scalar> {
    /// The loss `E = Σ_t m^t E^t`.
    pub loss: T,
    /// The gradient estimate (the readout tensors are exact).
    pub grad: Params<T>,
}

/// The leak `α` of a rate network, or the typed error of any other cell or a regulariser.
pub(crate) fn rate_alpha(net: &Network) -> credit_core::Result<f64> {
    net.validate()?;
    if net.reg.is_some() {
        return Err(credit_core::Error::Invalid {
            field: "network.reg".into(),
            value: "a firing-rate regulariser".into(),
            requirement: "RFLO and KeRNL are defined with per-step losses only",
        });
    }
    match &net.cell {
        Cell::Rate(r) => Ok(r.alpha),
        other => Err(credit_core::Error::Invalid {
            field: "network.cell".into(),
            value: credit_core::CellModel::id(other).into(),
            requirement: "RFLO and KeRNL are defined for the leaky rate RNN (D = (1 − α) I); use e-prop elsewhere",
        }),
    }
}

/// The feedback matrix, checked: `N × K`, finite.
pub(crate) fn check_feedback(net: &Network, b: &DMatrix<f64>) -> credit_core::Result<()> {
    if b.shape() != (net.n, net.n_out) {
        return Err(credit_core::Error::Shape {
            field: "feedback.B".into(),
            expected: format!("{}×{}", net.n, net.n_out),
            found: format!("{}×{}", b.nrows(), b.ncols()),
        });
    }
    if let Some(k) = b.iter().position(|v| !v.is_finite()) {
        return Err(credit_core::Error::NonFinite {
            field: "feedback.B".into(),
            index: format!("({}, {})", k % net.n, k / net.n),
            value: b[k],
        });
    }
    Ok(())
}

/// `u^t = W_in x^t + W_rec z^{t−1} + b` (Eq. R1 of `docs/cells.md`, recomputed from the
/// weights: the rules never call the cell's Jacobians) and `â^t = [x^t; z^{t−1}; 1]`, the
/// presynaptic vector in the layout of neuron `i`'s local parameters (`w_in | w_rec | b`).
pub(crate) fn drive<T: Scalar>(
    w: &[DMatrix<T>],
    z_prev: &DVector<T>,
    x: &DVector<T>,
) -> (DVector<T>, DVector<T>) {
    let u = &w[0] * x + &w[1] * z_prev + w[2].column(0);
    let mut a_hat = DVector::zeros(x.len() + z_prev.len() + 1);
    a_hat.rows_mut(0, x.len()).copy_from(x);
    a_hat.rows_mut(x.len(), z_prev.len()).copy_from(z_prev);
    a_hat[x.len() + z_prev.len()] = T::one();
    (u, a_hat)
}

/// `φ'(u) = 1 − tanh²(u)`.
pub(crate) fn tanh_prime<T: Scalar>(u: T) -> T {
    let t = u.stable_tanh();
    T::one() - t * t
}
