//! The feedforward relations (issue 13): backprop against the dual-number oracle, and Q-AGREL
//! (BrainProp, `docs/qagrel.md`) against backprop, on a built-in suite of small feedforward
//! networks ([`builtin_ff`]: several sizes, ReLU and sigmoid hidden layers, linear and sigmoid
//! outputs, with and without biases). Cell ids are `ff(<hidden>→<output>[+b])`.
//!
//! | id | compared | expect |
//! |---|---|---|
//! | `ff-bp=oracle` | backprop (BP1)–(BP3) vs the oracle (O9), MSE (FF2) and π-weighted (FF4) losses | equal (1e-12) |
//! | `qagrel=oracle` | for every action `a` (`r = 1[a = label]`): `−ΔW(a)` (Q7) vs the oracle's `∇ ½(r − Q_a)²` (FF3); one row per tensor with the worst action (P-a1) | equal |
//! | `qagrel-expected=weighted-bp` | `−Σ_a π_a ΔW(a)` (Q9) vs backprop of `Σ_k π_k ½(r_k − Q_k)²` (FF4) for ε-greedy, Max-Boltzmann and uniform π; uniform π also vs `(1/K)·` backprop of the full MSE (P-a2) | equal |
//! | `qagrel-feedback-invariant` | `W′^l − (W^l)ᵀ` after 100 learning steps (Q8) vs before, random and symmetric initial `W′` (P-a3); the row fails unless `W` moved | equal |
//! | `qagrel-fa!=oracle` | with random `W′`, `−ΔW(a)` of the hidden layers vs the oracle: the approximation must differ | differ |
//!
//! Liveness ([`ff_liveness`]): every hidden layer has at least [`MIN_FF_ACTIVE`] of its
//! units with `f′(u) ≠ 0` (no dead ReLU layer); the reference gradient is non-zero in at least
//! half of the entries that the activity allows (`∂ℓ/∂W^l_{ij} = δ^l_i y^{l−1}_j` is zero by
//! construction where unit `i` is inactive or input `j` is zero); and each reference (an
//! action's gradient, so its `δ`) is non-zero.

use crate::compare::{Liveness, alive, max_rel_err};
use crate::relations::{Expect, Row, Select};
use credit_core::feedforward::{Activation, FeedForward, FfLoss, forward};
use credit_core::{Params, Tensor};
use credit_qagrel::{Learner, Policy, expected_update, reward, update};
use nalgebra::{DMatrix, DVector};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// Tolerance of the exact feedforward relations in `f64` (measured ~1e-16).
pub const TOL_FF: f64 = 1e-12;
/// Threshold of `qagrel-fa!=oracle`: random feedback must move the hidden updates further than
/// this from the gradient.
pub const TOL_FF_DIFFER: f64 = 1e-3;
/// Learning steps of `qagrel-feedback-invariant`.
pub const INVARIANT_STEPS: usize = 100;
/// Least relative change of every `W^l` over [`INVARIANT_STEPS`]: an invariant of a network
/// that did not learn is vacuous.
pub const MIN_LEARNED: f64 = 1e-3;

/// Least fraction of the units of every hidden layer with `f′(u) ≠ 0` on the config's sample:
/// a ReLU layer below it is (nearly) dead and the relations would test little of it.
pub const MIN_FF_ACTIVE: f64 = 0.25;

/// The ids of this module's relations.
pub const IDS: &[&str] = &[
    "ff-bp=oracle",
    "qagrel=oracle",
    "qagrel-expected=weighted-bp",
    "qagrel-feedback-invariant",
    "qagrel-fa!=oracle",
];

/// One feedforward config: a network, a seed for its parameters and its sample, and the gains
/// of the initialisation (`W^l` entries `N(0, gain²/n_{l−1})`, biases `N(0, b_std²)`).
#[derive(Clone, Debug)]
pub struct FfConfig {
    /// Name shown in the `config` column.
    pub name: String,
    /// The network.
    pub net: FeedForward,
    /// Seed of parameters, input, target, label and the learner's RNG.
    pub seed: u64,
    /// Gain of the weights.
    pub gain: f64,
    /// Standard deviation of the biases.
    pub b_std: f64,
}

