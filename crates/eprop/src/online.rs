//! The causal online form of e-prop, Eqs. (E5), (E6), (E12) of `docs/eprop.md`:
//! $$ L_j^t = c \\sum_k B_{jk}\\, g_k^t, \\quad g^t = m^t \\frac{\\partial E^t}{\\partial y^t}, \\qquad
//!    \\bar e_j^t = \\kappa \\bar e_j^{t-1} + e_j^t, \\qquad
//!    \\Delta_{\\theta_j} \\mathrel{+}= L_j^t \\bar e_j^{t-\\delta} , $$
//! with the exact readout gradient `Σ_t g^t (z̄^t)ᵀ`, `z̄^t = κ z̄^{t-1} + c z^{t-δ}`; `c`, `δ`
//! are the readout's prefactor and delay (Eq. Y1; default 1 and 0).
//!
//! **Online in the strict sense:** [`Online::step`] consumes one time step and keeps only the
//! cell state, `z^{t-1}`, `y^{t-1}`, the eligibility vectors `ε` (`N·d·P_loc`), the filtered
//! traces `ē` (`N·P_loc`), `z̄`, `b̄` and the running gradient. No history is stored.

use crate::traces::Eligibility;
use credit_core::{CellModel, CellState, Network, Params, Scalar, Sequence};
use nalgebra::{DMatrix, DVector};

/// The online state after `t` steps.
#[derive(Clone, Debug)]
pub struct Online<T: Scalar> {
    /// Cell state at `t`.
    pub cell: CellState<T>,
    /// `z^t`.
    pub z: DVector<T>,
    /// `y^t`.
    pub y: DVector<T>,
    /// Eligibility vectors `ε^t`.
    pub eligibility: Eligibility<T>,
    /// Traces `e^t` of the last step (`N × P_loc`), kept for inspection.
    pub e: DMatrix<T>,
    /// κ-filtered traces `ē^t` (`N × P_loc`).
    pub e_bar: DMatrix<T>,
    /// κ-filtered outputs `z̄^t`.
    pub z_bar: DVector<T>,
    /// κ-filtered constant `b̄^t`.
    pub b_bar: T,
    /// The learning signal `L^t` of the last step.
    pub signal: DVector<T>,
    /// `Σ_t z^t` (firing-rate regulariser, Eq. E12).
    pub z_sum: DVector<T>,
    /// `Σ_t e^t`, unfiltered (`N × P_loc`; firing-rate regulariser, Eq. E12).
    pub e_sum: DMatrix<T>,
    /// Steps consumed.
    pub steps: usize,
    /// Accumulated loss.
    pub loss: T,
    /// Accumulated gradient estimate.
    pub grad: Params<T>,
}

impl<T: Scalar> Online<T> {
    /// State at `t = 0`.
    pub fn new(net: &Network) -> Self {
        Online {
            cell: CellState::zeros(net.n, net.d(), net.cell.is_spiking()),
            z: DVector::zeros(net.n),
            y: DVector::zeros(net.n_out),
            eligibility: Eligibility::new(net),
            e: DMatrix::zeros(net.n, net.p_loc()),
            e_bar: DMatrix::zeros(net.n, net.p_loc()),
            z_bar: DVector::zeros(net.n),
            b_bar: T::zero(),
            signal: DVector::zeros(net.n),
            z_sum: DVector::zeros(net.n),
            e_sum: DMatrix::zeros(net.n, net.p_loc()),
            steps: 0,
            loss: T::zero(),
            grad: Params::zeros(net),
        }
    }

    /// Ends the sequence: the firing-rate regulariser's signal `∂E_reg/∂z_j` (Eq. Y5, the same
    /// at every step) multiplies the **unfiltered** traces, `Δθ_j += (∂E_reg/∂z_j) Σ_t e_j^t`
    /// (Eq. E12); its loss is added.
    pub fn finish(&mut self, net: &Network) {
        let Some(reg) = &net.reg else { return };
        let (e, g) = reg.value_and_grad(&self.z_sum, self.steps);
        self.loss += e;
        for j in 0..net.n {
            let row: Vec<T> = self.e_sum.row(j).iter().map(|&v| v * g[j]).collect();
            self.grad.add_local_row(net, j, &row); // Eq. (E12)
        }
    }

