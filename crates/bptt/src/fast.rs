//! Fast BPTT for one layer: the reverse recursion (B1)–(B6) of `docs/bptt.md` in the
//! structure-aware form (K5)–(K9) of `docs/fast.md`.
//!
//! It must equal [`crate::gradient`] (loss and every gradient tensor; the relation
//! `bptt-fast=bptt` of `credit-check` proves it on the whole suite at ≤ 1e-12 per tensor). It
//! stores the trajectory once ([`credit_core::fast::forward`]: `h`, `z`, `∂z/∂h`, the gains and
//! decays of every step), never builds a local Jacobian, and turns the sums over time of
//! (B2) and (B6) into GEMMs:
//! $$ \\frac{dE}{dW^{\\rm rec}} = A\\, Z_{-}^\\top, \\quad \\frac{dE}{dW^{\\rm in}} = A\\, X^\\top, \\quad
//!    \\frac{dE}{db} = A\\,\\mathbb 1 \\quad\\text{(K8)}, \\qquad
//!    \\frac{dE}{dW^{\\rm out}} = c\\,\\bar Y Z_{\\delta}^\\top \\quad\\text{(K9)}, $$
//! where column `t` of `A` is the drive adjoint `a^t = γ^t ⊙ λ^t` (K6). The time loop is one
//! GEMV (`W_recᵀ a^{t+1}`, K7) and `O(N·d)` element-wise work per step, with no allocation.
//!
//! Reference: Werbos (1990), as [`crate::gradient`]; derivation of the fast form in
//! `docs/fast.md` §3.

use credit_core::fast::{FastTrajectory, Kernel, forward_with, gemv_acc, mul_tr_cols};
use credit_core::{Cell, Network, Params, Scalar, Sequence};
use nalgebra::{DMatrix, DVector};

/// What fast BPTT returns: the loss and the gradient (the literal [`crate::Bptt`] also keeps
/// every `δ^t` and `λ^t`; the fast path keeps none).
#[derive(Clone, Debug, PartialEq)]
pub struct FastBptt<T: Scalar> {
    /// The loss `E`.
    pub loss: T,
    /// `dE/dθ` for every parameter tensor.
    pub grad: Params<T>,
}

/// Fast BPTT gradient of the loss of `seq`: equal to [`crate::gradient`] (its `loss` and `grad`),
/// for every cell and convention. Validates its inputs.
pub fn gradient<T: Scalar>(
    net: &Network,
    params: &Params<T>,
    seq: &Sequence,
) -> credit_core::Result<FastBptt<T>> {
    let kernel = Kernel::new(net, params)?;
    seq.validate(net)?;
    let traj = forward_with(&kernel, net, params, seq);
    Ok(reverse(&kernel, net, params, &traj))
}

/// The reverse pass over a stored fast trajectory.
fn reverse<T: Scalar>(
    kernel: &Kernel<T>,
    net: &Network,
    params: &Params<T>,
    traj: &FastTrajectory<T>,
) -> FastBptt<T> {
    let steps = traj.steps();
    let (n, k) = (net.n, net.n_out);
    let lag = net.readout.lag();
    let (kappa, c_out) = (T::c(net.readout.kappa), T::c(net.readout.c()));
    // Eq. (B1): ȳ^t = g^t + κ ȳ^{t+1}, ȳ^{T+1} = 0; column t of y_bar is ȳ^t, t = 0..=T+1
    let mut y_bar = DMatrix::zeros(k, steps + 2);
    for t in (1..=steps).rev() {
        for q in 0..k {
            y_bar[(q, t)] = traj.dl_dy[(q, t)] + y_bar[(q, t + 1)] * kappa;
        }
    }
    let mut grad = Params::zeros(net);
    let nc = net.n_cell_tensors();
    // (K9), Eq. (B2): dE/dW_out = c Σ_t ȳ^t (z^{t−δ})ᵀ (one GEMM), dE/db_out = c Σ_t ȳ^t
    let y_cols = y_bar.columns(1, steps).into_owned();
    grad.tensors[nc].value = mul_tr_cols(&y_cols, &traj.states.z, 1 - lag) * c_out;
    grad.tensors[nc + 1].value.column_mut(0).copy_from(&(y_cols.column_sum() * c_out));
    // (K9), Eq. (B3): ∂E/∂z^t = ∂E_reg/∂z^t (Y5, the same at every step) + (c W_out)ᵀ ȳ^{t+δ},
    // column t−1 is step t: a K-column GEMV per step (`gemv_acc`) into a buffer filled once
    let w_out_t = (params.w_out() * c_out).transpose();
    let mut data = Vec::with_capacity(n * steps);
    for t in 1..=steps {
        data.extend_from_slice(traj.reg_signal.as_slice());
        let y = &y_bar.as_slice()[(t + lag) * k..(t + lag + 1) * k];
        gemv_acc(w_out_t.as_slice(), n, y, &mut data[(t - 1) * n..]);
    }
    let dz = DMatrix::from_vec(n, steps, data);
    let a = drive_adjoints(kernel, &traj.states.zh, &traj.states.gain, &traj.states.decay, dz);
    // (K8), Eq. (B6): Σ_t (I^t)ᵀ λ^t = A [X | Z_{−} | 1]ᵀ, three GEMMs (GEMVs for b)
    let d_in = mul_tr_cols(&a, &traj.x, 1);
    let d_rec = mul_tr_cols(&a, &traj.states.z, 0);
    let d_b: DVector<T> = a.column_sum();
    kernel.unpack_into(&d_in, &d_rec, &d_b, &mut grad);
    FastBptt { loss: traj.loss, grad }
}

