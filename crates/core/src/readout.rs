//! Leaky readout and losses, Eqs. (Y1)–(Y4) of `docs/cells.md`.
//!
//! $$ y^t = \\kappa\\, y^{t-1} + c\\,\\big(W^{out} z^{t-\\delta} + b^{out}\\big), \\qquad y^0 = 0, $$
//! with `c ∈ {1, 1−κ}` and `δ ∈ {0, 1}` ([`ReadoutScale`], [`ReadoutDelay`]; default 1 and 0),
//! $$ E = \\sum_t m^t E^t, \\qquad E^t_{\\rm mse} = \\tfrac12 \\sum_k (y_k^t - y_k^{*t})^2, \\qquad
//!    E^t_{\\rm ce} = -\\sum_k \\pi_k^{*t} \\log \\mathrm{softmax}(y^t)_k, $$
//! with a per-step loss mask (weight) `m^t ≥ 0`, and an optional firing-rate regulariser
//! ([`RateReg`], Eq. Y5).

use crate::error::{Error, Result};
use crate::scalar::Scalar;
use nalgebra::DVector;

/// The leaky readout of Eq. (Y1):
/// `y^t = κ y^{t-1} + c·(W_out z^{t-δ} + b_out)` with `c ∈ {1, 1−κ}` and `δ ∈ {0, 1}`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Readout {
    /// Readout decay `κ = exp(−δt/τ_out)` in [0, 1]; `κ = 0` is the memoryless readout.
    pub kappa: f64,
    /// The input prefactor `c`.
    pub scale: ReadoutScale,
    /// Which output the readout reads.
    pub delay: ReadoutDelay,
}

/// Prefactor `c` of the readout input, Eq. (Y1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReadoutScale {
    /// `c = 1` (Bellec et al. 2020 as written in the design notes; the default).
    #[default]
    One,
    /// `c = 1 − κ`: the authors' TF `exp_convolve`, and NEST's readout with
    /// `regular_spike_arrival = False` (as in NEST's TF-reproducing tests).
    OneMinusKappa,
}

/// Which output the readout reads at step `t`, Eq. (Y1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReadoutDelay {
    /// `z^t`, same step (the paper, TF; NEST in sequence time).
    #[default]
    SameStep,
    /// `z^{t-1}`: a one-step transmission delay (`z^0 = 0`).
    OneStep,
}

impl Readout {
    /// The default readout with decay `κ`: `c = 1`, same step.
    pub fn leaky(kappa: f64) -> Self {
        Readout { kappa, scale: ReadoutScale::One, delay: ReadoutDelay::SameStep }
    }

    /// The prefactor `c` as a number.
    pub fn c(&self) -> f64 {
        match self.scale {
            ReadoutScale::One => 1.0,
            ReadoutScale::OneMinusKappa => 1.0 - self.kappa,
        }
    }

    /// One step of Eq. (Y1): `κ y^{t-1} + c·(W_out z_read + b_out)`, with `z_read = z^{t-δ}`
    /// chosen by the caller and `b_out` the `K×1` bias tensor.
    pub fn next<T: Scalar>(
        &self,
        y_prev: &DVector<T>,
        w_out: &nalgebra::DMatrix<T>,
        b_out: &nalgebra::DMatrix<T>,
        z_read: &DVector<T>,
    ) -> DVector<T> {
        y_prev * T::c(self.kappa) + (w_out * z_read + b_out.column(0)) * T::c(self.c())
    }

    /// `δ` as a number of steps.
    pub fn lag(&self) -> usize {
        match self.delay {
            ReadoutDelay::SameStep => 0,
            ReadoutDelay::OneStep => 1,
        }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if !(self.kappa.is_finite() && (0.0..=1.0).contains(&self.kappa)) {
            return Err(Error::Invalid {
                field: "readout.kappa".into(),
                value: format!("{}", self.kappa),
                requirement: "the readout decay must lie in [0, 1]",
            });
        }
        if self.scale == ReadoutScale::OneMinusKappa && self.kappa >= 1.0 {
            return Err(Error::Invalid {
                field: "readout.kappa".into(),
                value: format!("{}", self.kappa),
                requirement: "with the (1 − κ) readout scale κ must be < 1 (the readout would be disconnected)",
            });
        }
        Ok(())
    }
}

