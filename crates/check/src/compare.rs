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

/// Least fraction of the `(t, j)` pairs with `∂z_j^t/∂h_j^t ≠ 0` in a live run (each layer of a
/// stack): one active pair, or a handful, is not a test of the surrogate.
pub const MIN_ACTIVE_FRACTION: f64 = 0.1;
/// Least fraction of the entries of every non-readout gradient tensor that must be non-zero
/// (structural zeros excepted, [`structural_zero`]): a tensor with a dead half is half untested.
pub const MIN_LIVE_ENTRIES: f64 = 0.5;
/// Least Euclidean norm of the non-readout gradient.
pub const MIN_GRAD_NORM: f64 = 1e-8;

/// Whether entry `(i, j)` of the gradient tensor `name` of `cell` is zero by construction, and
/// why: the diagonal of `w_rec` (`l<k>.w_rec` in a stack) of a cell without autapses, which the
/// forward pass never reads.
pub fn structural_zero(cell: &Cell, name: &str, i: usize, j: usize) -> Option<&'static str> {
    let w_rec = name == "w_rec" || name.ends_with(".w_rec");
    (w_rec && i == j && !cell.allows_autapses()).then_some("no autapses: the diagonal of w_rec is not read")
}

/// Evidence that a config exercises something: spikes were emitted (and not everywhere), the
/// surrogate (or `∂z/∂h` of a smooth cell) is non-zero on at least [`MIN_ACTIVE_FRACTION`] of
/// the `(t, j)`, and every non-readout gradient tensor is non-zero in at least
/// [`MIN_LIVE_ENTRIES`] of its entries. A silent spiking net makes every gradient relation hold
/// trivially; these numbers are printed next to each row and checked ([`Liveness::verdict`]).
/// For a stack, the counts are summed over layers and the sparsest tensor is the sparsest of
/// any layer; each layer is judged on its own.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Liveness {
    /// Whether the cell spikes.
    pub spiking: bool,
    /// Spikes emitted over the sequence (0 for smooth cells).
    pub spikes: usize,
    /// Number of `(t, j)` with `∂z_j^t/∂h_j^t ≠ 0`.
    pub active_derivatives: usize,
    /// Number of `(t, j)` in total.
    pub outputs: usize,
    /// Euclidean norm of the reference gradient over the non-readout tensors.
    pub grad_norm: f64,
    /// The non-readout gradient tensor with the smallest fraction of non-zero entries.
    pub sparsest: &'static str,
    /// Its non-zero entries (structural zeros not counted).
    pub sparsest_nonzero: usize,
    /// Its entries that can be non-zero (structural zeros excepted).
    pub sparsest_entries: usize,
}

impl Liveness {
    /// Measures a config: its trajectory and the cell tensors of `grad` (the readout tensors
    /// `w_out`, `b_out` are left out).
    pub fn measure(
        net: &Network,
        params: &Params<f64>,
        seq: &Sequence,
        grad: &Params<f64>,
    ) -> credit_core::Result<Self> {
        let traj = forward(net, params, seq, ForwardOptions::default())?;
        let cell_tensors = &grad.tensors[..net.n_cell_tensors()];
        Ok(Liveness::of_run(&net.cell, &traj.states, &traj.z, cell_tensors))
    }

    /// The evidence of one run of `cell`: its states and outputs `t = 0..=T` (entry 0, the
    /// initial value, is not counted) and the gradient tensors of this cell's parameters
    /// computed on it (no readout tensors).
    pub fn of_run(cell: &Cell, states: &[CellState<f64>], z: &[DVector<f64>], grad: &[Tensor<f64>]) -> Self {
        let mut active = 0;
        for s in &states[1..] {
            let zh = cell.output_jacobian(s);
            active += zh.row_iter().filter(|row| row.iter().any(|v| *v != 0.0)).count();
        }
        let grad_norm = grad.iter().map(|t| t.value.norm_squared()).sum::<f64>().sqrt();
        let spiking = cell.is_spiking();
        let spikes =
            if spiking { z[1..].iter().map(|zt| zt.iter().filter(|v| **v > 0.5).count()).sum() } else { 0 };
        let outputs = z[1..].iter().map(|zt| zt.len()).sum();
        let mut l = Liveness {
            spiking,
            spikes,
            active_derivatives: active,
            outputs,
            grad_norm,
            sparsest: "",
            sparsest_nonzero: 0,
            sparsest_entries: 0,
        };
        for t in grad {
            let (mut nonzero, mut entries) = (0, 0);
            for i in 0..t.value.nrows() {
                for j in 0..t.value.ncols() {
                    if structural_zero(cell, t.name, i, j).is_none() {
                        entries += 1;
                        nonzero += usize::from(t.value[(i, j)] != 0.0);
                    }
                }
            }
            l.keep_sparser(t.name, nonzero, entries);
        }
        l
    }

