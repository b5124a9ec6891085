//! BPTT through a stack of layers, Eqs. (B1)–(B6) with the depth term (B7) of `docs/deep.md`:
//! within a step the layers are swept top-down, and the total learning signal of layer `l`
//! collects the path through the layer above,
//! $$ \\delta^{l,t} = \\frac{\\partial E}{\\partial z^{l,t}} +
//!    \\Big(\\frac{\\partial M^{l,t+1}}{\\partial z^{l,t}}\\Big)^\\top \\lambda^{l,t+1} +
//!    (\\Phi^{l+1,t'})^\\top \\lambda^{l+1,t'}, \\qquad t' = t \\text{ (same-step) or } t+1 \\quad\\text{(B7)} $$
//!
//! with `Φ^{l,t} = ∂M^{l,t}/∂z^{l−1,·}` the cell's input Jacobian (Eq. C7).

use credit_core::stack::{InterLayer, Stack};
use credit_core::{CellModel, Edges, LocalJacobians, Params, Scalar, Sequence};
use nalgebra::{DMatrix, DVector};

/// What stack BPTT returns.
#[derive(Clone, Debug, PartialEq)]
pub struct StackBptt<T: Scalar> {
    /// The loss.
    pub loss: T,
    /// `dE/dθ` for every tensor of the stack.
    pub grad: Params<T>,
}

/// BPTT gradient of a stack (weights frozen over the sequence).
pub fn gradient<T: Scalar>(
    stack: &Stack,
    params: &Params<T>,
    seq: &Sequence,
) -> credit_core::Result<StackBptt<T>> {
    let traj = stack.forward(params, seq, &Edges::default())?;
    let nl = stack.layers.len();
    let steps = seq.len();
    let w: Vec<Vec<DMatrix<T>>> =
        (0..nl).map(|l| stack.layer_tensors(l).map(|k| params.tensors[k].value.clone()).collect()).collect();
    let nt = params.tensors.len();
    let w_out = &params.tensors[nt - 2].value;
    let (kappa, c_out, lag) = (T::c(stack.readout.kappa), T::c(stack.readout.c()), stack.readout.lag());
    let mut grad: Params<T> = stack.zeros();
    let mut y_bar_next = DVector::<T>::zeros(stack.n_out);
    let mut lam_next: Vec<DVector<T>> =
        stack.layers.iter().map(|l| DVector::zeros(l.n * l.cell.state_dim())).collect();
    let mut jac_next: Vec<Option<(LocalJacobians<T>, DMatrix<T>)>> = vec![None; nl];
    let read_at = |t: usize| -> DVector<T> {
        match stack.readout_from {
            credit_core::ReadoutFrom::Top => traj.layers[nl - 1].z[t].clone(),
            credit_core::ReadoutFrom::All => DVector::from_iterator(
                stack.n_read(),
                traj.layers.iter().flat_map(|lt| lt.z[t].iter().copied()),
            ),
        }
    };
    for t in (1..=steps).rev() {
        let y_bar = &traj.dl_dy[t] + &y_bar_next * kappa; // Eq. (B1)
        grad.tensors[nt - 2].value += &y_bar * read_at(t - lag).transpose() * c_out; // Eq. (B2)
        grad.tensors[nt - 1].value.column_mut(0).axpy(c_out, &y_bar, T::one());
        let y_for_z = if lag == 0 { &y_bar } else { &y_bar_next };
        let mut lam_now: Vec<DVector<T>> = vec![DVector::zeros(0); nl];
        let mut jac_now: Vec<Option<(LocalJacobians<T>, DMatrix<T>)>> = vec![None; nl];
        for l in (0..nl).rev() {
            let layer = &stack.layers[l];
            let (n, d) = (layer.n, layer.cell.state_dim());
            let lt = &traj.layers[l];
            // Eq. (B3): the readout's partial signal, if the readout reads this layer
            let mut delta = match stack.read_offset(l) {
                Some(off) => w_out.columns(off, n).tr_mul(y_for_z) * c_out,
                None => DVector::zeros(n),
            };
            if let Some((jn, _)) = &jac_next[l] {
                delta += jn.m_z.tr_mul(&lam_next[l]); // Eq. (B4): within the layer
            }
            if l + 1 < nl {
                // Eq. (B7): through the layer above, same step or one step later
                let above = match stack.inter {
                    InterLayer::SameStep => jac_now[l + 1].as_ref().map(|(_, phi)| (phi, &lam_now[l + 1])),
                    InterLayer::OneStep => jac_next[l + 1].as_ref().map(|(_, phi)| (phi, &lam_next[l + 1])),
                };
                if let Some((phi, lam_up)) = above {
                    delta += phi.tr_mul(lam_up);
                }
            }
            let z_h = layer.cell.output_jacobian(&lt.states[t]);
            let mut lam = DVector::zeros(n * d);
            if let Some((jn, _)) = &jac_next[l] {
                for j in 0..n {
                    let lj = jn.d[j].tr_mul(&lam_next[l].rows(j * d, d)); // Eq. (B5)
                    lam.rows_mut(j * d, d).copy_from(&lj);
                }
            }
            for j in 0..n {
                for c in 0..d {
                    lam[j * d + c] += delta[j] * z_h[(j, c)]; // Eq. (B5)
                }
            }
            let jac = layer.cell.jacobians(&w[l], &lt.states[t - 1], &lt.z[t - 1], &lt.input[t]);
            let phi = layer.cell.input_jacobian(&w[l], &lt.states[t - 1], &lt.z[t - 1], &lt.input[t]);
            for j in 0..n {
                let g = jac.i[j].tr_mul(&lam.rows(j * d, d)); // Eq. (B6)
                for (q, &v) in g.iter().enumerate() {
                    let (ti, col, _) = stack.locate_local(l, j, q);
                    grad.tensors[ti].value[(j, col)] += v;
                }
            }
            lam_now[l] = lam;
            jac_now[l] = Some((jac, phi));
        }
        lam_next = lam_now;
        jac_next = jac_now;
        y_bar_next = y_bar;
    }
    Ok(StackBptt { loss: traj.loss, grad })
}
