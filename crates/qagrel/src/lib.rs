//! # credit-qagrel — Q-AGREL / BrainProp
//!
//! Pozzi, Bohté & Roelfsema, *A biologically plausible learning rule for deep learning in the
//! brain* (arXiv:1811.01768), published as *Attention-Gated Brain Propagation: how the brain
//! can implement reward-based error backpropagation* (NeurIPS 2020, "BrainProp"); authors' code
//! `isapome/BrainProp` (`brainprop.py`). Equations (Q1)–(Q8) of `docs/qagrel.md`, on the
//! feedforward networks of [`credit_core::feedforward`] (Eq. FF1 of `docs/feedforward.md`).
//!
//! The output units are action values `Q = y^L`. One trial:
//!
//! 1. the policy picks one action `a` from `Q` (ε-greedy or Max-Boltzmann, [`Policy`], Q1–Q2)
//!    with a seeded RNG;
//! 2. the environment returns a reward `r` (classification: `r = 1[a = label]`, [`reward`], Q3);
//!    the reward-prediction error is `δ = r − Q_a` (Q4);
//! 3. an attention signal starts at the chosen unit only and travels down through the feedback
//!    weights `W′`, gated by the slopes `f′` (Q5–Q6); `W′^l = (W^l)ᵀ` unless separate feedback
//!    weights are given;
//! 4. every synapse changes by pre-synaptic activity × its unit's feedback (the "tag") × the
//!    global `δ` (Q7), and the feedback weights by the transpose (reciprocal learning, Q8).
//!
//! With `W′ = Wᵀ` the update (Q7) is exactly `−∇_θ ½(r − Q_a)²` for the chosen `a` (property
//! P-a1), its expectation over the policy is the gradient of the π-weighted squared error
//! (P-a2), and (Q8) leaves `W′ − Wᵀ` unchanged (P-a3); `credit-check` proves all three.
//!
//! ```
//! use credit_core::{Activation, FeedForward};
//! use credit_qagrel::{Policy, update};
//! use nalgebra::DVector;
//! let net = FeedForward::new(vec![4, 6, 3], Activation::Relu, Activation::Linear, false)?;
//! let p = net.random_params::<f64>(3, 1.5, 0.0)?;
//! let x = DVector::from_vec(vec![1.0, -0.5, 0.3, 2.0]);
//! let u = update(&net, &p, None, &x, 1, 1.0)?;
//! assert_eq!(u.rpe, 1.0 - u.q[1]); // δ = r − Q_a
//! let probs = Policy::MaxBoltzmann { epsilon: 0.02, temperature: 1.0 }.probabilities(&u.q)?;
//! assert!((probs.sum() - 1.0).abs() < 1e-12);
//! # Ok::<(), credit_core::Error>(())
//! ```

use credit_core::feedforward::{FeedForward, FfTrajectory, forward};
use credit_core::{Error, Params, Scalar};
use nalgebra::{DMatrix, DVector};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// How an action is chosen from the action values `Q` (Eq. Q1–Q2).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Policy {
    /// Always `argmax_k Q_k` (the first maximum; the test-time policy).
    Greedy,
    /// With probability `1 − ε` the argmax, else an action drawn uniformly.
    EpsilonGreedy {
        /// `ε ∈ [0, 1]`.
        epsilon: f64,
    },
    /// With probability `1 − ε` the argmax, else an action drawn from `softmax(Q/τ)` (the
    /// authors' code: `ε = 0.02`, `τ = 1`).
    MaxBoltzmann {
        /// `ε ∈ [0, 1]`.
        epsilon: f64,
        /// `τ > 0`.
        temperature: f64,
    },
}

impl Policy {
    /// BrainProp's training policy: Max-Boltzmann with `ε = 0.02`, `τ = 1` (`brainprop.py`).
    pub const BRAINPROP: Policy = Policy::MaxBoltzmann { epsilon: 0.02, temperature: 1.0 };

