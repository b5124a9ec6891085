//! A single recurrent layer with a leaky readout: parameters, sequences and the forward pass.
//!
//! The forward pass here is **the** forward code of the workspace: the algorithms replay it
//! (and store what they need), and the dual-number oracle pushes dual numbers through it,
//! optionally with edges detached or a tap added to one output `z_j^t`.

use crate::cell::{Cell, CellModel, CellState, Detach, Edges};
use crate::error::{Error, Result, check_positive_size};
use crate::readout::{Loss, RateReg, Readout};
use crate::scalar::Scalar;
use nalgebra::{DMatrix, DVector};

/// Architecture and conventions: cell, sizes, readout and loss.
#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    /// The recurrent cell.
    pub cell: Cell,
    /// Number of inputs `N_in`.
    pub n_in: usize,
    /// Number of neurons `N`.
    pub n: usize,
    /// Number of readout units `K`.
    pub n_out: usize,
    /// The leaky readout.
    pub readout: Readout,
    /// The per-step loss.
    pub loss: Loss,
    /// Optional firing-rate regularisation added to the loss (Eq. Y5).
    pub reg: Option<RateReg>,
}

impl Network {
    /// Builds and validates a network.
    pub fn new(
        cell: Cell,
        n_in: usize,
        n: usize,
        n_out: usize,
        readout: Readout,
        loss: Loss,
    ) -> Result<Self> {
        let net = Network { cell, n_in, n, n_out, readout, loss, reg: None };
        net.validate()?;
        Ok(net)
    }

    /// Checks sizes and hyper-parameters.
    pub fn validate(&self) -> Result<()> {
        check_positive_size("network.n_in", self.n_in)?;
        check_positive_size("network.n", self.n)?;
        check_positive_size("network.n_out", self.n_out)?;
        self.cell.validate()?;
        if let Some(r) = &self.reg {
            r.validate()?;
        }
        self.readout.validate()
    }

    /// The same network with firing-rate regularisation (validated).
    pub fn with_reg(mut self, reg: RateReg) -> Result<Self> {
        self.reg = Some(reg);
        self.validate()?;
        Ok(self)
    }

    /// Hidden dimension `d`.
    pub fn d(&self) -> usize {
        self.cell.state_dim()
    }

    /// Names and shapes of every parameter tensor: the cell's, then `w_out`, `b_out`.
    pub fn tensor_shapes(&self) -> Vec<(&'static str, usize, usize)> {
        let mut v: Vec<_> = self
            .cell
            .tensor_names()
            .iter()
            .zip(self.cell.tensor_cols(self.n_in, self.n))
            .map(|(&name, c)| (name, self.n, c))
            .collect();
        v.push(("w_out", self.n_out, self.n));
        v.push(("b_out", self.n_out, 1));
        v
    }

    /// Number of local parameters per neuron, `P_loc`.
    pub fn p_loc(&self) -> usize {
        self.cell.tensor_cols(self.n_in, self.n).iter().sum()
    }

    /// Number of cell parameters `P_cell = N·P_loc` (the readout's come after them).
    pub fn p_cell(&self) -> usize {
        self.n * self.p_loc()
    }

    /// Global flat index (tensors in order, each row-major) of local parameter `q` of neuron
    /// `j`, where `q` runs over row `j` of every cell tensor, concatenated.
    pub fn flat_index_of_local(&self, j: usize, mut q: usize) -> usize {
        let mut base = 0;
        for c in self.cell.tensor_cols(self.n_in, self.n) {
            if q < c {
                return base + j * c + q;
            }
            q -= c;
            base += self.n * c;
        }
        base + q // past the cell tensors: not a local parameter
    }

    /// Number of cell tensors (the readout's two come after them).
    pub fn n_cell_tensors(&self) -> usize {
        self.cell.tensor_names().len()
    }
}

/// One named parameter (or gradient) tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor<T: Scalar> {
    /// Name, e.g. `w_rec`.
    pub name: &'static str,
    /// Value.
    pub value: DMatrix<T>,
}

