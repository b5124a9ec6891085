//! # credit-burstccn — BurstCCN, discrete time
//!
//! Greedy, Zhu, Pemberton, Mellor & Costa, *Single-phase deep learning in cortico-cortical
//! networks* (NeurIPS 2022, arXiv:2206.11769); authors' code `neuralml/BurstCCN`
//! (`modules/layers_burstccn.py`, `modules/networks_burstccn.py`). Equations (C1)–(C7) of
//! `docs/burstccn.md`, on the feedforward networks of [`credit_core::feedforward`] with sigmoid
//! layers throughout (the *event rates* `e^l = y^l`, Eq. FF1).
//!
//! One single phase: the forward pass gives the event rates; the output layer's burst
//! probability is nudged by the target (C2); each hidden layer's apical potential collects the
//! bursts of the layer above through `Y` and subtracts its events through `Q` (C3), which sets
//! its burst probability (C4) and burst rate (C5); every feedforward weight moves by the burst
//! deviation `(p − p_b) ⊙ e` times its input (C6). With `Y^l = W^{l+1}` and `Q^l = p_b Y^l`,
//! the output update is exactly `p_b` × the backprop step of `½‖y − e^L‖²` (P-c1), the hidden
//! ones are within `O(‖y − e^L‖³)` of it (P-c2), and no target means no update (P-c3).
//!
//! ```
//! use credit_core::{Activation, FeedForward};
//! use credit_burstccn::{Burst, Feedback, signals};
//! use nalgebra::DVector;
//! let net = FeedForward::new(vec![3, 4, 2], Activation::Sigmoid, Activation::Sigmoid, true)?;
//! let p = net.random_params::<f64>(1, 2.0, 0.2)?;
//! let fb = Feedback::tied(&net, &p, 0.5, 1.0);
//! let x = DVector::from_vec(vec![0.5, -1.0, 2.0]);
//! let none = signals(&net, &p, &fb, &Burst::NEURIPS, &x, None)?;
//! assert!(none.dw.tensors.iter().all(|t| t.value.iter().all(|v| *v == 0.0))); // P-c3
//! # Ok::<(), credit_core::Error>(())
//! ```

pub mod continuous;

use credit_core::feedforward::{Activation, FeedForward, forward};
use credit_core::{Error, Params, Scalar};
use nalgebra::{DMatrix, DVector};

/// The burst-probability nonlinearity of hidden layers (Eq. C4) and the baseline `p_b`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Burst {
    /// The baseline burst probability `p_b ∈ (0, 1)`.
    pub p_baseline: f64,
    /// Which form of (C4).
    pub form: BurstForm,
}

/// The two readings of (C4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BurstForm {
    /// `p = σ(4 a ⊙ (1 − e))`, the NeurIPS code (`layers_burstccn.py`); it equals `p_b` at
    /// `a = 0` only for `p_b = ½`.
    NeurIps,
    /// `p = 2 p_b σ((2/p_b) a ⊙ (1 − e))`, the journal code's generalisation (design notes,
    /// not read here): `p = p_b` at `a = 0` for any `p_b`.
    Journal,
}

impl Burst {
    /// The NeurIPS model: `p_b = ½`, `p = σ(4 a (1 − e))`.
    pub const NEURIPS: Burst = Burst { p_baseline: 0.5, form: BurstForm::NeurIps };

    /// `p_b ∈ (0, 1)`; the NeurIPS form needs `p_b = ½`.
    pub fn validate(&self) -> credit_core::Result<()> {
        let pb = self.p_baseline;
        if !(pb > 0.0 && pb < 1.0) {
            return Err(Error::Invalid {
                field: "burst.p_baseline".into(),
                value: pb.to_string(),
                requirement: "must lie in (0, 1)",
            });
        }
        if self.form == BurstForm::NeurIps && (pb - 0.5).abs() > 0.0 {
            return Err(Error::Invalid {
                field: "burst.p_baseline".into(),
                value: pb.to_string(),
                requirement: "the NeurIPS form sigma(4 a (1 - e)) needs p_b = 0.5 (use the journal form)",
            });
        }
        Ok(())
    }

