//! # credit-bptt — backpropagation through time
//!
//! A literal transcription of the reverse recursion of `docs/bptt.md` (the BPTT of
//! equations.md §2 in the shared notation), for any cell of `credit-core` and any scalar:
//!
//! $$ \\bar y^t = m^t\\,\\partial E^t/\\partial y^t + \\kappa\\, \\bar y^{t+1} \\quad\\text{(B1)} $$
//! $$ \\frac{dE}{dW^{out}} = c \\sum_t \\bar y^t (z^{t-\\delta})^\\top, \\quad
//!    \\frac{dE}{db^{out}} = c \\sum_t \\bar y^t \\quad\\text{(B2)} $$
//! $$ \\frac{\\partial E}{\\partial z^t} = c\\, (W^{out})^\\top \\bar y^{t+\\delta} \\quad\\text{(B3)} $$
//! $$ \\delta^t := \\frac{dE}{dz^t} = \\frac{\\partial E}{\\partial z^t} +
//!    \\Big(\\frac{\\partial M^{t+1}}{\\partial z^t}\\Big)^\\top \\lambda^{t+1} \\quad\\text{(B4)} $$
//! $$ \\lambda_j^t := \\frac{dE}{dh_j^t} = \\delta_j^t \\Big(\\frac{\\partial z_j^t}{\\partial h_j^t}\\Big)^\\top +
//!    (D_{jj}^{t+1})^\\top \\lambda_j^{t+1}, \\qquad \\lambda^{T+1} = 0 \\quad\\text{(B5)} $$
//! $$ \\frac{dE}{d\\theta_j} = \\sum_t (I_j^t)^\\top \\lambda_j^t \\quad\\text{(B6)} $$
//!
//! `c` and `δ` are the readout's prefactor and delay (Eq. Y1; default 1 and 0). With firing-rate
//! regularisation (Eq. Y5) its partial derivative `∂E_reg/∂z^t` is added in (B3).
//!
//! ## Requirements
//! Any [`credit_core::Cell`]; any [`Scalar`] (`f32`, `f64`, `Dual64`, …). Memory `O(T·N·d)`
//! for the stored trajectory; compute `O(T·N²)` plus the local Jacobians.
//!
//! ## Reference
//! Werbos (1990), "Backpropagation through time: what it does and how to do it", Proc. IEEE
//! 78(10). The D/R split of the recursion follows Bellec et al. (2020), Methods; derivation in
//! `docs/bptt.md`.
//!
//! ```
//! use credit_core::{cell::{Cell, Rate}, Loss, Network, Params, Readout, Sequence};
//! let net = Network::new(Cell::Rate(Rate { alpha: 1.0 }), 2, 3, 1, Readout::leaky(0.5), Loss::Mse)?;
//! let (p, seq) = (Params::<f64>::random(&net, 3)?, Sequence::random(&net, 6, 3)?);
//! let out = credit_bptt::gradient(&net, &p, &seq)?;
//! assert_eq!(out.grad.get("w_rec").unwrap().shape(), (3, 3));
//! assert_eq!(out.learning_signal.len(), 7); // dE/dz^t for t = 0..=T
//! # Ok::<(), credit_core::Error>(())
//! ```

pub mod fast;
mod fast_stack;
pub mod stack;

/// Fast BPTT ([`fast::gradient`]): equal to [`gradient`] (loss and gradient), `docs/fast.md` §3.
pub use fast::gradient as fast;

use credit_core::{CellModel, ForwardOptions, LocalJacobians, Network, Params, Scalar, Sequence, forward};
use nalgebra::DVector;

/// What BPTT returns.
#[derive(Clone, Debug, PartialEq)]
pub struct Bptt<T: Scalar> {
    /// The loss `E`.
    pub loss: T,
    /// `dE/dθ` for every parameter tensor.
    pub grad: Params<T>,
    /// The total learning signals `δ^t = dE/dz^t` of Eq. (B4), `t = 0..=T` (entry 0 unused).
    pub learning_signal: Vec<DVector<T>>,
    /// The adjoints `λ^t = dE/dh^t` of Eq. (B5), `t = 0..=T` (entry 0 unused).
    pub lambda: Vec<DVector<T>>,
}

/// BPTT gradient of the loss of `seq` (weights frozen over the sequence).
pub fn gradient<T: Scalar>(
    net: &Network,
    params: &Params<T>,
    seq: &Sequence,
) -> credit_core::Result<Bptt<T>> {
    let traj = forward(net, params, seq, ForwardOptions::default())?;
    let (steps, n, d) = (seq.len(), net.n, net.d());
    let w = params.cell_tensors(net);
    let w_out = params.w_out();
    let kappa = T::c(net.readout.kappa);
    let mut grad = Params::zeros(net);
    let n_cell = net.n_cell_tensors();
    let mut learning_signal = vec![DVector::zeros(n); steps + 1];
    let mut lambda = vec![DVector::zeros(n * d); steps + 1];
    let c_out = T::c(net.readout.c());
    let lag = net.readout.lag();
    let mut y_bar_next = DVector::<T>::zeros(net.n_out); // ȳ^{T+1} = 0
    let mut lam_next = DVector::<T>::zeros(n * d); // λ^{T+1} = 0
    let mut jac_next: Option<LocalJacobians<T>> = None; // the step T+1 does not exist
    let mut local = vec![T::zero(); net.p_loc()];
    for t in (1..=steps).rev() {
        let y_bar = &traj.dl_dy[t] + &y_bar_next * kappa; // Eq. (B1)
        let z_read = &traj.z[t - lag]; // z^{t-δ}
        grad.tensors[n_cell].value += &y_bar * z_read.transpose() * c_out; // Eq. (B2), W_out
        grad.tensors[n_cell + 1].value.column_mut(0).axpy(c_out, &y_bar, T::one()); // Eq. (B2), b_out
        // Eq. (B3): ∂E/∂z^t = c W_outᵀ ȳ^{t+δ}
        let mut delta = w_out.tr_mul(if lag == 0 { &y_bar } else { &y_bar_next }) * c_out;
        delta += &traj.reg_signal; // Eq. (B3): + ∂E_reg/∂z^t (Eq. Y5; zero without regularisation)
        let z_h = net.cell.output_jacobian(&traj.states[t]);
        let mut lam = DVector::zeros(n * d);
        if let Some(jn) = &jac_next {
            delta += jn.m_z.tr_mul(&lam_next); // Eq. (B4)
            for j in 0..n {
                let lj = jn.d[j].tr_mul(&lam_next.rows(j * d, d)); // Eq. (B5), (D^{t+1})ᵀ λ^{t+1}
                lam.rows_mut(j * d, d).copy_from(&lj);
            }
        }
        for j in 0..n {
            for c in 0..d {
                lam[j * d + c] += delta[j] * z_h[(j, c)]; // Eq. (B5), δ_j ∂z_j/∂h_j
            }
        }
        let jac = net.cell.jacobians(&w, &traj.states[t - 1], &traj.z[t - 1], &traj.x[t]);
        for j in 0..n {
            let g = jac.i[j].tr_mul(&lam.rows(j * d, d)); // Eq. (B6), (I_j^t)ᵀ λ_j^t
            local.iter_mut().zip(g.iter()).for_each(|(a, &b)| *a = b);
            grad.add_local_row(net, j, &local);
        }
        learning_signal[t] = delta;
        lambda[t] = lam.clone();
        lam_next = lam;
        jac_next = Some(jac);
        y_bar_next = y_bar;
    }
    Ok(Bptt { loss: traj.loss, grad, learning_signal, lambda })
}