/// Parameters, or gradients with the same layout: the cell tensors (rows indexed by neuron), then
/// `w_out` (K×N) and `b_out` (K×1).
#[derive(Clone, Debug, PartialEq)]
pub struct Params<T: Scalar> {
    /// The tensors in the order of [`Network::tensor_shapes`].
    pub tensors: Vec<Tensor<T>>,
}

impl<T: Scalar> Params<T> {
    /// All-zero tensors of the network's shapes.
    pub fn zeros(net: &Network) -> Self {
        Params {
            tensors: net
                .tensor_shapes()
                .into_iter()
                .map(|(name, r, c)| Tensor { name, value: DMatrix::zeros(r, c) })
                .collect(),
        }
    }

    /// Builds parameters from named `f64` matrices, validated against the network.
    pub fn from_tensors(net: &Network, tensors: Vec<(&'static str, DMatrix<f64>)>) -> Result<Self> {
        let p = Params {
            tensors: tensors.into_iter().map(|(name, m)| Tensor { name, value: m.map(T::c) }).collect(),
        };
        p.validate(net)?;
        Ok(p)
    }

    /// Checks names, shapes, finiteness and the zero diagonal of `w_rec` where autapses are
    /// not allowed.
    pub fn validate(&self, net: &Network) -> Result<()> {
        let shapes = net.tensor_shapes();
        if self.tensors.len() != shapes.len() {
            return Err(Error::Shape {
                field: "params".into(),
                expected: format!("{} tensors", shapes.len()),
                found: format!("{} tensors", self.tensors.len()),
            });
        }
        for (t, (name, r, c)) in self.tensors.iter().zip(shapes) {
            let field = format!("params.{name}");
            if t.name != name {
                return Err(Error::Shape {
                    field,
                    expected: format!("tensor `{name}`"),
                    found: format!("tensor `{}`", t.name),
                });
            }
            if t.value.shape() != (r, c) {
                return Err(Error::Shape {
                    field,
                    expected: format!("{r}×{c}"),
                    found: format!("{}×{}", t.value.nrows(), t.value.ncols()),
                });
            }
            for ((i, j), x) in t.value.iter().enumerate().map(|(k, x)| ((k % r, k / r), x)) {
                if !x.is_finite_value() {
                    return Err(Error::NonFinite { field, index: format!("({i}, {j})"), value: x.value() });
                }
            }
            if name == "w_rec" && !net.cell.allows_autapses() {
                for j in 0..r {
                    if t.value[(j, j)].value() != 0.0 {
                        return Err(Error::Invalid {
                            field: format!("params.w_rec[({j}, {j})]"),
                            value: format!("{}", t.value[(j, j)].value()),
                            requirement: "spiking cells have no autapses: the diagonal of w_rec must be 0",
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// The cell tensors.
    pub fn cell_tensors(&self, net: &Network) -> Vec<DMatrix<T>> {
        self.tensors[..net.n_cell_tensors()].iter().map(|t| t.value.clone()).collect()
    }

    /// `W_out`.
    pub fn w_out(&self) -> &DMatrix<T> {
        &self.tensors[self.tensors.len() - 2].value
    }

    /// `b_out`.
    pub fn b_out(&self) -> &DMatrix<T> {
        &self.tensors[self.tensors.len() - 1].value
    }

    /// The tensor called `name`.
    pub fn get(&self, name: &str) -> Option<&DMatrix<T>> {
        self.tensors.iter().find(|t| t.name == name).map(|t| &t.value)
    }

    /// Total number of scalar entries `P`.
    pub fn len(&self) -> usize {
        self.tensors.iter().map(|t| t.value.len()).sum()
    }

    /// True if there are no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `(tensor, row, col)` of flat entry `k` (tensors in order, each row-major).
    pub fn locate(&self, mut k: usize) -> Option<(usize, usize, usize)> {
        for (ti, t) in self.tensors.iter().enumerate() {
            let n = t.value.len();
            if k < n {
                let c = t.value.ncols();
                return Some((ti, k / c, k % c));
            }
            k -= n;
        }
        None
    }

    /// Entry-wise map into another scalar type.
    pub fn map<U: Scalar>(&self, f: impl Fn(T) -> U) -> Params<U> {
        Params {
            tensors: self.tensors.iter().map(|t| Tensor { name: t.name, value: t.value.map(&f) }).collect(),
        }
    }

    /// Converts through the real part (`f64` → `f32`, `f64` → `Dual64` with zero derivative…).
    pub fn cast<U: Scalar>(&self) -> Params<U> {
        self.map(|x| U::c(x.value()))
    }

    /// Real parts as `f64`.
    pub fn values(&self) -> Params<f64> {
        self.map(|x| x.value())
    }

    /// Adds a flat vector over the cell parameters (tensors in order, each row-major: the
    /// layout of [`Network::flat_index_of_local`]) into the cell tensors.
    pub fn add_flat_cells(&mut self, net: &Network, flat: &DVector<T>) {
        let mut off = 0;
        for t in self.tensors[..net.n_cell_tensors()].iter_mut() {
            let c = t.value.ncols();
            for k in 0..t.value.len() {
                t.value[(k / c, k % c)] += flat[off + k];
            }
            off += t.value.len();
        }
    }

    /// Adds `grad_row` (the local parameters of neuron `j`, layout of [`Network::p_loc`]) into
    /// the cell tensors' row `j`.
    pub fn add_local_row(&mut self, net: &Network, j: usize, grad_row: &[T]) {
        let mut off = 0;
        for t in self.tensors[..net.n_cell_tensors()].iter_mut() {
            let c = t.value.ncols();
            for i in 0..c {
                t.value[(j, i)] += grad_row[off + i];
            }
            off += c;
        }
    }
}

/// An input sequence with targets and a per-step loss mask; data are `f64` and converted to the
/// run's scalar on use.
#[derive(Clone, Debug, PartialEq)]
pub struct Sequence {
    /// `x^1 … x^T`, each of length `N_in`.
    pub x: Vec<DVector<f64>>,
    /// `y^{*1} … y^{*T}`, each of length `K` (class weights for cross-entropy).
    pub target: Vec<DVector<f64>>,
    /// `m^1 … m^T ≥ 0`.
    pub mask: Vec<f64>,
}

impl Sequence {
    /// Number of steps `T`.
    pub fn len(&self) -> usize {
        self.x.len()
    }

    /// True when `T = 0`.
    pub fn is_empty(&self) -> bool {
        self.x.is_empty()
    }

    /// Checks lengths, dimensions, finiteness, non-negative masks (and CE targets).
    pub fn validate(&self, net: &Network) -> Result<()> {
        check_positive_size("sequence.T", self.x.len())?;
        for (field, len) in [("sequence.target", self.target.len()), ("sequence.mask", self.mask.len())] {
            if len != self.x.len() {
                return Err(Error::Shape {
                    field: field.into(),
                    expected: format!("{} steps", self.x.len()),
                    found: format!("{len} steps"),
                });
            }
        }
        let check = |field: &str, v: &[DVector<f64>], dim: usize, nonneg: bool| -> Result<()> {
            for (t, x) in v.iter().enumerate() {
                if x.len() != dim {
                    return Err(Error::Shape {
                        field: format!("{field}[{t}]"),
                        expected: format!("{dim}"),
                        found: format!("{}", x.len()),
                    });
                }
                for (i, &a) in x.iter().enumerate() {
                    if !a.is_finite() {
                        return Err(Error::NonFinite {
                            field: format!("{field}[{t}]"),
                            index: format!("{i}"),
                            value: a,
                        });
                    }
                    if nonneg && a < 0.0 {
                        return Err(Error::Invalid {
                            field: format!("{field}[{t}][{i}]"),
                            value: format!("{a}"),
                            requirement: "cross-entropy targets are class weights and must be >= 0",
                        });
                    }
                }
            }
            Ok(())
        };
        check("sequence.x", &self.x, net.n_in, false)?;
        check("sequence.target", &self.target, net.n_out, net.loss == Loss::CrossEntropy)?;
        for (t, &m) in self.mask.iter().enumerate() {
            if !(m.is_finite() && m >= 0.0) {
                return Err(Error::Invalid {
                    field: format!("sequence.mask[{t}]"),
                    value: format!("{m}"),
                    requirement: "mask weights must be finite and >= 0",
                });
            }
        }
        Ok(())
    }
}

/// An additive perturbation of one quantity of step `t` ([`TapSite`]): an output,
/// `z_j^t ← z_j^t + δ`, or a readout drive, `u_k^t ← u_k^t + δ`. Seeding `δ = 0 + 1ε` makes the
/// forward pass return `dE/dz_j^t` (the total learning signal) or `dE/du_k^t` in the dual part.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tap<T> {
    /// Time step `t ∈ 1..=T`.
    pub t: usize,
    /// Neuron `j` (`j < N`) for [`TapSite::Output`], readout unit `k` (`< K`) for
    /// [`TapSite::ReadoutDrive`].
    pub j: usize,
    /// The perturbation added.
    pub delta: T,
    /// What is perturbed.
    pub site: TapSite,
}

/// Where a [`Tap`] adds its perturbation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TapSite {
    /// The stored output `z_j^t`, right after `z^t = f(h^t)`: every reader of it sees the tap
    /// (readout, regulariser, recurrent input and reset at `t + 1`).
    #[default]
    Output,
    /// The readout drive `u_k^t = (W_out z^{t−δ} + b_out)_k` of Eq. (Y1), inside the filter:
    /// `y^t = κ y^{t−1} + c (u^t + δ e_k)`. Nothing but the loss reads it.
    ReadoutDrive,
}

/// Options of the forward pass.
#[derive(Clone, Copy, Debug)]
pub struct ForwardOptions<'a, T> {
    /// Edges detached or mapped in this pass.
    pub edges: Edges<'a, T>,
    /// An optional tap on one output.
    pub tap: Option<Tap<T>>,
}

impl<T> Default for ForwardOptions<'_, T> {
    fn default() -> Self {
        ForwardOptions { edges: Edges { detach: Detach::default(), explicit: None }, tap: None }
    }
}

impl<T> ForwardOptions<'_, T> {
    /// Options with the given edges detached and nothing else.
    pub fn detached(detach: Detach) -> Self {
        ForwardOptions { edges: Edges { detach, explicit: None }, tap: None }
    }
}

/// Everything the forward pass computed; index `0` holds the initial values.
#[derive(Clone, Debug, PartialEq)]
pub struct Trajectory<T: Scalar> {
    /// Cell states `(h^t, refractory^t)`, `t = 0..=T`.
    pub states: Vec<CellState<T>>,
    /// Outputs `z^t`, `t = 0..=T` (`z^0 = 0`).
    pub z: Vec<DVector<T>>,
    /// Readout `y^t`, `t = 0..=T` (`y^0 = 0`).
    pub y: Vec<DVector<T>>,
    /// Masked direct loss gradient `m^t ∂E^t/∂y^t`, `t = 0..=T` (entry 0 is zero).
    pub dl_dy: Vec<DVector<T>>,
    /// Inputs `x^t` in the run's scalar, `t = 0..=T` (entry 0 is zero).
    pub x: Vec<DVector<T>>,
    /// The loss `E = Σ_t m^t E^t (+ E_reg)`.
    pub loss: T,
    /// `∂E_reg/∂z_j^t` (the same at every `t`; zero without regularisation), Eq. (Y5).
    pub reg_signal: DVector<T>,
}

impl<T: Scalar> Trajectory<T> {
    /// Number of steps `T`.
    pub fn steps(&self) -> usize {
        self.z.len() - 1
    }

    /// Total number of spikes (outputs with real part > 0.5) over the sequence.
    pub fn spike_count(&self) -> usize {
        self.z.iter().map(|z| z.iter().filter(|v| v.value() > 0.5).count()).sum()
    }
}

/// The forward pass, Eqs. (C1) and (Y1)–(Y4): validates its inputs, then runs `T` steps.
pub fn forward<T: Scalar>(
    net: &Network,
    params: &Params<T>,
    seq: &Sequence,
    opts: ForwardOptions<'_, T>,
) -> Result<Trajectory<T>> {
    net.validate()?;
    params.validate(net)?;
    seq.validate(net)?;
    if let Some(tap) = opts.tap {
        let (bound, requirement) = match tap.site {
            TapSite::Output => (net.n, "an output tap needs 1 <= t <= T and j < N"),
            TapSite::ReadoutDrive => (net.n_out, "a readout-drive tap needs 1 <= t <= T and j < K"),
        };
        if tap.t == 0 || tap.t > seq.len() || tap.j >= bound {
            return Err(Error::Invalid {
                field: "forward.tap".into(),
                value: format!("(t = {}, j = {})", tap.t, tap.j),
                requirement,
            });
        }
    }
    Ok(forward_unchecked(net, params, seq, opts))
}

/// The forward pass without validation (callers have validated).
pub fn forward_unchecked<T: Scalar>(
    net: &Network,
    params: &Params<T>,
    seq: &Sequence,
    opts: ForwardOptions<'_, T>,
) -> Trajectory<T> {
    let w = params.cell_tensors(net);
    let w_out = params.w_out();
    let lag = net.readout.lag();
    let steps = seq.len();
    let mut states = Vec::with_capacity(steps + 1);
    let mut z = Vec::with_capacity(steps + 1);
    let mut y = Vec::with_capacity(steps + 1);
    let mut dl_dy = Vec::with_capacity(steps + 1);
    let mut xs = Vec::with_capacity(steps + 1);
    states.push(CellState::zeros(net.n, net.d(), net.cell.is_spiking()));
    z.push(DVector::zeros(net.n));
    y.push(DVector::zeros(net.n_out));
    dl_dy.push(DVector::zeros(net.n_out));
    xs.push(DVector::zeros(net.n_in));
    let mut loss = T::zero();
    for t in 1..=steps {
        let x = seq.x[t - 1].map(T::c);
        let s = net.cell.step(&w, &states[t - 1], &z[t - 1], &x, &opts.edges); // Eq. (C1)
        let mut zt = net.cell.output(&s);
        let tap = opts.tap.filter(|tap| tap.t == t);
        if let Some(tap) = tap.filter(|tap| tap.site == TapSite::Output) {
            zt[tap.j] += tap.delta;
        }
        // Eq. (Y1): y^t = κ y^{t-1} + c (W_out z^{t-δ} + b_out); a drive tap adds δ to u_k^t
        // through the bias, u^t + δ e_k = W_out z^{t-δ} + (b_out + δ e_k)
        let z_read = if lag == 0 { &zt } else { &z[t - 1] };
        let yt = match tap.filter(|tap| tap.site == TapSite::ReadoutDrive) {
            Some(tap) => {
                let mut b = params.b_out().clone();
                b[(tap.j, 0)] += tap.delta;
                net.readout.next(&y[t - 1], w_out, &b, z_read)
            }
            None => net.readout.next(&y[t - 1], w_out, params.b_out(), z_read),
        };
        let target = seq.target[t - 1].map(T::c);
        let (e, g) = net.loss.value_and_grad(&yt, &target); // Eqs. (Y2)–(Y4)
        let m = T::c(seq.mask[t - 1]);
        loss += e * m;
        dl_dy.push(g * m);
        states.push(s);
        z.push(zt);
        y.push(yt);
        xs.push(x);
    }
    let mut reg_signal = DVector::zeros(net.n);
    if let Some(reg) = &net.reg {
        let z_sum = z.iter().fold(DVector::zeros(net.n), |acc, zt| acc + zt);
        let (e, g) = reg.value_and_grad(&z_sum, steps); // Eq. (Y5)
        loss += e;
        reg_signal = g;
    }
    Trajectory { states, z, y, dl_dy, x: xs, loss, reg_signal }
}