/// The reverse loop (K5)–(K7) of one layer, Eqs. (B3)–(B6): from the learning signals from
/// outside the layer's recurrence `dz` (`N × T`, column `t − 1` = `∂E/∂z^t` of step `t`: the
/// readout (B3), the regulariser (Y5), the layer above (B7) as (K17)) and the stored `∂z/∂h`,
/// gains and decays (`(T+1)` columns, column `t` = step `t`), the drive adjoints `A`
/// (`G·N × T`, column `t − 1` = `a^t = γ^t ⊙ λ^t`, (K6)). Shared by [`gradient`] and the
/// stacked [`stack_gradient`]. No allocation in the time loop. With one drive row per neuron
/// (`G = 1`) `A` is written over `dz`'s storage (K25): column `t − 1` of `dz` is read before
/// `a^t` replaces it, and the loop reads only columns `≥ t` of `A` and `t − 1` of `dz`. With one
/// state component as well (`d = 1`: rate, LIF) the loop is the fused (K26); the LSTM's is the
/// fused (K27), the ALIF's the fused (K28); [`drive_adjoints_general`] is the unfused loop they
/// are tested against.
pub(crate) fn drive_adjoints<T: Scalar>(
    kernel: &Kernel<T>,
    zh: &DMatrix<T>,
    gain: &DMatrix<T>,
    decay: &DMatrix<T>,
    dz: DMatrix<T>,
) -> DMatrix<T> {
    let (d, g) = (kernel.d, kernel.gates);
    if d == 1 && g == 1 {
        return drive_adjoints_fused(kernel, zh, gain, decay, dz);
    }
    match &kernel.cell {
        Cell::Lstm(_) => drive_adjoints_lstm(kernel, zh, gain, decay, dz),
        Cell::Alif(c) => drive_adjoints_alif(kernel, (T::c(c.rho), T::c(c.beta)), zh, gain, decay, dz),
        _ => drive_adjoints_general(kernel, zh, gain, decay, dz),
    }
}

