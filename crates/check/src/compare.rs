//! The error measure and the liveness guards.

use credit_core::{Cell, CellModel, CellState, ForwardOptions, Network, Params, Sequence, Tensor, forward};
use nalgebra::{DMatrix, DVector};
use serde::Serialize;

/// `max_i |a_i − b_i| / max_i |b_i|`: the largest difference in a tensor, relative to the
/// reference tensor's largest entry (Bellec et al.'s "normalised by the max"). It does not blow
/// up on entries that are near zero by cancellation. A zero reference gives 0 when `a` is also
/// zero and infinity otherwise; any non-finite entry (in either tensor) gives infinity.
pub fn max_rel_err(a: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    assert_eq!(a.shape(), b.shape(), "compared tensors must have the same shape");
    // NaN-propagating: `f64::max` and nalgebra's `amax` silently skip NaN, so check first
    if a.iter().chain(b.iter()).any(|x| !x.is_finite()) {
        return f64::INFINITY;
    }
    let diff = a.iter().zip(b.iter()).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
    let scale = b.iter().map(|x| x.abs()).fold(0.0, f64::max);
    if scale == 0.0 {
        return if diff == 0.0 { 0.0 } else { f64::INFINITY };
    }
    diff / scale
}

/// The measure of a `differ` row over a set of tensors: the largest [`max_rel_err`] of `a`
/// against `b`, the name of the tensor that has it, and whether every reference tensor in `b`
/// is [`alive`].
pub fn worst_tensor(a: &[Tensor<f64>], b: &[Tensor<f64>]) -> (f64, &'static str, bool) {
    let (mut worst, mut name, mut all_alive) = (0.0f64, "", true);
    for (ta, tb) in a.iter().zip(b) {
        let err = max_rel_err(&ta.value, &tb.value);
        all_alive &= alive(&tb.value);
        if err > worst || name.is_empty() {
            (worst, name) = (err, ta.name);
        }
    }
    (worst, name, all_alive)
}

/// True when every entry is finite and at least one is non-zero: a reference tensor that can
/// witness something.
pub fn alive(m: &DMatrix<f64>) -> bool {
    m.iter().all(|x| x.is_finite()) && m.iter().any(|&x| x != 0.0)
}

/// Evidence that a config exercises something: spikes were emitted, the surrogate was non-zero
/// somewhere, and the gradient is not negligible. A silent spiking net makes every gradient
/// relation hold trivially; these numbers are printed next to each row and checked.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Liveness {
    /// Whether the cell spikes.
    pub spiking: bool,
    /// Spikes emitted over the sequence (0 for the rate cell).
    pub spikes: usize,
    /// Number of `(t, j)` with `∂z_j^t/∂h_j^t ≠ 0`.
    pub active_derivatives: usize,
    /// Number of `(t, j)` in total.
    pub outputs: usize,
    /// Euclidean norm of the reference gradient over all tensors.
    pub grad_norm: f64,
}

impl Liveness {
    /// Measures a config.
    pub fn measure(
        net: &Network,
        params: &Params<f64>,
        seq: &Sequence,
        grad: &Params<f64>,
    ) -> credit_core::Result<Self> {
        let traj = forward(net, params, seq, ForwardOptions::default())?;
        Ok(Liveness::of_run(&net.cell, &traj.states, &traj.z, grad))
    }

    /// The evidence of one run of `cell`: its states and outputs `t = 0..=T` (entry 0, the
    /// initial value, is not counted) and the gradient computed on it.
    pub fn of_run(cell: &Cell, states: &[CellState<f64>], z: &[DVector<f64>], grad: &Params<f64>) -> Self {
        let mut active = 0;
        for s in &states[1..] {
            let zh = cell.output_jacobian(s);
            active += zh.row_iter().filter(|row| row.iter().any(|v| *v != 0.0)).count();
        }
        let grad_norm = grad.tensors.iter().map(|t| t.value.norm_squared()).sum::<f64>().sqrt();
        let spiking = cell.is_spiking();
        let spikes =
            if spiking { z[1..].iter().map(|zt| zt.iter().filter(|v| **v > 0.5).count()).sum() } else { 0 };
        let outputs = z[1..].iter().map(|zt| zt.len()).sum();
        Liveness { spiking, spikes, active_derivatives: active, outputs, grad_norm }
    }

    /// The guard: spiking cells must spike and have a non-zero surrogate somewhere; every cell
    /// must have a gradient of norm > 1e-8 and derivatives that are not all zero.
    pub fn ok(&self, net: &Network) -> bool {
        self.ok_for(&net.cell)
    }

    /// [`Liveness::ok`] for a run of `cell`.
    pub fn ok_for(&self, cell: &Cell) -> bool {
        let spiking_ok = !cell.is_spiking() || (self.spikes > 0 && self.spikes < self.outputs);
        spiking_ok && self.active_derivatives > 0 && self.grad_norm > 1e-8
    }

    /// Short text for the table: `spikes=…/… ψ≠0=… |g|=…`.
    pub fn describe(&self) -> String {
        let spikes =
            if self.spiking { format!("spikes={}/{} ", self.spikes, self.outputs) } else { String::new() };
        format!("{spikes}dz/dh≠0={}/{} |g|={:.2e}", self.active_derivatives, self.outputs, self.grad_norm)
    }
}
