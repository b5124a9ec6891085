//! Fast building blocks: packed weights, one fused cell step, and a forward pass that stores every
//! per-step quantity the reverse and trace computations need, contiguously and once —
//! Eqs. (K1)–(K7) of `docs/fast.md`.
//!
//! This is a **fast path**, not the definition: [`forward`] must equal the literal
//! [`crate::forward`] (trajectory equality is tested in `credit-check`, `tests/fast.rs`), and the
//! structure-aware Jacobian entries it stores must equal the literal
//! [`crate::CellModel::jacobians`] and [`crate::CellModel::output_jacobian`] (the relations
//! `bptt-fast=bptt` and `eprop-fast=eprop` are built on them).
//!
//! Layout (`docs/fast.md` §1): a cell has `G` **drive rows** per neuron (`G = 1` for rate, LIF,
//! ALIF; `G = 4` for the LSTM, gate-major `i, f, c, o`): the packed weights stack the gate
//! tensors, so that the pre-activations of every gate of every neuron are
//! $$ u^t = b + W^{\\rm in} x^t + W^{\\rm rec} z^{t-1} \\in \\mathbb{R}^{G N} \\quad\\text{(K1)} $$
//! — one GEMM over all steps for the input part, one GEMV per step for the recurrent part.
//! Row `g·N + j` is gate `g` of neuron `j`. Each drive row feeds one state component
//! ([`Kernel::component`]). Per step the forward pass stores
//!
//! * `h^t` (`N·d`, neuron-major as in the literal code), `z^t`, the refractory counters;
//! * `∂z^t/∂h^t` (`N·d`, Eq. C5) — `zh`;
//! * the **gain** `γ^t` (`G·N`): `∂M_j/∂u_{g,j}` at step `t`, so that `I^t` and `∂M/∂z^{t−1}`
//!   are `γ ⊙` (K3);
//! * the **decay** `D^t_{00}` (`N`): the first diagonal entry of `D^t` (K4); the other entries
//!   of `D^t` are constants or come from `zh^{t−1}` (ALIF).
//!
//! Everything is generic over [`Scalar`] (the fast code runs on `f32`, `f64` and dual numbers
//! alike); nalgebra's GEMM dispatches to `matrixmultiply` for `f32` and `f64`.

use crate::cell::{Cell, CellModel, lstm::sigmoid};
use crate::error::Result;
use crate::network::{Network, Params, Sequence};
use crate::scalar::Scalar;
use nalgebra::{DMatrix, DMatrixView, DVector};

/// Packed weights of a single layer and the cell's constants: what one fused step needs.
#[derive(Clone, Debug)]
pub struct Kernel<T: Scalar> {
    /// The cell.
    pub cell: Cell,
    /// Neurons `N`.
    pub n: usize,
    /// Inputs `N_in`.
    pub n_in: usize,
    /// Hidden dimension `d`.
    pub d: usize,
    /// Drive rows per neuron `G`.
    pub gates: usize,
    /// `W_in` stacked over gates, `(G·N) × N_in`.
    pub w_in: DMatrix<T>,
    /// `W_rec` stacked over gates, `(G·N) × N` (zero diagonal for spiking cells).
    pub w_rec: DMatrix<T>,
    /// `b` stacked over gates, `G·N`.
    pub b: DVector<T>,
    /// `W_recᵀ`, `N × (G·N)`: the transposed GEMV of (K7) as a plain column GEMV.
    pub w_rec_t: DMatrix<T>,
}

/// Where one step writes: the columns `t` of a [`FastTrajectory`] (or an online state).
pub struct StepOut<'a, T> {
    /// `h^t`, `N·d`.
    pub h: &'a mut [T],
    /// Refractory counters at `t`, `N` (empty for smooth cells).
    pub refractory: &'a mut [u32],
    /// `z^t`, `N`.
    pub z: &'a mut [T],
    /// `∂z^t/∂h^t`, `N·d` (Eq. C5).
    pub zh: &'a mut [T],
    /// The gain `γ^t`, `G·N` (K3).
    pub gain: &'a mut [T],
    /// The decay `D^t_{00}`, `N` (K4).
    pub decay: &'a mut [T],
}

/// The previous step's values read by one step.
pub struct StepIn<'a, T> {
    /// `h^{t−1}`.
    pub h: &'a [T],
    /// Refractory counters at `t − 1`.
    pub refractory: &'a [u32],
    /// `z^{t−1}`.
    pub z: &'a [T],
}

impl<T: Scalar> Kernel<T> {
    /// Packs the cell tensors of `params` (validated against `net`).
    pub fn new(net: &Network, params: &Params<T>) -> Result<Self> {
        net.validate()?;
        params.validate(net)?;
        let gates = if matches!(net.cell, Cell::Lstm(_)) { 4 } else { 1 };
        let (n, n_in) = (net.n, net.n_in);
        let mut w_in = DMatrix::zeros(gates * n, n_in);
        let mut w_rec = DMatrix::zeros(gates * n, n);
        let mut b = DVector::zeros(gates * n);
        for g in 0..gates {
            let t = &params.tensors[3 * g..3 * g + 3];
            w_in.rows_mut(g * n, n).copy_from(&t[0].value);
            w_rec.rows_mut(g * n, n).copy_from(&t[1].value);
            b.rows_mut(g * n, n).copy_from(&t[2].value.column(0));
        }
        let w_rec_t = w_rec.transpose();
        Ok(Kernel { cell: net.cell.clone(), n, n_in, d: net.d(), gates, w_in, w_rec, b, w_rec_t })
    }

