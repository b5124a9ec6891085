//! The synthetic-gradient relations (issue 14): DNI, accumulate BP(λ) and the online cortex
//! update against BPTT, properties P-b1…P-b4, P-e1…P-e3 of the design notes
//! (`docs/synthgrad.md` §5).
//!
//! They run on the rate and LSTM configs and the LIF/ALIF configs of [`SPIKING_CONFIGS`]
//! (surrogate Jacobians), each on its **memoryless variant** (`<name>+kappa0`: the same cell, sizes, seed, parameters and sequence with the readout made
//! memoryless and same-step and no regulariser — the scope of `credit-synthgrad`), with a
//! liveness verdict of their own (the BPTT gradient of the variant).
//!
//! | id | compared | expect |
//! |---|---|---|
//! | `sg-exact=bptt` | DNI (`T_c` = 1, 3) with `S(h^e) := G^e`, `s = 1`; the online cortex update with `S := G` (immediate derivatives) and with `S := G_R` (e-prop traces); `G` from BPTT's adjoints; on LSTM configs also DNI in ccDNI's mossy-fibre layout `[z; c]` (S16) with `S := G_u` ([`future_on_fibres`]); vs BPTT, per tensor (P-e1, P-b4) | equal |
//! | `bplambda-forward=backward` | offline accumulate BP(λ) (S8)–(S10) vs the forward λ-return view (S11), linear and MLP synthesisers, `(λ, γ)` of [`LAMBDA_GAMMA`]; one row per tensor with the worst pair (P-b1) | equal |
//! | `bplambda1=bptt-target` | BP(1) with `γ = 1` vs `−∇_φ ½ Σ_t ‖G^t − S(h^t)‖²` by dual numbers through the synthesiser's forward code, `G` from BPTT (P-b2) | equal |
//! | `bplambda0=dni1` | BP(0) with `γ = s` vs `−` the DNI synthesiser gradient with `T_c = 1` (the factor: the code's `2/B` and the sign of a gradient) (P-b3, P-e3) | equal |
//! | `dni-full=bptt` | DNI with `T_c ≥ T` and a live synthesiser vs BPTT; and the target at the last chunk start (`T_c = 3`) vs `G^b` (P-e2) | equal |
//! | `dni-fixed-point=chunk-return` | the linear `S*` fitted by least squares to DNI's own targets (`dni::fit_linear`) vs the closed form (S14): the interpolant of the `s`-discounted chunk return from BPTT with a reweighted mask ([`chunk_return`]), per tensor, and `S*(h^b)` vs `R_s^b` (P-e4) | equal |
//! | `bplambda<1!=bptt-target` | BP(λ) with `λ ∈ {0, 0.5}`, `γ = 1` vs the regression target of `bplambda1=bptt-target`: biased | differ |
//!
//! Liveness beyond the config's: the synthesisers are drawn with a non-zero output layer
//! (`S ≢ 0`; the papers' zero initialisation would make every bootstrap term vanish);
//! `sg-exact=bptt` requires that the same rule with `S = 0` differs from BPTT (truncation, or
//! the dropped future, does something); the BP(λ) rows require non-zero predictions and TD
//! errors.

use crate::compare::{Liveness, alive, max_rel_err, worst_tensor};
use crate::relations::{Ctx, Expect, Row};
use crate::suite::Config;
use crate::suite::Role;
use credit_core::cell::{Cell, Reset};
use credit_core::{CellModel, Network, Params, Readout, Sequence};
use credit_synthgrad::Layout;
use credit_synthgrad::bplambda::{self, BpLambdaOptions};
use credit_synthgrad::cortex::{self, Traces};
use credit_synthgrad::dni::{self, DniOptions};
use credit_synthgrad::synth::Synth;
use nalgebra::{DMatrix, DVector};
use num_dual::Dual64;

/// The ids of this module's relations.
pub const IDS: &[&str] = &[
    "sg-exact=bptt",
    "bplambda-forward=backward",
    "bplambda1=bptt-target",
    "bplambda0=dni1",
    "dni-full=bptt",
    "bplambda<1!=bptt-target",
    "dni-fixed-point=chunk-return",
];

