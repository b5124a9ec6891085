//! # credit-ostl — online spatio-temporal learning
//!
//! OSTL (Bohnstingl, Woźniak, Maass, Pantazi, Eleftheriou; arXiv:2007.12723, IEEE TNNLS 2022)
//! splits the gradient of a deep recurrent network into a **temporal** part, an exact
//! layer-local eligibility trace, and a **spatial** part, an instantaneous backpropagation of the
//! learning signal through the layers (equations.md §4; `docs/deep.md` §7). In the shared
//! notation, for the parameters `θ^l` of layer `l`:
//! $$ S^{l,t} = D^{l,t} S^{l,t-1} + \\frac{\\partial M^{l,t}}{\\partial z^{l,t-1}} Z^{l,t-1} + I^{l,t},
//!    \\qquad Z^{l,t} = \\frac{\\partial z^{l,t}}{\\partial h^{l,t}} S^{l,t} \\quad\\text{(O-T)} $$
//! — within-layer RTRL with the layer's input held fixed (self, reset and lateral paths
//! included) — and the spatial chain through the layers above, at the step the input arrives:
//! $$ \\tilde Z^{k \\leftarrow l,t} = \\frac{\\partial z^{k,t}}{\\partial h^{k,t}}\\, \\Phi^{k,t}\\, \\tilde Z^{k-1 \\leftarrow l,t'},
//!    \\qquad \\tilde Z^{l \\leftarrow l,t} = Z^{l,t} \\quad\\text{(O-S)} $$
//! The readout (a leaky state) keeps its own exact trace, `Y^{l,t} = κ Y^{l,t−1} + c W_out Z̃_read`,
//! and `dE/dθ^l ≈ Σ_t (Y^{l,t})ᵀ g^t`. The approximation drops every path through the temporal
//! state of the layers above `l`: exact for the top layer and for a single layer
//! (`ostl-top=bptt`, `ostl1=bptt`), different for lower layers when upper layers are leaky
//! (`ostl-lower!=bptt`). What it computes exactly is stated as a stop-gradient form, (O-D) of
//! `docs/deep.md` §7: for a parameter of layer `l`, the exact gradient of the graph in which
//! every temporal edge (`h^{k,t−1}`, and `z^{k,t−1}` into recurrent input, reset, adaptation) of
//! every layer `k > l` is detached — witnessed by the oracle's per-layer cut
//! (`ostl=oracle-detached`), never by this code.
//!
//! ## Requirements
//! Any stack of cells; any scalar. Memory `O(Σ_l N_l d_l P_l)`, i.e. per-layer RTRL (`O(P)` per
//! layer for cells without lateral recurrence, `O(N³)` with it).
//!
//! ## Reference
//! T. Bohnstingl, S. Woźniak, A. Pantazi, E. Eleftheriou, "Online spatio-temporal learning in
//! deep neural networks", IEEE TNNLS (2022), arXiv:2007.12723 (abstract read; the split as in
//! the design notes, equations.md §4).

pub mod fast;

use credit_core::cell::output_times;
use credit_core::stack::{InterLayer, ReadoutFrom, Stack};
use credit_core::{CellModel, CellState, Edges, Params, Scalar, Sequence};
use nalgebra::{DMatrix, DVector};

/// What OSTL returns.
#[derive(Clone, Debug, PartialEq)]
pub struct OstlGradient<T: Scalar> {
    /// The loss.
    pub loss: T,
    /// The OSTL gradient for every tensor of the stack.
    pub grad: Params<T>,
    /// Multiply-adds of (O-T), (O-S) and the readout traces, summed over the sequence (counted).
    pub madds: u64,
    /// Scalars held by the traces (`S^l`, `Z^l`, `Y^l`; the spatial chain is transient).
    pub floats: u64,
}

