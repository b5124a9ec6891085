//! BurstCCN (issue 13, `docs/burstccn.md`): the relations `burstccn-q-fixed-point` (P-c5) and
//! `burstccn-ct-steady=discrete` (§6) beyond the built-in configs.
//!
//! - a proptest sweep runs the relations' own code ([`run_burstccn_selected`]) on small random
//!   all-sigmoid networks, both burst forms;
//! - `scalar_tests!` restates the two identities independently of that code and checks them in
//!   `f32`, `f64` and `Dual64` on random networks: one batch-mean (C7) step maps
//!   `D = Q^l − p_b Y^l` to `(I − η C) D` (P-c5, matrix form, no eigenvectors), `N` steps to
//!   `(I − η C)^N D`; the continuous-time increment after the settling steps is `dt/τ_W × ΔW`
//!   of (C6). In `Dual64` the parameters, `Y` and the initial `Q` carry a direction, so the dual
//!   parts are derivatives along it and must obey the same identities (asserted on the
//!   extracted `.eps` parts: num-dual compares real parts only), and must not vanish.

mod common;

use credit_burstccn::continuous::{State, Timing, step};
use credit_burstccn::{Burst, BurstForm, Feedback, feedback_update, signals};
use credit_check::burstccn::{CT_STEPS, run_burstccn_selected};
use credit_check::feedforward::{FfConfig, random_feedback};
use credit_check::max_rel_err;
use credit_check::relations::{Expect, Select};
use credit_core::feedforward::{Activation, FeedForward, forward};
use credit_core::{Params, Scalar};
use nalgebra::{DMatrix, DVector};
use num_dual::Dual64;
use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// The two relations under test.
const IDS: [&str; 2] = ["burstccn-q-fixed-point", "burstccn-ct-steady=discrete"];

fn config(sizes: Vec<usize>, bias: bool, seed: u64) -> FfConfig {
    let net = FeedForward::new(sizes, Activation::Sigmoid, Activation::Sigmoid, bias).unwrap();
    FfConfig { name: "pt".into(), net, seed, gain: 2.0, b_std: 0.2 }
}

/// Layer sizes: 2–4 layers of 1–5 units (at least 2 units above the first hidden layer's
/// feedback so that `span{e_i}` need not be everything).
fn sizes_strategy() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..=5, 3..=5)
}

proptest! {
    #![proptest_config(common::pt_config(48, 0xB0_57CC))]

    /// The relations' code on random networks: every row within its tolerance, both relations
    /// present, every continuous-time row live (its reference non-zero), and at least half of
    /// P-c5's "on S" rows live (`Q` moves, every component of `D_0` on `S` visible, the run
    /// converging along `C`'s leading direction).
    #[test]
    fn relations_hold_on_random_nets(sizes in sizes_strategy(), bias in any::<bool>(), seed in any::<u64>()) {
        let cfg = config(sizes, bias, seed);
        let ids: Vec<String> = IDS.iter().map(|s| s.to_string()).collect();
        let rows = run_burstccn_selected(&cfg, Select(Some(&ids))).unwrap();
        let cond = conditioning(&cfg);
        for id in IDS {
            prop_assert!(rows.iter().any(|r| r.relation == id), "{id}: no rows");
        }
        for r in &rows {
            prop_assert_eq!(r.expect, Expect::Equal);
            let k = if r.relation == IDS[1] { cond[layer_of(&r.tensor)] } else { 1.0 };
            prop_assert!(
                r.max_rel_err <= r.tolerance * k,
                "{} {}: {:.2e} > {:.0e} x {k:.1}", r.relation, r.tensor, r.max_rel_err, r.tolerance
            );
            if r.relation == IDS[1] {
                prop_assert!(r.reason.is_none(), "{} {}: {:?}", r.relation, r.tensor, r.reason);
            }
        }
        // most "on S" rows are live (a random Q has every component above MIN_Q_SHARE; the
        // "off S" rows are dead where S is everything, e.g. one unit above)
        let on_s: Vec<_> = rows.iter().filter(|r| r.tensor.contains("on S")).collect();
        let live = on_s.iter().filter(|r| r.reason.is_none()).count();
        prop_assert!(2 * live >= on_s.len(), "{live}/{} 'on S' rows live", on_s.len());
    }
}

/// The layer `l` of a row naming tensor `l{l}.w` or `l{l}.b` (the last `:`-separated field).
fn layer_of(tensor: &str) -> usize {
    let name = tensor.rsplit(": ").next().unwrap();
    name[1..name.find('.').unwrap()].parse().unwrap()
}

