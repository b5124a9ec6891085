//! Typed errors. Library code never panics on bad input: every check names the offending field.

use thiserror::Error;

/// Everything that can be wrong with a network, its parameters or a sequence.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum Error {
    /// A matrix or vector has the wrong shape.
    #[error("{field}: expected shape {expected}, found {found}")]
    Shape {
        /// Which field, e.g. `params.w_rec` or `sequence.x[3]`.
        field: String,
        /// The shape required by the network.
        expected: String,
        /// The shape given.
        found: String,
    },
    /// A NaN or infinity.
    #[error("{field}: non-finite value {value} at {index}")]
    NonFinite {
        /// Which field.
        field: String,
        /// Where in the field, e.g. `(2, 0)`.
        index: String,
        /// The value found.
        value: f64,
    },
    /// A hyper-parameter outside its domain (decay outside (0, 1], τ ≤ 0, v_th ≤ 0, …).
    #[error("{field} = {value}: {requirement}")]
    Invalid {
        /// Which field, e.g. `lif.alpha`.
        field: String,
        /// The value given.
        value: String,
        /// What the field must satisfy.
        requirement: &'static str,
    },
    /// A size that must be positive is zero (N = 0, T = 0, …).
    #[error("{field}: must not be empty (got 0)")]
    Empty {
        /// Which field.
        field: String,
    },
}

/// `Result` with [`enum@Error`].
pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn check_positive_size(field: &str, n: usize) -> Result<()> {
    if n == 0 {
        return Err(Error::Empty { field: field.to_string() });
    }
    Ok(())
}

/// Decay factor in (0, 1].
pub(crate) fn check_decay(field: &str, x: f64) -> Result<()> {
    if !(x.is_finite() && x > 0.0 && x <= 1.0) {
        return Err(Error::Invalid {
            field: field.to_string(),
            value: format!("{x}"),
            requirement: "a decay factor must lie in (0, 1]",
        });
    }
    Ok(())
}

pub(crate) fn check_positive(field: &str, x: f64) -> Result<()> {
    if !(x.is_finite() && x > 0.0) {
        return Err(Error::Invalid {
            field: field.to_string(),
            value: format!("{x}"),
            requirement: "must be finite and > 0",
        });
    }
    Ok(())
}

pub(crate) fn check_nonnegative(field: &str, x: f64) -> Result<()> {
    if !(x.is_finite() && x >= 0.0) {
        return Err(Error::Invalid {
            field: field.to_string(),
            value: format!("{x}"),
            requirement: "must be finite and >= 0",
        });
    }
    Ok(())
}

/// Converts a time constant into a decay factor `exp(−dt/τ)`, rejecting τ ≤ 0 and dt ≤ 0.
///
/// ```
/// let a = credit_core::decay_from_tau("lif.tau_m", 1.0, 20.0).unwrap();
/// assert!((a - (-1.0f64 / 20.0).exp()).abs() < 1e-16);
/// assert!(credit_core::decay_from_tau("lif.tau_m", 1.0, 0.0).is_err());
/// ```
pub fn decay_from_tau(field: &str, dt: f64, tau: f64) -> Result<f64> {
    check_positive("dt", dt)?;
    check_positive(field, tau)?;
    Ok((-dt / tau).exp())
}
