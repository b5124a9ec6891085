//! The liveness guard rejects what proves nothing, and says why on every row: a silent net, a
//! net with a single active `(t, j)`, a tensor whose gradient is mostly dead, a silent layer of a
//! stack; `jacobian=dual` fails a zero block unless it is a named structural zero.

mod common;

use credit_check::relations::run_config;
use credit_check::suite::{Config, Role};
use credit_check::{Liveness, Row, report};
use credit_core::cell::{Cell, Lif, Reset, Spiking};
use credit_core::{Detach, InitScale, Loss, Network, Params, Readout, Sequence, SequenceStyle};

fn config(name: &str, net: Network, p: Params<f64>, seq: Sequence) -> Config {
    Config {
        name: name.into(),
        steps: seq.len(),
        net,
        seed: 1,
        scale: None,
        role: Role::Generic,
        data: Some((p, seq)),
        feedback: None,
        style: SequenceStyle::default(),
    }
}

fn set(p: &mut Params<f64>, name: &str, f: impl Fn(usize, usize) -> f64) {
    let t = p.tensors.iter_mut().find(|t| t.name == name).unwrap();
    for i in 0..t.value.nrows() {
        for j in 0..t.value.ncols() {
            t.value[(i, j)] = f(i, j);
        }
    }
}

/// Every row fails, carries `why` in its reason, and the table prints it.
fn all_rows_fail_with(rows: &[Row], why: &str) {
    assert!(!rows.is_empty());
    for r in rows {
        assert!(!r.pass, "{} {} passed on a config that is not live", r.relation, r.tensor);
        let reason = r.reason.as_deref().unwrap_or("");
        assert!(reason.contains(why), "{} {}: reason {reason:?}, expected {why:?}", r.relation, r.tensor);
    }
    assert!(report::table(rows).contains(why));
    let json: serde_json::Value = serde_json::from_str(&report::to_json(rows)).unwrap();
    assert!(json["results"][0]["reason"].as_str().unwrap().contains(why));
}

fn lif_net(n_in: usize, n: usize) -> Network {
    let mut sp = Spiking::new(0.5, 1.0);
    sp.reset = Reset::Differentiated;
    Network::new(Cell::Lif(Lif { spiking: sp }), n_in, n, 2, Readout::leaky(0.8), Loss::Mse).unwrap()
}

/// A silent LIF net (no input, no bias): ψ ≡ 0, every gradient relation holds trivially.
#[test]
fn a_silent_net_fails_with_its_reason() {
    let net = lif_net(2, 3);
    let mut p = Params::<f64>::random(&net, 5).unwrap();
    set(&mut p, "b", |_, _| 0.0);
    let mut seq = Sequence::random(&net, 8, 5).unwrap();
    seq.x.iter_mut().for_each(|x| x.fill(0.0));
    let rows = run_config(&config("silent", net, p, seq)).unwrap();
    all_rows_fail_with(&rows, "not live: no spikes");
}

/// One input spike drives neuron 0 over threshold at one step; the reset then holds its
/// membrane below 0, where the surrogate is exactly 0: one active `(t, j)` of 24. The old guard
/// (a spike, one active surrogate, a non-zero gradient) accepted this net.
#[test]
fn one_active_pair_fails_with_its_reason() {
    let net = lif_net(1, 3);
    let mut p = Params::<f64>::random(&net, 6).unwrap();
    set(&mut p, "b", |_, _| 0.0);
    set(&mut p, "w_rec", |_, _| 0.0);
    set(&mut p, "w_in", |i, _| if i == 0 { 1.5 } else { 0.0 });
    let mut seq = Sequence::random(&net, 8, 6).unwrap();
    for (t, x) in seq.x.iter_mut().enumerate() {
        x.fill(if t == 2 { 1.0 } else { 0.0 });
    }
    let g = credit_oracle::gradient(&net, &p, &seq, Detach::default()).unwrap().grad;
    let live = Liveness::measure(&net, &p, &seq, &g).unwrap();
    assert_eq!((live.spikes, live.active_derivatives, live.outputs), (1, 1, 24), "{live:?}");
    assert!(live.grad_norm > 1e-8, "the old guard's conditions hold: {live:?}");
    let rows = run_config(&config("one-active", net, p, seq)).unwrap();
    all_rows_fail_with(&rows, "not live: dz/dh≠0 at 1/24 (t, j), fewer than 10 %");
}

