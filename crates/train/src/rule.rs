//! The gradient source: a [`Model`] (one layer or a stack) and a [`Rule`] of the workspace,
//! `docs/training.md` §1.
//!
//! [`gradient`] is one `match` with one arm per rule and [`Path`], each calling the rule's crate:
//! the fast path of the crate by default (`<crate>::fast`, proved equal to the literal
//! transcription by `check-gradients`' `*-fast=*` relations), the literal one on request. SnAp-n's
//! fast arm is its sparse path (`snap-fast=snap`), or fast RTRL where the pattern keeps every
//! entry; the other online rules of issue 15 (E-/F-BPTT, RFLO, KeRNL, UORO, KF-RTRL, R-KF-RTRL,
//! MDGL) have no fast path: their literal transcription runs either way (`docs/training.md` §1.1).

use credit_core::cell::Cell;
use credit_core::{Error, Network, Params, Result, Sequence, Stack};
use credit_eprop::Feedback;
use credit_family::Reading;
use credit_uoro::Kind;
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
    /// SnAp-`n`, `credit-snap` (S1)–(S4) of `docs/snap.md` (Menick et al. 2021); one layer, any
    /// cell. `n ≥ T` (or a full pattern) is RTRL exactly.
    Snap {
        /// The order `n ≥ 1` of the sparsity pattern `P_n`.
        n: usize,
    },
    /// E-BPTT, `credit-tbptt` (TB1)–(TB2) of `docs/tbptt.md`: non-overlapping windows of `L`
    /// steps; one layer, any cell, no regulariser. `L ≥ T` is BPTT exactly.
    Ebptt {
        /// The window `L ≥ 1`.
        window: usize,
    },
    /// F-BPTT, `credit-tbptt` (TB1), (TB3): a future-facing window of `L` steps; one layer, any
    /// cell, no regulariser. `L ≥ T` is BPTT exactly.
    Fbptt {
        /// The window `L ≥ 1`.
        window: usize,
    },
    /// RFLO, `credit-rflo` (RF1)–(RF3) of `docs/rflo.md` (Murray 2019): the rate cell only, the
    /// run's random feedback `B`, trace decay `α_r = α` (the cell's leak).
    Rflo,
    /// KeRNL, `credit-rflo` (K1)–(K5) (Roth et al. 2019): the rate cell only, the run's random
    /// feedback `B`, perturbations seeded per sequence from the run's seed.
    Kernl {
        /// `true`: `A` and `α_i` are learned by (K4) with [`KERNL_LEARNING`]'s rates and carried
        /// from sequence to sequence of the run (`docs/training.md` §1.1); `false`: the fixed
        /// reading `A = I`, `α_i = α`, zero rates (then KeRNL is RFLO, `kernl-fixed=rflo`).
        learn: bool,
    },
    /// UORO, KF-RTRL or R-KF-RTRL, `credit-uoro` (U1)–(U3), (KF1)–(KF2), (RK1)–(RK2) of
    /// `docs/uoro.md`: one layer (KF-RTRL: the rate cell only), fresh ±1 noise seeded per
    /// sequence from the run's seed.
    LowRank(Kind),
    /// MDGL, `credit-mdgl` (MD1)–(MD2) of `docs/mdgl.md` (Liu et al. 2021, a reconstruction),
    /// with the self-hop included (`SelfHop::Include`); one layer, any cell, no regulariser.
    Mdgl,
}

/// KeRNL's learning rates and perturbation size when it learns `A` and `α_i` in training: the
/// configuration of `credit-check`'s `kernl!=bptt` relation (`η_A = η_α = 0.5`, `σ = 0.05`),
/// with `A` and `α` taken from the run and the seed drawn per sequence.
pub const KERNL_LEARNING: credit_rflo::KernlConfig = credit_check::rflo::LEARNING;

/// KeRNL's learned `A` (`N × N`) and timescales `α_i` (length `N`), carried between sequences.
#[derive(Clone, Debug, PartialEq)]
pub struct KernlFit {
    /// The mixing matrix `A`.
    pub a: DMatrix<f64>,
    /// The timescales `α_i`.
    pub alpha: Vec<f64>,
}

/// What a gradient needs besides the model, the parameters and the sequence.
#[derive(Clone, Copy, Debug, Default)]
pub struct Aux<'a> {
    /// The feedback matrix `B` (`N × K`): e-prop random and adaptive, RFLO, KeRNL.
    pub feedback: Option<&'a DMatrix<f64>>,
    /// The seed of this gradient's noise: UORO/KF-RTRL/R-KF-RTRL's ±1 signs
    /// (`credit_uoro::Noise::Seed`), KeRNL's perturbations (`KernlConfig::seed`).
    pub noise_seed: u64,
    /// KeRNL (learning): `A` and `α_i` at the start of the sequence; `None` is `A = I`,
    /// `α_i = α`.
    pub kernl: Option<&'a KernlFit>,
}