/// Tolerance of this module's equalities in `f64` (the bar; measured ≤ 3e-15).
pub const TOL_SG: f64 = 1e-12;
/// `(λ, γ)` pairs of `bplambda-forward=backward`.
pub const LAMBDA_GAMMA: [(f64, f64); 5] = [(0.0, 1.0), (0.5, 0.9), (1.0, 1.0), (1.0, 0.7), (0.3, 0.5)];
/// Threshold of `bplambda<1!=bptt-target` and of the truncation guard: rounding is ~1e-15.
pub const TOL_SG_DIFFER: f64 = 1e-6;
/// Hidden units of the MLP synthesiser in the relations.
pub const MLP_HIDDEN: usize = 6;
/// `s = γ` of `bplambda0=dni1` (any value; not 1, so that the two are not confused).
pub const S_DNI1: f64 = 0.5;

/// Chunk length of `dni-fixed-point=chunk-return`.
pub const FIX_CHUNK: usize = 2;
/// `s` of `dni-fixed-point=chunk-return` (not 1: the discount must show).
pub const FIX_S: f64 = 0.7;

/// Configs `(cell, name)` where `dni-fixed-point=chunk-return` does not run: ALIF configs with
/// a neuron that never spikes on the fixed-point sequence keep its adaptation `a_j ≡ 0`, so
/// the chunk-start states `[h^b; 1]` are rank-deficient and the least-squares fixed point is
/// not unique (`docs/synthgrad.md` §8).
pub const FIXPOINT_SKIP: &[(&str, &str)] =
    &[("alif", "n6-t20-ce-ref2"), ("alif", "n5-t16-reset-detached"), ("alif", "n6-t20-wrec0-reset-live")];

/// The spiking configs of the suite whose memoryless variants run these relations (LIF and
/// ALIF each): plain, refractory with cross-entropy, reset detached, and `W_rec = 0` with the
/// reset live. Each is live (spikes, not everywhere; the surrogate active; every cell tensor's
/// BPTT gradient non-zero in half its entries): a listed config that is not fails its rows.
/// The larger spiking configs are left out for the time budget (`docs/synthgrad.md` §8).
pub const SPIKING_CONFIGS: &[&str] =
    &["n3-t8-mse", "n6-t20-ce-ref2", "n5-t16-reset-detached", "n6-t20-wrec0-reset-live"];

/// The memoryless variant of a config (module doc): every rate and LSTM config, the spiking
/// configs of [`SPIKING_CONFIGS`], `None` otherwise.
pub fn memoryless(cfg: &Config) -> Option<Config> {
    if cfg.net.cell.is_spiking() && !SPIKING_CONFIGS.contains(&cfg.name.as_str()) {
        return None;
    }
    let mut c = cfg.clone();
    c.net.readout = Readout::leaky(0.0);
    c.net.reg = None;
    c.name = format!("{}+kappa0", cfg.name);
    Some(c)
}

/// The leaky-readout variant of a config (`<name>+kappa`: its own `κ > 0` kept, the readout
/// made same-step and the regulariser dropped): the augmented state (S15). Run on the configs
/// with `κ > 0` and `N ≤ 6` that [`memoryless`] runs (the budget), `None` otherwise.
// exact: κ = 0 exactly is the memoryless readout
#[allow(clippy::float_cmp)]
pub fn with_memory(cfg: &Config) -> Option<Config> {
    if cfg.net.readout.kappa == 0.0 || cfg.net.n > 6 {
        return None;
    }
    let mut c = memoryless(cfg)?;
    c.net.readout = cfg.net.readout;
    c.net.readout.delay = credit_core::ReadoutDelay::SameStep;
    c.name = format!("{}+kappa", cfg.name);
    Some(c)
}

/// The synthesisers of the relations: linear and MLP on `N·d` states, output layer live.
pub fn synths(net: &Network, seed: u64) -> credit_core::Result<Vec<(&'static str, Synth<f64>)>> {
    let n = credit_synthgrad::state_dim(net);
    Ok(vec![
        ("linear", Synth::random(n, None, seed ^ 0x5157, 0.5)?),
        ("mlp", Synth::random(n, Some(MLP_HIDDEN), seed ^ 0x5158, 0.5)?),
    ])
}

/// One vector per step `t = 0..=T`.
pub type Signals = Vec<DVector<f64>>;

