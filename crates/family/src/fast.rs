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
//! * levels `k ≥ 2` are dense `(N·d) × P` column-major: `D·S` in place column by column and one
//!   GEMM `∂M/∂z^{t−1} Z^{(k−1),t−1}` accumulated into `S^{(k)}` (nalgebra's `gemm`,
//!   `matrixmultiply` for `f32`/`f64`);
//! * the levels are updated from the top down, so level `k` reads `Z^{(k−1),t−1}` before level
//!   `k − 1` overwrites it, and every buffer is updated in place (allocated before the time
//!   loop); with a one-step readout delay the readout sensitivity is updated first, from the
//!   levels of `t − 1`.

use crate::recursion::{Cost, FamilyGradient, Reading};
use credit_core::{CellModel, CellState, Edges, LocalJacobians, Network, Params, Scalar, Sequence};
use nalgebra::{DMatrix, DVector};

/// `S ← D^t S` in place, column by column (Eq. F1, the implicit term); `dflat` holds the `N`
/// blocks `D_jj^t` row-major.
fn d_in_place<T: Scalar>(dflat: &[T], d: usize, s: &mut DMatrix<T>) {
    let nd = s.nrows();
    if nd == 0 {
        return;
    }
    if d == 1 {
        for col in s.as_mut_slice().chunks_exact_mut(nd) {
            for (x, &dj) in col.iter_mut().zip(dflat) {
                *x *= dj;
            }
        }
        return;
    }
    let mut tmp = [T::zero(); 8];
    assert!(d <= tmp.len(), "state dimension above 8");
    for col in s.as_mut_slice().chunks_exact_mut(nd) {
        for (blk, dj) in col.chunks_exact_mut(d).zip(dflat.chunks_exact(d * d)) {
            for c in 0..d {
                let mut acc = T::zero();
                for c2 in 0..d {
                    acc += dj[c * d + c2] * blk[c2];
                }
                tmp[c] = acc;
            }
            blk.copy_from_slice(&tmp[..d]);
        }
    }
}

/// `Z ← ∂z/∂h · S` (Eq. F2) into a preallocated `N × P` buffer; `f` is the output Jacobian
/// neuron-major (`N·d`).
fn output_into<T: Scalar>(f: &[T], d: usize, s: &DMatrix<T>, z: &mut DMatrix<T>) {
    let n = z.nrows();
    if n == 0 {
        return;
    }
    for (zc, sc) in z.as_mut_slice().chunks_exact_mut(n).zip(s.as_slice().chunks_exact(n * d)) {
        for (j, zj) in zc.iter_mut().enumerate() {
            let mut acc = T::zero();
            for c in 0..d {
                acc += f[j * d + c] * sc[j * d + c];
            }
            *zj = acc;
        }
    }
}

/// `Y += c · W^{out} · Z` (Eq. F3 without the decay) for a `K × P` readout sensitivity and an
/// `N × P` level `Z`, with `wt = (W^{out})ᵀ`: `K` contiguous dot products of length `N` per
/// column (nalgebra's `gemm` leaves `matrixmultiply` for short `axpy`s when `K ≤ 5`).
fn readout_acc<T: Scalar>(ys: &mut DMatrix<T>, wt: &DMatrix<T>, zs: &DMatrix<T>, c: T) {
    let (k_out, n) = (ys.nrows(), zs.nrows());
    if n == 0 || k_out == 0 {
        return;
    }
    let wt = wt.as_slice(); // column k of (W_out)ᵀ, row k of W_out: wt[k·N .. (k+1)·N]
    for (yc, zc) in ys.as_mut_slice().chunks_exact_mut(k_out).zip(zs.as_slice().chunks_exact(n)) {
        for (yk, wk) in yc.iter_mut().zip(wt.chunks_exact(n)) {
            let mut acc = T::zero();
            for (&a, &b) in wk.iter().zip(zc) {
                acc += a * b;
            }
            *yk += c * acc;
        }
    }
}

/// Per-step quantities, flattened once: `D` blocks row-major, `∂z/∂h` neuron-major.
struct Step<T> {
    dflat: Vec<T>,
    f: Vec<T>,
}

