//! The training loop, `docs/training.md` §3–§4: batches, reduction, mask, clipping, adaptive
//! feedback, logs.
//!
//! One update `k` draws a batch of `B` sequences from the task, asks the rule for one gradient
//! per sequence, reduces them (U1), takes the optimiser's step on the trainable tensors
//! (O1)–(O4), applies it (U2; adaptive e-prop's feedback follows `W_out`, U3), clips (U4) and
//! logs the task loss and the regulariser (evaluated by the forward pass at the parameters the
//! gradient used), the firing rate and, on demand, the cosine of the reduced gradient to BPTT's.

use crate::optim::{OptimState, Optimizer};
use crate::rule::{Aux, EpropFeedback, KernlFit, Model, Path, Rule, gradient};
use crate::tasks::Task;
use credit_core::{Error, ForwardOptions, Params, Result, Sequence};
use nalgebra::DMatrix;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// The run's noise stream is `ChaCha8Rng::seed_from_u64(seed ^ NOISE_STREAM)`; each sequence's
/// gradient gets its next `u64` as the seed of its noise (`docs/training.md` §3).
pub const NOISE_STREAM: u64 = 0x0015_5EED;

/// How the per-sequence gradients of a batch are combined, Eq. (U1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Reduction {
    /// `g = Σ_b g_b` (NEST's `average_gradient = False` with batch 1).
    #[default]
    Sum,
    /// `g = (1/B) Σ_b g_b`.
    Mean,
}

impl Reduction {
    /// Parses `sum` or `mean`.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "sum" => Ok(Reduction::Sum),
            "mean" => Ok(Reduction::Mean),
            _ => Err(Error::Invalid {
                field: "reduction".into(),
                value: name.into(),
                requirement: "one of sum, mean",
            }),
        }
    }
}

/// Per-tensor bounds: after each update `lo ≤ θ ≤ hi` entry-wise, Eq. (U4).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Clip {
    /// The tensor's name (`w_rec`, `l2.w_in`, …).
    pub tensor: String,
    /// Lower bound.
    pub lo: f64,
    /// Upper bound (`≥ lo`).
    pub hi: f64,
}

/// Everything that defines a training run besides the model, its initial parameters and the task.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    /// The gradient source.
    pub rule: Rule,
    /// The optimiser.
    pub optimizer: Optimizer,
    /// Learning rate `η > 0`.
    pub lr: f64,
    /// Number of updates `K ≥ 1`.
    pub iterations: usize,
    /// Sequences per update `B ≥ 1`.
    pub batch: usize,
    /// Summed or averaged gradients.
    pub reduction: Reduction,
    /// Names of the tensors that are not trained (e.g. the biases `b`, `b_out`).
    pub frozen: Vec<String>,
    /// Per-tensor weight bounds.
    pub clip: Vec<Clip>,
    /// Log the cosine of the rule's gradient to BPTT's at every update (one BPTT per sequence).
    pub cosine: bool,
    /// The seed of everything random in the run (feedback matrix, batches).
    pub seed: u64,
    /// The rules' fast paths (default) or their literal transcriptions.
    pub path: Path,
}

impl TrainConfig {
    /// A config with SGD, no mask, no clipping, batch 1, summed gradients, no cosine.
    pub fn new(rule: Rule, lr: f64, iterations: usize, seed: u64) -> Self {
        TrainConfig {
            rule,
            optimizer: Optimizer::Sgd,
            lr,
            iterations,
            batch: 1,
            reduction: Reduction::Sum,
            frozen: Vec::new(),
            clip: Vec::new(),
            cosine: false,
            seed,
            path: Path::Fast,
        }
    }
}

/// One update's log: losses at the parameters the gradient was computed with.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Record {
    /// Update `k = 1 … K`.
    pub iteration: usize,
    /// Task loss `Σ_t m^t E^t`, averaged over the batch's sequences (regulariser excluded).
    pub task_loss: f64,
    /// Firing-rate regulariser `E_reg` (Eq. Y5), averaged over the batch (0 without one).
    pub reg_loss: f64,
    /// Spikes per neuron per step over the batch (spiking models; `None` otherwise).
    pub rate: Option<f64>,
    /// Cosine of the reduced gradient (trainable tensors) to BPTT's, when asked for.
    pub cosine_bptt: Option<f64>,
    /// Euclidean norm of the reduced gradient over the trainable tensors.
    pub grad_norm: f64,
}