/// OSTL gradient of a stack, computed online.
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
    // flat offset of each layer's parameters among all cell parameters
    let base: Vec<usize> = (0..nl).map(|l| p_of[..l].iter().sum()).collect();
    let mut cells: Vec<CellState<T>> =
        stack.layers.iter().map(|l| CellState::zeros(l.n, l.cell.state_dim(), l.cell.is_spiking())).collect();
    let mut z: Vec<DVector<T>> = stack.layers.iter().map(|l| DVector::zeros(l.n)).collect();
    // temporal traces: S^l over layer l's own parameters
    let mut s: Vec<DMatrix<T>> = (0..nl)
        .map(|l| DMatrix::zeros(stack.layers[l].n * stack.layers[l].cell.state_dim(), p_of[l]))
        .collect();
    let mut zl: Vec<DMatrix<T>> = (0..nl).map(|l| DMatrix::zeros(stack.layers[l].n, p_of[l])).collect();
    // spatial chains of the previous step (for the delayed inter-layer input): chain[l][k]
    let mut chain_prev: Vec<Vec<DMatrix<T>>> =
        (0..nl).map(|l| (0..nl).map(|k| DMatrix::zeros(stack.layers[k].n, p_of[l])).collect()).collect();
    let mut ys: Vec<DMatrix<T>> = (0..nl).map(|l| DMatrix::zeros(stack.n_out, p_of[l])).collect();
    let mut ys_read_prev: Vec<DMatrix<T>> =
        (0..nl).map(|l| DMatrix::zeros(stack.n_read(), p_of[l])).collect();
    let mut y = DVector::<T>::zeros(stack.n_out);
    let (mut z_bar, mut b_bar) = (DVector::<T>::zeros(stack.n_read()), T::zero());
    let mut read_prev = DVector::<T>::zeros(stack.n_read());
    let mut loss = T::zero();
    let mut grad_flat = DVector::<T>::zeros(stack.p_cells());
    let mut grad: Params<T> = stack.zeros();
    let mut madds = 0u64;
    let floats: u64 = (0..nl).map(|l| (s[l].len() + zl[l].len() + ys[l].len()) as u64).sum();
    for t in 0..seq.len() {
        let x = seq.x[t].map(T::c);
        let z_old = z.clone();
        let mut phis: Vec<Option<DMatrix<T>>> = vec![None; nl];
        let mut zh: Vec<DMatrix<T>> = Vec::with_capacity(nl);
        for l in 0..nl {
            let layer = &stack.layers[l];
            let (n, d) = (layer.n, layer.cell.state_dim());
            let input = match (l, stack.inter) {
                (0, _) => x.clone(),
                (_, InterLayer::SameStep) => z[l - 1].clone(),
                (_, InterLayer::OneStep) => z_old[l - 1].clone(),
            };
            let jac = layer.cell.jacobians(&w[l], &cells[l], &z_old[l], &input);
            if l > 0 {
                phis[l] = Some(layer.cell.input_jacobian(&w[l], &cells[l], &z_old[l], &input));
            }
            // Eq. (O-T): within-layer RTRL, the layer input held fixed
            let mut sl = &jac.m_z * &zl[l] + jac.d_times(&s[l]);
            jac.add_immediate(&mut sl, |j, q| stack.locate_local(l, j, q).2 - base[l]);
            madds += ((n * d * n) + (n * d * d) + (n * d)) as u64 * p_of[l] as u64; // R S, D S, Z
            let next = layer.cell.step(&w[l], &cells[l], &z_old[l], &input, &Edges::default());
            let zhl = layer.cell.output_jacobian(&next);
            let zs = output_times(&zhl, &sl); // Eq. (O-T): Z^{l,t}
            z[l] = layer.cell.output(&next);
            cells[l] = next;
            s[l] = sl;
            zl[l] = zs;
            zh.push(zhl);
        }
        // Eq. (O-S): the spatial chain of layer l's parameters up the stack
        let mut chain: Vec<Vec<DMatrix<T>>> = Vec::with_capacity(nl);
        for l in 0..nl {
            let mut c: Vec<DMatrix<T>> =
                (0..nl).map(|k| DMatrix::zeros(stack.layers[k].n, p_of[l])).collect();
            c[l] = zl[l].clone();
            for k in l + 1..nl {
                let below = match stack.inter {
                    InterLayer::SameStep => &c[k - 1],
                    InterLayer::OneStep => &chain_prev[l][k - 1],
                };
                let phi = phis[k].as_ref().expect("layers above the first have an input Jacobian");
                let dh = phi * below; // ∂h^{k,t}/∂θ^l through the input only
                madds += (phi.nrows() * phi.ncols() + phi.nrows()) as u64 * p_of[l] as u64;
                c[k] = output_times(&zh[k], &dh); // Eq. (O-S)
            }
            chain.push(c);
        }
        let read = match stack.readout_from {
            ReadoutFrom::Top => z[nl - 1].clone(),
            ReadoutFrom::All => {
                DVector::from_iterator(stack.n_read(), z.iter().flat_map(|v| v.iter().copied()))
            }
        };
        let r_now = if lag == 0 { read.clone() } else { read_prev.clone() };
        y = stack.readout.next(&y, w_out, b_out, &r_now); // Eq. (S2)
        let (err, g) = stack.loss.value_and_grad(&y, &seq.target[t].map(T::c));
        let m = T::c(seq.mask[t]);
        let g = g * m;
        loss += err * m;
        for l in 0..nl {
            let read_s = match stack.readout_from {
                ReadoutFrom::Top => chain[l][nl - 1].clone(),
                ReadoutFrom::All => {
                    let mut rs = DMatrix::zeros(stack.n_read(), p_of[l]);
                    let mut off = 0;
                    for k in 0..nl {
                        rs.rows_mut(off, stack.layers[k].n).copy_from(&chain[l][k]);
                        off += stack.layers[k].n;
                    }
                    rs
                }
            };
            let rs_now = if lag == 0 { read_s.clone() } else { ys_read_prev[l].clone() };
            ys[l] = &ys[l] * kappa + w_out * rs_now * c_out; // the readout's own exact trace
            madds += (stack.n_out * stack.n_read() + stack.n_out) as u64 * p_of[l] as u64;
            let gl = ys[l].tr_mul(&g);
            grad_flat.rows_mut(base[l], p_of[l]).axpy(T::one(), &gl, T::one());
            ys_read_prev[l] = read_s;
        }
        z_bar = &z_bar * kappa + &r_now * c_out;
        b_bar = b_bar * kappa + c_out;
        grad.tensors[nt - 2].value += &g * z_bar.transpose();
        grad.tensors[nt - 1].value.column_mut(0).axpy(b_bar, &g, T::one());
        read_prev = read;
        chain_prev = chain;
    }
    stack.add_flat(&mut grad, &grad_flat);
    Ok(OstlGradient { loss, grad, madds, floats })
}
