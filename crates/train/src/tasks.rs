//! Tasks generated from a seed (no downloads), `docs/training.md` §5, and the presets that
//! build a model, initial parameters and a training config for them ([`setup`]).
//!
//! Every task returns [`Sequence`]s of the core (inputs, targets, loss masks). Draws use
//! `rand_chacha::ChaCha8Rng`, so a seed gives the same sequences on every platform.

use crate::optim::Optimizer;
use crate::rule::{Model, Rule};
use crate::train::{Clip, Reduction, TrainConfig};
use credit_core::cell::{Cell, Lstm, Rate};
use credit_core::{
    Conventions, Error, InitScale, Layer, Loss, Network, Params, Preset, Result, Sequence, Stack,
};
use nalgebra::DVector;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// What a task generates.
#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    /// Pattern generation (Bellec et al. 2020, Fig. 2): one frozen sequence, repeated.
    Sine {
        /// The frozen sequence (inputs, targets, mask).
        seq: Sequence,
    },
    /// Evidence accumulation (Bellec et al. 2020, Fig. 3), fresh sequences.
    Evidence(EvidenceParams),
    /// Store-recall: remember a bit from a store signal until a recall signal.
    StoreRecall {
        /// Sequence length `T`.
        steps: usize,
        /// Steps of the recall window (loss mask 1 there).
        recall: usize,
    },
    /// Copy: reproduce `length` symbols after `delay` blanks and a delimiter.
    Copy {
        /// Alphabet size `A`.
        symbols: usize,
        /// Symbols to copy `L`.
        length: usize,
        /// Blank steps between the symbols and the delimiter `D`.
        delay: usize,
    },
    /// Adding: the sum of the two marked values, at the last step.
    Adding {
        /// Sequence length `T`.
        steps: usize,
    },
}

/// Parameters of the evidence-accumulation task (NEST's names).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EvidenceParams {
    /// Input neurons per population (4 populations: left, right, recall, noise).
    pub pop: usize,
    /// Number of cues `n_cues`.
    pub cues: usize,
    /// Probability of the minority side per cue (`prob_group`).
    pub prob_group: f64,
    /// Steps of one cue (`cue`).
    pub cue: usize,
    /// Steps before each cue (`spacing`).
    pub spacing: usize,
    /// Steps of background noise after the cues (`bg_noise`).
    pub bg_noise: usize,
    /// Steps of the recall window (`recall`), where the loss mask is 1.
    pub recall: usize,
    /// Spike probability per step of an active population (`input_spike_prob`; the noise
    /// population fires at a quarter of it throughout).
    pub p: f64,
}

/// A task: sizes, loss and how its sequences are drawn.
#[derive(Clone, Debug, PartialEq)]
pub struct Task {
    /// `sine`, `evidence`, `store-recall`, `copy`, `adding`.
    pub name: &'static str,
    /// Inputs `N_in`.
    pub n_in: usize,
    /// Readouts `K`.
    pub n_out: usize,
    /// The per-step loss.
    pub loss: Loss,
    /// What is drawn.
    pub kind: Kind,
}

/// The task names [`setup`] knows.
pub const TASKS: [&str; 5] = ["sine", "evidence", "store-recall", "copy", "adding"];

fn bernoulli(rng: &mut ChaCha8Rng, p: f64) -> f64 {
    if rng.random_bool(p.clamp(0.0, 1.0)) { 1.0 } else { 0.0 }
}

fn one_hot(k: usize, n: usize) -> DVector<f64> {
    DVector::from_fn(n, |i, _| if i == k { 1.0 } else { 0.0 })
}

