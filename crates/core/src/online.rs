//! Bookkeeping shared by the online learning rules (`docs/rtrl.md` §7): the leaky readout run
//! forward with its masked loss, the readout's exact gradient, the readout sensitivity of a
//! forward-mode rule, the firing-rate regulariser's running sums and the readout input of a
//! stack. None of it makes one rule differ from another: each rule's own equation (its
//! influence matrix, trace or buffer) stays in its crate, and each rule's doc names the helpers
//! it uses here.
//!
//! * [`OnlineReadout`]: Eq. (Y1) and the masked loss `m^t E^t`, `g^t = m^t ∂E^t/∂y^t`
//!   ([`OnlineReadout::observe`]); the exact readout gradient of `docs/rtrl.md` Eq. (T5)
//!   (= `docs/eprop.md` Eq. (E6)) ([`OnlineReadout::add_exact_grad`]);
//! * [`sensitivity_step`]: `docs/rtrl.md` Eqs. (T3)–(T4), `Y^t = κ Y^{t−1} + c W^{out} Z^{t−δ}`
//!   and `(Y^t)ᵀ g^t`, for any estimate `Z` of `dz/dθ`;
//! * [`ForwardReadout`]: the two together for a forward-mode rule that carries an `N × P_cell`
//!   estimate `Z^t` (RTRL, SnAp, UORO/KF/R-KF, MDGL): Eqs. (Y1), (T3)–(T5) of one step;
//! * [`RateSums`]: `Σ_t z^t` and `Σ_t Z^t` for the firing-rate regulariser (Eq. Y5) and its
//!   gradient `docs/rtrl.md` Eq. (T6) at the end of the sequence;
//! * [`read_vector`], [`read_vector_into`], [`read_rows`]: what the readout of a stack reads
//!   (`ReadoutFrom::Top`: the top layer; `ReadoutFrom::All`: every layer stacked bottom-up);
//!   [`layer_weights`], [`zero_cells`], [`zero_outputs`]: a stack's per-layer cell tensors and
//!   its state at `t = 0`; [`for_each_step`]: the loop over a sequence's steps.

use crate::stack::{ReadoutFrom, Stack};
use crate::{CellModel, CellState, Loss, Network, Params, Readout, Scalar, Sequence};
use nalgebra::{DMatrix, DVector};

/// The leaky readout (Eq. Y1) run online, with the filtered inputs of its exact gradient.
#[derive(Clone, Debug)]
pub struct OnlineReadout<T: Scalar> {
    /// `y^t`.
    pub y: DVector<T>,
    /// `z̄^t = κ z̄^{t−1} + c z^{t−δ}`, the sensitivity of `y^t` to `W_out` (Eq. T5).
    pub z_bar: DVector<T>,
    /// `b̄^t = κ b̄^{t−1} + c`, the sensitivity of `y^t` to `b_out` (Eq. T5).
    pub b_bar: T,
}

impl<T: Scalar> OnlineReadout<T> {
    /// The readout at `t = 0` for `n_read` read neurons and `n_out` outputs: everything zero.
    pub fn new(n_read: usize, n_out: usize) -> Self {
        OnlineReadout { y: DVector::zeros(n_out), z_bar: DVector::zeros(n_read), b_bar: T::zero() }
    }

    /// The readout of a single-layer network at `t = 0`.
    pub fn for_network(net: &Network) -> Self {
        Self::new(net.n, net.n_out)
    }

    /// Scalars held: `y`, `z̄` and `b̄`.
    pub fn len_scalars(&self) -> usize {
        self.y.len() + self.z_bar.len() + 1
    }

    /// One step of Eq. (Y1), `y^t = κ y^{t−1} + c (W_out z^{t−δ} + b_out)` with `z_read = z^{t−δ}`
    /// chosen by the caller, and the step's masked loss: returns `(m^t E^t, g^t)`,
    /// `g^t = m^t ∂E^t/∂y^t` (`docs/notation.md`).
    #[allow(clippy::too_many_arguments)]
    pub fn observe(
        &mut self,
        readout: &Readout,
        loss: &Loss,
        w_out: &DMatrix<T>,
        b_out: &DMatrix<T>,
        z_read: &DVector<T>,
        target: &DVector<T>,
        mask: T,
    ) -> (T, DVector<T>) {
        self.y = readout.next(&self.y, w_out, b_out, z_read); // Eq. (Y1)
        let (e, g) = loss.value_and_grad(&self.y, target);
        (e * mask, g * mask)
    }

