//! Adaptive LIF neurons of Bellec et al. (2020), Eqs. (A1)–(A6) of `docs/cells.md`.
//!
//! Hidden state `h_j = (v_j, a_j)`, `d = 2`. The membrane is Eq. (L1) of LIF; in addition
//! $$ a_j^t = \\rho\\, a_j^{t-1} + z_j^{t-1}, \\qquad A_j^t = v_{th} + \\beta a_j^t, \\qquad
//!    z_j^t = H\\big((v_j^t - A_j^t)/v_{th}\\big). $$
//!
//! The adaptation's `z_j^{t-1}` is recomputed **inside** `M` from `h_j^{t-1}` (it is neuron-local,
//! so it belongs to `D`), while the reset keeps the explicit `z_j^{t-1}` (it belongs to `R`):
//! Bellec's partition, copied from `EligALIF` (`z_local` vs the stop-gradient `z`).

use super::lif::{membrane, membrane_jacobians};
use super::{CellModel, CellState, Edges, LocalJacobians, Spiking};
use crate::error::{Result, check_decay, check_nonnegative};
use crate::scalar::Scalar;
use nalgebra::{DMatrix, DVector};

/// ALIF cell. Tensors: `w_in` (N×N_in), `w_rec` (N×N, zero diagonal), `b` (N×1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Alif {
    /// Membrane, threshold, surrogate, refractory, reset and input conventions.
    pub spiking: Spiking,
    /// Adaptation decay `ρ = exp(−δt/τ_a)` in (0, 1].
    pub rho: f64,
    /// Adaptation strength `β ≥ 0`.
    pub beta: f64,
}

impl Alif {
    fn threshold<T: Scalar>(&self, a: T) -> T {
        T::c(self.spiking.v_th) + T::c(self.beta) * a // Eq. (A2)
    }
}

impl CellModel for Alif {
    fn id(&self) -> &'static str {
        "alif"
    }
    fn state_dim(&self) -> usize {
        2
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
        self.spiking.validate("alif")?;
        check_decay("alif.rho", self.rho)?;
        check_nonnegative("alif.beta", self.beta)
    }

    fn step<T: Scalar>(
        &self,
        w: &[DMatrix<T>],
        prev: &CellState<T>,
        z_prev: &DVector<T>,
        x: &DVector<T>,
        edges: &Edges<'_, T>,
    ) -> CellState<T> {
        let n = z_prev.len();
        let mut h = DVector::zeros(2 * n);
        for j in 0..n {
            let (v, a) = (prev.h[2 * j], prev.h[2 * j + 1]);
            // the neuron's own spike at t−1, recomputed locally from h_j^{t-1} (part of D)
            let z_local = self.spiking.spike(v, self.threshold(a), prev.refractory[j]);
            let z_local = edges.adaptation(z_local);
            h[2 * j] = membrane(&self.spiking, w, v, z_prev, x, j, edges); // Eq. (L1)
            h[2 * j + 1] = T::c(self.rho) * a + z_local; // Eq. (A1)
        }
        let refractory = (0..n)
            .map(|j| self.spiking.next_refractory(prev.refractory[j], z_prev[j].value())) // Eq. (L4)
            .collect();
        CellState { h, refractory }
    }

    fn output<T: Scalar>(&self, state: &CellState<T>) -> DVector<T> {
        DVector::from_fn(state.refractory.len(), |j, _| {
            let (v, a) = (state.h[2 * j], state.h[2 * j + 1]);
            self.spiking.spike(v, self.threshold(a), state.refractory[j]) // Eq. (A3)
        })
    }

    fn jacobians<T: Scalar>(
        &self,
        w: &[DMatrix<T>],
        prev: &CellState<T>,
        z_prev: &DVector<T>,
        x: &DVector<T>,
    ) -> LocalJacobians<T> {
        let n = z_prev.len();
        let p_loc = x.len() + n + 1;
        let (alpha, rho, beta) = (T::c(self.spiking.alpha), T::c(self.rho), T::c(self.beta));
        let d = (0..n)
            .map(|j| {
                let (v, a) = (prev.h[2 * j], prev.h[2 * j + 1]);
                let psi = self.spiking.psi(v, self.threshold(a), prev.refractory[j]);
                // Eq. (A4): [[α, 0], [ψ^{t-1}, ρ − βψ^{t-1}]]
                DMatrix::from_row_slice(2, 2, &[alpha, T::zero(), psi, rho - beta * psi])
            })
            .collect();
        let mut m_z = DMatrix::zeros(2 * n, n); // the a-rows stay 0: adaptation is in D
        let mut i = vec![DMatrix::zeros(2, p_loc); n];
        membrane_jacobians(&self.spiking, w, z_prev, x, 2, &mut m_z, &mut i); // Eqs. (L6), (L7)
        LocalJacobians { d, m_z, i }
    }

    fn output_jacobian<T: Scalar>(&self, state: &CellState<T>) -> DMatrix<T> {
        let n = state.refractory.len();
        let beta = T::c(self.beta);
        let mut m = DMatrix::zeros(n, 2);
        for j in 0..n {
            let (v, a) = (state.h[2 * j], state.h[2 * j + 1]);
            let psi = self.spiking.psi(v, self.threshold(a), state.refractory[j]);
            m[(j, 0)] = psi; // Eq. (A5): ∂z/∂v = ψ
            m[(j, 1)] = -beta * psi; //        ∂z/∂a = −βψ
        }
        m
    }

    fn input_jacobian<T: Scalar>(
        &self,
        w: &[DMatrix<T>],
        _prev: &CellState<T>,
        z_prev: &DVector<T>,
        x: &DVector<T>,
    ) -> DMatrix<T> {
        let zeta = T::c(self.spiking.zeta());
        // Eq. (C7): the v-rows are ζ W_in; the a-rows are 0 (the adaptation reads no input)
        DMatrix::from_fn(2 * z_prev.len(), x.len(), |r, i| {
            if r % 2 == 0 { zeta * w[0][(r / 2, i)] } else { T::zero() }
        })
    }
}
