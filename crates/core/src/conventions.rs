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
//!
//! Three more presets name the other convention of a framework that has two; each departs from
//! the column above in the rows listed (every other row as `nest`, resp. `tf`):
//!
//! | preset | `input_scale` | `readout_scale` | `reg_factor` | reproduces |
//! |---|---|---|---|---|
//! | `nest-regular-arrival` | `one` | `one` | `half` | NEST `eprop_iaf_bsshslm_2020` and `eprop_readout_bsshslm_2020` at their default `regular_spike_arrival = True` |
//! | `nest-no-regular-arrival` | `one-minus-alpha` | `one-minus-kappa` | `half` | NEST's sine-wave regression test and example (`regular_spike_arrival = False` on neurons and readout) |
//! | `tf-light-lif` | `one-minus-alpha` | `one-minus-kappa` | `half` | the TF pattern-generation tutorial's `LightLIF` |
//!
//! [`Preset::reproduces`] says, per preset, which published model or test it reproduces and
//! where that was read (`docs/presets-research.md` §13).
//!
//! [`Conventions::OPTIONS`] is this table in code: [`Conventions::set`] and [`Conventions::get`]
//! go through it, each choice lists its values in [`Choice::ALL`] (names by an exhaustive
//! match), and `credit-check`'s coverage test walks it over the built-in suite.

use crate::cell::{Alif, Cell, InputScale, Lif, RefractoryPsi, Reset, Spiking, Surrogate};
use crate::error::{Error, Result};
use crate::readout::{RateReg, Readout, ReadoutDelay, ReadoutScale, RegFactor};
use crate::stack::{InterLayer, ReadoutFrom};

/// A named preset of conventions; [`Preset::reproduces`] names the published model or test each
/// one reproduces, with its source.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Preset {
    /// Bellec et al. (2020) as read in the design notes (the default).
    #[default]
    Paper,
    /// The authors' TensorFlow tutorial (`EligALIF`, evidence-accumulation task).
    Tf,
    /// NEST's `eprop_iaf_bsshslm_2020` / `eprop_iaf_adapt_bsshslm_2020` / `eprop_readout_bsshslm_2020`
    /// as NEST's evidence-accumulation test sets them: neurons `regular_spike_arrival = True`
    /// (`ζ = 1`), readout `False` (`c = 1 − κ`).
    Nest,
    /// NEST's `*_bsshslm_2020` models at their default, `regular_spike_arrival = True` on neurons
    /// and readout: `ζ = 1`, `c = 1`.
    NestRegularArrival,
    /// NEST's `*_bsshslm_2020` models with `regular_spike_arrival = False` on neurons and readout,
    /// as NEST's sine-wave regression test sets them: `ζ = 1 − α`, `c = 1 − κ`.
    NestNoRegularArrival,
    /// The authors' TensorFlow pattern-generation tutorial (`LightLIF`): `ζ = 1 − α`, `c = 1 − κ`,
    /// `E_reg` with `½`.
    TfLightLif,
}

impl Preset {
    /// Every preset.
    pub const ALL: [Preset; 6] = [
        Preset::Paper,
        Preset::Tf,
        Preset::Nest,
        Preset::NestRegularArrival,
        Preset::NestNoRegularArrival,
        Preset::TfLightLif,
    ];

    /// The presets of the built-in suite (`preset-<name>-…` configs), the canonical fixtures and
    /// the golden snapshots. The others differ from these in rows the covering array of the
    /// suite already varies (`input_scale`, `readout_scale`, `reg_factor`).
    pub const SUITE: [Preset; 3] = [Preset::Paper, Preset::Tf, Preset::Nest];