/// Per layer `l`, the conditioning of the burst deviation `b^l − p_b e^l` (C6), a difference
/// of two terms of size `p_b e^l`: `max(1, p_b max e^l / max|b^l − p_b e^l|)` over tied and
/// random `Y` at the config's target (NeurIPS form, as `burstccn-ct-steady=discrete`). Both
/// the discrete and the continuous-time code form this difference, so their rounding errors
/// relative to the update are `ε ×` this factor; a deep net with a unit layer can make the
/// deviation small (measured 1.3e-12 per tensor on `[4, 2, 1, 3, 1]`).
fn conditioning(cfg: &FfConfig) -> Vec<f64> {
    let net = &cfg.net;
    let d = cfg.data().unwrap();
    let y: Vec<DMatrix<f64>> =
        random_feedback(net, cfg.seed ^ 0x7, 1.0).into_iter().skip(1).map(|m| m.transpose()).collect();
    let mut k = vec![1.0_f64; net.n_layers() + 1];
    for fb in [Feedback::tied(net, &d.params, 0.5, 1.0), Feedback::random(y, 0.5)] {
        let s = signals(net, &d.params, &fb, &Burst::NEURIPS, &d.x, Some(&d.target)).unwrap();
        for l in 1..=net.n_layers() {
            k[l] = k[l].max(0.5 * s.e[l].amax() / s.deviation[l].amax());
        }
    }
    k
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    <StandardNormal as Distribution<f64>>::sample(&StandardNormal, rng)
}

/// `max|a − b| / max|scale|` (infinite on a non-finite entry or a zero scale).
fn rel(a: &DMatrix<f64>, b: &DMatrix<f64>, scale: &DMatrix<f64>) -> f64 {
    let d = (a - b)
        .iter()
        .map(|x| x.abs())
        .fold(0.0, |m: f64, x| if x.is_nan() { f64::INFINITY } else { m.max(x) });
    let s = scale.amax();
    if s > 0.0 && d.is_finite() { d / s } else { f64::INFINITY }
}

/// `(real, dual)` parts of a matrix.
fn split<T: Scalar>(m: &DMatrix<T>, dual: fn(T) -> f64) -> (DMatrix<f64>, DMatrix<f64>) {
    (m.map(|x| x.value()), m.map(dual))
}

/// A matrix lifted into `T`, `dir` in the dual part.
fn lift_m<T: Scalar>(m: &DMatrix<f64>, dir: &DMatrix<f64>, mk: fn(f64, f64) -> T) -> DMatrix<T> {
    m.zip_map(dir, mk)
}

