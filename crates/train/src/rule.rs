//! The gradient source: a [`Model`] (one layer or a stack) and a [`Rule`] of the workspace,
//! `docs/training.md` §1.
//!
//! [`gradient`] is one `match` with one arm per rule and [`Path`], each calling the rule's crate:
//! the fast path of the crate by default (`<crate>::fast`, proved equal to the literal
//! transcription by `check-gradients`' `*-fast=*` relations), the literal one on request.

use credit_core::{Error, Network, Params, Result, Sequence, Stack};
use credit_eprop::Feedback;
use credit_family::Reading;
use nalgebra::DMatrix;

/// What is trained: a single recurrent layer with its readout, or a stack of layers.
#[derive(Clone, Debug, PartialEq)]
pub enum Model {
    /// One layer (`credit_core::Network`, may carry a firing-rate regulariser).
    Layer(Network),
    /// Stacked layers (`credit_core::Stack`, no regulariser).
    Stack(Stack),
}

impl Model {
    /// Names and shapes of the parameter tensors.
    pub fn tensor_shapes(&self) -> Vec<(&'static str, usize, usize)> {
        match self {
            Model::Layer(net) => net.tensor_shapes(),
            Model::Stack(s) => s.tensor_shapes(),
        }
    }

    /// Checks parameters against the model.
    pub fn validate_params(&self, p: &Params<f64>) -> Result<()> {
        match self {
            Model::Layer(net) => p.validate(net),
            Model::Stack(s) => s.validate_params(p),
        }
    }

    /// Checks a sequence against the model.
    pub fn validate_sequence(&self, seq: &Sequence) -> Result<()> {
        match self {
            Model::Layer(net) => seq.validate(net),
            Model::Stack(s) => s.validate_sequence(seq),
        }
    }

    /// Readout size `K`.
    pub fn n_out(&self) -> usize {
        match self {
            Model::Layer(net) => net.n_out,
            Model::Stack(s) => s.n_out,
        }
    }

    /// Whether every layer's cell spikes.
    pub fn is_spiking(&self) -> bool {
        use credit_core::CellModel as _;
        match self {
            Model::Layer(net) => net.cell.is_spiking(),
            Model::Stack(s) => s.layers.iter().all(|l| l.cell.is_spiking()),
        }
    }

    /// `(tensor, layer cell)` pairs whose `w_rec` must keep a zero diagonal (no autapses).
    pub(crate) fn no_autapse_tensors(&self) -> Vec<&'static str> {
        use credit_core::CellModel as _;
        match self {
            Model::Layer(net) if !net.cell.allows_autapses() => vec!["w_rec"],
            Model::Layer(_) => vec![],
            Model::Stack(s) => s
                .layers
                .iter()
                .enumerate()
                .filter(|(_, l)| !l.cell.allows_autapses())
                .map(|(i, _)| credit_core::stack::intern(format!("l{}.w_rec", i + 1)))
                .collect(),
        }
    }

    /// A short id: `lif`, `stack(lif,lif)`.
    pub fn id(&self) -> String {
        use credit_core::CellModel as _;
        match self {
            Model::Layer(net) => net.cell.id().to_string(),
            Model::Stack(s) => s.id(),
        }
    }
}

/// The feedback of e-prop's learning signal, Eq. (E4) of `docs/eprop.md`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum EpropFeedback {
    /// `B = W_outᵀ` (symmetric e-prop).
    Symmetric,
    /// A fixed random `B` (`credit_eprop::random_feedback`, drawn from the run's seed).
    Random,
    /// Adaptive (Kolen–Pollack) `B`, Eq. (E11): starts random and receives `W_out`'s update
    /// transposed, both decayed by `1 − λ` (`docs/training.md` §3).
    Adaptive {
        /// The decay `λ ∈ [0, 1)`.
        lambda: f64,
    },
}

/// A learning rule of the workspace as the gradient source.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rule {
    /// Backpropagation through time, `credit-bptt` (B1)–(B7): the exact gradient.
    Bptt,
    /// Real-time recurrent learning, `credit-rtrl` (T1)–(T7): the exact gradient, online.
    Rtrl,
    /// e-prop, `credit-eprop`, the causal online form (E5)–(E6), (E12).
    Eprop(EpropFeedback),
    /// The m-order family, `credit-family` (F1)–(F5), a reconstruction.
    Family {
        /// The order `m`.
        m: usize,
        /// The reading of "order".
        reading: Reading,
    },
    /// Deep e-prop, `credit-deep` (D1)–(D2), a reconstruction; stacks.
    Deep,
    /// OSTL, `credit-ostl` (O-T), (O-S); stacks.
    Ostl,
}

