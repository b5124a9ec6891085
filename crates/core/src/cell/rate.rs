//! Leaky rate RNN with `tanh`, Eqs. (R1)–(R6) of `docs/cells.md`.
//!
//! $$ u_j^t = \\sum_i W^{rec}_{ji} z_i^{t-1} + \\sum_i W^{in}_{ji} x_i^t + b_j, \\qquad
//!    h_j^t = (1-\\alpha)\\, h_j^{t-1} + \\alpha \\tanh(u_j^t), \\qquad z_j^t = h_j^t. $$
//!
//! `α = 1` is the vanilla RNN `h^t = tanh(W_rec h^{t-1} + W_in x^t + b)`. In e-prop terms
//! `h = z`, so `D = 1 − α` and every path through `W_rec` (including the diagonal) is explicit.

use super::{CellModel, CellState, Edges, LocalJacobians, row_dot};
use crate::error::{Result, check_decay};
use crate::scalar::Scalar;
use nalgebra::{DMatrix, DVector};

/// Leaky rate cell. Tensors: `w_in` (N×N_in), `w_rec` (N×N, autapses allowed), `b` (N×1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    /// Leak `α` in (0, 1].
    pub alpha: f64,
}

impl Rate {
    fn pre<T: Scalar>(&self, w: &[DMatrix<T>], z_prev: &DVector<T>, x: &DVector<T>, j: usize) -> T {
        // Eq. (R1)
        row_dot(&w[0], j, x, false) + row_dot(&w[1], j, z_prev, false) + w[2][(j, 0)]
    }
}

impl CellModel for Rate {
    fn id(&self) -> &'static str {
        "rate"
    }
    fn state_dim(&self) -> usize {
        1
    }
    fn is_spiking(&self) -> bool {
        false
    }
    fn allows_autapses(&self) -> bool {
        true
    }
    fn tensor_names(&self) -> &'static [&'static str] {
        &["w_in", "w_rec", "b"]
    }
    fn tensor_cols(&self, n_in: usize, n: usize) -> Vec<usize> {
        vec![n_in, n, 1]
    }
    fn validate(&self) -> Result<()> {
        check_decay("rate.alpha", self.alpha)
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
        let zr = z_prev.map(|z| edges.recurrent(z));
        let a = T::c(self.alpha);
        let h = DVector::from_fn(n, |j, _| {
            // Eq. (R2)
            (T::one() - a) * prev.h[j] + a * self.pre(w, &zr, x, j).stable_tanh()
        });
        CellState { h, refractory: Vec::new() }
    }

    fn output<T: Scalar>(&self, state: &CellState<T>) -> DVector<T> {
        state.h.clone() // Eq. (R3)
    }

    fn jacobians<T: Scalar>(
        &self,
        w: &[DMatrix<T>],
        prev: &CellState<T>,
        z_prev: &DVector<T>,
        x: &DVector<T>,
    ) -> LocalJacobians<T> {
        let n = prev.h.len();
        let n_in = x.len();
        let a = T::c(self.alpha);
        let mut d = Vec::with_capacity(n);
        let mut m_z = DMatrix::zeros(n, n);
        let mut i_blocks = Vec::with_capacity(n);
        for j in 0..n {
            let t = self.pre(w, z_prev, x, j).stable_tanh();
            let g = a * (T::one() - t * t); // α·tanh'(u_j)
            d.push(DMatrix::from_element(1, 1, T::one() - a)); // Eq. (R4)
            for i in 0..n {
                m_z[(j, i)] = g * w[1][(j, i)]; // Eq. (R5)
            }
            // Eq. (R6): [α tanh'(u) x^t | α tanh'(u) z^{t-1} | α tanh'(u)]
            let mut ib = DMatrix::zeros(1, n_in + n + 1);
            for i in 0..n_in {
                ib[(0, i)] = g * x[i];
            }
            for i in 0..n {
                ib[(0, n_in + i)] = g * z_prev[i];
            }
            ib[(0, n_in + n)] = g;
            i_blocks.push(ib);
        }
        LocalJacobians { d, m_z, i: i_blocks }
    }

    fn output_jacobian<T: Scalar>(&self, state: &CellState<T>) -> DMatrix<T> {
        DMatrix::from_element(state.h.len(), 1, T::one()) // ∂z/∂h = 1, Eq. (R3)
    }

    fn input_jacobian<T: Scalar>(
        &self,
        w: &[DMatrix<T>],
        _prev: &CellState<T>,
        z_prev: &DVector<T>,
        x: &DVector<T>,
    ) -> DMatrix<T> {
        let a = T::c(self.alpha);
        DMatrix::from_fn(z_prev.len(), x.len(), |j, i| {
            let t = self.pre(w, z_prev, x, j).stable_tanh();
            a * (T::one() - t * t) * w[0][(j, i)] // Eq. (C7): α tanh'(u_j) W_in[j, i]
        })
    }
}
