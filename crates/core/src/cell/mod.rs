//! Recurrent cells in the shared notation of `docs/notation.md`.
//!
//! A cell with `N` neurons of hidden dimension `d` advances by Eq. (C1) of `docs/cells.md`,
//! $$ h^t = M(h^{t-1}, z^{t-1}, x^t; \\theta), \\qquad z^t = f(h^t), $$
//! where `z^{t-1}` enters `M` only through the **explicit** edges (recurrent input and the
//! reset), while every neuron-local dependence on its own previous state, including the ALIF
//! adaptation driven by the neuron's own spike, is computed inside `M` from `h^{t-1}`. This is
//! the D/R partition of Bellec et al. (2020) that makes the e-prop factorisation exact:
//!
//! * `D^t = ∂M/∂h^{t-1}` (Eq. C2), block-diagonal with `N` blocks of `d×d`;
//! * `∂M/∂z^{t-1}` (Eq. C3), dense `(N·d)×N`, so that `R^t = ∂M/∂z^{t-1} · ∂z^{t-1}/∂h^{t-1}` (Eq. C4);
//! * `∂z^t/∂h^t` (Eq. C5), one `1×d` row per neuron;
//! * `I^t = ∂M/∂θ` (Eq. C6), one `d×P_loc` block per neuron over its own parameters.
//!
//! The state vector is laid out neuron-major: component `c` of neuron `j` sits at `j·d + c`.
//! Neuron `j`'s local parameters are row `j` of every cell tensor, concatenated in the order of
//! [`CellModel::tensor_names`].
//!
//! One public module per cell, each with its equations in its documentation: [`rate`]
//! (Eqs. R1–R6), [`lif`] (L1–L8), [`alif`] (A1–A6), [`lstm`] (M1–M6), and [`spike`] (L2–L4:
//! what LIF and ALIF share). Their types are re-exported here.

pub mod alif;
pub mod lif;
pub mod lstm;
pub mod rate;
pub mod spike;

pub use alif::Alif;
pub use lif::Lif;
pub use lstm::{Lstm, sigmoid};
pub use rate::Rate;
pub use spike::{InputScale, RefractoryPsi, Reset, Spiking, Surrogate};

use crate::error::Result;
use crate::scalar::Scalar;
use nalgebra::{DMatrix, DVector};

/// The state of a cell after a step: the differentiable hidden state `h^t` (length `N·d`) and
/// the refractory counters (non-differentiable bookkeeping, empty for the rate cell).
#[derive(Clone, Debug, PartialEq)]
pub struct CellState<T: Scalar> {
    /// `h^t`, neuron-major, length `N·d`.
    pub h: DVector<T>,
    /// Steps of refractoriness left at time `t`, one per neuron (spiking cells only).
    pub refractory: Vec<u32>,
}

impl<T: Scalar> CellState<T> {
    /// `h^0 = 0`, nobody refractory.
    pub fn zeros(n: usize, d: usize, spiking: bool) -> Self {
        CellState { h: DVector::zeros(n * d), refractory: if spiking { vec![0; n] } else { Vec::new() } }
    }
}

/// Edges of the computational graph that a forward pass may detach (stop-gradient).
///
/// The hand-derived Jacobians describe the graph with every edge live (apart from the cell's
/// own [`Reset`] convention); the oracle detaches edges to build the targets of approximate
/// rules (e.g. e-prop's, property P4 of the design notes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Detach {
    /// `z^{t-1}` feeding the recurrent input `W_rec z^{t-1}`.
    pub recurrent: bool,
    /// `z_j^{t-1}` feeding neuron j's own reset `−v_th z_j^{t-1}` (spiking cells).
    pub reset: bool,
    /// The neuron's own spike driving its adaptation `a^t = ρ a^{t-1} + z^{t-1}` (ALIF).
    pub adaptation: bool,
}

