//! cRNN vs ccRNN on the simple line-drawing task (`docs/synthgrad.md` §10; after neuralml/ccDNI
//! `src/dataset/linedraw.py`, `src/model/nn_dni.py`, `src/training/engine.py`).
//!
//! A 1-D cue at `t = 1` selects one of 7 targets (the origin and 6 points on a circle); the
//! 2-D output must follow the straight line from the origin to the target over `T = 10` steps
//! (MSE at every step, or every `k`-th step with sparse feedback). The cortex is an LSTM
//! (`N = 20`) trained by truncated BPTT with chunk length `T_c` (**cRNN**), or by DNI with an MLP
//! "cerebellum" predicting the gradient at chunk ends, scaled by `s = 0.1` (**ccRNN**,
//! [`dni::dni`] with ccDNI's reading [`LastChunk::Inject`]; the synthesiser trained on the
//! bootstrapped targets with the code's `2/B` factor, (S7)). Adam (lr 1e-3 for both, as ccDNI's
//! defaults), one batch of the 7 sequences per epoch. Switches: sparse feedback (`spars_int`)
//! and a cerebellar lesion from an epoch on (`synth_ablation_epoch`: no injection, no
//! synthesiser update); ccDNI's gradient clipping at a total norm (`CLIP=1`, off by default).
//! Run: `cargo run --release -p credit-synthgrad --example ccrnn_linedraw`.

use credit_core::cell::{Cell, Lstm};
use credit_core::{Loss, Network, Params, Readout, Sequence};
use credit_synthgrad::Layout;
use credit_synthgrad::dni::{self, DniOptions, LastChunk};
use credit_synthgrad::synth::Synth;
use nalgebra::DVector;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

#[path = "plot/mod.rs"]
mod plot;

const N: usize = 20;
const STEPS: usize = 10;
const TARGETS: usize = 7;
const RADIUS: f64 = 1.0;
const HIDDEN: usize = 32;
/// ccDNI's circle radius (`get_circle_points(…, mag=10)`).
const CCDNI_RADIUS: f64 = 10.0;

/// ccDNI's generator (`src/dataset/linedraw.py` `sample_data`, `get_circle_points`,
/// `draw_2dline`; `scripts/linedraw/train-model.py`: `npoints = 7`, cues `p ∈ {−3, …, 3}`):
/// cue `0.1 p` at `t = 1`, Gaussian noise of standard deviation `noise` on the input at
/// `t ≥ 2` (`rng.randn · noise_var`); target the line `np.linspace(0, end_p, T)` (the origin at
/// `t = 1`, `end_p` at `t = T`), `end_0 = 0`, `end_p = 10 (sin θ, cos θ)` with
/// `θ ∈ linspace(0, 2π, 6, endpoint=False)` taken in reverse order for `p = −3, …, −1, 1, …, 3`.
fn ccdni_sequence(p: i64, noise: f64, spars: usize, rng: &mut ChaCha8Rng) -> Sequence {
    let mut x: Vec<DVector<f64>> =
        (0..STEPS).map(|_| DVector::from_element(1, noise * rng.sample::<f64, _>(StandardNormal))).collect();
    x[0][0] = 0.1 * p as f64;
    let end = if p == 0 {
        DVector::zeros(2)
    } else {
        // coords_n = flip(coords[1:]); the counter c runs over p = −3..−1, 1..3
        let c = if p < 0 { p + 3 } else { p + 2 } as usize;
        let a = 2.0 * std::f64::consts::PI * (5 - c) as f64 / 6.0;
        DVector::from_vec(vec![CCDNI_RADIUS * a.sin(), CCDNI_RADIUS * a.cos()])
    };
    let target = (0..STEPS).map(|t| &end * (t as f64 / (STEPS - 1) as f64)).collect();
    let mask = (1..=STEPS).map(|t| if t % spars == 0 { 1.0 } else { 0.0 }).collect();
    Sequence { x, target, mask }
}

/// Sequence `k`: cue `(k + 1)/7` at `t = 1`; target `(t/T)·p_k`, `p_0 = 0`, `p_k` on the circle.
fn sequence(k: usize, spars: usize) -> Sequence {
    let mut x = vec![DVector::zeros(1); STEPS];
    x[0][0] = (k + 1) as f64 / TARGETS as f64;
    let end = if k == 0 {
        DVector::zeros(2)
    } else {
        let a = 2.0 * std::f64::consts::PI * (k - 1) as f64 / 6.0;
        DVector::from_vec(vec![RADIUS * a.cos(), RADIUS * a.sin()])
    };
    let target = (1..=STEPS).map(|t| &end * (t as f64 / STEPS as f64)).collect();
    let mask = (1..=STEPS).map(|t| if t % spars == 0 { 1.0 } else { 0.0 }).collect();
    Sequence { x, target, mask }
}

