//! Fast OSTL: the same equations (O-T) and (O-S) as [`crate::gradient`], laid out for speed
//! (`docs/deep.md` §10).
//!
//! [`gradient`] must equal [`crate::gradient`] (same arguments, same loss, gradient and counted
//! costs; `ostl-fast=ostl` in `check-gradients`, ≤ 1e-12 relative per tensor in `f64`). Only
//! the evaluation changes: each layer's temporal trace `S^l` is stored column-major
//! `(N_l d_l) × P_l`, so `D^{l,t} S^{l,t−1}` is an in-place pass over contiguous columns and
//! `∂M/∂z^{l,t−1} Z^{l,t−1}` one GEMM accumulated into `S^l` (nalgebra's `gemm`,
//! `matrixmultiply` for `f32`/`f64`); `I^{l,t}` is scattered through a precomputed map; the
//! spatial chain `Φ^{k,t} Z̃^{k−1←l,t'}` is one GEMM into a preallocated buffer per pair
//! `(l, k)`; the chains of `t` and `t − 1` are two sets of buffers swapped each step.

use crate::OstlGradient;
use credit_core::stack::{InterLayer, ReadoutFrom, Stack};
use credit_core::{CellModel, CellState, Edges, Params, Scalar, Sequence};
use nalgebra::{DMatrix, DVector};