    /// `ε ∈ [0, 1]`, `τ > 0`, each named in the error.
    pub fn validate(&self) -> credit_core::Result<()> {
        let eps = match *self {
            Policy::Greedy => return Ok(()),
            Policy::EpsilonGreedy { epsilon } => epsilon,
            Policy::MaxBoltzmann { epsilon, temperature } => {
                if !(temperature.is_finite() && temperature > 0.0) {
                    return Err(Error::Invalid {
                        field: "policy.temperature".into(),
                        value: temperature.to_string(),
                        requirement: "must be finite and > 0",
                    });
                }
                epsilon
            }
        };
        if !(0.0..=1.0).contains(&eps) {
            return Err(Error::Invalid {
                field: "policy.epsilon".into(),
                value: eps.to_string(),
                requirement: "must lie in [0, 1]",
            });
        }
        Ok(())
    }

    /// `π(k | x)` for every action (Eq. Q1):
    /// `(1 − ε)·1[k = argmax Q] + ε·u_k` with `u_k = 1/K` (ε-greedy) or
    /// `u_k = softmax(Q/τ)_k` (Max-Boltzmann).
    pub fn probabilities<T: Scalar>(&self, q: &DVector<T>) -> credit_core::Result<DVector<f64>> {
        self.validate()?;
        let q = check_q(q)?;
        let k = q.len();
        let best = argmax(&q);
        let greedy = DVector::from_fn(k, |i, _| if i == best { 1.0 } else { 0.0 });
        Ok(match *self {
            Policy::Greedy => greedy,
            Policy::EpsilonGreedy { epsilon } => {
                greedy * (1.0 - epsilon) + DVector::repeat(k, epsilon / k as f64)
            } // (Q1)
            Policy::MaxBoltzmann { epsilon, temperature } => {
                greedy * (1.0 - epsilon) + softmax(&q, temperature) * epsilon // (Q1)
            }
        })
    }

    /// Draws an action (Eq. Q2): one uniform `v ∈ [0, 1)`; `v ≥ ε` gives the argmax (the
    /// authors' code: `random > epsilon`), else a second draw picks the exploratory action
    /// (uniform, or by inverting the cumulative softmax).
    pub fn select<T: Scalar, R: Rng>(&self, q: &DVector<T>, rng: &mut R) -> credit_core::Result<usize> {
        self.validate()?;
        let q = check_q(q)?;
        let best = argmax(&q);
        let eps = match *self {
            Policy::Greedy => return Ok(best),
            Policy::EpsilonGreedy { epsilon } | Policy::MaxBoltzmann { epsilon, .. } => epsilon,
        };
        if rng.random::<f64>() >= eps {
            return Ok(best); // (Q2) exploit
        }
        Ok(match *self {
            Policy::MaxBoltzmann { temperature, .. } => {
                // (Q2) explore: a ∼ softmax(Q/τ)
                let p = softmax(&q, temperature);
                let v: f64 = rng.random();
                let mut acc = 0.0;
                p.iter()
                    .position(|&pk| {
                        acc += pk;
                        v < acc
                    })
                    .unwrap_or(q.len() - 1)
            }
            _ => rng.random_range(0..q.len()), // (Q2) explore: a uniform
        })
    }
}

fn check_q<T: Scalar>(q: &DVector<T>) -> credit_core::Result<DVector<f64>> {
    if q.is_empty() {
        return Err(Error::Empty { field: "q".into() });
    }
    let v = q.map(|x| x.value());
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        return Err(Error::NonFinite { field: "q".into(), index: i.to_string(), value: v[i] });
    }
    Ok(v)
}

/// The first index of the largest entry (TensorFlow's `argmax`).
pub fn argmax(q: &DVector<f64>) -> usize {
    let mut best = 0;
    for (i, &v) in q.iter().enumerate() {
        if v > q[best] {
            best = i;
        }
    }
    best
}

/// `softmax(q/τ)`, shifted by the maximum (no overflow).
fn softmax(q: &DVector<f64>, temperature: f64) -> DVector<f64> {
    let m = q.max();
    let e = q.map(|v| ((v - m) / temperature).exp());
    let s = e.sum();
    e / s
}