    /// Number of scalars this state holds. It depends on the network only, never on how many
    /// steps were consumed (the test of "online in the strict sense").
    pub fn len_scalars(&self) -> usize {
        self.cell.h.len()
            + self.z.len()
            + self.y.len()
            + self.eligibility.eps.iter().map(|e| e.len()).sum::<usize>()
            + self.e.len()
            + self.e_bar.len()
            + self.z_bar.len()
            + 1
            + self.signal.len()
            + self.z_sum.len()
            + self.e_sum.len()
            + 2
            + self.grad.len()
    }

    /// One step with input `x^t`, target and mask, feedback matrix `b` (`N × K`).
    pub fn step(
        &mut self,
        net: &Network,
        params: &Params<T>,
        w: &[DMatrix<T>],
        b: &DMatrix<T>,
        x: &DVector<T>,
        target: &DVector<T>,
        mask: T,
    ) {
        let kappa = T::c(net.readout.kappa);
        let c_out = T::c(net.readout.c());
        let lag = net.readout.lag();
        let jac = net.cell.jacobians(w, &self.cell, &self.z, x);
        let cell = net.cell.step(w, &self.cell, &self.z, x, &Default::default());
        self.eligibility.step(&jac); // Eq. (E1)
        let e = self.eligibility.traces(net, &cell); // Eq. (E2)
        let z = net.cell.output(&cell);
        let z_read = if lag == 0 { &z } else { &self.z }; // z^{t-δ}
        let y = net.readout.next(&self.y, params.w_out(), params.b_out(), z_read); // Eq. (Y1)
        let (err, g) = net.loss.value_and_grad(&y, target);
        let g = g * mask; // g^t = m^t ∂E^t/∂y^t
        self.loss += err * mask;
        let e_bar_prev = std::mem::replace(&mut self.e_bar, DMatrix::zeros(0, 0));
        self.e_bar = &e_bar_prev * kappa + &e; // Eq. (E5): ē^t = κ ē^{t-1} + e^t
        let e_bar_read = if lag == 0 { &self.e_bar } else { &e_bar_prev }; // ē^{t-δ}
        let signal = b * &g * c_out; // Eq. (E5): L^t = c B g^t
        for j in 0..net.n {
            let row: Vec<T> = e_bar_read.row(j).iter().map(|&v| v * signal[j]).collect();
            self.grad.add_local_row(net, j, &row); // Eq. (E5): Δθ_j += L_j^t ē_j^{t-δ}
        }
        self.z_bar = &self.z_bar * kappa + z_read * c_out; // Eq. (E6)
        self.b_bar = self.b_bar * kappa + c_out;
        let k = net.n_cell_tensors();
        self.grad.tensors[k].value += &g * self.z_bar.transpose(); // Eq. (E6), W_out
        self.grad.tensors[k + 1].value.column_mut(0).axpy(self.b_bar, &g, T::one()); // b_out
        if net.reg.is_some() {
            self.z_sum += &z;
            self.e_sum += &e;
        }
        self.steps += 1;
        self.cell = cell;
        self.z = z;
        self.y = y;
        self.e = e;
        self.signal = signal;
    }
}

/// Runs [`Online`] over a validated sequence and returns the loss and the e-prop gradient.
pub fn run<T: Scalar>(net: &Network, params: &Params<T>, seq: &Sequence, b: &DMatrix<T>) -> Online<T> {
    let w = params.cell_tensors(net);
    let mut st = Online::new(net);
    for t in 0..seq.len() {
        let x = seq.x[t].map(T::c);
        let target = seq.target[t].map(T::c);
        st.step(net, params, &w, b, &x, &target, T::c(seq.mask[t]));
    }
    st.finish(net);
    st
}
