//! BurstCCN on the 8×8 digits (`docs/burstccn.md` §5): test accuracy and the angle between
//! BurstCCN's update and backprop's (per layer) over training, for tied feedback (`Y = W`,
//! `Q = p_b Y`), feedback alignment (random fixed `Y`, `Q = p_b Y`), learned `Q` as the
//! authors train it (random fixed `Y`, `Q` initialised to `p_b Y` — their `Q_mode =
//! symmetric_init` — and learned by (C7) in the same, taught, phase at a small rate) and
//! learned `Q` from a random start (our variant: teacher-free (C7)), against backprop on the
//! same loss.
//!
//! Network 64-100-100-10, sigmoid throughout, biases; NeurIPS burst function, `p_b = ½`;
//! SGD, batch 32, `η = 1` on (C6) (an effective backprop rate `η p_b = 0.5`); authors' learned
//! `Q`: `η_Q = 10^{-3}` (their default `Q_lr`) on the batch mean of (C7); random-start `Q`:
//! `η_Q = 0.02` (stable while `η_Q ‖e‖² < 2`) on teacher-free (C7), after 3 teacher-free epochs;
//! backprop on `½‖onehot − e^L‖²` with rate 0.5. Data as `digits_qagrel` (same split). For
//! the learned modes it also prints, per hidden layer, the mismatch ratio
//! `Σ‖(Q − p_b Y)ᵀ e^{l+1}‖ / Σ‖Yᵀ(b^{l+1} − p_b e^{l+1})‖` over the probe set: the event
//! term `Q` fails to cancel against the teaching term it has to carry.
//!
//! Run: `cargo run --release -p credit-check --example digits_burstccn` (about 25 s);
//! `SVG=docs/img/digits-burstccn.svg` also writes test accuracy and per-layer angle per epoch.

use credit_burstccn::{Burst, Feedback, feedback_update, signals};
use credit_core::feedforward::{Activation, FeedForward, FfLoss, forward};
use credit_core::{Params, Result};
use credit_qagrel::argmax;
use nalgebra::{DMatrix, DVector};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

#[path = "plot/mod.rs"]
mod plot;

const DATA: &str = include_str!("data/digits8x8.txt");
const TRAIN: usize = 1400;
const BATCH: usize = 32;
const ETA: f64 = 1.0;
const ETA_Q: f64 = 0.02;
/// The authors' default `Q_lr` (`model_trainers.py`, `BurstCCNTrainer`).
const ETA_Q_AUTHORS: f64 = 1e-3;
/// Epochs of Q learning without a teacher before training (the Q pathway learns during
/// "spontaneous" activity; our choice, docs/burstccn.md §5).
const Q_WARMUP: usize = 3;
const EPOCHS: usize = 30;
const PB: f64 = 0.5;

fn digits() -> (Vec<DVector<f64>>, Vec<usize>) {
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for line in DATA.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let (label, pixels) = line.split_once(' ').expect("label, space, pixels");
        ys.push(label.parse().expect("label 0-9"));
        xs.push(DVector::from_iterator(
            64,
            pixels.chars().map(|c| c.to_digit(17).expect("base-17 pixel") as f64 / 16.0),
        ));
    }
    (xs, ys)
}

fn onehot(y: usize) -> DVector<f64> {
    DVector::from_fn(10, |k, _| if k == y { 1.0 } else { 0.0 })
}

/// Angle in degrees between two matrices read as vectors.
fn angle(a: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    let c = a.dot(b) / (a.norm() * b.norm());
    c.clamp(-1.0, 1.0).acos().to_degrees()
}

fn random_matrix(rng: &mut ChaCha8Rng, r: usize, c: usize, std: f64) -> DMatrix<f64> {
    DMatrix::from_fn(r, c, |_, _| std * <StandardNormal as Distribution<f64>>::sample(&StandardNormal, rng))
}

/// One mode's run: (test accuracy per epoch, per-layer angle to backprop per epoch, per-layer
/// mismatch ratio per epoch).
type Run = (Vec<f64>, Vec<Vec<f64>>, Vec<Vec<f64>>);