/// The per-step loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loss {
    /// `½ Σ_k (y_k − y*_k)²`, Eq. (Y2).
    Mse,
    /// `−Σ_k π*_k log softmax(y)_k`, Eq. (Y3); targets are non-negative class weights
    /// (one-hot or a distribution).
    CrossEntropy,
}

impl Loss {
    /// Id used in reports: `mse` or `ce`.
    pub fn id(&self) -> &'static str {
        match self {
            Loss::Mse => "mse",
            Loss::CrossEntropy => "ce",
        }
    }

    /// `E^t` and `∂E^t/∂y^t` (Eq. Y4), unmasked.
    pub fn value_and_grad<T: Scalar>(&self, y: &DVector<T>, target: &DVector<T>) -> (T, DVector<T>) {
        match self {
            Loss::Mse => {
                let r = y - target;
                (r.dot(&r) * T::c(0.5), r) // Eq. (Y2), ∂E/∂y = y − y*
            }
            Loss::CrossEntropy => {
                // log-sum-exp with the max real part subtracted (constant shift, exact derivative)
                let m =
                    y.iter().fold(T::c(f64::NEG_INFINITY), |a, &b| if b.value() > a.value() { b } else { a });
                let m = m.detach();
                let ex = y.map(|v| (v - m).stable_exp());
                let s = ex.sum();
                let lse = s.ln() + m;
                let mass = target.sum();
                let e = lse * mass - target.dot(y); // Eq. (Y3)
                let pi = ex / s;
                (e, pi * mass - target) // Eq. (Y4): (Σπ*)·softmax(y) − π*
            }
        }
    }
}

/// Firing-rate regularisation, Eq. (Y5) of `docs/cells.md` (Bellec et al. 2020; the authors'
/// `Figure_2_TIMIT` and tutorial code; NEST `c_reg`):
/// $$ E_{\\rm reg} = k\\, c_{\\rm reg} \\sum_j \\big(f_j - f^{\\rm target}\\big)^2, \\qquad
///    f_j = \\frac{1}{T\\,\\delta t} \\sum_t z_j^t, \\qquad
///    \\frac{\\partial E_{\\rm reg}}{\\partial z_j^t} = \\frac{2k\\, c_{\\rm reg}\\,(f_j - f^{\\rm target})}{T\\,\\delta t}, $$
/// with `k = 1` ([`RegFactor::Full`], the TF evidence-accumulation task) or `k = ½`
/// ([`RegFactor::Half`], the TF pattern-generation task and the derivative NEST implements).
/// The partial derivative is the same at every step and is added to the learning signal.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateReg {
    /// Strength `c_reg ≥ 0`.
    pub c_reg: f64,
    /// Target rate `f^target ≥ 0` (in spikes per unit of `dt`'s time unit).
    pub f_target: f64,
    /// Step length `δt > 0`.
    pub dt: f64,
    /// `k`.
    pub factor: RegFactor,
}

/// The factor `k` of Eq. (Y5).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RegFactor {
    /// `k = 1`.
    #[default]
    Full,
    /// `k = ½`.
    Half,
}

impl RateReg {
    pub(crate) fn validate(&self) -> Result<()> {
        crate::error::check_nonnegative("reg.c_reg", self.c_reg)?;
        crate::error::check_nonnegative("reg.f_target", self.f_target)?;
        crate::error::check_positive("reg.dt", self.dt)
    }

    fn k(&self) -> f64 {
        match self.factor {
            RegFactor::Full => 1.0,
            RegFactor::Half => 0.5,
        }
    }

    /// `E_reg` and `∂E_reg/∂z_j^t` (the same for every `t`) from the summed outputs `Σ_t z_j^t`
    /// over `steps` steps, Eq. (Y5).
    pub fn value_and_grad<T: Scalar>(&self, z_sum: &DVector<T>, steps: usize) -> (T, DVector<T>) {
        let scale = T::c(1.0 / (steps as f64 * self.dt));
        let dev = z_sum.map(|s| s * scale - T::c(self.f_target)); // f_j − f^target
        let k = T::c(self.k() * self.c_reg);
        (dev.dot(&dev) * k, dev * (k * T::c(2.0) * scale))
    }
}
