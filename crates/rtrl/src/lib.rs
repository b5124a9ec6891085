//! # credit-rtrl — real-time recurrent learning
//!
//! A literal transcription of the forward (influence-matrix) recursion of `docs/rtrl.md`
//! (Williams & Zipser 1989, in the shared notation of equations.md §2), for any cell of
//! `credit-core` and any scalar. With `S^t := dh^t/dθ` (`(N·d)×P_cell`) and
//! `Z^t := dz^t/dθ` (`N×P_cell`):
//!
//! $$ S^t = D^t S^{t-1} + \\frac{\\partial M^t}{\\partial z^{t-1}} Z^{t-1} + I^t, \\qquad S^0 = 0 \\quad\\text{(T1)} $$
//! $$ Z^t = \\frac{\\partial z^t}{\\partial h^t} S^t \\quad\\text{(T2)} $$
//! Since `∂M/∂z^{t-1} · Z^{t-1} = R^t S^{t-1}`, (T1) is `S^t = (D^t + R^t) S^{t-1} + I^t`. The
//! leaky readout is itself a recurrent state; its sensitivities are carried forward too, so
//! the gradient is accumulated causally, step by step:
//! $$ Y^t = \\kappa Y^{t-1} + c\\, W^{out} Z^{t-\\delta} \\quad\\text{(T3)}, \\qquad
//!    \\frac{dE}{d\\theta} \\mathrel{+}= (Y^t)^\\top\\, m^t \\frac{\\partial E^t}{\\partial y^t} \\quad\\text{(T4)} $$
//! $$ \\bar z^t = \\kappa \\bar z^{t-1} + c\\, z^{t-\\delta},\\quad \\bar b^t = \\kappa \\bar b^{t-1} + c, \\qquad
//!    \\frac{dE}{dW^{out}} \\mathrel{+}= m^t \\frac{\\partial E^t}{\\partial y^t} (\\bar z^t)^\\top,\\quad
//!    \\frac{dE}{db^{out}} \\mathrel{+}= m^t \\frac{\\partial E^t}{\\partial y^t}\\, \\bar b^t \\quad\\text{(T5)} $$
//!
//! `c` and `δ` are the readout's prefactor and delay (Eq. Y1; default 1 and 0).
//! With firing-rate regularisation (Eq. Y5), `Σ_t Z^t` is carried as well and
//! $$ \\frac{dE_{\\rm reg}}{d\\theta} = \\sum_j \\frac{\\partial E_{\\rm reg}}{\\partial z_j} \\sum_t Z_j^t \\quad\\text{(T6)} $$
//! is added when the sequence ends ([`RtrlState::finish`]).
//! Expanding `Y^t` gives `Σ_t (∂E/∂z^t)·Z^t`: the gradient `Σ_t (∂E/∂z^t)(∂z^t/∂h^t) S^t` of
//! equations.md §2 with the readout-only signal written causally.
//!
//! ## Requirements
//! Any [`credit_core::Cell`]; any [`Scalar`]. Online: the loop consumes one step at a time and
//! keeps only `S`, `Z`, `Y`, `z̄`, `b̄` and the previous cell state. Memory `O(N·d·P_cell)` =
//! `O(N³)`; compute `O(N²·d·P_cell)` = `O(N⁴)` per step (the product in Eq. T1).
//!
//! ## Reference
//! Williams & Zipser (1989), "A learning algorithm for continually running fully recurrent
//! neural networks", Neural Computation 1(2); derivation in `docs/rtrl.md`.

pub mod fast;
pub mod stack;

use credit_core::cell::output_times;
use credit_core::{CellModel, CellState, Network, Params, Scalar, Sequence};
use nalgebra::{DMatrix, DVector};

/// What RTRL returns.
#[derive(Clone, Debug, PartialEq)]
pub struct Rtrl<T: Scalar> {
    /// The loss `E`.
    pub loss: T,
    /// `dE/dθ` for every parameter tensor.
    pub grad: Params<T>,
}

/// The online state of RTRL after `t` steps.
#[derive(Clone, Debug)]
pub struct RtrlState<T: Scalar> {
    /// Cell state `(h^t, refractory^t)`.
    pub cell: CellState<T>,
    /// `z^t`.
    pub z: DVector<T>,
    /// `y^t`.
    pub y: DVector<T>,
    /// `S^t = dh^t/dθ_cell`, `(N·d)×P_cell`.
    pub s: DMatrix<T>,
    /// `Z^t = dz^t/dθ_cell`, `N×P_cell`.
    pub zs: DMatrix<T>,
    /// `Y^t = dy^t/dθ_cell`, `K×P_cell`.
    pub ys: DMatrix<T>,
    /// `z̄^t`, the κ-filtered output (sensitivity of `y^t` to `W_out`).
    pub z_bar: DVector<T>,
    /// `b̄^t`, the κ-filtered constant (sensitivity of `y^t` to `b_out`).
    pub b_bar: T,
    /// `Σ_t z^t` (for the firing-rate regulariser, Eq. Y5).
    pub z_sum: DVector<T>,
    /// `Σ_t Z^t`, `N×P_cell` (for the firing-rate regulariser).
    pub zs_sum: DMatrix<T>,
    /// Steps consumed.
    pub steps: usize,
    /// Accumulated loss.
    pub loss: T,
    /// Accumulated gradient.
    pub grad: Params<T>,
}