impl FfConfig {
    /// The config as JSON (the `spec` column of the JSON report).
    pub fn spec(&self) -> serde_json::Value {
        serde_json::json!({
            "kind": "feedforward",
            "name": self.name,
            "sizes": self.net.sizes,
            "hidden": self.net.hidden.id(),
            "output": self.net.output.id(),
            "bias": self.net.bias,
            "seed": self.seed,
            "init": {"gain": self.gain, "b_std": self.b_std},
            "data": "seed",
        })
    }

    /// Parameters, input `x ~ N(0, I)`, an MSE target `t ~ N(0, I)` and a label, from the seed.
    pub fn data(&self) -> credit_core::Result<FfData> {
        let p = self.net.random_params(self.seed, self.gain, self.b_std)?;
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ 0xFEED_F0D0);
        let mut normal = || -> f64 { StandardNormal.sample(&mut rng) };
        let x = DVector::from_fn(self.net.sizes[0], |_, _| normal());
        let t = DVector::from_fn(self.net.n_out(), |_, _| normal());
        let label = (self.seed as usize) % self.net.n_out();
        Ok(FfData { params: p, x, target: t, label })
    }
}

/// The data of a config ([`FfConfig::data`]).
#[derive(Clone, Debug)]
pub struct FfData {
    /// Parameters.
    pub params: Params<f64>,
    /// The input sample.
    pub x: DVector<f64>,
    /// An MSE target.
    pub target: DVector<f64>,
    /// A class label `< n_L`.
    pub label: usize,
}

/// `W′ − Wᵀ` per layer before and after learning, and the relative change of every `W^l`.
type InvariantRun = (Vec<DMatrix<f64>>, Vec<DMatrix<f64>>, Vec<f64>);

fn cfg(
    name: &str,
    sizes: &[usize],
    hidden: Activation,
    output: Activation,
    bias: bool,
    seed: u64,
) -> FfConfig {
    let gain = if hidden == Activation::Relu { 1.5 } else { 2.0 };
    FfConfig {
        name: name.to_string(),
        net: FeedForward::new(sizes.to_vec(), hidden, output, bias).expect("built-in networks are valid"),
        seed,
        gain,
        b_std: if bias { 0.2 } else { 0.0 },
    }
}

/// The built-in feedforward configs: BrainProp's shape (ReLU, linear output, no biases) at
/// three depths, sigmoid hidden layers with both outputs (BurstCCN's shape: sigmoid throughout),
/// ReLU with a sigmoid output and biases, and a deeper all-sigmoid net (the two all-sigmoid
/// configs also carry the BurstCCN relations, [`crate::burstccn`]).
pub fn builtin_ff() -> Vec<FfConfig> {
    use Activation::{Linear, Relu, Sigmoid};
    vec![
        cfg("brainprop-1h", &[5, 7, 4], Relu, Linear, false, 11),
        cfg("brainprop-3h", &[8, 9, 7, 6, 4], Relu, Linear, false, 12),
        cfg("relu-bias", &[6, 8, 5, 3], Relu, Linear, true, 13),
        cfg("sigmoid-linear", &[4, 6, 3], Sigmoid, Linear, true, 14),
        cfg("sigmoid-sigmoid", &[6, 5, 4, 3], Sigmoid, Sigmoid, true, 15),
        cfg("relu-sigmoid", &[7, 8, 8, 5], Relu, Sigmoid, true, 16),
        cfg("sigmoid-deep", &[5, 7, 6, 5, 4], Sigmoid, Sigmoid, true, 17),
    ]
}

