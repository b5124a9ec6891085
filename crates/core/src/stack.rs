//! Stacked recurrent layers, Eqs. (S1)–(S3) of `docs/deep.md`.
//!
//! Layer `l = 1..L` is any cell; its input at step `t` is `x^t` for the first layer and the
//! output of the layer below otherwise — at the same step (`z^{l−1,t}`, the default) or one step
//! later (`z^{l−1,t−1}`, [`InterLayer::OneStep`]):
//! $$ h^{l,t} = M^l\\big(h^{l,t-1}, z^{l,t-1}, z^{l-1,t}; \\theta^l\\big), \\qquad z^{0,t} = x^t \\quad\\text{(S1)} $$
//! The readout reads the top layer, or every layer concatenated ([`ReadoutFrom::All`]):
//! $$ y^t = \\kappa y^{t-1} + c\\,\\big(W^{out} z_{\\rm read}^{t-\\delta} + b^{out}\\big) \\quad\\text{(S2)} $$
//! Every layer runs the forward code of its cell unchanged ([`CellModel::step`]); within-layer
//! edges can be detached or mapped ([`Edges`]) exactly as in a single layer, while the
//! inter-layer input is a plain input of the layer above.

use crate::cell::{Cell, CellModel, CellState, Detach, Edges};
use crate::error::{Error, Result, check_positive_size};
use crate::network::{Params, Sequence, Tensor};
use crate::readout::{Loss, Readout};
use crate::scalar::Scalar;
use nalgebra::{DMatrix, DVector};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

/// One layer: a cell and its number of neurons.
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    /// The cell.
    pub cell: Cell,
    /// Neurons `N_l`.
    pub n: usize,
}

/// When a layer sees the layer below.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InterLayer {
    /// `z^{l−1,t}`: the same step (Eq. S1; the default, the reading of Millidge's note in
    /// `docs/deep.md`).
    #[default]
    SameStep,
    /// `z^{l−1,t−1}`: a one-step inter-layer delay.
    OneStep,
}

/// What the readout reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReadoutFrom {
    /// The top layer (default).
    #[default]
    Top,
    /// Every layer, concatenated bottom to top (`loss_from_all_layers` of the authors' code).
    All,
}

/// A stack of recurrent layers with a leaky readout.
#[derive(Clone, Debug, PartialEq)]
pub struct Stack {
    /// The layers, bottom first.
    pub layers: Vec<Layer>,
    /// Inputs `N_in`.
    pub n_in: usize,
    /// Readout units `K`.
    pub n_out: usize,
    /// The readout.
    pub readout: Readout,
    /// The per-step loss.
    pub loss: Loss,
    /// Inter-layer timing.
    pub inter: InterLayer,
    /// What the readout reads.
    pub readout_from: ReadoutFrom,
}

/// A `&'static str` for a generated tensor name (`l2.w_rec`); the set of names is small and
/// bounded, so interning them once is harmless.
pub fn intern(name: String) -> &'static str {
    static NAMES: OnceLock<Mutex<HashMap<String, &'static str>>> = OnceLock::new();
    let map = NAMES.get_or_init(|| Mutex::new(HashMap::new()));
    let mut guard = match map.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    };
    if let Some(s) = guard.get(&name) {
        return s;
    }
    let leaked: &'static str = Box::leak(name.clone().into_boxed_str());
    guard.insert(name, leaked);
    leaked
}

/// `p`'s values under the given names, in order.
pub fn renamed<T: Scalar>(p: &Params<T>, names: impl IntoIterator<Item = &'static str>) -> Params<T> {
    Params {
        tensors: p
            .tensors
            .iter()
            .zip(names)
            .map(|(t, name)| Tensor { name, value: t.value.clone() })
            .collect(),
    }
}