/// How a forward pass treats the **explicit** edges (`z^{t-1}` into the recurrent input and into
/// the reset) and the adaptation edge: live, detached ([`Detach`]), or passed through a map.
///
/// The map serves the hop-graded forward pass of the m-order family (`docs/family.md`): a
/// tangent that is a polynomial in a formal `λ` is multiplied by `λ` on every explicit edge.
/// With no map and nothing detached (the default) every edge is live.
#[derive(Clone, Copy)]
pub struct Edges<'a, T> {
    /// Edges cut by a stop-gradient.
    pub detach: Detach,
    /// A map applied to `z^{t-1}` on every explicit edge that is not detached.
    pub explicit: Option<&'a (dyn Fn(T) -> T + Sync)>,
}

impl<T> Default for Edges<'_, T> {
    fn default() -> Self {
        Edges { detach: Detach::default(), explicit: None }
    }
}

impl<T> std::fmt::Debug for Edges<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Edges")
            .field("detach", &self.detach)
            .field("explicit", &self.explicit.is_some())
            .finish()
    }
}

impl<T: Scalar> Edges<'_, T> {
    /// Only the given edges detached, no map.
    pub fn detached(detach: Detach) -> Self {
        Edges { detach, explicit: None }
    }

    fn explicit_edge(&self, z: T, cut: bool) -> T {
        if cut {
            z.detach()
        } else if let Some(f) = self.explicit {
            f(z)
        } else {
            z
        }
    }

    /// `z_i^{t-1}` as seen by the recurrent input.
    pub fn recurrent(&self, z: T) -> T {
        self.explicit_edge(z, self.detach.recurrent)
    }

    /// `z_j^{t-1}` as seen by neuron `j`'s reset.
    pub fn reset(&self, z: T) -> T {
        self.explicit_edge(z, self.detach.reset)
    }

    /// The neuron's own spike as seen by its adaptation (a neuron-local edge: never mapped).
    pub fn adaptation(&self, z: T) -> T {
        if self.detach.adaptation { z.detach() } else { z }
    }
}

/// Hand-derived local derivatives of one step `t` (Eqs. C2, C3, C6 of `docs/cells.md`).
#[derive(Clone, Debug, PartialEq)]
pub struct LocalJacobians<T: Scalar> {
    /// `D_jj^t = ∂M_j/∂h_j^{t-1}`, `N` blocks of `d×d` (Eq. C2).
    pub d: Vec<DMatrix<T>>,
    /// `∂M/∂z^{t-1}`, `(N·d)×N` (Eq. C3).
    pub m_z: DMatrix<T>,
    /// `I_j^t = ∂M_j/∂θ_j`, `N` blocks of `d×P_loc` (Eq. C6).
    pub i: Vec<DMatrix<T>>,
}

impl<T: Scalar> LocalJacobians<T> {
    /// `D^t` as a dense `(N·d)×(N·d)` matrix (zero off the diagonal blocks).
    pub fn dense_d(&self) -> DMatrix<T> {
        let d = self.d.first().map_or(0, |b| b.nrows());
        let n = self.d.len();
        let mut m = DMatrix::zeros(n * d, n * d);
        for (j, b) in self.d.iter().enumerate() {
            m.view_mut((j * d, j * d), (d, d)).copy_from(b);
        }
        m
    }

    /// `I^t` as a dense `(N·d)×P_cell` matrix over the flat cell parameters (see
    /// [`crate::Network::flat_index_of_local`]).
    pub fn dense_i(&self, net: &crate::Network) -> DMatrix<T> {
        let d = net.d();
        let mut m = DMatrix::zeros(net.n * d, net.p_cell());
        for (j, b) in self.i.iter().enumerate() {
            for q in 0..b.ncols() {
                let col = net.flat_index_of_local(j, q);
                for c in 0..d {
                    m[(j * d + c, col)] = b[(c, q)];
                }
            }
        }
        m
    }
}

impl<T: Scalar> LocalJacobians<T> {
    /// `D^t · S` for a sensitivity `S` with `N·d` neuron-major rows (Eq. C2 applied block by
    /// block): the implicit propagation shared by RTRL, the m-order family, deep e-prop and OSTL.
    pub fn d_times(&self, s: &DMatrix<T>) -> DMatrix<T> {
        let d = self.d.first().map_or(0, |b| b.nrows());
        let mut out = DMatrix::zeros(s.nrows(), s.ncols());
        for (j, dj) in self.d.iter().enumerate() {
            out.rows_mut(j * d, d).copy_from(&(dj * s.rows(j * d, d)));
        }
        out
    }

