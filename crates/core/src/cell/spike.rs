//! What LIF and ALIF share: the surrogate spike, refractoriness, reset and input conventions.
//!
//! Equations (L2)–(L4) of `docs/cells.md`, after Bellec et al. (2020), Methods, and the
//! authors' code (`IGITUGraz/eligibility_propagation`, class `EligALIF`).

use crate::error::{Result, check_decay, check_nonnegative, check_positive};
use crate::scalar::Scalar;
use num_traits::{Float, NumCast};

/// Pseudo-derivative (surrogate) shape: `ψ = ∂z/∂v` as a function of the distance to threshold
/// `Δ = v − A` (Eq. L3 of `docs/cells.md`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Surrogate {
    /// Bellec et al. (2020): `ψ = (γ/v_th)·max(0, 1 − |Δ|/v_th)`, `γ = 0.3` in the paper and the
    /// authors' code (`pseudo_derivative`, "dampening_factor"). NEST's `piecewise_linear` with
    /// width `β = 1/v_th` and height `γ_NEST = γ/v_th` is the same function.
    PiecewiseLinear {
        /// Dampening factor γ.
        gamma: f64,
    },
    /// NEST `exponential`: `ψ = γ·exp(−β|Δ|)`.
    Exponential {
        /// Height γ.
        gamma: f64,
        /// Inverse width β > 0.
        beta: f64,
    },
    /// NEST `fast_sigmoid_derivative`: `ψ = γ·(1 + β|Δ|)^{−2}`.
    FastSigmoid {
        /// Height γ.
        gamma: f64,
        /// Inverse width β > 0.
        beta: f64,
    },
    /// NEST `arctan` (current parameterisation): `ψ = γ/(1 + (βΔ)²)`.
    ArcTan {
        /// Height γ.
        gamma: f64,
        /// Inverse width β > 0.
        beta: f64,
    },
}

impl Default for Surrogate {
    fn default() -> Self {
        Surrogate::PiecewiseLinear { gamma: 0.3 }
    }
}

impl Surrogate {
    /// Short id used in reports: `pl`, `exp`, `fast-sigmoid`, `arctan`.
    pub fn id(&self) -> &'static str {
        match self {
            Surrogate::PiecewiseLinear { .. } => "pl",
            Surrogate::Exponential { .. } => "exp",
            Surrogate::FastSigmoid { .. } => "fast-sigmoid",
            Surrogate::ArcTan { .. } => "arctan",
        }
    }

    /// `ψ(Δ)` in the generic (differentiable) form, Eq. (L3).
    pub fn psi<T: Scalar>(&self, delta: T, v_th: f64) -> T {
        let one = T::one();
        match *self {
            Surrogate::PiecewiseLinear { gamma } => {
                (one - delta.abs() / T::c(v_th)).max(T::zero()) * T::c(gamma / v_th)
            }
            Surrogate::Exponential { gamma, beta } => (-(delta.abs() * T::c(beta))).exp() * T::c(gamma),
            Surrogate::FastSigmoid { gamma, beta } => {
                let q = one + delta.abs() * T::c(beta);
                T::c(gamma) / (q * q)
            }
            Surrogate::ArcTan { gamma, beta } => {
                let q = delta * T::c(beta);
                T::c(gamma) / (one + q * q)
            }
        }
    }

    /// `ψ(Δ)` at a primitive float (the slope carried by the spike's dual part).
    fn psi_re<P: Float>(&self, delta: P, v_th: f64) -> P {
        let c = |x: f64| -> P { NumCast::from(x).unwrap_or_else(P::nan) };
        let one = P::one();
        match *self {
            Surrogate::PiecewiseLinear { gamma } => {
                (one - delta.abs() / c(v_th)).max(P::zero()) * c(gamma / v_th)
            }
            Surrogate::Exponential { gamma, beta } => (-(delta.abs() * c(beta))).exp() * c(gamma),
            Surrogate::FastSigmoid { gamma, beta } => {
                let q = one + delta.abs() * c(beta);
                c(gamma) / (q * q)
            }
            Surrogate::ArcTan { gamma, beta } => {
                let q = delta * c(beta);
                c(gamma) / (one + q * q)
            }
        }
    }

    fn validate(&self, field: &str) -> Result<()> {
        match *self {
            Surrogate::PiecewiseLinear { gamma } => check_nonnegative(&format!("{field}.gamma"), gamma),
            Surrogate::Exponential { gamma, beta }
            | Surrogate::FastSigmoid { gamma, beta }
            | Surrogate::ArcTan { gamma, beta } => {
                check_nonnegative(&format!("{field}.gamma"), gamma)?;
                check_positive(&format!("{field}.beta"), beta)
            }
        }
    }
}

/// What the pseudo-derivative does while a neuron is refractory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RefractoryPsi {
    /// `ψ = 0` while refractory (the authors' code and NEST).
    #[default]
    Zero,
    /// `ψ` keeps its value (the spike is still forced to 0); an option for studies of the mask.
    Keep,
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
    /// Pseudo-derivative while refractory.
    pub refractory_psi: RefractoryPsi,
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
            refractory_psi: RefractoryPsi::Zero,
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

    /// The spike `z = H(Δ)`, `Δ = v − A` (Eq. L2): Heaviside in the real part (`Δ > 0`), the
    /// pseudo-derivative `ψ(Δ)` as the slope of the dual part. While refractory the value is 0
    /// and the slope is 0 ([`RefractoryPsi::Zero`]) or `ψ` ([`RefractoryPsi::Keep`]).
    pub fn spike<T: Scalar>(&self, v: T, threshold: T, refractory: u32) -> T {
        let zero = <T::Primitive as num_traits::Zero>::zero();
        let one = <T::Primitive as num_traits::One>::one();
        let delta = v - threshold;
        let dr = delta.re();
        if refractory > 0 {
            return match self.refractory_psi {
                RefractoryPsi::Zero => T::zero(),
                RefractoryPsi::Keep => delta.linearize(zero, self.surrogate.psi_re(dr, self.v_th)),
            };
        }
        let h = if dr > zero { one } else { zero };
        delta.linearize(h, self.surrogate.psi_re(dr, self.v_th))
    }

    /// The pseudo-derivative `ψ = ∂z/∂v` (Eq. L3), 0 while refractory unless
    /// [`RefractoryPsi::Keep`].
    pub fn psi<T: Scalar>(&self, v: T, threshold: T, refractory: u32) -> T {
        if refractory > 0 && self.refractory_psi == RefractoryPsi::Zero {
            return T::zero();
        }
        self.surrogate.psi(v - threshold, self.v_th)
    }

    /// Refractory counter at `t` from the counter and the spike at `t−1` (Eq. L4).
    pub fn next_refractory(&self, r_prev: u32, z_prev: f64) -> u32 {
        if z_prev > 0.5 { self.n_ref } else { r_prev.saturating_sub(1) }
    }

    /// The reset input `z_j^{t-1}` as seen by the graph: detached when the convention says so.
    pub(crate) fn reset_input<T: Scalar>(&self, z: T) -> T {
        if self.reset == Reset::Detached { z.detach() } else { z }
    }

    /// `∂M_j/∂z_j^{t-1}` contribution of the reset (Eq. L6).
    pub(crate) fn reset_slope(&self) -> f64 {
        match self.reset {
            Reset::Differentiated => -self.v_th,
            Reset::Detached => 0.0,
        }
    }
}