/// One mode's run.
fn run(mode: &str, data: &(Vec<DVector<f64>>, Vec<usize>), split: &[usize]) -> Result<Run> {
    let net = FeedForward::new(vec![64, 100, 100, 10], Activation::Sigmoid, Activation::Sigmoid, true)?;
    let mut p: Params<f64> = net.random_params(7, 2.0, 0.0)?;
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let random_y: Vec<DMatrix<f64>> =
        (1..net.n_layers()).map(|l| random_matrix(&mut rng, net.sizes[l + 1], net.sizes[l], 0.5)).collect();
    let mut fb = match mode {
        "tied" | "bp" => Feedback::tied(&net, &p, PB, 1.0),
        // the authors' learned Q starts at Q = p_b Y (networks_burstccn.py, Q_mode = symmetric_init)
        "fa" | "learned-q" => Feedback::random(random_y, PB),
        _ => {
            let q = (1..net.n_layers())
                .map(|l| random_matrix(&mut rng, net.sizes[l + 1], net.sizes[l], 0.5))
                .collect();
            Feedback { y: random_y, q }
        }
    };
    let burst = Burst::NEURIPS;
    let (train, test) = split.split_at(TRAIN);
    let probe: Vec<usize> = train[..200].to_vec();
    let mut idx = train.to_vec();
    if mode == "learned-q-rand" {
        // Q_WARMUP=n overrides the number of teacher-free epochs (docs/burstccn.md §5 measures 3 and 30)
        let warmup = std::env::var("Q_WARMUP").ok().and_then(|v| v.parse().ok()).unwrap_or(Q_WARMUP);
        for _ in 0..warmup {
            for batch in idx.chunks(BATCH) {
                let mut dq: Vec<DMatrix<f64>> =
                    fb.q.iter().map(|q| DMatrix::zeros(q.nrows(), q.ncols())).collect();
                for &i in batch {
                    let free = signals(&net, &p, &fb, &burst, &data.0[i], None)?;
                    for l in 1..net.n_layers() {
                        dq[l - 1] += feedback_update(&free, l).1; // (C7)
                    }
                }
                for (q, d) in fb.q.iter_mut().zip(&dq) {
                    *q += d * (ETA_Q / batch.len() as f64);
                }
            }
        }
    }
    if mode == "learned-q-rand" {
        // P-c5: teacher-free (C7) contracts Q − p_b Y only along the eigenvectors of
        // C = mean e eᵀ with η_Q λ not small; count those the warm-up reached (factor < 0.1)
        let steps = (std::env::var("Q_WARMUP").ok().and_then(|v| v.parse().ok()).unwrap_or(Q_WARMUP)
            * idx.len().div_ceil(BATCH)) as f64;
        let mut report = Vec::new();
        for l in 1..net.n_layers() {
            let n = net.sizes[l + 1];
            let mut c = DMatrix::zeros(n, n);
            for &i in train {
                let e = forward(&net, &p, &data.0[i])?.y[l + 1].clone();
                c += &e * e.transpose() / train.len() as f64;
            }
            let lam = c.symmetric_eigen().eigenvalues;
            let reached = lam.iter().filter(|&&v| steps * -(1.0 - ETA_Q * v).abs().ln() > 10f64.ln()).count();
            report.push(format!("Q^{l}: {reached} of {n} (lambda max {:.1}, median {:.2e})", lam.max(), {
                let mut v: Vec<f64> = lam.iter().copied().collect();
                v.sort_by(f64::total_cmp);
                v[n / 2]
            }));
        }
        println!("{:>14}  eigen-directions of C reached by the warm-up: {}", "", report.join(", "));
    }
    let (mut acc, mut angles, mut mismatch) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..EPOCHS {
        // the angle of the summed update to the summed backprop step, on a fixed probe set
        let mut per_layer = Vec::new();
        let (mut sum_b, mut sum_bp) = (net.zeros::<f64>(), net.zeros::<f64>());
        let (mut mis, mut teach) = (vec![0.0; net.n_layers() - 1], vec![0.0; net.n_layers() - 1]);
        for &i in &probe {
            let t = onehot(data.1[i]);
            let s = signals(&net, &p, &fb, &burst, &data.0[i], Some(&t))?;
            for l in 1..net.n_layers() {
                // (C3) split: a^l = Yᵀ(b − p_b e) − (Q − p_b Y)ᵀ e, teaching term and mismatch
                let (y, e) = (&fb.y[l - 1], &s.e[l + 1]);
                mis[l - 1] += (&fb.q[l - 1] - y * PB).tr_mul(e).norm();
                teach[l - 1] += y.tr_mul(&(&s.b[l + 1] - e * PB)).norm();
            }
            let g = credit_backprop::gradient(&net, &p, &data.0[i], &FfLoss::Mse { target: t })?;
            for k in 0..p.tensors.len() {
                sum_b.tensors[k].value += &s.dw.tensors[k].value;
                sum_bp.tensors[k].value -= &g.grad.tensors[k].value;
            }
        }
        for l in 1..=net.n_layers() {
            per_layer
                .push(angle(&sum_b.tensors[net.w_index(l)].value, &sum_bp.tensors[net.w_index(l)].value));
        }
        angles.push(per_layer);
        mismatch.push(mis.iter().zip(&teach).map(|(m, t)| m / t).collect());
        idx.shuffle(&mut rng);
        for batch in idx.chunks(BATCH) {
            let mut sum = net.zeros::<f64>();
            let mut dq: Vec<DMatrix<f64>> =
                fb.q.iter().map(|q| DMatrix::zeros(q.nrows(), q.ncols())).collect();
            for &i in batch {
                let t = onehot(data.1[i]);
                if mode == "bp" {
                    let g = credit_backprop::gradient(&net, &p, &data.0[i], &FfLoss::Mse { target: t })?;
                    for (s, d) in sum.tensors.iter_mut().zip(&g.grad.tensors) {
                        s.value -= &d.value * PB; // −p_b ∇: the step BurstCCN approximates
                    }
                    continue;
                }
                let s = signals(&net, &p, &fb, &burst, &data.0[i], Some(&t))?;
                for (s, d) in sum.tensors.iter_mut().zip(&s.dw.tensors) {
                    s.value += &d.value;
                }
                if mode == "learned-q" {
                    // (C7) in the same, taught phase, as the authors' backward(t) computes grad_weight_Q
                    for l in 1..net.n_layers() {
                        dq[l - 1] += feedback_update(&s, l).1;
                    }
                }
                if mode == "learned-q-rand" {
                    // (C7) on the sample without a teacher: the Q pathway learns to cancel events
                    let free = signals(&net, &p, &fb, &burst, &data.0[i], None)?;
                    for l in 1..net.n_layers() {
                        dq[l - 1] += feedback_update(&free, l).1;
                    }
                }
            }
            let eta_q = if mode == "learned-q" { ETA_Q_AUTHORS } else { ETA_Q };
            let scale = ETA / batch.len() as f64;
            for (w, s) in p.tensors.iter_mut().zip(&sum.tensors) {
                w.value += &s.value * scale; // (C6) W ← W + η ΔW (batch mean)
            }
            for (q, d) in fb.q.iter_mut().zip(&dq) {
                *q += d * (eta_q / batch.len() as f64); // (C7) Q ← Q + η_Q ΔQ (batch mean)
            }
            if mode == "tied" {
                fb.retie(&net, &p, PB, 1.0);
            }
        }
        let right = test
            .iter()
            .filter(|&&i| {
                argmax(
                    forward(&net, &p, &data.0[i])
                        .map(|t| t.output().clone())
                        .as_ref()
                        .unwrap_or(&DVector::zeros(10)),
                ) == data.1[i]
            })
            .count();
        acc.push(right as f64 / test.len() as f64);
    }
    Ok((acc, angles, mismatch))
}