/// Adam on a flat vector (Kingma & Ba 2015, β = (0.9, 0.999), ε = 1e-8).
struct Adam {
    m: Vec<f64>,
    v: Vec<f64>,
    k: i32,
    lr: f64,
}

impl Adam {
    fn new(n: usize, lr: f64) -> Self {
        Adam { m: vec![0.0; n], v: vec![0.0; n], k: 0, lr }
    }
    /// The step `−lr m̂/(√v̂ + ε)` for gradient `g`.
    fn step(&mut self, g: &[f64]) -> Vec<f64> {
        self.k += 1;
        let (b1, b2) = (0.9f64, 0.999f64);
        let (c1, c2) = (1.0 - b1.powi(self.k), 1.0 - b2.powi(self.k));
        g.iter()
            .enumerate()
            .map(|(i, &gi)| {
                self.m[i] = b1 * self.m[i] + (1.0 - b1) * gi;
                self.v[i] = b2 * self.v[i] + (1.0 - b2) * gi * gi;
                -self.lr * (self.m[i] / c1) / ((self.v[i] / c2).sqrt() + 1e-8)
            })
            .collect()
    }
}

/// ccDNI's gradient clipping, PyTorch's `nn.utils.clip_grad_norm_(model.parameters(), clip)`
/// (ccDNI `src/training/engine.py` l. 189–191, once per batch after every chunk's backward and
/// before `optimizer.step()`; `clip = 1.0` in `scripts/linedraw/train-model.py` l. 54, 318):
/// the L2 norm `n` over every entry of every part (all trained parameters together: cortex,
/// readout and, while it learns, the cerebellum), then every part times
/// `max_norm / (n + 1e-6)` if that is below 1 (PyTorch's formula: the clipped norm is
/// `max_norm · n / (n + 1e-6)`, 1 up to 1e-6 relative); otherwise untouched. Returns `n`.
/// A non-finite entry is an error naming `gradient` (PyTorch's default lets it through), as is
/// a `max_norm` that is not positive and finite (`CLIP`).
fn clip_grad_norm(parts: &mut [&mut [f64]], max_norm: f64) -> credit_core::Result<f64> {
    if !(max_norm.is_finite() && max_norm > 0.0) {
        return Err(credit_core::Error::Invalid {
            field: "CLIP".into(),
            value: max_norm.to_string(),
            requirement: "the clipping norm must be positive and finite",
        });
    }
    let mut sq = 0.0;
    for (k, part) in parts.iter().enumerate() {
        if let Some(i) = part.iter().position(|v| !v.is_finite()) {
            return Err(credit_core::Error::NonFinite {
                field: "gradient".into(),
                index: format!("part {k}, entry {i}"),
                value: part[i],
            });
        }
        sq += part.iter().map(|v| v * v).sum::<f64>();
    }
    let norm = sq.sqrt(); // total_norm (norm_type 2)
    let coef = max_norm / (norm + 1e-6); // clip_coef = max_norm / (total_norm + 1e-6)
    if coef < 1.0 {
        parts.iter_mut().for_each(|part| part.iter_mut().for_each(|v| *v *= coef)); // p.grad.mul_(clip_coef)
    }
    Ok(norm)
}

fn flat(p: &Params<f64>) -> Vec<f64> {
    p.tensors.iter().flat_map(|t| t.value.iter().copied().collect::<Vec<_>>()).collect()
}

fn add(p: &mut Params<f64>, d: &[f64]) {
    let mut off = 0;
    for t in &mut p.tensors {
        for x in t.value.iter_mut() {
            *x += d[off];
            off += 1;
        }
    }
}