impl Rule {
    /// The names [`Rule::parse`] accepts (`family-M` for any order `M`).
    pub const NAMES: &'static str =
        "bptt, rtrl, eprop-symmetric, eprop-random, eprop-adaptive, family-M (M = 0, 1, …), deep, ostl";

    /// Parses `bptt`, `rtrl`, `eprop-symmetric` (or `eprop`), `eprop-random`, `eprop-adaptive`
    /// (λ = 0.01; build `Rule::Eprop(EpropFeedback::Adaptive { lambda })` for another), `family-M`,
    /// `deep`, `ostl`.
    ///
    /// ```
    /// use credit_train::{Rule, EpropFeedback};
    /// assert_eq!(Rule::parse("eprop-random").unwrap(), Rule::Eprop(EpropFeedback::Random));
    /// assert!(matches!(Rule::parse("family-2").unwrap(), Rule::Family { m: 2, .. }));
    /// assert_eq!(Rule::parse("sgd").unwrap_err().to_string().split(':').next(), Some("rule = sgd"));
    /// ```
    pub fn parse(name: &str) -> Result<Self> {
        let bad = || Error::Invalid {
            field: "rule".into(),
            value: name.to_string(),
            requirement: "one of bptt, rtrl, eprop-symmetric, eprop-random, eprop-adaptive, family-M (M = 0, 1, …), deep, ostl",
        };
        Ok(match name {
            "bptt" => Rule::Bptt,
            "rtrl" => Rule::Rtrl,
            "eprop" | "eprop-symmetric" => Rule::Eprop(EpropFeedback::Symmetric),
            "eprop-random" => Rule::Eprop(EpropFeedback::Random),
            "eprop-adaptive" => Rule::Eprop(EpropFeedback::Adaptive { lambda: 0.01 }),
            "deep" => Rule::Deep,
            "ostl" => Rule::Ostl,
            _ => match name.strip_prefix("family-").map(str::parse::<usize>) {
                Some(Ok(m)) => Rule::Family { m, reading: Reading::HopCount },
                _ => return Err(bad()),
            },
        })
    }

    /// The rule's name, as [`Rule::parse`] reads it.
    pub fn name(&self) -> String {
        match self {
            Rule::Bptt => "bptt".into(),
            Rule::Rtrl => "rtrl".into(),
            Rule::Eprop(EpropFeedback::Symmetric) => "eprop-symmetric".into(),
            Rule::Eprop(EpropFeedback::Random) => "eprop-random".into(),
            Rule::Eprop(EpropFeedback::Adaptive { .. }) => "eprop-adaptive".into(),
            Rule::Family { m, .. } => format!("family-{m}"),
            Rule::Deep => "deep".into(),
            Rule::Ostl => "ostl".into(),
        }
    }

    /// Whether the rule needs a [`Model::Stack`] (deep e-prop, OSTL) or a [`Model::Layer`]
    /// (e-prop, the family); BPTT and RTRL take both.
    pub fn check_model(&self, model: &Model) -> Result<()> {
        let ok = matches!(
            (self, model),
            (Rule::Bptt | Rule::Rtrl, _)
                | (Rule::Eprop(_) | Rule::Family { .. }, Model::Layer(_))
                | (Rule::Deep | Rule::Ostl, Model::Stack(_))
        );
        if ok {
            return Ok(());
        }
        Err(Error::Invalid {
            field: "rule".into(),
            value: format!("{} on {}", self.name(), model.id()),
            requirement: "e-prop and the family train one layer; deep e-prop and OSTL train stacks (--layers ≥ 1 builds a stack)",
        })
    }
}

/// One sequence's loss (with the regulariser, as the rule computed it) and gradient estimate.
#[derive(Clone, Debug, PartialEq)]
pub struct Estimate {
    /// The loss `E` the rule reports (task loss + regulariser).
    pub loss: f64,
    /// The rule's gradient (exact for BPTT and RTRL).
    pub grad: Params<f64>,
}

