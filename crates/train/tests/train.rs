//! Training tests: every rule reduces the loss on a tiny task, runs are bit-identical from a
//! seed, SGD and Adam match hand-computed steps, masks and clipping are honoured, the cosine to
//! BPTT is 1 for the exact rules and not for e-prop, adaptive feedback follows `credit-eprop`'s
//! Eq. (E11), bad input is a typed error.

// exact comparisons are intended: bit-identical runs, exact clipping bounds, exact 0/1 data
#![allow(clippy::float_cmp)]

use credit_core::cell::{Cell, Rate};
use credit_core::{Error, Layer, Loss, Network, Params, Readout, Sequence, Stack};
use credit_train::tasks::{Kind, sine_sequence};
use credit_train::{
    Clip, EpropFeedback, Model, OptimState, Optimizer, Reduction, Rule, Task, TrainConfig, Trainer, evaluate,
    setup,
};
use nalgebra::DMatrix;
use proptest::prelude::*;

fn rate_net(n_in: usize, n: usize) -> Network {
    Network::new(Cell::Rate(Rate { alpha: 0.6 }), n_in, n, 1, Readout::leaky(0.7), Loss::Mse).unwrap()
}

fn tiny_sine(n_in: usize, steps: usize) -> Task {
    let seq = sine_sequence(n_in, 1, steps, 0.3, &[steps, steps / 2], 5).unwrap();
    Task { name: "sine", n_in, n_out: 1, loss: Loss::Mse, kind: Kind::Sine { seq } }
}

fn tiny(rule: Rule) -> (Model, Params<f64>) {
    match rule {
        Rule::Deep | Rule::Ostl => {
            let layer = Layer { cell: Cell::Rate(Rate { alpha: 0.6 }), n: 4 };
            let s = Stack::new(vec![layer.clone(), layer], 3, 1, Readout::leaky(0.7), Loss::Mse).unwrap();
            let p = s.random_params(3).unwrap();
            (Model::Stack(s), p)
        }
        _ => {
            let net = rate_net(3, 5);
            let p = Params::random(&net, 3).unwrap();
            (Model::Layer(net), p)
        }
    }
}

const RULES: [Rule; 8] = [
    Rule::Bptt,
    Rule::Rtrl,
    Rule::Eprop(EpropFeedback::Symmetric),
    Rule::Eprop(EpropFeedback::Random),
    Rule::Eprop(EpropFeedback::Adaptive { lambda: 0.05 }),
    Rule::Family { m: 1, reading: credit_family::Reading::HopCount },
    Rule::Deep,
    Rule::Ostl,
];

#[test]
fn every_rule_reduces_the_loss_on_a_tiny_task() {
    let task = tiny_sine(3, 16);
    for rule in RULES {
        let (model, params) = tiny(rule);
        let mut config = TrainConfig::new(rule, 0.03, 40, 11);
        config.optimizer = Optimizer::ADAM;
        let mut t = Trainer::new(model, params, config).unwrap();
        let s = t.run(&task, |_| {}).unwrap();
        assert!(s.before.task_loss > 0.1, "{}: a task with nothing to learn proves nothing", rule.name());
        assert!(
            s.after.task_loss < 0.5 * s.before.task_loss,
            "{}: loss {} -> {}",
            rule.name(),
            s.before.task_loss,
            s.after.task_loss
        );
        assert!(t.log.iter().all(|r| r.grad_norm > 0.0), "{}: a zero gradient", rule.name());
    }
}

#[test]
fn a_run_is_bit_identical_from_its_seed_and_differs_with_another() {
    let run = |seed: u64| {
        let s = setup("evidence", "lif", "default", Rule::Eprop(EpropFeedback::Random), 1, seed).unwrap();
        let mut config = s.config.clone();
        config.iterations = 4;
        config.batch = 2;
        let mut t = Trainer::new(s.model, s.params, config).unwrap();
        let summary = t.run(&s.task, |_| {}).unwrap();
        (t.log, t.params, summary.after.task_loss.to_bits())
    };
    let (a, b) = (run(9), run(9));
    assert_eq!(a, b);
    assert!(a.1.tensors.iter().all(|t| t.value.iter().all(|x| x.is_finite())));
    let c = run(10);
    assert_ne!(a.0, c.0, "another seed must give another run");
}