/// One run's switches.
#[derive(Clone, Copy)]
pub struct Setup {
    /// Chunk length `T_c`.
    pub chunk: usize,
    /// With the cerebellum (ccRNN) or without (cRNN).
    pub cerebellum: bool,
    /// Feedback every `spars`-th step.
    pub spars: usize,
    /// Cerebellar lesion from this epoch on.
    pub lesion: Option<usize>,
    /// The injection at `h^T` (ccDNI's `Inject`, or bp_lambda's `Zero`).
    pub last: LastChunk,
    /// What the cerebellum reads: the state `(c, o)` or ccDNI's `[z; c]` (S16).
    pub layout: Layout,
    /// The data: `None` for the 7 fixed sequences (one batch per epoch), or ccDNI's generator.
    pub ccdni: Option<Ccdni>,
    /// ccDNI's gradient clipping at this total norm ([`clip_grad_norm`]), or none.
    pub clip: Option<f64>,
}

/// ccDNI's data and batching (`train-model.py`: `training_size = 1000`, `val_split = 0.2`,
/// `batch_size = 50`, fresh samples every epoch as `fixdata` is off).
#[derive(Clone, Copy)]
pub struct Ccdni {
    /// Training sequences per epoch (ccDNI: `int(1000 · (1 − 0.2)) = 800`).
    pub size: usize,
    /// Batch size (ccDNI: 50).
    pub batch: usize,
    /// Input noise standard deviation (`train_noise`: 0.1 in `train_model`'s signature, 0.0 as
    /// the argparse default).
    pub noise: f64,
    /// Hidden units of the cerebellum (ccDNI: 2 layers of 400; here one layer).
    pub hidden: usize,
}