/// P-c5 restated in matrix form in `T`: for each hidden layer `l`, `Q^l` random (the layers
/// above at `Q = p_b Y`), `steps` batch-mean (C7) steps on `inputs`, with `Y` learning or not.
/// Returns, per (layer, variant), the worst per-step error `max|D' − (I − ηC) D|` and the
/// `N`-step error `max|D_N − (I − ηC)^N D_0|`, real and dual parts, each relative to the part's
/// `max|D_0|`, and whether the dual part of `D_0` is non-zero.
#[allow(clippy::type_complexity)]
fn q_identities<T: Scalar>(
    net: &FeedForward,
    p: &Params<T>,
    inputs: &[DVector<T>],
    y: &[DMatrix<T>],
    q_init: &[DMatrix<T>],
    burst: &Burst,
    steps: usize,
    dual: fn(T) -> f64,
) -> Vec<(String, [f64; 4], bool)> {
    let pb = burst.p_baseline;
    let k_inv = T::c(1.0 / inputs.len() as f64);
    let mut out = Vec::new();
    for l in 1..net.n_layers() {
        let es: Vec<DVector<T>> =
            inputs.iter().map(|x| forward(net, p, x).unwrap().y[l + 1].clone()).collect();
        let n = es[0].len();
        let c = es.iter().fold(DMatrix::<T>::zeros(n, n), |acc, e| acc + e * e.transpose() * k_inv);
        // η λ_max ≤ η tr C = 0.9 (a real step, as the relation's ω / λ_max)
        let eta = 0.9 / c.trace().value();
        for learn_y in [false, true] {
            let eta_q = if learn_y { eta / (1.0 + pb) } else { eta };
            let eta_y = if learn_y { eta_q } else { 0.0 };
            let mut fb = Feedback::random(y.to_vec(), pb);
            fb.q[l - 1] = q_init[l - 1].clone();
            let d_of = |fb: &Feedback<T>| &fb.q[l - 1] - &fb.y[l - 1] * T::c(pb);
            let m = DMatrix::<T>::identity(n, n) - &c * T::c(eta);
            let d0 = d_of(&fb);
            // errors relative to max|D_0| per part: the rounding of `p_b Y` at `p_b = 0.2`
            // leaves an absolute floor that a contracted `D` would magnify
            let s0 = split(&d0, dual);
            let mut errs = [0.0_f64; 4];
            for _ in 0..steps {
                let d = d_of(&fb);
                let (mut dy, mut dq) =
                    (DMatrix::<T>::zeros(n, net.sizes[l]), DMatrix::<T>::zeros(n, net.sizes[l]));
                for x in inputs {
                    let s = signals(net, p, &fb, burst, x, None).unwrap();
                    let (yi, qi) = feedback_update(&s, l);
                    dy += yi * k_inv;
                    dq += qi * k_inv;
                }
                fb.q[l - 1] += dq * T::c(eta_q);
                fb.y[l - 1] += dy * T::c(eta_y);
                let (got, want) = (split(&d_of(&fb), dual), split(&(&m * &d), dual));
                errs[0] = errs[0].max(rel(&got.0, &want.0, &s0.0));
                errs[1] = errs[1].max(rel(&got.1, &want.1, &s0.1));
            }
            let want = (0..steps).fold(d0.clone(), |acc, _| &m * acc);
            let (got, want) = (split(&d_of(&fb), dual), split(&want, dual));
            errs[2] = rel(&got.0, &want.0, &s0.0);
            errs[3] = rel(&got.1, &want.1, &s0.1);
            // the run must move D visibly (liveness of the real part)
            let moved = rel(&got.0, &s0.0, &s0.0);
            assert!(moved > 1e-3, "layer {l}: D barely moved ({moved:.1e})");
            out.push((format!("Q^{l}, Y learned {learn_y}"), errs, s0.1.amax() > 0.0));
        }
    }
    out
}

/// `burstccn-ct-steady=discrete` restated in `T`: the increment after the settling steps vs
/// `dt/τ_W × ΔW` (C6), per tensor, (real, dual) parts, for both timings of the relation.
fn ct_errors<T: Scalar>(
    net: &FeedForward,
    p: &Params<T>,
    fb: &Feedback<T>,
    x: &DVector<T>,
    target: &DVector<f64>,
    dual: fn(T) -> f64,
) -> Vec<(String, f64, f64, bool)> {
    let want = signals(net, p, fb, &Burst::NEURIPS, x, Some(target)).unwrap().dw;
    let half = Timing { dt: 0.05, ..Timing::AUTHORS };
    let mut out = Vec::new();
    for (timing, steps) in [(Timing::AUTHORS, CT_STEPS[0]), (half, CT_STEPS[1])] {
        let mut state = State::zeros(net);
        let mut dw = net.zeros();
        for _ in 0..steps {
            dw = step(net, p, fb, &timing, &mut state, x, Some(target)).unwrap();
        }
        let k = T::c(timing.dt / timing.tau_w);
        for (g, w) in dw.tensors.iter().zip(&want.tensors) {
            let (gr, gd) = split(&g.value, dual);
            let (wr, wd) = split(&w.value.map(|v| v * k), dual);
            let live = wr.amax() > 0.0;
            out.push((
                format!("dt {}: {}", timing.dt, w.name),
                max_rel_err(&gr, &wr),
                max_rel_err(&gd, &wd),
                live && wd.amax() > 0.0,
            ));
        }
    }
    out
}