/// The true future gradient from BPTT's adjoints (S3 read backwards): `G^t = λ^t − (F^t)ᵀ c
/// W_outᵀ ȳ^t` (B5 with B3), `t = 1..=T` (entry 0 unused), and its explicit part
/// `G_R^t = G^t − (D^{t+1})ᵀ λ^{t+1}` (what leaves `h^t` through `z^t`). With a leaky readout
/// (`κ > 0`) on the augmented state `(h^t, y^t)` (S15): the `y` part is `G_y^t = ȳ^t − g^t`,
/// with `ȳ^t = g^t + κ ȳ^{t+1}` the readout adjoint of (B3), in both.
pub fn future_from_bptt(
    net: &Network,
    p: &Params<f64>,
    seq: &Sequence,
    lambda: &[DVector<f64>],
) -> credit_core::Result<(Signals, Signals)> {
    let traj = credit_core::forward(net, p, seq, credit_core::ForwardOptions::default())?;
    let w = p.cell_tensors(net);
    let (steps, d) = (seq.len(), net.d());
    let aug = credit_synthgrad::state_dim(net) > net.n * d;
    let kappa = net.readout.kappa;
    let mut ybar = vec![DVector::zeros(net.n_out); steps + 2];
    for t in (1..=steps).rev() {
        ybar[t] = &traj.dl_dy[t] + &ybar[t + 1] * kappa; // Eq. (B3): ȳ^t = g^t + κ ȳ^{t+1}
    }
    let mut g = vec![DVector::zeros(net.n * d); steps + 1];
    let mut g_r = g.clone();
    for t in 1..=steps {
        let f = net.cell.output_jacobian(&traj.states[t]);
        let dz = p.w_out().tr_mul(&ybar[t]) * net.readout.c();
        g[t] = lambda[t].clone();
        for j in 0..net.n {
            for c in 0..d {
                g[t][j * d + c] -= dz[j] * f[(j, c)];
            }
        }
        g_r[t] = g[t].clone();
        if t < steps {
            let jac = net.cell.jacobians(&w, &traj.states[t], &traj.z[t], &traj.x[t + 1]);
            for j in 0..net.n {
                let dl = jac.d[j].tr_mul(&lambda[t + 1].rows(j * d, d));
                let mut r = g_r[t].rows_mut(j * d, d);
                r -= dl;
            }
        }
    }
    if aug {
        let stack = |a: &DVector<f64>, t: usize| {
            let gy = &ybar[t] - &traj.dl_dy[t];
            DVector::from_iterator(a.len() + gy.len(), a.iter().chain(gy.iter()).copied())
        };
        g = g.iter().enumerate().map(|(t, a)| stack(a, t)).collect();
        g_r = g_r.iter().enumerate().map(|(t, a)| stack(a, t)).collect();
    }
    Ok((g, g_r))
}

/// The true future gradient on ccDNI's mossy-fibre input `u^t = [z^t; c^t]` of the LSTM (S16),
/// from BPTT's adjoints and the core's Jacobians, never through `F^t = ∂z^t/∂h^t`:
/// `G_u^t = ((∂M^{t+1}/∂z^t)ᵀ λ^{t+1}, [(D^{t+1})ᵀ λ^{t+1}]_c)` for `t < T` (what reaches `z^t`
/// and `c^t` from the future, `G^t = (J^{t+1})ᵀ λ^{t+1}` split by edge), `G_u^T = 0`;
/// `t = 0..=T`, entry 0 unused.
pub fn future_on_fibres(
    net: &Network,
    p: &Params<f64>,
    seq: &Sequence,
    lambda: &[DVector<f64>],
) -> credit_core::Result<Signals> {
    let traj = credit_core::forward(net, p, seq, credit_core::ForwardOptions::default())?;
    let w = p.cell_tensors(net);
    let (steps, n, d) = (seq.len(), net.n, net.d());
    let mut g = vec![DVector::zeros(2 * n); steps + 1];
    for t in 1..steps {
        let jac = net.cell.jacobians(&w, &traj.states[t], &traj.z[t], &traj.x[t + 1]);
        let gz = jac.m_z.tr_mul(&lambda[t + 1]);
        for j in 0..n {
            g[t][j] = gz[j];
            g[t][n + j] = jac.d[j].tr_mul(&lambda[t + 1].rows(j * d, d))[0];
        }
    }
    Ok(g)
}

/// The states the synthesiser reads, `t = 0..=T`, from the forward pass: `h^t`, or
/// `(h^t, y^t)` for a leaky readout (S15).
pub fn synth_states(net: &Network, traj: &credit_core::Trajectory<f64>) -> Signals {
    let aug = credit_synthgrad::state_dim(net) > net.n * net.d();
    traj.states
        .iter()
        .zip(&traj.y)
        .map(|(s, y)| {
            if aug {
                DVector::from_iterator(s.h.len() + y.len(), s.h.iter().chain(y.iter()).copied())
            } else {
                s.h.clone()
            }
        })
        .collect()
}

