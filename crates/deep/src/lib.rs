//! # credit-deep — deep e-prop (a reconstruction)
//!
//! **A reconstruction.** B. Millidge, "Generalising E-prop to Deep Networks" (arXiv:2512.24506,
//! 2025) could be read only as its abstract: it extends e-prop to deep networks with "a novel
//! recursion relationship across depth which extends the eligibility traces of E-prop to deeper
//! layers". The recursion below is the design notes' reconstruction (equations.md §3, \[R\]),
//! `docs/deep.md` §6: the eligibility trace of layer `k` for the parameters of any layer is
//! carried in time by the layer's own implicit Jacobian `D` and in depth by the input Jacobian
//! `Φ`; within-layer explicit recurrence (recurrent weights, reset) is pruned, as e-prop prunes it:
//! $$ \\varepsilon^{k,t} = D^{k,t} \\varepsilon^{k,t-1} + \\Phi^{k,t} e^{k-1,t'} + I^{k,t},
//!    \\qquad e^{k,t} = \\frac{\\partial z^{k,t}}{\\partial h^{k,t}} \\varepsilon^{k,t} \\quad\\text{(D1)} $$
//! over all cell parameters (`t' = t` for same-step inter-layer input, `t − 1` with the delay;
//! `I^{k,t}` only at layer `k`'s own parameters), and the gradient from the readout's partial
//! learning signal through the readout sensitivity, as RTRL's (T3)–(T5):
//! $$ Y^t = \\kappa Y^{t-1} + c\\, W^{out} e_{\\rm read}^{t-\\delta}, \\qquad
//!    \\frac{dE}{d\\theta} \\approx \\sum_t (Y^t)^\\top g^t \\quad\\text{(D2)} $$
//!
//! What this is, exactly (checked by `check-gradients`): the gradient of the graph in which every
//! within-layer `z^{t−1}` (recurrent input and reset) is a stop-gradient and everything else —
//! adaptation, depth, readout — is live (`deep=oracle-detached`); one layer is e-prop
//! (`deep1=eprop`); with no within-layer explicit path it is BPTT (`deep=bptt@R0`).
//!
//! The readout side uses the core's shared bookkeeping (`docs/rtrl.md` §7):
//! [`credit_core::online::OnlineReadout`] (Y1 and the readout's exact gradient, as (T5)),
//! [`credit_core::online::sensitivity_step`] ((D2), the product of rtrl.md (T3)–(T4) with `e`)
//! and [`credit_core::online::read_rows`].
//!
//! ## Requirements
//! Any stack of cells (`credit_core::Stack`); any scalar. Memory `O(Σ_k N_k d_k P_tot)`
//! (`O(L²N³)` for `L` equal layers): RTRL-like, as the design notes warn — the traces of
//! lower-layer weights at upper layers are dense in the upper neuron index.
//!
//! ## Reference
//! B. Millidge, arXiv:2512.24506 (abstract read); G. Bellec et al., Nature Communications
//! 11:3625 (2020) for single-layer e-prop.

pub mod fast;

use credit_core::cell::output_times;
use credit_core::online::{OnlineReadout, layer_weights, read_rows, read_vector, sensitivity_step};
use credit_core::stack::{InterLayer, Stack};
use credit_core::{CellModel, CellState, Edges, Params, Scalar, Sequence};
use nalgebra::{DMatrix, DVector};

/// How traces cross layers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Depth {
    /// Deep e-prop: traces carried across depth by `Φ` (Eq. D1, the default).
    #[default]
    Recursive,
    /// e-prop applied layer-wise: each layer's traces cover its own parameters only (the `Φ`
    /// term of (D1) dropped), as when the inputs between layers are stop-gradients (the authors'
    /// multi-layer code with `loss_from_all_layers`). A lower layer then learns only from the
    /// readout of its own outputs (`ReadoutFrom::All`).
    LayerLocal,
}

/// What deep e-prop returns.
#[derive(Clone, Debug, PartialEq)]
pub struct DeepGradient<T: Scalar> {
    /// The loss.
    pub loss: T,
    /// The deep e-prop gradient for every tensor of the stack.
    pub grad: Params<T>,
    /// Multiply-adds of (D1)–(D2), summed over the sequence (counted).
    pub madds: u64,
    /// Scalars held by the traces (`ε`, `e`, `Y`).
    pub floats: u64,
}

/// The per-layer online state: cell state, output, eligibility vectors and traces.
struct LayerState<T: Scalar> {
    cell: CellState<T>,
    z: DVector<T>,
    /// `ε^{k,t}`, `(N_k d_k) × P_tot`.
    eps: DMatrix<T>,
    /// `e^{k,t}`, `N_k × P_tot`.
    e: DMatrix<T>,
}