/// The general reverse loop (K5)–(K7) for any `(d, G)`, built from the kernel's structure-aware
/// products (`Kernel::add_m_z_tr`, `add_d_tr`, `drive_adjoint`). Every cell of today takes a
/// fused form ((K26)–(K28)); this loop is what each of them must equal, up to the order of
/// additions (the tests below run it against [`drive_adjoints`] on every cell).
fn drive_adjoints_general<T: Scalar>(
    kernel: &Kernel<T>,
    zh: &DMatrix<T>,
    gain: &DMatrix<T>,
    decay: &DMatrix<T>,
    dz: DMatrix<T>,
) -> DMatrix<T> {
    let (n, d, g, steps) = (kernel.n, kernel.d, kernel.gates, dz.ncols());
    // the adjoints: λ^{t+1} and λ^t, δ^t, and A (column t−1 = a^t, K6); (K25): A over dz if G = 1
    let mut lam_next = vec![T::zero(); n * d];
    let mut lam = vec![T::zero(); n * d];
    let mut delta = vec![T::zero(); n];
    let (mut a, dz) = if g == 1 { (dz, None) } else { (DMatrix::zeros(g * n, steps), Some(dz)) };
    let cols = |m: &DMatrix<T>, t: usize| -> std::ops::Range<usize> { t * m.nrows()..(t + 1) * m.nrows() };
    for t in (1..=steps).rev() {
        let src = dz.as_ref().unwrap_or(&a);
        delta.copy_from_slice(&src.as_slice()[cols(src, t - 1)]); // Eq. (B3) (+ (Y5), (B7) as (K17))
        lam.iter_mut().for_each(|l| *l = T::zero());
        if t < steps {
            // Eq. (B4) as (K7): δ^t += W_recᵀ a^{t+1} + r λ_v^{t+1}
            kernel.add_m_z_tr(&a.as_slice()[cols(&a, t)], &lam_next, &mut delta);
            // Eq. (B5), second term (K5): (D^{t+1})ᵀ λ^{t+1}
            kernel.add_d_tr(
                &decay.as_slice()[cols(decay, t + 1)],
                &zh.as_slice()[cols(zh, t)],
                &lam_next,
                &mut lam,
            );
        }
        let zh = &zh.as_slice()[cols(zh, t)];
        for j in 0..n {
            for c in 0..d {
                lam[j * d + c] += delta[j] * zh[j * d + c]; // Eq. (B5), δ_j ∂z_j/∂h_j
            }
        }
        // (K6): a^t = γ^t ⊙ λ^t, the factor of (I^t)ᵀ λ^t in Eq. (B6)
        let range = cols(&a, t - 1);
        kernel.drive_adjoint(&gain.as_slice()[cols(gain, t)], &lam, &mut a.as_mut_slice()[range]);
        std::mem::swap(&mut lam, &mut lam_next);
    }
    a
}

/// [`drive_adjoints`] for one state component and one drive row per neuron (`d = G = 1`: rate,
/// LIF), fused (K26): per step one GEMV into `Δ`'s column (`δ^t` is built where `a^t` will be
/// written, (K25)) and one element-wise pass that forms `δ^t`, `λ^t` (in place of `λ^{t+1}`) and
/// `a^t`. The same operations as the general loop (equal up to the order of two additions).
fn drive_adjoints_fused<T: Scalar>(
    kernel: &Kernel<T>,
    zh: &DMatrix<T>,
    gain: &DMatrix<T>,
    decay: &DMatrix<T>,
    a: DMatrix<T>,
) -> DMatrix<T> {
    let r = kernel.reset_slope();
    reverse_one_row(kernel, 1, zh, gain, decay, a, |col, lam, zh, gain, decay_next| {
        pulp::Arch::new().dispatch(AdjointStep { col, lam, zh, gain, decay_next, r });
    })
}

/// The time loop of the fused reverse steps with one drive row per neuron (`G = 1`: (K26) and
/// (K28)), `A` over `Δ` (K25): for `t = T … 1`, the GEMV `Δ_{:,t−1} += W_recᵀ a^{t+1}` in place
/// (Eq. B4 as (K7), `t < T`), then `step(col, λ, ∂z^t/∂h^t, γ^t, D^{t+1}_{00})`, which turns the
/// column into `a^t` and `λ^{t+1}` into `λ^t` in place (`λ` and `∂z/∂h` neuron-major `N·d`;
/// `None` for `D^{T+1}`: `λ^{T+1} = 0`).
fn reverse_one_row<T: Scalar>(
    kernel: &Kernel<T>,
    d: usize,
    zh: &DMatrix<T>,
    gain: &DMatrix<T>,
    decay: &DMatrix<T>,
    mut a: DMatrix<T>,
    mut step: impl FnMut(&mut [T], &mut [T], &[T], &[T], Option<&[T]>),
) -> DMatrix<T> {
    let (n, steps) = (kernel.n, a.ncols());
    let mut lam = vec![T::zero(); n * d]; // λ^{t+1}, overwritten by λ^t neuron by neuron
    let data = a.as_mut_slice();
    for t in (1..=steps).rev() {
        // column t − 1: Δ_{:,t−1} (the outside signal of step t), becomes a^t; column t: a^{t+1}
        let (head, tail) = data.split_at_mut(t * n);
        let col = &mut head[(t - 1) * n..];
        let next = if t < steps {
            // Eq. (B4) as (K7): δ^t = Δ_{:,t−1} + W_recᵀ a^{t+1} (+ r λ_v^{t+1} in `step`), in place
            gemv_acc(kernel.w_rec_t.as_slice(), n, &tail[..n], col);
            Some(&decay.as_slice()[(t + 1) * n..(t + 2) * n])
        } else {
            None
        };
        let (zh, gain) = (&zh.as_slice()[t * d * n..(t + 1) * d * n], &gain.as_slice()[t * n..(t + 1) * n]);
        step(col, &mut lam, zh, gain, next);
    }
    a
}