/// The `s`-discounted chunk return (S14) at the chunk starts `b = T_c, 2T_c, … < T`, by BPTT
/// alone: BPTT on the same sequence with the mask reweighted `m^τ ← s^{c(τ)} m^τ`,
/// `c(τ) = ⌈τ/T_c⌉ − 1` (the chunk of `τ`), gives `G_w` (S3 read from its adjoints), and
/// `R_s^b = s^{−b/T_c} G_w^b`. Needs `s > 0`.
pub fn chunk_return(
    net: &Network,
    p: &Params<f64>,
    seq: &Sequence,
    chunk: usize,
    s: f64,
) -> credit_core::Result<Vec<(usize, DVector<f64>)>> {
    let mut w = seq.clone();
    for (i, m) in w.mask.iter_mut().enumerate() {
        *m *= s.powi((i / chunk) as i32); // Eq. (S14): τ = i + 1, c(τ) = (τ − 1) div T_c
    }
    let bptt = credit_bptt::gradient(net, p, &w)?;
    let (g, _) = future_from_bptt(net, p, &w, &bptt.lambda)?;
    Ok((1..)
        .map(|k| k * chunk)
        .take_while(|&b| b < seq.len())
        .map(|b| (b, &g[b] / s.powi((b / chunk) as i32))) // Eq. (S14): R_s^b = s^{−k} G_w^b
        .collect())
}

/// The linear synthesiser through `(h^b, R^b)` (square, `N·d + 1` affinely independent
/// states): `[A c] [h^b; 1] = R^b`, by LU; `None` if singular.
pub fn interpolant(h: &[DVector<f64>], r: &[DVector<f64>]) -> Option<Synth<f64>> {
    let (nb, nd) = (h.len(), h.first()?.len());
    let x = DMatrix::from_fn(nb, nd + 1, |b, i| if i < nd { h[b][i] } else { 1.0 });
    let y = DMatrix::from_fn(nb, nd, |b, i| r[b][i]);
    let lu = x.clone().lu();
    let mut theta = lu.solve(&y)?;
    theta += lu.solve(&(&y - &x * &theta))?; // one step of iterative refinement
    Some(Synth::Linear { a: theta.rows(0, nd).transpose(), c: theta.row(nd).transpose() })
}

/// `−∇_φ ½ Σ_{t=1}^{T−1} ‖G^t − S(h^t; φ)‖²` by one `Dual64` pass of the synthesiser's forward
/// code per parameter (never its closed-form Jacobian).
pub fn regression_target(synth: &Synth<f64>, h: &[DVector<f64>], g: &[DVector<f64>]) -> DVector<f64> {
    let steps = h.len() - 1;
    let base: Synth<Dual64> = synth.map(Dual64::from_re);
    let hd: Vec<DVector<Dual64>> = h.iter().map(|v| v.map(Dual64::from_re)).collect();
    DVector::from_fn(synth.len(), |k, _| {
        let mut s = base.clone();
        let mut unit = DVector::from_element(synth.len(), Dual64::from_re(0.0));
        unit[k] = Dual64::new(0.0, 1.0);
        if s.add_flat(&unit).is_err() {
            return f64::NAN; // cannot happen (`unit` has length P_S); NaN fails every row
        }
        let mut loss = Dual64::from_re(0.0);
        for t in 1..steps {
            let r = g[t].map(Dual64::from_re) - s.predict(&hd[t]);
            loss += r.dot(&r) * 0.5;
        }
        -loss.eps
    })
}

/// A row with this module's guard: `guard` is `Err(reason)` when the computation is vacuous.
fn push(
    cx: &mut Ctx,
    relation: &'static str,
    expect: Expect,
    tensor: String,
    err: f64,
    tol: f64,
    guard: Result<(), String>,
) {
    if !cx.select.wants(relation) {
        return;
    }
    let guard = cx.live_verdict.clone().and(guard);
    cx.rows.push(Row {
        relation,
        expect,
        cell: cx.cfg.net.cell.id().to_string(),
        config: cx.cfg.name.clone(),
        scalar: "f64",
        tensor,
        max_rel_err: err,
        tolerance: tol,
        pass: expect.holds(err, tol) && guard.is_ok(),
        liveness: cx.live,
        reason: guard.err(),
        spec: cx.spec.clone(),
    });
}