/// Deep e-prop gradient of a stack, computed online (Eqs. D1–D2).
pub fn gradient<T: Scalar>(
    stack: &Stack,
    params: &Params<T>,
    seq: &Sequence,
) -> credit_core::Result<DeepGradient<T>> {
    gradient_with(stack, params, seq, Depth::Recursive)
}

/// [`gradient`] with the depth treatment chosen ([`Depth`]).
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
    let lag = stack.readout.lag();
    let mut layers: Vec<LayerState<T>> = stack
        .layers
        .iter()
        .map(|l| LayerState {
            cell: CellState::zeros(l.n, l.cell.state_dim(), l.cell.is_spiking()),
            z: DVector::zeros(l.n),
            eps: DMatrix::zeros(l.n * l.cell.state_dim(), p_tot),
            e: DMatrix::zeros(l.n, p_tot),
        })
        .collect();
    let mut readout = OnlineReadout::new(stack.n_read(), stack.n_out);
    let mut ys = DMatrix::<T>::zeros(stack.n_out, p_tot);
    let mut read_prev = (DVector::<T>::zeros(stack.n_read()), DMatrix::<T>::zeros(stack.n_read(), p_tot));
    let (mut loss, mut grad_flat) = (T::zero(), DVector::<T>::zeros(p_tot));
    let mut grad: Params<T> = stack.zeros();
    let pt = p_tot as u64;
    let mut madds = 0u64;
    let floats =
        layers.iter().map(|s| (s.eps.len() + s.e.len()) as u64).sum::<u64>() + (stack.n_out * p_tot) as u64;
    for t in 0..seq.len() {
        let x = seq.x[t].map(T::c);
        // the layer below as it was at t − 1 (for the delayed inter-layer input)
        let below_prev: Vec<(DVector<T>, DMatrix<T>)> =
            layers.iter().map(|s| (s.z.clone(), s.e.clone())).collect();
        for k in 0..nl {
            let layer = &stack.layers[k];
            let (n, d) = (layer.n, layer.cell.state_dim());
            let (input, e_in) = match (k, stack.inter) {
                (0, _) => (x.clone(), None),
                (_, InterLayer::SameStep) if depth == Depth::LayerLocal => (layers[k - 1].z.clone(), None),
                (_, InterLayer::OneStep) if depth == Depth::LayerLocal => (below_prev[k - 1].0.clone(), None),
                (_, InterLayer::SameStep) => (layers[k - 1].z.clone(), Some(layers[k - 1].e.clone())),
                (_, InterLayer::OneStep) => (below_prev[k - 1].0.clone(), Some(below_prev[k - 1].1.clone())),
            };
            let st = &mut layers[k];
            let jac = layer.cell.jacobians(&w[k], &st.cell, &st.z, &input);
            let mut eps = match &e_in {
                // Eq. (D1): Φ^{k,t} e^{k−1,t'} — the recursion across depth
                Some(e) => {
                    madds += (n * d * e.nrows()) as u64 * pt;
                    &layer.cell.input_jacobian(&w[k], &st.cell, &st.z, &input) * e
                }
                None => DMatrix::zeros(n * d, p_tot),
            };
            eps += jac.d_times(&st.eps); // Eq. (D1): D^{k,t} ε^{k,t−1}
            jac.add_immediate(&mut eps, |j, q| stack.locate_local(k, j, q).2); // Eq. (D1): + I^{k,t}
            madds += ((n * d * d) + (n * d)) as u64 * pt; // D ε and ∂z/∂h ε
            let next = layer.cell.step(&w[k], &st.cell, &st.z, &input, &Edges::default());
            let e = output_times(&layer.cell.output_jacobian(&next), &eps); // Eq. (D1): e = ∂z/∂h ε
            st.z = layer.cell.output(&next);
            st.cell = next;
            st.eps = eps;
            st.e = e;
        }
        // the readout's rows of z and e
        let read =
            (read_vector(stack, layers.iter().map(|s| &s.z)), read_rows(stack, layers.iter().map(|s| &s.e)));
        let (r_now, e_now) = if lag == 0 { (&read.0, &read.1) } else { (&read_prev.0, &read_prev.1) };
        let target = seq.target[t].map(T::c);
        let (err, g) =
            readout.observe(&stack.readout, &stack.loss, w_out, b_out, r_now, &target, T::c(seq.mask[t])); // Eq. (S2)
        loss += err;
        // Eq. (D2): Y ← κY + c W_out e_read, and Yᵀ g (the product of rtrl.md (T3)–(T4) with e)
        grad_flat += sensitivity_step(&mut ys, &stack.readout, w_out, e_now, &g);
        madds += (stack.n_out * stack.n_read() + stack.n_out) as u64 * pt;
        readout.add_exact_grad(&stack.readout, r_now, &g, &mut grad); // the readout's exact gradient, (T5)
        read_prev = read;
    }
    stack.add_flat(&mut grad, &grad_flat);
    Ok(DeepGradient { loss, grad, madds, floats })
}