    /// The state component fed by drive row `g` of a neuron: 0 (`v`, `h` or `c`) except the
    /// LSTM's output gate, which is component 1 (`o`).
    pub fn component(&self, g: usize) -> usize {
        usize::from(matches!(self.cell, Cell::Lstm(_)) && g == 3)
    }

    /// `∂M_j/∂z_j^{t−1}` of the reset (Eq. L6): `−v_th` (differentiated) or 0 (detached, or a
    /// smooth cell).
    pub fn reset_slope(&self) -> T {
        match &self.cell {
            Cell::Lif(c) => T::c(c.spiking.reset_slope()),
            Cell::Alif(c) => T::c(c.spiking.reset_slope()),
            _ => T::zero(),
        }
    }

    /// One fused step (K2): from the pre-activations `u^t` (K1) and the previous values, the new
    /// state, output, `∂z/∂h` and the gain and decay of step `t` (K3, K4). Allocates nothing.
    pub fn step(&self, u: &[T], prev: StepIn<'_, T>, out: StepOut<'_, T>) {
        let n = self.n;
        let one = T::one();
        match &self.cell {
            Cell::Rate(c) => {
                let a = T::c(c.alpha);
                // tanh u_j first (exp_tanh, fast.md §2), parked in γ: one vectorised pass for f32/f64
                // (fast.md §2.1), then a loop without calls that vectorises
                out.gain[..n].copy_from_slice(&u[..n]);
                crate::vmath::exp_tanh_in_place(&mut out.gain[..n]);
                for j in 0..n {
                    let th = out.gain[j];
                    out.h[j] = (one - a) * prev.h[j] + a * th; // Eq. (R2)
                    out.z[j] = out.h[j]; // Eq. (R3)
                    out.zh[j] = one;
                    out.gain[j] = a * (one - th * th); // (K3): α tanh'(u_j), Eqs. (R5), (R6)
                    out.decay[j] = one - a; // Eq. (R4)
                }
            }
            Cell::Lif(c) => {
                let sp = &c.spiking;
                let (alpha, zeta, v_th) = (T::c(sp.alpha), T::c(sp.zeta()), T::c(sp.v_th));
                for j in 0..n {
                    // Eq. (L1): α v + ζ (W_rec z + W_in x + b) − v_th z_j^{t−1} (the diagonal of W_rec is 0)
                    let v = alpha * prev.h[j] + zeta * u[j] - v_th * sp.reset_input(prev.z[j]);
                    let r = sp.next_refractory(prev.refractory[j], prev.z[j].value()); // Eq. (L4)
                    out.h[j] = v;
                    out.refractory[j] = r;
                    out.z[j] = sp.spike(v, v_th, r); // Eq. (L2)
                    out.zh[j] = sp.psi(v, v_th, r); // Eq. (L8)
                    out.gain[j] = zeta; // (K3): ζ, Eqs. (L6), (L7)
                    out.decay[j] = alpha; // Eq. (L5)
                }
            }
            Cell::Alif(c) => {
                let sp = &c.spiking;
                let (alpha, zeta, v_th) = (T::c(sp.alpha), T::c(sp.zeta()), T::c(sp.v_th));
                let (rho, beta) = (T::c(c.rho), T::c(c.beta));
                for j in 0..n {
                    let (v_prev, a_prev) = (prev.h[2 * j], prev.h[2 * j + 1]);
                    let v = alpha * v_prev + zeta * u[j] - v_th * sp.reset_input(prev.z[j]); // Eq. (L1)
                    // Eq. (A1): the neuron's own spike at t−1 is z_j^{t−1} (the same value and
                    // slope as the literal code's local recomputation from h_j^{t−1})
                    let a = rho * a_prev + prev.z[j];
                    let r = sp.next_refractory(prev.refractory[j], prev.z[j].value()); // Eq. (L4)
                    let th = v_th + beta * a; // Eq. (A2)
                    out.h[2 * j] = v;
                    out.h[2 * j + 1] = a;
                    out.refractory[j] = r;
                    out.z[j] = sp.spike(v, th, r); // Eq. (A3)
                    let psi = sp.psi(v, th, r);
                    out.zh[2 * j] = psi; // Eq. (A5)
                    out.zh[2 * j + 1] = -beta * psi;
                    out.gain[j] = zeta; // (K3)
                    out.decay[j] = alpha; // Eq. (A4), D_00
                }
            }
            Cell::Lstm(_) if crate::vmath::has_kernel::<T>() => {
                // the same values as the loop below, in vectorised passes (fast.md §2.1): the gate
                // values i, f, c̃, o parked in γ, c^t in z, then tanh c^t in place
                let g = &mut out.gain[..4 * n];
                g.copy_from_slice(&u[..4 * n]);
                crate::vmath::sigmoid_in_place(&mut g[..2 * n]); // Eq. (M2): i, f
                crate::vmath::exp_tanh_in_place(&mut g[2 * n..3 * n]); // c̃
                crate::vmath::sigmoid_in_place(&mut g[3 * n..]); // o
                for j in 0..n {
                    let c = g[n + j] * prev.h[2 * j] + g[j] * g[2 * n + j]; // Eq. (M3)
                    out.h[2 * j] = c;
                    out.z[j] = c;
                }
                crate::vmath::exp_tanh_in_place(&mut out.z[..n]);
                for j in 0..n {
                    let (i, f, cc, o) = (g[j], g[n + j], g[2 * n + j], g[3 * n + j]);
                    let (c_prev, tc) = (prev.h[2 * j], out.z[j]);
                    out.h[2 * j + 1] = o;
                    out.z[j] = o * tc; // Eq. (M4)
                    out.zh[2 * j] = o * (one - tc * tc);
                    out.zh[2 * j + 1] = tc;
                    // (K3), Eq. (M5): ∂c/∂u_i, ∂c/∂u_f, ∂c/∂u_c, ∂o/∂u_o
                    g[j] = cc * i * (one - i);
                    g[n + j] = c_prev * f * (one - f);
                    g[2 * n + j] = i * (one - cc * cc);
                    g[3 * n + j] = o * (one - o);
                    out.decay[j] = f; // Eq. (M5): D = [[f, 0], [0, 0]]
                }
            }
            Cell::Lstm(_) => {
                for j in 0..n {
                    let i = sigmoid(u[j]); // Eq. (M2)
                    let f = sigmoid(u[n + j]);
                    let cc = exp_tanh(u[2 * n + j]);
                    let o = sigmoid(u[3 * n + j]);
                    let c_prev = prev.h[2 * j];
                    let c = f * c_prev + i * cc; // Eq. (M3)
                    let tc = exp_tanh(c);
                    out.h[2 * j] = c;
                    out.h[2 * j + 1] = o;
                    out.z[j] = o * tc; // Eq. (M4)
                    out.zh[2 * j] = o * (one - tc * tc);
                    out.zh[2 * j + 1] = tc;
                    // (K3), Eq. (M5): ∂c/∂u_i, ∂c/∂u_f, ∂c/∂u_c, ∂o/∂u_o
                    out.gain[j] = cc * i * (one - i);
                    out.gain[n + j] = c_prev * f * (one - f);
                    out.gain[2 * n + j] = i * (one - cc * cc);
                    out.gain[3 * n + j] = o * (one - o);
                    out.decay[j] = f; // Eq. (M5): D = [[f, 0], [0, 0]]
                }
            }
        }
    }