    /// (C4) `p` from the apical potential `a` and the event rate `e` of one unit.
    pub fn probability<T: Scalar>(&self, a: T, e: T) -> T {
        let one = T::one();
        let sig = Activation::Sigmoid;
        match self.form {
            BurstForm::NeurIps => sig.apply(T::c(4.0) * a * (one - e)), // (C4) σ(4 a (1 − e))
            BurstForm::Journal => {
                let pb = T::c(self.p_baseline);
                pb * T::c(2.0) * sig.apply(T::c(2.0) / pb * a * (one - e)) // (C4) 2 p_b σ((2/p_b) a (1 − e))
            }
        }
    }
}

/// The feedback weights of the hidden layers: `y[l − 1] = Y^l` and `q[l − 1] = Q^l` for
/// `l = 1..L−1`, each `n_{l+1} × n_l` (the shape of `W^{l+1}`, the code's `weight_Y`).
#[derive(Clone, Debug, PartialEq)]
pub struct Feedback<T: Scalar> {
    /// `Y^l`: carries the bursts of layer `l + 1` to layer `l`'s apical dendrites.
    pub y: Vec<DMatrix<T>>,
    /// `Q^l`: carries the events of layer `l + 1`, subtracted at the apical dendrites.
    pub q: Vec<DMatrix<T>>,
}

impl<T: Scalar> Feedback<T> {
    /// Tied (and symmetric-init) feedback: `Y^l = scale · W^{l+1}`, `Q^l = p_b Y^l`.
    pub fn tied(net: &FeedForward, params: &Params<T>, p_baseline: f64, scale: f64) -> Self {
        let y: Vec<DMatrix<T>> =
            (1..net.n_layers()).map(|l| &params.tensors[net.w_index(l + 1)].value * T::c(scale)).collect();
        let q = y.iter().map(|m| m * T::c(p_baseline)).collect();
        Feedback { y, q }
    }

    /// Random `Y` (feedback alignment), `Q^l = p_b Y^l`: `y[l − 1]` given.
    pub fn random(y: Vec<DMatrix<T>>, p_baseline: f64) -> Self {
        let q = y.iter().map(|m| m * T::c(p_baseline)).collect();
        Feedback { y, q }
    }

    /// Re-ties `Y` (and `Q = p_b Y`) to the current weights (the code's `tied` modes, after
    /// every update).
    pub fn retie(&mut self, net: &FeedForward, params: &Params<T>, p_baseline: f64, scale: f64) {
        *self = Feedback::tied(net, params, p_baseline, scale);
    }

    /// Shapes and finiteness, naming `feedback.y[i]` / `feedback.q[i]`.
    pub fn validate(&self, net: &FeedForward) -> credit_core::Result<()> {
        for (name, list) in [("y", &self.y), ("q", &self.q)] {
            if list.len() != net.n_layers() - 1 {
                return Err(Error::Shape {
                    field: format!("feedback.{name}"),
                    expected: format!("{} matrices", net.n_layers() - 1),
                    found: format!("{} matrices", list.len()),
                });
            }
            for (i, m) in list.iter().enumerate() {
                let (r, c) = (net.sizes[i + 2], net.sizes[i + 1]);
                let field = format!("feedback.{name}[{i}]");
                if m.shape() != (r, c) {
                    return Err(Error::Shape {
                        field,
                        expected: format!("{r}×{c}"),
                        found: format!("{}×{}", m.nrows(), m.ncols()),
                    });
                }
                if let Some(k) = m.iter().position(|v| !v.is_finite_value()) {
                    return Err(Error::NonFinite { field, index: k.to_string(), value: m[k].value() });
                }
            }
        }
        Ok(())
    }
}

/// Everything one single phase computes, per layer `l = 0..=L` (entry 0: `e^0 = x`, the others
/// empty).
#[derive(Clone, Debug, PartialEq)]
pub struct Signals<T: Scalar> {
    /// Event rates `e^l` (C1).
    pub e: Vec<DVector<T>>,
    /// Burst probabilities `p^l` (C2, C4).
    pub p: Vec<DVector<T>>,
    /// Burst rates `b^l = p^l ⊙ e^l` (C5).
    pub b: Vec<DVector<T>>,
    /// Apical potentials `a^l` of the hidden layers (C3); empty for `l = 0` and `l = L`.
    pub apical: Vec<DVector<T>>,
    /// The burst deviations `(p^l − p_b) ⊙ e^l` (C6), the plasticity signal.
    pub deviation: Vec<DVector<T>>,
    /// The update direction `ΔW^l = ((p^l − p_b) ⊙ e^l)(e^{l−1})ᵀ`, `Δb^l = (p^l − p_b) ⊙ e^l`
    /// (C6), the layout of the parameters; the learning rate is not applied.
    pub dw: Params<T>,
}