    /// The readout's exact gradient, `docs/rtrl.md` Eq. (T5) (= `docs/eprop.md` Eq. (E6)):
    /// `z̄^t = κ z̄^{t−1} + c z^{t−δ}`, `b̄^t = κ b̄^{t−1} + c`, then `dE/dW_out += g^t (z̄^t)ᵀ` and
    /// `dE/db_out += g^t b̄^t` into the last two tensors of `grad` (`W_out`, `b_out`).
    pub fn add_exact_grad(
        &mut self,
        readout: &Readout,
        z_read: &DVector<T>,
        g: &DVector<T>,
        grad: &mut Params<T>,
    ) {
        let (kappa, c_out) = (T::c(readout.kappa), T::c(readout.c()));
        self.z_bar = &self.z_bar * kappa + z_read * c_out; // Eq. (T5)
        self.b_bar = self.b_bar * kappa + c_out; // Eq. (T5)
        let nt = grad.tensors.len();
        grad.tensors[nt - 2].value += g * self.z_bar.transpose(); // Eq. (T5), W_out
        grad.tensors[nt - 1].value.column_mut(0).axpy(self.b_bar, g, T::one()); // Eq. (T5), b_out
    }
}

/// `docs/rtrl.md` Eqs. (T3)–(T4) for any estimate `zs_read` of `Z^{t−δ} = dz^{t−δ}/dθ`
/// (`N_read × P` columns): `Y^t = κ Y^{t−1} + c W^{out} Z^{t−δ}` in place (T3), and returns
/// `(Y^t)ᵀ g^t` (T4), the step's contribution to the flat cell-parameter gradient.
pub fn sensitivity_step<T: Scalar>(
    ys: &mut DMatrix<T>,
    readout: &Readout,
    w_out: &DMatrix<T>,
    zs_read: &DMatrix<T>,
    g: &DVector<T>,
) -> DVector<T> {
    let (kappa, c_out) = (T::c(readout.kappa), T::c(readout.c()));
    *ys = &*ys * kappa + w_out * zs_read * c_out; // Eq. (T3)
    ys.tr_mul(g) // Eq. (T4)
}

/// The readout side of a single-layer forward-mode rule that carries an `N × P_cell` estimate
/// `Z^t` of `dz^t/dθ_cell`: [`OnlineReadout`] and `Y^t` (`K × P_cell`, Eq. T3).
#[derive(Clone, Debug)]
pub struct ForwardReadout<T: Scalar> {
    /// `y^t`, `z̄^t`, `b̄^t`.
    pub readout: OnlineReadout<T>,
    /// `Y^t = dy^t/dθ_cell` from the rule's `Z`, `K × P_cell` (Eq. T3).
    pub ys: DMatrix<T>,
}

impl<T: Scalar> ForwardReadout<T> {
    /// The state at `t = 0`: everything zero.
    pub fn new(net: &Network) -> Self {
        ForwardReadout {
            readout: OnlineReadout::for_network(net),
            ys: DMatrix::zeros(net.n_out, net.p_cell()),
        }
    }

    /// Scalars held: `y`, `z̄`, `b̄`, `Y`.
    pub fn len_scalars(&self) -> usize {
        self.readout.len_scalars() + self.ys.len()
    }

    /// One step of the readout given the rule's `(z^{t−1}, Z^{t−1})` and `(z^t, Z^t)`: picks
    /// `z^{t−δ}`, `Z^{t−δ}` (Eq. Y1's delay), runs Eq. (Y1), adds `(Y^t)ᵀ g^t` (Eqs. T3–T4,
    /// [`sensitivity_step`]) to the cell tensors of `grad` and the exact readout gradient (Eq.
    /// T5, [`OnlineReadout::add_exact_grad`]) to its readout tensors. Returns the masked loss
    /// `m^t E^t`.
    #[allow(clippy::too_many_arguments)]
    pub fn step(
        &mut self,
        net: &Network,
        params: &Params<T>,
        prev: (&DVector<T>, &DMatrix<T>),
        now: (&DVector<T>, &DMatrix<T>),
        target: &DVector<T>,
        mask: T,
        grad: &mut Params<T>,
    ) -> T {
        let (z_read, zs_read) = if net.readout.lag() == 0 { now } else { prev }; // z^{t−δ}, Z^{t−δ}
        let (w_out, b_out) = (params.w_out(), params.b_out());
        let (e, g) = self.readout.observe(&net.readout, &net.loss, w_out, b_out, z_read, target, mask); // Eq. (Y1)
        let dcell = sensitivity_step(&mut self.ys, &net.readout, w_out, zs_read, &g); // Eqs. (T3), (T4)
        grad.add_flat_cells(net, &dcell);
        self.readout.add_exact_grad(&net.readout, z_read, &g, grad); // Eq. (T5)
        e
    }
}

/// The running sums of the firing-rate regulariser (Eq. Y5): `Σ_t z^t` and `Σ_t Z^t`
/// (`N × P_cell`), for its gradient `docs/rtrl.md` Eq. (T6) at the end of the sequence.
#[derive(Clone, Debug)]
pub struct RateSums<T: Scalar> {
    /// `Σ_t z^t`.
    pub z_sum: DVector<T>,
    /// `Σ_t Z^t`, `N × P_cell`.
    pub zs_sum: DMatrix<T>,
}