    /// `S += I^t`, neuron `j`'s local parameter `q` landing in column `col(j, q)` (Eq. C6).
    pub fn add_immediate(&self, s: &mut DMatrix<T>, col: impl Fn(usize, usize) -> usize) {
        add_local_blocks(&self.i, s, col);
    }
}

/// Adds per-neuron `d × P_loc` blocks (as `I^t` or eligibility vectors) into a matrix with
/// `N·d` neuron-major rows, neuron `j`'s column `q` landing in column `col(j, q)`.
pub fn add_local_blocks<T: Scalar>(
    blocks: &[DMatrix<T>],
    s: &mut DMatrix<T>,
    col: impl Fn(usize, usize) -> usize,
) {
    for (j, b) in blocks.iter().enumerate() {
        let d = b.nrows();
        for q in 0..b.ncols() {
            let k = col(j, q);
            for c in 0..d {
                s[(j * d + c, k)] += b[(c, q)];
            }
        }
    }
}

/// `(∂z^t/∂h^t) · S` (Eq. C5 applied to a sensitivity): row `j` is `Σ_c rows[j, c] S[j·d + c, ·]`,
/// with `rows` the `N×d` output Jacobian of [`CellModel::output_jacobian`].
pub fn output_times<T: Scalar>(rows: &DMatrix<T>, s: &DMatrix<T>) -> DMatrix<T> {
    let (n, d) = rows.shape();
    let mut out = DMatrix::zeros(n, s.ncols());
    for j in 0..n {
        for c in 0..d {
            let contrib = s.row(j * d + c) * rows[(j, c)];
            let mut r = out.row_mut(j);
            r += contrib;
        }
    }
    out
}

/// `∂z^t/∂h^t` rows (N×d, from [`CellModel::output_jacobian`]) as a dense `N×(N·d)` matrix.
pub fn dense_output_jacobian<T: Scalar>(rows: &DMatrix<T>) -> DMatrix<T> {
    let (n, d) = rows.shape();
    let mut m = DMatrix::zeros(n, n * d);
    for j in 0..n {
        for c in 0..d {
            m[(j, j * d + c)] = rows[(j, c)];
        }
    }
    m
}

/// The contract every cell implements. Generic methods keep one code path for every scalar.
pub trait CellModel {
    /// Cell id used in every report: `rate`, `lif`, `alif`, `lstm`.
    fn id(&self) -> &'static str;
    /// Hidden dimension `d` per neuron.
    fn state_dim(&self) -> usize;
    /// Whether the cell emits spikes (and so has refractory counters and a surrogate derivative).
    fn is_spiking(&self) -> bool;
    /// Whether `W_rec` may have a non-zero diagonal (autapses).
    fn allows_autapses(&self) -> bool;
    /// Names of the per-neuron parameter tensors; row `j` belongs to neuron `j`.
    fn tensor_names(&self) -> &'static [&'static str];
    /// Column counts of those tensors for `n_in` inputs and `n` neurons.
    fn tensor_cols(&self, n_in: usize, n: usize) -> Vec<usize>;
    /// Checks the hyper-parameters.
    fn validate(&self) -> Result<()>;
    /// One step of Eq. (C1): `(h^t, refractory^t)` from `(h^{t-1}, refractory^{t-1})`,
    /// `z^{t-1}` and `x^t`, with the edges treated as `edges` says.
    fn step<T: Scalar>(
        &self,
        w: &[DMatrix<T>],
        prev: &CellState<T>,
        z_prev: &DVector<T>,
        x: &DVector<T>,
        edges: &Edges<'_, T>,
    ) -> CellState<T>;
    /// The output `z^t = f(h^t)` (Eq. C1, right).
    fn output<T: Scalar>(&self, state: &CellState<T>) -> DVector<T>;
    /// Hand-derived `D^t`, `∂M/∂z^{t-1}` and `I^t` at the step that leaves `prev`.
    fn jacobians<T: Scalar>(
        &self,
        w: &[DMatrix<T>],
        prev: &CellState<T>,
        z_prev: &DVector<T>,
        x: &DVector<T>,
    ) -> LocalJacobians<T>;
    /// Hand-derived `∂z^t/∂h^t` (Eq. C5): row `j` holds the `d` entries of neuron `j`.
    fn output_jacobian<T: Scalar>(&self, state: &CellState<T>) -> DMatrix<T>;
    /// Hand-derived `∂M^t/∂x^t`, `(N·d)×N_in` (Eq. C7): how the step responds to its input —
    /// in a stack, to the layer below (the depth Jacobian `Φ` of `docs/deep.md`).
    fn input_jacobian<T: Scalar>(
        &self,
        w: &[DMatrix<T>],
        prev: &CellState<T>,
        z_prev: &DVector<T>,
        x: &DVector<T>,
    ) -> DMatrix<T>;
}

