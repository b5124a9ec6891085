//! Fast deep e-prop: the same equations (D1)–(D2) as [`crate::gradient_with`], laid out for speed
//! (`docs/deep.md` §10).
//!
//! [`gradient_with`] must equal [`crate::gradient_with`] and [`gradient`] must equal
//! [`crate::gradient`] (same arguments, same loss, gradient and counted costs; `deep-fast=deep`
//! in `check-gradients`, ≤ 1e-12 relative per tensor in `f64`). Only the evaluation changes:
//! `ε^k` is stored column-major `(N_k d_k) × P_tot`, so `D^{k,t} ε^{k,t−1}` is an in-place pass
//! over contiguous columns, `Φ^{k,t} e^{k−1,t'}` is one GEMM accumulated into `ε^k` (nalgebra's
//! `gemm`, `matrixmultiply` for `f32`/`f64`), `I^{k,t}` is scattered through a precomputed map
//! from flat parameter to `(neuron, local index)`, and `e^k`, `Y`, the flat gradient are written
//! into buffers allocated before the time loop. The column kernels are the core's
//! ([`credit_core::columns`]: `D ε` in place, `+ I`, `∂z/∂h · ε`), shared with RTRL's and OSTL's
//! fast paths; the readout is [`credit_core::online::OnlineReadout`] (`docs/rtrl.md` §7).

use crate::{DeepGradient, Depth};
use credit_core::columns::{add_immediate, d_in_place, flatten_d, load, output_into, stack_owners};
use credit_core::online::{OnlineReadout, layer_weights, read_vector_into, zero_cells, zero_outputs};
use credit_core::stack::{InterLayer, ReadoutFrom, Stack};
use credit_core::{CellModel, CellState, Edges, Params, Scalar, Sequence};
use nalgebra::{DMatrix, DVector};

/// Fast deep e-prop, [`Depth::Recursive`]: equal to [`crate::gradient`].
pub fn gradient<T: Scalar>(
    stack: &Stack,
    params: &Params<T>,
    seq: &Sequence,
) -> credit_core::Result<DeepGradient<T>> {
    gradient_with(stack, params, seq, Depth::Recursive)
}

