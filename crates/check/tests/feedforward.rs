//! Feedforward networks, backprop and Q-AGREL (issue 13): proptest sweeps over small random
//! networks (`ff-bp=oracle`, `qagrel=oracle` for every action, `qagrel-expected=weighted-bp`),
//! the same rules on `f32`, `f64` and `Dual64` (`scalar_tests!`: in `Dual64` the parameters
//! carry a direction, so the dual part of an update is its derivative along it, and Q-AGREL and
//! backprop must agree on it too; assertions on extracted parts, num-dual compares real parts
//! only), the liveness guards (a dead ReLU layer, a zero reward-prediction error) and the
//! built-in suite (with the BurstCCN relations on its all-sigmoid configs).

use credit_check::feedforward::{FfConfig, builtin_ff, ff_liveness, run_ff_selected};
use credit_check::relations::Select;
use credit_check::{alive, max_rel_err};
use credit_core::feedforward::{Activation, FeedForward, FfLoss, forward};
use credit_core::{Params, Scalar};
use credit_qagrel::{Policy, expected_update, reward, update};
use nalgebra::{DMatrix, DVector};
use num_dual::Dual64;
use proptest::prelude::*;

const ACTS: [Activation; 3] = [Activation::Linear, Activation::Relu, Activation::Sigmoid];

fn net(sizes: Vec<usize>, hidden: usize, output: usize, bias: bool) -> FeedForward {
    let hidden = [Activation::Relu, Activation::Sigmoid][hidden % 2];
    FeedForward::new(sizes, hidden, ACTS[output % 3], bias).unwrap()
}

fn sample(net: &FeedForward, seed: u64) -> (Params<f64>, DVector<f64>) {
    let cfg = FfConfig { name: "pt".into(), net: net.clone(), seed, gain: 1.5, b_std: 0.2 };
    let d = cfg.data().unwrap();
    (d.params, d.x)
}

fn assert_tensors(what: &str, a: &Params<f64>, b: &Params<f64>, tol: f64) {
    for (ta, tb) in a.tensors.iter().zip(&b.tensors) {
        let e = max_rel_err(&ta.value, &tb.value);
        assert!(e <= tol, "{what}: {}: {e:.2e} > {tol:.0e}", ta.name);
    }
}

fn neg(p: &Params<f64>) -> Params<f64> {
    p.map(|v| -v)
}

fn sizes_strategy() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..=6, 3..=5)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    /// (BP1)–(BP3) = (O9), MSE and weighted losses.
    #[test]
    fn backprop_is_the_exact_gradient(
        sizes in sizes_strategy(), hidden in 0usize..2, output in 0usize..3, bias in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let net = net(sizes, hidden, output, bias);
        let (p, x) = sample(&net, seed);
        let k = net.n_out();
        let target = DVector::from_fn(k, |i, _| (i as f64 * 0.7).sin());
        for loss in [
            FfLoss::Mse { target: target.clone() },
            FfLoss::Weighted { weights: DVector::from_fn(k, |i, _| 0.1 + i as f64), targets: target },
        ] {
            let bp = credit_backprop::gradient(&net, &p, &x, &loss).unwrap();
            let or = credit_oracle::ff_gradient(&net, &p, &x, &loss).unwrap();
            assert_tensors("bp vs oracle", &bp.grad, &or.grad, 1e-12);
            prop_assert!((bp.loss - or.loss).abs() <= 1e-15 * or.loss.abs().max(1.0));
        }
    }

    /// P-a1: for every action, −ΔW = ∇ ½(r − Q_a)² (Q-AGREL vs the oracle, not backprop).
    #[test]
    fn qagrel_is_the_gradient_of_the_chosen_unit(
        sizes in sizes_strategy(), hidden in 0usize..2, output in 0usize..3, bias in any::<bool>(),
        seed in any::<u64>(), r in -1.0f64..2.0,
    ) {
        let net = net(sizes, hidden, output, bias);
        let (p, x) = sample(&net, seed);
        for a in 0..net.n_out() {
            let u = update(&net, &p, None, &x, a, r).unwrap();
            let or = credit_oracle::ff_gradient(&net, &p, &x, &FfLoss::Selected { action: a, reward: r }).unwrap();
            assert_tensors(&format!("a={a}"), &neg(&u.dw), &or.grad, 1e-12);
        }
    }

    /// P-a2 for a random fixed policy, and the uniform policy = MSE gradient / K.
    #[test]
    fn expected_update_is_the_weighted_gradient(
        sizes in sizes_strategy(), hidden in 0usize..2, output in 0usize..3, bias in any::<bool>(),
        seed in any::<u64>(), eps in 0.0f64..=1.0, temperature in 0.1f64..3.0, label_pick in any::<usize>(),
    ) {
        let net = net(sizes, hidden, output, bias);
        let (p, x) = sample(&net, seed);
        let k = net.n_out();
        let label = label_pick % k;
        let onehot = DVector::from_fn(k, |i, _| reward(i, label));
        let q = forward(&net, &p, &x).unwrap().output().clone();
        for pol in [Policy::EpsilonGreedy { epsilon: eps }, Policy::MaxBoltzmann { epsilon: eps, temperature }] {
            let ex = expected_update(&net, &p, None, &x, label, &pol).unwrap();
            let loss = FfLoss::Weighted { weights: pol.probabilities(&q).unwrap(), targets: onehot.clone() };
            let bp = credit_backprop::gradient(&net, &p, &x, &loss).unwrap();
            assert_tensors(&format!("{pol:?}"), &neg(&ex), &bp.grad, 1e-12);
        }
        let uniform = expected_update(&net, &p, None, &x, label, &Policy::EpsilonGreedy { epsilon: 1.0 }).unwrap();
        let full = credit_backprop::gradient(&net, &p, &x, &FfLoss::Mse { target: onehot }).unwrap();
        assert_tensors("uniform", &neg(&uniform), &full.grad.map(|v| v / k as f64), 1e-12);
    }
}