impl<T: Scalar> RateSums<T> {
    /// Zero sums for `net`.
    pub fn new(net: &Network) -> Self {
        RateSums { z_sum: DVector::zeros(net.n), zs_sum: DMatrix::zeros(net.n, net.p_cell()) }
    }

    /// Scalars held.
    pub fn len_scalars(&self) -> usize {
        self.z_sum.len() + self.zs_sum.len()
    }

    /// Adds step `t`'s `z^t` and `Z^t` when `net` has a regulariser (else nothing).
    pub fn add(&mut self, net: &Network, z: &DVector<T>, zs: &DMatrix<T>) {
        if net.reg.is_some() {
            self.z_sum += z;
            self.zs_sum += zs;
        }
    }

    /// Ends a sequence of `steps` steps: adds the regulariser's value `E_reg` (Eq. Y5) to `loss`
    /// and its gradient `Σ_j ∂E_reg/∂z_j · Σ_t Z_j^t` (`docs/rtrl.md` Eq. T6) to the cell
    /// tensors of `grad`; nothing without a regulariser.
    pub fn finish(&self, net: &Network, steps: usize, loss: &mut T, grad: &mut Params<T>) {
        let Some(reg) = &net.reg else { return };
        let (e, g) = reg.value_and_grad(&self.z_sum, steps);
        *loss += e;
        let dcell = self.zs_sum.tr_mul(&g); // Eq. (T6)
        grad.add_flat_cells(net, &dcell);
    }
}

/// Feeds every step `t` of `seq` to `step` as `(t, x^t, y^{*t}, m^t)`, converted to `T` (the
/// loop of every online rule's `gradient`; the sequence must be validated first).
pub fn for_each_step<T: Scalar>(seq: &Sequence, mut step: impl FnMut(usize, &DVector<T>, &DVector<T>, T)) {
    for t in 0..seq.len() {
        step(t, &seq.x[t].map(T::c), &seq.target[t].map(T::c), T::c(seq.mask[t]));
    }
}

/// What the readout of `stack` reads from the layers' outputs `z` (bottom-up): the top layer's
/// (`ReadoutFrom::Top`) or all of them stacked (`ReadoutFrom::All`), `N_read` values.
pub fn read_vector<'a, T: Scalar>(stack: &Stack, z: impl IntoIterator<Item = &'a DVector<T>>) -> DVector<T> {
    let mut out = DVector::zeros(stack.n_read());
    read_vector_into(stack, z, &mut out);
    out
}

/// [`read_vector`] into a preallocated `N_read` buffer.
pub fn read_vector_into<'a, T: Scalar>(
    stack: &Stack,
    z: impl IntoIterator<Item = &'a DVector<T>>,
    out: &mut DVector<T>,
) {
    match stack.readout_from {
        ReadoutFrom::Top => out.copy_from(z.into_iter().last().expect("a stack has a layer")),
        ReadoutFrom::All => {
            let mut off = 0;
            for zl in z {
                out.rows_mut(off, zl.len()).copy_from(zl);
                off += zl.len();
            }
        }
    }
}

/// The rows the readout of `stack` reads from per-layer matrices `m` (bottom-up, the same
/// columns; e.g. each layer's `Z^l` or `e^l`): the top layer's (`ReadoutFrom::Top`) or all of
/// them stacked (`ReadoutFrom::All`).
pub fn read_rows<'a, T: Scalar>(stack: &Stack, m: impl IntoIterator<Item = &'a DMatrix<T>>) -> DMatrix<T> {
    let parts: Vec<&DMatrix<T>> = m.into_iter().collect();
    match stack.readout_from {
        ReadoutFrom::Top => parts[parts.len() - 1].clone(),
        ReadoutFrom::All => {
            let cols = parts[0].ncols();
            let mut out = DMatrix::zeros(stack.n_read(), cols);
            let mut off = 0;
            for p in parts {
                out.rows_mut(off, p.nrows()).copy_from(p);
                off += p.nrows();
            }
            out
        }
    }
}

/// The cell tensors of every layer of `stack`, layer by layer (what each layer's
/// [`CellModel`] methods take).
pub fn layer_weights<T: Scalar>(stack: &Stack, params: &Params<T>) -> Vec<Vec<DMatrix<T>>> {
    (0..stack.layers.len())
        .map(|l| stack.layer_tensors(l).map(|k| params.tensors[k].value.clone()).collect())
        .collect()
}

/// Every layer's cell state at `t = 0`.
pub fn zero_cells<T: Scalar>(stack: &Stack) -> Vec<CellState<T>> {
    stack.layers.iter().map(|l| CellState::zeros(l.n, l.cell.state_dim(), l.cell.is_spiking())).collect()
}

/// Every layer's output `z` at `t = 0`.
pub fn zero_outputs<T: Scalar>(stack: &Stack) -> Vec<DVector<T>> {
    stack.layers.iter().map(|l| DVector::zeros(l.n)).collect()
}
