//! LSTM without peepholes, Eqs. (M1)–(M6) of `docs/cells.md`, as used by Bellec et al. (2020)
//! for e-prop (authors' code `Figure_2_TIMIT/lstm_eprop_model.py`).
//!
//! For each gate `g ∈ {i, f, c, o}`:
//! $$ u_{g,j}^t = \\sum_i W^{in}_{g,ji} x_i^t + \\sum_i W^{rec}_{g,ji} z_i^{t-1} + b_{g,j}, $$
//! $$ i = \\sigma(u_i),\\; f = \\sigma(u_f),\\; \\tilde c = \\tanh(u_c),\\; o = \\sigma(u_o), \\qquad
//!    c_j^t = f_j^t c_j^{t-1} + i_j^t \\tilde c_j^t, \\qquad z_j^t = o_j^t \\tanh(c_j^t). $$
//!
//! The output gate depends on `z^{t-1}` and `x^t`, not on `h^{t-1}`; to keep the contract
//! `z^t = f(h^t)` the hidden state is `h_j = (c_j, o_j)` (`d = 2`). Its `o`-row of `D` is zero,
//! so output-gate weights get a trace without recursion, `e = ∂z/∂W_o` (Bellec et al., Methods).

use super::{CellModel, CellState, Edges, LocalJacobians, row_dot};
use crate::error::Result;
use crate::scalar::Scalar;
use nalgebra::{DMatrix, DVector};
use num_traits::Float;

/// LSTM cell. Tensors, per gate `g ∈ {i, f, c, o}` in that order: `w_in_g` (N×N_in),
/// `w_rec_g` (N×N, autapses allowed), `b_g` (N×1).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Lstm;

const NAMES: [&str; 12] = [
    "w_in_i", "w_rec_i", "b_i", "w_in_f", "w_rec_f", "b_f", "w_in_c", "w_rec_c", "b_c", "w_in_o", "w_rec_o",
    "b_o",
];

/// `σ(x)` through [`Scalar::linearize`]: value and slope `σ(1 − σ)` at the real part, no overflow.
pub fn sigmoid<T: Scalar>(x: T) -> T {
    let r = x.re();
    let one = <T::Primitive as num_traits::One>::one();
    let zero = <T::Primitive as num_traits::Zero>::zero();
    let s = if r >= zero { one / (one + Float::exp(-r)) } else { Float::exp(r) / (one + Float::exp(r)) };
    x.linearize(s, s * (one - s))
}

/// Gate values of neuron `j`: `(i, f, c̃, o)`.
struct Gates<T> {
    i: T,
    f: T,
    c: T,
    o: T,
}

impl Lstm {
    fn pre<T: Scalar>(&self, w: &[DMatrix<T>], gate: usize, z: &DVector<T>, x: &DVector<T>, j: usize) -> T {
        let k = 3 * gate;
        row_dot(&w[k], j, x, false) + row_dot(&w[k + 1], j, z, false) + w[k + 2][(j, 0)] // Eq. (M1)
    }

    fn gates<T: Scalar>(&self, w: &[DMatrix<T>], z: &DVector<T>, x: &DVector<T>, j: usize) -> Gates<T> {
        Gates {
            i: sigmoid(self.pre(w, 0, z, x, j)), // Eq. (M2)
            f: sigmoid(self.pre(w, 1, z, x, j)),
            c: self.pre(w, 2, z, x, j).stable_tanh(),
            o: sigmoid(self.pre(w, 3, z, x, j)),
        }
    }
}