    /// `λ^t += (D^{t+1})ᵀ λ^{t+1}` for every neuron (the second term of Eq. B5, K5), with the
    /// decay of step `t + 1` and `∂z^t/∂h^t` (ALIF's `D^{t+1}` reads `ψ^t`).
    pub fn add_d_tr(&self, decay_next: &[T], zh_t: &[T], lam_next: &[T], lam: &mut [T]) {
        match &self.cell {
            Cell::Rate(_) | Cell::Lif(_) => {
                for j in 0..self.n {
                    lam[j] += decay_next[j] * lam_next[j]; // Eqs. (R4), (L5)
                }
            }
            Cell::Alif(c) => {
                let (rho, beta) = (T::c(c.rho), T::c(c.beta));
                for j in 0..self.n {
                    // Eq. (A4): D = [[α, 0], [ψ^t, ρ − βψ^t]], transposed
                    let psi = zh_t[2 * j];
                    let (lv, la) = (lam_next[2 * j], lam_next[2 * j + 1]);
                    lam[2 * j] += decay_next[j] * lv + psi * la;
                    lam[2 * j + 1] += (rho - beta * psi) * la;
                }
            }
            Cell::Lstm(_) => {
                for j in 0..self.n {
                    lam[2 * j] += decay_next[j] * lam_next[2 * j]; // Eq. (M5): D = [[f, 0], [0, 0]]
                }
            }
        }
    }

    /// The drive adjoint `a^t = γ^t ⊙ λ^t_{comp}` (K6): `a_{g·N+j} = γ_{g·N+j} λ_{j·d + c(g)}`.
    pub fn drive_adjoint(&self, gain: &[T], lam: &[T], a: &mut [T]) {
        let (n, d) = (self.n, self.d);
        for g in 0..self.gates {
            let c = self.component(g);
            for j in 0..n {
                a[g * n + j] = gain[g * n + j] * lam[j * d + c];
            }
        }
    }