/// Stop-gradients of one layer of a stack forward pass, added to the pass's [`Edges`]: with a
/// cut per layer the oracle builds graphs whose detached edges depend on the layer (the target
/// of OSTL, Eq. (O-D) of `docs/deep.md` §7). Real parts are unchanged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LayerCut {
    /// Edges of `z^{l,t−1}` (recurrent input, reset) and the adaptation edge detached in this
    /// layer, in addition to those the pass's [`Edges`] detach.
    pub detach: Detach,
    /// The layer's previous hidden state `h^{l,t−1}` enters `M^l` as a constant (every
    /// neuron-local temporal edge: leak, adaptation, LSTM cell state).
    pub state: bool,
}

impl LayerCut {
    /// Every temporal edge of the layer cut: `h^{l,t−1}` and `z^{l,t−1}` (recurrent, reset,
    /// adaptation) are constants; only the input from below and the parameters stay live.
    pub const TEMPORAL: LayerCut =
        LayerCut { detach: Detach { recurrent: true, reset: true, adaptation: true }, state: true };
}

/// The per-layer data of a stack forward pass (index 0 holds the initial values).
#[derive(Clone, Debug, PartialEq)]
pub struct LayerTrajectory<T: Scalar> {
    /// Cell states, `t = 0..=T`.
    pub states: Vec<CellState<T>>,
    /// Outputs `z^{l,t}`, `t = 0..=T`.
    pub z: Vec<DVector<T>>,
    /// Inputs the layer received at `t` (`x^t` or the layer below), `t = 0..=T`.
    pub input: Vec<DVector<T>>,
}

/// Everything a stack forward pass computed.
#[derive(Clone, Debug, PartialEq)]
pub struct StackTrajectory<T: Scalar> {
    /// Per layer.
    pub layers: Vec<LayerTrajectory<T>>,
    /// Readout `y^t`, `t = 0..=T`.
    pub y: Vec<DVector<T>>,
    /// `m^t ∂E^t/∂y^t`, `t = 0..=T`.
    pub dl_dy: Vec<DVector<T>>,
    /// The loss.
    pub loss: T,
}

impl Stack {
    /// Builds and validates a stack.
    pub fn new(layers: Vec<Layer>, n_in: usize, n_out: usize, readout: Readout, loss: Loss) -> Result<Self> {
        let s = Stack {
            layers,
            n_in,
            n_out,
            readout,
            loss,
            inter: InterLayer::SameStep,
            readout_from: ReadoutFrom::Top,
        };
        s.validate()?;
        Ok(s)
    }

    /// The one-layer stack of a single-layer network: same cell, sizes, readout and loss (a
    /// network's firing-rate regulariser has no stack counterpart and is an error).
    pub fn of_network(net: &crate::Network) -> Result<Self> {
        if let Some(r) = net.reg {
            return Err(Error::Invalid {
                field: "network.reg".into(),
                value: format!("c_reg = {}", r.c_reg),
                requirement: "stacks have no firing-rate regulariser",
            });
        }
        Stack::new(
            vec![Layer { cell: net.cell.clone(), n: net.n }],
            net.n_in,
            net.n_out,
            net.readout,
            net.loss,
        )
    }

    /// Tensors with the same layout renamed to this stack's names (`l1.w_in`, …): a
    /// single-layer network's parameters for its [`Stack::of_network`].
    pub fn rename<T: Scalar>(&self, p: &Params<T>) -> Params<T> {
        renamed(p, self.tensor_shapes().into_iter().map(|(name, _, _)| name))
    }

    /// Checks sizes and every layer's hyper-parameters.
    pub fn validate(&self) -> Result<()> {
        check_positive_size("stack.layers", self.layers.len())?;
        check_positive_size("stack.n_in", self.n_in)?;
        check_positive_size("stack.n_out", self.n_out)?;
        for (l, layer) in self.layers.iter().enumerate() {
            check_positive_size(&format!("stack.layers[{}].n", l + 1), layer.n)?;
            layer.cell.validate()?;
        }
        self.readout.validate()
    }

    /// `stack(lif,alif)`.
    pub fn id(&self) -> String {
        let ids: Vec<&str> = self.layers.iter().map(|l| l.cell.id()).collect();
        format!("stack({})", ids.join(","))
    }

    /// Input size of layer `l` (0-based).
    pub fn layer_input(&self, l: usize) -> usize {
        if l == 0 { self.n_in } else { self.layers[l - 1].n }
    }

