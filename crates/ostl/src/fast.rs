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
//! `(l, k)`; the chains of `t` and `t − 1` are two sets of buffers swapped each step. The column
//! kernels are the core's ([`credit_core::columns`]), shared with RTRL's and deep e-prop's fast
//! paths; the readout is [`credit_core::online::OnlineReadout`] (`docs/rtrl.md` §7).

use crate::OstlGradient;
use credit_core::columns::{add_immediate, d_in_place, flatten_d, load, output_into, stack_owners};
use credit_core::online::{OnlineReadout, layer_weights, read_vector_into, zero_cells};
use credit_core::stack::{InterLayer, ReadoutFrom, Stack};
use credit_core::{CellModel, CellState, Edges, Params, Scalar, Sequence};
use nalgebra::{DMatrix, DVector};

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
    let w = layer_weights(stack, params);
    let nt = params.tensors.len();
    let (w_out, b_out) = (&params.tensors[nt - 2].value, &params.tensors[nt - 1].value);
    let (kappa, c_out, lag) = (T::c(stack.readout.kappa), T::c(stack.readout.c()), stack.readout.lag());
    let p_of: Vec<usize> = (0..nl).map(|l| stack.layer_p(l)).collect();
    let base: Vec<usize> = (0..nl).map(|l| p_of[..l].iter().sum()).collect();
    let n_of: Vec<usize> = stack.layers.iter().map(|l| l.n).collect();
    let d_of: Vec<usize> = stack.layers.iter().map(|l| l.cell.state_dim()).collect();
    // owner[l][p] = (j, q): layer l's own flat parameter p (0-based within the layer)
    let owner: Vec<Vec<Option<(usize, usize)>>> =
        (0..nl).map(|l| stack_owners(stack, l)[base[l]..base[l] + p_of[l]].to_vec()).collect();
    let mut cells: Vec<CellState<T>> = zero_cells(stack);
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
    let mut readout = OnlineReadout::new(stack.n_read(), stack.n_out);
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
        load(&mut x, &seq.x[t]);
        load(&mut target, &seq.target[t]);
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
            flatten_d(&jac, &mut dflat[l]);
            d_in_place(&dflat[l], d, &mut s[l]);
            s[l].gemm(T::one(), &jac.m_z, &chain_prev[l][l], T::one());
            add_immediate(&jac.i, &owner[l], &mut s[l]);
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
        read_vector_into(stack, &z, &mut read);
        let r_now = if lag == 0 { &read } else { &read_prev };
        let (err, g) =
            readout.observe(&stack.readout, &stack.loss, w_out, b_out, r_now, &target, T::c(seq.mask[t])); // Eq. (S2)
        loss += err;
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
        readout.add_exact_grad(&stack.readout, r_now, &g, &mut grad); // the readout's exact gradient, (T5)
        std::mem::swap(&mut read, &mut read_prev);
    }
    stack.add_flat(&mut grad, &grad_flat);
    Ok(OstlGradient { loss, grad, madds, floats })
}