    /// Keeps `(name, nonzero, entries)` as the sparsest tensor if its fraction is smaller.
    pub(crate) fn keep_sparser(&mut self, name: &'static str, nonzero: usize, entries: usize) {
        // a/b < c/d ⇔ a·d < c·b (entries > 0); an empty record is replaced
        if self.sparsest.is_empty() || nonzero * self.sparsest_entries < self.sparsest_nonzero * entries {
            (self.sparsest, self.sparsest_nonzero, self.sparsest_entries) = (name, nonzero, entries);
        }
    }

    /// Adds the counts of another layer of the same stack (sums; the sparsest of both; the norm
    /// of both).
    pub fn add_layer(&mut self, other: &Liveness) {
        self.spiking |= other.spiking;
        self.spikes += other.spikes;
        self.active_derivatives += other.active_derivatives;
        self.outputs += other.outputs;
        self.grad_norm = self.grad_norm.hypot(other.grad_norm);
        if !other.sparsest.is_empty() {
            self.keep_sparser(other.sparsest, other.sparsest_nonzero, other.sparsest_entries);
        }
    }

    /// The guard, with the reason of a failure: a spiking cell must spike, and not at every
    /// `(t, j)`; `∂z/∂h ≠ 0` on at least [`MIN_ACTIVE_FRACTION`] of the `(t, j)`; the
    /// non-readout gradient must have a norm above [`MIN_GRAD_NORM`] and every one of its
    /// tensors non-zero entries on at least [`MIN_LIVE_ENTRIES`] of the entries that are not
    /// structurally zero.
    pub fn verdict(&self, cell: &Cell) -> Result<(), String> {
        self.verdict_for(cell.is_spiking())
    }

    /// [`Liveness::verdict`] for a run whose units spike (`spiking`) or not: the same checks
    /// without a cell (feedforward networks are smooth or ReLU, never spiking).
    pub fn verdict_for(&self, spiking: bool) -> Result<(), String> {
        if spiking && self.spikes == 0 {
            return Err("not live: no spikes".into());
        }
        if spiking && self.spikes >= self.outputs {
            return Err("not live: a spike at every (t, j)".into());
        }
        if (self.active_derivatives as f64) < MIN_ACTIVE_FRACTION * self.outputs as f64 {
            return Err(format!(
                "not live: dz/dh≠0 at {}/{} (t, j), fewer than {} %",
                self.active_derivatives,
                self.outputs,
                MIN_ACTIVE_FRACTION * 100.0
            ));
        }
        if self.grad_norm.is_nan() || self.grad_norm <= MIN_GRAD_NORM {
            return Err(format!("not live: |g| = {:.1e} over the cell tensors", self.grad_norm));
        }
        if (self.sparsest_nonzero as f64) < MIN_LIVE_ENTRIES * self.sparsest_entries as f64 {
            return Err(format!(
                "not live: dE/d{} non-zero in {}/{} entries, fewer than {} %",
                self.sparsest,
                self.sparsest_nonzero,
                self.sparsest_entries,
                MIN_LIVE_ENTRIES * 100.0
            ));
        }
        Ok(())
    }

    /// [`Liveness::verdict`] on a network's cell, as a bool.
    pub fn ok(&self, net: &Network) -> bool {
        self.verdict(&net.cell).is_ok()
    }

    /// [`Liveness::verdict`] for a run of `cell`, as a bool.
    pub fn ok_for(&self, cell: &Cell) -> bool {
        self.verdict(cell).is_ok()
    }

    /// Short text for the table: `spikes=…/… dz/dh≠0=…/… |g|=… sparsest=name k/n`.
    pub fn describe(&self) -> String {
        let spikes =
            if self.spiking { format!("spikes={}/{} ", self.spikes, self.outputs) } else { String::new() };
        format!(
            "{spikes}dz/dh≠0={}/{} |g|={:.2e} {}≠0={}/{}",
            self.active_derivatives,
            self.outputs,
            self.grad_norm,
            self.sparsest,
            self.sparsest_nonzero,
            self.sparsest_entries
        )
    }
}