fn alive_guard(ok: bool, what: &str) -> Result<(), String> {
    if ok { Ok(()) } else { Err(format!("not live: {what}")) }
}

/// Rows of `a` against `b` per tensor, each guarded by `guard` and the reference's liveness.
fn tensors(
    cx: &mut Ctx,
    relation: &'static str,
    prefix: &str,
    a: &Params<f64>,
    b: &Params<f64>,
    guard: &Result<(), String>,
) {
    for (ta, tb) in a.tensors.iter().zip(&b.tensors) {
        let g = guard.clone().and(alive_guard(alive(&tb.value), "the reference tensor is zero"));
        push(
            cx,
            relation,
            Expect::Equal,
            format!("{prefix}{}", ta.name),
            max_rel_err(&ta.value, &tb.value),
            TOL_SG,
            g,
        );
    }
}

/// Synthesiser tensors of two flat vectors, per tensor.
fn synth_rows(
    cx: &mut Ctx,
    relation: &'static str,
    prefix: &str,
    synth: &Synth<f64>,
    a: &DVector<f64>,
    b: &DVector<f64>,
    guard: &Result<(), String>,
) {
    let (Ok(sa), Ok(sb)) = (synth.split(a), synth.split(b)) else {
        let shape = Err("a flat update of the wrong length".to_string());
        push(cx, relation, Expect::Equal, format!("{prefix}(all)"), f64::INFINITY, TOL_SG, shape);
        return;
    };
    for ((name, ta), (_, tb)) in sa.into_iter().zip(sb) {
        let g = guard.clone().and(alive_guard(alive(&tb), "the reference tensor is zero"));
        push(cx, relation, Expect::Equal, format!("{prefix}{name}"), max_rel_err(&ta, &tb), TOL_SG, g);
    }
}

fn differs(a: &Params<f64>, b: &Params<f64>, nc: usize, what: &str) -> Result<(), String> {
    let (e, name, _) = worst_tensor(&a.tensors[..nc], &b.tensors[..nc]);
    if e > TOL_SG_DIFFER { Ok(()) } else { Err(format!("not live: {what} ({name}: {e:.1e})")) }
}

/// Runs this module's relations on the memoryless variant of `cfg` (nothing for spiking configs
/// outside [`SPIKING_CONFIGS`]).
pub(crate) fn rows(outer: &mut Ctx, p: &Params<f64>, seq: &Sequence) -> credit_core::Result<()> {
    for cfg in [memoryless(outer.cfg), with_memory(outer.cfg)].into_iter().flatten() {
        variant_rows(outer, &cfg, p, seq)?;
    }
    Ok(())
}