/// The cells of the workspace. Enum dispatch keeps every method generic over the scalar.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    /// Leaky rate RNN with `tanh` ([`Rate`]).
    Rate(Rate),
    /// Leaky integrate-and-fire ([`Lif`]).
    Lif(Lif),
    /// Adaptive LIF ([`Alif`]).
    Alif(Alif),
    /// LSTM without peepholes ([`Lstm`]).
    Lstm(Lstm),
}

macro_rules! dispatch {
    ($self:ident, $c:ident => $e:expr) => {
        match $self {
            Cell::Rate($c) => $e,
            Cell::Lif($c) => $e,
            Cell::Alif($c) => $e,
            Cell::Lstm($c) => $e,
        }
    };
}

impl CellModel for Cell {
    fn id(&self) -> &'static str {
        dispatch!(self, c => c.id())
    }
    fn state_dim(&self) -> usize {
        dispatch!(self, c => c.state_dim())
    }
    fn is_spiking(&self) -> bool {
        dispatch!(self, c => c.is_spiking())
    }
    fn allows_autapses(&self) -> bool {
        dispatch!(self, c => c.allows_autapses())
    }
    fn tensor_names(&self) -> &'static [&'static str] {
        dispatch!(self, c => c.tensor_names())
    }
    fn tensor_cols(&self, n_in: usize, n: usize) -> Vec<usize> {
        dispatch!(self, c => c.tensor_cols(n_in, n))
    }
    fn validate(&self) -> Result<()> {
        dispatch!(self, c => c.validate())
    }
    fn step<T: Scalar>(
        &self,
        w: &[DMatrix<T>],
        prev: &CellState<T>,
        z_prev: &DVector<T>,
        x: &DVector<T>,
        edges: &Edges<'_, T>,
    ) -> CellState<T> {
        dispatch!(self, c => c.step(w, prev, z_prev, x, edges))
    }
    fn output<T: Scalar>(&self, state: &CellState<T>) -> DVector<T> {
        dispatch!(self, c => c.output(state))
    }
    fn jacobians<T: Scalar>(
        &self,
        w: &[DMatrix<T>],
        prev: &CellState<T>,
        z_prev: &DVector<T>,
        x: &DVector<T>,
    ) -> LocalJacobians<T> {
        dispatch!(self, c => c.jacobians(w, prev, z_prev, x))
    }
    fn output_jacobian<T: Scalar>(&self, state: &CellState<T>) -> DMatrix<T> {
        dispatch!(self, c => c.output_jacobian(state))
    }
    fn input_jacobian<T: Scalar>(
        &self,
        w: &[DMatrix<T>],
        prev: &CellState<T>,
        z_prev: &DVector<T>,
        x: &DVector<T>,
    ) -> DMatrix<T> {
        dispatch!(self, c => c.input_jacobian(w, prev, z_prev, x))
    }
}

/// `Σ_i W[j,i] v_i` over `i ≠ j` when `skip_diag`, else over all `i`.
pub(crate) fn row_dot<T: Scalar>(w: &DMatrix<T>, j: usize, v: &DVector<T>, skip_diag: bool) -> T {
    let mut s = T::zero();
    for i in 0..v.len() {
        if skip_diag && i == j {
            continue;
        }
        s += w[(j, i)] * v[i];
    }
    s
}