impl<T: Scalar> RtrlState<T> {
    /// The state at `t = 0`: everything zero.
    pub fn new(net: &Network) -> Self {
        let nd = net.n * net.d();
        let p = net.p_cell();
        RtrlState {
            cell: CellState::zeros(net.n, net.d(), net.cell.is_spiking()),
            z: DVector::zeros(net.n),
            y: DVector::zeros(net.n_out),
            s: DMatrix::zeros(nd, p),
            zs: DMatrix::zeros(net.n, p),
            ys: DMatrix::zeros(net.n_out, p),
            z_bar: DVector::zeros(net.n),
            b_bar: T::zero(),
            z_sum: DVector::zeros(net.n),
            zs_sum: DMatrix::zeros(net.n, p),
            steps: 0,
            loss: T::zero(),
            grad: Params::zeros(net),
        }
    }

    /// Ends the sequence: adds the firing-rate regulariser (Eq. Y5) to the loss and its
    /// gradient `Σ_j ∂E_reg/∂z_j · Σ_t Z_j^t` (Eq. T6) — the regulariser depends on the whole
    /// sequence's rates, so it can only be settled at the end.
    pub fn finish(&mut self, net: &Network) {
        let Some(reg) = &net.reg else { return };
        let (e, g) = reg.value_and_grad(&self.z_sum, self.steps);
        self.loss += e;
        let dcell = self.zs_sum.tr_mul(&g); // Eq. (T6)
        self.grad.add_flat_cells(net, &dcell);
    }

    /// One online step with input `x^t`, target `y^{*t}` and mask `m^t` (all validated by
    /// [`gradient`]; call it directly only with checked data).
    pub fn step(
        &mut self,
        net: &Network,
        params: &Params<T>,
        w: &[DMatrix<T>],
        x: &DVector<T>,
        target: &DVector<T>,
        mask: T,
    ) {
        let kappa = T::c(net.readout.kappa);
        let c_out = T::c(net.readout.c());
        let lag = net.readout.lag();
        let jac = net.cell.jacobians(w, &self.cell, &self.z, x);
        let cell = net.cell.step(w, &self.cell, &self.z, x, &Default::default());
        // Eq. (T1): S^t = D^t S^{t-1} + ∂M/∂z^{t-1} Z^{t-1} + I^t
        let mut s = &jac.m_z * &self.zs + jac.d_times(&self.s);
        jac.add_immediate(&mut s, |j, q| net.flat_index_of_local(j, q));
        // Eq. (T2): Z^t = ∂z^t/∂h^t S^t
        let zs = output_times(&net.cell.output_jacobian(&cell), &s);
        let z = net.cell.output(&cell);
        let (z_read, zs_read) = if lag == 0 { (&z, &zs) } else { (&self.z, &self.zs) }; // z^{t-δ}, Z^{t-δ}
        let y = net.readout.next(&self.y, params.w_out(), params.b_out(), z_read); // Eq. (Y1)
        let (e, g) = net.loss.value_and_grad(&y, target);
        let g = g * mask;
        self.loss += e * mask;
        self.ys = &self.ys * kappa + params.w_out() * zs_read * c_out; // Eq. (T3)
        let dcell = self.ys.tr_mul(&g); // Eq. (T4)
        self.grad.add_flat_cells(net, &dcell);
        if net.reg.is_some() {
            self.z_sum += &z;
            self.zs_sum += &zs;
        }
        self.steps += 1;
        self.z_bar = &self.z_bar * kappa + z_read * c_out; // Eq. (T5)
        self.b_bar = self.b_bar * kappa + c_out;
        let nc = net.n_cell_tensors();
        self.grad.tensors[nc].value += &g * self.z_bar.transpose();
        self.grad.tensors[nc + 1].value.column_mut(0).axpy(self.b_bar, &g, T::one());
        self.cell = cell;
        self.z = z;
        self.y = y;
        self.s = s;
        self.zs = zs;
    }
}

/// RTRL gradient of the loss of `seq` (weights frozen over the sequence), computed online.
pub fn gradient<T: Scalar>(
    net: &Network,
    params: &Params<T>,
    seq: &Sequence,
) -> credit_core::Result<Rtrl<T>> {
    net.validate()?;
    params.validate(net)?;
    seq.validate(net)?;
    let w = params.cell_tensors(net);
    let mut st = RtrlState::new(net);
    for t in 0..seq.len() {
        let x = seq.x[t].map(T::c);
        let target = seq.target[t].map(T::c);
        st.step(net, params, &w, &x, &target, T::c(seq.mask[t]));
    }
    st.finish(net);
    Ok(Rtrl { loss: st.loss, grad: st.grad })
}