    /// Number of outputs the readout reads.
    pub fn n_read(&self) -> usize {
        match self.readout_from {
            ReadoutFrom::Top => self.layers.last().map_or(0, |l| l.n),
            ReadoutFrom::All => self.layers.iter().map(|l| l.n).sum(),
        }
    }

    /// Offset of layer `l`'s outputs among the readout's inputs (`None` if it is not read).
    pub fn read_offset(&self, l: usize) -> Option<usize> {
        match self.readout_from {
            ReadoutFrom::Top => (l + 1 == self.layers.len()).then_some(0),
            ReadoutFrom::All => Some(self.layers[..l].iter().map(|x| x.n).sum()),
        }
    }

    /// Index range of layer `l`'s cell tensors in the parameter list.
    pub fn layer_tensors(&self, l: usize) -> std::ops::Range<usize> {
        let start: usize = self.layers[..l].iter().map(|x| x.cell.tensor_names().len()).sum();
        start..start + self.layers[l].cell.tensor_names().len()
    }

    /// Names (`l1.w_in`, …, `w_out`, `b_out`) and shapes of every parameter tensor.
    pub fn tensor_shapes(&self) -> Vec<(&'static str, usize, usize)> {
        let mut v = Vec::new();
        for (l, layer) in self.layers.iter().enumerate() {
            let cols = layer.cell.tensor_cols(self.layer_input(l), layer.n);
            for (name, c) in layer.cell.tensor_names().iter().zip(cols) {
                v.push((intern(format!("l{}.{name}", l + 1)), layer.n, c));
            }
        }
        v.push(("w_out", self.n_out, self.n_read()));
        v.push(("b_out", self.n_out, 1));
        v
    }

    /// All-zero parameters (or gradients) of the stack's shapes.
    pub fn zeros<T: Scalar>(&self) -> Params<T> {
        Params {
            tensors: self
                .tensor_shapes()
                .into_iter()
                .map(|(name, r, c)| Tensor { name, value: DMatrix::zeros(r, c) })
                .collect(),
        }
    }

    /// Number of cell parameters of layer `l`.
    pub fn layer_p(&self, l: usize) -> usize {
        let layer = &self.layers[l];
        layer.n * layer.cell.tensor_cols(self.layer_input(l), layer.n).iter().sum::<usize>()
    }

    /// Number of cell parameters of all layers, `P_tot`.
    pub fn p_cells(&self) -> usize {
        (0..self.layers.len()).map(|l| self.layer_p(l)).sum()
    }

    /// `(tensor index, column)` of local parameter `q` of neuron `j` in layer `l` (row `j` of
    /// the layer's tensors concatenated), and its index in the flat vector of all cell
    /// parameters (tensors in order, each row-major).
    pub fn locate_local(&self, l: usize, j: usize, mut q: usize) -> (usize, usize, usize) {
        let layer = &self.layers[l];
        let mut flat: usize = (0..l).map(|k| self.layer_p(k)).sum();
        for (ti, c) in self.layer_tensors(l).zip(layer.cell.tensor_cols(self.layer_input(l), layer.n)) {
            if q < c {
                return (ti, q, flat + j * c + q);
            }
            q -= c;
            flat += layer.n * c;
        }
        unreachable!("local index out of range")
    }

    /// Adds a flat vector over all cell parameters (the layout of [`Stack::locate_local`]) into
    /// the layer tensors of `grad`.
    pub fn add_flat<T: Scalar>(&self, grad: &mut Params<T>, flat: &DVector<T>) {
        for (l, layer) in self.layers.iter().enumerate() {
            let p_loc: usize = layer.cell.tensor_cols(self.layer_input(l), layer.n).iter().sum();
            for j in 0..layer.n {
                for q in 0..p_loc {
                    let (ti, col, k) = self.locate_local(l, j, q);
                    grad.tensors[ti].value[(j, col)] += flat[k];
                }
            }
        }
    }

