//! Accumulate BP(λ), Eqs. (S8)–(S11) of `docs/synthgrad.md`.
//!
//! Pemberton & Costa, "BP(λ): Online learning via synthetic gradients", TMLR 2024 (arXiv
//! 2401.07044); transcribed from neuralml/bp_lambda `src/model/synthesiser.py`
//! (`update_TD_error`, `update_etraces_linear`, `update_etraces_one_layer`, `update_weights`).
//! Predictions are made at `h^1 … h^{T−1}` (the code's `first_forward` at its timestep 0 only
//! predicts), and `S^T := 0` at the end of the sequence (`final_step`). At step `t ≥ 2`:
//!
//! $$ \\delta^{t-1} = (J^t)^\\top \\big(\\ell'^t + \\gamma\\,S(h^t)\\big) - S^{t-1} \\quad\\text{(S8)} $$
//! $$ e^{t-1} = \\gamma\\lambda\\, J^{t-1} e^{t-2} + K^{t-1}, \\quad e^0 = 0 \\quad\\text{(S9)} $$
//! $$ \\Delta\\phi \\mathrel{+}= (e^{t-1})^\\top \\delta^{t-1} \\quad\\text{(S10)} $$
//!
//! with `e ∈ ℝ^{Nd × P_S}` (rows: components of the predicted gradient), `K^t = ∂S(h^t)/∂φ`
//! and `S^{t−1}` the prediction stored at `t − 1`. `γ` (discount of the future gradient),
//! `λ` (trace decay) and the cortex's `s` ([`crate::cortex`]) are three distinct numbers.
//!
//! The forward view (S11): the λ-return
//! $G^\\lambda_t = (J^{t+1})^\\top(\\ell'^{t+1} + \\gamma[(1-\\lambda) S^{t+1} + \\lambda G^\\lambda_{t+1}])$,
//! $G^\\lambda_T = 0$, and the update $\\sum_{t=1}^{T-1} (K^t)^\\top (G^\\lambda_t - S^t)$; with `φ`
//! held fixed over the sequence the two views are equal (property P-b1).

use crate::synth::Synth;
use crate::{Cortex, check_range};
use credit_core::{Network, Params, Result, Scalar, Sequence};
use nalgebra::{DMatrix, DVector};

/// The two numbers of BP(λ) itself.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BpLambdaOptions {
    /// Trace decay `λ ∈ [0, 1]` (the code's `lmbda`).
    pub lambda: f64,
    /// Discount `γ ∈ [0, 1]` of the future gradient (the code's `gamma`).
    pub gamma: f64,
}

impl BpLambdaOptions {
    fn validate(&self) -> Result<()> {
        check_range("bplambda.lambda", self.lambda, 0.0, 1.0, "lambda must lie in [0, 1]")?;
        check_range("bplambda.gamma", self.gamma, 0.0, 1.0, "gamma must lie in [0, 1]")
    }
}

/// What an offline pass (φ held fixed over the sequence) returns.
#[derive(Clone, Debug, PartialEq)]
pub struct BpLambda<T: Scalar> {
    /// `Σ_t (e^{t−1})ᵀ δ^{t−1}` (S10), flat layout of [`Synth`]: the ascent direction
    /// (the code feeds `−Δφ` to its optimiser as a gradient).
    pub update: DVector<T>,
    /// `δ^{t−1}` for `t = 2..=T` (entry `t − 2`).
    pub td_errors: Vec<DVector<T>>,
    /// `S^t = S(h^t)`, `t = 0..=T` (entries `0` and `T` are zero: no prediction there).
    pub predictions: Vec<DVector<T>>,
}

/// Accumulate BP(λ) with the synthesiser held fixed over the sequence (S8)–(S10); the
/// update is accumulated, not applied.
pub fn offline<T: Scalar>(
    net: &Network,
    params: &Params<T>,
    seq: &Sequence,
    synth: &Synth<T>,
    opts: BpLambdaOptions,
) -> Result<BpLambda<T>> {
    opts.validate()?;
    let cx = Cortex::replay(net, params, seq)?;
    check_synth(net, synth)?;
    let steps = cx.steps();
    let (gl, gamma) = (T::c(opts.gamma * opts.lambda), T::c(opts.gamma));
    let predictions = predictions(&cx, synth);
    let mut e = DMatrix::<T>::zeros(synth.n(), synth.len());
    let mut update = DVector::zeros(synth.len());
    let mut td_errors = Vec::with_capacity(steps.saturating_sub(1));
    for t in 2..=steps {
        // Eq. (S8): S^T = 0 at the final step
        let delta = cx.jt_times(t, &(&cx.direct[t] + &predictions[t] * gamma)) - &predictions[t - 1];
        // Eq. (S9): e^{t−1} = γλ J^{t−1} e^{t−2} + K^{t−1} (e^0 = 0: J^1 e^0 vanishes)
        if t >= 3 {
            e = cx.j_times(t - 1, &e) * gl;
        }
        e += synth.jacobian(cx.h(t - 1));
        update += e.tr_mul(&delta); // Eq. (S10)
        td_errors.push(delta);
    }
    Ok(BpLambda { update, td_errors, predictions })
}