/// The liveness of one sample on `net` with the reference gradient `grad`, and the verdict:
/// every hidden layer has `f′(u) ≠ 0` on at least [`MIN_FF_ACTIVE`] of its units (a dead
/// ReLU layer fails, naming the layer), then [`Liveness::verdict_for`] (norm, and the sparsest
/// tensor of `grad` counted against the entries the activity allows: `active_l × nonzero
/// inputs` for `W^l`, `active_l` for `b^l`).
pub fn ff_liveness(
    net: &FeedForward,
    p: &Params<f64>,
    x: &DVector<f64>,
    grad: &Params<f64>,
) -> credit_core::Result<(Liveness, Result<(), String>)> {
    let traj = forward(net, p, x)?;
    let mut live = Liveness {
        spiking: false,
        spikes: 0,
        active_derivatives: 0,
        outputs: 0,
        grad_norm: grad.tensors.iter().map(|t| t.value.norm_squared()).sum::<f64>().sqrt(),
        sparsest: "",
        sparsest_nonzero: 0,
        sparsest_entries: 0,
    };
    let mut dead = None;
    // the units of each layer whose slope is non-zero, and the inputs that are non-zero
    let mut active = vec![0usize; net.n_layers() + 1];
    for l in 1..=net.n_layers() {
        let f = net.activation(l);
        active[l] = traj.u[l].iter().filter(|&&u| f.prime(u) != 0.0).count();
        if l < net.n_layers() {
            if dead.is_none() && (active[l] as f64) < MIN_FF_ACTIVE * net.sizes[l] as f64 {
                dead = Some(format!(
                    "not live: hidden layer {l} has f'≠0 on {}/{} units",
                    active[l], net.sizes[l]
                ));
            }
            live.active_derivatives += active[l];
            live.outputs += net.sizes[l];
        }
    }
    for l in 1..=net.n_layers() {
        let inputs = traj.y[l - 1].iter().filter(|v| **v != 0.0).count();
        let w = &grad.tensors[net.w_index(l)];
        let nonzero = w.value.iter().filter(|v| **v != 0.0).count();
        live.keep_sparser(w.name, nonzero, active[l] * inputs);
        if let Some(bi) = net.b_index(l) {
            let b = &grad.tensors[bi];
            live.keep_sparser(b.name, b.value.iter().filter(|v| **v != 0.0).count(), active[l]);
        }
    }
    let verdict = match dead {
        Some(e) => Err(e),
        None => live.verdict_for(false),
    };
    Ok((live, verdict))
}

fn negate(p: &Params<f64>) -> Params<f64> {
    p.map(|v| -v)
}

fn scaled(p: &Params<f64>, s: f64) -> Params<f64> {
    p.map(|v| v * s)
}

/// Random feedback weights `W′^l` (`n_{l−1} × n_l`), `N(0, gain²/n_l)`, from `seed`.
pub fn random_feedback(net: &FeedForward, seed: u64, gain: f64) -> Vec<DMatrix<f64>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xB0B0_FEED);
    (1..=net.n_layers())
        .map(|l| {
            let std = gain / (net.sizes[l] as f64).sqrt();
            DMatrix::from_fn(net.sizes[l - 1], net.sizes[l], |_, _| {
                std * <StandardNormal as Distribution<f64>>::sample(&StandardNormal, &mut rng)
            })
        })
        .collect()
}