    /// `δ += (∂M^{t+1}/∂z^t)ᵀ λ^{t+1} = W_recᵀ a^{t+1} + r λ_v^{t+1}` (Eq. B4 in the form K7):
    /// one GEMV ([`gemv_acc`] on the stored transpose `W_recᵀ`, contiguous columns), plus the reset slope `r` on the diagonal for spiking cells.
    pub fn add_m_z_tr(&self, a_next: &[T], lam_next: &[T], delta: &mut [T]) {
        gemv_acc(self.w_rec_t.as_slice(), self.n, a_next, delta);
        let r = self.reset_slope();
        if r != T::zero() {
            for j in 0..self.n {
                delta[j] += r * lam_next[j * self.d]; // Eq. (L6)
            }
        }
    }

    /// `∂z^0/∂h^0` at the initial state `h^0 = 0` (Eq. C5, neuron-major `N·d`): ALIF's `D^1`
    /// reads it (multiplied by `ε^0 = 0` and `λ`-free terms, so it changes no gradient, but the
    /// stored Jacobian entries equal the literal ones at every step).
    pub fn initial_zh(&self) -> DVector<T> {
        let rows =
            self.cell.output_jacobian(&crate::CellState::<T>::zeros(self.n, self.d, self.cell.is_spiking()));
        DVector::from_fn(self.n * self.d, |r, _| rows[(r / self.d, r % self.d)])
    }

    /// `u = b + W_in x + W_rec z` (K1) for one step, into `u` (`G·N`).
    pub fn drive(&self, x: &[T], z_prev: &[T], u: &mut [T]) {
        u.copy_from_slice(self.b.as_slice());
        gemv_acc(self.w_in.as_slice(), self.gates * self.n, x, u);
        self.add_recurrent(z_prev, u);
    }

    /// `u += W_rec z^{t−1}` (K1): one GEMV ([`gemv_acc`]); for spiking cells in `f32`/`f64` only
    /// the columns of the neurons that spiked (`z_i ≠ 0`) are added, one column at a time. (Dual numbers always take the GEMV: a zero real
    /// part may carry a derivative.)
    pub fn add_recurrent(&self, z_prev: &[T], u: &mut [T]) {
        use std::any::TypeId;
        let float = TypeId::of::<T>() == TypeId::of::<f64>() || TypeId::of::<T>() == TypeId::of::<f32>();
        let rows = self.gates * self.n;
        if float && self.cell.is_spiking() {
            let w = self.w_rec.as_slice();
            for (i, &zi) in z_prev.iter().enumerate() {
                if zi != T::zero() {
                    for (ur, &wr) in u.iter_mut().zip(&w[i * rows..(i + 1) * rows]) {
                        *ur += zi * wr;
                    }
                }
            }
        } else {
            gemv_acc(self.w_rec.as_slice(), rows, z_prev, u);
        }
    }

    /// Unpacks per-drive-row gradients `dW_in` (`(G·N) × N_in`), `dW_rec` (`(G·N) × N`), `db`
    /// (`G·N`) into the cell tensors of `grad` (the inverse of the packing in [`Kernel::new`]);
    /// the diagonal of `dW_rec` is zeroed for spiking cells (no autapse, Eq. L7).
    pub fn unpack_into(&self, d_in: &DMatrix<T>, d_rec: &DMatrix<T>, d_b: &DVector<T>, grad: &mut Params<T>) {
        let n = self.n;
        for g in 0..self.gates {
            grad.tensors[3 * g].value.copy_from(&d_in.rows(g * n, n));
            grad.tensors[3 * g + 1].value.copy_from(&d_rec.rows(g * n, n));
            grad.tensors[3 * g + 2].value.column_mut(0).copy_from(&d_b.rows(g * n, n));
        }
        if !self.cell.allows_autapses() {
            grad.tensors[1].value.fill_diagonal(T::zero());
        }
    }
}

/// Everything the fast forward pass stores, one matrix per quantity, column `t` = step `t`
/// (`t = 0..=T`; column 0 holds the initial values, zero).
#[derive(Clone, Debug)]
pub struct FastTrajectory<T: Scalar> {
    /// The recurrent states `h`, `z`, `∂z/∂h`, the gains and the decays of every step (K1)–(K4).
    pub states: LayerStates<T>,
    /// `x^t`, `N_in × (T+1)`.
    pub x: DMatrix<T>,
    /// `y^t`, `K × (T+1)`.
    pub y: DMatrix<T>,
    /// `g^t = m^t ∂E^t/∂y^t`, `K × (T+1)`.
    pub dl_dy: DMatrix<T>,
    /// The loss `E` (with `E_reg`).
    pub loss: T,
    /// `∂E_reg/∂z_j^t` (the same at every `t`, zero without a regulariser), Eq. (Y5).
    pub reg_signal: DVector<T>,
}

impl<T: Scalar> FastTrajectory<T> {
    /// Number of steps `T`.
    pub fn steps(&self) -> usize {
        self.states.z.ncols() - 1
    }
}