/// The relations on one variant (memoryless, or with the readout's memory).
fn variant_rows(outer: &mut Ctx, cfg: &Config, p: &Params<f64>, seq: &Sequence) -> credit_core::Result<()> {
    let net = &cfg.net;
    let bptt = credit_bptt::gradient(net, p, seq)?;
    let traj = credit_core::forward(net, p, seq, credit_core::ForwardOptions::default())?;
    let nc = net.n_cell_tensors();
    let live = Liveness::of_run(&net.cell, &traj.states, &traj.z, &bptt.grad.tensors[..nc]);
    let live_verdict = live.verdict(&net.cell);
    let mut cx = Ctx { cfg, select: outer.select, live, live_verdict, spec: cfg.spec(), rows: Vec::new() };
    let steps = seq.len();
    let (g, g_r) = future_from_bptt(net, p, seq, &bptt.lambda)?;
    let h = synth_states(net, &traj);
    let zero = |_: usize, v: &DVector<f64>| DVector::zeros(v.len());

    // sg-exact=bptt (P-e1, P-b4)
    if cx.select.wants("sg-exact=bptt") {
        let exact = |t: usize, _: &DVector<f64>| g[t].clone();
        for chunk in [1, 3] {
            let run = dni::dni(net, p, seq, DniOptions::new(chunk, 1.0), &exact)?;
            let cut = dni::dni(net, p, seq, DniOptions::new(chunk, 1.0), &zero)?;
            let guard = differs(&cut.grad, &bptt.grad, nc, "truncation with S = 0 equals BPTT");
            tensors(&mut cx, "sg-exact=bptt", &format!("dni Tc={chunk}: "), &run.grad, &bptt.grad, &guard);
        }
        // ccDNI's mossy-fibre layout (S16): S reads and predicts on [z; c], mapped back by (S16a)
        if credit_synthgrad::check_layout(net, Layout::MossyFibre).is_ok() {
            let gu = future_on_fibres(net, p, seq, &bptt.lambda)?;
            let exact = |t: usize, _: &DVector<f64>| gu[t].clone();
            for chunk in [1, 3] {
                let opts = DniOptions { layout: Layout::MossyFibre, ..DniOptions::new(chunk, 1.0) };
                let run = dni::dni(net, p, seq, opts, &exact)?;
                let cut = dni::dni(net, p, seq, opts, &zero)?;
                let guard = differs(&cut.grad, &bptt.grad, nc, "truncation with S = 0 equals BPTT");
                let prefix = format!("dni Tc={chunk} mossy fibres: ");
                tensors(&mut cx, "sg-exact=bptt", &prefix, &run.grad, &bptt.grad, &guard);
            }
        }
        let online = cortex::gradient(net, p, seq, 1.0, Traces::Immediate, &exact)?;
        let cut = cortex::gradient(net, p, seq, 1.0, Traces::Immediate, &zero)?;
        let guard = differs(&cut, &bptt.grad, nc, "the immediate update with S = 0 equals BPTT");
        tensors(&mut cx, "sg-exact=bptt", "online immediate: ", &online, &bptt.grad, &guard);
        // with R ≡ 0 (W_rec = 0 and no differentiated reset) nothing leaves h^t through z^t:
        // G_R = 0 and e-prop is BPTT without any synthetic gradient (`eprop=bptt@R0`), a vacuous
        // row here: not run. A live reset (spiking, W_rec = 0) is an explicit self-path: run.
        let reset_detached = match &net.cell {
            Cell::Lif(c) => c.spiking.reset == Reset::Detached,
            Cell::Alif(c) => c.spiking.reset == Reset::Detached,
            _ => true, // no reset at all
        };
        if !(cx.cfg.role == Role::NoRecurrence && reset_detached) {
            let explicit = |t: usize, _: &DVector<f64>| g_r[t].clone();
            let traced = cortex::gradient(net, p, seq, 1.0, Traces::Eprop, &explicit)?;
            let cut = cortex::gradient(net, p, seq, 1.0, Traces::Eprop, &zero)?;
            let guard = differs(&cut, &bptt.grad, nc, "e-prop traces with S = 0 equal BPTT");
            tensors(&mut cx, "sg-exact=bptt", "online e-prop traces: ", &traced, &bptt.grad, &guard);
        }
    }

    let synths = synths(net, cfg.seed)?;
    // dni-full=bptt (P-e2)
    if cx.select.wants("dni-full=bptt") {
        let (_, s) = &synths[1];
        let predict = |_: usize, v: &DVector<f64>| s.predict(v);
        for chunk in [steps, steps + 2] {
            let run = dni::dni(net, p, seq, DniOptions::new(chunk, 0.7), &predict)?;
            tensors(&mut cx, "dni-full=bptt", &format!("Tc={chunk}: "), &run.grad, &bptt.grad, &Ok(()));
        }
        // the last chunk (b, T] is exact BPTT: its target is G^b. The chunk length is the first of
        // 3, 4, 5, 2 whose G^b is significant against λ^b (a spiking net can have G^b = 0 where the
        // surrogate is silent, and G from BPTT is λ − ℓ': a tiny G^b is a cancellation)
        let significant = |b: usize| {
            let gi = g[b].amax();
            gi > 0.0 && gi >= 1e-3 * bptt.lambda[b].amax()
        };
        let chunk =
            [3, 4, 5, 2].into_iter().find(|&c| steps > c && significant(((steps - 1) / c) * c)).unwrap_or(3);
        let run = dni::dni(net, p, seq, DniOptions::new(chunk, 0.7), &predict)?;
        if let (Some(&b), Some(target)) = (run.boundaries.last(), run.targets.last()) {
            let (a, r) = (
                DMatrix::from_column_slice(target.len(), 1, target.as_slice()),
                DMatrix::from_column_slice(g[b].len(), 1, g[b].as_slice()),
            );
            let guard =
                alive_guard(run.boundaries.len() > 1, "a single chunk: no bootstrapped target to tell apart")
                    .and(alive_guard(alive(&r), "G^b = 0"));
            push(
                &mut cx,
                "dni-full=bptt",
                Expect::Equal,
                format!("Tc={chunk}: last target (b={b}) = G^b"),
                max_rel_err(&a, &r),
                TOL_SG,
                guard,
            );
        }
    }

    // dni-fixed-point=chunk-return (P-e4)
    let skip = FIXPOINT_SKIP.contains(&(outer.cfg.net.cell.id(), outer.cfg.name.as_str()));
    if cx.select.wants("dni-fixed-point=chunk-return") && !skip {
        fixed_point(&mut cx, p)?;
    }

    for (kind, synth) in &synths {
        let preds_live = (1..steps).any(|t| synth.predict(&h[t]).iter().any(|&x| x != 0.0));
        // bplambda-forward=backward (P-b1)
        if cx.select.wants("bplambda-forward=backward") {
            let mut worst: Vec<(f64, String, bool)> = vec![(0.0, String::new(), true); synth.tensors().len()];
            let mut guard = alive_guard(preds_live, "S(h^t) = 0 at every t");
            for (lambda, gamma) in LAMBDA_GAMMA {
                let opts = BpLambdaOptions { lambda, gamma };
                let back = bplambda::offline(net, p, seq, synth, opts)?;
                let fwd = bplambda::forward_view(net, p, seq, synth, opts)?;
                if !back.td_errors.iter().any(|d| d.iter().any(|&x| x != 0.0)) {
                    guard = Err("not live: every TD error is zero".into());
                }
                for (i, ((_, a), (_, b))) in
                    synth.split(&back.update)?.into_iter().zip(synth.split(&fwd)?).enumerate()
                {
                    let e = max_rel_err(&a, &b);
                    if e >= worst[i].0 {
                        (worst[i].0, worst[i].1) = (e, format!("λ={lambda} γ={gamma}"));
                    }
                    worst[i].2 &= alive(&b);
                }
            }
            for ((name, _), (e, at, ref_alive)) in synth.tensors().into_iter().zip(worst) {
                let g = guard.clone().and(alive_guard(ref_alive, "the reference tensor is zero"));
                push(
                    &mut cx,
                    "bplambda-forward=backward",
                    Expect::Equal,
                    format!("{kind} {name} (worst {at})"),
                    e,
                    TOL_SG,
                    g,
                );
            }
        }
        let need_target = cx.select.any(&["bplambda1=bptt-target", "bplambda<1!=bptt-target"]);
        let target = if need_target { Some(regression_target(synth, &h, &g)) } else { None };
        // bplambda1=bptt-target (P-b2)
        if let Some(target) = target.as_ref().filter(|_| cx.select.wants("bplambda1=bptt-target")) {
            let one = bplambda::offline(net, p, seq, synth, BpLambdaOptions { lambda: 1.0, gamma: 1.0 })?;
            let guard = alive_guard(preds_live, "S(h^t) = 0 at every t");
            synth_rows(
                &mut cx,
                "bplambda1=bptt-target",
                &format!("{kind} "),
                synth,
                &one.update,
                target,
                &guard,
            );
        }
        // bplambda<1!=bptt-target: λ < 1 is biased
        if let Some(target) = target.as_ref().filter(|_| cx.select.wants("bplambda<1!=bptt-target")) {
            for lambda in [0.0, 0.5] {
                let run = bplambda::offline(net, p, seq, synth, BpLambdaOptions { lambda, gamma: 1.0 })?;
                let (e, name) = synth
                    .split(&run.update)?
                    .into_iter()
                    .zip(synth.split(target)?)
                    .map(|((name, a), (_, b))| (max_rel_err(&a, &b), name))
                    .fold((0.0, ""), |acc, x| if x.0 >= acc.0 { x } else { acc });
                let guard = alive_guard(preds_live, "S(h^t) = 0 at every t").and(alive_guard(
                    alive(&DMatrix::from_column_slice(target.len(), 1, target.as_slice())),
                    "zero target",
                ));
                push(
                    &mut cx,
                    "bplambda<1!=bptt-target",
                    Expect::Differ,
                    format!("{kind} λ={lambda}: max over tensors ({name})"),
                    e,
                    TOL_SG_DIFFER,
                    guard,
                );
            }
        }
        // bplambda0=dni1 (P-b3, P-e3)
        if cx.select.wants("bplambda0=dni1") {
            let zero_l =
                bplambda::offline(net, p, seq, synth, BpLambdaOptions { lambda: 0.0, gamma: S_DNI1 })?;
            let predict = |_: usize, v: &DVector<f64>| synth.predict(v);
            let run = dni::dni(net, p, seq, DniOptions::new(1, S_DNI1), &predict)?;
            let dni_step = -dni::synth_gradient(synth, &run);
            let guard = alive_guard(preds_live, "S(h^t) = 0 at every t");
            synth_rows(
                &mut cx,
                "bplambda0=dni1",
                &format!("{kind} γ=s={S_DNI1}: "),
                synth,
                &zero_l.update,
                &dni_step,
                &guard,
            );
        }
    }
    outer.rows.append(&mut cx.rows);
    Ok(())
}