/// Runs the selected relations of this module on one config.
pub fn run_ff_selected(cfg: &FfConfig, select: Select) -> credit_core::Result<Vec<Row>> {
    if !select.any(IDS) {
        return Ok(Vec::new());
    }
    let net = &cfg.net;
    let FfData { params: p, x, target: t, label } = cfg.data()?;
    let k = net.n_out();
    let mse = FfLoss::Mse { target: t };
    let oracle_mse = credit_oracle::ff_gradient(net, &p, &x, &mse)?;
    let (live, verdict) = ff_liveness(net, &p, &x, &oracle_mse.grad)?;
    let mut out = Out { cfg, select, live, verdict, spec: cfg.spec(), rows: Vec::new() };
    let onehot = DVector::from_fn(k, |i, _| reward(i, label));
    // ff-bp=oracle: MSE and a π-weighted loss
    if select.wants("ff-bp=oracle") {
        let bp = credit_backprop::gradient(net, &p, &x, &mse)?;
        out.equal("ff-bp=oracle", "mse: ", &bp.grad.tensors, &oracle_mse.grad.tensors);
        let weights = DVector::from_fn(k, |i, _| 0.2 + 0.6 * (i as f64 + 1.0) / k as f64);
        let weighted = FfLoss::Weighted { weights, targets: onehot.clone() };
        let bp = credit_backprop::gradient(net, &p, &x, &weighted)?;
        let or = credit_oracle::ff_gradient(net, &p, &x, &weighted)?;
        out.equal("ff-bp=oracle", "weighted: ", &bp.grad.tensors, &or.grad.tensors);
    }
    // qagrel=oracle (P-a1): every action, one row per tensor with the worst action
    let random_fb = random_feedback(net, cfg.seed, 1.0);
    if select.any(&["qagrel=oracle", "qagrel-fa!=oracle"]) {
        let n = p.tensors.len();
        let mut worst = vec![(0.0f64, 0usize, true); n];
        let mut fa_worst = vec![(f64::INFINITY, 0usize, true); n];
        for a in 0..k {
            let r = reward(a, label);
            let u = update(net, &p, None, &x, a, r)?;
            let or = credit_oracle::ff_gradient(net, &p, &x, &FfLoss::Selected { action: a, reward: r })?;
            let fa = update(net, &p, Some(&random_fb), &x, a, r)?;
            let (neg, fa_neg) = (negate(&u.dw), negate(&fa.dw));
            for i in 0..n {
                let e = max_rel_err(&neg.tensors[i].value, &or.grad.tensors[i].value);
                if e >= worst[i].0 {
                    (worst[i].0, worst[i].1) = (e, a);
                }
                worst[i].2 &= alive(&or.grad.tensors[i].value);
                // the differ guard takes the *closest* action: every action must differ
                let e = max_rel_err(&fa_neg.tensors[i].value, &or.grad.tensors[i].value);
                if e <= fa_worst[i].0 {
                    (fa_worst[i].0, fa_worst[i].1) = (e, a);
                }
                fa_worst[i].2 &= alive(&or.grad.tensors[i].value);
            }
        }
        for (i, tn) in p.tensors.iter().enumerate() {
            let (e, a, ok) = worst[i];
            out.push("qagrel=oracle", Expect::Equal, format!("{} (worst a={a})", tn.name), e, TOL_FF, ok);
            // only the hidden layers see W′ (the output layer's update is exact for any W′)
            if !tn.name.starts_with(&format!("l{}.", net.n_layers())) {
                let (e, a, ok) = fa_worst[i];
                out.push(
                    "qagrel-fa!=oracle",
                    Expect::Differ,
                    format!("random W': {} (closest a={a})", tn.name),
                    e,
                    TOL_FF_DIFFER,
                    ok,
                );
            }
        }
    }
    // qagrel-expected=weighted-bp (P-a2)
    if select.wants("qagrel-expected=weighted-bp") {
        let policies = [
            ("eps-greedy(0.3)", Policy::EpsilonGreedy { epsilon: 0.3 }),
            ("max-boltzmann(0.5,0.7)", Policy::MaxBoltzmann { epsilon: 0.5, temperature: 0.7 }),
            ("uniform", Policy::EpsilonGreedy { epsilon: 1.0 }),
        ];
        let qv = forward(net, &p, &x)?.output().clone();
        for (name, pol) in policies {
            let expected = negate(&expected_update(net, &p, None, &x, label, &pol)?);
            let pi = pol.probabilities(&qv)?;
            let weighted = FfLoss::Weighted { weights: pi, targets: onehot.clone() };
            let bp = credit_backprop::gradient(net, &p, &x, &weighted)?;
            out.equal(
                "qagrel-expected=weighted-bp",
                &format!("{name}: "),
                &expected.tensors,
                &bp.grad.tensors,
            );
            if name == "uniform" {
                let full = credit_backprop::gradient(net, &p, &x, &FfLoss::Mse { target: onehot.clone() })?;
                let third = scaled(&full.grad, 1.0 / k as f64);
                out.equal(
                    "qagrel-expected=weighted-bp",
                    "uniform = MSE/K: ",
                    &expected.tensors,
                    &third.tensors,
                );
            }
        }
    }
    // qagrel-feedback-invariant (P-a3)
    if select.wants("qagrel-feedback-invariant") {
        let transposed: Vec<DMatrix<f64>> =
            (1..=net.n_layers()).map(|l| p.tensors[net.w_index(l)].value.transpose()).collect();
        for (init, fb) in [("random W'", random_fb.clone()), ("symmetric W'", transposed)] {
            let Ok((before, after, moved)) = invariant_run(cfg, &p, fb) else {
                // learning diverged (a non-finite Q): the invariant is not established
                let tensor = format!("{init}: learning diverged");
                out.push("qagrel-feedback-invariant", Expect::Equal, tensor, f64::INFINITY, TOL_FF, false);
                continue;
            };
            for l in 0..net.n_layers() {
                let err = max_rel_err(&after[l], &before[l]);
                let reference = moved[l] >= MIN_LEARNED && (init.starts_with("sym") || alive(&before[l]));
                out.push(
                    "qagrel-feedback-invariant",
                    Expect::Equal,
                    format!("{init}: l{}: W'-W^T (|dW|/|W|={:.1e})", l + 1, moved[l]),
                    err,
                    TOL_FF,
                    reference,
                );
            }
        }
    }
    Ok(out.rows)
}

