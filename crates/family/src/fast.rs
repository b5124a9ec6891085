//! The fast m-order recursion: the same equations (F1)–(F5) and (F7) as
//! [`crate::recursion::gradient`], for every order `m` and every [`Reading`], laid out for speed
//! (`docs/family.md` §7).
//!
//! [`gradient`] must equal [`crate::recursion::gradient`] (same arguments, same loss, gradient and
//! counted [`Cost`]; `family-fast=family` in `check-gradients`, ≤ 1e-12 relative per tensor in
//! `f64`). What changes is only how the products are evaluated:
//!
//! * **level 0** (e-prop's `ε`) is stored as a `d × P` matrix whose column `p` is the trace of the
//!   one neuron that owns flat parameter `p` (column-major: contiguous), with `Z^{(0)}` a
//!   `P`-vector. `D·ε + I` and `∂z/∂h·ε` are one pass over the columns. The dense `N × P` form of
//!   `Z^{(0)}` is never built: `W^{out} Z^{(0)}` in (F3) is `W^{out}_{k,j(p)} Z^{(0)}_p`, `O(K·P)`;
//! * the hop out of level 0, `∂M/∂z^{t−1} Z^{(0),t−1}` of (F1) at `k = 1`, is column `p` of
//!   `∂M/∂z` at the owner's index scaled by `Z^{(0)}_p`: `O(N·d·P)`, not a GEMM;
//! * levels `k ≥ 1` are dense `(N·d) × P` column-major `S^{(k)}`; levels `k ≥ 2` add one GEMM
//!   `∂M/∂z^{t−1} Z^{(k−1),t−1}` (nalgebra's `gemm`, `matrixmultiply` for `f32`/`f64`);
//! * **every column is independent within a step** (column `p` of (F1)–(F4), (F7) reads only
//!   column `p` of the levels of `t − 1` and the step's Jacobians), so a step runs **block by
//!   block of columns**: for each block of `B` columns ([`block_cols`]: about 32 KiB of one level),
//!   level 0, then the levels from the top down, the readout and the gradient, all while the
//!   block is in cache. A step therefore streams each `S^{(k)}` once from memory instead of once
//!   per pass (the `D`, hop, `I`, `Z`, readout passes and the GEMM's read and write each streamed
//!   the whole `2.3 MB` level at `N = 64`, more than the L2);
//! * `Z^{(k)} = ∂z/∂h·S^{(k)}` (F2) is **not stored**: it is evaluated per block into a scratch
//!   `N × B` buffer where it is used — `Z^{(k−1),t−1}` from `S^{(k−1),t−1}` and the kept
//!   `∂z^{t−1}/∂h^{t−1}` just before level `k` reads it, `Z^{(k),t}` from `S^{(k),t}` for the
//!   readout and the regulariser (the same products as storing it, so the same numbers);
//! * the levels are updated from the top down, so level `k` reads `S^{(k−1),t−1}` before level
//!   `k − 1` overwrites it, and every buffer is updated in place (allocated before the time
//!   loop); with a one-step readout delay the readout sensitivity of a block is updated first,
//!   from the levels of `t − 1`.

use crate::recursion::{Cost, FamilyGradient, Reading};
use credit_core::columns::d_column;
use credit_core::{CellModel, CellState, Edges, LocalJacobians, Network, Params, Scalar, Sequence};
use nalgebra::{DMatrix, DMatrixView, DMatrixViewMut, DVector};

/// Target size of one level's block, in scalars (64 KiB of `f64`): small enough that the blocks
/// of a few levels and their scratch `Z` stay in L2 across the passes of a step. (Measured at
/// `N = 64`, order 3: 4 096 to 32 768 scalars cost the same within the noise; the whole level,
/// one block, costs 1.4× as much.)
const BLOCK_SCALARS: usize = 8192;

/// Columns per block of [`gradient`] for levels of `nd = N·d` rows: `BLOCK_SCALARS / nd`, at
/// least 8.
pub fn block_cols(nd: usize) -> usize {
    (BLOCK_SCALARS / nd.max(1)).max(8)
}

/// `s ← D^t s` in place on a block of columns of length `N·d` (Eq. F1, the implicit term);
/// `dflat` holds the `N` blocks `D_jj^t` row-major.
fn d_in_place<T: Scalar>(dflat: &[T], d: usize, s: &mut [T]) {
    let nd = dflat.len() / d.max(1);
    if nd == 0 {
        return;
    }
    for col in s.chunks_exact_mut(nd) {
        d_column(dflat, d, col); // Eq. (F1): D^t on one column (the core kernel)
    }
}