#[test]
fn sgd_and_adam_match_hand_computed_steps() {
    let net = rate_net(1, 1);
    let mut g: Params<f64> = Params::zeros(&net);
    let all = vec![true; g.tensors.len()];
    g.tensors[0].value[(0, 0)] = 0.5;
    // SGD (O1): Δ = η g = 0.1 · 0.5
    let mut sgd = OptimState::new(Optimizer::Sgd, &g);
    assert_eq!(sgd.delta(0.1, &g, &all)[0][(0, 0)], 0.05);
    // Adam, k = 1 (O2–O4): m̂ = g, v̂ = g², Δ = η g / (|g| + ε) = 0.1 · 0.5 / (0.5 + 1e-8)
    let mut adam = OptimState::new(Optimizer::ADAM, &g);
    let d1 = adam.delta(0.1, &g, &all)[0][(0, 0)];
    assert!((d1 - 0.05 / (0.5 + 1e-8)).abs() <= 1e-16, "{d1}");
    // k = 2 with g = −1: m₂ = 0.9·0.05 − 0.1 = −0.055, v₂ = 0.999·0.00025 + 0.001 = 0.00124975,
    // m̂ = −0.055/0.19, v̂ = 0.00124975/0.001999, Δ = 0.1 · m̂ / (√v̂ + 1e-8) = −0.03661035224056538
    g.tensors[0].value[(0, 0)] = -1.0;
    let d2 = adam.delta(0.1, &g, &all)[0][(0, 0)];
    assert!((d2 - -0.03661035224056538).abs() <= 1e-15, "{d2}");
    assert!((adam.m[0][(0, 0)] - -0.055).abs() <= 1e-16 && (adam.v[0][(0, 0)] - 0.00124975).abs() <= 1e-17);
    // entries with a zero gradient do not move, frozen tensors keep their moments
    assert_eq!(adam.delta(0.1, &g, &all)[1].amax(), 0.0);
}

#[test]
fn frozen_tensors_stay_and_clipped_tensors_stay_in_bounds() {
    let s = setup("sine", "lif", "default", Rule::Eprop(EpropFeedback::Symmetric), 1, 4).unwrap();
    let mut config = s.config.clone();
    config.iterations = 15;
    config.optimizer = Optimizer::Sgd;
    config.lr = 5e-3;
    config.frozen = vec!["b".into(), "w_out".into()];
    config.clip = vec![
        Clip { tensor: "w_rec".into(), lo: -0.05, hi: 0.05 },
        // a frozen tensor is untouched, even by its bounds
        Clip { tensor: "w_out".into(), lo: -1e-3, hi: 1e-3 },
    ];
    let before = s.params.clone();
    let mut t = Trainer::new(s.model, s.params, config).unwrap();
    t.run(&s.task, |_| {}).unwrap();
    for name in ["b", "w_out"] {
        assert_eq!(t.params.get(name), before.get(name), "{name} is frozen");
    }
    assert!(before.get("w_out").unwrap().amax() > 1e-3, "the frozen tensor's bound would act");
    let w_rec = t.params.get("w_rec").unwrap();
    assert!(w_rec.iter().all(|x| (-0.05..=0.05).contains(x)));
    let at_bound = w_rec.iter().filter(|x| x.abs() == 0.05).count();
    assert!(at_bound > 10, "clipping must have acted (only {at_bound} entries at the bound)");
    assert!((0..w_rec.nrows()).all(|j| w_rec[(j, j)] == 0.0), "no autapses");
    assert_ne!(t.params.get("w_in"), before.get("w_in"), "the trainable tensors moved");
}