/// `S ← D S` in place, column by column (Eq. O-T, the implicit term).
fn d_in_place<T: Scalar>(d_blocks: &[DMatrix<T>], d: usize, s: &mut DMatrix<T>, dflat: &mut [T]) {
    for (j, b) in d_blocks.iter().enumerate() {
        for c in 0..d {
            for c2 in 0..d {
                dflat[j * d * d + c * d + c2] = b[(c, c2)];
            }
        }
    }
    let nd = s.nrows();
    if nd == 0 {
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

/// `Z ← ∂z/∂h · S` (Eqs. O-T, O-S) into a preallocated `N × P` buffer.
fn output_into<T: Scalar>(rows: &DMatrix<T>, s: &DMatrix<T>, z: &mut DMatrix<T>) {
    let (n, d) = rows.shape();
    if n == 0 {
        return;
    }
    for (zc, sc) in z.as_mut_slice().chunks_exact_mut(n).zip(s.as_slice().chunks_exact(n * d)) {
        for (j, zj) in zc.iter_mut().enumerate() {
            let mut acc = T::zero();
            for c in 0..d {
                acc += rows[(j, c)] * sc[j * d + c];
            }
            *zj = acc;
        }
    }
}

/// Fast OSTL of a stack: equal to [`crate::gradient`] (Eqs. O-T, O-S; same arguments, same
/// result up to rounding, same counted `madds` and `floats`), for every stack and any scalar
/// (fast for `f32` and `f64`).
pub fn gradient<T: Scalar>(
    stack: &Stack,
    params: &Params<T>,
    seq: &Sequence,
) -> credit_core::Result<OstlGradient<T>> {
    stack.validate()?;
    stack.validate_params(params)?;
    stack.validate_sequence(seq)?;
    let nl = stack.layers.len();
    let w: Vec<Vec<DMatrix<T>>> =
        (0..nl).map(|l| stack.layer_tensors(l).map(|k| params.tensors[k].value.clone()).collect()).collect();
    let nt = params.tensors.len();
    let (w_out, b_out) = (&params.tensors[nt - 2].value, &params.tensors[nt - 1].value);
    let (kappa, c_out, lag) = (T::c(stack.readout.kappa), T::c(stack.readout.c()), stack.readout.lag());
    let p_of: Vec<usize> = (0..nl).map(|l| stack.layer_p(l)).collect();
    let base: Vec<usize> = (0..nl).map(|l| p_of[..l].iter().sum()).collect();
    let n_of: Vec<usize> = stack.layers.iter().map(|l| l.n).collect();
    let d_of: Vec<usize> = stack.layers.iter().map(|l| l.cell.state_dim()).collect();
    // owner[l][p] = (j, q): layer l's own flat parameter p (0-based within the layer)
    let owner: Vec<Vec<(usize, usize)>> = (0..nl)
        .map(|l| {
            let layer = &stack.layers[l];
            let p_loc: usize = layer.cell.tensor_cols(stack.layer_input(l), layer.n).iter().sum();
            let mut o = vec![(0, 0); p_of[l]];
            for j in 0..layer.n {
                for q in 0..p_loc {
                    o[stack.locate_local(l, j, q).2 - base[l]] = (j, q);
                }
            }
            o
        })
        .collect();
    let mut cells: Vec<CellState<T>> =
        stack.layers.iter().map(|l| CellState::zeros(l.n, l.cell.state_dim(), l.cell.is_spiking())).collect();
    let mut z: Vec<DVector<T>> = n_of.iter().map(|&n| DVector::zeros(n)).collect();
    let mut z_old = z.clone();
    let mut s: Vec<DMatrix<T>> = (0..nl).map(|l| DMatrix::zeros(n_of[l] * d_of[l], p_of[l])).collect();
    // chain[l][k] = Z̃^{k←l,t} (k ≥ l; chain[l][l] = Z^{l,t}), and the same at t − 1
    let new_chain = || -> Vec<Vec<DMatrix<T>>> {
        (0..nl).map(|l| (0..nl).map(|k| DMatrix::zeros(n_of[k], p_of[l])).collect()).collect()
    };
    let mut chain = new_chain();
    let mut chain_prev = new_chain();
    // ∂h^{k,t}/∂θ^l through the input only (transient)
    let mut dh: Vec<Vec<DMatrix<T>>> = (0..nl)
        .map(|l| {
            (0..nl).map(|k| DMatrix::zeros(if k > l { n_of[k] * d_of[k] } else { 0 }, p_of[l])).collect()
        })
        .collect();
    let mut dflat: Vec<Vec<T>> = (0..nl).map(|l| vec![T::zero(); n_of[l] * d_of[l] * d_of[l]]).collect();
    let mut ys: Vec<DMatrix<T>> = (0..nl).map(|l| DMatrix::zeros(stack.n_out, p_of[l])).collect();
    let mut y = DVector::<T>::zeros(stack.n_out);
    let (mut z_bar, mut b_bar) = (DVector::<T>::zeros(stack.n_read()), T::zero());
    let mut read = DVector::<T>::zeros(stack.n_read());
    let mut read_prev = DVector::<T>::zeros(stack.n_read());
    let mut x = DVector::<T>::zeros(stack.n_in);
    let mut target = DVector::<T>::zeros(stack.n_out);
    let mut loss = T::zero();
    let mut grad_flat = DVector::<T>::zeros(stack.p_cells());
    let mut grad: Params<T> = stack.zeros();
    let mut madds = 0u64;
    let floats: u64 = (0..nl).map(|l| (s[l].len() + chain[l][l].len() + ys[l].len()) as u64).sum();
    let mut phis: Vec<Option<DMatrix<T>>> = vec![None; nl];
    let mut zh: Vec<DMatrix<T>> = vec![DMatrix::zeros(0, 0); nl];
    for t in 0..seq.len() {
        for (a, &b) in x.iter_mut().zip(seq.x[t].iter()) {
            *a = T::c(b);
        }
        for (a, &b) in target.iter_mut().zip(seq.target[t].iter()) {
            *a = T::c(b);
        }
        for (o, zl) in z_old.iter_mut().zip(&z) {
            o.copy_from(zl);
        }
        std::mem::swap(&mut chain, &mut chain_prev);
        for l in 0..nl {
            let layer = &stack.layers[l];
            let (n, d) = (n_of[l], d_of[l]);
            let input = match (l, stack.inter) {
                (0, _) => &x,
                (_, InterLayer::SameStep) => &z[l - 1],
                (_, InterLayer::OneStep) => &z_old[l - 1],
            };
            let jac = layer.cell.jacobians(&w[l], &cells[l], &z_old[l], input);
            if l > 0 {
                phis[l] = Some(layer.cell.input_jacobian(&w[l], &cells[l], &z_old[l], input));
            }
            // Eq. (O-T): within-layer RTRL, the layer input held fixed; Z^{l,t-1} = chain_prev[l][l]
            d_in_place(&jac.d, d, &mut s[l], &mut dflat[l]);
            s[l].gemm(T::one(), &jac.m_z, &chain_prev[l][l], T::one());
            let nd = n * d;
            if nd > 0 {
                for (col, &(j, q)) in s[l].as_mut_slice().chunks_exact_mut(nd).zip(&owner[l]) {
                    for c in 0..d {
                        col[j * d + c] += jac.i[j][(c, q)];
                    }
                }
            }
            madds += ((n * d * n) + (n * d * d) + (n * d)) as u64 * p_of[l] as u64; // R S, D S, Z
            let next = layer.cell.step(&w[l], &cells[l], &z_old[l], input, &Edges::default());
            zh[l] = layer.cell.output_jacobian(&next);
            output_into(&zh[l], &s[l], &mut chain[l][l]); // Eq. (O-T): Z^{l,t}
            z[l] = layer.cell.output(&next);
            cells[l] = next;
        }
        // Eq. (O-S): the spatial chain of layer l's parameters up the stack
        for l in 0..nl {
            for k in l + 1..nl {
                let phi = phis[k].as_ref().expect("layers above the first have an input Jacobian");
                let below = match stack.inter {
                    InterLayer::SameStep => &chain[l][k - 1],
                    InterLayer::OneStep => &chain_prev[l][k - 1],
                };
                dh[l][k].gemm(T::one(), phi, below, T::zero()); // ∂h^{k,t}/∂θ^l through the input only
                madds += (phi.nrows() * phi.ncols() + phi.nrows()) as u64 * p_of[l] as u64;
                output_into(&zh[k], &dh[l][k], &mut chain[l][k]); // Eq. (O-S)
            }
        }
        match stack.readout_from {
            ReadoutFrom::Top => read.copy_from(&z[nl - 1]),
            ReadoutFrom::All => {
                let mut off = 0;
                for zl in &z {
                    read.rows_mut(off, zl.len()).copy_from(zl);
                    off += zl.len();
                }
            }
        }
        let r_now = if lag == 0 { &read } else { &read_prev };
        y = stack.readout.next(&y, w_out, b_out, r_now); // Eq. (S2)
        let (err, g) = stack.loss.value_and_grad(&y, &target);
        let m = T::c(seq.mask[t]);
        let g = g * m;
        loss += err * m;
        let read_chain = if lag == 0 { &chain } else { &chain_prev };
        for l in 0..nl {
            // the readout's own exact trace: Y^l ← κ Y^l + c W_out Z̃_read^{t−δ}
            match stack.readout_from {
                ReadoutFrom::Top => ys[l].gemm(c_out, w_out, &read_chain[l][nl - 1], kappa),
                ReadoutFrom::All => {
                    ys[l] *= kappa;
                    let mut off = 0;
                    for k in 0..nl {
                        if k >= l {
                            ys[l].gemm(c_out, &w_out.columns(off, n_of[k]), &read_chain[l][k], T::one());
                        }
                        off += n_of[k];
                    }
                }
            }
            madds += (stack.n_out * stack.n_read() + stack.n_out) as u64 * p_of[l] as u64;
            grad_flat.rows_mut(base[l], p_of[l]).gemv_tr(T::one(), &ys[l], &g, T::one());
        }
        z_bar *= kappa;
        z_bar.axpy(c_out, r_now, T::one());
        b_bar = b_bar * kappa + c_out;
        grad.tensors[nt - 2].value.ger(T::one(), &g, &z_bar, T::one());
        grad.tensors[nt - 1].value.column_mut(0).axpy(b_bar, &g, T::one());
        std::mem::swap(&mut read, &mut read_prev);
    }
    stack.add_flat(&mut grad, &grad_flat);
    Ok(OstlGradient { loss, grad, madds, floats })
}