/// The pattern-generation sequence (`docs/training.md` §5.1): `n_in` frozen Bernoulli(`p`)
/// spike trains (none at the first step), `n_out` targets, each a sum of four sines with
/// `⌊T/P⌋` cycles of periods `P ∈ periods` over the sequence, amplitudes `U(0.5, 2)`, phases
/// `U(0, 2π)`, shifted to start at 0 and scaled to max |·| = 1 (NEST's
/// `generate_superimposed_sines`); mask 1 everywhere.
pub fn sine_sequence(
    n_in: usize,
    n_out: usize,
    steps: usize,
    p: f64,
    periods: &[usize],
    seed: u64,
) -> Result<Sequence> {
    if steps < 2 {
        return Err(Error::Invalid {
            field: "task.steps".into(),
            value: format!("{steps}"),
            requirement: "the sine task needs T >= 2",
        });
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x51_4E_E5);
    let x: Vec<DVector<f64>> = (0..steps)
        .map(|t| DVector::from_fn(n_in, |_, _| if t == 0 { 0.0 } else { bernoulli(&mut rng, p) }))
        .collect();
    let mut targets = vec![DVector::zeros(n_out); steps];
    for k in 0..n_out {
        let mut s = vec![0.0; steps];
        for &period in periods {
            let a: f64 = rng.random_range(0.5..2.0);
            let phi: f64 = rng.random_range(0.0..std::f64::consts::TAU);
            let cycles = (steps / period.max(1)) as f64;
            for (t, v) in s.iter_mut().enumerate() {
                // np.linspace(φ, φ + 2π·cycles, T): inclusive end
                *v += a * (phi + std::f64::consts::TAU * cycles * t as f64 / (steps - 1) as f64).sin();
            }
        }
        let s0 = s[0];
        s.iter_mut().for_each(|v| *v -= s0);
        let m = s.iter().fold(1e-6f64, |m, v| m.max(v.abs()));
        for t in 0..steps {
            targets[t][k] = s[t] / m;
        }
    }
    Ok(Sequence { x, target: targets, mask: vec![1.0; steps] })
}

impl Task {
    /// Sequence length `T` of the task's sequences.
    pub fn steps(&self) -> usize {
        match &self.kind {
            Kind::Sine { seq } => seq.len(),
            Kind::Evidence(e) => e.cues * (e.cue + e.spacing) + e.bg_noise + e.recall,
            Kind::StoreRecall { steps, .. } | Kind::Adding { steps } => *steps,
            Kind::Copy { length, delay, .. } => 2 * length + delay + 1,
        }
    }

    /// One sequence drawn with `rng` (the sine task returns its frozen sequence).
    pub fn sample(&self, rng: &mut ChaCha8Rng) -> Sequence {
        let steps = self.steps();
        match &self.kind {
            Kind::Sine { seq } => seq.clone(),
            Kind::Evidence(e) => {
                // NEST's generate_evidence_accumulation_input_output, one sequence
                let minority_left = rng.random_bool(0.5);
                let p_left = if minority_left { e.prob_group } else { 1.0 - e.prob_group };
                let cues: Vec<usize> =
                    (0..e.cues).map(|_| if rng.random_bool(p_left) { 0 } else { 1 }).collect();
                let mut prob = vec![vec![0.0; self.n_in]; steps];
                for (c, &side) in cues.iter().enumerate() {
                    let start = c * (e.cue + e.spacing) + e.spacing;
                    for row in prob.iter_mut().skip(start).take(e.cue) {
                        row[side * e.pop..(side + 1) * e.pop].iter_mut().for_each(|v| *v = e.p);
                    }
                }
                for row in prob.iter_mut().skip(steps - e.recall) {
                    row[2 * e.pop..3 * e.pop].iter_mut().for_each(|v| *v = e.p);
                }
                for row in prob.iter_mut() {
                    row[3 * e.pop..].iter_mut().for_each(|v| *v = e.p / 4.0);
                }
                let x = (0..steps)
                    .map(|t| {
                        DVector::from_fn(
                            self.n_in,
                            |i, _| if t == 0 { 0.0 } else { bernoulli(rng, prob[t][i]) },
                        )
                    })
                    .collect();
                let class = usize::from(cues.iter().sum::<usize>() > e.cues / 2); // 1 = right
                let target = vec![one_hot(class, 2); steps];
                let mask = (0..steps).map(|t| if t + e.recall >= steps { 1.0 } else { 0.0 }).collect();
                Sequence { x, target, mask }
            }
            Kind::StoreRecall { steps, recall } => {
                // inputs: store, recall, value 0, value 1; a bit stored in the first third,
                // recalled in the last `recall` steps
                let bit = usize::from(rng.random_bool(0.5));
                let store = rng.random_range(0..(steps / 3).max(1));
                let x = (0..*steps)
                    .map(|t| {
                        let mut v = DVector::zeros(4);
                        if t == store {
                            v[0] = 1.0;
                            v[2 + bit] = 1.0;
                        }
                        if t + recall >= *steps {
                            v[1] = 1.0;
                        }
                        v
                    })
                    .collect();
                let target = vec![one_hot(bit, 2); *steps];
                let mask = (0..*steps).map(|t| if t + recall >= *steps { 1.0 } else { 0.0 }).collect();
                Sequence { x, target, mask }
            }
            Kind::Copy { symbols, length, delay } => {
                // inputs: A symbols, blank (A), delimiter (A + 1); outputs: blank (0), symbols 1..=A
                let (a, l, d) = (*symbols, *length, *delay);
                let seq: Vec<usize> = (0..l).map(|_| rng.random_range(0..a)).collect();
                let mut x = Vec::with_capacity(steps);
                let mut target = Vec::with_capacity(steps);
                let mut mask = Vec::with_capacity(steps);
                for t in 0..steps {
                    let input = if t < l {
                        seq[t]
                    } else if t == l + d {
                        a + 1
                    } else {
                        a
                    };
                    x.push(one_hot(input, a + 2));
                    let out = t.checked_sub(l + d + 1);
                    target.push(one_hot(out.map_or(0, |i| seq[i] + 1), a + 1));
                    mask.push(if out.is_some() { 1.0 } else { 0.0 });
                }
                Sequence { x, target, mask }
            }
            Kind::Adding { steps } => {
                // inputs: value U(0, 1), marker; one marker in each half; target their sum, at T
                let half = (steps / 2).max(1);
                let i = rng.random_range(0..half);
                let j = rng.random_range(half..*steps);
                let vals: Vec<f64> = (0..*steps).map(|_| rng.random_range(0.0..1.0)).collect();
                let x = (0..*steps)
                    .map(|t| DVector::from_vec(vec![vals[t], if t == i || t == j { 1.0 } else { 0.0 }]))
                    .collect();
                let target = vec![DVector::from_element(1, vals[i] + vals[j]); *steps];
                let mask = (0..*steps).map(|t| if t + 1 == *steps { 1.0 } else { 0.0 }).collect();
                Sequence { x, target, mask }
            }
        }
    }

