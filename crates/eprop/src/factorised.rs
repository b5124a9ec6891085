//! The factorised gradient for given learning signals, Eqs. (E3)–(E4) of `docs/eprop.md`:
//! $$ \\frac{dE}{d\\theta_j} \\approx \\sum_t L_j^t\\, e_j^t . $$
//! With the **total** signal `L_j^t = dE/dz_j^t` (from BPTT or the oracle's taps) this is exact
//! for any cell — Bellec et al. (2020) Eq. (1), property P2. With the **partial** signal
//! `L^t = c B ȳ^{t+δ} + ∂E_reg/∂z^t` (readout path only, `ȳ^t = Σ_{t'≥t} κ^{t'-t} g^{t'}`) it is
//! non-causal e-prop,
//! which equals the causal form of [`crate::online`] (property P3).
//!
//! The readout tensors get their exact gradient (E6) in both cases.

use crate::traces::Eligibility;
use credit_core::{CellModel, ForwardOptions, Network, Params, Scalar, Sequence, Trajectory, forward};
use nalgebra::DVector;

/// `Σ_t L_j^t e_j^t` for the cell tensors (Eq. E3) plus the exact readout gradient (Eq. E6).
/// `signals[t]` is `L^t` for `t = 1..=T` (entry 0 is ignored).
pub fn gradient_with_signals<T: Scalar>(
    net: &Network,
    params: &Params<T>,
    seq: &Sequence,
    signals: &[DVector<T>],
) -> credit_core::Result<Params<T>> {
    let traj = forward(net, params, seq, ForwardOptions::default())?;
    if signals.len() != seq.len() + 1 || signals.iter().skip(1).any(|l| l.len() != net.n) {
        return Err(credit_core::Error::Shape {
            field: "learning signals".into(),
            expected: format!("{} vectors of length {}", seq.len() + 1, net.n),
            found: format!("{} vectors", signals.len()),
        });
    }
    Ok(factorise(net, params, &traj, signals))
}

/// Eqs. (E1)–(E3), (E6) along a stored trajectory with checked signals.
fn factorise<T: Scalar>(
    net: &Network,
    params: &Params<T>,
    traj: &Trajectory<T>,
    signals: &[DVector<T>],
) -> Params<T> {
    let w = params.cell_tensors(net);
    let kappa = T::c(net.readout.kappa);
    let c_out = T::c(net.readout.c());
    let lag = net.readout.lag();
    let mut grad = Params::zeros(net);
    let mut elig = Eligibility::new(net);
    let (mut z_bar, mut b_bar) = (DVector::<T>::zeros(net.n), T::zero());
    let k = net.n_cell_tensors();
    for t in 1..=traj.steps() {
        elig.step(&net.cell.jacobians(&w, &traj.states[t - 1], &traj.z[t - 1], &traj.x[t])); // Eq. (E1)
        let e = elig.traces(net, &traj.states[t]); // Eq. (E2)
        for j in 0..net.n {
            let row: Vec<T> = e.row(j).iter().map(|&v| v * signals[t][j]).collect();
            grad.add_local_row(net, j, &row); // Eq. (E3): L_j^t e_j^t
        }
        z_bar = &z_bar * kappa + &traj.z[t - lag] * c_out; // Eq. (E6)
        b_bar = b_bar * kappa + c_out;
        grad.tensors[k].value += &traj.dl_dy[t] * z_bar.transpose();
        grad.tensors[k + 1].value.column_mut(0).axpy(b_bar, &traj.dl_dy[t], T::one());
    }
    grad
}

/// The partial (readout-only) learning signals `L^t = c B ȳ^{t+δ}`, `ȳ^t = g^t + κ ȳ^{t+1}` (Eq. E4),
/// `t = 0..=T` (entry 0 is zero). Non-causal: it runs backwards over the stored trajectory.
pub fn partial_signals<T: Scalar>(
    net: &Network,
    params: &Params<T>,
    seq: &Sequence,
    feedback: &crate::Feedback<T>,
) -> credit_core::Result<Vec<DVector<T>>> {
    let traj = forward(net, params, seq, ForwardOptions::default())?;
    let b = crate::checked_feedback(net, params, feedback)?;
    Ok(signals_along(net, &traj, &b))
}

/// Eq. (E4) along a stored trajectory, with the feedback matrix `b` already checked.
fn signals_along<T: Scalar>(
    net: &Network,
    traj: &Trajectory<T>,
    b: &nalgebra::DMatrix<T>,
) -> Vec<DVector<T>> {
    let steps = traj.steps();
    let kappa = T::c(net.readout.kappa);
    let c_out = T::c(net.readout.c());
    let lag = net.readout.lag();
    let mut out = vec![DVector::zeros(net.n); steps + 1];
    let mut y_bar = vec![DVector::<T>::zeros(net.n_out); steps + 2]; // ȳ^{T+1} = 0
    for t in (1..=steps).rev() {
        y_bar[t] = &traj.dl_dy[t] + &y_bar[t + 1] * kappa; // ȳ^t
        // Eq. (E4): L^t = c B ȳ^{t+δ} + ∂E_reg/∂z^t (Eq. Y5; zero without regularisation)
        out[t] = b * &y_bar[t + lag] * c_out + &traj.reg_signal;
    }
    out
}

/// Non-causal e-prop: [`gradient_with_signals`] with [`partial_signals`].
pub fn gradient_noncausal<T: Scalar>(
    net: &Network,
    params: &Params<T>,
    seq: &Sequence,
    feedback: &crate::Feedback<T>,
) -> credit_core::Result<Params<T>> {
    // one forward pass serves both the signals and the traces
    let traj = forward(net, params, seq, ForwardOptions::default())?;
    let b = crate::checked_feedback(net, params, feedback)?;
    Ok(factorise(net, params, &traj, &signals_along(net, &traj, &b)))
}
