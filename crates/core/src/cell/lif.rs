//! Leaky integrate-and-fire neurons of Bellec et al. (2020), Eqs. (L1)–(L8) of `docs/cells.md`.
//!
//! $$ v_j^t = \\alpha v_j^{t-1} + \\zeta\\Big(\\sum_{i \\ne j} W^{rec}_{ji} z_i^{t-1} +
//!    \\sum_i W^{in}_{ji} x_i^t + b_j\\Big) - v_{th} z_j^{t-1}, \\qquad
//!    z_j^t = H\\big((v_j^t - v_{th})/v_{th}\\big). $$
//!
//! No autapses (`W_rec` has a zero diagonal, which the step never reads). The bias `b_j` is a
//! constant input current (zero in the paper; NEST's `I_e`).

use super::{CellModel, CellState, Edges, LocalJacobians, Spiking, row_dot};
use crate::error::Result;
use crate::scalar::Scalar;
use nalgebra::{DMatrix, DVector};

/// LIF cell. Tensors: `w_in` (N×N_in), `w_rec` (N×N, zero diagonal), `b` (N×1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Lif {
    /// Membrane, threshold, surrogate, refractory, reset and input conventions.
    pub spiking: Spiking,
}

/// Eq. (L1) for neuron `j`, shared with ALIF (which adds nothing to the membrane).
pub(crate) fn membrane<T: Scalar>(
    sp: &Spiking,
    w: &[DMatrix<T>],
    v_prev: T,
    z_prev: &DVector<T>,
    x: &DVector<T>,
    j: usize,
    edges: &Edges<'_, T>,
) -> T {
    let zr = |i: usize| edges.recurrent(z_prev[i]);
    let mut rec = T::zero();
    for i in 0..z_prev.len() {
        if i != j {
            rec += w[1][(j, i)] * zr(i);
        }
    }
    let input = rec + row_dot(&w[0], j, x, false) + w[2][(j, 0)];
    T::c(sp.alpha) * v_prev + T::c(sp.zeta()) * input - T::c(sp.v_th) * sp.reset_input(edges.reset(z_prev[j]))
}

/// The membrane rows of `∂M/∂z^{t-1}` (Eq. L6) and `I^t` (Eq. L7), shared with ALIF.
/// `row` is the state component of `v` (0) and `d` the hidden dimension.
pub(crate) fn membrane_jacobians<T: Scalar>(
    sp: &Spiking,
    w: &[DMatrix<T>],
    z_prev: &DVector<T>,
    x: &DVector<T>,
    d: usize,
    m_z: &mut DMatrix<T>,
    i_blocks: &mut [DMatrix<T>],
) {
    let n = z_prev.len();
    let n_in = x.len();
    let zeta = T::c(sp.zeta());
    for j in 0..n {
        for i in 0..n {
            m_z[(j * d, i)] = if i == j {
                T::c(sp.reset_slope()) // −v_th, or 0 when the reset is detached
            } else {
                zeta * w[1][(j, i)]
            };
        }
        let ib = &mut i_blocks[j];
        for i in 0..n_in {
            ib[(0, i)] = zeta * x[i]; // ∂v_j/∂W_in[j,i] = ζ x_i^t
        }
        for i in 0..n {
            if i != j {
                ib[(0, n_in + i)] = zeta * z_prev[i]; // ∂v_j/∂W_rec[j,i] = ζ z_i^{t-1}
            }
        }
        ib[(0, n_in + n)] = zeta; // ∂v_j/∂b_j = ζ
    }
}

impl CellModel for Lif {
    fn id(&self) -> &'static str {
        "lif"
    }
    fn state_dim(&self) -> usize {
        1
    }
    fn is_spiking(&self) -> bool {
        true
    }
    fn allows_autapses(&self) -> bool {
        false
    }
    fn tensor_names(&self) -> &'static [&'static str] {
        &["w_in", "w_rec", "b"]
    }
    fn tensor_cols(&self, n_in: usize, n: usize) -> Vec<usize> {
        vec![n_in, n, 1]
    }
    fn validate(&self) -> Result<()> {
        self.spiking.validate("lif")
    }

    fn step<T: Scalar>(
        &self,
        w: &[DMatrix<T>],
        prev: &CellState<T>,
        z_prev: &DVector<T>,
        x: &DVector<T>,
        edges: &Edges<'_, T>,
    ) -> CellState<T> {
        let n = prev.h.len();
        let h = DVector::from_fn(n, |j, _| {
            membrane(&self.spiking, w, prev.h[j], z_prev, x, j, edges) // Eq. (L1)
        });
        let refractory = (0..n)
            .map(|j| self.spiking.next_refractory(prev.refractory[j], z_prev[j].value())) // Eq. (L4)
            .collect();
        CellState { h, refractory }
    }

    fn output<T: Scalar>(&self, state: &CellState<T>) -> DVector<T> {
        let th = T::c(self.spiking.v_th);
        DVector::from_fn(state.h.len(), |j, _| {
            self.spiking.spike(state.h[j], th, state.refractory[j]) // Eq. (L2)
        })
    }

    fn jacobians<T: Scalar>(
        &self,
        w: &[DMatrix<T>],
        prev: &CellState<T>,
        z_prev: &DVector<T>,
        x: &DVector<T>,
    ) -> LocalJacobians<T> {
        let n = prev.h.len();
        let p_loc = x.len() + n + 1;
        let d = vec![DMatrix::from_element(1, 1, T::c(self.spiking.alpha)); n]; // Eq. (L5)
        let mut m_z = DMatrix::zeros(n, n);
        let mut i = vec![DMatrix::zeros(1, p_loc); n];
        membrane_jacobians(&self.spiking, w, z_prev, x, 1, &mut m_z, &mut i); // Eqs. (L6), (L7)
        LocalJacobians { d, m_z, i }
    }

    fn output_jacobian<T: Scalar>(&self, state: &CellState<T>) -> DMatrix<T> {
        let th = T::c(self.spiking.v_th);
        DMatrix::from_fn(state.h.len(), 1, |j, _| {
            self.spiking.psi(state.h[j], th, state.refractory[j]) // Eq. (L8): ∂z/∂v = ψ
        })
    }

    fn input_jacobian<T: Scalar>(
        &self,
        w: &[DMatrix<T>],
        _prev: &CellState<T>,
        z_prev: &DVector<T>,
        x: &DVector<T>,
    ) -> DMatrix<T> {
        let zeta = T::c(self.spiking.zeta());
        DMatrix::from_fn(z_prev.len(), x.len(), |j, i| zeta * w[0][(j, i)]) // Eq. (C7): ζ W_in
    }
}