/// Columns `t − 1` (read) and `t` (written) of a column-major matrix.
fn pair<T: Copy>(m: &mut DMatrix<T>, t: usize) -> (&[T], &mut [T]) {
    let rows = m.nrows();
    let (before, after) = m.as_mut_slice().split_at_mut(t * rows);
    (&before[(t - 1) * rows..], &mut after[..rows])
}

/// Column `t` of a column-major matrix, mutable.
fn col_mut<T: Copy>(m: &mut DMatrix<T>, t: usize) -> &mut [T] {
    let rows = m.nrows();
    &mut m.as_mut_slice()[t * rows..(t + 1) * rows]
}

/// `E^t` and `m^t ∂E^t/∂y^t` into `g` (Eqs. Y2–Y4), without allocating: the literal
/// [`crate::Loss::value_and_grad`] written on slices, the same operations in the same order.
pub fn loss_and_grad<T: Scalar>(net: &Network, y: &[T], target: &[T], mask: T, g: &mut [T]) -> T {
    match net.loss {
        crate::Loss::Mse => {
            let mut e = T::zero();
            for k in 0..y.len() {
                let r = y[k] - target[k];
                e += r * r;
                g[k] = r * mask; // Eq. (Y4): y − y*
            }
            e * T::c(0.5) * mask // Eq. (Y2)
        }
        crate::Loss::CrossEntropy => {
            let m = y.iter().fold(T::c(f64::NEG_INFINITY), |a, &b| if b.value() > a.value() { b } else { a });
            let m = m.detach();
            let mut s = T::zero();
            for k in 0..y.len() {
                g[k] = (y[k] - m).stable_exp();
                s += g[k];
            }
            let lse = s.ln() + m;
            let (mut mass, mut ty) = (T::zero(), T::zero());
            for k in 0..y.len() {
                mass += target[k];
                ty += target[k] * y[k];
            }
            for k in 0..y.len() {
                g[k] = ((g[k] / s) * mass - target[k]) * mask; // Eq. (Y4)
            }
            (lse * mass - ty) * mask // Eq. (Y3)
        }
    }
}

/// The fast forward pass: the same trajectory as the literal [`crate::forward`] with default
/// options (no detached edge, no tap), stored contiguously with the structure-aware Jacobian
/// entries of (K3), (K4). Validates its inputs. The input drive `W_in x^t + b` of every step is
/// one GEMM; each step adds `W_rec z^{t−1}` by one GEMV and runs [`Kernel::step`]; the readout
/// drive `W_out z^{t−δ}` of every step is one GEMM after the loop. Nothing is allocated inside
/// the time loops.
pub fn forward<T: Scalar>(net: &Network, params: &Params<T>, seq: &Sequence) -> Result<FastTrajectory<T>> {
    let kernel = Kernel::new(net, params)?;
    seq.validate(net)?;
    Ok(forward_with(&kernel, net, params, seq))
}

/// [`forward`] with a packed kernel (inputs validated by the caller).
pub fn forward_with<T: Scalar>(
    kernel: &Kernel<T>,
    net: &Network,
    params: &Params<T>,
    seq: &Sequence,
) -> FastTrajectory<T> {
    let (steps, n) = (seq.len(), net.n);
    let mut x = DMatrix::zeros(net.n_in, steps + 1);
    for t in 1..=steps {
        for (dst, &src) in col_mut(&mut x, t).iter_mut().zip(seq.x[t - 1].iter()) {
            *dst = T::c(src);
        }
    }
    let states = layer_states(kernel, x.columns(1, steps));
    let z = &states.z;
    // Eq. (Y1): the readout drive of every step at once, W_out z^{t−δ} + b_out (one GEMM)
    let (k, lag) = (net.n_out, net.readout.lag());
    let mut drive = DMatrix::zeros(k, steps);
    for t in 0..steps {
        drive.column_mut(t).copy_from(&params.b_out().column(0));
    }
    if k <= THIN {
        // few outputs: one K-row GEMV per step (`gemv_acc`; nalgebra's GEMM would loop generically)
        let (w_out, z) = (params.w_out().as_slice(), z.as_slice());
        for (t, col) in drive.as_mut_slice().chunks_exact_mut(k.max(1)).enumerate() {
            gemv_acc(w_out, k, &z[(t + 1 - lag) * n..(t + 2 - lag) * n], col);
        }
    } else {
        drive.gemm(T::one(), params.w_out(), &z.columns(1 - lag, steps), T::one());
    }
    let (y, dl_dy, mut loss) = readout_loss(net, &drive, seq);
    let mut reg_signal = DVector::zeros(n);
    if let Some(reg) = &net.reg {
        let z_sum: DVector<T> = z.column_sum();
        let (e, gr) = reg.value_and_grad(&z_sum, steps); // Eq. (Y5)
        loss += e;
        reg_signal = gr;
    }
    FastTrajectory { states, x, y, dl_dy, loss, reg_signal }
}

