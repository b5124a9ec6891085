//! Fast RTRL: the same equations (T1)–(T7) as [`crate::gradient`] and
//! [`crate::stack::gradient`], laid out for speed (`docs/rtrl.md` §6).
//!
//! [`gradient`] must equal [`crate::gradient`] and [`stack_gradient`] must equal
//! [`crate::stack::gradient`] (`rtrl-fast=rtrl` in `check-gradients`, ≤ 1e-12 relative per
//! tensor in `f64`). What changes is only how the products are evaluated:
//!
//! * `S^t` is stored column-major `(N·d) × P` (one column per parameter, the state rows of one
//!   column contiguous), so the block-diagonal `D^t S^{t−1}` of (T1) is, per column, `N`
//!   contiguous `d × d` blocks (for `d = 1` a scaled column) computed **in place**, in the same
//!   pass as `I^t` (single layer);
//! * `∂M/∂z^{t−1} Z^{t−1}` of (T1) (and `Φ^{l,t} Z^{l−1,t'}` of (T7)) is **one** GEMM
//!   accumulated into `S` (nalgebra's `gemm`, which calls `matrixmultiply` for `f32`/`f64`);
//! * `I^t` of (T1) is scattered through a precomputed map from flat parameter to
//!   `(neuron, local index)`;
//! * `Z^t = ∂z/∂h · S^t` (T2), `Y^t = κY^{t−1} + c W^{out} Z^{t−δ}` (T3, as `K` contiguous
//!   dot products per column, `readout_acc`) and `(Y^t)ᵀ g^t` (T4) are written into
//!   preallocated buffers — for a single layer in one pass over the columns after the GEMM —
//!   and the flat gradient is scattered into the tensors once, at the end;
//! * with `δ = 1` the readout sensitivity is updated before `Z` is overwritten, so no copy of
//!   `Z^{t−1}` is kept.
//!
//! The local Jacobians come from the core's [`CellModel::jacobians`] (their cost is `O(N²d)`
//! per step, negligible against the `O(N²·d·P)` GEMM). Every sensitivity buffer is allocated
//! before the time loop; inside it only the core's per-step Jacobians, cell state and `K`-sized
//! readout vectors are allocated. The column kernels ([`credit_core::columns`]) and the readout
//! ([`credit_core::online::OnlineReadout`]) are the core's, shared with the fast paths of deep
//! e-prop and OSTL (`docs/rtrl.md` §7).

use crate::Rtrl;
use crate::stack::StackRtrl;
use credit_core::columns::{
    add_immediate, d_column, d_in_place, flatten_d, flatten_rows, load, output_column, output_into, owners,
    readout_acc, stack_owners,
};
use credit_core::online::{OnlineReadout, layer_weights, read_vector_into, zero_cells, zero_outputs};
use credit_core::stack::{InterLayer, ReadoutFrom, Stack};
use credit_core::{CellModel, CellState, Edges, Network, Params, Scalar, Sequence};
use nalgebra::{DMatrix, DVector};

/// `S ← D^t S + I^t` in one pass over the columns (Eq. T1 without the explicit term): per
/// column, [`d_in_place`] and then [`add_immediate`] while the column is in cache.
fn d_plus_immediate<T: Scalar>(
    dflat: &[T],
    d: usize,
    i: &[DMatrix<T>],
    owner: &[Option<(usize, usize)>],
    s: &mut DMatrix<T>,
) {
    let nd = s.nrows();
    if nd == 0 {
        return;
    }
    for (col, own) in s.as_mut_slice().chunks_exact_mut(nd).zip(owner) {
        d_column(dflat, d, col); // D^t S^{t−1}
        if let Some((j, q)) = *own {
            for c in 0..d {
                col[j * d + c] += i[j][(c, q)]; // + I^t
            }
        }
    }
}