fn main() -> Result<()> {
    let data = digits();
    let mut split: Vec<usize> = (0..data.0.len()).collect();
    split.shuffle(&mut ChaCha8Rng::seed_from_u64(1000));
    println!(
        "8x8 digits, 64-100-100-10 sigmoid, batch {BATCH}, eta {ETA} (x p_b = {}), {EPOCHS} epochs",
        ETA * PB
    );
    println!(
        "{:>14}  {:>8}  {:>8}  {:>8}  {:>26}  {:>26}",
        "mode", "acc@1", "acc@10", "acc@30", "angle to BP, epoch 1 (l1 l2 l3)", "epoch 30"
    );
    let mut finals = Vec::new();
    for mode in ["bp", "tied", "fa", "learned-q", "learned-q-rand"] {
        let (acc, ang, mis) = run(mode, &data, &split)?;
        // backprop's own angle is 0 by definition: its row shows the accuracy only
        let fmt = |a: &[f64]| {
            if mode == "bp" {
                "-".to_string()
            } else {
                a.iter().map(|v| format!("{v:5.1}")).collect::<Vec<_>>().join(" ")
            }
        };
        println!(
            "{mode:>14}  {:>8.3}  {:>8.3}  {:>8.3}  {:>26}  {:>26}",
            acc[0],
            acc[9],
            acc[EPOCHS - 1],
            fmt(&ang[0]),
            fmt(&ang[EPOCHS - 1])
        );
        if mode.starts_with("learned") {
            println!(
                "{:>14}  mismatch |(Q - p_b Y)'e| / |Y'(b - p_b e)|, epoch 1 (l1 l2): {:.3} {:.3}, epoch 30: {:.3} {:.3}",
                "",
                mis[0][0],
                mis[0][1],
                mis[EPOCHS - 1][0],
                mis[EPOCHS - 1][1]
            );
        }
        finals.push((mode, acc, ang));
    }
    // tied feedback tracks backprop closely (< 5° in every layer early in training, the design
    // notes' smoke test); backprop, tied, FA and the authors' learned Q learn. Learned Q from a
    // random start is reported, not asserted: its Q pathway does not cancel the event term
    // within the run (docs/burstccn.md §5).
    let tied = &finals[1].2;
    assert!(tied[0].iter().all(|a| *a < 5.0), "tied angles at epoch 1: {:?}", tied[0]);
    for (mode, acc, _) in &finals[..4] {
        let last = acc[EPOCHS - 1];
        assert!(last > 0.8, "{mode}: final test accuracy {last}");
    }
    // SVG=path writes accuracy and angles per epoch (docs/img/digits-burstccn.svg in the docs)
    if let Ok(path) = std::env::var("SVG") {
        // one colour per mode in both panels; backprop wide and grey under tied (they coincide)
        let color = [9, 0, 1, 2, 3];
        let accuracy = finals
            .iter()
            .enumerate()
            .map(|(i, (mode, acc, _))| plot::Line {
                label: Some(mode.to_string()),
                color: color[i],
                width: if i == 0 { 5 } else { 2 },
                points: acc.iter().enumerate().map(|(k, &a)| ((k + 1) as f64, a)).collect(),
            })
            .collect();
        // the angle is measured before each epoch's updates: x = epochs done (0 = initial);
        // layers 1, 2, 3 drawn 3, 2, 1 wide (one legend entry per mode)
        let mut angles = Vec::new();
        for (i, (mode, _, ang)) in finals.iter().enumerate().skip(1) {
            for l in 0..ang[0].len() {
                angles.push(plot::Line {
                    label: (l == 0).then(|| mode.to_string()),
                    color: color[i],
                    width: 3 - l as u32,
                    points: ang.iter().enumerate().map(|(k, a)| (k as f64, a[l])).collect(),
                });
            }
        }
        let panels = [
            plot::Panel {
                title: "8x8 digits, BurstCCN: test accuracy".into(),
                x_label: "epoch".into(),
                y_label: "test accuracy".into(),
                lines: accuracy,
                legend_upper: false,
                y_range: Some((0.0, 1.0)),
            },
            plot::Panel {
                title: "angle to backprop's step; layers 1, 2, 3 drawn 3, 2, 1 px wide".into(),
                x_label: "epochs done".into(),
                y_label: "angle (degrees)".into(),
                lines: angles,
                legend_upper: true,
                y_range: Some((0.0, 180.0)),
            },
        ];
        plot::panels(&path, &panels).map_err(|e| credit_core::Error::Invalid {
            field: "SVG".into(),
            value: e,
            requirement: "a writable path",
        })?;
    }
    Ok(())
}