/// One layer's stored states over a whole sequence (column `t` = step `t`, `t = 0..=T`), as
/// [`layer_states`] returns them.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerStates<T: Scalar> {
    /// `h^t`, `(N·d) × (T+1)`.
    pub h: DMatrix<T>,
    /// Refractory counters, `N × (T+1)` (`0 × (T+1)` for smooth cells).
    pub refractory: DMatrix<u32>,
    /// `z^t`, `N × (T+1)`.
    pub z: DMatrix<T>,
    /// `∂z^t/∂h^t`, `(N·d) × (T+1)` (Eq. C5).
    pub zh: DMatrix<T>,
    /// The gain `γ^t`, `(G·N) × (T+1)` (K3).
    pub gain: DMatrix<T>,
    /// The decay `D^t_{00}`, `N × (T+1)` (K4).
    pub decay: DMatrix<T>,
}

/// The recurrent part of the fast forward pass of one layer, (K1)–(K4) (and (K14) for a layer of
/// a stack): the input drive `W_in x^t + b` of every step as one GEMM over the `T` columns of
/// `input` (column `t − 1` = the input at step `t`: `x^t`, or the layer below's output), written
/// into the gain matrix and replaced there by `γ^t` once step `t` has read it (K24), then per
/// step `+ W_rec z^{t−1}` by one GEMV and the fused step [`Kernel::step`]. Zero initial state
/// (`∂z^0/∂h^0` from [`Kernel::initial_zh`]). Nothing is allocated in the time loop. Shared by
/// [`forward_with`] and the fast stacked BPTT of `credit-bptt`.
pub fn layer_states<T: Scalar>(kernel: &Kernel<T>, input: DMatrixView<'_, T>) -> LayerStates<T> {
    let (steps, n, d, g) = (input.ncols(), kernel.n, kernel.d, kernel.gates);
    let spiking = kernel.cell.is_spiking();
    // (K1): the input drive of every step at once, u_in = W_in X + b 1ᵀ (one GEMM), written into
    // columns 1..=T of the gain matrix: column t is read into `u` just before step t writes γ^t
    // over it (K24), so no separate (G·N) × T matrix of pre-activations is kept
    let mut gain = DMatrix::zeros(g * n, steps + 1);
    for t in 1..=steps {
        gain.column_mut(t).copy_from(&kernel.b);
    }
    if input.nrows() <= THIN {
        // few inputs: one GEMV per step (`gemv_acc`; nalgebra's GEMM would loop generically)
        let mut x = vec![T::zero(); input.nrows()];
        for t in 1..=steps {
            for (dst, src) in x.iter_mut().zip(input.column(t - 1).iter()) {
                *dst = *src;
            }
            gemv_acc(kernel.w_in.as_slice(), g * n, &x, col_mut(&mut gain, t));
        }
    } else {
        gain.columns_mut(1, steps).gemm(T::one(), &kernel.w_in, &input, T::one());
    }
    let mut u = vec![T::zero(); g * n];
    let mut h = DMatrix::zeros(n * d, steps + 1);
    let mut refractory = DMatrix::zeros(if spiking { n } else { 0 }, steps + 1);
    let mut z = DMatrix::zeros(n, steps + 1);
    let mut zh = DMatrix::zeros(n * d, steps + 1);
    zh.column_mut(0).copy_from(&kernel.initial_zh()); // ∂z^0/∂h^0, read by ALIF's D^1
    let mut decay = DMatrix::zeros(n, steps + 1);
    for t in 1..=steps {
        let (z_prev, z_now) = pair(&mut z, t);
        // (K24): u^t = column t of the gain matrix (the input drive), before γ^t replaces it
        u.copy_from_slice(col_mut(&mut gain, t));
        // (K1): + W_rec z^{t−1}, one GEMV (spiking cells: the columns of the spikes only)
        kernel.add_recurrent(z_prev, &mut u);
        let (h_prev, h_now) = pair(&mut h, t);
        let (r_prev, r_now) = pair(&mut refractory, t);
        // (K2)–(K4): the fused step, h^t, z^t, ∂z^t/∂h^t, γ^t, D^t_{00}
        kernel.step(
            &u,
            StepIn { h: h_prev, refractory: r_prev, z: z_prev },
            StepOut {
                h: h_now,
                refractory: r_now,
                z: z_now,
                zh: col_mut(&mut zh, t),
                gain: col_mut(&mut gain, t),
                decay: col_mut(&mut decay, t),
            },
        );
    }
    LayerStates { h, refractory, z, zh, gain, decay }
}