/// Real and dual part as `f64`.
trait Parts: Scalar {
    fn parts(self) -> (f64, f64);
    fn lift(x: f64, v: f64) -> Self;
}
impl Parts for f32 {
    fn parts(self) -> (f64, f64) {
        (self as f64, 0.0)
    }
    fn lift(x: f64, _: f64) -> Self {
        x as f32
    }
}
impl Parts for f64 {
    fn parts(self) -> (f64, f64) {
        (self, 0.0)
    }
    fn lift(x: f64, _: f64) -> Self {
        x
    }
}
impl Parts for Dual64 {
    fn parts(self) -> (f64, f64) {
        (self.re, self.eps)
    }
    fn lift(x: f64, v: f64) -> Self {
        Dual64::new(x, v)
    }
}

fn part<T: Parts>(g: &Params<T>, which: usize) -> Params<f64> {
    g.map(|x| if which == 0 { x.parts().0 } else { x.parts().1 })
}

macro_rules! scalar_tests {
    ($($module:ident: $t:ty, tol = $tol:expr;)*) => {$(
        mod $module {
            use super::*;

            /// Every built-in config in `T`, parameters carrying a direction in their dual part.
            fn each(mut f: impl FnMut(&FeedForward, &Params<$t>, &DVector<$t>, &Params<f64>)) {
                for cfg in builtin_ff() {
                    let d = cfg.data().unwrap();
                    let dir = cfg.net.random_params::<f64>(cfg.seed + 1, 1.0, 0.1).unwrap();
                    let q = Params {
                        tensors: d.params.tensors.iter().zip(&dir.tensors).map(|(t, v)| credit_core::Tensor {
                            name: t.name,
                            value: DMatrix::from_fn(t.value.nrows(), t.value.ncols(), |i, j| {
                                <$t as Parts>::lift(t.value[(i, j)], v.value[(i, j)])
                            }),
                        }).collect(),
                    };
                    let x = d.x.map(|v| <$t as Parts>::lift(v, 0.0));
                    f(&cfg.net, &q, &x, &d.params);
                }
            }

            /// Q-AGREL = −backprop of the chosen unit's loss, real and dual parts, every action;
            /// the real part matches the oracle in f64.
            #[test]
            fn qagrel_equals_backprop_for_every_action() {
                each(|net, q, x, p64| {
                    let x64 = x.map(|v| v.parts().0);
                    for a in 0..net.n_out() {
                        let loss = FfLoss::Selected { action: a, reward: 1.0 };
                        let u = update(net, q, None, x, a, 1.0).unwrap();
                        let bp = credit_backprop::gradient(net, q, x, &loss).unwrap();
                        for which in 0..2 {
                            assert_tensors("parts", &neg(&part(&u.dw, which)), &part(&bp.grad, which), $tol);
                        }
                        let or = credit_oracle::ff_gradient(net, p64, &x64, &loss).unwrap();
                        assert_tensors("vs f64 oracle", &neg(&part(&u.dw, 0)), &or.grad, f64::max($tol, 1e-12) * 10.0);
                    }
                });
            }
        }
    )*};
}

scalar_tests! {
    f32_: f32, tol = 1e-5;
    f64_: f64, tol = 1e-12;
    dual64: Dual64, tol = 1e-12;
}

