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
//! Both use the core's [`credit_core::online::OnlineReadout`] for the readout (Y1) and its exact
//! gradient (`docs/eprop.md` (E6) = `docs/rtrl.md` (T5), §7), and share the filtered trace
//! update (RF2)–(RF3) / (K5) and the checks and loop of `gradient` (this module).
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
use credit_core::online::for_each_step;
use credit_core::{Network, Params, Scalar, Sequence};
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

/// The filtered trace and its update, shared by RFLO and KeRNL (KeRNL's (K5) is RFLO's
/// (RF2)–(RF3) with the signal `Aᵀ q^t` in place of `q^t`): `B̄^t = κ B̄^{t−1} + B^t` (Eq. RF2 /
/// K5), then `ΔW_{ij} += signal_i B̄_{ij}^{t−δ}` (Eq. RF3 / K5) into the cell tensors of `grad`
/// (row `i` in neuron `i`'s local layout `w_in | w_rec | b`).
pub(crate) fn filtered_update<T: Scalar>(
    net: &Network,
    trace: &DMatrix<T>,
    trace_bar: &mut DMatrix<T>,
    signal: &DVector<T>,
    grad: &mut Params<T>,
) {
    let prev = std::mem::replace(trace_bar, DMatrix::zeros(0, 0));
    *trace_bar = &prev * T::c(net.readout.kappa) + trace; // Eq. (RF2) / (K5)
    let read = if net.readout.lag() == 0 { &*trace_bar } else { &prev }; // B̄^{t−δ}
    for i in 0..net.n {
        let row: Vec<T> = read.row(i).iter().map(|&v| v * signal[i]).collect();
        grad.add_local_row(net, i, &row); // Eq. (RF3) / (K5)
    }
}

/// The checks and the loop shared by [`rflo::gradient`] and [`kernl::gradient`]: the feedback
/// (`feedback.B`), `params` and `seq` validated, then `step(w, fb, x^t, y^{*t}, m^t)` for every
/// step with the cell tensors `w` and the feedback in `T`.
pub(crate) fn run<T: Scalar>(
    net: &Network,
    params: &Params<T>,
    seq: &Sequence,
    fb: &DMatrix<f64>,
    mut step: impl FnMut(&[DMatrix<T>], &DMatrix<T>, &DVector<T>, &DVector<T>, T),
) -> credit_core::Result<()> {
    check_feedback(net, fb)?;
    params.validate(net)?;
    seq.validate(net)?;
    let (w, fb) = (params.cell_tensors(net), fb.map(T::c));
    for_each_step(seq, |_, x, target, mask| step(&w, &fb, x, target, mask));
    Ok(())
}