/// The leaky readout and the loss of every step from the readout drives (`K × T`, column
/// `t − 1` = `W_out z^{t−δ} + b_out` of step `t`, Eq. (Y1); for a stack the sum over the read
/// layers, Eq. (S2)): `y^t = κ y^{t−1} + c · drive^t` from `y^0 = 0` (Eq. Y1), `E^t` and
/// `g^t = m^t ∂E^t/∂y^t` (Eqs. Y2–Y4) with the readout and loss of `net`. Returns `y` and `g`
/// (`K × (T+1)`, column `t` = step `t`, column 0 zero) and `Σ_t E^t` (no regulariser).
/// Inputs validated by the caller. Shared by [`forward_with`] and the fast stacked BPTT.
pub fn readout_loss<T: Scalar>(
    net: &Network,
    drive: &DMatrix<T>,
    seq: &Sequence,
) -> (DMatrix<T>, DMatrix<T>, T) {
    let (k, steps) = (drive.nrows(), drive.ncols());
    let (kappa, c_out) = (T::c(net.readout.kappa), T::c(net.readout.c()));
    let mut y = DMatrix::zeros(k, steps + 1);
    let mut dl_dy = DMatrix::zeros(k, steps + 1);
    let mut target = vec![T::zero(); k];
    let mut loss = T::zero();
    for t in 1..=steps {
        let (y_prev, y_now) = pair(&mut y, t);
        for q in 0..k {
            y_now[q] = y_prev[q] * kappa + drive[(q, t - 1)] * c_out; // Eq. (Y1), Eq. (S2)
        }
        for (dst, &src) in target.iter_mut().zip(seq.target[t - 1].iter()) {
            *dst = T::c(src);
        }
        let y_now = &y.as_slice()[t * k..(t + 1) * k];
        // Eqs. (Y2)–(Y4): E^t and g^t = m^t ∂E^t/∂y^t
        loss += loss_and_grad(net, y_now, &target, T::c(seq.mask[t - 1]), col_mut(&mut dl_dy, t));
    }
    (y, dl_dy, loss)
}

/// `Aᵀ`-free product `a · B[:, cols]ᵀ` as one GEMM through a strided view (no transposed copy):
/// `a` is `r × m`, `b` is `s × _`, the result `r × s`; column `t` of `a` meets column
/// `first + t` of `b`. A thin product (`r` or `s` at most `THIN`) is `thin_gemm` on a copy of
/// the thin side's rows instead (`docs/fast.md` §3, "Thin products").
pub fn mul_tr_cols<T: Scalar>(a: &DMatrix<T>, b: &DMatrix<T>, first: usize) -> DMatrix<T> {
    let (m, s) = (a.ncols(), b.nrows());
    let mut out = DMatrix::zeros(a.nrows(), s);
    if m == 0 || s == 0 {
        return out;
    }
    let (r, data) = (a.nrows(), &b.as_slice()[first * s..(first + m) * s]);
    if s <= THIN {
        // few columns (dE/dW_in = A Xᵀ): column i of the result is A times row i of B's columns
        let rows: Vec<T> = (0..s).flat_map(|i| (0..m).map(move |t| data[t * s + i])).collect();
        thin_gemm(a.as_slice(), r, &rows, out.as_mut_slice());
    } else if r <= THIN {
        // few rows (dE/dW_out = c Ȳ Z_δᵀ): row q of the result is B's columns times row q of a
        let rows: Vec<T> = (0..r).flat_map(|q| (0..m).map(move |t| a[(q, t)])).collect();
        let mut out_t = vec![T::zero(); s * r];
        thin_gemm(data, s, &rows, &mut out_t);
        out = DMatrix::from_row_slice(r, s, &out_t);
    } else {
        // Bᵀ[t, i] = B[i, first + t]: row stride s, column stride 1
        let bt = DMatrixView::from_slice_with_strides(data, m, s, s, 1);
        out.gemm(T::one(), a, &bt, T::zero());
    }
    out
}

/// At most this many rows or columns, a product is "thin": nalgebra's GEMM would fall back to
/// its generic column-by-column loop there (it hands `f32`/`f64` to `matrixmultiply` only when
/// every dimension exceeds 5), so [`mul_tr_cols`] and the input drive of [`layer_states`] use
/// [`thin_gemm`] instead.
const THIN: usize = 8;

/// `out[:, v] += M · vecs[v]` for a column-major `rows × m` matrix `mat` and `nv` vectors of length
/// `m` (`vecs`, one after the other; `out` column-major `rows × nv`): [`gemv_acc`] over blocks of
/// columns of `mat` small enough to stay in L1 while every vector meets them, so that `mat` is
/// read from memory once.
fn thin_gemm<T: Scalar>(mat: &[T], rows: usize, vecs: &[T], out: &mut [T]) {
    let m = mat.len().checked_div(rows).unwrap_or(0);
    let block = (2048 / rows.max(1)).clamp(4, 256) / 4 * 4; // ≤ 16 KiB of f64 per block
    for start in (0..m).step_by(block) {
        let end = (start + block).min(m);
        for (v, col) in out.chunks_exact_mut(rows.max(1)).enumerate() {
            gemv_acc(&mat[start * rows..end * rows], rows, &vecs[v * m + start..v * m + end], col);
        }
    }
}

/// `y += A x` for a column-major `rows × x.len()` matrix `a` (its slice): the GEMV of (K1),
/// four columns per pass over `y` so that `y` is loaded and stored once per four columns and
/// the row loop vectorises (the same products as nalgebra's `gemv`, summed in a different
/// order: equal up to rounding).
pub fn gemv_acc<T: Scalar>(a: &[T], rows: usize, x: &[T], y: &mut [T]) {
    pulp::Arch::new().dispatch(Gemv { a, rows, x, y });
}

