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
//! The readout side uses the core's shared bookkeeping (`docs/rtrl.md` §7):
//! [`credit_core::online::OnlineReadout`] (Y1 and the readout's exact gradient, as (T5)) and
//! [`credit_core::online::sensitivity_step`] (the readout trace `Y^l` and `(Y^l)ᵀ g`, rtrl.md
//! (T3)–(T4) per layer's parameters).
//!
//! ## Reference
//! T. Bohnstingl, S. Woźniak, A. Pantazi, E. Eleftheriou, "Online spatio-temporal learning in
//! deep neural networks", IEEE TNNLS (2022), arXiv:2007.12723 (abstract read; the split as in
//! the design notes, equations.md §4).

pub mod fast;

use credit_core::cell::output_times;
use credit_core::online::{
    OnlineReadout, layer_weights, read_rows, read_vector, sensitivity_step, zero_cells, zero_outputs,
};
use credit_core::stack::{InterLayer, Stack};
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
    let w = layer_weights(stack, params);
    let nt = params.tensors.len();
    let (w_out, b_out) = (&params.tensors[nt - 2].value, &params.tensors[nt - 1].value);
    let lag = stack.readout.lag();
    let p_of: Vec<usize> = (0..nl).map(|l| stack.layer_p(l)).collect();
    // flat offset of each layer's parameters among all cell parameters
    let base: Vec<usize> = (0..nl).map(|l| p_of[..l].iter().sum()).collect();
    let mut cells: Vec<CellState<T>> = zero_cells(stack);
    let mut z: Vec<DVector<T>> = zero_outputs(stack);
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
    let mut readout = OnlineReadout::new(stack.n_read(), stack.n_out);
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
        let read = read_vector(stack, &z);
        let r_now = if lag == 0 { &read } else { &read_prev };
        let target = seq.target[t].map(T::c);
        let (err, g) =
            readout.observe(&stack.readout, &stack.loss, w_out, b_out, r_now, &target, T::c(seq.mask[t])); // Eq. (S2)
        loss += err;
        for l in 0..nl {
            let read_s = read_rows(stack, &chain[l]); // the readout's rows of Z̃^{·←l}
            let rs_now = if lag == 0 { &read_s } else { &ys_read_prev[l] };
            // the readout's own exact trace Y^l ← κ Y^l + c W_out Z̃_read^{t−δ}, and (Y^l)ᵀ g:
            // rtrl.md (T3)–(T4) for layer l's parameters
            let gl = sensitivity_step(&mut ys[l], &stack.readout, w_out, rs_now, &g);
            madds += (stack.n_out * stack.n_read() + stack.n_out) as u64 * p_of[l] as u64;
            grad_flat.rows_mut(base[l], p_of[l]).axpy(T::one(), &gl, T::one());
            ys_read_prev[l] = read_s;
        }
        readout.add_exact_grad(&stack.readout, r_now, &g, &mut grad); // the readout's exact gradient, (T5)
        read_prev = read;
        chain_prev = chain;
    }
    stack.add_flat(&mut grad, &grad_flat);
    Ok(OstlGradient { loss, grad, madds, floats })
}
