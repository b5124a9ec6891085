//! Feedforward networks (`docs/feedforward.md`): the forward pass of a multilayer perceptron,
//! generic over [`Scalar`], with the hand-derived slopes `f′` of its nonlinearities and the
//! output derivatives `∂ℓ/∂y^L` of its losses.
//!
//! Layers `l = 1..L`, sizes `n_0` (input) … `n_L` (output), input `y^0 = x`:
//!
//! $$ u^l = W^l y^{l-1} + b^l, \qquad y^l = f_l(u^l) \qquad \text{(FF1)} $$
//!
//! with `f_l` the hidden nonlinearity for `l < L` and the output nonlinearity for `l = L`.
//! `W^l` is `n_l × n_{l−1}` (row `i` = the input weights of unit `i`), `b^l` is `n_l × 1` and
//! exists only when [`FeedForward::bias`] is set (BrainProp's official nets have none).
//! Tensors are named `l<l>.w`, `l<l>.b` (layer numbers start at 1) in the order
//! `l1.w, l1.b, l2.w, …` ([`FeedForward::tensor_shapes`]).
//!
//! Losses of one sample ([`FfLoss`], Eq. FF2–FF4):
//!
//! $$ \ell_{\rm mse} = \tfrac12 \lVert t - y^L \rVert^2, \quad
//!    \ell_{a} = \tfrac12 (r - y^L_a)^2, \quad
//!    \ell_{\pi} = \sum_k \pi_k\, \tfrac12 (r_k - y^L_k)^2 . $$
//!
//! The nonlinearities go through [`Scalar::linearize`]: the value and the slope are taken at the
//! real part, so a dual-number pass through [`forward`] gives the derivative the hand-derived
//! [`Activation::prime`] states (ReLU: slope 0 at `u = 0`, the convention of TensorFlow and
//! of BrainProp's code).

use crate::error::{Error, Result, check_positive_size};
use crate::init::normal_matrix;
use crate::network::{Params, Tensor};
use crate::scalar::Scalar;
use crate::stack::intern;
use nalgebra::{DMatrix, DVector};
use num_traits::Float;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The nonlinearity `f` of a layer (Eq. FF1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// `f(u) = u`.
    Linear,
    /// `f(u) = max(u, 0)`, `f′(u) = 1[u > 0]`.
    Relu,
    /// The logistic `σ(u) = 1/(1 + e^{−u})`, `σ′ = σ(1 − σ)`.
    Sigmoid,
}

impl Activation {
    /// Short id: `linear`, `relu`, `sigmoid`.
    pub fn id(self) -> &'static str {
        match self {
            Activation::Linear => "linear",
            Activation::Relu => "relu",
            Activation::Sigmoid => "sigmoid",
        }
    }

    /// `f(u)`, value and slope at the real part (Eq. FF1; [`Scalar::linearize`]).
    pub fn apply<T: Scalar>(self, u: T) -> T {
        match self {
            Activation::Linear => u,
            Activation::Relu => {
                let r = u.re();
                let zero = <T::Primitive as num_traits::Zero>::zero();
                let one = <T::Primitive as num_traits::One>::one();
                if r > zero { u.linearize(r, one) } else { u.linearize(zero, zero) }
            }
            Activation::Sigmoid => {
                let s = sigmoid_primitive(u.re());
                let one = <T::Primitive as num_traits::One>::one();
                u.linearize(s, s * (one - s))
            }
        }
    }

    /// The hand-derived slope `f′(u)` (Eq. FF5), a plain value (no derivative of its own).
    pub fn prime<T: Scalar>(self, u: T) -> T {
        match self {
            Activation::Linear => T::one(),
            Activation::Relu => {
                if u.value() > 0.0 {
                    T::one()
                } else {
                    T::zero()
                }
            }
            Activation::Sigmoid => {
                let s = T::from(sigmoid_primitive(u.re()));
                s * (T::one() - s)
            }
        }
    }
}

/// The logistic function on a primitive float, without overflow for large `|u|`.
fn sigmoid_primitive<F: Float>(u: F) -> F {
    let one = F::one();
    if u >= F::zero() {
        one / (one + (-u).exp())
    } else {
        let e = u.exp();
        e / (one + e)
    }
}