/// The rows of one feedforward config, with its liveness (shared with [`crate::burstccn`]).
pub(crate) struct Out<'a> {
    pub(crate) cfg: &'a FfConfig,
    pub(crate) select: Select<'a>,
    pub(crate) live: Liveness,
    pub(crate) verdict: Result<(), String>,
    pub(crate) spec: serde_json::Value,
    pub(crate) rows: Vec<Row>,
}

impl Out<'_> {
    pub(crate) fn push(
        &mut self,
        relation: &'static str,
        expect: Expect,
        tensor: String,
        err: f64,
        tol: f64,
        reference: bool,
    ) {
        if !self.select.wants(relation) {
            return;
        }
        self.rows.push(Row {
            relation,
            expect,
            cell: self.cfg.net.id(),
            config: self.cfg.name.clone(),
            scalar: "f64",
            tensor,
            max_rel_err: err,
            tolerance: tol,
            pass: self.verdict.is_ok() && reference && expect.holds(err, tol),
            liveness: self.live,
            reason: crate::relations::reason(&self.verdict, reference),
            spec: self.spec.clone(),
        });
    }

    /// One `equal` row per tensor: `a` against the reference `b`.
    fn equal(&mut self, relation: &'static str, prefix: &str, a: &[Tensor<f64>], b: &[Tensor<f64>]) {
        for (ta, tb) in a.iter().zip(b) {
            let err = max_rel_err(&ta.value, &tb.value);
            self.push(relation, Expect::Equal, format!("{prefix}{}", ta.name), err, TOL_FF, alive(&tb.value));
        }
    }
}

/// `W′ − Wᵀ` per layer before and after [`INVARIANT_STEPS`] single-sample Q-AGREL steps
/// (Max-Boltzmann ε = 0.5, α = 0.02 with ReLU hidden layers, 0.3 with sigmoid ones, fresh `N(0, I)` inputs, labels cycling), and the relative
/// change `max|ΔW^l| / max|W^l|` of every layer.
fn invariant_run(
    cfg: &FfConfig,
    p: &Params<f64>,
    fb: Vec<DMatrix<f64>>,
) -> credit_core::Result<InvariantRun> {
    let net = &cfg.net;
    let diff = |params: &Params<f64>, fb: &[DMatrix<f64>]| -> Vec<DMatrix<f64>> {
        (1..=net.n_layers()).map(|l| &fb[l - 1] - params.tensors[net.w_index(l)].value.transpose()).collect()
    };
    let before = diff(p, &fb);
    let policy = Policy::MaxBoltzmann { epsilon: 0.5, temperature: 1.0 };
    // ReLU nets with linear outputs diverge at larger rates; sigmoid layers learn slowly
    let lr = if net.hidden == Activation::Relu { 0.02 } else { 0.3 };
    let mut learner = Learner::new(net.clone(), p.clone(), Some(fb), policy, lr, cfg.seed)?;
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x1A7E_57E9);
    for s in 0..INVARIANT_STEPS {
        let x = DVector::from_fn(net.sizes[0], |_, _| {
            <StandardNormal as Distribution<f64>>::sample(&StandardNormal, &mut rng)
        });
        learner.train_batch(&[x], &[s % net.n_out()])?;
    }
    let after = diff(&learner.params, learner.feedback.as_deref().unwrap_or(&[]));
    let moved = (1..=net.n_layers())
        .map(|l| {
            let (w0, w1) = (&p.tensors[net.w_index(l)].value, &learner.params.tensors[net.w_index(l)].value);
            (w1 - w0).amax() / w0.amax()
        })
        .collect();
    Ok((before, after, moved))
}
