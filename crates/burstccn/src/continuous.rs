//! # Continuous-time BurstCCN (Eqs. CT1–CT5 of `docs/burstccn.md` §6)
//!
//! The authors' continuous-time model (`neuralml/BurstCCN`, `modules/continuous_burstccn_layers.py`,
//! `modules/continuous_burstccn_networks.py`, `teaching_update`), transcribed step for step: Euler
//! steps of leaky somatic and dendritic potentials, the burst probability read from the
//! dendritic potential, and a slow weight update from the *cached* (previous-step) burst
//! probabilities. Its states settle, for a fixed input, target and weights, on the discrete
//! model's (C1)–(C5), and its weight increment is then `dt/τ_W` × the discrete `ΔW` of (C6)
//! (relation `burstccn-ct-steady=discrete`).
//!
//! Conventions: `Feedback::q` is the discrete `Q` (subtracted); the code's `weight_Q` is `−Q`
//! (it adds `weight_Qᵀ e` and initialises `weight_Q = −p_b W`). The code fixes `p_b = ½` (the
//! output layer overwrites it) and the hidden gain `β = 4`.

use crate::{Feedback, validate_sigmoid, validate_target};
use credit_core::feedforward::{Activation, FeedForward};
use credit_core::{Error, Params, Scalar};
use nalgebra::DVector;

/// The baseline burst probability of the continuous-time code (`p_baseline = 0.5`).
pub const P_BASELINE: f64 = 0.5;
/// The hidden layers' dendritic gain `β` (`self.beta = 4.0`).
pub const BETA: f64 = 4.0;

/// Time step and time constants (seconds of model time).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Timing {
    /// Euler step `dt`.
    pub dt: f64,
    /// Somatic time constant `τ_z` (the code's `tau_z`).
    pub tau_z: f64,
    /// Dendritic time constant `τ_u` (`tau_u`).
    pub tau_u: f64,
    /// Weight time constant `τ_W` (`tau_W`).
    pub tau_w: f64,
}

impl Timing {
    /// The code's values: `dt = 0.1`, `τ_z = τ_u = 0.1`, `τ_W = 100`.
    pub const AUTHORS: Timing = Timing { dt: 0.1, tau_z: 0.1, tau_u: 0.1, tau_w: 100.0 };

    /// Every constant positive and finite, and `dt ≤ τ_z`, `dt ≤ τ_u` (each Euler step a
    /// convex combination of the old potential and its drive).
    pub fn validate(&self) -> credit_core::Result<()> {
        for (field, v) in [
            ("timing.dt", self.dt),
            ("timing.tau_z", self.tau_z),
            ("timing.tau_u", self.tau_u),
            ("timing.tau_w", self.tau_w),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(Error::Invalid {
                    field: field.into(),
                    value: v.to_string(),
                    requirement: "must be positive and finite",
                });
            }
        }
        if self.dt > self.tau_z || self.dt > self.tau_u {
            return Err(Error::Invalid {
                field: "timing.dt".into(),
                value: self.dt.to_string(),
                requirement: "must not exceed tau_z nor tau_u",
            });
        }
        Ok(())
    }
}

/// The network's state, per layer `l = 1..=L` (entry 0 unused), with the caches the code
/// takes before each layer's update (`cache_state`).
#[derive(Clone, Debug, PartialEq)]
pub struct State<T: Scalar> {
    /// Somatic potentials `u^l` (`soma_potential`).
    pub u: Vec<DVector<T>>,
    /// Event rates `e^l = σ(u^l)`.
    pub e: Vec<DVector<T>>,
    /// Dendritic potentials `v^l` of the hidden layers (`dendritic_potential`).
    pub v: Vec<DVector<T>>,
    /// Burst probabilities `p^l`.
    pub p: Vec<DVector<T>>,
    /// Burst rates `b^l = p^l ⊙ e^l`.
    pub b: Vec<DVector<T>>,
    /// Cached event rates (`event_rate_cache`).
    pub e_cache: Vec<DVector<T>>,
    /// Cached burst probabilities (`burst_prob_cache`).
    pub p_cache: Vec<DVector<T>>,
    /// Cached burst rates (`burst_rate_cache`).
    pub b_cache: Vec<DVector<T>>,
}

impl<T: Scalar> State<T> {
    /// All zeros, as the code initialises every state.
    pub fn zeros(net: &FeedForward) -> Self {
        let z: Vec<DVector<T>> =
            net.sizes.iter().enumerate().map(|(l, &n)| DVector::zeros(if l == 0 { 0 } else { n })).collect();
        State {
            u: z.clone(),
            e: z.clone(),
            v: z.clone(),
            p: z.clone(),
            b: z.clone(),
            e_cache: z.clone(),
            p_cache: z.clone(),
            b_cache: z,
        }
    }

    fn cache(&mut self, l: usize) {
        self.e_cache[l] = self.e[l].clone();
        self.b_cache[l] = self.b[l].clone();
        self.p_cache[l] = self.p[l].clone();
    }
}