impl CellModel for Lstm {
    fn id(&self) -> &'static str {
        "lstm"
    }
    fn state_dim(&self) -> usize {
        2
    }
    fn is_spiking(&self) -> bool {
        false
    }
    fn allows_autapses(&self) -> bool {
        true
    }
    fn tensor_names(&self) -> &'static [&'static str] {
        &NAMES
    }
    fn tensor_cols(&self, n_in: usize, n: usize) -> Vec<usize> {
        [n_in, n, 1].repeat(4)
    }
    fn validate(&self) -> Result<()> {
        Ok(())
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
        let zr = z_prev.map(|z| edges.recurrent(z));
        let mut h = DVector::zeros(2 * n);
        for j in 0..n {
            let g = self.gates(w, &zr, x, j);
            h[2 * j] = g.f * prev.h[2 * j] + g.i * g.c; // Eq. (M3)
            h[2 * j + 1] = g.o; // the output gate, stored as a state component
        }
        CellState { h, refractory: Vec::new() }
    }

    fn output<T: Scalar>(&self, state: &CellState<T>) -> DVector<T> {
        let n = state.h.len() / 2;
        DVector::from_fn(n, |j, _| state.h[2 * j + 1] * state.h[2 * j].stable_tanh()) // Eq. (M4)
    }

    fn jacobians<T: Scalar>(
        &self,
        w: &[DMatrix<T>],
        prev: &CellState<T>,
        z_prev: &DVector<T>,
        x: &DVector<T>,
    ) -> LocalJacobians<T> {
        let n = z_prev.len();
        let n_in = x.len();
        let width = n_in + n + 1;
        let one = T::one();
        let mut d = Vec::with_capacity(n);
        let mut m_z = DMatrix::zeros(2 * n, n);
        let mut i_blocks = Vec::with_capacity(n);
        for j in 0..n {
            let g = self.gates(w, z_prev, x, j);
            let c_prev = prev.h[2 * j];
            // ∂c/∂u_g and ∂o/∂u_o, Eq. (M5)
            let dc = [g.c * g.i * (one - g.i), c_prev * g.f * (one - g.f), g.i * (one - g.c * g.c)];
            let do_ = g.o * (one - g.o);
            d.push(DMatrix::from_row_slice(2, 2, &[g.f, T::zero(), T::zero(), T::zero()])); // Eq. (M5): D
            for k in 0..n {
                m_z[(2 * j, k)] = dc[0] * w[1][(j, k)] + dc[1] * w[4][(j, k)] + dc[2] * w[7][(j, k)];
                m_z[(2 * j + 1, k)] = do_ * w[10][(j, k)];
            }
            // Eq. (M6): I_j, gate blocks [x^t | z^{t-1} | 1] scaled by ∂c/∂u_g (c-row) or ∂o/∂u_o (o-row)
            let mut ib = DMatrix::zeros(2, 4 * width);
            let mut fill = |row: usize, gate: usize, s: T| {
                let off = gate * width;
                for i in 0..n_in {
                    ib[(row, off + i)] = s * x[i];
                }
                for i in 0..n {
                    ib[(row, off + n_in + i)] = s * z_prev[i];
                }
                ib[(row, off + n_in + n)] = s;
            };
            for (gate, &s) in dc.iter().enumerate() {
                fill(0, gate, s);
            }
            fill(1, 3, do_);
            i_blocks.push(ib);
        }
        LocalJacobians { d, m_z, i: i_blocks }
    }

    fn output_jacobian<T: Scalar>(&self, state: &CellState<T>) -> DMatrix<T> {
        let n = state.h.len() / 2;
        let mut m = DMatrix::zeros(n, 2);
        for j in 0..n {
            let (c, o) = (state.h[2 * j], state.h[2 * j + 1]);
            let t = c.stable_tanh();
            m[(j, 0)] = o * (T::one() - t * t); // Eq. (M4): ∂z/∂c = o·tanh'(c)
            m[(j, 1)] = t; //                          ∂z/∂o = tanh(c)
        }
        m
    }

    fn input_jacobian<T: Scalar>(
        &self,
        w: &[DMatrix<T>],
        prev: &CellState<T>,
        z_prev: &DVector<T>,
        x: &DVector<T>,
    ) -> DMatrix<T> {
        let n = z_prev.len();
        let one = T::one();
        let mut m = DMatrix::zeros(2 * n, x.len());
        for j in 0..n {
            let g = self.gates(w, z_prev, x, j);
            let c_prev = prev.h[2 * j];
            let dc = [g.c * g.i * (one - g.i), c_prev * g.f * (one - g.f), g.i * (one - g.c * g.c)];
            let do_ = g.o * (one - g.o);
            for i in 0..x.len() {
                // Eq. (C7): Σ_g ∂c/∂u_g W_in_g[j, i]; ∂o/∂u_o W_in_o[j, i]
                m[(2 * j, i)] = dc[0] * w[0][(j, i)] + dc[1] * w[3][(j, i)] + dc[2] * w[6][(j, i)];
                m[(2 * j + 1, i)] = do_ * w[9][(j, i)];
            }
        }
        m
    }
}