macro_rules! scalar_tests {
    ($($module:ident: $t:ty, tol = $tol:expr, dual = $dual:expr;)*) => {$(
        mod $module {
            use super::*;

            const MK: fn(f64, f64) -> $t = $dual.0;
            const EPS: fn($t) -> f64 = $dual.1;
            /// Whether the scalar has a dual part to check.
            const HAS_DUAL: bool = $dual.2;

            /// Parameters, inputs, random `Y` and `Q` (f64 values with directions) in `T`.
            #[allow(clippy::type_complexity)]
            fn instance(sizes: Vec<usize>, bias: bool, seed: u64)
                -> (FeedForward, Params<$t>, Vec<DVector<$t>>, Vec<DMatrix<$t>>, Vec<DMatrix<$t>>, DVector<f64>, Vec<f64>)
            {
                let cfg = config(sizes, bias, seed);
                let d = cfg.data().unwrap();
                let dir = cfg.net.random_params::<f64>(seed ^ 0xD1, 1.0, 0.1).unwrap();
                let p = common::lift(&d.params, &dir, MK);
                let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x0F1C);
                let x2 = DVector::from_fn(cfg.net.sizes[0], |_, _| normal(&mut rng));
                let inputs = vec![d.x.map(|v| MK(v, 0.0)), x2.map(|v| MK(v, 0.0))];
                let y64: Vec<DMatrix<f64>> =
                    random_feedback(&cfg.net, seed ^ 0x7, 1.0).into_iter().skip(1).map(|m| m.transpose()).collect();
                let mut y = Vec::new();
                let mut q = Vec::new();
                for m in &y64 {
                    let dy = DMatrix::from_fn(m.nrows(), m.ncols(), |_, _| normal(&mut rng));
                    y.push(lift_m(m, &dy, MK));
                    let q0 = DMatrix::from_fn(m.nrows(), m.ncols(), |_, _| normal(&mut rng));
                    let dq = DMatrix::from_fn(m.nrows(), m.ncols(), |_, _| normal(&mut rng));
                    q.push(lift_m(&q0, &dq, MK));
                }
                let cond = conditioning(&cfg);
                (cfg.net, p, inputs, y, q, d.target, cond)
            }

            proptest! {
                #![proptest_config(common::pt_config(24, 0xC5_0001))]

                /// P-c5 in matrix form: per step and over 20 steps, both burst forms, `Q` alone
                /// and `Q` with `Y`.
                #[test]
                fn q_contracts_by_i_minus_eta_c(sizes in sizes_strategy(), bias in any::<bool>(), seed in any::<u64>()) {
                    let (net, p, inputs, y, q, _, _) = instance(sizes, bias, seed);
                    for burst in [Burst::NEURIPS, Burst { p_baseline: 0.2, form: BurstForm::Journal }] {
                        for (what, e, dual_live) in q_identities(&net, &p, &inputs, &y, &q, &burst, 20, EPS) {
                            prop_assert!(e[0] <= $tol && e[2] <= $tol, "{burst:?} {what}: real {:.2e} {:.2e}", e[0], e[2]);
                            if HAS_DUAL {
                                prop_assert!(e[1] <= $tol && e[3] <= $tol, "{burst:?} {what}: dual {:.2e} {:.2e}", e[1], e[3]);
                                prop_assert!(dual_live, "{burst:?} {what}: zero dual part");
                            }
                        }
                    }
                }

                /// The continuous-time increment settles on `dt/τ_W × ΔW`, tied and random `Y` (the
                /// tolerance times the deviation's conditioning, [`conditioning`]).
                #[test]
                fn ct_increment_settles_on_the_discrete_update(sizes in sizes_strategy(), bias in any::<bool>(), seed in any::<u64>()) {
                    let (net, p, inputs, y, _, target, cond) = instance(sizes, bias, seed);
                    let tied = Feedback::tied(&net, &p, 0.5, 1.0);
                    let random = Feedback::random(y, 0.5);
                    for (fbn, fb) in [("tied", &tied), ("random", &random)] {
                        let mut any_dual = false;
                        for (what, er, ed, live) in ct_errors(&net, &p, fb, &inputs[0], &target, EPS) {
                            // the deviation's conditioning (the relation's proptest above)
                            let tol = $tol * cond[layer_of(&what)];
                            prop_assert!(er <= tol, "{fbn} {what}: real {er:.2e}");
                            if HAS_DUAL {
                                prop_assert!(ed <= tol, "{fbn} {what}: dual {ed:.2e}");
                            }
                            any_dual |= live;
                        }
                        prop_assert!(!HAS_DUAL || any_dual, "{fbn}: every dual part is zero");
                    }
                }
            }
        }
    )*};
}

scalar_tests! {
    f32_: f32, tol = 2e-4, dual = (|x: f64, _: f64| x as f32, |_: f32| 0.0, false);
    f64_: f64, tol = 1e-11, dual = (|x: f64, _: f64| x, |_: f64| 0.0, false);
    dual64: Dual64, tol = 1e-11, dual = (Dual64::new, |x: Dual64| x.eps, true);
}