/// [`drive_adjoints`] for the LSTM (`d = 2`: components `c`, `o`; `G = 4`: drive rows `i, f,
/// c̃, o`), fused (K27): per step one GEMV into `Δ`'s column `t − 1` (which becomes `δ^t`: no
/// copy) and one element-wise pass that forms `λ^t_c` (in place of `λ^{t+1}_c`), `λ^t_o` (a
/// scalar: `(D^{t+1})ᵀ` has no `o` row, (K5)) and the four rows of `a^t`. One buffer of `N`
/// (`λ_c`), no zeroing, no swap; the same products as the general loop, in the same order.
fn drive_adjoints_lstm<T: Scalar>(
    kernel: &Kernel<T>,
    zh: &DMatrix<T>,
    gain: &DMatrix<T>,
    decay: &DMatrix<T>,
    mut dz: DMatrix<T>,
) -> DMatrix<T> {
    let (n, steps) = (kernel.n, dz.ncols());
    let mut a = DMatrix::zeros(4 * n, steps); // column t − 1 = a^t (K6), every entry written below
    let mut lam_c = vec![T::zero(); n]; // λ^{t+1}_c, overwritten by λ^t_c neuron by neuron
    let (dz, a_data) = (dz.as_mut_slice(), a.as_mut_slice());
    for t in (1..=steps).rev() {
        // columns of A: t − 1 (a^t, written here) and t (a^{t+1}, written by step t + 1)
        let (head, tail) = a_data.split_at_mut(t * 4 * n);
        let delta = &mut dz[(t - 1) * n..t * n];
        let next = if t < steps {
            // Eq. (B4) as (K7): δ^t = Δ_{:,t−1} + W_recᵀ a^{t+1} (r = 0: no reset), in place
            gemv_acc(kernel.w_rec_t.as_slice(), n, &tail[..4 * n], delta);
            Some(&decay.as_slice()[(t + 1) * n..(t + 2) * n])
        } else {
            None
        };
        let step = LstmAdjointStep {
            a: &mut head[(t - 1) * 4 * n..],
            delta,
            lam_c: &mut lam_c,
            zh: &zh.as_slice()[t * 2 * n..(t + 1) * 2 * n],
            gain: &gain.as_slice()[t * 4 * n..(t + 1) * 4 * n],
            decay_next: next,
        };
        pulp::Arch::new().dispatch(step);
    }
    a
}

/// [`drive_adjoints`] for the ALIF (`d = 2`: components `v`, `a`; `G = 1`), fused (K28): `A`
/// over `Δ` (K25), per step one GEMV into `Δ`'s column `t − 1` and one element-wise pass that
/// forms `δ^t`, `λ^t` (both components, in place of `λ^{t+1}`) and `a^t`. `(rho, beta)` = `(ρ, β)`
/// of (A4). The same products as the general loop, in the same order.
fn drive_adjoints_alif<T: Scalar>(
    kernel: &Kernel<T>,
    (rho, beta): (T, T),
    zh: &DMatrix<T>,
    gain: &DMatrix<T>,
    decay: &DMatrix<T>,
    a: DMatrix<T>,
) -> DMatrix<T> {
    let r = kernel.reset_slope();
    // λ^{t+1} and ∂z/∂h: v at 2j, a at 2j + 1
    reverse_one_row(kernel, 2, zh, gain, decay, a, |col, lam, zh, gain, decay_next| {
        pulp::Arch::new().dispatch(AlifAdjointStep { col, lam, zh, gain, decay_next, r, rho, beta });
    })
}

/// The element-wise part of one step of [`drive_adjoints_alif`] (K28), compiled per instruction
/// set like `gemv_acc` and picked at run time.
struct AlifAdjointStep<'a, T> {
    /// In: `Δ_{:,t−1} + W_recᵀ a^{t+1}`; out: `a^t`.
    col: &'a mut [T],
    /// In: `λ^{t+1}` (zero for `t = T`); out: `λ^t`; neuron-major `2N` (`v` at `2j`, `a` at `2j + 1`).
    lam: &'a mut [T],
    /// `∂z^t/∂h^t`, neuron-major `2N` (`ψ^t_j` at `2j`).
    zh: &'a [T],
    /// `γ^t`, `N`.
    gain: &'a [T],
    /// `α` of step `t + 1` (`None` for `t = T`: `λ^{T+1} = 0`).
    decay_next: Option<&'a [T]>,
    /// The reset slope `r` of (K7).
    r: T,
    /// `ρ` of (A4).
    rho: T,
    /// `β` of (A4).
    beta: T,
}