/// A rate net whose inputs 1 and 2 are always 0: two thirds of dE/dW_in are dead.
#[test]
fn a_mostly_dead_tensor_fails_with_its_reason() {
    let net = Network::new(credit_check::suite::rate(0.5), 3, 4, 2, Readout::leaky(0.8), Loss::Mse).unwrap();
    let p = Params::<f64>::random(&net, 7).unwrap();
    let mut seq = Sequence::random(&net, 10, 7).unwrap();
    for x in &mut seq.x {
        x[1] = 0.0;
        x[2] = 0.0;
    }
    let rows = run_config(&config("dead-inputs", net.clone(), p.clone(), seq.clone())).unwrap();
    all_rows_fail_with(&rows, "not live: dE/dw_in non-zero in 4/12 entries, fewer than 50 %");
    // with input 1 back, 8/12 entries live: the same net passes
    let full = Sequence::random(&net, 10, 7).unwrap();
    let mut seq2 = seq;
    for (x, f) in seq2.x.iter_mut().zip(&full.x) {
        x[1] = f[1];
    }
    let rows = run_config(&config("two-live-inputs", net, p, seq2)).unwrap();
    assert!(rows.iter().all(|r| r.pass), "{:?}", rows.iter().find(|r| !r.pass));
}

/// The diagonal of w_rec of a cell without autapses is a structural zero: not counted.
#[test]
fn the_no_autapse_diagonal_is_excepted_by_name() {
    let lif = lif_net(2, 3).cell;
    assert!(credit_check::compare::structural_zero(&lif, "w_rec", 1, 1).is_some());
    assert!(credit_check::compare::structural_zero(&lif, "l2.w_rec", 0, 0).is_some());
    assert!(credit_check::compare::structural_zero(&lif, "w_rec", 0, 1).is_none());
    assert!(credit_check::compare::structural_zero(&lif, "w_in", 1, 1).is_none());
    let rate = credit_check::suite::rate(0.5);
    assert!(credit_check::compare::structural_zero(&rate, "w_rec", 1, 1).is_none());
}

/// A stack read from every layer whose top layer gets no input and no bias: the layers below
/// are live (the readout reads them), the top layer is silent, every row fails and names it.
#[test]
fn a_silent_stack_layer_fails_with_its_reason() {
    let mut cfg =
        credit_check::stacks::builtin_stacks().into_iter().find(|s| s.name == "n4x3-t16-read-all").unwrap();
    let mut p = cfg.stack.random_params(cfg.seed).unwrap();
    let seq = cfg.stack.random_sequence(cfg.steps, cfg.seed).unwrap();
    for name in ["l3.w_in", "l3.b", "l3.w_rec"] {
        set(&mut p, name, |_, _| 0.0);
    }
    cfg.data = Some((p, seq));
    let rows = credit_check::stacks::run_stack(&cfg).unwrap();
    all_rows_fail_with(&rows, "layer 3: not live: no spikes");
}

/// `jacobian=dual`: a zero `dM/dz` block on a config that does not declare `W_rec = 0` fails
/// (zero = zero proves nothing); the vanilla RNN's `D` and a `W_rec = 0` config's `dM/dz` are
/// skipped by name, with the reason.
#[test]
fn jacobian_dual_needs_non_zero_blocks() {
    let net = Network::new(credit_check::suite::rate(0.5), 3, 4, 2, Readout::leaky(0.8), Loss::Mse).unwrap();
    let mut scale = InitScale::default_for(&net);
    scale.w_rec = 0.0;
    let p = Params::<f64>::random_scaled(&net, 8, scale).unwrap();
    let seq = Sequence::random(&net, 10, 8).unwrap();
    let mut cfg = config("wrec0-undeclared", net, p, seq);
    let rows = run_config(&cfg).unwrap();
    let block = |rows: &[Row], name: &str| {
        rows.iter().find(|r| r.relation == "jacobian=dual" && r.tensor == name).unwrap().clone()
    };
    let dmdz = block(&rows, "dM/dz");
    assert!(!dmdz.pass && dmdz.max_rel_err == 0.0, "{dmdz:?}");
    assert_eq!(dmdz.reason.as_deref(), Some("the reference is identically zero or not finite"));
    assert!(block(&rows, "D").pass && block(&rows, "D").reason.is_none());
    // declared: skipped with the reason
    cfg.role = Role::NoRecurrence;
    let dmdz = block(&run_config(&cfg).unwrap(), "dM/dz");
    assert!(dmdz.skipped(), "{dmdz:?}");
    assert!(dmdz.reason.unwrap().starts_with("skipped: W_rec = 0"));
    assert!(report::table(&run_config(&cfg).unwrap()).contains("skip"));
    // the vanilla RNN of the suite
    let vanilla = credit_check::builtin_suite().into_iter().find(|c| c.name == "n4-t10-vanilla").unwrap();
    let d = block(&run_config(&vanilla).unwrap(), "D");
    assert!(d.skipped() && d.reason.unwrap().contains("vanilla RNN"));
}