/// `dst ← D^t src` on a block of columns (Eq. F7, the `D` part of `(D^t + R^t) S^{[k−2],t−1}`):
/// a copy, then [`d_in_place`].
fn d_from<T: Scalar>(dflat: &[T], d: usize, src: &[T], dst: &mut [T]) {
    dst.copy_from_slice(src);
    d_in_place(dflat, d, dst);
}

/// `z += ∂z/∂h · s` (Eq. F2) on a block: `s` has columns of length `N·d`, `z` of length `N`;
/// `f` is the output Jacobian neuron-major (`N·d`). Adding lets the levels the readout reads be
/// summed before one readout product (F3 is linear in `Z_read`).
fn output_acc<T: Scalar>(f: &[T], d: usize, s: &[T], z: &mut [T]) {
    let n = f.len() / d.max(1);
    if n == 0 {
        return;
    }
    for (zc, sc) in z.chunks_exact_mut(n).zip(s.chunks_exact(n * d)) {
        if d == 1 {
            for ((zj, &sj), &fj) in zc.iter_mut().zip(sc).zip(f) {
                *zj += fj * sj;
            }
        } else {
            for (j, zj) in zc.iter_mut().enumerate() {
                let mut acc = T::zero();
                for c in 0..d {
                    acc += f[j * d + c] * sc[j * d + c];
                }
                *zj += acc;
            }
        }
    }
}

/// `Σ_i a_i b_i` with four partial sums (independent chains: vectorised and pipelined, where one
/// running sum is a chain of dependent additions).
fn dot<T: Scalar>(a: &[T], b: &[T]) -> T {
    let mut acc = [T::zero(); 4];
    let (a4, b4) = (a.chunks_exact(4), b.chunks_exact(4));
    let (ar, br) = (a4.remainder(), b4.remainder());
    for (x, y) in a4.zip(b4) {
        for i in 0..4 {
            acc[i] += x[i] * y[i];
        }
    }
    let mut sum = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for (&x, &y) in ar.iter().zip(br) {
        sum += x * y;
    }
    sum
}

/// `Y += c · W^{out} · Z` (Eq. F3 without the decay) on a block: `ys` has columns of length `K`,
/// `zs` of length `N`, and `wt = (W^{out})ᵀ` column-major (row `k` of `W^{out}` contiguous):
/// `K` dot products of length `N` per column (nalgebra's `gemm` leaves `matrixmultiply` for short
/// `axpy`s when `K ≤ 5`).
fn readout_acc<T: Scalar>(ys: &mut [T], k_out: usize, wt: &[T], zs: &[T], c: T) {
    let n = wt.len() / k_out.max(1);
    if n == 0 || k_out == 0 {
        return;
    }
    for (yc, zc) in ys.chunks_exact_mut(k_out).zip(zs.chunks_exact(n)) {
        for (yk, wk) in yc.iter_mut().zip(wt.chunks_exact(n)) {
            *yk += c * dot(wk, zc);
        }
    }
}

/// `Y_{kp} += c · W^{out}_{k, j(p)} Z^{(0)}_p` (Eq. F3 for the block-sparse level 0) on a block.
fn readout_acc0<T: Scalar>(ys: &mut [T], w_out: &DMatrix<T>, owner: &[(usize, usize)], z0: &[T], c: T) {
    let k_out = w_out.nrows();
    if k_out == 0 {
        return;
    }
    for ((yc, &(j, _)), &zp) in ys.chunks_exact_mut(k_out).zip(owner).zip(z0) {
        let a = c * zp;
        for (yk, &w) in yc.iter_mut().zip(w_out.column(j).iter()) {
            *yk += a * w;
        }
    }
}

/// Per-step quantities, flattened once: `D` blocks row-major, `∂z/∂h` neuron-major at `t` and
/// at `t − 1` (the latter evaluates `Z^{t−1}` from `S^{t−1}`).
struct Step<T> {
    dflat: Vec<T>,
    f: Vec<T>,
    f_prev: Vec<T>,
}

impl<T: Scalar> Step<T> {
    fn fill(&mut self, jac: &LocalJacobians<T>, rows: &DMatrix<T>) {
        std::mem::swap(&mut self.f, &mut self.f_prev);
        for (j, b) in jac.d.iter().enumerate() {
            let d = b.nrows();
            for c in 0..d {
                for c2 in 0..d {
                    self.dflat[j * d * d + c * d + c2] = b[(c, c2)];
                }
                self.f[j * d + c] = rows[(j, c)];
            }
        }
    }
}

