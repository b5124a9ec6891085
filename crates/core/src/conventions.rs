//! Named conventions and presets: the choices on which e-prop implementations disagree, as
//! typed options with documented defaults (`docs/eprop.md` §Conventions lists every difference
//! with its source).
//!
//! | option (`key`) | values | default (`paper`) | `tf` | `nest` |
//! |---|---|---|---|---|
//! | `input_scale` | `one`, `one-minus-alpha` | `one` | `one` (`EligALIF`) | `one` (`regular_spike_arrival = True`) |
//! | `reset` | `differentiated`, `detached` | `differentiated` | `differentiated` | `differentiated` |
//! | `surrogate` | `pl`, `exp`, `fast-sigmoid`, `arctan` | `pl` (γ = 0.3) | `pl` (γ = 0.3) | `pl` (γ = 0.3/v_th, β = 1/v_th: the same function) |
//! | `gamma`, `beta` | numbers | 0.3, — | 0.3 | 0.3 |
//! | `refractory_psi` | `zero`, `keep` | `zero` | `zero` | `zero` |
//! | `n_ref` | integer ≥ 0 | 0 | 0 (TF `n_refractory = n_ref + 1`) | 0 (`t_ref/dt = n_ref + 1`) |
//! | `readout_scale` | `one`, `one-minus-kappa` | `one` | `one-minus-kappa` (`exp_convolve`) | `one-minus-kappa` (readout `regular_spike_arrival = False`, as NEST's TF-reproducing tests) |
//! | `readout_delay` | `same`, `one` | `same` | `same` | `same` (NEST's delay is absorbed by its interval shift) |
//! | `reg_factor` | `full`, `half` | `full` | `full` (evidence-accumulation task) | `half` (NEST's `c_reg (f − f*)/T` derivative) |
//!
//! The paper column is the design notes' reading of Bellec et al. (2020) \[M\]: the Methods text was
//! not available to check it. The `tf` and `nest` columns were read in the sources
//! (`docs/presets-research.md`).

use crate::cell::{Alif, Cell, InputScale, Lif, RefractoryPsi, Reset, Spiking, Surrogate};
use crate::error::{Error, Result};
use crate::readout::{RateReg, Readout, ReadoutDelay, ReadoutScale, RegFactor};

/// A named preset of conventions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Preset {
    /// Bellec et al. (2020) as read in the design notes (the default).
    #[default]
    Paper,
    /// The authors' TensorFlow tutorial (`EligALIF`, evidence-accumulation task).
    Tf,
    /// NEST's `eprop_iaf_bsshslm_2020` / `eprop_iaf_adapt_bsshslm_2020` / `eprop_readout_bsshslm_2020`.
    Nest,
}

impl Preset {
    /// Every preset.
    pub const ALL: [Preset; 3] = [Preset::Paper, Preset::Tf, Preset::Nest];

    /// The preset's name: `paper`, `tf`, `nest`.
    pub fn name(&self) -> &'static str {
        match self {
            Preset::Paper => "paper",
            Preset::Tf => "tf",
            Preset::Nest => "nest",
        }
    }

    /// Parses a preset name; anything else is an error naming the field and the choices.
    ///
    /// ```
    /// use credit_core::conventions::Preset;
    /// assert_eq!(Preset::parse("nest").unwrap(), Preset::Nest);
    /// let e = Preset::parse("pytorch").unwrap_err();
    /// assert_eq!(e.to_string(), "preset = pytorch: one of paper, tf, nest");
    /// ```
    pub fn parse(name: &str) -> Result<Self> {
        Preset::ALL.into_iter().find(|p| p.name() == name).ok_or_else(|| Error::Invalid {
            field: "preset".into(),
            value: name.to_string(),
            requirement: "one of paper, tf, nest",
        })
    }

    /// The conventions of the preset.
    pub fn conventions(&self) -> Conventions {
        let paper = Conventions::default();
        match self {
            Preset::Paper => paper,
            Preset::Tf => Conventions { readout_scale: ReadoutScale::OneMinusKappa, ..paper },
            Preset::Nest => Conventions {
                readout_scale: ReadoutScale::OneMinusKappa,
                reg_factor: RegFactor::Half,
                ..paper
            },
        }
    }
}

/// Every convention of the LIF/ALIF model and its readout.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Conventions {
    /// ζ of Eq. (L1).
    pub input_scale: InputScale,
    /// Reset differentiated or detached.
    pub reset: Reset,
    /// Pseudo-derivative shape and parameters.
    pub surrogate: Surrogate,
    /// ψ while refractory.
    pub refractory_psi: RefractoryPsi,
    /// Refractory steps.
    pub n_ref: u32,
    /// Readout prefactor `c`.
    pub readout_scale: ReadoutScale,
    /// Readout delay `δ`.
    pub readout_delay: ReadoutDelay,
    /// Regulariser factor `k`.
    pub reg_factor: RegFactor,
}

impl Default for Conventions {
    fn default() -> Self {
        Conventions {
            input_scale: InputScale::One,
            reset: Reset::Differentiated,
            surrogate: Surrogate::default(),
            refractory_psi: RefractoryPsi::Zero,
            n_ref: 0,
            readout_scale: ReadoutScale::One,
            readout_delay: ReadoutDelay::SameStep,
            reg_factor: RegFactor::Full,
        }
    }
}

fn bad(field: &str, value: &str, requirement: &'static str) -> Error {
    Error::Invalid { field: field.to_string(), value: value.to_string(), requirement }
}