impl Rule {
    /// The names [`Rule::parse`] accepts (`family-M` for any order `M`).
    pub const NAMES: &'static str = "bptt, rtrl, eprop-symmetric, eprop-random, eprop-adaptive, family-M (M = 0, 1, …), deep, ostl, snap-N (N ≥ 1), ebptt-L, fbptt-L (L ≥ 1), rflo, kernl, kernl-fixed, uoro, kf-rtrl, rkf-rtrl, mdgl";

    /// Parses `bptt`, `rtrl`, `eprop-symmetric` (or `eprop`), `eprop-random`, `eprop-adaptive`
    /// (λ = 0.01; build `Rule::Eprop(EpropFeedback::Adaptive { lambda })` for another), `family-M`,
    /// `deep`, `ostl`, `snap-N`, `ebptt-L`, `fbptt-L`, `rflo`, `kernl` (learning `A`, `α`),
    /// `kernl-fixed`, `uoro`, `kf-rtrl` (or `kf`), `rkf-rtrl` (or `rkf`), `mdgl`.
    ///
    /// ```
    /// use credit_train::{Rule, EpropFeedback};
    /// assert_eq!(Rule::parse("eprop-random").unwrap(), Rule::Eprop(EpropFeedback::Random));
    /// assert!(matches!(Rule::parse("family-2").unwrap(), Rule::Family { m: 2, .. }));
    /// assert_eq!(Rule::parse("snap-2").unwrap(), Rule::Snap { n: 2 });
    /// assert_eq!(Rule::parse("fbptt-20").unwrap(), Rule::Fbptt { window: 20 });
    /// assert!(Rule::parse("ebptt-0").is_err());
    /// assert_eq!(Rule::parse("sgd").unwrap_err().to_string().split(':').next(), Some("rule = sgd"));
    /// ```
    pub fn parse(name: &str) -> Result<Self> {
        let bad = || Error::Invalid {
            field: "rule".into(),
            value: name.to_string(),
            requirement: "one of bptt, rtrl, eprop-symmetric, eprop-random, eprop-adaptive, family-M (M = 0, 1, …), deep, ostl, snap-N (N ≥ 1), ebptt-L, fbptt-L (L ≥ 1), rflo, kernl, kernl-fixed, uoro, kf-rtrl, rkf-rtrl, mdgl",
        };
        // the order of SnAp and the windows of E-/F-BPTT are at least 1
        let positive = |prefix: &str| match name.strip_prefix(prefix).map(str::parse::<usize>) {
            Some(Ok(k)) if k >= 1 => Some(k),
            _ => None,
        };
        Ok(match name {
            "bptt" => Rule::Bptt,
            "rtrl" => Rule::Rtrl,
            "eprop" | "eprop-symmetric" => Rule::Eprop(EpropFeedback::Symmetric),
            "eprop-random" => Rule::Eprop(EpropFeedback::Random),
            "eprop-adaptive" => Rule::Eprop(EpropFeedback::Adaptive { lambda: 0.01 }),
            "deep" => Rule::Deep,
            "ostl" => Rule::Ostl,
            "rflo" => Rule::Rflo,
            "kernl" => Rule::Kernl { learn: true },
            "kernl-fixed" => Rule::Kernl { learn: false },
            "uoro" => Rule::LowRank(Kind::Uoro),
            "kf" | "kf-rtrl" => Rule::LowRank(Kind::Kf),
            "rkf" | "rkf-rtrl" => Rule::LowRank(Kind::Rkf),
            "mdgl" => Rule::Mdgl,
            _ => {
                if let Some(Ok(m)) = name.strip_prefix("family-").map(str::parse::<usize>) {
                    Rule::Family { m, reading: Reading::HopCount }
                } else if let Some(n) = positive("snap-") {
                    Rule::Snap { n }
                } else if let Some(window) = positive("ebptt-") {
                    Rule::Ebptt { window }
                } else if let Some(window) = positive("fbptt-") {
                    Rule::Fbptt { window }
                } else {
                    return Err(bad());
                }
            }
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
            Rule::Snap { n } => format!("snap-{n}"),
            Rule::Ebptt { window } => format!("ebptt-{window}"),
            Rule::Fbptt { window } => format!("fbptt-{window}"),
            Rule::Rflo => "rflo".into(),
            Rule::Kernl { learn: true } => "kernl".into(),
            Rule::Kernl { learn: false } => "kernl-fixed".into(),
            Rule::LowRank(Kind::Uoro) => "uoro".into(),
            Rule::LowRank(Kind::Kf) => "kf-rtrl".into(),
            Rule::LowRank(Kind::Rkf) => "rkf-rtrl".into(),
            Rule::Mdgl => "mdgl".into(),
        }
    }

    /// Whether the rule is one of issue 15's online rules (one layer, the rule crate's own
    /// constructor decides the cell and the regulariser).
    pub fn is_online_single_layer(&self) -> bool {
        matches!(
            self,
            Rule::Snap { .. }
                | Rule::Ebptt { .. }
                | Rule::Fbptt { .. }
                | Rule::Rflo
                | Rule::Kernl { .. }
                | Rule::LowRank(_)
                | Rule::Mdgl
        )
    }

    /// Whether the rule reads the feedback matrix `B` ([`Aux::feedback`]).
    pub fn needs_feedback(&self) -> bool {
        matches!(
            self,
            Rule::Eprop(EpropFeedback::Random | EpropFeedback::Adaptive { .. })
                | Rule::Rflo
                | Rule::Kernl { .. }
        )
    }

    /// Whether the rule needs a [`Model::Stack`] (deep e-prop, OSTL) or a [`Model::Layer`]
    /// (e-prop, the family, the online rules of issue 15); BPTT and RTRL take both. The online
    /// rules of issue 15 are also asked whether they are defined on the layer's cell and
    /// regulariser: their crate's constructor gives its own typed error (`network.cell` for
    /// RFLO, KeRNL and KF-RTRL off the rate cell, `network.reg` for a regulariser, …).
    pub fn check_model(&self, model: &Model) -> Result<()> {
        if let (true, Model::Layer(net)) = (self.is_online_single_layer(), model) {
            return online_defined(self, net);
        }
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
            requirement: "e-prop, the family and the online rules (snap, ebptt, fbptt, rflo, kernl, uoro, kf-rtrl, rkf-rtrl, mdgl) train one layer; deep e-prop and OSTL train stacks (--layers ≥ 2 builds a stack)",
        })
    }
}