/// A multilayer perceptron (Eq. FF1).
#[derive(Clone, Debug, PartialEq)]
pub struct FeedForward {
    /// `n_0, n_1, …, n_L`: input size, hidden sizes, output size (at least two entries).
    pub sizes: Vec<usize>,
    /// The nonlinearity of the hidden layers `l < L`.
    pub hidden: Activation,
    /// The nonlinearity of the output layer `L`.
    pub output: Activation,
    /// Whether each layer has a bias `b^l`.
    pub bias: bool,
}

impl FeedForward {
    /// A validated network.
    pub fn new(sizes: Vec<usize>, hidden: Activation, output: Activation, bias: bool) -> Result<Self> {
        let net = FeedForward { sizes, hidden, output, bias };
        net.validate()?;
        Ok(net)
    }

    /// At least one layer, every size positive.
    pub fn validate(&self) -> Result<()> {
        if self.sizes.len() < 2 {
            return Err(Error::Shape {
                field: "feedforward.sizes".into(),
                expected: "at least 2 sizes (input, output)".into(),
                found: format!("{} sizes", self.sizes.len()),
            });
        }
        for (l, &n) in self.sizes.iter().enumerate() {
            check_positive_size(&format!("feedforward.sizes[{l}]"), n)?;
        }
        Ok(())
    }

    /// `L`, the number of layers with weights.
    pub fn n_layers(&self) -> usize {
        self.sizes.len() - 1
    }

    /// `n_L`, the output size.
    pub fn n_out(&self) -> usize {
        self.sizes[self.sizes.len() - 1]
    }

    /// The nonlinearity of layer `l ∈ 1..=L`.
    pub fn activation(&self, l: usize) -> Activation {
        if l == self.n_layers() { self.output } else { self.hidden }
    }

    /// Short id for tables: `ff(relu→linear)` (`+b` with biases).
    pub fn id(&self) -> String {
        format!("ff({}→{}{})", self.hidden.id(), self.output.id(), if self.bias { "+b" } else { "" })
    }

    /// `(name, rows, cols)` of every tensor, in order: `l1.w` (`n_1 × n_0`), `l1.b` (`n_1 × 1`,
    /// with biases), `l2.w`, …
    pub fn tensor_shapes(&self) -> Vec<(&'static str, usize, usize)> {
        let mut out = Vec::new();
        for l in 1..=self.n_layers() {
            out.push((intern(format!("l{l}.w")), self.sizes[l], self.sizes[l - 1]));
            if self.bias {
                out.push((intern(format!("l{l}.b")), self.sizes[l], 1));
            }
        }
        out
    }

    /// Index of `W^l` in the parameter list (`l ∈ 1..=L`).
    pub fn w_index(&self, l: usize) -> usize {
        (l - 1) * if self.bias { 2 } else { 1 }
    }

    /// Index of `b^l`, if the network has biases.
    pub fn b_index(&self, l: usize) -> Option<usize> {
        self.bias.then(|| self.w_index(l) + 1)
    }

    /// All-zero tensors of this network's shapes (also the layout of gradients).
    pub fn zeros<T: Scalar>(&self) -> Params<T> {
        Params {
            tensors: self
                .tensor_shapes()
                .into_iter()
                .map(|(name, r, c)| Tensor { name, value: DMatrix::zeros(r, c) })
                .collect(),
        }
    }

    /// Gaussian parameters from `seed` (ChaCha8): `W^l` entries `N(0, gain²/n_{l−1})`, biases
    /// `N(0, b_std²)`.
    pub fn random_params<T: Scalar>(&self, seed: u64, gain: f64, b_std: f64) -> Result<Params<T>> {
        self.validate()?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut tensors = Vec::new();
        for (name, r, c) in self.tensor_shapes() {
            let std = if name.ends_with(".b") { b_std } else { gain / (c as f64).sqrt() };
            tensors.push(Tensor { name, value: normal_matrix(&mut rng, r, c, std).map(T::c) });
        }
        Ok(Params { tensors })
    }

