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
//! | `burstccn-ct-steady=discrete` | NeurIPS form, tied and random `Y`: the continuous-time model (CT1)–(CT5) run with frozen weights at the authors' timing (`dt = τ`, 20 steps) and at `dt = τ/2` (300 steps): its weight increment vs `dt/τ_W ×` the discrete `ΔW` (C6), per tensor | equal (1e-12) |
//! | `burstccn-q-fixed-point` | no target, hidden layer `l` with a random `Q^l` (the layers above at `Q = p_b Y`), batch-mean (C7) on `Q^l` (and on `Y^l`) over [`Q_STEPS`] steps on [`Q_INPUTS`] inputs: `D = Q^l − p_b Y^l` along each eigenvector of `C = mean e eᵀ` (`e = e^{l+1}`, eigenvalue `λ`) contracts by `1 − (η_Q + p_b η_Y) λ` per step and over the run, and is unchanged off `span{e_i}`, relative to `max|D_0|` (P-c5) | equal (1e-12) |

use crate::compare::{alive, max_rel_err};
use crate::feedforward::{FfConfig, FfData, Out, ff_liveness, random_feedback};
use crate::relations::{Expect, Row, Select};
use credit_burstccn::{Burst, BurstForm, Feedback, feedback_update, signals};
use credit_core::Params;
use credit_core::feedforward::{Activation, FeedForward, FfLoss, forward};
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

/// Steps of the teacher-free feedback-learning run of `burstccn-q-fixed-point`.
pub const Q_STEPS: usize = 20;
/// The inputs of that run's batch (the config's input and fresh `N(0, I)` ones).
pub const Q_INPUTS: usize = 2;
/// The run's step `ω`: `η_Q + p_b η_Y = ω / λ_max(C)`.
pub const Q_OMEGA: f64 = 0.9;
/// Largest share of `Q − p_b Y` left along `C`'s leading eigenvector after the run (liveness:
/// the run must visibly converge somewhere).
pub const TOL_Q_SPAN: f64 = 1e-6;
/// Least share `max|P D| / max|D|` of a component for its row to be a test (liveness).
pub const MIN_Q_SHARE: f64 = 1e-3;

/// The ids of this module's relations.
pub const IDS: &[&str] = &[
    "burstccn-out=bp",
    "burstccn-hidden~bp",
    "burstccn-zero-error",
    "burstccn-fa=fa",
    "burstccn-fa!=bp",
    "burstccn-q-fixed-point",
    "burstccn-ct-steady=discrete",
];

/// Steps of the continuous-time runs of `burstccn-ct-steady=discrete`, per timing.
pub const CT_STEPS: [usize; 2] = [20, 300];

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
        if burst.form == BurstForm::NeurIps && select.wants("burstccn-ct-steady=discrete") {
            ct_steady(&mut out, net, &p, &x, &target, [("tied", &tied), ("random Y", &random)])?;
        }
        if select.wants("burstccn-q-fixed-point") {
            q_fixed_point(&mut out, net, &p, &x, &burst, label, &random_y)?;
        }
    }
    Ok(out.rows)
}

/// `burstccn-ct-steady=discrete`: with the weights frozen, a fixed input and target, the
/// continuous-time states settle on (C1)–(C5) and the increment (CT5) on `dt/τ_W × ΔW` (C6).
fn ct_steady(
    out: &mut Out<'_>,
    net: &FeedForward,
    p: &Params<f64>,
    x: &DVector<f64>,
    target: &DVector<f64>,
    feedbacks: [(&str, &Feedback<f64>); 2],
) -> credit_core::Result<()> {
    use credit_burstccn::continuous::{State, Timing, step};
    let half = Timing { dt: 0.05, ..Timing::AUTHORS };
    for (what, fb) in feedbacks {
        let want = signals(net, p, fb, &Burst::NEURIPS, x, Some(target))?.dw;
        for (timing, steps, tname) in
            [(Timing::AUTHORS, CT_STEPS[0], "dt = tau"), (half, CT_STEPS[1], "dt = tau/2")]
        {
            let mut state = State::zeros(net);
            let mut dw = net.zeros();
            for _ in 0..steps {
                dw = step(net, p, fb, &timing, &mut state, x, Some(target))?;
            }
            let k = timing.dt / timing.tau_w;
            for (got, w) in dw.tensors.iter().zip(&want.tensors) {
                let want = w.value.map(|v| v * k);
                out.push(
                    "burstccn-ct-steady=discrete",
                    Expect::Equal,
                    format!("{what}, {tname}, {steps} steps: {}", w.name),
                    max_rel_err(&got.value, &want),
                    TOL_BURST,
                    alive(&want),
                );
            }
        }
    }
    Ok(())
}