#[test]
fn the_logs_separate_the_task_loss_from_the_regulariser() {
    // a LIF layer with the firing-rate regulariser: task + reg = the rule's own loss, reg > 0
    let conv = credit_core::Conventions::default();
    let net = Network::new(conv.lif((-0.05f64).exp(), 1.0), 4, 6, 1, Readout::leaky(0.8), Loss::Mse)
        .unwrap()
        .with_reg(conv.reg(0.5, 0.02, 1.0))
        .unwrap();
    let params = Params::random(&net, 2).unwrap();
    let seq = Sequence::random(&net, 30, 2).unwrap();
    let exact = credit_bptt::gradient(&net, &params, &seq).unwrap().loss;
    let mut t =
        Trainer::new(Model::Layer(net.clone()), params.clone(), TrainConfig::new(Rule::Bptt, 1e-3, 1, 1))
            .unwrap();
    let r = t.update(std::slice::from_ref(&seq)).unwrap();
    assert!(r.reg_loss > 1e-6 && r.task_loss > 1e-6, "{r:?}");
    assert!(
        (r.task_loss + r.reg_loss - exact).abs() <= 1e-12 * exact,
        "{} + {} vs {exact}",
        r.task_loss,
        r.reg_loss
    );
    let traj = credit_core::forward(&net, &params, &seq, Default::default()).unwrap();
    let task: f64 =
        (1..=seq.len()).map(|t| 0.5 * (traj.y[t][0] - seq.target[t - 1][0]).powi(2) * seq.mask[t - 1]).sum();
    assert!((r.task_loss - task).abs() <= 1e-12 * task);
    let rate = traj.spike_count() as f64 / (30.0 * 6.0);
    assert!(rate > 0.0 && r.rate == Some(rate));
}

#[test]
fn the_cosine_to_bptt_is_one_for_the_exact_rules_and_not_for_eprop() {
    let task = tiny_sine(3, 12);
    for (rule, exact) in
        [(Rule::Bptt, true), (Rule::Rtrl, true), (Rule::Eprop(EpropFeedback::Symmetric), false)]
    {
        let (model, params) = tiny(rule);
        let mut config = TrainConfig::new(rule, 0.01, 3, 2);
        config.cosine = true;
        let mut t = Trainer::new(model, params, config).unwrap();
        t.run(&task, |_| {}).unwrap();
        for r in &t.log {
            let c = r.cosine_bptt.unwrap();
            if exact {
                assert!((c - 1.0).abs() <= 1e-12, "{}: cosine {c}", rule.name());
            } else {
                assert!(c < 1.0 - 1e-6 && c > 0.0, "{}: cosine {c}", rule.name());
            }
        }
    }
}

#[test]
fn adaptive_feedback_with_sgd_is_credit_eprops_kolen_pollack_update() {
    // (U2)–(U3) with SGD are Eq. (E11) of credit-eprop: the trainer and Adaptive::update agree
    let (model, params) = tiny(Rule::Bptt);
    let Model::Layer(net) = &model else { unreachable!() };
    let lambda = 0.1;
    let rule = Rule::Eprop(EpropFeedback::Adaptive { lambda });
    let mut t = Trainer::new(model.clone(), params.clone(), TrainConfig::new(rule, 0.02, 1, 8)).unwrap();
    let b0 = t.feedback.clone().unwrap();
    let seq = tiny_sine(3, 12).sample(&mut rand::SeedableRng::seed_from_u64(0));
    let g =
        credit_eprop::gradient(net, &params, &seq, &credit_eprop::Feedback::Matrix(b0.clone())).unwrap().grad;
    t.update(std::slice::from_ref(&seq)).unwrap();
    let mut literal = credit_eprop::Adaptive { b: b0.clone(), lambda };
    let mut p = params.clone();
    literal.update(&mut p, &g, 0.02);
    for (a, e) in t.params.tensors.iter().zip(&p.tensors) {
        let scale = e.value.amax().max(f64::MIN_POSITIVE);
        assert!((&a.value - &e.value).amax() <= 1e-12 * scale, "{}", a.name);
    }
    let b = t.feedback.as_ref().unwrap();
    assert!((b - &literal.b).amax() <= 1e-12 * literal.b.amax());
    assert!((b - &b0).amax() > 1e-6, "B must have moved");
}