    /// Checks names, shapes and finiteness of `params`.
    pub fn validate_params<T: Scalar>(&self, params: &Params<T>) -> Result<()> {
        self.validate()?;
        let shapes = self.tensor_shapes();
        if params.tensors.len() != shapes.len() {
            return Err(Error::Shape {
                field: "params".into(),
                expected: format!("{} tensors", shapes.len()),
                found: format!("{} tensors", params.tensors.len()),
            });
        }
        for (t, (name, r, c)) in params.tensors.iter().zip(shapes) {
            check_matrix(&format!("params.{name}"), &t.value, r, c)?;
            if t.name != name {
                return Err(Error::Shape {
                    field: format!("params.{name}"),
                    expected: format!("tensor `{name}`"),
                    found: format!("tensor `{}`", t.name),
                });
            }
        }
        Ok(())
    }

    /// Checks an input vector: `n_0` finite entries.
    pub fn validate_input<T: Scalar>(&self, x: &DVector<T>) -> Result<()> {
        check_vector("input", x, self.sizes[0])
    }
}

/// Checks the shape and finiteness of a matrix named `field`.
pub(crate) fn check_matrix<T: Scalar>(field: &str, m: &DMatrix<T>, r: usize, c: usize) -> Result<()> {
    if m.shape() != (r, c) {
        return Err(Error::Shape {
            field: field.into(),
            expected: format!("{r}×{c}"),
            found: format!("{}×{}", m.nrows(), m.ncols()),
        });
    }
    for i in 0..r {
        for j in 0..c {
            if !m[(i, j)].is_finite_value() {
                return Err(Error::NonFinite {
                    field: field.into(),
                    index: format!("({i}, {j})"),
                    value: m[(i, j)].value(),
                });
            }
        }
    }
    Ok(())
}

fn check_vector<T: Scalar>(field: &str, v: &DVector<T>, n: usize) -> Result<()> {
    if v.len() != n {
        return Err(Error::Shape {
            field: field.into(),
            expected: format!("{n} entries"),
            found: format!("{} entries", v.len()),
        });
    }
    if let Some(i) = v.iter().position(|x| !x.is_finite_value()) {
        return Err(Error::NonFinite { field: field.into(), index: format!("{i}"), value: v[i].value() });
    }
    Ok(())
}

/// The forward pass of one sample: `u[l]` and `y[l]` for `l = 0..=L` (`u[0]` is empty,
/// `y[0] = x`).
#[derive(Clone, Debug, PartialEq)]
pub struct FfTrajectory<T: Scalar> {
    /// Drives `u^l` (Eq. FF1); entry 0 is empty.
    pub u: Vec<DVector<T>>,
    /// Activities `y^l`; `y[0]` is the input, `y[L]` the output.
    pub y: Vec<DVector<T>>,
}

impl<T: Scalar> FfTrajectory<T> {
    /// The output `y^L`.
    pub fn output(&self) -> &DVector<T> {
        &self.y[self.y.len() - 1]
    }
}

/// Eq. (FF1) with validation of the parameters and the input.
pub fn forward<T: Scalar>(net: &FeedForward, params: &Params<T>, x: &DVector<T>) -> Result<FfTrajectory<T>> {
    net.validate_params(params)?;
    net.validate_input(x)?;
    Ok(forward_unchecked(net, params, x))
}

/// Eq. (FF1) on inputs the caller has validated ([`forward`] does).
pub fn forward_unchecked<T: Scalar>(
    net: &FeedForward,
    params: &Params<T>,
    x: &DVector<T>,
) -> FfTrajectory<T> {
    let mut u = vec![DVector::zeros(0)];
    let mut y = vec![x.clone()];
    for l in 1..=net.n_layers() {
        let w = &params.tensors[net.w_index(l)].value;
        let mut ul = w * &y[l - 1]; // (FF1) W^l y^{l−1}
        if let Some(bi) = net.b_index(l) {
            ul += params.tensors[bi].value.column(0); // (FF1) + b^l
        }
        let f = net.activation(l);
        y.push(ul.map(|v| f.apply(v))); // (FF1) y^l = f_l(u^l)
        u.push(ul);
    }
    FfTrajectory { u, y }
}