/// A GEMV handed to [`pulp::Arch::dispatch`]: compiled once per instruction set (SSE2,
/// AVX2+FMA, AVX-512) and run with the best one the CPU has (the workspace's default target
/// is baseline x86-64, so the plain loops would never use AVX).
struct Gemv<'a, T> {
    a: &'a [T],
    rows: usize,
    x: &'a [T],
    y: &'a mut [T],
}

impl<T: Scalar> pulp::WithSimd for Gemv<'_, T> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        gemv_acc_body(self.a, self.rows, self.x, self.y);
    }
}

/// The body of [`gemv_acc`], inlined into the runtime-dispatched (AVX2/AVX-512) copy.
#[inline(always)]
fn gemv_acc_body<T: Scalar>(a: &[T], rows: usize, x: &[T], y: &mut [T]) {
    let y = &mut y[..rows];
    let mut quads = x.chunks_exact(4);
    let mut cols = a.chunks_exact(4 * rows.max(1));
    for (xs, block) in (&mut quads).zip(&mut cols) {
        let (c0, rest) = block.split_at(rows);
        let (c1, rest) = rest.split_at(rows);
        let (c2, c3) = rest.split_at(rows);
        let (x0, x1, x2, x3) = (xs[0], xs[1], xs[2], xs[3]);
        for ((((yr, &a0), &a1), &a2), &a3) in y.iter_mut().zip(c0).zip(c1).zip(c2).zip(c3) {
            *yr += (a0 * x0 + a1 * x1) + (a2 * x2 + a3 * x3);
        }
    }
    let done = x.len() - quads.remainder().len();
    for (i, &xi) in quads.remainder().iter().enumerate() {
        let col = &a[(done + i) * rows..(done + i + 1) * rows];
        for (yr, &ar) in y.iter_mut().zip(col) {
            *yr += ar * xi;
        }
    }
}

/// `tanh` of the LSTM's fused step (`docs/fast.md` §2): `sign(x)·(1 − e)/(1 + e)` with
/// `e = exp(−2|x|)`, linearised like [`Scalar::stable_tanh`] (derivative `1 − t²`). One `exp`
/// instead of libm's `tanh` (an `expm1`, several times slower on the bench machine: the LSTM
/// evaluates two per neuron and step). The value differs from `Float::tanh` by a few ulp
/// relative for `|x| ≳ 0.3` and by a few ulp of 1 absolute below (the cancellation in `1 − e`),
/// far inside the 1e-12 of the fast = literal relations; `exp_tanh(0) = 0`, odd, and exactly
/// ±1 where `e` underflows below half an ulp of 1.
pub fn exp_tanh<T: Scalar>(x: T) -> T {
    let r = x.re();
    let one = <T::Primitive as num_traits::One>::one();
    let a = num_traits::Float::abs(r);
    let e = num_traits::Float::exp(-(a + a));
    let t = (one - e) / (one + e);
    let t = if r < <T::Primitive as num_traits::Zero>::zero() { -t } else { t };
    x.linearize(t, one - t * t)
}

#[cfg(test)]
mod tests {
    use super::exp_tanh;
    use crate::Scalar;
    use num_dual::Dual64;

    /// `exp_tanh` = `tanh` to a few 1e-16 absolute (and relative away from 0), odd, exactly 0 at
    /// 0 and ±1 far out; its dual part is `1 − tanh²` (extracted `.eps`, non-zero).
    #[test]
    fn exp_tanh_matches_tanh() {
        let mut worst = 0.0f64;
        for k in -4000..=4000 {
            let x = k as f64 * 0.005 + 1e-3 * (k as f64).sin();
            let (a, b) = (exp_tanh(x), x.tanh());
            worst = worst.max((a - b).abs());
            if x.abs() > 0.3 {
                assert!((a - b).abs() <= 4.0 * f64::EPSILON * b.abs(), "{x}: {a} vs {b}");
            }
            assert!((exp_tanh(-x) + a).abs() < f64::MIN_POSITIVE, "odd at {x}");
            let d = exp_tanh(Dual64::new(x, 1.0));
            assert!((d.eps - (1.0 - b * b)).abs() <= 1e-15, "{x}: derivative {}", d.eps);
            assert!(d.eps > 0.0 || x.abs() > 18.0, "{x}: live derivative");
            assert_eq!(d.re.to_bits(), a.to_bits(), "{x}: real part as the float run");
        }
        assert!(worst <= 4.0 * f64::EPSILON, "worst {worst:e}");
        assert_eq!(exp_tanh(0.0f64).to_bits(), 0.0f64.to_bits());
        assert_eq!(exp_tanh(40.0f64).to_bits(), 1.0f64.to_bits());
        assert_eq!(exp_tanh(-40.0f64).to_bits(), (-1.0f64).to_bits());
        assert!((exp_tanh(0.5f32) - 0.5f32.tanh()).abs() <= 4.0 * f32::EPSILON);
        assert!(exp_tanh(f64::NAN).value().is_nan());
    }
}