    /// `size` sequences drawn with `rng`.
    pub fn batch(&self, rng: &mut ChaCha8Rng, size: usize) -> Result<Vec<Sequence>> {
        if size == 0 {
            return Err(Error::Empty { field: "batch".into() });
        }
        Ok((0..size).map(|_| self.sample(rng)).collect())
    }

    /// The evaluation set of a run with `seed`: `size` sequences from a stream of their own
    /// (the frozen sequence for the sine task), the same before and after training.
    pub fn eval_set(&self, seed: u64, size: usize) -> Result<Vec<Sequence>> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xE7A1_5E75);
        match self.kind {
            Kind::Sine { .. } => self.batch(&mut rng, 1),
            _ => self.batch(&mut rng, size.max(8)),
        }
    }
}

/// A ready-to-run training setup: task, model, initial parameters and config.
#[derive(Clone, Debug, PartialEq)]
pub struct Setup {
    /// The task.
    pub task: Task,
    /// The model.
    pub model: Model,
    /// The initial parameters.
    pub params: Params<f64>,
    /// The training config (rule, optimiser, η, K, B, mask, clipping, seed).
    pub config: TrainConfig,
    /// The preset's name.
    pub preset: &'static str,
}

/// What a preset fixes besides the task.
struct Spec {
    n: usize,
    conv: Conventions,
    tau_m: f64,
    v_th: f64,
    kappa: f64,
    reg: Option<(f64, f64)>,
    init: InitScale,
    optimizer: Optimizer,
    lr: f64,
    iterations: usize,
    batch: usize,
    reduction: Reduction,
    frozen: Vec<String>,
    clip: Option<f64>,
    alif: (f64, f64),
}

fn cell_of(name: &str, s: &Spec) -> Result<Cell> {
    let alpha = (-1.0 / s.tau_m).exp();
    Ok(match name {
        "rate" => Cell::Rate(Rate { alpha: (-1.0f64 / 5.0).exp() }),
        "lstm" => Cell::Lstm(Lstm),
        "lif" => s.conv.lif(alpha, s.v_th),
        "alif" => s.conv.alif(alpha, s.v_th, s.alif.0, s.alif.1),
        _ => {
            return Err(Error::Invalid {
                field: "cell".into(),
                value: name.into(),
                requirement: "one of rate, lif, alif, lstm",
            });
        }
    })
}

/// The presets [`setup`] knows per task: `default` for every task; `nest` for `sine` and
/// `evidence`.
pub fn presets(task: &str) -> &'static [&'static str] {
    match task {
        "sine" | "evidence" => &["default", "nest"],
        _ => &["default"],
    }
}

