//! RFLO (Murray 2019), Eqs. (RF1)–(RF3) of `docs/rflo.md`:
//! $$ B_{ij}^t = (1 - \\alpha_r) B_{ij}^{t-1} + \\alpha_r \\varphi'(u_i^t)\\, \\hat a_j^t \\quad\\text{(RF1)} $$
//! $$ \\bar B^t = \\kappa \\bar B^{t-1} + B^t \\quad\\text{(RF2)}, \\qquad
//!    \\Delta W_{ij} \\mathrel{+}= q_i^t\\, \\bar B_{ij}^{t-\\delta}, \\quad q^t = c\\, W_{FB}^\\top g^t \\quad\\text{(RF3)} $$
//! with `â^t = [x^t; z^{t−1}; 1]` (neuron `i`'s local parameter layout `w_in | w_rec | b`),
//! `W_FB^T = B_fb` the `N × K` feedback matrix, `g^t = m^t ∂E^t/∂y^t`; the readout gradient is
//! exact (`docs/eprop.md` (E6)). `α_r` is the trace's own decay (vanilla-rtrl's `alpha`
//! argument, "typically equal to alpha for the network"); (RF2) is the leaky readout's filter,
//! the identity for `κ = 0, δ = 0` (Murray's instantaneous readout).

use crate::{Estimate, drive, filtered_update, rate_alpha, run, tanh_prime};
use credit_core::online::OnlineReadout;
use credit_core::{CellModel, CellState, Network, Params, Scalar, Sequence};
use nalgebra::{DMatrix, DVector};

/// The online state of RFLO after `t` steps.
#[derive(Clone, Debug)]
pub struct Rflo<T: Scalar> {
    /// The trace decay `α_r`.
    pub alpha_r: f64,
    /// Cell state at `t`.
    pub cell: CellState<T>,
    /// `z^t`.
    pub z: DVector<T>,
    /// `B^t`, `N × P_loc` (Eq. RF1).
    pub trace: DMatrix<T>,
    /// `B̄^t` (Eq. RF2).
    pub trace_bar: DMatrix<T>,
    /// `y^t`, and `z̄^t`, `b̄^t` for the exact readout gradient (eprop.md Eq. (E6); the core's
    /// shared [`OnlineReadout`]).
    pub readout: OnlineReadout<T>,
    /// Steps consumed.
    pub steps: usize,
    /// Accumulated loss.
    pub loss: T,
    /// Accumulated gradient estimate.
    pub grad: Params<T>,
}

impl<T: Scalar> Rflo<T> {
    /// The state at `t = 0` with trace decay `alpha_r ∈ (0, 1]`.
    pub fn new(net: &Network, alpha_r: f64) -> credit_core::Result<Self> {
        rate_alpha(net)?;
        if !(alpha_r.is_finite() && alpha_r > 0.0 && alpha_r <= 1.0) {
            return Err(credit_core::Error::Invalid {
                field: "rflo.alpha".into(),
                value: alpha_r.to_string(),
                requirement: "the trace decay must lie in (0, 1]",
            });
        }
        Ok(Rflo {
            alpha_r,
            cell: CellState::zeros(net.n, 1, false),
            z: DVector::zeros(net.n),
            trace: DMatrix::zeros(net.n, net.p_loc()),
            trace_bar: DMatrix::zeros(net.n, net.p_loc()),
            readout: OnlineReadout::for_network(net),
            steps: 0,
            loss: T::zero(),
            grad: Params::zeros(net),
        })
    }

    /// Scalars held; independent of the steps consumed.
    pub fn len_scalars(&self) -> usize {
        self.cell.h.len()
            + self.z.len()
            + self.trace.len()
            + self.trace_bar.len()
            + self.readout.len_scalars()
            + 2
            + self.grad.len()
    }

    /// One step with feedback `fb` (`N × K`, the transpose of Murray's `W_FB`).
    pub fn step(
        &mut self,
        net: &Network,
        params: &Params<T>,
        w: &[DMatrix<T>],
        fb: &DMatrix<T>,
        x: &DVector<T>,
        target: &DVector<T>,
        mask: T,
    ) {
        let (c_out, lag) = (T::c(net.readout.c()), net.readout.lag());
        let a_r = T::c(self.alpha_r);
        let (u, a_hat) = drive(w, &self.z, x);
        for i in 0..net.n {
            let m = a_r * tanh_prime(u[i]); // α_r φ'(u_i^t)
            for j in 0..a_hat.len() {
                self.trace[(i, j)] = (T::one() - a_r) * self.trace[(i, j)] + m * a_hat[j]; // Eq. (RF1)
            }
        }
        let cell = net.cell.step(w, &self.cell, &self.z, x, &Default::default());
        let z = net.cell.output(&cell);
        let z_read = if lag == 0 { &z } else { &self.z }; // z^{t−δ}
        let (w_out, b_out) = (params.w_out(), params.b_out());
        let (e, g) = self.readout.observe(&net.readout, &net.loss, w_out, b_out, z_read, target, mask); // Eq. (Y1)
        self.loss += e;
        let q = fb * &g * c_out; // Eq. (RF3): q^t = c W_FBᵀ g^t
        filtered_update(net, &self.trace, &mut self.trace_bar, &q, &mut self.grad); // Eqs. (RF2), (RF3)
        self.readout.add_exact_grad(&net.readout, z_read, &g, &mut self.grad); // eprop.md Eq. (E6)
        self.steps += 1;
        self.cell = cell;
        self.z = z;
    }
}

/// RFLO's gradient estimate of `seq` with feedback `fb` (`N × K`) and trace decay `alpha_r`.
pub fn gradient<T: Scalar>(
    net: &Network,
    params: &Params<T>,
    seq: &Sequence,
    fb: &DMatrix<f64>,
    alpha_r: f64,
) -> credit_core::Result<Estimate<T>> {
    let mut st = Rflo::new(net, alpha_r)?;
    run(net, params, seq, fb, |w, fb, x, target, mask| st.step(net, params, w, fb, x, target, mask))?;
    Ok(Estimate { loss: st.loss, grad: st.grad })
}