/// The reward of the classification tasks (Eq. Q3): `1` when the chosen action is the label,
/// else `0` (BrainProp's `BrainPropLoss`: the selected unit's target is the one-hot label).
pub fn reward(action: usize, label: usize) -> f64 {
    if action == label { 1.0 } else { 0.0 }
}

/// What one trial computes (Eq. Q4–Q7).
#[derive(Clone, Debug, PartialEq)]
pub struct Update<T: Scalar> {
    /// The action values `Q = y^L`.
    pub q: DVector<T>,
    /// The chosen action `a`.
    pub action: usize,
    /// The reward `r`.
    pub reward: f64,
    /// The reward-prediction error `δ = r − Q_a` (Q4).
    pub rpe: T,
    /// The attention-gated feedback `fb^l`, `l = 0..=L` (entry 0 is empty; Q5–Q6).
    pub feedback: Vec<DVector<T>>,
    /// The update direction `ΔW^l = δ fb^l (y^{l−1})ᵀ`, `Δb^l = δ fb^l` (Q7), the layout of the
    /// parameters; the learning rate `α` is not applied.
    pub dw: Params<T>,
    /// The forward pass.
    pub trajectory: FfTrajectory<T>,
}

/// One trial's update (Eq. Q4–Q7) for a given action and reward. `feedback`: `None` uses
/// `W′^l = (W^l)ᵀ`; `Some(list)` uses `list[l − 1] = W′^l` (`n_{l−1} × n_l`; `W′^1` is never
/// read by the feedback pass but is kept so that (Q8) updates every layer alike).
pub fn update<T: Scalar>(
    net: &FeedForward,
    params: &Params<T>,
    feedback: Option<&[DMatrix<T>]>,
    x: &DVector<T>,
    action: usize,
    reward: f64,
) -> credit_core::Result<Update<T>> {
    let traj = forward(net, params, x)?;
    if let Some(fb) = feedback {
        check_feedback(net, fb)?;
    }
    let layers = net.n_layers();
    if action >= net.n_out() {
        return Err(Error::Invalid {
            field: "action".into(),
            value: action.to_string(),
            requirement: "must be an output unit (< n_L)",
        });
    }
    if !reward.is_finite() {
        return Err(Error::NonFinite { field: "reward".into(), index: "0".into(), value: reward });
    }
    let q = traj.output().clone();
    let rpe = T::c(reward) - q[action]; // (Q4) δ = r − Q_a
    let mut fb = vec![DVector::zeros(0); layers + 1];
    let f_out = net.activation(layers);
    // (Q5) fb^L = f_L'(u^L) ⊙ e_a: only the chosen unit sends feedback
    fb[layers] =
        DVector::from_fn(
            net.n_out(),
            |k, _| {
                if k == action { f_out.prime(traj.u[layers][k]) } else { T::zero() }
            },
        );
    for l in (1..layers).rev() {
        let back = match feedback {
            Some(w) => &w[l] * &fb[l + 1], // (Q6) W′^{l+1} fb^{l+1}
            None => params.tensors[net.w_index(l + 1)].value.tr_mul(&fb[l + 1]), // (Q6) W′ = Wᵀ
        };
        let f = net.activation(l);
        fb[l] = traj.u[l].map(|u| f.prime(u)).component_mul(&back); // (Q6) f_l'(u^l) ⊙ …
    }
    let mut dw = net.zeros();
    for l in 1..=layers {
        let tag = &fb[l] * rpe; // (Q7) δ fb^l
        dw.tensors[net.w_index(l)].value = &tag * traj.y[l - 1].transpose(); // (Q7) δ fb^l (y^{l−1})ᵀ
        if let Some(bi) = net.b_index(l) {
            dw.tensors[bi].value = DMatrix::from_column_slice(tag.len(), 1, tag.as_slice()); // (Q7) δ fb^l
        }
    }
    Ok(Update { q, action, reward, rpe, feedback: fb, dw, trajectory: traj })
}