    /// The preset's name: `paper`, `tf`, `nest`, `nest-regular-arrival`,
    /// `nest-no-regular-arrival`, `tf-light-lif`.
    pub fn name(&self) -> &'static str {
        match self {
            Preset::Paper => "paper",
            Preset::Tf => "tf",
            Preset::Nest => "nest",
            Preset::NestRegularArrival => "nest-regular-arrival",
            Preset::NestNoRegularArrival => "nest-no-regular-arrival",
            Preset::TfLightLif => "tf-light-lif",
        }
    }

    /// The published model or test the preset reproduces, and where its conventions were read
    /// (`docs/presets-research.md`; NEST at nest/nest-simulator 84b06d8d, TF at
    /// IGITUGraz/eligibility_propagation 7dd1558b).
    pub fn reproduces(&self) -> &'static str {
        match self {
            Preset::Paper => {
                "Bellec et al. (2020), Nat. Commun. 11:3625, Methods, as read in the design notes \
                 (a reconstruction: the Methods text was not available to check it)"
            }
            Preset::Tf => {
                "the authors' TF evidence-accumulation tutorial (EligALIF cells, exp_convolve readout): \
                 Figure_3_and_S7_e_prop_tutorials/tutorial_evidence_accumulation_with_alif.py, models.py"
            }
            Preset::Nest => {
                "NEST's evidence-accumulation example and test (neurons regular_spike_arrival = True, \
                 readout False): pynest/examples/eprop_plasticity/\
                 eprop_supervised_classification_evidence-accumulation_bsshslm_2020.py, \
                 testsuite/pytests/synapses/test_eprop_bsshslm_2020_plasticity.py"
            }
            Preset::NestRegularArrival => {
                "NEST's eprop_iaf_bsshslm_2020, eprop_iaf_adapt_bsshslm_2020 and \
                 eprop_readout_bsshslm_2020 at their default regular_spike_arrival = True \
                 (models/*_bsshslm_2020.cpp: P_z_in_ = 1)"
            }
            Preset::NestNoRegularArrival => {
                "NEST's sine-wave regression example and test (regular_spike_arrival = False on \
                 neurons and readout): pynest/examples/eprop_plasticity/\
                 eprop_supervised_regression_sine-waves_bsshslm_2020.py, \
                 testsuite/pytests/synapses/test_eprop_bsshslm_2020_plasticity.py"
            }
            Preset::TfLightLif => {
                "the authors' TF pattern-generation tutorial (LightLIF cells): \
                 Figure_3_and_S7_e_prop_tutorials/tutorial_pattern_generation.py, models.py"
            }
        }
    }

    /// Parses a preset name; anything else is an error naming the field and the choices.
    ///
    /// ```
    /// use credit_core::conventions::Preset;
    /// assert_eq!(Preset::parse("nest").unwrap(), Preset::Nest);
    /// assert_eq!(Preset::parse("nest-no-regular-arrival").unwrap(), Preset::NestNoRegularArrival);
    /// let e = Preset::parse("pytorch").unwrap_err();
    /// assert_eq!(
    ///     e.to_string(),
    ///     "preset = pytorch: one of paper, tf, nest, nest-regular-arrival, nest-no-regular-arrival, tf-light-lif"
    /// );
    /// ```
    pub fn parse(name: &str) -> Result<Self> {
        Preset::ALL.into_iter().find(|p| p.name() == name).ok_or_else(|| Error::Invalid {
            field: "preset".into(),
            value: name.to_string(),
            requirement: "one of paper, tf, nest, nest-regular-arrival, nest-no-regular-arrival, tf-light-lif",
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
            // NEST: `P_z_in_ = regular_spike_arrival ? 1.0 : 1.0 - P_v_m_` in the neuron (ζ) and in
            // the readout (c) (`docs/presets-research.md` §2, §6, §13)
            Preset::NestRegularArrival => Conventions { reg_factor: RegFactor::Half, ..paper },
            Preset::NestNoRegularArrival | Preset::TfLightLif => Conventions {
                input_scale: InputScale::OneMinusAlpha,
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

/// A convention with a fixed set of named values: the names are those of [`Conventions::set`]
/// (and of a fixture's `config.json`); [`Choice::ALL`] lists every value.
pub trait Choice: Copy + PartialEq + Sized + 'static {
    /// Every value, default first.
    const ALL: &'static [Self];
    /// `one of …` listing the names of [`Choice::ALL`] (the requirement of a parse error; a unit
    /// test checks it against the names).
    const REQUIREMENT: &'static str;
    /// The value's name (an exhaustive match, so a new variant needs a name).
    fn name(self) -> &'static str;
    /// Parses a name; anything else is an error naming `field` and the choices.
    fn parse(field: &str, value: &str) -> Result<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|v| v.name() == value)
            .ok_or_else(|| bad(field, value, Self::REQUIREMENT))
    }
}

/// The names of every value of `E`, in the order of [`Choice::ALL`].
pub fn names<E: Choice>() -> Vec<&'static str> {
    E::ALL.iter().map(|v| v.name()).collect()
}