/// The oracle on `f32` agrees with the `f64` one at f32 precision.
#[test]
fn oracle_in_f32_is_the_f64_oracle_rounded() {
    for cfg in builtin_ff() {
        let d = cfg.data().unwrap();
        let loss = FfLoss::Mse { target: d.target.clone() };
        let g64 = credit_oracle::ff_gradient(&cfg.net, &d.params, &d.x, &loss).unwrap();
        let g32 =
            credit_oracle::ff_gradient(&cfg.net, &d.params.cast::<f32>(), &d.x.map(|v| v as f32), &loss)
                .unwrap();
        assert_tensors(&cfg.name, &g32.grad.cast(), &g64.grad, 1e-5);
    }
}

#[test]
fn the_builtin_suite_passes_and_is_live() {
    for cfg in builtin_ff() {
        let rows = run_ff_selected(&cfg, Select::ALL).unwrap();
        assert!(!rows.is_empty());
        for r in &rows {
            assert!(r.pass, "{} {} {}: {:.2e} {:?}", r.relation, r.config, r.tensor, r.max_rel_err, r.reason);
        }
        let ids: std::collections::BTreeSet<_> = rows.iter().map(|r| r.relation).collect();
        assert_eq!(ids.len(), credit_check::feedforward::IDS.len(), "{}", cfg.name);
        // the BurstCCN relations on the all-sigmoid configs
        let burst = credit_check::burstccn::run_burstccn_selected(&cfg, Select::ALL).unwrap();
        assert_eq!(burst.is_empty(), !credit_check::burstccn::applies(&cfg), "{}", cfg.name);
        for r in &burst {
            assert!(r.pass, "{} {} {}: {:.2e} {:?}", r.relation, r.config, r.tensor, r.max_rel_err, r.reason);
        }
    }
}

/// A dead ReLU layer fails the liveness guard, naming the layer; every row of such a config
/// fails although its errors are zero.
#[test]
fn a_dead_relu_layer_is_not_live() {
    let mut cfg = builtin_ff().into_iter().find(|c| c.name == "brainprop-3h").unwrap();
    let d = cfg.data().unwrap();
    let mut p = d.params.clone();
    p.tensors[cfg.net.w_index(2)].value = p.tensors[cfg.net.w_index(2)].value.map(|v| -v.abs());
    let g =
        credit_oracle::ff_gradient(&cfg.net, &p, &d.x, &FfLoss::Mse { target: d.target.clone() }).unwrap();
    let (_, verdict) = ff_liveness(&cfg.net, &p, &d.x, &g.grad).unwrap();
    let e = verdict.unwrap_err();
    assert!(e.contains("hidden layer 2"), "{e}");
    // the same through the relations: zero weights silence every layer
    cfg.gain = 0.0;
    let rows = run_ff_selected(&cfg, Select::ALL).unwrap();
    assert!(rows.iter().all(|r| !r.pass), "a silent net must fail every row");
}

/// A zero reward-prediction error (r = Q_a) gives a zero update and a zero reference: the
/// comparison is vacuous and `alive` says so.
#[test]
fn a_zero_rpe_is_a_dead_reference() {
    let cfg = &builtin_ff()[0];
    let d = cfg.data().unwrap();
    let q = forward(&cfg.net, &d.params, &d.x).unwrap().output().clone();
    let u = update(&cfg.net, &d.params, None, &d.x, 0, q[0]).unwrap();
    assert!(u.rpe.abs() <= 0.0, "r = Q_a gives δ = 0 exactly");
    let or =
        credit_oracle::ff_gradient(&cfg.net, &d.params, &d.x, &FfLoss::Selected { action: 0, reward: q[0] })
            .unwrap();
    assert!(or.grad.tensors.iter().all(|t| !alive(&t.value)));
    assert!(u.dw.tensors.iter().all(|t| !alive(&t.value)));
}

/// P-a4: a greedy policy only ever trains the argmax unit: the other rows of the output layer
/// never move.
#[test]
fn a_greedy_policy_trains_only_the_argmax_unit() {
    let cfg = &builtin_ff()[0];
    let d = cfg.data().unwrap();
    let mut l = credit_qagrel::Learner::new(cfg.net.clone(), d.params.clone(), None, Policy::Greedy, 0.05, 1)
        .unwrap();
    let best = l.predict(&d.x).unwrap();
    l.train_batch(std::slice::from_ref(&d.x), &[0]).unwrap();
    let wl = cfg.net.w_index(cfg.net.n_layers());
    let (w0, w1) = (&d.params.tensors[wl].value, &l.params.tensors[wl].value);
    for k in 0..cfg.net.n_out() {
        let moved = (w1.row(k) - w0.row(k)).amax();
        assert_eq!(moved > 0.0, k == best, "unit {k} (argmax {best})");
    }
}