/// The leak `α` of a rate cell (RFLO's trace decay `α_r`); `1` elsewhere, where RFLO's
/// constructor refuses the cell before reading it.
fn rate_leak(net: &Network) -> f64 {
    match &net.cell {
        Cell::Rate(r) => r.alpha,
        _ => 1.0,
    }
}

/// Asks the rule's crate whether it is defined on `net` (cell, regulariser, order, window).
fn online_defined(rule: &Rule, net: &Network) -> Result<()> {
    match rule {
        Rule::Snap { n } => credit_snap::Pattern::new(net, &Params::<f64>::zeros(net), *n).map(|_| ()),
        Rule::Ebptt { window } => credit_tbptt::Ebptt::<f64>::new(net, *window).map(|_| ()),
        Rule::Fbptt { window } => credit_tbptt::Fbptt::<f64>::new(net, *window).map(|_| ()),
        Rule::Rflo => credit_rflo::Rflo::<f64>::new(net, rate_leak(net)).map(|_| ()),
        Rule::Kernl { .. } => credit_rflo::Kernl::<f64>::new(net, &KERNL_LEARNING).map(|_| ()),
        Rule::LowRank(kind) => credit_uoro::LowRank::<f64>::new(net, *kind).map(|_| ()),
        Rule::Mdgl => credit_mdgl::Mdgl::<f64>::new(net, credit_mdgl::SelfHop::Include).map(|_| ()),
        _ => Ok(()),
    }
}

/// KeRNL's gradient of `seq` from `fit` (or `A = I`, `α_i = α`), returning the learned `A` and
/// `α_i` at the end of the sequence (`credit_rflo::kernl::final_state`).
fn kernl(
    net: &Network,
    params: &Params<f64>,
    seq: &Sequence,
    fb: &DMatrix<f64>,
    cfg: &credit_rflo::KernlConfig,
) -> Result<(f64, Params<f64>, KernlFit)> {
    let st = credit_rflo::kernl::final_state(net, params, seq, fb, cfg)?;
    let fit = KernlFit { a: st.a.clone(), alpha: st.alpha.iter().copied().collect() };
    Ok((st.loss, st.grad, fit))
}