macro_rules! choice {
    ($t:ty, $req:literal, [$($v:path => $n:literal),+ $(,)?]) => {
        impl Choice for $t {
            const ALL: &'static [Self] = &[$($v),+];
            const REQUIREMENT: &'static str = $req;
            fn name(self) -> &'static str {
                match self {
                    $($v => $n),+
                }
            }
        }
    };
}

choice!(InputScale, "one of one, one-minus-alpha", [InputScale::One => "one", InputScale::OneMinusAlpha => "one-minus-alpha"]);
choice!(Reset, "one of differentiated, detached", [Reset::Differentiated => "differentiated", Reset::Detached => "detached"]);
choice!(RefractoryPsi, "one of zero, keep", [RefractoryPsi::Zero => "zero", RefractoryPsi::Keep => "keep"]);
choice!(ReadoutScale, "one of one, one-minus-kappa", [ReadoutScale::One => "one", ReadoutScale::OneMinusKappa => "one-minus-kappa"]);
choice!(ReadoutDelay, "one of same, one", [ReadoutDelay::SameStep => "same", ReadoutDelay::OneStep => "one"]);
choice!(RegFactor, "one of full, half", [RegFactor::Full => "full", RegFactor::Half => "half"]);
choice!(InterLayer, "one of same, one", [InterLayer::SameStep => "same", InterLayer::OneStep => "one"]);
choice!(ReadoutFrom, "one of top, all", [ReadoutFrom::Top => "top", ReadoutFrom::All => "all"]);

/// The surrogate shapes by name (`pl`, `exp`, `fast-sigmoid`, `arctan`, [`Surrogate::id`]); the
/// height and width are separate numeric options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SurrogateShape(&'static str);

impl SurrogateShape {
    /// The shape of a surrogate.
    pub fn of(s: &Surrogate) -> Self {
        SurrogateShape(s.id())
    }

    /// The surrogate of this shape with height `gamma` and inverse width `beta` (unused by `pl`).
    pub fn with(self, gamma: f64, beta: f64) -> Surrogate {
        match self.0 {
            "exp" => Surrogate::Exponential { gamma, beta },
            "fast-sigmoid" => Surrogate::FastSigmoid { gamma, beta },
            "arctan" => Surrogate::ArcTan { gamma, beta },
            _ => Surrogate::PiecewiseLinear { gamma },
        }
    }
}

impl Choice for SurrogateShape {
    // one per variant of `Surrogate`: `Surrogate::id` is an exhaustive match
    const ALL: &'static [Self] = &[
        SurrogateShape("pl"),
        SurrogateShape("exp"),
        SurrogateShape("fast-sigmoid"),
        SurrogateShape("arctan"),
    ];
    const REQUIREMENT: &'static str = "one of pl, exp, fast-sigmoid, arctan";
    fn name(self) -> &'static str {
        self.0
    }
}

/// Which networks an option of [`Conventions`] applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// LIF and ALIF cells (Eqs. L1–L4).
    Spiking,
    /// Every network: the readout (Eq. Y1).
    Readout,
    /// Networks with a firing-rate regulariser (Eq. Y5).
    Reg,
}

/// One option of [`Conventions`]: its key, the cells it applies to, its values and how it is
/// read and written. [`Conventions::OPTIONS`] is the one table [`Conventions::set`] and
/// [`Conventions::get`] use.
pub struct ConvOption {
    /// The key of [`Conventions::set`].
    pub key: &'static str,
    /// What it applies to.
    pub scope: Scope,
    /// The names of its values for a choice ([`names`]); empty for a number.
    pub values: fn() -> Vec<&'static str>,
    /// The value of `c` as its name or number; `None` when it does not exist (the width `beta`
    /// of the piecewise-linear surrogate).
    pub get: fn(&Conventions) -> Option<String>,
    set: fn(&mut Conventions, &str, &str) -> Result<()>,
}

fn number(key: &str, v: &str) -> Result<f64> {
    v.parse::<f64>().map_err(|_| bad(key, v, "a number"))
}

