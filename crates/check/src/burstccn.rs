//! The BurstCCN relations (issue 13, `docs/burstccn.md`), on the built-in feedforward configs
//! whose layers are all sigmoid ([`crate::feedforward::builtin_ff`]); each runs with the NeurIPS
//! burst function (`p_b = ½`) and the journal one at `p_b = 0.2`.
//!
//! | id | compared | expect |
//! |---|---|---|
//! | `burstccn-out=bp` | tied `Y`, `Q = p_b Y`: the output layer's `ΔW^L`, `Δb^L` (C6) vs `−p_b ×` backprop of `½‖y − e^L‖²` (P-c1) | equal (1e-12) |
//! | `burstccn-hidden~bp` | tied: the hidden layers' relative error to `−p_b ×` backprop at output errors `ε ∈ {1e-1, 1e-2, 1e-3}`; the row's error is `|s − 2|` for the least-squares log-log slope `s` (P-c2) | equal (0.1) |
//! | `burstccn-zero-error` | tied: no target, and the target `y = e^L`: `max|ΔW|` relative to the update with the config's target (which must be non-zero), per tensor (P-c3; exactly 0 at `p_b = ½`, rounding at `p_b = 0.2`) | equal (1e-12) |
//! | `burstccn-fa=fa` | random `Y`, `Q = p_b Y`: output layer = `−p_b ×` backprop exactly; hidden layers vs `−p_b ×` feedback alignment with `B^{l+1} = (Y^l)ᵀ`, slope `≈ 2` as above (P-c4) | equal |
//! | `burstccn-fa!=bp` | random `Y`: the hidden updates differ from `−p_b ×` backprop (at `ε = 10^{-2}`) | differ (1e-3) |

use crate::compare::{alive, max_rel_err};
use crate::feedforward::{FfConfig, FfData, Out, ff_liveness, random_feedback};
use crate::relations::{Expect, Row, Select};
use credit_burstccn::{Burst, BurstForm, Feedback, signals};
use credit_core::feedforward::{Activation, FfLoss};
use nalgebra::{DMatrix, DVector};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// The output errors `ε` of the slope fits.
pub const EPSILONS: [f64; 3] = [1e-1, 1e-2, 1e-3];
/// Tolerance on `|slope − 2|`.
pub const TOL_SLOPE: f64 = 0.1;
/// Tolerance of the exact relations.
pub const TOL_BURST: f64 = 1e-12;
/// Threshold of `burstccn-fa!=bp`.
pub const TOL_BURST_DIFFER: f64 = 1e-3;

/// The ids of this module's relations.
pub const IDS: &[&str] =
    &["burstccn-out=bp", "burstccn-hidden~bp", "burstccn-zero-error", "burstccn-fa=fa", "burstccn-fa!=bp"];

/// Whether a config is a BurstCCN network (sigmoid hidden and output layers).
pub fn applies(cfg: &FfConfig) -> bool {
    cfg.net.hidden == Activation::Sigmoid && cfg.net.output == Activation::Sigmoid
}

/// The least-squares slope of `log y` against `log x`.
pub fn loglog_slope(x: &[f64], y: &[f64]) -> f64 {
    let lx: Vec<f64> = x.iter().map(|v| v.ln()).collect();
    let ly: Vec<f64> = y.iter().map(|v| v.ln()).collect();
    let n = lx.len() as f64;
    let (mx, my) = (lx.iter().sum::<f64>() / n, ly.iter().sum::<f64>() / n);
    let sxy: f64 = lx.iter().zip(&ly).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = lx.iter().map(|a| (a - mx) * (a - mx)).sum();
    sxy / sxx
}

