//! Q-AGREL (BrainProp) against backprop on the 8×8 digits (`docs/qagrel.md` §6): epochs to 95 %
//! test accuracy over five seeds, for a 64-100-50-10 ReLU network with a linear output and no
//! biases (BrainProp's dense shape, scaled down), SGD with batch 32 and learning rate 0.1.
//! Backprop minimises the MSE to the one-hot label (FF2); Q-AGREL learns from one reward per
//! sample with BrainProp's policy (Max-Boltzmann, ε = 0.02, τ = 1).
//!
//! Data: `examples/data/digits8x8.txt`, the UCI digits (1797 samples, CC BY 4.0; provenance in
//! the file's header), pixels scaled to [0, 1], split 1400 train / 397 test by a seeded shuffle.
//!
//! Run: `cargo run --release -p credit-check --example digits_qagrel` (about 10 s);
//! `SVG=docs/img/digits-qagrel.svg` also writes the test accuracy per epoch, every seed.

use credit_core::feedforward::{Activation, FeedForward, FfLoss, forward};
use credit_core::{Params, Result};
use credit_qagrel::{Learner, Policy, argmax};
use nalgebra::DVector;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

#[path = "plot/mod.rs"]
mod plot;

const DATA: &str = include_str!("data/digits8x8.txt");
const TRAIN: usize = 1400;
const BATCH: usize = 32;
const LR: f64 = 0.1;
const MAX_EPOCHS: usize = 200;
const TARGET: f64 = 0.95;
const SEEDS: u64 = 5;

/// The digits: pixel vectors in [0, 1] and labels.
fn digits() -> (Vec<DVector<f64>>, Vec<usize>) {
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for line in DATA.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let (label, pixels) = line.split_once(' ').expect("label, space, pixels");
        ys.push(label.parse().expect("label 0-9"));
        let v: Vec<f64> =
            pixels.chars().map(|c| c.to_digit(17).expect("base-17 pixel") as f64 / 16.0).collect();
        assert_eq!(v.len(), 64);
        xs.push(DVector::from_vec(v));
    }
    (xs, ys)
}

fn accuracy(net: &FeedForward, p: &Params<f64>, xs: &[DVector<f64>], ys: &[usize]) -> Result<f64> {
    let mut right = 0;
    for (x, &y) in xs.iter().zip(ys) {
        right += usize::from(argmax(forward(net, p, x)?.output()) == y);
    }
    Ok(right as f64 / xs.len() as f64)
}

/// One rule's run: the test accuracy after each epoch until it reaches [`TARGET`].
fn run(rule: &str, seed: u64, data: &(Vec<DVector<f64>>, Vec<usize>)) -> Result<Vec<f64>> {
    let net = FeedForward::new(vec![64, 100, 50, 10], Activation::Relu, Activation::Linear, false)?;
    let params = net.random_params::<f64>(seed, 1.0, 0.0)?;
    let mut order: Vec<usize> = (0..data.0.len()).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(1000)); // one fixed split for every run
    let (train, test) = order.split_at(TRAIN);
    let test_x: Vec<_> = test.iter().map(|&i| data.0[i].clone()).collect();
    let test_y: Vec<_> = test.iter().map(|&i| data.1[i]).collect();
    let mut learner = Learner::new(net.clone(), params, None, Policy::BRAINPROP, LR, seed)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xE90C);
    let mut curve = Vec::new();
    let mut idx = train.to_vec();
    for _ in 0..MAX_EPOCHS {
        idx.shuffle(&mut rng);
        for batch in idx.chunks(BATCH) {
            let xs: Vec<_> = batch.iter().map(|&i| data.0[i].clone()).collect();
            let ys: Vec<_> = batch.iter().map(|&i| data.1[i]).collect();
            if rule == "qagrel" {
                learner.train_batch(&xs, &ys)?;
            } else {
                // backprop on the MSE to the one-hot label, batch mean
                let mut sum = net.zeros::<f64>();
                for (x, &y) in xs.iter().zip(&ys) {
                    let target = DVector::from_fn(10, |k, _| if k == y { 1.0 } else { 0.0 });
                    let g = credit_backprop::gradient(&net, &learner.params, x, &FfLoss::Mse { target })?;
                    for (s, t) in sum.tensors.iter_mut().zip(&g.grad.tensors) {
                        s.value += &t.value;
                    }
                }
                for (p, s) in learner.params.tensors.iter_mut().zip(&sum.tensors) {
                    p.value -= &s.value * (LR / xs.len() as f64);
                }
            }
        }
        curve.push(accuracy(&net, &learner.params, &test_x, &test_y)?);
        if curve[curve.len() - 1] >= TARGET {
            break;
        }
    }
    Ok(curve)
}

fn main() -> Result<()> {
    let data = digits();
    assert_eq!(data.0.len(), 1797);
    println!(
        "8x8 digits, 64-100-50-10 ReLU, linear output, no biases; batch {BATCH}, lr {LR}; epochs to {TARGET} test accuracy"
    );
    println!("{:>4}  {:>8}  {:>8}  {:>6}", "seed", "backprop", "Q-AGREL", "ratio");
    let (mut sum_bp, mut sum_q) = (0.0, 0.0);
    let mut lines = Vec::new();
    for seed in 0..SEEDS {
        let bp = run("bp", seed, &data)?;
        let q = run("qagrel", seed, &data)?;
        let (eb, eq) = (bp.len(), q.len());
        assert!(bp[eb - 1] >= TARGET && q[eq - 1] >= TARGET, "seed {seed}: a rule never reached {TARGET}");
        println!("{seed:>4}  {eb:>8}  {eq:>8}  {:>6.2}", eq as f64 / eb as f64);
        sum_bp += eb as f64;
        sum_q += eq as f64;
        for (color, name, curve) in [(1, "backprop", &bp), (0, "Q-AGREL", &q)] {
            lines.push(plot::Line {
                label: (seed == 0).then(|| name.to_string()),
                color,
                width: 1,
                points: curve.iter().enumerate().map(|(k, &a)| ((k + 1) as f64, a)).collect(),
            });
        }
    }
    let ratio = sum_q / sum_bp;
    println!("mean  {:>8.1}  {:>8.1}  {ratio:>6.2}", sum_bp / SEEDS as f64, sum_q / SEEDS as f64);
    // the design notes measured ~2.5–3×; the paper reports 1–3.5× on its tasks: a loose band
    assert!((1.0..=5.0).contains(&ratio), "Q-AGREL/backprop epoch ratio {ratio} outside [1, 5]");
    // SVG=path writes the curves (docs/img/digits-qagrel.svg in the docs)
    if let Ok(path) = std::env::var("SVG") {
        let last = lines.iter().map(|l| l.points.len()).max().unwrap_or(1) as f64;
        lines.push(plot::Line {
            label: Some(format!("target {TARGET}")),
            color: 9,
            width: 1,
            points: vec![(1.0, TARGET), (last, TARGET)],
        });
        let panel = plot::Panel {
            title: format!("8x8 digits: test accuracy until {TARGET}, {SEEDS} seeds"),
            x_label: "epoch".into(),
            y_label: "test accuracy".into(),
            lines,
            legend_upper: false,
            y_range: Some((0.0, 1.0)),
        };
        plot::panels(&path, &[panel]).map_err(|e| credit_core::Error::Invalid {
            field: "SVG".into(),
            value: e,
            requirement: "a writable path",
        })?;
    }
    Ok(())
}