impl<T: Scalar> Step<T> {
    fn fill(&mut self, jac: &LocalJacobians<T>, rows: &DMatrix<T>) {
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
/// reading, and any scalar (fast for `f32` and `f64`).
pub fn gradient<T: Scalar>(
    net: &Network,
    params: &Params<T>,
    seq: &Sequence,
    m: usize,
    reading: Reading,
) -> credit_core::Result<FamilyGradient<T>> {
    net.validate()?;
    params.validate(net)?;
    seq.validate(net)?;
    let w = params.cell_tensors(net);
    let (n, d, p, pl, k_out) = (net.n, net.d(), net.p_cell(), net.p_loc(), net.n_out);
    let kappa = T::c(net.readout.kappa);
    let c_out = T::c(net.readout.c());
    let lag = net.readout.lag();
    let (w_out, b_out) = (params.w_out(), params.b_out());
    let w_out_t = w_out.transpose();
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
    let mut eps = DMatrix::<T>::zeros(d, p);
    let mut z0 = DVector::<T>::zeros(p);
    let mut z0_prev = DVector::<T>::zeros(p);
    // levels 1..=m
    let mut s: Vec<DMatrix<T>> = (0..m).map(|_| DMatrix::zeros(n * d, p)).collect();
    let mut zs: Vec<DMatrix<T>> = (0..m).map(|_| DMatrix::zeros(n, p)).collect();
    let mut ys = DMatrix::<T>::zeros(k_out, p);
    let mut st = Step { dflat: vec![T::zero(); n * d * d], f: vec![T::zero(); n * d] };
    let mut grad_flat = DVector::<T>::zeros(p);
    let (mut z_bar, mut b_bar) = (DVector::<T>::zeros(n), T::zero());
    let reg = net.reg.is_some();
    // which levels the gradient reads (Eq. F3; F7 for the time-lag reading)
    let sparse_read = m == 0 || reading == Reading::TimeLag;
    let dense_read: std::ops::Range<usize> = match reading {
        _ if m == 0 => 0..0,
        Reading::TimeLag => 0..m,
        Reading::HopCount | Reading::LastStepHop => m - 1..m,
    };
    let mut z_sum = DVector::<T>::zeros(n);
    let mut zm_sum = DMatrix::<T>::zeros(if reg && !dense_read.is_empty() { n } else { 0 }, p);
    let mut zm0_sum = DVector::<T>::zeros(if reg && sparse_read { p } else { 0 });
    let mut x = DVector::<T>::zeros(net.n_in);
    let mut target = DVector::<T>::zeros(k_out);
    let mut loss = T::zero();
    let mut grad = Params::zeros(net);
    let nc = net.n_cell_tensors();
    // Eq. (F3): Y ← κY + c W_out Z_read, Z_read = the levels the gradient reads
    let readout_sens = |ys: &mut DMatrix<T>, z0: &DVector<T>, zs: &[DMatrix<T>]| {
        *ys *= kappa;
        if sparse_read {
            // W_out Z^{(0)}: column p is W_out[:, j(p)] Z^{(0)}_p (Z^{(0)} is block-sparse)
            for (pp, &(j, _)) in owner.iter().enumerate() {
                let a = c_out * z0[pp];
                for k in 0..k_out {
                    ys[(k, pp)] += a * w_out[(k, j)];
                }
            }
        }
        for zk in &zs[dense_read.clone()] {
            readout_acc(ys, &w_out_t, zk, c_out);
        }
    };
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
        if lag == 1 {
            readout_sens(&mut ys, &z0, &zs); // Eq. (F3) with the levels of t − 1
        }
        // level 0 (Eq. F1 with S^{(-1)} = 0, F2): ε_p = D_{j(p)} ε_p + I_{j(p)}[:, q(p)], Z^{(0)}_p = ∂z/∂h ε_p
        std::mem::swap(&mut z0, &mut z0_prev);
        for (pp, (col, &(j, q))) in eps.as_mut_slice().chunks_exact_mut(d).zip(&owner).enumerate() {
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
            let mut zp = T::zero();
            for c in 0..d {
                zp += st.f[j * d + c] * col[c];
            }
            z0[pp] = zp;
        }
        // levels m, m−1, …, 1 (Eq. F1; F4 last-step hop; F7 time lag), top down: level k reads
        // Z^{(k−1),t−1} before level k − 1 is overwritten
        for k in (1..=m).rev() {
            let (lo, hi) = s.split_at_mut(k - 1);
            let sk = &mut hi[0];
            match reading {
                Reading::HopCount => d_in_place(&st.dflat, d, sk), // D^t S^{(k),t−1}
                Reading::LastStepHop => sk.fill(T::zero()),
                Reading::TimeLag => {
                    if k >= 2 {
                        sk.copy_from(&lo[k - 2]); // (D^t + R^t) S^{[k−2],t−1}: the D part
                        d_in_place(&st.dflat, d, sk);
                    } else {
                        sk.fill(T::zero());
                    }
                }
            }
            // ∂M/∂z^{t−1} Z^{(k−1),t−1}
            if k == 1 {
                // Z^{(0)} is block-sparse: column p is ∂M/∂z[:, j(p)] · Z^{(0)}_p
                let nd = n * d;
                let mz = jac.m_z.as_slice(); // column i of ∂M/∂z: mz[i·N·d .. (i+1)·N·d]
                for (pp, (col, &(j, _))) in sk.as_mut_slice().chunks_exact_mut(nd).zip(&owner).enumerate() {
                    let a = z0_prev[pp];
                    for (x, &m) in col.iter_mut().zip(&mz[j * nd..(j + 1) * nd]) {
                        *x += m * a;
                    }
                }
            } else {
                sk.gemm(T::one(), &jac.m_z, &zs[k - 2], T::one());
            }
            match reading {
                // + I^t
                Reading::HopCount => {
                    for (col, &(j, q)) in sk.as_mut_slice().chunks_exact_mut(n * d).zip(&owner) {
                        for c in 0..d {
                            col[j * d + c] += jac.i[j][(c, q)];
                        }
                    }
                }
                // + S^{(0),t}: ε^t at each neuron's own columns (Eq. F4)
                Reading::LastStepHop => {
                    for ((col, e), &(j, _)) in sk
                        .as_mut_slice()
                        .chunks_exact_mut(n * d)
                        .zip(eps.as_slice().chunks_exact(d))
                        .zip(&owner)
                    {
                        for c in 0..d {
                            col[j * d + c] += e[c];
                        }
                    }
                }
                Reading::TimeLag => {}
            }
            output_into(&st.f, d, sk, &mut zs[k - 1]); // Eq. (F2)
        }
        y = net.readout.next(&y, w_out, b_out, if lag == 0 { &z_new } else { &z }); // Eq. (Y1)
        let (e, g) = net.loss.value_and_grad(&y, &target);
        let g = g * mask;
        loss += e * mask;
        if lag == 0 {
            readout_sens(&mut ys, &z0, &zs); // Eq. (F3)
        }
        grad_flat.gemv_tr(T::one(), &ys, &g, T::one()); // Eq. (F3)
        let z_read = if lag == 0 { &z_new } else { &z };
        z_bar *= kappa;
        z_bar.axpy(c_out, z_read, T::one());
        b_bar = b_bar * kappa + c_out;
        grad.tensors[nc].value.ger(T::one(), &g, &z_bar, T::one());
        grad.tensors[nc + 1].value.column_mut(0).axpy(b_bar, &g, T::one());
        if reg {
            z_sum += &z_new;
            if sparse_read {
                zm0_sum += &z0;
            }
            for zk in &zs[dense_read.clone()] {
                zm_sum += zk;
            }
        }
        cell = next;
        z = z_new;
    }
    if let Some(r) = &net.reg {
        // Eq. (F5): Σ_t Z_read^t against ∂E_reg/∂z
        let (e, g) = r.value_and_grad(&z_sum, seq.len());
        loss += e;
        if !dense_read.is_empty() {
            grad_flat.gemv_tr(T::one(), &zm_sum, &g, T::one());
        }
        if sparse_read {
            for (pp, &(j, _)) in owner.iter().enumerate() {
                grad_flat[pp] += zm0_sum[pp] * g[j];
            }
        }
    }
    grad.add_flat_cells(net, &grad_flat);
    let cost = Cost { madds: step_madds * seq.len() as u64, floats };
    Ok(FamilyGradient { loss, grad, cost })
}