/// One pass over the columns after the GEMM of (T1): `Z_{·p} = ∂z/∂h · S_{·p}` (T2); when
/// `update_y`, `Y_{·p} ← κ Y_{·p} + c W^{out} Z_{·p}` (T3, `wt = (W^{out})ᵀ`); and
/// `grad_p += Y_{·p} · g` (T4) — each column of `S`, `Z`, `Y` touched once, while in cache.
#[allow(clippy::too_many_arguments)]
fn output_readout<T: Scalar>(
    rows: &DMatrix<T>,
    s: &DMatrix<T>,
    zs: &mut DMatrix<T>,
    ys: &mut DMatrix<T>,
    wt: &DMatrix<T>,
    (kappa, c_out, update_y): (T, T, bool),
    g: &DVector<T>,
    grad: &mut DVector<T>,
) {
    let (n, d) = rows.shape();
    let k_out = ys.nrows();
    if n == 0 {
        return;
    }
    let f = flatten_rows(rows);
    let wt = wt.as_slice();
    let cols = zs.as_mut_slice().chunks_exact_mut(n).zip(s.as_slice().chunks_exact(n * d));
    let ycols = ys.as_mut_slice().chunks_exact_mut(k_out.max(1));
    for (((zc, sc), yc), gp) in cols.zip(ycols).zip(grad.iter_mut()) {
        output_column(&f, d, sc, zc); // Eq. (T2)
        let mut gacc = T::zero();
        for ((yk, wk), &gk) in yc.iter_mut().zip(wt.chunks_exact(n)).zip(g.iter()) {
            if update_y {
                let mut acc = T::zero();
                for (&a, &b) in wk.iter().zip(zc.iter()) {
                    acc += a * b;
                }
                *yk = *yk * kappa + c_out * acc;
            }
            gacc += *yk * gk;
        }
        *gp += gacc;
    }
}

/// Fast RTRL of a single layer: equal to [`crate::gradient`] (Eqs. T1–T6, same arguments, same
/// result up to rounding), for any cell and convention the literal function supports and any
/// scalar (fast for `f32` and `f64`, where nalgebra's `gemm` runs `matrixmultiply`).
pub fn gradient<T: Scalar>(
    net: &Network,
    params: &Params<T>,
    seq: &Sequence,
) -> credit_core::Result<Rtrl<T>> {
    net.validate()?;
    params.validate(net)?;
    seq.validate(net)?;
    let w = params.cell_tensors(net);
    let (n, d, p) = (net.n, net.d(), net.p_cell());
    let kappa = T::c(net.readout.kappa);
    let c_out = T::c(net.readout.c());
    let lag = net.readout.lag();
    let (w_out, b_out) = (params.w_out(), params.b_out());
    let owner = owners(net);
    let w_out_t = w_out.transpose();
    let mut cell = CellState::<T>::zeros(n, d, net.cell.is_spiking());
    let mut z = DVector::<T>::zeros(n);
    let mut readout = OnlineReadout::for_network(net);
    let mut s = DMatrix::<T>::zeros(n * d, p);
    let mut zs = DMatrix::<T>::zeros(n, p);
    let mut ys = DMatrix::<T>::zeros(net.n_out, p);
    let mut dflat = vec![T::zero(); n * d * d];
    let mut grad_flat = DVector::<T>::zeros(p);
    let reg = net.reg.is_some();
    let mut z_sum = DVector::<T>::zeros(n);
    let mut zs_sum = DMatrix::<T>::zeros(if reg { n } else { 0 }, if reg { p } else { 0 });
    let mut x = DVector::<T>::zeros(net.n_in);
    let mut target = DVector::<T>::zeros(net.n_out);
    let mut loss = T::zero();
    let mut grad = Params::zeros(net);
    for t in 0..seq.len() {
        load(&mut x, &seq.x[t]);
        load(&mut target, &seq.target[t]);
        let mask = T::c(seq.mask[t]);
        let jac = net.cell.jacobians(&w, &cell, &z, &x);
        let next = net.cell.step(&w, &cell, &z, &x, &Edges::default());
        let z_new = net.cell.output(&next);
        let z_read = if lag == 0 { &z_new } else { &z }; // z^{t-δ}
        let (e, g) = readout.observe(&net.readout, &net.loss, w_out, b_out, z_read, &target, mask); // Eq. (Y1)
        loss += e;
        if lag == 1 {
            // Eq. (T3) with Z^{t-1}, before Z is overwritten
            ys *= kappa;
            readout_acc(&mut ys, &w_out_t, 0, &zs, c_out);
        }
        // Eq. (T1): S^t = D^t S^{t-1} + ∂M/∂z^{t-1} Z^{t-1} + I^t
        flatten_d(&jac, &mut dflat);
        d_plus_immediate(&dflat, d, &jac.i, &owner, &mut s); // D^t S^{t-1} + I^t
        s.gemm(T::one(), &jac.m_z, &zs, T::one()); // + ∂M/∂z^{t-1} Z^{t-1}: the one GEMM
        // Eqs. (T2), (T3) when δ = 0, (T4): Z^t = ∂z^t/∂h^t S^t, Y^t, the gradient, one pass
        let rows = net.cell.output_jacobian(&next);
        output_readout(&rows, &s, &mut zs, &mut ys, &w_out_t, (kappa, c_out, lag == 0), &g, &mut grad_flat);
        readout.add_exact_grad(&net.readout, z_read, &g, &mut grad); // Eq. (T5)
        if reg {
            z_sum += &z_new;
            zs_sum += &zs;
        }
        cell = next;
        z = z_new;
    }
    if let Some(r) = &net.reg {
        let (e, g) = r.value_and_grad(&z_sum, seq.len());
        loss += e;
        grad_flat.gemv_tr(T::one(), &zs_sum, &g, T::one()); // Eq. (T6)
    }
    grad.add_flat_cells(net, &grad_flat);
    Ok(Rtrl { loss, grad })
}