/// The fast order-`m` gradient under `reading`: equal to [`crate::recursion::gradient`] (same
/// arguments, same result up to rounding, same counted [`Cost`]), for every cell, order and
/// reading, and any scalar (fast for `f32` and `f64`). Blocks of [`block_cols`] columns.
pub fn gradient<T: Scalar>(
    net: &Network,
    params: &Params<T>,
    seq: &Sequence,
    m: usize,
    reading: Reading,
) -> credit_core::Result<FamilyGradient<T>> {
    gradient_blocked(net, params, seq, m, reading, block_cols(net.n * net.d()))
}

/// [`gradient`] with blocks of `block` columns (any `block ≥ 1`; the last block of a step may be
/// narrower): equal to [`crate::recursion::gradient`] for every block width. The tests run it with
/// narrow blocks, so that the suite's small nets (one block at [`block_cols`]) also cross block
/// boundaries. `block = 0` is refused (`Error` naming `block`).
pub fn gradient_blocked<T: Scalar>(
    net: &Network,
    params: &Params<T>,
    seq: &Sequence,
    m: usize,
    reading: Reading,
    block: usize,
) -> credit_core::Result<FamilyGradient<T>> {
    if block == 0 {
        return Err(credit_core::Error::Invalid {
            field: "block".into(),
            value: "0".into(),
            requirement: "at least 1 column",
        });
    }
    net.validate()?;
    params.validate(net)?;
    seq.validate(net)?;
    let w = params.cell_tensors(net);
    let (n, d, p, pl, k_out) = (net.n, net.d(), net.p_cell(), net.p_loc(), net.n_out);
    let nd = n * d;
    let kappa = T::c(net.readout.kappa);
    let c_out = T::c(net.readout.c());
    let lag = net.readout.lag();
    let (w_out, b_out) = (params.w_out(), params.b_out());
    let w_out_t = w_out.transpose();
    let wt = w_out_t.as_slice(); // row k of W_out: wt[k·N .. (k+1)·N]
    // owner[p] = (j, q): flat cell parameter p is local parameter q of neuron j
    let mut owner = vec![(0usize, 0usize); p];
    for j in 0..n {
        for q in 0..pl {
            owner[net.flat_index_of_local(j, q)] = (j, q);
        }
    }
    let mut cell = CellState::<T>::zeros(n, d, net.cell.is_spiking());
    let mut z = DVector::<T>::zeros(n);
    let mut y = DVector::<T>::zeros(k_out);
    // level 0: ε (d × P, column p = the owner's trace), Z^{(0)} (P) at t and t − 1
    let mut eps = vec![T::zero(); d * p];
    let mut z0 = vec![T::zero(); p];
    let mut z0_prev = vec![T::zero(); p];
    // levels 1..=m: S^{(k)} (N·d × P column-major); Z^{(k)} lives in per-block scratch only
    let mut s: Vec<Vec<T>> = (0..m).map(|_| vec![T::zero(); nd * p]).collect();
    let bc = block;
    let mut z_in = vec![T::zero(); n * bc]; // Z^{(k−1),t−1} of the block
    let mut z_out = vec![T::zero(); n * bc]; // Z^{(k),t} (or t − 1) of the block
    let mut ys = vec![T::zero(); k_out * p];
    let mut st = Step { dflat: vec![T::zero(); nd * d], f: vec![T::zero(); nd], f_prev: vec![T::zero(); nd] };
    let mut grad_flat = DVector::<T>::zeros(p);
    let (mut z_bar, mut b_bar) = (DVector::<T>::zeros(n), T::zero());
    let reg = net.reg.is_some();
    // which levels the gradient reads (Eq. F3; F7 for the time-lag reading); level k is s[k − 1]
    let sparse_read = m == 0 || reading == Reading::TimeLag;
    let dense_read = |k: usize| match reading {
        Reading::TimeLag => true,
        Reading::HopCount | Reading::LastStepHop => k == m,
    };
    let mut z_sum = DVector::<T>::zeros(n);
    let mut zm_sum = DMatrix::<T>::zeros(if reg && m > 0 { n } else { 0 }, p);
    let mut zm0_sum = vec![T::zero(); if reg && sparse_read { p } else { 0 }];
    let mut x = DVector::<T>::zeros(net.n_in);
    let mut target = DVector::<T>::zeros(k_out);
    let mut loss = T::zero();
    let mut grad = Params::zeros(net);
    let nc = net.n_cell_tensors();
    // cost: the literal recursion's count (the same products are performed)
    let (nu, du, pu, plu, ku, mu) = (n as u64, d as u64, p as u64, pl as u64, k_out as u64, m as u64);
    let mut step_madds = nu * du * du * plu + nu * du * plu;
    for k in 1..=m {
        step_madds += if k == 1 { nu * du * nu * plu } else { nu * du * nu * pu };
        match reading {
            Reading::HopCount => step_madds += nu * du * du * pu,
            Reading::TimeLag if k >= 2 => step_madds += nu * du * du * pu,
            _ => {}
        }
        step_madds += nu * du * pu;
    }
    if reading == Reading::TimeLag {
        step_madds += mu * nu * pu;
    }
    step_madds += ku * nu * if m == 0 { plu } else { pu } + ku * pu;
    let floats = (n * d * pl + n * pl + m * (n * d * p + n * p) + k_out * p) as u64;
    for t in 0..seq.len() {
        for (a, &b) in x.iter_mut().zip(seq.x[t].iter()) {
            *a = T::c(b);
        }
        for (a, &b) in target.iter_mut().zip(seq.target[t].iter()) {
            *a = T::c(b);
        }
        let mask = T::c(seq.mask[t]);
        let jac = net.cell.jacobians(&w, &cell, &z, &x);
        let next = net.cell.step(&w, &cell, &z, &x, &Edges::default());
        st.fill(&jac, &net.cell.output_jacobian(&next));
        let z_new = net.cell.output(&next);
        y = net.readout.next(&y, w_out, b_out, if lag == 0 { &z_new } else { &z }); // Eq. (Y1)
        let (e, g) = net.loss.value_and_grad(&y, &target);
        let g = g * mask;
        loss += e * mask;
        std::mem::swap(&mut z0, &mut z0_prev); // z0_prev: Z^{(0),t−1}
        let mz = jac.m_z.as_slice(); // column i of ∂M/∂z: mz[i·N·d .. (i+1)·N·d]
        for c0 in (0..p).step_by(bc) {
            let c1 = (c0 + bc).min(p);
            let wb = c1 - c0;
            let own = &owner[c0..c1];
            let yb = &mut ys[c0 * k_out..c1 * k_out];
            // Eq. (F3), decay; with δ = 1 the levels of t − 1 are read before they are updated
            for v in yb.iter_mut() {
                *v *= kappa;
            }
            if lag == 1 {
                if sparse_read {
                    readout_acc0(yb, w_out, own, &z0_prev[c0..c1], c_out);
                }
                if m > 0 {
                    let zb = &mut z_out[..n * wb];
                    zb.fill(T::zero());
                    for k in (1..=m).filter(|&k| dense_read(k)) {
                        output_acc(&st.f_prev, d, &s[k - 1][c0 * nd..c1 * nd], zb); // Z^{(k),t−1}, Eq. (F2)
                    }
                    readout_acc(yb, k_out, wt, zb, c_out); // Σ_k W_out Z^{(k),t−1}
                }
            }
            // level 0 (Eq. F1 with S^{(-1)} = 0, F2): ε_p = D_{j(p)} ε_p + I_{j(p)}[:, q(p)], Z^{(0)}_p = ∂z/∂h ε_p
            let eb = &mut eps[c0 * d..c1 * d];
            for ((col, &(j, q)), zp) in eb.chunks_exact_mut(d).zip(own).zip(&mut z0[c0..c1]) {
                let dj = &st.dflat[j * d * d..(j + 1) * d * d];
                let mut tmp = [T::zero(); 8];
                for c in 0..d {
                    let mut acc = jac.i[j][(c, q)];
                    for c2 in 0..d {
                        acc += dj[c * d + c2] * col[c2];
                    }
                    tmp[c] = acc;
                }
                col.copy_from_slice(&tmp[..d]);
                let mut a = T::zero();
                for c in 0..d {
                    a += st.f[j * d + c] * col[c];
                }
                *zp = a;
            }
            if lag == 0 && sparse_read {
                readout_acc0(yb, w_out, own, &z0[c0..c1], c_out);
            }
            if reg && sparse_read {
                for (a, &b) in zm0_sum[c0..c1].iter_mut().zip(&z0[c0..c1]) {
                    *a += b;
                }
            }
            // levels m, m−1, …, 1 (Eq. F1; F4 last-step hop; F7 time lag), top down: level k
            // reads S^{(k−1),t−1} of the block before level k − 1 overwrites it; z_out sums
            // Z^{(k),t} over the levels the readout reads
            let sum_read = m > 0 && (lag == 0 || reg);
            if sum_read {
                z_out[..n * wb].fill(T::zero());
            }
            for k in (1..=m).rev() {
                let (lo, hi) = s.split_at_mut(k - 1);
                let sk = &mut hi[0][c0 * nd..c1 * nd];
                let below = lo.last().map(|sl| &sl[c0 * nd..c1 * nd]); // S^{(k−1),t−1}, k ≥ 2
                match reading {
                    Reading::HopCount => d_in_place(&st.dflat, d, sk), // D^t S^{(k),t−1}
                    Reading::LastStepHop => sk.fill(T::zero()),
                    Reading::TimeLag => match below {
                        // (D^t + R^t) S^{[k−2],t−1}: the D part
                        Some(sb) => d_from(&st.dflat, d, sb, sk),
                        None => sk.fill(T::zero()),
                    },
                }
                // + ∂M/∂z^{t−1} Z^{(k−1),t−1}
                match below {
                    None => {
                        // Z^{(0)} is block-sparse: column p is ∂M/∂z[:, j(p)] · Z^{(0)}_p
                        for ((col, &(j, _)), &a) in sk.chunks_exact_mut(nd).zip(own).zip(&z0_prev[c0..c1]) {
                            for (x, &mv) in col.iter_mut().zip(&mz[j * nd..(j + 1) * nd]) {
                                *x += mv * a;
                            }
                        }
                    }
                    Some(sb) => {
                        let zb = &mut z_in[..n * wb];
                        zb.fill(T::zero());
                        output_acc(&st.f_prev, d, sb, zb); // Z^{(k−1),t−1}, Eq. (F2)
                        let zv = DMatrixView::from_slice(zb, n, wb);
                        DMatrixViewMut::from_slice(sk, nd, wb).gemm(T::one(), &jac.m_z, &zv, T::one());
                    }
                }
                match reading {
                    // + I^t
                    Reading::HopCount => {
                        for (col, &(j, q)) in sk.chunks_exact_mut(nd).zip(own) {
                            for c in 0..d {
                                col[j * d + c] += jac.i[j][(c, q)];
                            }
                        }
                    }
                    // + S^{(0),t}: ε^t at each neuron's own columns (Eq. F4)
                    Reading::LastStepHop => {
                        for ((col, e), &(j, _)) in
                            sk.chunks_exact_mut(nd).zip(eps[c0 * d..c1 * d].chunks_exact(d)).zip(own)
                        {
                            for c in 0..d {
                                col[j * d + c] += e[c];
                            }
                        }
                    }
                    Reading::TimeLag => {}
                }
                if sum_read && dense_read(k) {
                    output_acc(&st.f, d, sk, &mut z_out[..n * wb]); // Z^{(k),t}, Eq. (F2)
                }
            }
            if sum_read {
                let zb = &z_out[..n * wb];
                if lag == 0 {
                    readout_acc(yb, k_out, wt, zb, c_out); // Eq. (F3): Σ_k W_out Z^{(k),t}
                }
                if reg {
                    let zs = &mut zm_sum.as_mut_slice()[c0 * n..c1 * n];
                    for (a, &b) in zs.iter_mut().zip(zb) {
                        *a += b;
                    }
                }
            }
            // Eq. (F3): dE/dθ_p += Σ_k Y_{kp} g_k
            for (gp, yc) in grad_flat.as_mut_slice()[c0..c1].iter_mut().zip(yb.chunks_exact(k_out.max(1))) {
                let mut acc = T::zero();
                for (&yk, &gk) in yc.iter().zip(g.iter()) {
                    acc += yk * gk;
                }
                *gp += acc;
            }
        }
        let z_read = if lag == 0 { &z_new } else { &z };
        z_bar *= kappa;
        z_bar.axpy(c_out, z_read, T::one());
        b_bar = b_bar * kappa + c_out;
        grad.tensors[nc].value.ger(T::one(), &g, &z_bar, T::one());
        grad.tensors[nc + 1].value.column_mut(0).axpy(b_bar, &g, T::one());
        if reg {
            z_sum += &z_new;
        }
        cell = next;
        z = z_new;
    }
    if let Some(r) = &net.reg {
        // Eq. (F5): Σ_t Z_read^t against ∂E_reg/∂z
        let (e, g) = r.value_and_grad(&z_sum, seq.len());
        loss += e;
        if m > 0 {
            grad_flat.gemv_tr(T::one(), &zm_sum, &g, T::one());
        }
        if sparse_read {
            for ((gp, &(j, _)), &zs) in grad_flat.iter_mut().zip(&owner).zip(&zm0_sum) {
                *gp += zs * g[j];
            }
        }
    }
    grad.add_flat_cells(net, &grad_flat);
    let cost = Cost { madds: step_madds * seq.len() as u64, floats };
    Ok(FamilyGradient { loss, grad, cost })
}
