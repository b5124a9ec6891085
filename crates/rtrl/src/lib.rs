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
//! The readout side — (Y1), (T3)–(T5) — and the regulariser's sums and (T6) are the core's
//! shared bookkeeping ([`credit_core::online::ForwardReadout`],
//! [`credit_core::online::RateSums`], `docs/rtrl.md` §7); (T1)–(T2) are written out here.
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
use credit_core::online::{ForwardReadout, RateSums, for_each_step};
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

/// The online state of RTRL after `t` steps. The readout side (Eqs. Y1, T3–T5) and the
/// regulariser's sums (Eq. T6) are the core's shared bookkeeping
/// ([`credit_core::online::ForwardReadout`], [`credit_core::online::RateSums`]); Eqs. (T1)–(T2)
/// are written out in [`RtrlState::step`].
#[derive(Clone, Debug)]
pub struct RtrlState<T: Scalar> {
    /// Cell state `(h^t, refractory^t)`.
    pub cell: CellState<T>,
    /// `z^t`.
    pub z: DVector<T>,
    /// `S^t = dh^t/dθ_cell`, `(N·d)×P_cell`.
    pub s: DMatrix<T>,
    /// `Z^t = dz^t/dθ_cell`, `N×P_cell`.
    pub zs: DMatrix<T>,
    /// `y^t`, `Y^t = dy^t/dθ_cell` (`K×P_cell`), `z̄^t` and `b̄^t` (Eqs. T3, T5).
    pub readout: ForwardReadout<T>,
    /// `Σ_t z^t` and `Σ_t Z^t` (for the firing-rate regulariser, Eqs. Y5, T6).
    pub sums: RateSums<T>,
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
        RtrlState {
            cell: CellState::zeros(net.n, net.d(), net.cell.is_spiking()),
            z: DVector::zeros(net.n),
            s: DMatrix::zeros(net.n * net.d(), net.p_cell()),
            zs: DMatrix::zeros(net.n, net.p_cell()),
            readout: ForwardReadout::new(net),
            sums: RateSums::new(net),
            steps: 0,
            loss: T::zero(),
            grad: Params::zeros(net),
        }
    }

    /// Ends the sequence: adds the firing-rate regulariser (Eq. Y5) to the loss and its
    /// gradient `Σ_j ∂E_reg/∂z_j · Σ_t Z_j^t` (Eq. T6, [`RateSums::finish`]) — the regulariser
    /// depends on the whole sequence's rates, so it can only be settled at the end.
    pub fn finish(&mut self, net: &Network) {
        self.sums.finish(net, self.steps, &mut self.loss, &mut self.grad); // Eq. (T6)
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
        let jac = net.cell.jacobians(w, &self.cell, &self.z, x);
        let cell = net.cell.step(w, &self.cell, &self.z, x, &Default::default());
        // Eq. (T1): S^t = D^t S^{t-1} + ∂M/∂z^{t-1} Z^{t-1} + I^t
        let mut s = &jac.m_z * &self.zs + jac.d_times(&self.s);
        jac.add_immediate(&mut s, |j, q| net.flat_index_of_local(j, q));
        // Eq. (T2): Z^t = ∂z^t/∂h^t S^t
        let zs = output_times(&net.cell.output_jacobian(&cell), &s);
        let z = net.cell.output(&cell);
        // Eqs. (Y1), (T3)–(T5) with z^{t-δ}, Z^{t-δ}
        self.loss +=
            self.readout.step(net, params, (&self.z, &self.zs), (&z, &zs), target, mask, &mut self.grad);
        self.sums.add(net, &z, &zs);
        self.steps += 1;
        self.cell = cell;
        self.z = z;
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
    for_each_step(seq, |_, x, target, mask| st.step(net, params, &w, x, target, mask));
    st.finish(net);
    Ok(Rtrl { loss: st.loss, grad: st.grad })
}