/// Fast RTRL through a stack: equal to [`crate::stack::gradient`] (Eqs. T1–T5 with the depth
/// term T7; same arguments, same result up to rounding; `madds` and `floats` count the same
/// products as the literal function). `Φ^{l,t} Z^{l−1,t'}` is a second GEMM accumulated into
/// `S^l`.
pub fn stack_gradient<T: Scalar>(
    stack: &Stack,
    params: &Params<T>,
    seq: &Sequence,
) -> credit_core::Result<StackRtrl<T>> {
    stack.validate()?;
    stack.validate_params(params)?;
    stack.validate_sequence(seq)?;
    let nl = stack.layers.len();
    let p_tot = stack.p_cells();
    let w = layer_weights(stack, params);
    let nt = params.tensors.len();
    let (w_out, b_out) = (&params.tensors[nt - 2].value, &params.tensors[nt - 1].value);
    let (kappa, c_out, lag) = (T::c(stack.readout.kappa), T::c(stack.readout.c()), stack.readout.lag());
    let owner: Vec<_> = (0..nl).map(|l| stack_owners(stack, l)).collect();
    let w_out_t = w_out.transpose();
    let mut cells: Vec<CellState<T>> = zero_cells(stack);
    let mut z: Vec<DVector<T>> = zero_outputs(stack);
    let mut z_old: Vec<DVector<T>> = z.clone();
    let mut s: Vec<DMatrix<T>> =
        stack.layers.iter().map(|l| DMatrix::zeros(l.n * l.cell.state_dim(), p_tot)).collect();
    // Z^{l,t} and, for the delayed inter-layer input, Z^{l,t-1}
    let mut zs: Vec<DMatrix<T>> = stack.layers.iter().map(|l| DMatrix::zeros(l.n, p_tot)).collect();
    let delayed = stack.inter == InterLayer::OneStep;
    let mut zs_old: Vec<DMatrix<T>> =
        stack.layers.iter().map(|l| DMatrix::zeros(if delayed { l.n } else { 0 }, p_tot)).collect();
    let mut dflat: Vec<Vec<T>> =
        stack.layers.iter().map(|l| vec![T::zero(); l.n * l.cell.state_dim().pow(2)]).collect();
    let mut readout = OnlineReadout::new(stack.n_read(), stack.n_out);
    let mut ys = DMatrix::<T>::zeros(stack.n_out, p_tot);
    let mut read = DVector::<T>::zeros(stack.n_read());
    let mut read_prev = DVector::<T>::zeros(stack.n_read());
    let mut x = DVector::<T>::zeros(stack.n_in);
    let mut target = DVector::<T>::zeros(stack.n_out);
    let mut loss = T::zero();
    let mut grad_flat = DVector::<T>::zeros(p_tot);
    let mut grad: Params<T> = stack.zeros();
    let pt = p_tot as u64;
    let mut madds = 0u64;
    let floats = s.iter().chain(zs.iter()).map(|m| m.len() as u64).sum::<u64>() + ys.len() as u64;
    // Eq. (T3) with the readout's rows of the sensitivities (top layer, or every layer stacked)
    let readout_sens = |ys: &mut DMatrix<T>, zs: &[DMatrix<T>]| {
        *ys *= kappa;
        match stack.readout_from {
            ReadoutFrom::Top => readout_acc(ys, &w_out_t, 0, &zs[nl - 1], c_out),
            ReadoutFrom::All => {
                let mut off = 0;
                for zl in zs {
                    readout_acc(ys, &w_out_t, off, zl, c_out);
                    off += zl.nrows();
                }
            }
        }
    };
    for t in 0..seq.len() {
        load(&mut x, &seq.x[t]);
        load(&mut target, &seq.target[t]);
        for (o, zl) in z_old.iter_mut().zip(&z) {
            o.copy_from(zl);
        }
        if lag == 1 {
            readout_sens(&mut ys, &zs); // Eq. (T3) with Z^{t-1}, before Z is overwritten
        }
        if delayed {
            for (o, zl) in zs_old.iter_mut().zip(&zs) {
                o.copy_from(zl);
            }
        }
        for l in 0..nl {
            let layer = &stack.layers[l];
            let (n, d) = (layer.n, layer.cell.state_dim());
            let (lo, hi) = zs.split_at_mut(l);
            let zl = &mut hi[0];
            let (input, zs_in): (&DVector<T>, Option<&DMatrix<T>>) = match (l, stack.inter) {
                (0, _) => (&x, None),
                (_, InterLayer::SameStep) => (&z[l - 1], Some(&lo[l - 1])),
                (_, InterLayer::OneStep) => (&z_old[l - 1], Some(&zs_old[l - 1])),
            };
            let jac = layer.cell.jacobians(&w[l], &cells[l], &z_old[l], input);
            madds += ((n * d * n) + (n * d * d) + (n * d)) as u64 * pt; // R S, D S, Z
            flatten_d(&jac, &mut dflat[l]);
            d_in_place(&dflat[l], d, &mut s[l]); // Eq. (T1): D S^{l,t-1}
            s[l].gemm(T::one(), &jac.m_z, zl, T::one()); // Eq. (T1): ∂M/∂z^{t-1} Z^{l,t-1}
            if let Some(zi) = zs_in {
                let phi = layer.cell.input_jacobian(&w[l], &cells[l], &z_old[l], input);
                s[l].gemm(T::one(), &phi, zi, T::one()); // Eq. (T7): Φ^{l,t} Z^{l-1,t'}
                madds += (phi.nrows() * phi.ncols()) as u64 * pt;
            }
            add_immediate(&jac.i, &owner[l], &mut s[l]); // Eq. (T1): + I^{l,t}
            let next = layer.cell.step(&w[l], &cells[l], &z_old[l], input, &Edges::default());
            output_into(&layer.cell.output_jacobian(&next), &s[l], zl); // Eq. (T2)
            z[l] = layer.cell.output(&next);
            cells[l] = next;
        }
        read_vector_into(stack, &z, &mut read);
        let r_now = if lag == 0 { &read } else { &read_prev };
        let (e, g) =
            readout.observe(&stack.readout, &stack.loss, w_out, b_out, r_now, &target, T::c(seq.mask[t])); // Eq. (S2)
        loss += e;
        if lag == 0 {
            readout_sens(&mut ys, &zs); // Eq. (T3)
        }
        madds += (stack.n_out * stack.n_read() + stack.n_out) as u64 * pt;
        grad_flat.gemv_tr(T::one(), &ys, &g, T::one()); // Eq. (T4)
        readout.add_exact_grad(&stack.readout, r_now, &g, &mut grad); // Eq. (T5)
        std::mem::swap(&mut read, &mut read_prev);
    }
    stack.add_flat(&mut grad, &grad_flat);
    Ok(StackRtrl { loss, grad, madds, floats })
}