/// The mean loss per sequence after every epoch.
pub fn train(setup: Setup, epochs: usize, seed: u64) -> credit_core::Result<Vec<f64>> {
    let net = Network::new(Cell::Lstm(Lstm), 1, N, 2, Readout::leaky(0.0), Loss::Mse)?;
    let mut p = Params::<f64>::random(&net, seed)?;
    let hidden = setup.ccdni.map_or(HIDDEN, |c| c.hidden);
    let mut synth = Synth::<f64>::mlp(net.n * net.d(), hidden, seed)?; // output zero-initialised
    let (mut opt, mut opt_s) = (Adam::new(p.len(), 1e-3), Adam::new(synth.len(), 1e-3));
    let fixed: Vec<_> = (0..TARGETS).map(|k| sequence(k, setup.spars)).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(1000 + seed);
    let mut curve = Vec::with_capacity(epochs);
    let mut norms = Vec::new(); // the joint gradient norms before clipping
    for epoch in 0..epochs {
        let active = setup.cerebellum && setup.lesion.is_none_or(|l| epoch < l);
        let s = if active { 0.1 } else { 0.0 };
        let batches: Vec<Vec<Sequence>> = match setup.ccdni {
            None => vec![fixed.clone()],
            Some(c) => (0..c.size.div_ceil(c.batch))
                .map(|_| {
                    (0..c.batch)
                        .map(|_| ccdni_sequence(rng.random_range(-3..=3), c.noise, setup.spars, &mut rng))
                        .collect()
                })
                .collect(),
        };
        let mut loss = 0.0;
        for seqs in &batches {
            let b = seqs.len() as f64;
            let mut g = vec![0.0; p.len()];
            let mut gs = DVector::zeros(synth.len());
            for seq in seqs {
                let opts = DniOptions { chunk: setup.chunk, s, last: setup.last, layout: setup.layout };
                let run = dni::dni(&net, &p, seq, opts, &|_, h| synth.predict(h))?;
                loss += run.loss / (b * batches.len() as f64);
                flat(&run.grad).iter().enumerate().for_each(|(i, x)| g[i] += x / b);
                if active {
                    gs += dni::synth_gradient(&synth, &run) * (2.0 / b); // the code's 2/B
                }
            }
            if let Some(c) = setup.clip {
                // one norm over the cortex's and (while it learns) the cerebellum's gradients
                let gs = gs.as_mut_slice();
                let mut parts: Vec<&mut [f64]> = vec![g.as_mut_slice()];
                if active {
                    parts.push(gs);
                }
                let n = clip_grad_norm(&mut parts, c)?;
                norms.push(n);
            }
            add(&mut p, &opt.step(&g));
            if active {
                synth.add_flat(&DVector::from_vec(opt_s.step(gs.as_slice())))?;
            }
        }
        curve.push(loss);
    }
    if !norms.is_empty() {
        let clipped = norms.iter().filter(|&&n| setup.clip.is_some_and(|c| c / (n + 1e-6) < 1.0)).count();
        norms.sort_by(f64::total_cmp);
        eprintln!(
            "  (clip: {clipped} of {} steps clipped; norm before clipping: median {:.3}, max {:.3})",
            norms.len(),
            norms[norms.len() / 2],
            norms[norms.len() - 1]
        );
    }
    Ok(curve)
}

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() -> credit_core::Result<()> {
    // DATA=fixed: the 7 fixed sequences of radius 1, one batch per epoch (the first setting of
    // docs §10); default: ccDNI's generator (800 noisy sequences per epoch, batches of 50)
    let fixed = std::env::var("DATA").is_ok_and(|d| d == "fixed");
    let epochs = env("EPOCHS", if fixed { 400 } else { 40 });
    let seeds: u64 = env("SEEDS", if fixed { 3 } else { 1 });
    // READING=zero: bp_lambda's reading (nothing injected at h^T) instead of ccDNI's
    let last =
        if std::env::var("READING").is_ok_and(|r| r == "zero") { LastChunk::Zero } else { LastChunk::Inject };
    // LAYOUT=state: the cerebellum reads (c, o) instead of ccDNI's mossy fibres [z; c] (S16)
    let layout =
        if std::env::var("LAYOUT").is_ok_and(|r| r == "state") { Layout::State } else { Layout::MossyFibre };
    let ccdni = (!fixed).then(|| Ccdni {
        size: env("SIZE", 800),
        batch: env("BATCH", 50),
        noise: env("NOISE", 0.1),
        hidden: env("HIDDEN", 128),
    });
    // CLIP=c: ccDNI's gradient clipping at total norm c (ccDNI: 1); default off
    let clip = std::env::var("CLIP").ok().map(|c| c.parse::<f64>().unwrap_or(f64::NAN));
    let marks = [0, epochs / 8, epochs / 4, epochs / 2, epochs - 1];
    match ccdni {
        None => println!("mean loss per sequence (7 sequences, mean of {seeds} seeds) at epochs {marks:?}"),
        Some(c) => println!(
            "mean training loss per sequence ({} noisy sequences/epoch, batch {}, noise sd {}, cerebellum 1x{}, {layout:?}, clip {clip:?}, mean of {seeds} seeds) at epochs {marks:?}",
            c.size, c.batch, c.noise, c.hidden
        ),
    }
    let mk = |chunk, cerebellum, spars, lesion| Setup {
        chunk,
        cerebellum,
        spars,
        lesion,
        last,
        layout,
        ccdni,
        clip,
    };
    let mut setups = Vec::new();
    // EXTRA=1 (always with DATA=fixed): the sparse-feedback and lesion switches after the main
    // rows; EXTRA=only: those three rows alone (each invocation stays under a minute)
    let extra = std::env::var("EXTRA").ok();
    let only = extra.as_deref() == Some("only");
    for chunk in if only { vec![] } else { vec![1, 2, 5] } {
        for cerebellum in [false, true] {
            setups.push((
                format!("T_c={chunk} {}", if cerebellum { "ccRNN" } else { "cRNN " }),
                mk(chunk, cerebellum, 1, None),
            ));
        }
    }
    if !only {
        setups.push(("T_c=10 BPTT ".into(), mk(STEPS, false, 1, None)));
    }
    if fixed || only || extra.as_deref() == Some("1") {
        setups.push(("T_c=2 ccRNN sparse/2".into(), mk(2, true, 2, None)));
        setups.push(("T_c=2 cRNN  sparse/2".into(), mk(2, false, 2, None)));
        setups.push((format!("T_c=2 ccRNN lesion@{}", epochs / 2), mk(2, true, 1, Some(epochs / 2))));
    }
    let mut series = Vec::new();
    for (name, setup) in setups {
        let mut mean = vec![0.0; epochs];
        for seed in 1..=seeds {
            for (m, l) in mean.iter_mut().zip(train(setup, epochs, seed)?) {
                *m += l / seeds as f64;
            }
        }
        let row: Vec<String> = marks.iter().map(|&e| format!("{:.4}", mean[e])).collect();
        println!("{name:22} {}", row.join("  "));
        if setup.spars == 1 && setup.lesion.is_none() {
            series.push((name.trim().to_string(), mean.iter().map(|l| l.log10()).collect()));
        }
    }
    // SVG=path writes the learning curves (docs/img/synthgrad-ccrnn.svg in the docs)
    if let Ok(path) = std::env::var("SVG") {
        let title = if fixed {
            "line drawing: cRNN vs ccRNN (mean of 3 seeds)".to_string()
        } else {
            format!("ccDNI line drawing: cRNN vs ccRNN ({layout:?}, mean of {seeds} seeds)")
        };
        plot::lines(&path, &title, "epoch", "log10 loss", 0.0, &series).map_err(|e| {
            credit_core::Error::Invalid { field: "SVG".into(), value: e, requirement: "a writable path" }
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// Training lowers the loss (a short run; the comparison is in the docs' numbers).
    #[test]
    fn training_lowers_the_loss() {
        let setup = super::Setup {
            chunk: 2,
            cerebellum: true,
            spars: 1,
            lesion: None,
            last: super::LastChunk::Inject,
            layout: super::Layout::MossyFibre,
            ccdni: None,
            clip: None,
        };
        let c = super::train(setup, 30, 1).unwrap();
        assert!(c[29] < c[0], "{} -> {}", c[0], c[29]);
        let data = super::Ccdni { size: 20, batch: 10, noise: 0.1, hidden: 8 };
        let c = super::train(super::Setup { ccdni: Some(data), ..setup }, 6, 1).unwrap();
        assert!(c[5] < c[0], "{} -> {}", c[0], c[5]);
        let c = super::train(super::Setup { ccdni: Some(data), clip: Some(1.0), ..setup }, 6, 1).unwrap();
        assert!(c[5] < c[0], "clipped: {} -> {}", c[0], c[5]);
    }

    fn norm(parts: &[Vec<f64>]) -> f64 {
        parts.iter().flatten().map(|v| v * v).sum::<f64>().sqrt()
    }

    /// PyTorch's `clip_grad_norm_`: above the threshold the joint norm becomes
    /// `max · n/(n + 1e-6)` (1 within 1e-6) and the direction is kept; at or below it nothing
    /// changes (bit for bit); non-finite entries and a bad threshold are typed errors.
    #[test]
    fn clip_grad_norm_is_pytorchs() {
        for (scale, max) in [(3.0, 1.0), (1e3, 1.0), (0.7, 0.5), (1.0, 0.25)] {
            let orig = vec![vec![0.3 * scale, -1.2 * scale, 0.5 * scale], vec![2.0 * scale], vec![]];
            let mut parts = orig.clone();
            let n0 = norm(&orig);
            assert!(n0 > max, "case above the threshold");
            let mut refs: Vec<&mut [f64]> = parts.iter_mut().map(|p| p.as_mut_slice()).collect();
            let got = super::clip_grad_norm(&mut refs, max).unwrap();
            assert!((got - n0).abs() <= 1e-15 * n0, "{got} vs {n0}");
            let n1 = norm(&parts);
            let want = max * n0 / (n0 + 1e-6);
            assert!((n1 - want).abs() <= 1e-12 * want, "{n1} vs {want}");
            assert!((n1 - max).abs() <= 1e-6 * max, "clipped norm {n1} vs {max}");
            // every part scaled by the same factor: the joint direction is kept
            let k = want / n0;
            for (a, b) in parts.iter().flatten().zip(orig.iter().flatten()) {
                assert!((a - k * b).abs() <= 1e-15 * b.abs().max(1.0), "{a} vs {}", k * b);
            }
        }
        // below the threshold: untouched
        for max in [10.0, 1.5] {
            let orig = vec![vec![0.6, -0.8], vec![0.0]];
            assert!((norm(&orig) - 1.0).abs() < 1e-15);
            let mut parts = orig.clone();
            let mut refs: Vec<&mut [f64]> = parts.iter_mut().map(|p| p.as_mut_slice()).collect();
            super::clip_grad_norm(&mut refs, max).unwrap();
            assert_eq!(parts, orig, "max {max}");
        }
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            let mut parts = [vec![1.0, 2.0], vec![3.0, bad]];
            let mut refs: Vec<&mut [f64]> = parts.iter_mut().map(|p| p.as_mut_slice()).collect();
            let e = super::clip_grad_norm(&mut refs, 1.0).unwrap_err();
            assert!(e.to_string().starts_with("gradient"), "{e}");
            assert!(e.to_string().contains("part 1, entry 1"), "{e}");
        }
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let mut parts = [vec![1.0]];
            let mut refs: Vec<&mut [f64]> = parts.iter_mut().map(|p| p.as_mut_slice()).collect();
            let e = super::clip_grad_norm(&mut refs, bad).unwrap_err();
            assert!(e.to_string().starts_with("CLIP"), "{e}");
        }
    }
}