/// Builds task, model, parameters and config for `task` with cell `cell` and `rule`
/// (`docs/training.md` §5–§6). `layers ≥ 2` (or a stack rule) builds a stack of equal layers
/// (stacks carry no regulariser). Everything is drawn from `seed`.
pub fn setup(task: &str, cell: &str, preset: &str, rule: Rule, layers: usize, seed: u64) -> Result<Setup> {
    if !TASKS.contains(&task) {
        return Err(Error::Invalid {
            field: "task".into(),
            value: task.into(),
            requirement: "one of sine, evidence, store-recall, copy, adding",
        });
    }
    let preset: &'static str = match presets(task).iter().find(|p| **p == preset) {
        Some(p) => p,
        None => {
            return Err(Error::Invalid {
                field: "preset".into(),
                value: format!("{preset} (task {task})"),
                requirement: "default for every task; nest for sine and evidence",
            });
        }
    };
    if layers == 0 {
        return Err(Error::Empty { field: "layers".into() });
    }
    let nest = preset == "nest";
    let paper = Preset::Paper.conventions();
    let small_default = |n: usize| Spec {
        n,
        conv: paper,
        tau_m: 20.0,
        v_th: 1.0,
        kappa: (-1.0f64 / 20.0).exp(),
        reg: None,
        init: InitScale { w_in: 3.0, w_rec: 1.0, b: 0.0, w_out: 0.1, b_out: 0.0 },
        optimizer: Optimizer::ADAM,
        lr: 1e-2,
        iterations: 100,
        batch: 1,
        reduction: Reduction::Sum,
        frozen: Vec::new(),
        clip: None,
        alif: ((-1.0f64 / 200.0).exp(), 0.5),
    };
    let (t, spec) = match (task, nest) {
        ("sine", false) => {
            let seq = sine_sequence(20, 1, 100, 0.1, &[100, 50, 33, 20], seed)?;
            (
                Task { name: "sine", n_in: 20, n_out: 1, loss: Loss::Mse, kind: Kind::Sine { seq } },
                Spec { iterations: 500, ..small_default(30) },
            )
        }
        ("sine", true) => {
            // NEST pynest/examples/eprop_plasticity/eprop_supervised_regression_sine-waves_bsshslm_2020.py
            let seq = sine_sequence(100, 1, 1000, 0.05, &[1000, 500, 333, 200], seed)?;
            // regular_spike_arrival = False on neurons and readout: ζ = 1 − α, c = 1 − κ
            let conv = Preset::NestNoRegularArrival.conventions();
            let spec = Spec {
                n: 100,
                conv,
                tau_m: 30.0,
                v_th: 0.03,
                kappa: (-1.0f64 / 30.0).exp(),
                reg: Some((300.0, 10.0 / 1000.0)), // c_reg = 300, f_target = 10 Hz = 0.01 / ms
                init: InitScale { w_in: 1.0, w_rec: 1.0, b: 0.0, w_out: 1.0, b_out: 0.0 },
                optimizer: Optimizer::Sgd,
                lr: 1e-4,
                iterations: 5, // the example's n_iter (2000 in the TF reference)
                batch: 1,
                reduction: Reduction::Sum, // average_gradient = False
                frozen: vec!["b".into(), "b_out".into()],
                clip: Some(100.0), // Wmin = -100, Wmax = 100
                alif: ((-1.0f64 / 200.0).exp(), 0.0),
            };
            (Task { name: "sine", n_in: 100, n_out: 1, loss: Loss::Mse, kind: Kind::Sine { seq } }, spec)
        }
        ("evidence", nest) => {
            let e = if nest {
                // NEST .../eprop_supervised_classification_evidence-accumulation_bsshslm_2020.py
                EvidenceParams {
                    pop: 10,
                    cues: 7,
                    prob_group: 0.3,
                    cue: 100,
                    spacing: 50,
                    bg_noise: 1050,
                    recall: 150,
                    p: 0.04,
                }
            } else {
                EvidenceParams {
                    pop: 5,
                    cues: 3,
                    prob_group: 0.3,
                    cue: 10,
                    spacing: 5,
                    bg_noise: 20,
                    recall: 10,
                    p: 0.2,
                }
            };
            let task = Task {
                name: "evidence",
                n_in: 4 * e.pop,
                n_out: 2,
                loss: Loss::CrossEntropy,
                kind: Kind::Evidence(e),
            };
            let spec = if nest {
                let mut conv = Preset::Nest.conventions();
                conv.n_ref = 4; // t_ref = 5 ms = (n_ref + 1) dt
                let tau_m = 20.0;
                let beta = 1.7 * ((1.0 - (-1.0f64 / 2000.0).exp()) / (1.0 - (-1.0f64 / tau_m).exp()));
                Spec {
                    n: 100,
                    conv,
                    tau_m,
                    v_th: 0.6,
                    kappa: (-1.0f64 / 20.0).exp(),
                    reg: Some((300.0, 10.0 / 1000.0)),
                    init: InitScale { w_in: 1.0, w_rec: 1.0, b: 0.0, w_out: 1.0, b_out: 0.0 },
                    optimizer: Optimizer::ADAM,
                    lr: 5e-3,
                    iterations: 50,
                    batch: 32,
                    reduction: Reduction::Mean, // average_gradient = True
                    frozen: vec!["b".into(), "b_out".into()],
                    clip: Some(100.0),
                    alif: ((-1.0f64 / 2000.0).exp(), beta),
                }
            } else {
                Spec { batch: 8, iterations: 60, ..small_default(24) }
            };
            (task, spec)
        }
        ("store-recall", _) => (
            Task {
                name: "store-recall",
                n_in: 4,
                n_out: 2,
                loss: Loss::CrossEntropy,
                kind: Kind::StoreRecall { steps: 30, recall: 5 },
            },
            Spec { batch: 8, iterations: 80, init: rate_init(), ..small_default(16) },
        ),
        ("copy", _) => (
            Task {
                name: "copy",
                n_in: 5,
                n_out: 4,
                loss: Loss::CrossEntropy,
                kind: Kind::Copy { symbols: 3, length: 3, delay: 5 },
            },
            Spec { batch: 8, iterations: 80, init: rate_init(), ..small_default(16) },
        ),
        _ => (
            Task { name: "adding", n_in: 2, n_out: 1, loss: Loss::Mse, kind: Kind::Adding { steps: 20 } },
            Spec { batch: 8, iterations: 80, init: rate_init(), ..small_default(16) },
        ),
    };
    let cell = cell_of(cell, &spec)?;
    let readout = spec.conv.readout(spec.kappa);
    let stack_rule = matches!(rule, Rule::Deep | Rule::Ostl);
    let (model, params) = if layers == 1 && !stack_rule {
        let mut net = Network::new(cell, t.n_in, spec.n, t.n_out, readout, t.loss)?;
        if let Some((c_reg, f)) = spec.reg.filter(|_| credit_core::CellModel::is_spiking(&net.cell)) {
            net = net.with_reg(spec.conv.reg(c_reg, f, 1.0))?;
        }
        let p = Params::random_scaled(&net, seed, spec.init)?;
        (Model::Layer(net), p)
    } else {
        let stack = Stack::new(vec![Layer { cell, n: spec.n }; layers], t.n_in, t.n_out, readout, t.loss)?;
        let mut p = stack.random_params(seed)?;
        // Stack::random_params draws w_out with gain 1: rescale to the preset's gain
        let k = p.tensors.len() - 2;
        p.tensors[k].value *= spec.init.w_out;
        (Model::Stack(stack), p)
    };
    let shapes = model.tensor_shapes();
    let mut config = TrainConfig::new(rule, spec.lr, spec.iterations, seed);
    config.optimizer = spec.optimizer;
    config.batch = spec.batch;
    config.reduction = spec.reduction;
    config.frozen = spec.frozen.into_iter().filter(|f| shapes.iter().any(|(n, _, _)| n == f)).collect();
    if let Some(w) = spec.clip {
        config.clip = shapes
            .iter()
            .filter(|(n, _, _)| n.contains("w_"))
            .map(|(n, _, _)| Clip { tensor: n.to_string(), lo: -w, hi: w })
            .collect();
    }
    Ok(Setup { task: t, model, params, config, preset })
}

/// The rate-cell gains of `InitScale::default_for` (the copy, adding and store-recall tasks
/// are meant for rate and LSTM cells).
fn rate_init() -> InitScale {
    InitScale { w_in: 1.0, w_rec: 0.9, b: 0.1, w_out: 1.0, b_out: 0.1 }
}