impl<T: Scalar> pulp::WithSimd for AlifAdjointStep<'_, T> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        let (r, rho, beta) = (self.r, self.rho, self.beta);
        let lanes =
            self.col.iter_mut().zip(self.lam.chunks_exact_mut(2)).zip(self.zh.chunks_exact(2)).zip(self.gain);
        match self.decay_next {
            Some(decay) => {
                for ((((c, l), zh), &gain), &dec) in lanes.zip(decay) {
                    let (lv, la, psi) = (l[0], l[1], zh[0]);
                    let delta = *c + r * lv; // Eq. (B4) as (K7): + r λ_v^{t+1} (Eq. L6)
                    // Eq. (B5) with (K5), (A4): (D^{t+1})ᵀ λ^{t+1} + δ_j ∂z_j/∂h_j
                    l[0] = (dec * lv + psi * la) + delta * zh[0];
                    l[1] = (rho - beta * psi) * la + delta * zh[1];
                    *c = gain * l[0]; // (K6): a^t = γ^t λ_v^t
                }
            }
            None => {
                for (((c, l), zh), &gain) in lanes {
                    l[0] = *c * zh[0]; // Eq. (B5) at t = T: λ^T = δ^T ∂z/∂h
                    l[1] = *c * zh[1];
                    *c = gain * l[0]; // (K6)
                }
            }
        }
    }
}

/// The element-wise part of one step of [`drive_adjoints_lstm`] (K27), compiled per
/// instruction set like `gemv_acc` and picked at run time.
struct LstmAdjointStep<'a, T> {
    /// Out: `a^t`, `4N`, gate-major (rows `gN + j`).
    a: &'a mut [T],
    /// `δ^t = Δ_{:,t−1} + W_recᵀ a^{t+1}`, `N`.
    delta: &'a [T],
    /// In: `λ^{t+1}_c` (zero for `t = T`); out: `λ^t_c`.
    lam_c: &'a mut [T],
    /// `∂z^t/∂h^t`, neuron-major `2N` (`∂z_j/∂c_j` at `2j`, `∂z_j/∂o_j` at `2j + 1`).
    zh: &'a [T],
    /// `γ^t`, `4N`, gate-major (K3).
    gain: &'a [T],
    /// `f^{t+1}` (`None` for `t = T`: `λ^{T+1} = 0`).
    decay_next: Option<&'a [T]>,
}

impl<T: Scalar> pulp::WithSimd for LstmAdjointStep<'_, T> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        let n = self.delta.len();
        let (a_i, rest) = self.a.split_at_mut(n);
        let (a_f, rest) = rest.split_at_mut(n);
        let (a_c, a_o) = rest.split_at_mut(n);
        let (g_i, rest) = self.gain.split_at(n);
        let (g_f, rest) = rest.split_at(n);
        let (g_c, g_o) = rest.split_at(n);
        let rows = a_i.iter_mut().zip(a_f.iter_mut()).zip(a_c.iter_mut()).zip(a_o.iter_mut());
        let gains = g_i.iter().zip(g_f).zip(g_c).zip(g_o);
        let lanes = rows.zip(gains).zip(self.lam_c.iter_mut()).zip(self.delta).zip(self.zh.chunks_exact(2));
        match self.decay_next {
            Some(decay) => {
                for ((((((((ai, af), ac), ao), (((gi, gf), gc), go)), l), &dl), zh), &f) in lanes.zip(decay) {
                    // Eq. (B5) with (K5): λ_c^t = f^{t+1}_j λ_c^{t+1} + δ_j ∂z_j/∂c_j (Eq. M5)
                    *l = f * *l + dl * zh[0];
                    let lo = dl * zh[1]; // Eq. (B5): λ_o^t = δ_j ∂z_j/∂o_j ((D^{t+1})ᵀ has no o row)
                    // (K6): a^t_{gN+j} = γ^t_{gN+j} λ^t_{c(g)}, c(g) = c for i, f, c̃ and o for o
                    (*ai, *af, *ac, *ao) = (*gi * *l, *gf * *l, *gc * *l, *go * lo);
                }
            }
            None => {
                for (((((((ai, af), ac), ao), (((gi, gf), gc), go)), l), &dl), zh) in lanes {
                    *l = dl * zh[0]; // Eq. (B5) at t = T: λ^T = δ^T ∂z/∂h
                    let lo = dl * zh[1];
                    (*ai, *af, *ac, *ao) = (*gi * *l, *gf * *l, *gc * *l, *go * lo); // (K6)
                }
            }
        }
    }
}