/// Which implementation of a rule computes the gradient: the fast path of its crate (equal to
/// the literal one to ~1e-15, proved by the `*-fast=*` relations of `check-gradients`) or the
/// literal transcription itself. Every rule has a fast path on every model it accepts (BPTT
/// through a stack: `credit_bptt::fast::stack_gradient`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Path {
    /// `<crate>::fast` where it exists (the default).
    #[default]
    Fast,
    /// The literal transcription (`<crate>::gradient`).
    Literal,
}

/// The gradient of `rule` on one sequence, by `path`. `b` is e-prop's feedback matrix (`N × K`)
/// for the random and adaptive variants, ignored otherwise. Every arm calls the rule's crate
/// once.
pub fn gradient(
    rule: &Rule,
    path: Path,
    model: &Model,
    params: &Params<f64>,
    seq: &Sequence,
    b: Option<&DMatrix<f64>>,
) -> Result<Estimate> {
    rule.check_model(model)?;
    let fast = path == Path::Fast;
    let (loss, grad) = match (rule, model) {
        (Rule::Bptt, Model::Layer(net)) if fast => {
            credit_bptt::fast(net, params, seq).map(|g| (g.loss, g.grad))
        }
        (Rule::Bptt, Model::Layer(net)) => credit_bptt::gradient(net, params, seq).map(|g| (g.loss, g.grad)),
        (Rule::Bptt, Model::Stack(s)) if fast => {
            credit_bptt::fast::stack_gradient(s, params, seq).map(|g| (g.loss, g.grad))
        }
        (Rule::Bptt, Model::Stack(s)) => {
            credit_bptt::stack::gradient(s, params, seq).map(|g| (g.loss, g.grad))
        }
        (Rule::Rtrl, Model::Layer(net)) if fast => {
            credit_rtrl::fast::gradient(net, params, seq).map(|g| (g.loss, g.grad))
        }
        (Rule::Rtrl, Model::Layer(net)) => credit_rtrl::gradient(net, params, seq).map(|g| (g.loss, g.grad)),
        (Rule::Rtrl, Model::Stack(s)) if fast => {
            credit_rtrl::fast::stack_gradient(s, params, seq).map(|g| (g.loss, g.grad))
        }
        (Rule::Rtrl, Model::Stack(s)) => {
            credit_rtrl::stack::gradient(s, params, seq).map(|g| (g.loss, g.grad))
        }
        (Rule::Eprop(fb), Model::Layer(net)) => {
            let feedback = match (fb, b) {
                (EpropFeedback::Symmetric, _) => Feedback::Symmetric,
                (_, Some(b)) => Feedback::Matrix(b.clone()),
                (_, None) => {
                    return Err(Error::Empty {
                        field: "feedback.B (random and adaptive e-prop need a matrix)".into(),
                    });
                }
            };
            if fast {
                credit_eprop::fast(net, params, seq, &feedback).map(|g| (g.loss, g.grad))
            } else {
                credit_eprop::gradient(net, params, seq, &feedback).map(|g| (g.loss, g.grad))
            }
        }
        (Rule::Family { m, reading }, Model::Layer(net)) if fast => {
            credit_family::fast::gradient(net, params, seq, *m, *reading).map(|g| (g.loss, g.grad))
        }
        (Rule::Family { m, reading }, Model::Layer(net)) => {
            credit_family::gradient(net, params, seq, *m, *reading).map(|g| (g.loss, g.grad))
        }
        (Rule::Deep, Model::Stack(s)) if fast => {
            credit_deep::fast::gradient(s, params, seq).map(|g| (g.loss, g.grad))
        }
        (Rule::Deep, Model::Stack(s)) => credit_deep::gradient(s, params, seq).map(|g| (g.loss, g.grad)),
        (Rule::Ostl, Model::Stack(s)) if fast => {
            credit_ostl::fast::gradient(s, params, seq).map(|g| (g.loss, g.grad))
        }
        (Rule::Ostl, Model::Stack(s)) => credit_ostl::gradient(s, params, seq).map(|g| (g.loss, g.grad)),
        _ => unreachable!("check_model refuses the other pairs"),
    }?;
    Ok(Estimate { loss, grad })
}