/// BurstCCN's event rates are sigmoid (C1): a typed error naming `feedforward.hidden` or
/// `feedforward.output` otherwise. Shared by [`signals`] and [`continuous::step`].
pub(crate) fn validate_sigmoid(net: &FeedForward) -> credit_core::Result<()> {
    for (field, f) in [("feedforward.hidden", net.hidden), ("feedforward.output", net.output)] {
        if f != Activation::Sigmoid {
            return Err(Error::Invalid {
                field: field.into(),
                value: f.id().into(),
                requirement: "BurstCCN's event rates are sigmoid",
            });
        }
    }
    Ok(())
}

/// A teaching signal, if any, has one finite entry per output unit: a typed error naming
/// `target` otherwise. Shared by [`signals`] and [`continuous::step`].
pub(crate) fn validate_target(net: &FeedForward, target: Option<&DVector<f64>>) -> credit_core::Result<()> {
    if let Some(t) = target {
        if t.len() != net.n_out() {
            return Err(Error::Shape {
                field: "target".into(),
                expected: format!("{} entries", net.n_out()),
                found: format!("{} entries", t.len()),
            });
        }
        if let Some(i) = t.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite { field: "target".into(), index: i.to_string(), value: t[i] });
        }
    }
    Ok(())
}

/// One single phase (C1)–(C6) on one sample. `target`: `None` leaves the output at `p_b`
/// (no teaching signal). The network must have sigmoid hidden and output layers.
pub fn signals<T: Scalar>(
    net: &FeedForward,
    params: &Params<T>,
    fb: &Feedback<T>,
    burst: &Burst,
    x: &DVector<T>,
    target: Option<&DVector<f64>>,
) -> credit_core::Result<Signals<T>> {
    burst.validate()?;
    validate_sigmoid(net)?;
    fb.validate(net)?;
    let traj = forward(net, params, x)?; // (C1) e^l = σ(W^l e^{l−1} + b^l)
    let layers = net.n_layers();
    validate_target(net, target)?;
    let e = traj.y;
    let pb = T::c(burst.p_baseline);
    let empty = || DVector::<T>::zeros(0);
    let (mut p, mut b, mut apical) =
        (vec![empty(); layers + 1], vec![empty(); layers + 1], vec![empty(); layers + 1]);
    let el = &e[layers];
    p[layers] = match target {
        // (C2) p^L = p_b (1 + (y − e^L) ⊙ (1 − e^L))
        Some(t) => {
            DVector::from_fn(el.len(), |k, _| pb * (T::one() + (T::c(t[k]) - el[k]) * (T::one() - el[k])))
        }
        None => DVector::from_element(el.len(), pb), // (C2) no target: p^L = p_b
    };
    b[layers] = p[layers].component_mul(el); // (C5) b^L = p^L ⊙ e^L
    for l in (1..layers).rev() {
        // (C3) a^l = (Y^l)ᵀ b^{l+1} − (Q^l)ᵀ e^{l+1}
        apical[l] = fb.y[l - 1].tr_mul(&b[l + 1]) - fb.q[l - 1].tr_mul(&e[l + 1]);
        p[l] = DVector::from_fn(e[l].len(), |i, _| burst.probability(apical[l][i], e[l][i])); // (C4)
        b[l] = p[l].component_mul(&e[l]); // (C5) b^l = p^l ⊙ e^l
    }
    let mut deviation = vec![empty(); layers + 1];
    let mut dw = net.zeros();
    for l in 1..=layers {
        deviation[l] = &b[l] - &e[l] * pb; // (C6) (p^l − p_b) ⊙ e^l = b^l − p_b e^l
        dw.tensors[net.w_index(l)].value = &deviation[l] * e[l - 1].transpose(); // (C6) ΔW^l
        if let Some(bi) = net.b_index(l) {
            dw.tensors[bi].value = DMatrix::from_column_slice(deviation[l].len(), 1, deviation[l].as_slice()); // (C6) Δb^l
        }
    }
    Ok(Signals { e, p, b, apical, deviation, dw })
}