/// One sequence's loss (with the regulariser, as the rule computed it) and gradient estimate.
#[derive(Clone, Debug, PartialEq)]
pub struct Estimate {
    /// The loss `E` the rule reports (task loss + regulariser).
    pub loss: f64,
    /// The rule's gradient (exact for BPTT and RTRL).
    pub grad: Params<f64>,
    /// KeRNL learning `A` and `α_i`: their values at the end of the sequence; `None` otherwise.
    pub kernl: Option<KernlFit>,
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

/// The gradient of `rule` on one sequence, by `path`. `aux.feedback` is the feedback matrix
/// (`N × K`) of random and adaptive e-prop, RFLO and KeRNL, ignored otherwise; `aux.noise_seed`
/// seeds UORO/KF-RTRL/R-KF-RTRL's signs and KeRNL's perturbations; `aux.kernl` is KeRNL's
/// learned state. Every arm calls the rule's crate once.
pub fn gradient(
    rule: &Rule,
    path: Path,
    model: &Model,
    params: &Params<f64>,
    seq: &Sequence,
    aux: &Aux<'_>,
) -> Result<Estimate> {
    rule.check_model(model)?;
    let fast = path == Path::Fast;
    let b = aux.feedback;
    let need_b = || Error::Empty {
        field: "feedback.B (random and adaptive e-prop, RFLO and KeRNL need a matrix)".into(),
    };
    let mut fit = None;
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
                (_, None) => return Err(need_b()),
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
        // SnAp-n's fast arm: the sparse path (snap.md §6, `snap-fast=snap`) where the pattern
        // cuts, fast RTRL where it keeps every entry (then SnAp-n is RTRL: `snap-full=rtrl`,
        // `rtrl-fast=rtrl`); the sparse path is slower than a dense GEMM on a full pattern
        (Rule::Snap { n }, Model::Layer(net)) if fast => {
            if credit_snap::Pattern::new(net, params, *n)?.is_full() {
                credit_rtrl::fast::gradient(net, params, seq).map(|g| (g.loss, g.grad))
            } else {
                credit_snap::sparse::gradient(net, params, seq, *n).map(|g| (g.loss, g.grad)) // snap.md (SP1)–(SP6)
            }
        }
        // the online rules of issue 15: no fast path, the literal transcription either way
        (Rule::Snap { n }, Model::Layer(net)) => {
            credit_snap::gradient(net, params, seq, *n).map(|g| (g.loss, g.grad)) // snap.md (S1)–(S4)
        }
        (Rule::Ebptt { window }, Model::Layer(net)) => {
            credit_tbptt::ebptt(net, params, seq, *window).map(|g| (g.loss, g.grad)) // tbptt.md (TB2)
        }
        (Rule::Fbptt { window }, Model::Layer(net)) => {
            credit_tbptt::fbptt(net, params, seq, *window).map(|g| (g.loss, g.grad)) // tbptt.md (TB3)
        }
        (Rule::Rflo, Model::Layer(net)) => {
            let fb = b.ok_or_else(need_b)?;
            // rflo.md (RF1)–(RF3), α_r = α
            credit_rflo::rflo::gradient(net, params, seq, fb, rate_leak(net)).map(|g| (g.loss, g.grad))
        }
        (Rule::Kernl { learn }, Model::Layer(net)) => {
            let fb = b.ok_or_else(need_b)?;
            let cfg = if *learn {
                credit_rflo::KernlConfig {
                    a0: aux.kernl.map(|f| f.a.clone()),
                    alpha0: aux.kernl.map(|f| f.alpha.clone()),
                    seed: aux.noise_seed,
                    ..KERNL_LEARNING
                }
            } else {
                credit_rflo::KernlConfig::fixed(aux.noise_seed)
            };
            kernl(net, params, seq, fb, &cfg).map(|(loss, grad, f)| {
                fit = learn.then_some(f);
                (loss, grad)
            })
        }
        (Rule::LowRank(kind), Model::Layer(net)) => {
            let noise = credit_uoro::Noise::Seed(aux.noise_seed);
            credit_uoro::gradient(net, params, seq, *kind, &noise).map(|g| (g.loss, g.grad)) // uoro.md
        }
        (Rule::Mdgl, Model::Layer(net)) => {
            // mdgl.md (MD1)–(MD2), the self-hop included
            credit_mdgl::gradient(net, params, seq, credit_mdgl::SelfHop::Include).map(|g| (g.loss, g.grad))
        }
        _ => unreachable!("check_model refuses the other pairs"),
    }?;
    Ok(Estimate { loss, grad, kernl: fit })
}