/// Accumulate BP(λ) **online**, as the code runs it (`synthesiser.py` `forward`, l. 178–194):
/// at every step `t ≥ 2` the TD error (S8) with the prediction stored at `t − 1` and
/// `S(h^t)` with the current `φ`, the trace (S9) with `K` at the current `φ`, then the step
/// `φ += lr · Δφ / max(1, ‖Δφ‖)` (S10, the code's unit-norm clip, l. 330–332, with plain SGD:
/// `alpha_learning`), then `S^t` recomputed with the updated `φ` and stored. Returns
/// `Σ_t Δφ_t` (unclipped); with `lr = 0` it is [`offline`]'s update.
pub fn online(
    net: &Network,
    params: &Params<f64>,
    seq: &Sequence,
    synth: &mut Synth<f64>,
    opts: BpLambdaOptions,
    lr: f64,
) -> Result<DVector<f64>> {
    opts.validate()?;
    check_range("bplambda.lr", lr, 0.0, f64::MAX, "the learning rate must be finite and >= 0")?;
    let cx = Cortex::replay(net, params, seq)?;
    check_synth(net, synth)?;
    let steps = cx.steps();
    let predict =
        |s: &Synth<f64>, t: usize| if t == steps { DVector::zeros(s.n()) } else { s.predict(cx.h(t)) };
    let mut e = DMatrix::<f64>::zeros(synth.n(), synth.len());
    let mut total = DVector::zeros(synth.len());
    let mut stored = predict(synth, 1); // `first_forward`: predict only
    for t in 2..=steps {
        let now = predict(synth, t);
        let delta = cx.jt_times(t, &(&cx.direct[t] + now * opts.gamma)) - &stored; // Eq. (S8)
        if t >= 3 {
            e = cx.j_times(t - 1, &e) * (opts.gamma * opts.lambda); // Eq. (S9), decay
        }
        e += synth.jacobian(cx.h(t - 1)); // Eq. (S9), + K^{t−1} at the current φ
        let step = e.tr_mul(&delta); // Eq. (S10)
        total += &step;
        synth.add_flat(&(&step * (lr / step.norm().max(1.0))))?; // the code's clip, then SGD
        stored = predict(synth, t); // S^t with the updated φ
    }
    Ok(total)
}

/// The forward λ-return view (S11): `Σ_{t=1}^{T−1} (K^t)ᵀ (G^λ_t − S^t)`.
pub fn forward_view<T: Scalar>(
    net: &Network,
    params: &Params<T>,
    seq: &Sequence,
    synth: &Synth<T>,
    opts: BpLambdaOptions,
) -> Result<DVector<T>> {
    opts.validate()?;
    let cx = Cortex::replay(net, params, seq)?;
    check_synth(net, synth)?;
    let steps = cx.steps();
    let (lambda, gamma) = (T::c(opts.lambda), T::c(opts.gamma));
    let s = predictions(&cx, synth);
    let mut g = DVector::zeros(synth.n()); // G^λ_T = 0
    let mut out = DVector::zeros(synth.len());
    for t in (1..steps).rev() {
        // Eq. (S11): G^λ_t = (J^{t+1})ᵀ (ℓ'^{t+1} + γ[(1 − λ) S^{t+1} + λ G^λ_{t+1}])
        let mix = &s[t + 1] * (T::one() - lambda) + &g * lambda;
        g = cx.jt_times(t + 1, &(&cx.direct[t + 1] + mix * gamma));
        out += synth.jacobian(cx.h(t)).tr_mul(&(&g - &s[t])); // Eq. (S11), (K^t)ᵀ (G^λ_t − S^t)
    }
    Ok(out)
}

/// `S^t = S(h^t)` for `t = 1..T−1`, zero at `t = 0` and at `t = T` (the code's `final_step`).
fn predictions<T: Scalar>(cx: &Cortex<T>, synth: &Synth<T>) -> Vec<DVector<T>> {
    let steps = cx.steps();
    (0..=steps)
        .map(|t| if t == 0 || t == steps { DVector::zeros(synth.n()) } else { synth.predict(cx.h(t)) })
        .collect()
}

pub(crate) fn check_synth<T: Scalar>(net: &Network, synth: &Synth<T>) -> Result<()> {
    if synth.n() != crate::state_dim(net) {
        return Err(credit_core::Error::Shape {
            field: "synth.n".into(),
            expected: format!("{} (N·d, + K for a leaky readout)", crate::state_dim(net)),
            found: format!("{}", synth.n()),
        });
    }
    Ok(())
}