/// The learned-feedback directions of (C7) for hidden layer `l` (`1 ≤ l < L`):
/// `(ΔY^l, ΔQ^l) = (−e^{l+1} (a^l)ᵀ, +e^{l+1} (a^l)ᵀ)` (the code's `grad_weight_Y`, `grad_weight_Q`
/// with the sign of a descent step); both drive the apical potential toward zero when there
/// is no teaching signal, and `ΔQ^l = −∇_{Q^l} ½‖a^l‖²`.
pub fn feedback_update<T: Scalar>(s: &Signals<T>, l: usize) -> (DMatrix<T>, DMatrix<T>) {
    let outer = &s.e[l + 1] * s.apical[l].transpose(); // (C7) e^{l+1} (a^l)ᵀ
    (-&outer, outer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (FeedForward, Params<f64>, DVector<f64>) {
        let net = FeedForward::new(vec![3, 4, 3, 2], Activation::Sigmoid, Activation::Sigmoid, true).unwrap();
        let p = net.random_params::<f64>(5, 2.0, 0.2).unwrap();
        (net, p, DVector::from_vec(vec![0.3, -1.2, 0.8]))
    }

    #[test]
    fn bad_input_is_a_typed_error_naming_the_field() {
        let (net, p, x) = setup();
        let fb = Feedback::tied(&net, &p, 0.5, 1.0);
        let e = signals(&net, &p, &fb, &Burst { p_baseline: 0.2, form: BurstForm::NeurIps }, &x, None)
            .unwrap_err();
        assert!(e.to_string().starts_with("burst.p_baseline"), "{e}");
        let e = signals(&net, &p, &fb, &Burst { p_baseline: 1.0, form: BurstForm::Journal }, &x, None)
            .unwrap_err();
        assert!(e.to_string().starts_with("burst.p_baseline"), "{e}");
        let mut bad = fb.clone();
        bad.y[1] = DMatrix::zeros(3, 3);
        let e = signals(&net, &p, &bad, &Burst::NEURIPS, &x, None).unwrap_err();
        assert!(e.to_string().starts_with("feedback.y[1]"), "{e}");
        let e = signals(&net, &p, &fb, &Burst::NEURIPS, &x, Some(&DVector::zeros(3))).unwrap_err();
        assert!(e.to_string().starts_with("target"), "{e}");
        let relu = FeedForward { hidden: Activation::Relu, ..net.clone() };
        let e = signals(&relu, &p, &fb, &Burst::NEURIPS, &x, None).unwrap_err();
        assert!(e.to_string().starts_with("feedforward.hidden"), "{e}");
    }

    /// (C4): both forms give `p_b` at `a = 0` and have slope 1 in `a (1 − e)` there.
    #[test]
    fn burst_functions_are_centred_with_unit_slope() {
        for burst in [Burst::NEURIPS, Burst { p_baseline: 0.2, form: BurstForm::Journal }] {
            let e = 0.3;
            assert!((burst.probability(0.0, e) - burst.p_baseline).abs() < 1e-15);
            let h = 1e-6;
            let slope = (burst.probability(h, e) - burst.probability(-h, e)) / (2.0 * h);
            assert!((slope - (1.0 - e)).abs() < 1e-8, "{burst:?}: {slope}");
        }
    }

    /// P-c5 (C7): teacher-free learning of Q drives the apical potential to zero and Q to
    /// `p_b Y` along the presented events.
    #[test]
    fn learned_q_cancels_the_events() {
        let (net, p, x) = setup();
        let tied = Feedback::tied(&net, &p, 0.5, 1.0);
        let mut fb = Feedback { y: tied.y.clone(), q: tied.y.iter().map(|m| m * 0.1).collect() };
        let first = signals(&net, &p, &fb, &Burst::NEURIPS, &x, None).unwrap();
        for _ in 0..300 {
            let s = signals(&net, &p, &fb, &Burst::NEURIPS, &x, None).unwrap();
            for l in 1..net.n_layers() {
                fb.q[l - 1] += feedback_update(&s, l).1 * 0.5;
            }
        }
        let last = signals(&net, &p, &fb, &Burst::NEURIPS, &x, None).unwrap();
        for l in 1..net.n_layers() {
            assert!(first.apical[l].amax() > 1e-2, "layer {l} starts with a live apical potential");
            assert!(last.apical[l].amax() < 1e-10, "layer {l}: {}", last.apical[l].amax());
            // along e^{l+1}: (Q − p_b Y)ᵀ e = 0
            let resid = (&fb.q[l - 1] - &tied.q[l - 1]).tr_mul(&last.e[l + 1]);
            assert!(resid.amax() < 1e-10, "layer {l}: {}", resid.amax());
        }
    }
}
