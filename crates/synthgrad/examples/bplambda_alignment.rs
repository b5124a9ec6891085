//! BP(λ)'s alignment on the toy line-drawing task with a frozen cortex (`docs/synthgrad.md` §10;
//! after neuralml/bp_lambda `scripts/linedraw.py` with `dataset_linedraw.yaml`,
//! `model_linedraw.yaml`: a frozen RNN, only the synthesiser learns, loss at the last step).
//!
//! A 10-bit binary code is shown at `t = 1`, then `T − 1` blank steps; the target at `t = T` is
//! the end of a line from the origin to one of `K_TARGETS` points on the unit circle (the code
//! picks the point). The cortex (tanh RNN, `α = 1`, `N = 16`) and its readout are frozen; a
//! linear synthesiser, zero-initialised, learns by online accumulate BP(λ) (S8)–(S10) with
//! `γ = 1`, one step per time step (`bplambda::online`). After training, the alignment
//! `cos(S(h^t), G^t)` with the true future gradient (S3) is averaged over the codes, per `t`,
//! for `λ ∈ {0, 0.5, 1}`. Run: `cargo run --release -p credit-synthgrad --example bplambda_alignment`.

use credit_core::cell::{Cell, Rate};
use credit_core::{InitScale, Loss, Network, Params, Readout, Sequence};
use credit_synthgrad::Cortex;
use credit_synthgrad::bplambda::{self, BpLambdaOptions};
use credit_synthgrad::synth::Synth;
use nalgebra::DVector;

#[path = "plot/mod.rs"]
mod plot;

const BITS: usize = 10;
const STEPS: usize = 10;
const K_TARGETS: usize = 6;
const N: usize = 16;

/// The sequence of code `k`: bits of `k·37 + 5` at `t = 1`, the circle point `k` at `t = T`.
fn sequence(k: usize) -> Sequence {
    let code = k * 37 + 5;
    let mut x = vec![DVector::zeros(BITS); STEPS];
    x[0] = DVector::from_fn(BITS, |i, _| if (code >> i) & 1 == 1 { 1.0 } else { -1.0 });
    let angle = 2.0 * std::f64::consts::PI * k as f64 / K_TARGETS as f64;
    let mut target = vec![DVector::zeros(2); STEPS];
    target[STEPS - 1] = DVector::from_vec(vec![angle.cos(), angle.sin()]);
    let mut mask = vec![0.0; STEPS];
    mask[STEPS - 1] = 1.0;
    Sequence { x, target, mask }
}

fn cos(a: &DVector<f64>, b: &DVector<f64>) -> f64 {
    let n = a.norm() * b.norm();
    if n == 0.0 { 0.0 } else { a.dot(b) / n }
}

/// Mean `cos(S(h^t), G^t)` over the codes, `t = 1..T−1`.
fn alignment(net: &Network, p: &Params<f64>, s: &Synth<f64>) -> credit_core::Result<Vec<f64>> {
    let mut out = vec![0.0; STEPS - 1];
    for k in 0..K_TARGETS {
        let cx = Cortex::replay(net, p, &sequence(k))?;
        let g = cx.future_gradient();
        for t in 1..STEPS {
            out[t - 1] += cos(&s.predict(cx.h(t)), &g[t]) / K_TARGETS as f64;
        }
    }
    Ok(out)
}

/// Trains a zero-initialised linear synthesiser for `epochs` passes over the codes; returns the
/// alignment per `t`.
pub fn run(lambda: f64, epochs: usize, lr: f64) -> credit_core::Result<Vec<f64>> {
    let net = Network::new(Cell::Rate(Rate { alpha: 1.0 }), BITS, N, 2, Readout::leaky(0.0), Loss::Mse)?;
    let mut scale = InitScale::default_for(&net);
    scale.w_rec = 1.1; // a slowly decaying memory: the gradient at t = 1 still reaches t = T
    let p = Params::<f64>::random_scaled(&net, 2024, scale)?;
    let mut s = Synth::<f64>::linear(N);
    let opts = BpLambdaOptions { lambda, gamma: 1.0 };
    for epoch in 0..epochs {
        for k in 0..K_TARGETS {
            bplambda::online(&net, &p, &sequence((k + epoch) % K_TARGETS), &mut s, opts, lr)?;
        }
    }
    alignment(&net, &p, &s)
}

fn main() -> credit_core::Result<()> {
    let epochs = std::env::var("EPOCHS").ok().and_then(|v| v.parse().ok()).unwrap_or(300);
    println!("cos(S(h^t), G^t), mean over {K_TARGETS} codes, after {epochs} epochs (t = 1..{})", STEPS - 1);
    let mut series = Vec::new();
    for lambda in [0.0, 0.5, 1.0] {
        let lr = std::env::var("LR").ok().and_then(|v| v.parse().ok()).unwrap_or(0.02);
        let a = run(lambda, epochs, lr)?;
        let row: Vec<String> = a.iter().map(|v| format!("{v:5.2}")).collect();
        println!("lambda = {lambda:3.1}: {}", row.join(" "));
        series.push((format!("λ = {lambda}"), a));
    }
    // SVG=path writes the plot (docs/img/synthgrad-alignment.svg in the docs)
    if let Ok(path) = std::env::var("SVG") {
        let title = "BP(λ), frozen cortex: cos(S(h^t), G^t)";
        plot::lines(&path, title, "t", "alignment", 1.0, &series).map_err(|e| {
            credit_core::Error::Invalid { field: "SVG".into(), value: e, requirement: "a writable path" }
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// The qualitative claim in a short run: after training, BP(1) is better aligned than BP(0)
    /// at the earliest step (the one furthest from the loss).
    #[test]
    fn larger_lambda_aligns_better_early() {
        let (a0, a1) = (super::run(0.0, 40, 0.02).unwrap(), super::run(1.0, 40, 0.02).unwrap());
        assert!(a1[0] > a0[0], "lambda = 1: {:.3}, lambda = 0: {:.3}", a1[0], a0[0]);
    }
}