/// The loss of one sample, a function of the output `y^L` (Eq. FF2–FF4).
#[derive(Clone, Debug, PartialEq)]
pub enum FfLoss {
    /// (FF2) `½‖t − y^L‖²`.
    Mse {
        /// The target `t` (`n_L` entries).
        target: DVector<f64>,
    },
    /// (FF3) `½(r − y^L_a)²`: the error of one chosen output unit `a` (Q-AGREL's loss).
    Selected {
        /// The chosen unit `a < n_L`.
        action: usize,
        /// The reward `r`.
        reward: f64,
    },
    /// (FF4) `Σ_k π_k ½(r_k − y^L_k)²`.
    Weighted {
        /// The weights `π_k` (`n_L` entries), held fixed.
        weights: DVector<f64>,
        /// The targets `r_k` (`n_L` entries).
        targets: DVector<f64>,
    },
}

impl FfLoss {
    /// Checks the loss against an output of size `k`.
    pub fn validate(&self, k: usize) -> Result<()> {
        match self {
            FfLoss::Mse { target } => check_vector("loss.target", target, k),
            FfLoss::Selected { action, reward } => {
                if *action >= k {
                    return Err(Error::Invalid {
                        field: "loss.action".into(),
                        value: action.to_string(),
                        requirement: "must be an output unit (< n_L)",
                    });
                }
                if !reward.is_finite() {
                    return Err(Error::NonFinite {
                        field: "loss.reward".into(),
                        index: "0".into(),
                        value: *reward,
                    });
                }
                Ok(())
            }
            FfLoss::Weighted { weights, targets } => {
                check_vector("loss.weights", weights, k)?;
                check_vector("loss.targets", targets, k)
            }
        }
    }

    /// `ℓ(y^L)` (Eq. FF2–FF4).
    pub fn eval<T: Scalar>(&self, y: &DVector<T>) -> T {
        let half = T::c(0.5);
        match self {
            FfLoss::Mse { target } => y
                .iter()
                .zip(target.iter())
                .fold(T::zero(), |s, (&yk, &tk)| s + half * (T::c(tk) - yk).powi(2)),
            FfLoss::Selected { action, reward } => half * (T::c(*reward) - y[*action]).powi(2),
            FfLoss::Weighted { weights, targets } => (0..y.len())
                .fold(T::zero(), |s, k| s + T::c(weights[k]) * half * (T::c(targets[k]) - y[k]).powi(2)),
        }
    }