/// A forward-pass evaluation of parameters on sequences (averages over the sequences).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Eval {
    /// Mean task loss.
    pub task_loss: f64,
    /// Mean regulariser.
    pub reg_loss: f64,
    /// Spikes per neuron per step (`None` for non-spiking models).
    pub rate: Option<f64>,
}

/// Evaluates `params` on `seqs` by the forward pass of the core (no rule involved).
pub fn evaluate(model: &Model, params: &Params<f64>, seqs: &[Sequence]) -> Result<Eval> {
    if seqs.is_empty() {
        return Err(Error::Empty { field: "batch".into() });
    }
    let (mut task, mut reg, mut spikes, mut slots) = (0.0, 0.0, 0usize, 0usize);
    for seq in seqs {
        let (y, zs): (Vec<_>, Vec<Vec<_>>) = match model {
            Model::Layer(net) => {
                let traj = credit_core::forward(net, params, seq, ForwardOptions::default())?;
                if let Some(r) = &net.reg {
                    let z_sum = traj.z.iter().fold(nalgebra::DVector::zeros(net.n), |a, z| a + z);
                    reg += r.value_and_grad(&z_sum, seq.len()).0; // Eq. (Y5)
                }
                (traj.y, vec![traj.z])
            }
            Model::Stack(s) => {
                let traj = s.forward(params, seq, &Default::default())?;
                (traj.y, traj.layers.into_iter().map(|l| l.z).collect())
            }
        };
        let loss = match model {
            Model::Layer(net) => net.loss,
            Model::Stack(s) => s.loss,
        };
        for t in 1..=seq.len() {
            let target = &seq.target[t - 1];
            task += loss.value_and_grad(&y[t], target).0 * seq.mask[t - 1]; // Eqs. (Y2)–(Y3)
        }
        for z in &zs {
            spikes += z[1..].iter().map(|zt| zt.iter().filter(|v| **v > 0.5).count()).sum::<usize>();
            slots += z[1..].iter().map(|zt| zt.len()).sum::<usize>();
        }
    }
    let b = seqs.len() as f64;
    let rate = model.is_spiking().then(|| spikes as f64 / slots.max(1) as f64);
    Ok(Eval { task_loss: task / b, reg_loss: reg / b, rate })
}

/// A training run in progress.
#[derive(Clone, Debug)]
pub struct Trainer {
    /// The model.
    pub model: Model,
    /// The current parameters.
    pub params: Params<f64>,
    /// The config.
    pub config: TrainConfig,
    /// The optimiser's state.
    pub optim: OptimState,
    /// The feedback matrix `B` of random and adaptive e-prop (random: fixed; adaptive: updated),
    /// RFLO and KeRNL (fixed); `None` for other rules.
    pub feedback: Option<DMatrix<f64>>,
    /// KeRNL learning `A` and `α_i`: their values after the last sequence (`None` before the
    /// first, meaning `A = I`, `α_i = α`).
    pub kernl: Option<KernlFit>,
    /// Per tensor: trained or frozen.
    pub trainable: Vec<bool>,
    bounds: Vec<Option<(f64, f64)>>,
    rng: ChaCha8Rng,
    /// The noise stream: one seed per sequence for the rules that draw noise (UORO, KF-RTRL,
    /// R-KF-RTRL, KeRNL), from the run's seed, separate from the batches' stream.
    noise: ChaCha8Rng,
    /// The logs so far.
    pub log: Vec<Record>,
}