/// `dni-fixed-point=chunk-return` (P-e4) on a sequence of its own, `T = (N·d + 2) T_c`: the
/// `N·d + 1` chunk starts make the least-squares fit square. The fitted linear `S*`
/// (`dni::fit_linear`, `N·d + 1` iterations) against the interpolant of the chunk return
/// `R_s` (S14, from BPTT), per tensor, and `S*(h^b)` against `R_s^b`. Guards: the sequence's
/// own liveness; `R_s` differs from the chunk return without bootstrap (the targets of DNI
/// with `S = 0`: the injection does something) and from the closed form with `s/2` (a wrong
/// `s` gives a different `S`).
fn fixed_point(cx: &mut Ctx, p: &Params<f64>) -> credit_core::Result<()> {
    const ID: &str = "dni-fixed-point=chunk-return";
    let net = &cx.cfg.net;
    let nd = credit_synthgrad::state_dim(net);
    let seq = Sequence::random(net, (nd + 2) * FIX_CHUNK, cx.cfg.seed ^ 0xF1C5)?;
    let opts = DniOptions::new(FIX_CHUNK, FIX_S);
    let (fit, _) = dni::fit_linear(net, p, &seq, opts, nd + 1)?;
    let ret = chunk_return(net, p, &seq, FIX_CHUNK, FIX_S)?;
    let traj = credit_core::forward(net, p, &seq, credit_core::ForwardOptions::default())?;
    let states = synth_states(net, &traj);
    let h: Vec<DVector<f64>> = ret.iter().map(|(b, _)| states[*b].clone()).collect();
    let r: Vec<DVector<f64>> = ret.iter().map(|(_, v)| v.clone()).collect();
    let bptt = credit_bptt::gradient(net, p, &seq)?;
    let nc = net.n_cell_tensors();
    let live = Liveness::of_run(&net.cell, &traj.states, &traj.z, &bptt.grad.tensors[..nc]);
    let stack = |v: &[DVector<f64>]| DMatrix::from_fn(v.len(), nd, |b, i| v[b][i]);
    let zero = |_: usize, v: &DVector<f64>| DVector::zeros(v.len());
    let plain = dni::dni(net, p, &seq, opts, &zero)?.targets;
    let half: Vec<DVector<f64>> =
        chunk_return(net, p, &seq, FIX_CHUNK, FIX_S / 2.0)?.into_iter().map(|(_, v)| v).collect();
    let mut guard = live.verdict(&net.cell).map_err(|e| format!("{e} (the fixed-point sequence)"));
    guard = guard.and(alive_guard(alive(&stack(&r)), "R_s = 0"));
    let e_plain = max_rel_err(&stack(&plain), &stack(&r));
    guard = guard.and(alive_guard(e_plain > TOL_SG_DIFFER, "the bootstrap changes no target"));
    let Some(closed) = interpolant(&h, &r) else {
        let g = Err("not live: the chunk-start states are not affinely independent".to_string());
        push(cx, ID, Expect::Equal, "S*(h^b) = R_s^b".into(), f64::INFINITY, TOL_SG, g);
        return Ok(());
    };
    if let Some(wrong) = interpolant(&h, &half) {
        let col = |v: DVector<f64>| DMatrix::from_column_slice(v.len(), 1, v.as_slice());
        let e = max_rel_err(&col(wrong.flat()), &col(fit.flat()));
        guard = guard.and(alive_guard(e > TOL_SG_DIFFER, "s/2 gives the same S"));
    }
    let preds: Vec<DVector<f64>> = h.iter().map(|v| fit.predict(v)).collect();
    let e = max_rel_err(&stack(&preds), &stack(&r));
    push(cx, ID, Expect::Equal, format!("S*(h^b) = R_s^b ({} starts)", h.len()), e, TOL_SG, guard.clone());
    synth_rows(cx, ID, "S* vs closed form: ", &fit, &fit.flat(), &closed.flat(), &guard);
    Ok(())
}