/// The policy-weighted update `Σ_a π(a|x) ΔW(a)` over every action `a` with the classification
/// reward `r_a = 1[a = label]` (Eq. Q9: the expectation of (Q7) under the policy, π held fixed).
pub fn expected_update<T: Scalar>(
    net: &FeedForward,
    params: &Params<T>,
    feedback: Option<&[DMatrix<T>]>,
    x: &DVector<T>,
    label: usize,
    policy: &Policy,
) -> credit_core::Result<Params<T>> {
    let q = forward(net, params, x)?.output().clone();
    let pi = policy.probabilities(&q)?;
    let mut sum = net.zeros::<T>();
    for a in 0..net.n_out() {
        let u = update(net, params, feedback, x, a, reward(a, label))?;
        for (s, d) in sum.tensors.iter_mut().zip(&u.dw.tensors) {
            s.value += &d.value * T::c(pi[a]); // (Q9) Σ_a π_a ΔW(a)
        }
    }
    Ok(sum)
}

/// Checks separate feedback weights `W′^l` (`n_{l−1} × n_l`, `l = 1..=L`), named `feedback[l−1]`.
pub fn check_feedback<T: Scalar>(net: &FeedForward, feedback: &[DMatrix<T>]) -> credit_core::Result<()> {
    if feedback.len() != net.n_layers() {
        return Err(Error::Shape {
            field: "feedback".into(),
            expected: format!("{} matrices", net.n_layers()),
            found: format!("{} matrices", feedback.len()),
        });
    }
    for (i, b) in feedback.iter().enumerate() {
        let (r, c) = (net.sizes[i], net.sizes[i + 1]);
        let field = format!("feedback[{i}]");
        if b.shape() != (r, c) {
            return Err(Error::Shape {
                field,
                expected: format!("{r}×{c}"),
                found: format!("{}×{}", b.nrows(), b.ncols()),
            });
        }
        if let Some(k) = b.iter().position(|v| !v.is_finite_value()) {
            return Err(Error::NonFinite { field, index: k.to_string(), value: b[k].value() });
        }
    }
    Ok(())
}

/// A Q-AGREL learner: parameters, optional separate feedback weights, policy, learning rate and
/// its own seeded RNG (ChaCha8).
#[derive(Clone, Debug)]
pub struct Learner<T: Scalar> {
    /// The network.
    pub net: FeedForward,
    /// Its parameters.
    pub params: Params<T>,
    /// Separate feedback weights `W′^l` (`None`: `W′ = Wᵀ`).
    pub feedback: Option<Vec<DMatrix<T>>>,
    /// The training policy.
    pub policy: Policy,
    /// The learning rate `α > 0`.
    pub lr: f64,
    rng: ChaCha8Rng,
}

/// What a batch did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchStats {
    /// Mean reward.
    pub reward: f64,
    /// Mean `|δ|`.
    pub mean_abs_rpe: f64,
}

impl<T: Scalar> Learner<T> {
    /// A learner; `seed` seeds the action selection.
    pub fn new(
        net: FeedForward,
        params: Params<T>,
        feedback: Option<Vec<DMatrix<T>>>,
        policy: Policy,
        lr: f64,
        seed: u64,
    ) -> credit_core::Result<Self> {
        net.validate_params(&params)?;
        policy.validate()?;
        if let Some(fb) = &feedback {
            check_feedback(&net, fb)?;
        }
        if !(lr.is_finite() && lr > 0.0) {
            return Err(Error::Invalid {
                field: "lr".into(),
                value: lr.to_string(),
                requirement: "must be finite and > 0",
            });
        }
        Ok(Learner { net, params, feedback, policy, lr, rng: ChaCha8Rng::seed_from_u64(seed) })
    }