/// `a / b` for `a = max|A|`, `b = max|B|` (0 when both vanish; NaN-propagating to ∞).
fn share(a: f64, b: f64) -> f64 {
    if !(a.is_finite() && b.is_finite()) {
        f64::INFINITY
    } else if b == 0.0 {
        if a == 0.0 { 0.0 } else { f64::INFINITY }
    } else {
        a / b
    }
}

/// P-c5, `burstccn-q-fixed-point`: without a teacher the layers above `l` sit at `a = 0`
/// (P-c3, their `Q = p_b Y`), so `b^{l+1} = p_b e^{l+1}` and `a^l = −Dᵀ e` with
/// `D = Q^l − p_b Y^l`, `e = e^{l+1}`. The batch mean of (C7) over the presented inputs, rates
/// `η_Q`, `η_Y`, is then `D ← (I − η C) D` with `η = η_Q + p_b η_Y`, `C = (1/K) Σ_i e_i e_iᵀ`:
/// along each eigenvector `v_j` of `C` (eigenvalue `λ_j > 0`, spanning `S = span{e_i}`)
/// `v_jᵀ D` contracts by `1 − η λ_j` per step, and `(I − P_S) D` is unchanged. So
/// `Q → p_b Y` on `S` (every `|1 − η λ_j| < 1`) and only there.
fn q_fixed_point(
    out: &mut Out<'_>,
    net: &FeedForward,
    p: &Params<f64>,
    x: &DVector<f64>,
    burst: &Burst,
    label: &str,
    random_y: &[DMatrix<f64>],
) -> credit_core::Result<()> {
    let rel = "burstccn-q-fixed-point";
    let pb = burst.p_baseline;
    let mut rng = ChaCha8Rng::seed_from_u64(out.cfg.seed ^ 0x0F1C_5ED0);
    let mut normal = || <StandardNormal as Distribution<f64>>::sample(&StandardNormal, &mut rng);
    let mut inputs = vec![x.clone()];
    for _ in 1..Q_INPUTS {
        inputs.push(DVector::from_fn(net.sizes[0], |_, _| normal()));
    }
    let k_inv = 1.0 / inputs.len() as f64;
    for l in 1..net.n_layers() {
        // the presented events e^{l+1} (the forward pass reads neither Q nor Y) and C
        let mut es = Vec::with_capacity(inputs.len());
        for xi in &inputs {
            es.push(forward(net, p, xi)?.y[l + 1].clone());
        }
        let n = es[0].len();
        let c = es.iter().fold(DMatrix::zeros(n, n), |acc, e| acc + e * e.transpose() * k_inv);
        let eig = c.clone().symmetric_eigen();
        let lam_max = eig.eigenvalues.amax();
        let span: Vec<(f64, DVector<f64>)> = (0..n)
            .filter(|&j| eig.eigenvalues[j] > 1e-12 * lam_max)
            .map(|j| (eig.eigenvalues[j], eig.eigenvectors.column(j).into_owned()))
            .collect();
        let p_span = span.iter().fold(DMatrix::zeros(n, n), |acc, (_, v)| acc + v * v.transpose());
        let off = DMatrix::identity(n, n) - &p_span;
        let q_init = DMatrix::from_fn(n, net.sizes[l], |_, _| normal());
        for (variant, learn_y) in [("Q learned", false), ("Q and Y learned", true)] {
            // η = η_Q + p_b η_Y = ω / λ_max(C), with η_Y = η_Q when Y learns too
            let eta = Q_OMEGA / lam_max;
            let eta_q = if learn_y { eta / (1.0 + pb) } else { eta };
            let eta_y = if learn_y { eta_q } else { 0.0 };
            let mut fb = Feedback::random(random_y.to_vec(), pb);
            fb.q[l - 1] = q_init.clone();
            let d_of = |fb: &Feedback<f64>| &fb.q[l - 1] - &fb.y[l - 1] * pb;
            let d0 = d_of(&fb);
            // every error relative to max|D_0|: once `D` is contracted to rounding level (every
            // direction of `S` when `dim S = n_{l+1}`) its own scale is no reference
            let scale = d0.amax();
            let (mut err_on, mut err_off, mut moved) = (0.0_f64, 0.0_f64, false);
            for step in 0..Q_STEPS {
                let d = d_of(&fb);
                let (mut dy, mut dq) = (DMatrix::zeros(n, net.sizes[l]), DMatrix::zeros(n, net.sizes[l]));
                for xi in &inputs {
                    let (y_i, q_i) = feedback_update(&signals(net, p, &fb, burst, xi, None)?, l);
                    dy += y_i * k_inv;
                    dq += q_i * k_inv;
                }
                if step == 0 {
                    moved = alive(&dq); // the first step moves Q (later ones may reach D = 0 on S)
                }
                fb.q[l - 1] += dq * eta_q;
                if learn_y {
                    fb.y[l - 1] += dy * eta_y;
                }
                let d_new = d_of(&fb);
                for (lam, v) in &span {
                    let want = v.tr_mul(&d) * (1.0 - eta * lam);
                    err_on = err_on.max(share((v.tr_mul(&d_new) - want).amax(), scale));
                }
                err_off = err_off.max(share((&off * (&d_new - &d)).amax(), scale));
            }
            let d_end = d_of(&fb);
            let mut err_end = 0.0_f64;
            let mut live_on = moved && alive(&d0);
            for (lam, v) in &span {
                let start = v.tr_mul(&d0);
                let want = &start * (1.0 - eta * lam).powi(Q_STEPS as i32);
                err_end = err_end.max(share((v.tr_mul(&d_end) - want).amax(), d0.amax()));
                live_on &= share(start.amax(), d0.amax()) >= MIN_Q_SHARE;
            }
            let slowest = span.iter().map(|(lam, _)| (1.0 - eta * lam).abs()).fold(0.0, f64::max);
            let remaining = share((&p_span * &d_end).amax(), (&p_span * &d0).amax());
            // Q really reaches p_b Y along the leading direction of C
            let lead = eig.eigenvectors.column(eig.eigenvalues.imax()).into_owned();
            live_on &= share(lead.tr_mul(&d_end).amax(), lead.tr_mul(&d0).amax()) <= TOL_Q_SPAN;
            let live_off = moved && share((&off * &d0).amax(), d0.amax()) >= MIN_Q_SHARE;
            let tag = format!("{label}: {variant}: Q^{l}, dim S = {}", span.len());
            let rows = [
                ("each step, on S: v'D <- (1 - eta lam) v'D".to_string(), err_on, live_on),
                ("each step, off S: unchanged".to_string(), err_off, live_off),
                (
                    format!(
                        "{Q_STEPS} steps, on S: v'D = (1 - eta lam)^N v'D0 (slowest {slowest:.3}, left {remaining:.1e})"
                    ),
                    err_end,
                    live_on,
                ),
                (
                    format!("{Q_STEPS} steps, off S: unchanged"),
                    share((&off * (&d_end - &d0)).amax(), d0.amax()),
                    live_off,
                ),
            ];
            for (what, err, live) in rows {
                out.push(rel, Expect::Equal, format!("{tag}: {what}"), err, TOL_BURST, live);
            }
        }
    }
    Ok(())
}