#[test]
fn mean_reduction_divides_the_summed_gradient_by_the_batch() {
    let (model, params) = tiny(Rule::Bptt);
    let task = setup("adding", "rate", "default", Rule::Bptt, 1, 1).unwrap().task;
    let Model::Layer(net) = &model else { unreachable!() };
    let net = Network::new(net.cell.clone(), 2, 5, 1, net.readout, Loss::Mse).unwrap();
    let params = Params::random(&net, 3).unwrap_or(params);
    let mut rng = rand::SeedableRng::seed_from_u64(4);
    let batch = task.batch(&mut rng, 3).unwrap();
    let step = |reduction: Reduction| {
        let mut config = TrainConfig::new(Rule::Bptt, 0.1, 1, 1);
        config.batch = 3;
        config.reduction = reduction;
        let mut t = Trainer::new(Model::Layer(net.clone()), params.clone(), config).unwrap();
        t.update(&batch).unwrap();
        t.params
    };
    let (sum, mean) = (step(Reduction::Sum), step(Reduction::Mean));
    for ((s, m), p) in sum.tensors.iter().zip(&mean.tensors).zip(&params.tensors) {
        let ds = &s.value - &p.value;
        let dm = &m.value - &p.value;
        assert!(ds.amax() > 0.0, "{}: nothing moved", s.name);
        assert!((ds / 3.0 - &dm).amax() <= 1e-12 * dm.amax().max(f64::MIN_POSITIVE), "{}", s.name);
    }
}

#[test]
fn bad_input_is_a_typed_error_naming_the_field() {
    let (model, params) = tiny(Rule::Bptt);
    let field = |r: Result<Trainer, Error>| match r {
        Err(Error::Invalid { field, .. } | Error::Empty { field } | Error::Shape { field, .. }) => field,
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("accepted"),
    };
    let with = |f: &dyn Fn(&mut TrainConfig)| {
        let mut c = TrainConfig::new(Rule::Bptt, 0.1, 3, 1);
        f(&mut c);
        Trainer::new(model.clone(), params.clone(), c)
    };
    assert_eq!(field(with(&|c| c.lr = 0.0)), "lr");
    assert_eq!(field(with(&|c| c.lr = f64::NAN)), "lr");
    assert_eq!(field(with(&|c| c.iterations = 0)), "iterations");
    assert_eq!(field(with(&|c| c.batch = 0)), "batch");
    assert_eq!(field(with(&|c| c.frozen = vec!["bias".into()])), "frozen");
    assert_eq!(
        field(with(&|c| c.clip = vec![Clip { tensor: "w_rec".into(), lo: 1.0, hi: -1.0 }])),
        "clip.w_rec"
    );
    assert_eq!(
        field(with(&|c| c.clip = vec![Clip { tensor: "w_x".into(), lo: -1.0, hi: 1.0 }])),
        "clip.tensor"
    );
    assert_eq!(field(with(&|c| c.rule = Rule::Deep)), "rule");
    assert_eq!(
        field(with(&|c| c.rule = Rule::Eprop(EpropFeedback::Adaptive { lambda: 1.0 }))),
        "rule.lambda"
    );
    assert_eq!(
        field(with(&|c| c.optimizer = Optimizer::Adam { beta1: 1.0, beta2: 0.9, eps: 1e-8 })),
        "optimizer.beta1"
    );
    let mut t = with(&|_| {}).unwrap();
    assert!(matches!(t.update(&[]), Err(Error::Empty { .. })));
    assert!(matches!(evaluate(&model, &params, &[]), Err(Error::Empty { .. })));
    let bad = Sequence { x: vec![], target: vec![], mask: vec![] };
    assert!(t.update(&[bad]).is_err());
    for (task, cell, preset) in
        [("sinus", "lif", "default"), ("sine", "gru", "default"), ("copy", "rate", "nest")]
    {
        let e = setup(task, cell, preset, Rule::Bptt, 1, 1).unwrap_err();
        assert!(matches!(e, Error::Invalid { .. }), "{e}");
    }
    assert!(Rule::parse("family-x").is_err() && Optimizer::parse("rmsprop").is_err());
    assert!(Reduction::parse("avg").is_err());
}