    /// Checks names, shapes, finiteness and the autapse rule of every layer.
    pub fn validate_params<T: Scalar>(&self, params: &Params<T>) -> Result<()> {
        let shapes = self.tensor_shapes();
        if params.tensors.len() != shapes.len() {
            return Err(Error::Shape {
                field: "params".into(),
                expected: format!("{} tensors", shapes.len()),
                found: format!("{} tensors", params.tensors.len()),
            });
        }
        for (t, (name, r, c)) in params.tensors.iter().zip(shapes) {
            let field = format!("params.{name}");
            if t.name != name || t.value.shape() != (r, c) {
                return Err(Error::Shape {
                    field,
                    expected: format!("`{name}` {r}×{c}"),
                    found: format!("`{}` {}×{}", t.name, t.value.nrows(), t.value.ncols()),
                });
            }
            if let Some(x) = t.value.iter().find(|x| !x.is_finite_value()) {
                return Err(Error::NonFinite { field, index: "-".into(), value: x.value() });
            }
        }
        for (l, layer) in self.layers.iter().enumerate() {
            if layer.cell.allows_autapses() {
                continue;
            }
            let k = self.layer_tensors(l).start + 1; // w_rec of LIF/ALIF
            let w = &params.tensors[k].value;
            for j in 0..layer.n {
                if w[(j, j)].value() != 0.0 {
                    return Err(Error::Invalid {
                        field: format!("params.l{}.w_rec[({j}, {j})]", l + 1),
                        value: format!("{}", w[(j, j)].value()),
                        requirement: "spiking cells have no autapses: the diagonal of w_rec must be 0",
                    });
                }
            }
        }
        Ok(())
    }

    /// Checks a sequence against the stack's input and output sizes.
    pub fn validate_sequence(&self, seq: &Sequence) -> Result<()> {
        let shim = crate::Network::new(
            Cell::Rate(crate::cell::Rate { alpha: 1.0 }),
            self.n_in,
            1,
            self.n_out,
            self.readout,
            self.loss,
        )?;
        seq.validate(&shim)
    }

    /// Gaussian parameters from `seed`: each layer drawn as the single-layer network of the same
    /// cell and sizes would be ([`Params::random`]), the readout likewise.
    pub fn random_params(&self, seed: u64) -> Result<Params<f64>> {
        self.validate()?;
        let mut p: Params<f64> = self.zeros();
        for (l, layer) in self.layers.iter().enumerate() {
            let net = crate::Network::new(
                layer.cell.clone(),
                self.layer_input(l),
                layer.n,
                1,
                self.readout,
                self.loss,
            )?;
            let q = Params::<f64>::random(&net, seed.wrapping_add(l as u64))?;
            for (k, t) in self.layer_tensors(l).zip(0..) {
                p.tensors[k].value = q.tensors[t].value.clone();
            }
        }
        let top = crate::Network::new(
            self.layers[0].cell.clone(),
            1,
            self.n_read(),
            self.n_out,
            self.readout,
            self.loss,
        )?;
        let q = Params::<f64>::random(&top, seed.wrapping_add(99))?;
        let nt = p.tensors.len();
        p.tensors[nt - 2].value = q.w_out().clone();
        p.tensors[nt - 1].value = q.b_out().clone();
        Ok(p)
    }

    /// A synthetic sequence from `seed` ([`Sequence::random`] with the bottom layer's input kind).
    pub fn random_sequence(&self, steps: usize, seed: u64) -> Result<Sequence> {
        let shim = crate::Network::new(
            self.layers[0].cell.clone(),
            self.n_in,
            1,
            self.n_out,
            self.readout,
            self.loss,
        )?;
        Sequence::random(&shim, steps, seed)
    }

    /// The forward pass (Eqs. S1–S2), validated.
    pub fn forward<T: Scalar>(
        &self,
        params: &Params<T>,
        seq: &Sequence,
        edges: &Edges<'_, T>,
    ) -> Result<StackTrajectory<T>> {
        self.validate()?;
        self.validate_params(params)?;
        self.validate_sequence(seq)?;
        Ok(self.forward_unchecked(params, seq, edges))
    }