/// Fast deep e-prop with the depth treatment chosen: equal to [`crate::gradient_with`] (Eqs.
/// D1–D2; same arguments, same result up to rounding, same counted `madds` and `floats`), for
/// every stack and any scalar (fast for `f32` and `f64`).
pub fn gradient_with<T: Scalar>(
    stack: &Stack,
    params: &Params<T>,
    seq: &Sequence,
    depth: Depth,
) -> credit_core::Result<DeepGradient<T>> {
    stack.validate()?;
    stack.validate_params(params)?;
    stack.validate_sequence(seq)?;
    let nl = stack.layers.len();
    let p_tot = stack.p_cells();
    let w = layer_weights(stack, params);
    let nt = params.tensors.len();
    let (w_out, b_out) = (&params.tensors[nt - 2].value, &params.tensors[nt - 1].value);
    let (kappa, c_out, lag) = (T::c(stack.readout.kappa), T::c(stack.readout.c()), stack.readout.lag());
    // owner[k][p] = (j, q) when flat parameter p is local parameter q of neuron j of layer k
    let owner: Vec<Vec<Option<(usize, usize)>>> = (0..nl).map(|k| stack_owners(stack, k)).collect();
    let mut cells: Vec<CellState<T>> = zero_cells(stack);
    let mut z: Vec<DVector<T>> = zero_outputs(stack);
    let mut z_old = z.clone();
    let mut eps: Vec<DMatrix<T>> =
        stack.layers.iter().map(|l| DMatrix::zeros(l.n * l.cell.state_dim(), p_tot)).collect();
    let mut e: Vec<DMatrix<T>> = stack.layers.iter().map(|l| DMatrix::zeros(l.n, p_tot)).collect();
    let delayed = stack.inter == InterLayer::OneStep && depth == Depth::Recursive;
    let mut e_old: Vec<DMatrix<T>> =
        stack.layers.iter().map(|l| DMatrix::zeros(if delayed { l.n } else { 0 }, p_tot)).collect();
    let mut dflat: Vec<Vec<T>> =
        stack.layers.iter().map(|l| vec![T::zero(); l.n * l.cell.state_dim().pow(2)]).collect();
    let mut readout = OnlineReadout::new(stack.n_read(), stack.n_out);
    let mut ys = DMatrix::<T>::zeros(stack.n_out, p_tot);
    let mut read = DVector::<T>::zeros(stack.n_read());
    let mut read_prev = DVector::<T>::zeros(stack.n_read());
    let mut x = DVector::<T>::zeros(stack.n_in);
    let mut target = DVector::<T>::zeros(stack.n_out);
    let (mut loss, mut grad_flat) = (T::zero(), DVector::<T>::zeros(p_tot));
    let mut grad: Params<T> = stack.zeros();
    let pt = p_tot as u64;
    let mut madds = 0u64;
    let floats = eps.iter().zip(&e).map(|(a, b)| (a.len() + b.len()) as u64).sum::<u64>()
        + (stack.n_out * p_tot) as u64;
    // Eq. (D2): Y ← κY + c W_out e_read
    let readout_sens = |ys: &mut DMatrix<T>, e: &[DMatrix<T>]| match stack.readout_from {
        ReadoutFrom::Top => ys.gemm(c_out, w_out, &e[nl - 1], kappa),
        ReadoutFrom::All => {
            *ys *= kappa;
            let mut off = 0;
            for el in e {
                ys.gemm(c_out, &w_out.columns(off, el.nrows()), el, T::one());
                off += el.nrows();
            }
        }
    };
    for t in 0..seq.len() {
        load(&mut x, &seq.x[t]);
        load(&mut target, &seq.target[t]);
        for (o, zl) in z_old.iter_mut().zip(&z) {
            o.copy_from(zl);
        }
        if delayed {
            for (o, el) in e_old.iter_mut().zip(&e) {
                o.copy_from(el);
            }
        }
        if lag == 1 {
            readout_sens(&mut ys, &e); // Eq. (D2) with e^{t−1}, before e is overwritten
        }
        for k in 0..nl {
            let layer = &stack.layers[k];
            let (n, d) = (layer.n, layer.cell.state_dim());
            let (lo, hi) = e.split_at_mut(k);
            let ek = &mut hi[0];
            let (input, e_in): (&DVector<T>, Option<&DMatrix<T>>) = match (k, stack.inter) {
                (0, _) => (&x, None),
                (_, InterLayer::SameStep) if depth == Depth::LayerLocal => (&z[k - 1], None),
                (_, InterLayer::OneStep) if depth == Depth::LayerLocal => (&z_old[k - 1], None),
                (_, InterLayer::SameStep) => (&z[k - 1], Some(&lo[k - 1])),
                (_, InterLayer::OneStep) => (&z_old[k - 1], Some(&e_old[k - 1])),
            };
            let jac = layer.cell.jacobians(&w[k], &cells[k], &z_old[k], input);
            flatten_d(&jac, &mut dflat[k]);
            d_in_place(&dflat[k], d, &mut eps[k]); // Eq. (D1): D^{k,t} ε^{k,t−1}
            if let Some(ei) = e_in {
                madds += (n * d * ei.nrows()) as u64 * pt;
                let phi = layer.cell.input_jacobian(&w[k], &cells[k], &z_old[k], input);
                eps[k].gemm(T::one(), &phi, ei, T::one()); // Eq. (D1): Φ^{k,t} e^{k−1,t'}
            }
            add_immediate(&jac.i, &owner[k], &mut eps[k]); // Eq. (D1): + I^{k,t}
            madds += ((n * d * d) + (n * d)) as u64 * pt; // D ε and ∂z/∂h ε
            let next = layer.cell.step(&w[k], &cells[k], &z_old[k], input, &Edges::default());
            output_into(&layer.cell.output_jacobian(&next), &eps[k], ek); // Eq. (D1): e = ∂z/∂h ε
            z[k] = layer.cell.output(&next);
            cells[k] = next;
        }
        read_vector_into(stack, &z, &mut read);
        let r_now = if lag == 0 { &read } else { &read_prev };
        let (err, g) =
            readout.observe(&stack.readout, &stack.loss, w_out, b_out, r_now, &target, T::c(seq.mask[t])); // Eq. (S2)
        loss += err;
        if lag == 0 {
            readout_sens(&mut ys, &e); // Eq. (D2)
        }
        madds += (stack.n_out * stack.n_read() + stack.n_out) as u64 * pt;
        grad_flat.gemv_tr(T::one(), &ys, &g, T::one()); // Eq. (D2)
        readout.add_exact_grad(&stack.readout, r_now, &g, &mut grad); // the readout's exact gradient, (T5)
        std::mem::swap(&mut read, &mut read_prev);
    }
    stack.add_flat(&mut grad, &grad_flat);
    Ok(DeepGradient { loss, grad, madds, floats })
}