/// The element-wise part of one step of [`drive_adjoints_fused`] (K26), compiled per instruction
/// set like `gemv_acc` and picked at run time.
struct AdjointStep<'a, T> {
    /// In: `Δ_{:,t−1} + W_recᵀ a^{t+1}`; out: `a^t`.
    col: &'a mut [T],
    /// In: `λ^{t+1}` (zero for `t = T`); out: `λ^t`.
    lam: &'a mut [T],
    /// `∂z^t/∂h^t`.
    zh: &'a [T],
    /// `γ^t`.
    gain: &'a [T],
    /// `D^{t+1}_{00}` (`None` for `t = T`: `λ^{T+1} = 0`).
    decay_next: Option<&'a [T]>,
    /// The reset slope `r` of (K7) (0 for smooth cells).
    r: T,
}

impl<T: Scalar> pulp::WithSimd for AdjointStep<'_, T> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        let r = self.r;
        let lanes = self.col.iter_mut().zip(self.lam.iter_mut()).zip(self.zh).zip(self.gain);
        match self.decay_next {
            Some(decay) => {
                for ((((c, l), &zh), &gain), &dec) in lanes.zip(decay) {
                    let delta = *c + r * *l; // Eq. (B4) as (K7): + r λ_v^{t+1} (Eq. L6)
                    *l = delta * zh + dec * *l; // Eq. (B5) with (K5): δ_j ∂z_j/∂h_j + D^{t+1}_{00} λ^{t+1}_j
                    *c = gain * *l; // (K6): a^t = γ^t ⊙ λ^t
                }
            }
            None => {
                for (((c, l), &zh), &gain) in lanes {
                    *l = *c * zh; // Eq. (B5) at t = T: λ^T = δ^T ∂z/∂h
                    *c = gain * *l; // (K6)
                }
            }
        }
    }
}

/// Fast BPTT through a stack (`crates/bptt/src/fast_stack.rs`): equal to [`crate::stack::gradient`].
pub use crate::fast_stack::stack_gradient;

#[cfg(test)]
mod tests {
    use super::*;
    use credit_core::cell::{Cell, Lstm, Rate};
    use credit_core::{CellModel, Loss, Preset, Readout};

    /// Each fused reverse step ((K26) rate and LIF, (K27) LSTM, (K28) ALIF) equals the general
    /// loop (K5)–(K7) on a random net and random outside signals, over many steps.
    #[test]
    fn the_fused_reverse_steps_equal_the_general_loop() {
        let c = Preset::Paper.conventions();
        let cells = [
            Cell::Rate(Rate { alpha: 0.4 }),
            c.lif(0.9, 0.6),
            c.alif(0.85, 0.6, 0.95, 0.7),
            Cell::Lstm(Lstm),
        ];
        for cell in cells {
            let net = Network::new(cell, 3, 7, 2, Readout::leaky(0.8), Loss::Mse).unwrap();
            let p = Params::<f64>::random(&net, 3).unwrap();
            let seq = Sequence::random(&net, 90, 3).unwrap();
            let kernel = Kernel::new(&net, &p).unwrap();
            let traj = forward_with(&kernel, &net, &p, &seq);
            let st = &traj.states;
            let dz = DMatrix::from_fn(net.n, seq.len(), |i, t| ((3 * i + 7 * t) as f64).sin());
            let fused = drive_adjoints(&kernel, &st.zh, &st.gain, &st.decay, dz.clone());
            let general = drive_adjoints_general(&kernel, &st.zh, &st.gain, &st.decay, dz);
            let scale = general.amax();
            assert!(scale > 0.0 && fused.amax() > 0.0, "{}: live adjoints", net.cell.id());
            let err = (&fused - &general).amax() / scale;
            assert!(err <= 1e-13, "{}: fused vs general {err:e}", net.cell.id());
        }
    }
}