/// One `teaching_update` step (target `Some`) or `prediction_update`'s state part (`None`):
/// advances `state` and returns the weight increment `Δ` of (CT5) in the layout of the
/// parameters (the caller adds it to the weights, or not, to freeze them).
pub fn step<T: Scalar>(
    net: &FeedForward,
    params: &Params<T>,
    fb: &Feedback<T>,
    timing: &Timing,
    state: &mut State<T>,
    x: &DVector<T>,
    target: Option<&DVector<f64>>,
) -> credit_core::Result<Params<T>> {
    timing.validate()?;
    validate_sigmoid(net)?;
    net.validate_params(params)?;
    net.validate_input(x)?;
    fb.validate(net)?;
    let layers = net.n_layers();
    validate_target(net, target)?;
    if state.u.len() != layers + 1 || (1..=layers).any(|l| state.u[l].len() != net.sizes[l]) {
        return Err(Error::Shape {
            field: "state".into(),
            expected: format!("{layers} layers of sizes {:?}", &net.sizes[1..]),
            found: format!("{} entries", state.u.len()),
        });
    }
    let sig = Activation::Sigmoid;
    let one = T::one();
    let pb = T::c(P_BASELINE);
    let (kz, ku) = (T::c(timing.dt / timing.tau_z), T::c(timing.dt / timing.tau_u));
    // (CT1) layers in order: cache, then u ← (1 − dt/τ_z) u + (dt/τ_z)(W e^{l−1} + b), e = σ(u)
    let mut input = x.clone();
    for l in 1..=layers {
        state.cache(l);
        let mut drive = &params.tensors[net.w_index(l)].value * &input;
        if let Some(bi) = net.b_index(l) {
            drive += params.tensors[bi].value.column(0);
        }
        state.u[l] = &state.u[l] * (one - kz) + drive * kz; // (CT1)
        state.e[l] = state.u[l].map(|v| sig.apply(v)); // (CT1) e = σ(u)
        input = state.e[l].clone();
    }
    // (CT2) output: p^L = p_b + p_b (y − e^L) ⊙ (1 − e^L) on the current e^L; p_b without a target
    let el = state.e[layers].clone();
    state.p[layers] = match target {
        Some(t) => DVector::from_fn(el.len(), |k, _| pb + pb * (T::c(t[k]) - el[k]) * (one - el[k])), // (CT2)
        None => DVector::from_element(el.len(), pb), // (CT2) no target
    };
    state.b[layers] = state.p[layers].component_mul(&el); // (CT2) b = p ⊙ e
    // the layer above hands down its caches: the output's from before this step's update
    let (mut e_next, mut b_next) = (state.e_cache[layers].clone(), state.b_cache[layers].clone());
    for l in (1..layers).rev() {
        state.cache(l); // the code caches again: e_cache = this step's e, b_cache, p_cache the last step's
        // (CT3) v ← (1 − dt/τ_u) v + (dt/τ_u) β (1 − e_cache) ⊙ (Yᵀ b_next − Qᵀ e_next)
        let apical = fb.y[l - 1].tr_mul(&b_next) - fb.q[l - 1].tr_mul(&e_next);
        let h = state.e_cache[l].map(|e| one - e); // (CT3) h(e) = 1 − e
        state.v[l] = &state.v[l] * (one - ku) + h.component_mul(&apical) * (T::c(BETA) * ku); // (CT3)
        state.p[l] = state.v[l].map(|v| sig.apply(v)); // (CT4) p = σ(v)
        state.b[l] = state.p[l].component_mul(&state.e[l]); // (CT4) b = p ⊙ e
        e_next = state.e_cache[l].clone();
        b_next = state.b_cache[l].clone();
    }
    // (CT5) W^l += (dt/τ_W) ((p_cache − p_b) ⊙ e_cache)(pre)ᵀ, pre = x or e_cache^{l−1}; b^l likewise
    let kw = T::c(timing.dt / timing.tau_w);
    let mut dw = net.zeros();
    for l in 1..=layers {
        let dev =
            DVector::from_fn(net.sizes[l], |i, _| (state.p_cache[l][i] - pb) * state.e_cache[l][i] * kw); // (CT5)
        let pre = if l == 1 { x } else { &state.e_cache[l - 1] };
        dw.tensors[net.w_index(l)].value = &dev * pre.transpose(); // (CT5)
        if let Some(bi) = net.b_index(l) {
            dw.tensors[bi].value = nalgebra::DMatrix::from_column_slice(dev.len(), 1, dev.as_slice()); // (CT5)
        }
    }
    Ok(dw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_timing_and_state_are_typed_errors() {
        let net = FeedForward::new(vec![3, 4, 2], Activation::Sigmoid, Activation::Sigmoid, true).unwrap();
        let p = net.random_params::<f64>(1, 2.0, 0.2).unwrap();
        let fb = Feedback::tied(&net, &p, P_BASELINE, 1.0);
        let x = DVector::from_vec(vec![0.5, -1.0, 2.0]);
        let mut s = State::zeros(&net);
        let bad = Timing { dt: 0.2, ..Timing::AUTHORS };
        let e = step(&net, &p, &fb, &bad, &mut s, &x, None).unwrap_err();
        assert!(e.to_string().starts_with("timing.dt"), "{e}");
        let bad = Timing { tau_w: f64::NAN, ..Timing::AUTHORS };
        let e = step(&net, &p, &fb, &bad, &mut s, &x, None).unwrap_err();
        assert!(e.to_string().starts_with("timing.tau_w"), "{e}");
        let mut wrong = State::<f64>::zeros(
            &FeedForward::new(vec![3, 5, 2], Activation::Sigmoid, Activation::Sigmoid, true).unwrap(),
        );
        let e = step(&net, &p, &fb, &Timing::AUTHORS, &mut wrong, &x, None).unwrap_err();
        assert!(e.to_string().starts_with("state"), "{e}");
    }
}