impl Conventions {
    /// Sets one option by name (`key=value` on a command line). Unknown keys and values are
    /// errors that name them.
    ///
    /// ```
    /// use credit_core::conventions::Conventions;
    /// let mut c = Conventions::default();
    /// c.set("reset", "detached").unwrap();
    /// c.set("surrogate", "arctan").unwrap();
    /// c.set("beta", "2.5").unwrap(); // β exists for exp, fast-sigmoid, arctan (not for pl)
    /// assert!(c.set("resett", "detached").unwrap_err().to_string().starts_with("option resett"));
    /// assert!(c.set("reset", "maybe").is_err());
    /// ```
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let num = |v: &str| v.parse::<f64>().map_err(|_| bad(key, v, "a number"));
        let (gamma, beta) = self.surrogate_params();
        match key {
            "input_scale" => {
                self.input_scale = match value {
                    "one" => InputScale::One,
                    "one-minus-alpha" => InputScale::OneMinusAlpha,
                    _ => return Err(bad(key, value, "one of one, one-minus-alpha")),
                }
            }
            "reset" => {
                self.reset = match value {
                    "differentiated" => Reset::Differentiated,
                    "detached" => Reset::Detached,
                    _ => return Err(bad(key, value, "one of differentiated, detached")),
                }
            }
            "surrogate" => {
                self.surrogate = match value {
                    "pl" => Surrogate::PiecewiseLinear { gamma },
                    "exp" => Surrogate::Exponential { gamma, beta },
                    "fast-sigmoid" => Surrogate::FastSigmoid { gamma, beta },
                    "arctan" => Surrogate::ArcTan { gamma, beta },
                    _ => return Err(bad(key, value, "one of pl, exp, fast-sigmoid, arctan")),
                }
            }
            "gamma" => self.set_surrogate_params(num(value)?, beta),
            "beta" => {
                if matches!(self.surrogate, Surrogate::PiecewiseLinear { .. }) {
                    return Err(bad(
                        key,
                        value,
                        "the piecewise-linear surrogate has no width β: set `surrogate` first",
                    ));
                }
                self.set_surrogate_params(gamma, num(value)?)
            }
            "refractory_psi" => {
                self.refractory_psi = match value {
                    "zero" => RefractoryPsi::Zero,
                    "keep" => RefractoryPsi::Keep,
                    _ => return Err(bad(key, value, "one of zero, keep")),
                }
            }
            "n_ref" => self.n_ref = value.parse().map_err(|_| bad(key, value, "an integer >= 0"))?,
            "readout_scale" => {
                self.readout_scale = match value {
                    "one" => ReadoutScale::One,
                    "one-minus-kappa" => ReadoutScale::OneMinusKappa,
                    _ => return Err(bad(key, value, "one of one, one-minus-kappa")),
                }
            }
            "readout_delay" => {
                self.readout_delay = match value {
                    "same" => ReadoutDelay::SameStep,
                    "one" => ReadoutDelay::OneStep,
                    _ => return Err(bad(key, value, "one of same, one")),
                }
            }
            "reg_factor" => {
                self.reg_factor = match value {
                    "full" => RegFactor::Full,
                    "half" => RegFactor::Half,
                    _ => return Err(bad(key, value, "one of full, half")),
                }
            }
            _ => {
                return Err(Error::Invalid {
                    field: format!("option {key}"),
                    value: value.to_string(),
                    requirement: "unknown option; known: input_scale, reset, surrogate, gamma, beta, refractory_psi, n_ref, readout_scale, readout_delay, reg_factor",
                });
            }
        }
        Ok(())
    }

    fn surrogate_params(&self) -> (f64, f64) {
        match self.surrogate {
            Surrogate::PiecewiseLinear { gamma } => (gamma, 1.0),
            Surrogate::Exponential { gamma, beta }
            | Surrogate::FastSigmoid { gamma, beta }
            | Surrogate::ArcTan { gamma, beta } => (gamma, beta),
        }
    }

    fn set_surrogate_params(&mut self, gamma: f64, beta: f64) {
        self.surrogate = match self.surrogate {
            Surrogate::PiecewiseLinear { .. } => Surrogate::PiecewiseLinear { gamma },
            Surrogate::Exponential { .. } => Surrogate::Exponential { gamma, beta },
            Surrogate::FastSigmoid { .. } => Surrogate::FastSigmoid { gamma, beta },
            Surrogate::ArcTan { .. } => Surrogate::ArcTan { gamma, beta },
        };
    }

    /// The spiking parameters with membrane decay `α` and threshold `v_th`.
    pub fn spiking(&self, alpha: f64, v_th: f64) -> Spiking {
        Spiking {
            alpha,
            v_th,
            surrogate: self.surrogate,
            n_ref: self.n_ref,
            reset: self.reset,
            refractory_psi: self.refractory_psi,
            input_scale: self.input_scale,
        }
    }

    /// A LIF cell with these conventions.
    pub fn lif(&self, alpha: f64, v_th: f64) -> Cell {
        Cell::Lif(Lif { spiking: self.spiking(alpha, v_th) })
    }

    /// An ALIF cell with these conventions.
    pub fn alif(&self, alpha: f64, v_th: f64, rho: f64, beta: f64) -> Cell {
        Cell::Alif(Alif { spiking: self.spiking(alpha, v_th), rho, beta })
    }

    /// A firing-rate regulariser with this convention's factor `k` (Eq. Y5).
    pub fn reg(&self, c_reg: f64, f_target: f64, dt: f64) -> RateReg {
        RateReg { c_reg, f_target, dt, factor: self.reg_factor }
    }

    /// The readout with decay `κ` and these conventions.
    pub fn readout(&self, kappa: f64) -> Readout {
        Readout { kappa, scale: self.readout_scale, delay: self.readout_delay }
    }
}