fn no_values() -> Vec<&'static str> {
    Vec::new()
}

impl Conventions {
    /// Every option, in the order of the module table.
    pub const OPTIONS: &'static [ConvOption] = &[
        ConvOption {
            key: "input_scale",
            scope: Scope::Spiking,
            values: names::<InputScale>,
            get: |c| Some(c.input_scale.name().into()),
            set: |c, k, v| Choice::parse(k, v).map(|x| c.input_scale = x),
        },
        ConvOption {
            key: "reset",
            scope: Scope::Spiking,
            values: names::<Reset>,
            get: |c| Some(c.reset.name().into()),
            set: |c, k, v| Choice::parse(k, v).map(|x| c.reset = x),
        },
        ConvOption {
            key: "surrogate",
            scope: Scope::Spiking,
            values: names::<SurrogateShape>,
            get: |c| Some(SurrogateShape::of(&c.surrogate).name().into()),
            set: |c, k, v| {
                let (gamma, beta) = c.surrogate_params();
                c.surrogate = SurrogateShape::parse(k, v)?.with(gamma, beta);
                Ok(())
            },
        },
        ConvOption {
            key: "gamma",
            scope: Scope::Spiking,
            values: no_values,
            get: |c| Some(c.surrogate_params().0.to_string()),
            set: |c, k, v| {
                let beta = c.surrogate_params().1;
                c.set_surrogate_params(number(k, v)?, beta);
                Ok(())
            },
        },
        ConvOption {
            key: "beta",
            scope: Scope::Spiking,
            values: no_values,
            get: |c| match c.surrogate {
                Surrogate::PiecewiseLinear { .. } => None,
                _ => Some(c.surrogate_params().1.to_string()),
            },
            set: |c, k, v| {
                if matches!(c.surrogate, Surrogate::PiecewiseLinear { .. }) {
                    return Err(bad(
                        k,
                        v,
                        "the piecewise-linear surrogate has no width β: set `surrogate` first",
                    ));
                }
                let gamma = c.surrogate_params().0;
                c.set_surrogate_params(gamma, number(k, v)?);
                Ok(())
            },
        },
        ConvOption {
            key: "refractory_psi",
            scope: Scope::Spiking,
            values: names::<RefractoryPsi>,
            get: |c| Some(c.refractory_psi.name().into()),
            set: |c, k, v| Choice::parse(k, v).map(|x| c.refractory_psi = x),
        },
        ConvOption {
            key: "n_ref",
            scope: Scope::Spiking,
            values: no_values,
            get: |c| Some(c.n_ref.to_string()),
            set: |c, k, v| v.parse().map(|n| c.n_ref = n).map_err(|_| bad(k, v, "an integer >= 0")),
        },
        ConvOption {
            key: "readout_scale",
            scope: Scope::Readout,
            values: names::<ReadoutScale>,
            get: |c| Some(c.readout_scale.name().into()),
            set: |c, k, v| Choice::parse(k, v).map(|x| c.readout_scale = x),
        },
        ConvOption {
            key: "readout_delay",
            scope: Scope::Readout,
            values: names::<ReadoutDelay>,
            get: |c| Some(c.readout_delay.name().into()),
            set: |c, k, v| Choice::parse(k, v).map(|x| c.readout_delay = x),
        },
        ConvOption {
            key: "reg_factor",
            scope: Scope::Reg,
            values: names::<RegFactor>,
            get: |c| Some(c.reg_factor.name().into()),
            set: |c, k, v| Choice::parse(k, v).map(|x| c.reg_factor = x),
        },
    ];

    /// The requirement of the unknown-key error: the keys of [`Conventions::OPTIONS`] (a unit
    /// test checks the two agree).
    const KNOWN: &'static str = "unknown option; known: input_scale, reset, surrogate, gamma, beta, refractory_psi, n_ref, readout_scale, readout_delay, reg_factor";

    /// Sets one option by name (`key=value` on a command line), through [`Conventions::OPTIONS`].
    /// Unknown keys and values are errors that name them.
    ///
    /// ```
    /// use credit_core::conventions::Conventions;
    /// let mut c = Conventions::default();
    /// c.set("reset", "detached").unwrap();
    /// c.set("surrogate", "arctan").unwrap();
    /// c.set("beta", "2.5").unwrap(); // β exists for exp, fast-sigmoid, arctan (not for pl)
    /// assert_eq!(c.get("beta").unwrap().as_deref(), Some("2.5"));
    /// assert!(c.set("resett", "detached").unwrap_err().to_string().starts_with("option resett"));
    /// assert!(c.set("reset", "maybe").is_err());
    /// ```
    pub fn set(&mut self, key: &str, value: &str) -> Result<()> {
        (Self::option(key, value)?.set)(self, key, value)
    }

    /// The value of one option by name (`None`: the option does not exist for these conventions,
    /// e.g. `beta` of the piecewise-linear surrogate).
    pub fn get(&self, key: &str) -> Result<Option<String>> {
        Ok((Self::option(key, "")?.get)(self))
    }

    fn option(key: &str, value: &str) -> Result<&'static ConvOption> {
        Self::OPTIONS.iter().find(|o| o.key == key).ok_or_else(|| Error::Invalid {
            field: format!("option {key}"),
            value: value.to_string(),
            requirement: Self::KNOWN,
        })
    }

    /// The conventions a network uses: its spiking cell's (defaults for other cells), its
    /// readout's and its regulariser's factor (default without one).
    pub fn of(cell: &Cell, readout: &Readout, reg: Option<&RateReg>) -> Self {
        let d = Conventions::default();
        let sp = match cell {
            Cell::Lif(l) => Some(l.spiking),
            Cell::Alif(a) => Some(a.spiking),
            Cell::Rate(_) | Cell::Lstm(_) => None,
        };
        let mut c = match sp {
            Some(sp) => Conventions {
                input_scale: sp.input_scale,
                reset: sp.reset,
                surrogate: sp.surrogate,
                refractory_psi: sp.refractory_psi,
                n_ref: sp.n_ref,
                ..d
            },
            None => d,
        };
        c.readout_scale = readout.scale;
        c.readout_delay = readout.delay;
        c.reg_factor = reg.map_or(d.reg_factor, |r| r.factor);
        c
    }

    /// The options that apply to a network (by [`Scope`]) with their values: what
    /// [`Conventions::get`] gives on [`Conventions::of`], for the keys whose scope the network
    /// has, and only the options that exist (`beta` not for `pl`).
    pub fn in_effect(cell: &Cell, readout: &Readout, reg: Option<&RateReg>) -> Vec<(&'static str, String)> {
        let c = Conventions::of(cell, readout, reg);
        let spiking = matches!(cell, Cell::Lif(_) | Cell::Alif(_));
        Self::OPTIONS
            .iter()
            .filter(|o| match o.scope {
                Scope::Spiking => spiking,
                Scope::Readout => true,
                Scope::Reg => reg.is_some(),
            })
            .filter_map(|o| (o.get)(&c).map(|v| (o.key, v)))
            .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn one_of<E: Choice>() -> String {
        format!("one of {}", names::<E>().join(", "))
    }

    /// The parse errors list exactly the names of `ALL`, and the unknown-key error exactly the
    /// keys of `OPTIONS`: the table cannot drift from its messages.
    #[test]
    fn requirements_match_the_tables() {
        assert_eq!(InputScale::REQUIREMENT, one_of::<InputScale>());
        assert_eq!(Reset::REQUIREMENT, one_of::<Reset>());
        assert_eq!(RefractoryPsi::REQUIREMENT, one_of::<RefractoryPsi>());
        assert_eq!(ReadoutScale::REQUIREMENT, one_of::<ReadoutScale>());
        assert_eq!(ReadoutDelay::REQUIREMENT, one_of::<ReadoutDelay>());
        assert_eq!(RegFactor::REQUIREMENT, one_of::<RegFactor>());
        assert_eq!(InterLayer::REQUIREMENT, one_of::<InterLayer>());
        assert_eq!(ReadoutFrom::REQUIREMENT, one_of::<ReadoutFrom>());
        assert_eq!(SurrogateShape::REQUIREMENT, one_of::<SurrogateShape>());
        let keys: Vec<_> = Conventions::OPTIONS.iter().map(|o| o.key).collect();
        assert_eq!(Conventions::KNOWN, format!("unknown option; known: {}", keys.join(", ")));
    }

    /// Every surrogate variant has its shape in `SurrogateShape::ALL` and back.
    #[test]
    fn surrogate_shapes_are_every_variant() {
        let all = [
            Surrogate::PiecewiseLinear { gamma: 0.5 },
            Surrogate::Exponential { gamma: 0.5, beta: 2.0 },
            Surrogate::FastSigmoid { gamma: 0.5, beta: 2.0 },
            Surrogate::ArcTan { gamma: 0.5, beta: 2.0 },
        ];
        assert_eq!(all.len(), SurrogateShape::ALL.len());
        for s in all {
            let shape = SurrogateShape::of(&s);
            assert!(SurrogateShape::ALL.contains(&shape));
            assert_eq!(shape.with(0.5, 2.0), s);
        }
    }

    /// `set` then `get` round-trips every value of every option; every value is distinct.
    #[test]
    fn set_get_round_trip() {
        for o in Conventions::OPTIONS {
            let values = (o.values)();
            let mut seen = std::collections::BTreeSet::new();
            for v in &values {
                assert!(seen.insert(*v), "{} lists {v} twice", o.key);
                let mut c = Conventions::default();
                c.set(o.key, v).unwrap();
                assert_eq!(c.get(o.key).unwrap().as_deref(), Some(*v), "{}", o.key);
            }
        }
        let mut c = Conventions::default();
        c.set("surrogate", "exp").unwrap();
        c.set("gamma", "0.7").unwrap();
        c.set("beta", "2").unwrap();
        c.set("n_ref", "3").unwrap();
        assert_eq!(c.surrogate, Surrogate::Exponential { gamma: 0.7, beta: 2.0 });
        assert_eq!(c.get("n_ref").unwrap().as_deref(), Some("3"));
        assert!(c.get("nope").is_err());
    }

    /// Every preset parses from its name, the parse error lists every name, the suite's are
    /// among them, and each preset has a source.
    #[test]
    fn presets_parse_and_say_what_they_reproduce() {
        let names: Vec<_> = Preset::ALL.iter().map(|p| p.name()).collect();
        let e = Preset::parse("x").unwrap_err().to_string();
        assert_eq!(e, format!("preset = x: one of {}", names.join(", ")));
        for p in Preset::ALL {
            assert_eq!(Preset::parse(p.name()).unwrap(), p);
            assert!(p.reproduces().len() > 40, "{}", p.name());
        }
        assert!(Preset::SUITE.iter().all(|p| Preset::ALL.contains(p)));
        // no two presets are the same conventions (a preset whose name says which must differ)
        for (i, a) in Preset::ALL.iter().enumerate() {
            for b in &Preset::ALL[i + 1..] {
                let same = a.conventions() == b.conventions();
                // TF's LightLIF tutorial and NEST's sine-wave test share every convention here:
                // NEST's test was written to reproduce that tutorial
                let twins = [a, b] == [&Preset::NestNoRegularArrival, &Preset::TfLightLif];
                assert_eq!(same, twins, "{} vs {}", a.name(), b.name());
            }
        }
    }

    /// NEST's `regular_spike_arrival` sets ζ in the neuron and c in the readout
    /// (`P_z_in_ = regular_spike_arrival ? 1 : 1 − P_v_m_`): true → 1, false → 1 − α, 1 − κ.
    #[test]
    fn nest_arrival_presets() {
        let (t, f) = (Preset::NestRegularArrival.conventions(), Preset::NestNoRegularArrival.conventions());
        assert_eq!((t.input_scale, t.readout_scale), (InputScale::One, ReadoutScale::One));
        assert_eq!(
            (f.input_scale, f.readout_scale),
            (InputScale::OneMinusAlpha, ReadoutScale::OneMinusKappa)
        );
        let nest = Preset::Nest.conventions();
        assert_eq!((nest.input_scale, nest.readout_scale), (InputScale::One, ReadoutScale::OneMinusKappa));
        for c in [t, f, nest] {
            assert_eq!(c.reg_factor, RegFactor::Half);
            assert_eq!(Conventions { input_scale: t.input_scale, readout_scale: t.readout_scale, ..c }, t);
        }
    }
}