    /// The hand-derived `∂ℓ/∂y^L` (Eq. FF6): `y − t`, `(y_a − r) e_a`, `π ⊙ (y − r)`.
    pub fn dloss_dy<T: Scalar>(&self, y: &DVector<T>) -> DVector<T> {
        match self {
            FfLoss::Mse { target } => DVector::from_fn(y.len(), |k, _| y[k] - T::c(target[k])),
            FfLoss::Selected { action, reward } => {
                DVector::from_fn(y.len(), |k, _| if k == *action { y[k] - T::c(*reward) } else { T::zero() })
            }
            FfLoss::Weighted { weights, targets } => {
                DVector::from_fn(y.len(), |k, _| T::c(weights[k]) * (y[k] - T::c(targets[k])))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use num_dual::Dual64;

    #[test]
    fn slopes_of_the_forward_pass_are_the_hand_derived_ones() {
        for f in [Activation::Linear, Activation::Relu, Activation::Sigmoid] {
            for &v in &[-2.0, -0.3, 0.0, 0.4, 3.0, 40.0, -800.0] {
                let d = f.apply(Dual64::from(v).derivative());
                assert!((d.eps - f.prime(v)).abs() <= 1e-16, "{f:?} at {v}");
                assert!((d.re - f.apply(v)).abs() <= 0.0, "{f:?} at {v}");
            }
        }
    }

    #[test]
    fn slopes_agree_with_central_differences() {
        // a second opinion on the slope inside `apply` (the oracle's) and on `prime` (the rules')
        let h = 1e-6;
        for f in [Activation::Linear, Activation::Relu, Activation::Sigmoid] {
            for &v in &[-2.0, -0.3, 0.4, 3.0] {
                let fd = (f.apply(v + h) - f.apply(v - h)) / (2.0 * h);
                assert!((fd - f.prime(v)).abs() < 1e-9, "{f:?} at {v}: {fd} vs {}", f.prime(v));
            }
        }
    }

    #[test]
    fn forward_by_hand() {
        // 2-2-1, ReLU hidden with biases, sigmoid output
        let net = FeedForward::new(vec![2, 2, 1], Activation::Relu, Activation::Sigmoid, true).unwrap();
        let m = |r, c, v: &[f64]| DMatrix::from_row_slice(r, c, v);
        let p = Params {
            tensors: vec![
                Tensor { name: "l1.w", value: m(2, 2, &[1.0, -2.0, 0.5, 0.25]) },
                Tensor { name: "l1.b", value: m(2, 1, &[0.1, -3.0]) },
                Tensor { name: "l2.w", value: m(1, 2, &[2.0, 7.0]) },
                Tensor { name: "l2.b", value: m(1, 1, &[-0.5]) },
            ],
        };
        let x = DVector::from_vec(vec![1.0, 0.5]);
        let tr = forward(&net, &p, &x).unwrap();
        // u1 = (1 − 1 + 0.1, 0.5 + 0.125 − 3) = (0.1, −2.375); y1 = (0.1, 0)
        assert!((tr.u[1][0] - 0.1).abs() < 1e-15 && (tr.u[1][1] + 2.375).abs() < 1e-15);
        assert!(tr.y[1][1].abs() <= 0.0, "ReLU of a negative drive is exactly 0");
        // u2 = 2·0.1 + 7·0 − 0.5 = −0.3; y2 = σ(−0.3)
        assert!((tr.u[2][0] + 0.3).abs() < 1e-15);
        assert!((tr.output()[0] - 1.0 / (1.0 + 0.3f64.exp())).abs() < 1e-15);
        // ℓ = ½ (1 − y)², ℓ_a = ½ (r − y_a)², ℓ_π = π ½ (r − y)²
        let y = tr.output()[0];
        let mse = FfLoss::Mse { target: DVector::from_vec(vec![1.0]) };
        assert!((mse.eval(tr.output()) - 0.5 * (1.0 - y).powi(2)).abs() < 1e-15);
        let sel = FfLoss::Selected { action: 0, reward: 0.0 };
        assert!((sel.eval(tr.output()) - 0.5 * y * y).abs() < 1e-15);
        let w =
            FfLoss::Weighted { weights: DVector::from_vec(vec![0.3]), targets: DVector::from_vec(vec![1.0]) };
        assert!((w.eval(tr.output()) - 0.15 * (1.0 - y).powi(2)).abs() < 1e-15);
    }

    #[test]
    fn bad_shapes_and_values_are_typed_errors() {
        let net = FeedForward::new(vec![3, 4, 2], Activation::Relu, Activation::Linear, true).unwrap();
        let p = net.random_params::<f64>(1, 1.0, 0.1).unwrap();
        let e = forward(&net, &p, &DVector::zeros(2)).unwrap_err();
        assert!(e.to_string().starts_with("input:"), "{e}");
        let mut q = p.clone();
        q.tensors[2].value[(0, 0)] = f64::NAN;
        let e = forward(&net, &q, &DVector::zeros(3)).unwrap_err();
        assert!(e.to_string().starts_with("params.l2.w:"), "{e}");
        assert!(FeedForward::new(vec![3], Activation::Relu, Activation::Linear, true).is_err());
        let e = FeedForward::new(vec![3, 0, 2], Activation::Relu, Activation::Linear, true).unwrap_err();
        assert!(e.to_string().contains("sizes[1]"), "{e}");
        let e = FfLoss::Selected { action: 2, reward: 1.0 }.validate(2).unwrap_err();
        assert!(e.to_string().starts_with("loss.action"), "{e}");
    }

    #[test]
    fn layout_names_and_indices() {
        let net = FeedForward::new(vec![3, 4, 2], Activation::Sigmoid, Activation::Sigmoid, true).unwrap();
        let names = net.tensor_shapes();
        assert_eq!(names, vec![("l1.w", 4, 3), ("l1.b", 4, 1), ("l2.w", 2, 4), ("l2.b", 2, 1)]);
        assert_eq!((net.w_index(2), net.b_index(2)), (2, Some(3)));
        let nb = FeedForward { bias: false, ..net };
        assert_eq!((nb.w_index(2), nb.b_index(2)), (1, None));
    }
}