#[test]
fn tasks_are_deterministic_and_say_what_they_claim() {
    for task in credit_train::tasks::TASKS {
        let s = setup(task, "rate", "default", Rule::Bptt, 1, 3).unwrap();
        let draw = |seed| s.task.batch(&mut rand::SeedableRng::seed_from_u64(seed), 4).unwrap();
        assert_eq!(draw(1), draw(1), "{task}");
        for seq in draw(2) {
            s.model.validate_sequence(&seq).unwrap();
            assert_eq!(seq.len(), s.task.steps());
            assert!(seq.mask.iter().any(|m| *m > 0.0), "{task}: a sequence with no loss");
        }
    }
    let s = setup("adding", "rate", "default", Rule::Bptt, 1, 3).unwrap();
    for seq in s.task.batch(&mut rand::SeedableRng::seed_from_u64(5), 5).unwrap() {
        let marked: f64 = seq.x.iter().filter(|x| x[1] == 1.0).map(|x| x[0]).sum();
        assert_eq!(seq.x.iter().filter(|x| x[1] == 1.0).count(), 2);
        assert!((marked - seq.target[seq.len() - 1][0]).abs() < 1e-15);
    }
    let e = setup("evidence", "alif", "default", Rule::Bptt, 1, 3).unwrap();
    let Kind::Evidence(p) = e.task.kind else { unreachable!() };
    let (mut left, mut right) = (0, 0);
    for seq in e.task.batch(&mut rand::SeedableRng::seed_from_u64(6), 40).unwrap() {
        // in each cue window only the cue's side fires: the class is the majority of the cues
        let mut right_cues = 0;
        for c in 0..p.cues {
            let start = c * (p.cue + p.spacing) + p.spacing;
            let fired = |side: usize| -> f64 {
                seq.x[start..start + p.cue].iter().map(|x| x.rows(side * p.pop, p.pop).sum()).sum()
            };
            assert!((fired(0) == 0.0) != (fired(1) == 0.0), "exactly one side per cue");
            right_cues += usize::from(fired(1) > 0.0);
        }
        let class = usize::from(seq.target[0][1] == 1.0);
        assert_eq!(class, usize::from(right_cues > p.cues / 2));
        if class == 1 { right += 1 } else { left += 1 }
    }
    assert!(left > 5 && right > 5, "both classes occur ({left}, {right})");
    let sine = setup("sine", "lif", "nest", Rule::Bptt, 1, 1).unwrap();
    let Kind::Sine { seq } = &sine.task.kind else { unreachable!() };
    assert_eq!((seq.len(), seq.x[0].len()), (1000, 100));
    assert!(seq.x[0].iter().all(|v| *v == 0.0), "no input spikes at the first step (NEST)");
    let peak = seq.target.iter().fold(0.0f64, |m, y| m.max(y[0].abs()));
    assert!((peak - 1.0).abs() < 1e-15 && seq.target[0][0] == 0.0);
    let rate = seq.x.iter().map(|x| x.sum()).sum::<f64>() / (999.0 * 100.0);
    assert!((rate - 0.05).abs() < 0.005, "input spike probability {rate}");
    let Model::Layer(net) = &sine.model else { unreachable!() };
    assert_eq!(net.n, 100);
    assert_eq!(sine.config.frozen, vec!["b".to_string(), "b_out".to_string()]);
    assert_eq!(sine.config.lr, 1e-4);
    assert!(sine.config.clip.iter().all(|c| c.lo == -100.0 && c.hi == 100.0) && sine.config.clip.len() == 3);
    assert!(sine.params.get("b").unwrap().amax() == 0.0);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// One SGD update with a mask is `θ − η·g` on the trainable tensors (g from credit-bptt
    /// directly), exactly the old value on the frozen ones; per tensor, ≤ 1e-12 relative.
    #[test]
    fn one_sgd_update_is_theta_minus_eta_g(n_in in 1usize..4, n in 1usize..5, steps in 2usize..8,
                                           seed in 0u64..1000, freeze in 0usize..5) {
        let net = rate_net(n_in, n);
        let params = Params::random(&net, seed).unwrap();
        let seq = Sequence::random(&net, steps, seed).unwrap();
        let names: Vec<&str> = net.tensor_shapes().iter().map(|(s, _, _)| *s).collect();
        let mut config = TrainConfig::new(Rule::Bptt, 0.05, 1, seed);
        config.frozen = vec![names[freeze].to_string()];
        let mut t = Trainer::new(Model::Layer(net.clone()), params.clone(), config).unwrap();
        t.update(std::slice::from_ref(&seq)).unwrap();
        let g = credit_bptt::gradient(&net, &params, &seq).unwrap().grad;
        for (i, ((a, p), g)) in t.params.tensors.iter().zip(&params.tensors).zip(&g.tensors).enumerate() {
            let expected: DMatrix<f64> = if i == freeze { p.value.clone() } else { &p.value - &g.value * 0.05 };
            let scale = expected.amax().max(f64::MIN_POSITIVE);
            prop_assert!((&a.value - &expected).amax() <= 1e-12 * scale, "{}", a.name);
            if i == freeze {
                prop_assert_eq!(&a.value, &p.value);
            }
        }
    }
}