    /// The forward pass without validation.
    pub fn forward_unchecked<T: Scalar>(
        &self,
        params: &Params<T>,
        seq: &Sequence,
        edges: &Edges<'_, T>,
    ) -> StackTrajectory<T> {
        self.forward_cut(params, seq, edges, &[])
    }

    /// The forward pass without validation, with [`LayerCut`] `cuts[l]` applied to layer `l`
    /// on top of `edges` (layers past the end of `cuts` get none). The values are those of
    /// [`Stack::forward_unchecked`]; only the derivatives of a dual run change.
    pub fn forward_cut<T: Scalar>(
        &self,
        params: &Params<T>,
        seq: &Sequence,
        edges: &Edges<'_, T>,
        cuts: &[LayerCut],
    ) -> StackTrajectory<T> {
        let cut = |l: usize| cuts.get(l).copied().unwrap_or_default();
        let layer_edges: Vec<Edges<'_, T>> = (0..self.layers.len())
            .map(|l| {
                let (a, b) = (edges.detach, cut(l).detach);
                let detach = Detach {
                    recurrent: a.recurrent || b.recurrent,
                    reset: a.reset || b.reset,
                    adaptation: a.adaptation || b.adaptation,
                };
                Edges { detach, explicit: edges.explicit }
            })
            .collect();
        let nl = self.layers.len();
        let w: Vec<Vec<DMatrix<T>>> = (0..nl)
            .map(|l| self.layer_tensors(l).map(|k| params.tensors[k].value.clone()).collect())
            .collect();
        let w_out = &params.tensors[params.tensors.len() - 2].value;
        let b_out = &params.tensors[params.tensors.len() - 1].value;
        let lag = self.readout.lag();
        let mut layers: Vec<LayerTrajectory<T>> = self
            .layers
            .iter()
            .enumerate()
            .map(|(l, layer)| LayerTrajectory {
                states: vec![CellState::zeros(layer.n, layer.cell.state_dim(), layer.cell.is_spiking())],
                z: vec![DVector::zeros(layer.n)],
                input: vec![DVector::zeros(self.layer_input(l))],
            })
            .collect();
        let mut y = vec![DVector::zeros(self.n_out)];
        let mut dl_dy = vec![DVector::zeros(self.n_out)];
        let mut read = vec![DVector::<T>::zeros(self.n_read())];
        let mut loss = T::zero();
        for t in 1..=seq.len() {
            for l in 0..nl {
                // Eq. (S1): the layer's input
                let input = if l == 0 {
                    seq.x[t - 1].map(T::c)
                } else {
                    match self.inter {
                        InterLayer::SameStep => layers[l - 1].z[t].clone(),
                        InterLayer::OneStep => layers[l - 1].z[t - 1].clone(),
                    }
                };
                let lt = &mut layers[l];
                let prev = &lt.states[t - 1];
                let s = if cut(l).state {
                    // h^{l,t-1} as a constant of the same value
                    let frozen =
                        CellState { h: prev.h.map(|v| v.detach()), refractory: prev.refractory.clone() };
                    self.layers[l].cell.step(&w[l], &frozen, &lt.z[t - 1], &input, &layer_edges[l])
                } else {
                    self.layers[l].cell.step(&w[l], prev, &lt.z[t - 1], &input, &layer_edges[l])
                };
                let z = self.layers[l].cell.output(&s);
                lt.states.push(s);
                lt.z.push(z);
                lt.input.push(input);
            }
            let r = match self.readout_from {
                ReadoutFrom::Top => layers[nl - 1].z[t].clone(),
                ReadoutFrom::All => DVector::from_iterator(
                    self.n_read(),
                    layers.iter().flat_map(|lt| lt.z[t].iter().copied()),
                ),
            };
            read.push(r);
            let yt = self.readout.next(&y[t - 1], w_out, b_out, &read[t - lag]); // Eq. (S2)
            let (e, g) = self.loss.value_and_grad(&yt, &seq.target[t - 1].map(T::c));
            let m = T::c(seq.mask[t - 1]);
            loss += e * m;
            dl_dy.push(g * m);
            y.push(yt);
        }
        StackTrajectory { layers, y, dl_dy, loss }
    }
}