    /// One trial per sample (actions drawn in order), then the batch-mean update (Q7) applied
    /// with rate `α` to `W` and, transposed, to `W′` (Q8).
    pub fn train_batch(&mut self, xs: &[DVector<T>], labels: &[usize]) -> credit_core::Result<BatchStats> {
        if xs.len() != labels.len() {
            return Err(Error::Shape {
                field: "labels".into(),
                expected: format!("{} labels", xs.len()),
                found: format!("{} labels", labels.len()),
            });
        }
        if xs.is_empty() {
            return Err(Error::Empty { field: "batch".into() });
        }
        let mut sum = self.net.zeros::<T>();
        let (mut reward_sum, mut rpe_sum) = (0.0, 0.0);
        for (x, &label) in xs.iter().zip(labels) {
            let q = forward(&self.net, &self.params, x)?.output().clone();
            let a = self.policy.select(&q, &mut self.rng)?; // (Q2)
            let r = reward(a, label); // (Q3)
            let u = update(&self.net, &self.params, self.feedback.as_deref(), x, a, r)?;
            reward_sum += r;
            rpe_sum += u.rpe.value().abs();
            for (s, d) in sum.tensors.iter_mut().zip(&u.dw.tensors) {
                s.value += &d.value;
            }
        }
        let scale = T::c(self.lr / xs.len() as f64); // batch mean × α
        for l in 1..=self.net.n_layers() {
            let wi = self.net.w_index(l);
            let step = &sum.tensors[wi].value * scale;
            self.params.tensors[wi].value += &step; // (Q8) W^l ← W^l + α ΔW^l
            if let Some(fb) = &mut self.feedback {
                fb[l - 1] += step.transpose(); // (Q8) W′^l ← W′^l + α (ΔW^l)ᵀ
            }
            if let Some(bi) = self.net.b_index(l) {
                let step = &sum.tensors[bi].value * scale;
                self.params.tensors[bi].value += step; // (Q8) b^l ← b^l + α Δb^l
            }
        }
        let n = xs.len() as f64;
        Ok(BatchStats { reward: reward_sum / n, mean_abs_rpe: rpe_sum / n })
    }

    /// The test-time action: `argmax_k Q_k(x)`.
    pub fn predict(&self, x: &DVector<T>) -> credit_core::Result<usize> {
        let q = forward(&self.net, &self.params, x)?.output().map(|v| v.value());
        Ok(argmax(&q))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use credit_core::Activation;

    #[test]
    fn policies_sum_to_one_and_draws_follow_them() {
        let q = DVector::from_vec(vec![0.1, 0.7, -0.3, 0.2]);
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for pol in [
            Policy::Greedy,
            Policy::EpsilonGreedy { epsilon: 0.4 },
            Policy::MaxBoltzmann { epsilon: 0.5, temperature: 0.7 },
        ] {
            let p = pol.probabilities(&q).unwrap();
            assert!((p.sum() - 1.0).abs() < 1e-15);
            let n = 40_000;
            let mut counts = [0usize; 4];
            for _ in 0..n {
                counts[pol.select(&q, &mut rng).unwrap()] += 1;
            }
            for k in 0..4 {
                let f = counts[k] as f64 / n as f64;
                assert!((f - p[k]).abs() < 0.01, "{pol:?}: action {k}: {f} vs {}", p[k]);
            }
        }
    }

    #[test]
    fn bad_input_is_a_typed_error_naming_the_field() {
        let q = DVector::from_vec(vec![0.1, 0.2]);
        let e = Policy::EpsilonGreedy { epsilon: 1.5 }.probabilities(&q).unwrap_err();
        assert!(e.to_string().starts_with("policy.epsilon"), "{e}");
        let e = Policy::MaxBoltzmann { epsilon: 0.1, temperature: 0.0 }.probabilities(&q).unwrap_err();
        assert!(e.to_string().starts_with("policy.temperature"), "{e}");
        let net = FeedForward::new(vec![2, 3, 2], Activation::Relu, Activation::Linear, false).unwrap();
        let p = net.random_params::<f64>(1, 1.0, 0.0).unwrap();
        let x = DVector::from_vec(vec![1.0, 1.0]);
        let e = update(&net, &p, None, &x, 2, 1.0).unwrap_err();
        assert!(e.to_string().starts_with("action"), "{e}");
        let bad = vec![DMatrix::zeros(2, 3), DMatrix::zeros(2, 2)];
        let e = update(&net, &p, Some(&bad), &x, 0, 1.0).unwrap_err();
        assert!(e.to_string().starts_with("feedback[1]"), "{e}");
        let e = Learner::new(net, p, None, Policy::Greedy, -1.0, 0).unwrap_err();
        assert!(e.to_string().starts_with("lr"), "{e}");
    }
}