/// Runs the selected BurstCCN relations on one config (none unless [`applies`]).
pub fn run_burstccn_selected(cfg: &FfConfig, select: Select) -> credit_core::Result<Vec<Row>> {
    if !select.any(IDS) || !applies(cfg) {
        return Ok(Vec::new());
    }
    let net = &cfg.net;
    let FfData { params: p, x, target, .. } = cfg.data()?;
    let mse = FfLoss::Mse { target: target.clone() };
    let bp0 = credit_backprop::gradient(net, &p, &x, &mse)?;
    let (live, verdict) = ff_liveness(net, &p, &x, &bp0.grad)?;
    let mut out = Out { cfg, select, live, verdict, spec: cfg.spec(), rows: Vec::new() };
    let layers = net.n_layers();
    let e_out = bp0.trajectory.output().clone();
    // a fixed unit direction of the output error
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0xB0057);
    let d = DVector::from_fn(net.n_out(), |_, _| {
        <StandardNormal as Distribution<f64>>::sample(&StandardNormal, &mut rng)
    });
    let d = &d / d.norm();
    let random_y: Vec<DMatrix<f64>> =
        random_feedback(net, cfg.seed ^ 0x7, 1.0).into_iter().skip(1).map(|m| m.transpose()).collect();
    for (label, burst) in [
        ("neurips", Burst::NEURIPS),
        ("journal p_b=0.2", Burst { p_baseline: 0.2, form: BurstForm::Journal }),
    ] {
        let pb = burst.p_baseline;
        let tied = Feedback::tied(net, &p, pb, 1.0);
        let random = Feedback::random(random_y.clone(), pb);
        // B^{l+1} = (Y^l)ᵀ for feedback alignment; B^1 is never read
        let mut fa_b = vec![DMatrix::zeros(net.sizes[0], net.sizes[1])];
        fa_b.extend(random.y.iter().map(|m| m.transpose()));
        // P-c1 on the config's target, tied and random feedback
        let s = signals(net, &p, &tied, &burst, &x, Some(&target))?;
        let sr = signals(net, &p, &random, &burst, &x, Some(&target))?;
        let wl = net.w_index(layers);
        let outs: Vec<usize> = std::iter::once(wl).chain(net.b_index(layers)).collect();
        for &i in &outs {
            let want = bp0.grad.tensors[i].value.map(|v| -pb * v);
            let name = p.tensors[i].name;
            let e = max_rel_err(&s.dw.tensors[i].value, &want);
            out.push(
                "burstccn-out=bp",
                Expect::Equal,
                format!("{label}: {name}"),
                e,
                TOL_BURST,
                alive(&want),
            );
            let e = max_rel_err(&sr.dw.tensors[i].value, &want);
            out.push(
                "burstccn-fa=fa",
                Expect::Equal,
                format!("{label}: random Y: {name}"),
                e,
                TOL_BURST,
                alive(&want),
            );
        }
        // P-c3: no target, and y = e^L
        let none = signals(net, &p, &tied, &burst, &x, None)?;
        let at_out = signals(net, &p, &tied, &burst, &x, Some(&e_out))?;
        for (what, z) in [("no target", &none), ("y = e^L", &at_out)] {
            for (i, t) in z.dw.tensors.iter().enumerate() {
                // |ΔW| relative to the update with the config's target: exactly 0 at p_b = ½,
                // rounding (Yᵀ(p_b e) vs (p_b Y)ᵀ e) at other p_b
                let with = &s.dw.tensors[i].value;
                let e = t.value.amax() / with.amax();
                out.push(
                    "burstccn-zero-error",
                    Expect::Equal,
                    format!("{label}: {what}: {}", t.name),
                    e,
                    TOL_BURST,
                    alive(with),
                );
            }
        }
        // P-c2 (tied vs BP) and P-c4 (random Y vs FA): relative error per hidden tensor at each ε
        let hidden: Vec<usize> =
            (1..layers).flat_map(|l| std::iter::once(net.w_index(l)).chain(net.b_index(l))).collect();
        let mut err_bp = vec![Vec::new(); hidden.len()];
        let mut err_fa = vec![Vec::new(); hidden.len()];
        let mut alive_all = vec![true; hidden.len()];
        let mut differ = vec![(0.0, true); hidden.len()];
        for &eps in &EPSILONS {
            let y = &e_out + &d * eps;
            let loss = FfLoss::Mse { target: y.clone() };
            let bp = credit_backprop::gradient(net, &p, &x, &loss)?;
            let fa = credit_backprop::feedback_alignment(net, &p, &fa_b, &x, &loss)?;
            let st = signals(net, &p, &tied, &burst, &x, Some(&y))?;
            let sr = signals(net, &p, &random, &burst, &x, Some(&y))?;
            for (k, &i) in hidden.iter().enumerate() {
                let want_bp = bp.grad.tensors[i].value.map(|v| -pb * v);
                let want_fa = fa.grad.tensors[i].value.map(|v| -pb * v);
                err_bp[k].push(max_rel_err(&st.dw.tensors[i].value, &want_bp));
                err_fa[k].push(max_rel_err(&sr.dw.tensors[i].value, &want_fa));
                alive_all[k] &= alive(&want_bp) && alive(&want_fa);
                if (eps - 1e-2).abs() < 1e-15 {
                    differ[k] = (max_rel_err(&sr.dw.tensors[i].value, &want_bp), alive(&want_bp));
                }
            }
        }
        for (k, &i) in hidden.iter().enumerate() {
            let name = p.tensors[i].name;
            for (rel, errs, what) in
                [("burstccn-hidden~bp", &err_bp[k], "tied"), ("burstccn-fa=fa", &err_fa[k], "random Y")]
            {
                let slope = loglog_slope(&EPSILONS, errs);
                let dev = if slope.is_finite() { (slope - 2.0).abs() } else { f64::INFINITY };
                let tensor = format!(
                    "{label}: {what}: {name} slope {slope:.3} (err {:.1e} {:.1e} {:.1e})",
                    errs[0], errs[1], errs[2]
                );
                out.push(rel, Expect::Equal, tensor, dev, TOL_SLOPE, alive_all[k]);
            }
            let (e, ok) = differ[k];
            out.push(
                "burstccn-fa!=bp",
                Expect::Differ,
                format!("{label}: random Y, eps=1e-2: {name}"),
                e,
                TOL_BURST_DIFFER,
                ok,
            );
        }
    }
    Ok(out.rows)
}
