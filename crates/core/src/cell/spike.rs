//! What LIF and ALIF share: the surrogate spike, refractoriness, reset and input conventions.
//!
//! Equations (L2)–(L4) of `docs/cells.md`, after Bellec et al. (2020), Methods, and the
//! authors' code (`IGITUGraz/eligibility_propagation`, class `EligALIF`).

use crate::error::{Result, check_decay, check_nonnegative, check_positive};
use crate::scalar::Scalar;
use num_traits::{Float, NumCast};

/// Pseudo-derivative (surrogate) shape used for `∂z/∂s` with `s = (v − A)/v_th`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Surrogate {
    /// Bellec et al. (2020): `γ·max(0, 1 − |s|)`, Eq. (L3); `γ = 0.3` in the paper.
    PiecewiseLinear {
        /// Dampening factor γ ("dampening_factor" in the authors' code).
        gamma: f64,
    },
}

impl Default for Surrogate {
    fn default() -> Self {
        Surrogate::PiecewiseLinear { gamma: 0.3 }
    }
}

impl Surrogate {
    /// `∂z/∂s` at the scaled distance `s`, generic (differentiable) form, Eq. (L3).
    pub fn slope<T: Scalar>(&self, s: T) -> T {
        match *self {
            Surrogate::PiecewiseLinear { gamma } => (T::one() - s.abs()).max(T::zero()) * T::c(gamma),
        }
    }

    fn slope_re<P: Float>(&self, s: P) -> P {
        match *self {
            Surrogate::PiecewiseLinear { gamma } => {
                let g: P = NumCast::from(gamma).unwrap_or_else(P::nan);
                (P::one() - s.abs()).max(P::zero()) * g
            }
        }
    }

    fn validate(&self, field: &str) -> Result<()> {
        match *self {
            Surrogate::PiecewiseLinear { gamma } => check_nonnegative(&format!("{field}.gamma"), gamma),
        }
    }
}

/// Whether the reset `−v_th z_j^{t-1}` is part of the differentiated graph.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Reset {
    /// The reset path is differentiated (Bellec et al. 2020, the default).
    #[default]
    Differentiated,
    /// The reset uses a stop-gradient copy of `z` (a common convention, e.g. snnTorch's
    /// `reset_mechanism` with detached reset); `R^t` then has no diagonal reset term.
    Detached,
}

/// Prefactor ζ on the input currents, Eq. (L1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InputScale {
    /// ζ = 1 (Bellec et al. 2020, `EligALIF`).
    #[default]
    One,
    /// ζ = 1 − α (the TF tutorial class `LightLIF`; NEST's option).
    OneMinusAlpha,
}

/// The parameters shared by LIF and ALIF neurons.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spiking {
    /// Membrane decay `α = exp(−δt/τ_m)` in (0, 1].
    pub alpha: f64,
    /// Threshold `v_th > 0` (also the reset amount and the scale of `s`).
    pub v_th: f64,
    /// Surrogate derivative shape.
    pub surrogate: Surrogate,
    /// Refractory steps after a spike during which the neuron cannot spike and ψ = 0
    /// (Eq. L4). `0` disables refractoriness. Equals the TF code's `n_refractory − 1`.
    pub n_ref: u32,
    /// Reset convention.
    pub reset: Reset,
    /// Input prefactor convention.
    pub input_scale: InputScale,
}

impl Spiking {
    /// Paper defaults with a given decay and threshold: piecewise-linear surrogate with
    /// γ = 0.3, no refractoriness, differentiated reset, ζ = 1.
    pub fn new(alpha: f64, v_th: f64) -> Self {
        Spiking {
            alpha,
            v_th,
            surrogate: Surrogate::default(),
            n_ref: 0,
            reset: Reset::Differentiated,
            input_scale: InputScale::One,
        }
    }

    pub(crate) fn validate(&self, cell: &str) -> Result<()> {
        check_decay(&format!("{cell}.alpha"), self.alpha)?;
        check_positive(&format!("{cell}.v_th"), self.v_th)?;
        self.surrogate.validate(&format!("{cell}.surrogate"))
    }

    /// ζ of Eq. (L1).
    pub fn zeta(&self) -> f64 {
        match self.input_scale {
            InputScale::One => 1.0,
            InputScale::OneMinusAlpha => 1.0 - self.alpha,
        }
    }

    /// The spike `z = H(s)` with `s = (v − A)/v_th` (Eq. L2): Heaviside in the real part, the
    /// surrogate slope in the dual part; exactly 0 (no derivative) while refractory.
    pub fn spike<T: Scalar>(&self, v: T, threshold: T, refractory: u32) -> T {
        if refractory > 0 {
            return T::zero();
        }
        let s = (v - threshold) / T::c(self.v_th);
        let sr = s.re();
        let h = if sr > <T::Primitive as num_traits::Zero>::zero() {
            <T::Primitive as num_traits::One>::one()
        } else {
            <T::Primitive as num_traits::Zero>::zero()
        };
        s.linearize(h, self.surrogate.slope_re(sr))
    }

    /// The pseudo-derivative `ψ = ∂z/∂v = slope(s)/v_th` (Eq. L3), 0 while refractory.
    pub fn psi<T: Scalar>(&self, v: T, threshold: T, refractory: u32) -> T {
        if refractory > 0 {
            return T::zero();
        }
        let s = (v - threshold) / T::c(self.v_th);
        self.surrogate.slope(s) / T::c(self.v_th)
    }

    /// Refractory counter at `t` from the counter and the spike at `t−1` (Eq. L4).
    pub fn next_refractory(&self, r_prev: u32, z_prev: f64) -> u32 {
        if z_prev > 0.5 { self.n_ref } else { r_prev.saturating_sub(1) }
    }

    /// The reset input `z_j^{t-1}` as seen by the graph: detached by convention or on request.
    pub(crate) fn reset_input<T: Scalar>(&self, z: T, detach_requested: bool) -> T {
        if detach_requested || self.reset == Reset::Detached { z.detach() } else { z }
    }

    /// `∂M_j/∂z_j^{t-1}` contribution of the reset (Eq. L6).
    pub(crate) fn reset_slope(&self) -> f64 {
        match self.reset {
            Reset::Differentiated => -self.v_th,
            Reset::Detached => 0.0,
        }
    }
}