#[test]
fn the_default_sine_budget_reduces_the_loss_tenfold_for_bptt_and_eprop() {
    // the target, at the default preset (500 Adam updates, 30 LIF, T = 100, seed 1)
    for rule in [Rule::Bptt, Rule::Eprop(EpropFeedback::Symmetric), Rule::Eprop(EpropFeedback::Random)] {
        let s = setup("sine", "lif", "default", rule, 1, 1).unwrap();
        let mut t = Trainer::new(s.model, s.params, s.config).unwrap();
        let summary = t.run(&s.task, |_| {}).unwrap();
        assert!(summary.reduction_factor >= 10.0, "{}: {:?}", rule.name(), summary);
        assert!(summary.before.rate.unwrap() > 0.01, "the net spikes");
    }
}

/// `rule::gradient` by `Path::Fast` (the default of every run) equals `Path::Literal` per tensor
/// at 1e-12 relative, for every rule, on a single layer and on a stack (RTRL and BPTT have fast
/// stack paths too; BPTT also on an LSTM-under-rate stack): a fast arm wired to the wrong
/// function, order or feedback fails here.
#[test]
fn the_fast_paths_equal_the_literal_transcriptions_in_every_arm() {
    use credit_train::{Path, gradient};
    let seq = tiny_sine(3, 12).eval_set(0, 1).unwrap().remove(0);
    let stack = |rule| {
        let layer = Layer { cell: Cell::Rate(Rate { alpha: 0.6 }), n: 4 };
        let s = Stack::new(vec![layer.clone(), layer], 3, 1, Readout::leaky(0.7), Loss::Mse).unwrap();
        let p = s.random_params(3).unwrap();
        (rule, Model::Stack(s), p)
    };
    let mut cases: Vec<(Rule, Model, Params<f64>)> = RULES
        .into_iter()
        .map(|r| {
            let (m, p) = tiny(r);
            (r, m, p)
        })
        .collect();
    cases.extend([stack(Rule::Rtrl), stack(Rule::Bptt)]);
    // SnAp: n = 1 cuts (the sparse path), n = 2 on the dense tiny net keeps every entry (fast RTRL)
    for n in [1, 2] {
        let (m, p) = tiny(Rule::Snap { n });
        cases.push((Rule::Snap { n }, m, p));
    }
    let mixed = vec![
        Layer { cell: Cell::Lstm(credit_core::cell::Lstm), n: 3 },
        Layer { cell: Cell::Rate(Rate { alpha: 0.6 }), n: 4 },
    ];
    let s = Stack::new(mixed, 3, 1, Readout::leaky(0.7), Loss::Mse).unwrap();
    let p = s.random_params(5).unwrap();
    cases.push((Rule::Bptt, Model::Stack(s), p));
    for (rule, model, params) in cases {
        let b = match &model {
            Model::Layer(net) => Some(credit_eprop::random_feedback(net, 9)),
            Model::Stack(_) => None,
        };
        let aux = credit_train::Aux { feedback: b.as_ref(), ..Default::default() };
        let fast = gradient(&rule, Path::Fast, &model, &params, &seq, &aux).unwrap();
        let literal = gradient(&rule, Path::Literal, &model, &params, &seq, &aux).unwrap();
        assert!((fast.loss - literal.loss).abs() <= 1e-12 * literal.loss.abs(), "{}: loss", rule.name());
        for (a, r) in fast.grad.tensors.iter().zip(&literal.grad.tensors) {
            let scale = r.value.amax();
            assert!(scale > 0.0, "{} {}: a dead reference proves nothing", rule.name(), r.name);
            let err = (&a.value - &r.value).amax() / scale;
            assert!(err <= 1e-12, "{} {}: fast vs literal {err:e}", rule.name(), r.name);
        }
    }
}
