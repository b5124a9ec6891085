//! RTRL through a stack of layers, Eq. (T1) with the depth term (T7) of `docs/deep.md`. With
//! `S^{l,t} := dh^{l,t}/dθ` over **all** cell parameters of the stack (`(N_l·d_l) × P_tot`), the
//! layers are swept bottom-up within each step:
//! $$ S^{l,t} = D^{l,t} S^{l,t-1} + \\frac{\\partial M^{l,t}}{\\partial z^{l,t-1}} Z^{l,t-1} +
//!    \\Phi^{l,t} Z^{l-1,t'} + I^{l,t}, \\qquad t' = t \\text{ (same-step) or } t-1 \\quad\\text{(T7)} $$
//! and the readout sensitivity reads the top layer (or every layer) as in (T3)–(T5) — the core's
//! [`credit_core::online::OnlineReadout`] (Y1, T5), [`credit_core::online::sensitivity_step`]
//! (T3–T4) and [`credit_core::online::read_rows`] (`docs/rtrl.md` §7).
//! Memory `O(Σ_l N_l d_l · P_tot)`, compute `O(Σ_l N_l d_l (N_l + N_{l−1}) P_tot)` per step.

use credit_core::cell::output_times;
use credit_core::online::{
    OnlineReadout, layer_weights, read_rows, read_vector, sensitivity_step, zero_cells, zero_outputs,
};
use credit_core::stack::{InterLayer, Stack};
use credit_core::{CellModel, CellState, Edges, Params, Scalar, Sequence};
use nalgebra::{DMatrix, DVector};

/// What stack RTRL returns.
#[derive(Clone, Debug, PartialEq)]
pub struct StackRtrl<T: Scalar> {
    /// The loss.
    pub loss: T,
    /// `dE/dθ` for every tensor of the stack.
    pub grad: Params<T>,
    /// Multiply-adds of (T1), (T7), (T2) and the readout sensitivity, summed (counted).
    pub madds: u64,
    /// Scalars held by the sensitivities (`S^l`, `Z^l`, `Y`).
    pub floats: u64,
}

/// RTRL gradient of a stack, computed online (weights frozen over the sequence).
pub fn gradient<T: Scalar>(
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
    let lag = stack.readout.lag();
    let mut cells: Vec<CellState<T>> = zero_cells(stack);
    let mut z: Vec<DVector<T>> = zero_outputs(stack);
    let mut s: Vec<DMatrix<T>> =
        stack.layers.iter().map(|l| DMatrix::zeros(l.n * l.cell.state_dim(), p_tot)).collect();
    let mut zs: Vec<DMatrix<T>> = stack.layers.iter().map(|l| DMatrix::zeros(l.n, p_tot)).collect();
    let mut readout = OnlineReadout::new(stack.n_read(), stack.n_out);
    let mut ys = DMatrix::<T>::zeros(stack.n_out, p_tot);
    let (mut read_prev, mut read_s_prev) =
        (DVector::<T>::zeros(stack.n_read()), DMatrix::<T>::zeros(stack.n_read(), p_tot));
    let mut loss = T::zero();
    let mut grad_flat = DVector::<T>::zeros(p_tot);
    let mut grad: Params<T> = stack.zeros();
    let pt = p_tot as u64;
    let mut madds = 0u64;
    let floats = s.iter().chain(zs.iter()).map(|m| m.len() as u64).sum::<u64>() + ys.len() as u64;
    for t in 0..seq.len() {
        let x = seq.x[t].map(T::c);
        let (z_old, zs_old) = (z.clone(), zs.clone());
        for l in 0..nl {
            let layer = &stack.layers[l];
            let (n, d) = (layer.n, layer.cell.state_dim());
            let (input, zs_in) = match (l, stack.inter) {
                (0, _) => (x.clone(), None),
                (_, InterLayer::SameStep) => (z[l - 1].clone(), Some(&zs[l - 1])),
                (_, InterLayer::OneStep) => (z_old[l - 1].clone(), Some(&zs_old[l - 1])),
            };
            let jac = layer.cell.jacobians(&w[l], &cells[l], &z_old[l], &input);
            let mut sl = &jac.m_z * &zs_old[l]; // Eq. (T1): ∂M/∂z^{t-1} Z^{l,t-1}
            madds += ((n * d * n) + (n * d * d) + (n * d)) as u64 * pt; // R S, D S, Z
            if let Some(zi) = zs_in {
                let phi = layer.cell.input_jacobian(&w[l], &cells[l], &z_old[l], &input);
                sl += &phi * zi; // Eq. (T7): Φ^{l,t} Z^{l-1,t'}
                madds += (phi.nrows() * phi.ncols()) as u64 * pt;
            }
            sl += jac.d_times(&s[l]); // Eq. (T1): D S^{l,t-1}
            jac.add_immediate(&mut sl, |j, q| stack.locate_local(l, j, q).2); // Eq. (T1): + I^{l,t}
            let next = layer.cell.step(&w[l], &cells[l], &z_old[l], &input, &Edges::default());
            let zl = output_times(&layer.cell.output_jacobian(&next), &sl); // Eq. (T2)
            z[l] = layer.cell.output(&next);
            cells[l] = next;
            s[l] = sl;
            zs[l] = zl;
        }
        let (read, read_s) = (read_vector(stack, &z), read_rows(stack, &zs)); // the readout's rows
        let (r_now, rs_now) = if lag == 0 { (&read, &read_s) } else { (&read_prev, &read_s_prev) };
        let target = seq.target[t].map(T::c);
        let (e, g) =
            readout.observe(&stack.readout, &stack.loss, w_out, b_out, r_now, &target, T::c(seq.mask[t])); // Eq. (S2)
        loss += e;
        grad_flat += sensitivity_step(&mut ys, &stack.readout, w_out, rs_now, &g); // Eqs. (T3), (T4)
        madds += (stack.n_out * stack.n_read() + stack.n_out) as u64 * pt;
        readout.add_exact_grad(&stack.readout, r_now, &g, &mut grad); // Eq. (T5)
        read_prev = read;
        read_s_prev = read_s;
    }
    stack.add_flat(&mut grad, &grad_flat); // the flat cell-parameter gradient into the layer tensors
    Ok(StackRtrl { loss, grad, madds, floats })
}
