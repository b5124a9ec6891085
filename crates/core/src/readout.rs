//! Leaky readout and losses, Eqs. (Y1)–(Y4) of `docs/cells.md`.
//!
//! $$ y^t = \\kappa\\, y^{t-1} + W^{out} z^t + b^{out}, \\qquad y^0 = 0, $$
//! $$ E = \\sum_t m^t E^t, \\qquad E^t_{\\rm mse} = \\tfrac12 \\sum_k (y_k^t - y_k^{*t})^2, \\qquad
//!    E^t_{\\rm ce} = -\\sum_k \\pi_k^{*t} \\log \\mathrm{softmax}(y^t)_k, $$
//! with a per-step loss mask (weight) `m^t ≥ 0`.

use crate::error::{Error, Result};
use crate::scalar::Scalar;
use nalgebra::DVector;

/// The leaky readout of Eq. (Y1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Readout {
    /// Readout decay `κ = exp(−δt/τ_out)` in [0, 1]; `κ = 0` is the memoryless readout.
    pub kappa: f64,
}

impl Readout {
    pub(crate) fn validate(&self) -> Result<()> {
        if !(self.kappa.is_finite() && (0.0..=1.0).contains(&self.kappa)) {
            return Err(Error::Invalid {
                field: "readout.kappa".into(),
                value: format!("{}", self.kappa),
                requirement: "the readout decay must lie in [0, 1]",
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