fn tensor_index(shapes: &[(&'static str, usize, usize)], field: &str, name: &str) -> Result<usize> {
    shapes.iter().position(|(n, _, _)| *n == name).ok_or_else(|| Error::Invalid {
        field: field.into(),
        value: name.into(),
        requirement: "must name a tensor of the model (see its tensor list, e.g. w_in, w_rec, b, w_out, b_out)",
    })
}

impl Trainer {
    /// Validates everything and prepares the run: unknown tensors in the mask or the clip
    /// list, `η ≤ 0` or non-finite, `K = 0`, `B = 0`, bad bounds, a rule that cannot train the
    /// model are typed errors naming the field.
    pub fn new(model: Model, params: Params<f64>, config: TrainConfig) -> Result<Self> {
        if !(config.lr.is_finite() && config.lr > 0.0) {
            return Err(Error::Invalid {
                field: "lr".into(),
                value: format!("{}", config.lr),
                requirement: "the learning rate must be finite and > 0",
            });
        }
        if config.iterations == 0 {
            return Err(Error::Empty { field: "iterations".into() });
        }
        if config.batch == 0 {
            return Err(Error::Empty { field: "batch".into() });
        }
        config.optimizer.validate()?;
        config.rule.check_model(&model)?;
        if let Rule::Eprop(EpropFeedback::Adaptive { lambda }) = config.rule
            && !(lambda.is_finite() && (0.0..1.0).contains(&lambda))
        {
            return Err(Error::Invalid {
                field: "rule.lambda".into(),
                value: format!("{lambda}"),
                requirement: "the adaptive feedback's decay must lie in [0, 1)",
            });
        }
        model.validate_params(&params)?;
        let shapes = model.tensor_shapes();
        let mut trainable = vec![true; shapes.len()];
        for name in &config.frozen {
            trainable[tensor_index(&shapes, "frozen", name)?] = false;
        }
        let mut bounds = vec![None; shapes.len()];
        for c in &config.clip {
            let i = tensor_index(&shapes, "clip.tensor", &c.tensor)?;
            if !(c.lo.is_finite() && c.hi.is_finite() && c.lo <= c.hi) {
                return Err(Error::Invalid {
                    field: format!("clip.{}", c.tensor),
                    value: format!("[{}, {}]", c.lo, c.hi),
                    requirement: "bounds must be finite with lo <= hi",
                });
            }
            bounds[i] = Some((c.lo, c.hi));
        }
        let feedback = match (config.rule.needs_feedback(), &model) {
            (true, Model::Layer(net)) => Some(credit_eprop::random_feedback(net, config.seed)),
            _ => None,
        };
        let optim = OptimState::new(config.optimizer, &params);
        let rng = ChaCha8Rng::seed_from_u64(config.seed ^ 0xBA7C_4E50);
        let noise = ChaCha8Rng::seed_from_u64(config.seed ^ NOISE_STREAM);
        Ok(Trainer {
            model,
            params,
            config,
            optim,
            feedback,
            kernl: None,
            trainable,
            bounds,
            rng,
            noise,
            log: Vec::new(),
        })
    }

    /// The reduced gradient of `rule` on `batch` (U1), sequence `b` with noise seed `seeds[b]`;
    /// KeRNL's learned `A`, `α_i` pass from each sequence to the next and the last is returned.
    fn reduced(
        &self,
        rule: &Rule,
        batch: &[Sequence],
        seeds: &[u64],
    ) -> Result<(Params<f64>, Option<KernlFit>)> {
        let mut total: Option<Params<f64>> = None;
        let mut fit = self.kernl.clone();
        for (seq, &noise_seed) in batch.iter().zip(seeds) {
            let aux = Aux { feedback: self.feedback.as_ref(), noise_seed, kernl: fit.as_ref() };
            let est = gradient(rule, self.config.path, &self.model, &self.params, seq, &aux)?;
            if est.kernl.is_some() {
                fit = est.kernl;
            }
            match &mut total {
                None => total = Some(est.grad),
                Some(t) => t.tensors.iter_mut().zip(&est.grad.tensors).for_each(|(a, b)| a.value += &b.value),
            }
        }
        let mut g = total.ok_or_else(|| Error::Empty { field: "batch".into() })?;
        if self.config.reduction == Reduction::Mean {
            let inv = 1.0 / batch.len() as f64;
            g.tensors.iter_mut().for_each(|t| t.value *= inv); // Eq. (U1), mean
        }
        Ok((g, fit))
    }

    /// The trainable entries of `g`, flattened.
    fn masked<'a>(&'a self, g: &'a Params<f64>) -> impl Iterator<Item = f64> + 'a {
        g.tensors.iter().zip(&self.trainable).filter(|(_, t)| **t).flat_map(|(x, _)| x.value.iter().copied())
    }

    /// The rule's reduced gradient (U1) on `batch` at the current parameters, as the next
    /// update would compute it: draws one noise seed per sequence from the run's noise stream
    /// (`ChaCha8Rng::seed_from_u64(seed ^ NOISE_STREAM)`, `next_u64` per sequence) and keeps
    /// KeRNL's learned `A`, `α_i` for the next call. Returns the gradient and the seeds used.
    pub fn next_gradient(&mut self, batch: &[Sequence]) -> Result<(Params<f64>, Vec<u64>)> {
        let seeds: Vec<u64> = batch.iter().map(|_| self.noise.next_u64()).collect();
        let (g, fit) = self.reduced(&self.config.rule.clone(), batch, &seeds)?;
        self.kernl = fit; // KeRNL's (K4) state carries over to the next update
        Ok((g, seeds))
    }

    /// One update on `batch` (`docs/training.md` §3), returning its log.
    pub fn update(&mut self, batch: &[Sequence]) -> Result<Record> {
        for seq in batch {
            self.model.validate_sequence(seq)?;
        }
        let eval = evaluate(&self.model, &self.params, batch)?;
        let (g, seeds) = self.next_gradient(batch)?;
        let grad_norm = self.masked(&g).map(|x| x * x).sum::<f64>().sqrt();
        let cosine_bptt = if self.config.cosine {
            let exact = self.reduced(&Rule::Bptt, batch, &seeds)?.0;
            let dot: f64 = self.masked(&g).zip(self.masked(&exact)).map(|(a, b)| a * b).sum();
            let ne = self.masked(&exact).map(|x| x * x).sum::<f64>().sqrt();
            Some(dot / (grad_norm * ne))
        } else {
            None
        };
        let delta = self.optim.delta(self.config.lr, &g, &self.trainable); // Eqs. (O1)–(O4)
        let k_out = self.params.tensors.len() - 2; // w_out
        let adaptive = match self.config.rule {
            Rule::Eprop(EpropFeedback::Adaptive { lambda }) if self.trainable[k_out] => Some(lambda),
            _ => None,
        };
        for (i, (p, d)) in self.params.tensors.iter_mut().zip(&delta).enumerate() {
            if !self.trainable[i] {
                continue;
            }
            match adaptive {
                Some(lambda) if i == k_out => p.value = &p.value * (1.0 - lambda) - d, // Eq. (U3), W_out
                _ => p.value -= d,                                                     // Eq. (U2)
            }
            if let Some((lo, hi)) = self.bounds[i] {
                p.value.apply(|x| *x = x.clamp(lo, hi)); // Eq. (U4)
            }
        }
        if let (Some(lambda), Some(b)) = (adaptive, self.feedback.as_mut()) {
            *b = &*b * (1.0 - lambda) - delta[k_out].transpose(); // Eq. (U3), B
        }
        for name in self.model.no_autapse_tensors() {
            if let Some(t) = self.params.tensors.iter_mut().find(|t| t.name == name) {
                t.value.fill_diagonal(0.0); // spiking cells have no autapses
            }
        }
        let rec = Record {
            iteration: self.log.len() + 1,
            task_loss: eval.task_loss,
            reg_loss: eval.reg_loss,
            rate: eval.rate,
            cosine_bptt,
            grad_norm,
        };
        self.log.push(rec.clone());
        Ok(rec)
    }

    /// Runs the configured number of updates on batches drawn from `task` with the run's
    /// generator; `tick` is called after each update (a progress bar, or nothing).
    pub fn run(&mut self, task: &Task, mut tick: impl FnMut(&Record)) -> Result<Summary> {
        let eval_set = task.eval_set(self.config.seed, self.config.batch)?;
        let before = evaluate(&self.model, &self.params, &eval_set)?;
        let start = std::time::Instant::now();
        for _ in 0..self.config.iterations {
            let batch = task.batch(&mut self.rng, self.config.batch)?;
            let rec = self.update(&batch)?;
            tick(&rec);
        }
        let seconds = start.elapsed().as_secs_f64();
        let after = evaluate(&self.model, &self.params, &eval_set)?;
        Ok(Summary {
            before,
            after,
            seconds,
            seconds_per_iteration: seconds / self.config.iterations as f64,
            reduction_factor: before.task_loss / after.task_loss,
        })
    }
}

/// The end of a run: the task's evaluation set before and after training.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// Before the first update.
    pub before: Eval,
    /// After the last update.
    pub after: Eval,
    /// Wall-clock seconds of the updates (logs included).
    pub seconds: f64,
    /// `seconds / K`.
    pub seconds_per_iteration: f64,
    /// `task loss before / task loss after`.
    pub reduction_factor: f64,
}
