//! Generic eligibility vectors and traces for any cell, from `D` and `I` alone, Eqs. (E1)–(E2)
//! of `docs/eprop.md`:
//! $$ \\varepsilon_j^t = D_{jj}^t \\varepsilon_j^{t-1} + I_j^t, \\qquad \\varepsilon_j^0 = 0, \\qquad
//!    e_j^t = \\frac{\\partial z_j^t}{\\partial h_j^t} \\varepsilon_j^t . $$
//! `ε_j^t` is `d × P_loc` (one column per local parameter of neuron `j`), `e_j^t` is `1 × P_loc`.

use credit_core::{CellModel, CellState, LocalJacobians, Network, Scalar};
use nalgebra::DMatrix;

/// Eligibility vectors of every neuron.
#[derive(Clone, Debug, PartialEq)]
pub struct Eligibility<T: Scalar> {
    /// `ε_j^t`, `N` blocks of `d × P_loc`.
    pub eps: Vec<DMatrix<T>>,
}

impl<T: Scalar> Eligibility<T> {
    /// `ε^0 = 0`.
    pub fn new(net: &Network) -> Self {
        Eligibility { eps: vec![DMatrix::zeros(net.d(), net.p_loc()); net.n] }
    }

    /// Eq. (E1) with the local Jacobians of step `t`.
    pub fn step(&mut self, jac: &LocalJacobians<T>) {
        for (j, eps) in self.eps.iter_mut().enumerate() {
            *eps = &jac.d[j] * &*eps + &jac.i[j]; // Eq. (E1)
        }
    }

    /// Eq. (E2): the traces `e^t` as an `N × P_loc` matrix (row `j` = `e_j^t`), given the cell
    /// state at `t`.
    pub fn traces(&self, net: &Network, state: &CellState<T>) -> DMatrix<T> {
        let z_h = net.cell.output_jacobian(state);
        let mut e = DMatrix::zeros(net.n, net.p_loc());
        for (j, eps) in self.eps.iter().enumerate() {
            let row = z_h.row(j) * eps; // Eq. (E2)
            e.row_mut(j).copy_from(&row);
        }
        e
    }
}
