//! Synthetic gradients (issue 14): the identities of `docs/synthgrad.md` §5 over random small
//! networks (proptest), the same tests on `f32`, `f64` and `Dual64`, and typed errors.
//! num-dual compares duals by real part only: every dual assertion is on extracted `.eps`.

use credit_check::max_rel_err;
use credit_check::synthgrad::{future_from_bptt, future_on_fibres, regression_target};
use credit_core::cell::{Cell, Lstm, Rate};
use credit_core::{Error, Loss, Network, Params, Readout, RegFactor, Scalar, Sequence};
use credit_synthgrad::bplambda::{self, BpLambdaOptions};
use credit_synthgrad::cortex::{self, Traces};
use credit_synthgrad::dni::{self, DniOptions, LastChunk};
use credit_synthgrad::{Cortex, Layout, synth::Synth};
use nalgebra::{DMatrix, DVector};
use num_dual::Dual64;
use proptest::prelude::*;

fn net(cell: Cell, n_in: usize, n: usize) -> Network {
    Network::new(cell, n_in, n, 2, Readout::leaky(0.0), Loss::Mse).unwrap()
}

fn cells() -> Vec<Cell> {
    vec![Cell::Rate(Rate { alpha: 1.0 }), Cell::Rate(Rate { alpha: 0.4 }), Cell::Lstm(Lstm)]
}

/// The field an error names.
fn field(e: Error) -> String {
    match e {
        Error::Invalid { field, .. } | Error::Shape { field, .. } | Error::Empty { field } => field,
        Error::NonFinite { field, .. } => field,
    }
}

fn col(v: &DVector<f64>) -> DMatrix<f64> {
    DMatrix::from_column_slice(v.len(), 1, v.as_slice())
}

fn assert_params(what: &str, a: &Params<f64>, b: &Params<f64>, tol: f64) {
    for (ta, tb) in a.tensors.iter().zip(&b.tensors) {
        let e = max_rel_err(&ta.value, &tb.value);
        assert!(e <= tol, "{what}: {} differs by {e:.2e}", ta.name);
    }
}

/// Per tensor within `tol`; the reference must be non-zero as a whole (a random MLP on a tiny
/// net can have every hidden unit dead on the sequence, so `w1`, `b1` alone may be zero).
fn assert_synth(what: &str, s: &Synth<f64>, a: &DVector<f64>, b: &DVector<f64>, tol: f64) {
    for ((name, ta), (_, tb)) in s.split(a).unwrap().into_iter().zip(s.split(b).unwrap()) {
        let e = max_rel_err(&ta, &tb);
        assert!(e <= tol, "{what}: {name} differs by {e:.2e}");
    }
    assert!(b.iter().any(|&x| x != 0.0), "{what}: the reference is zero");
}

/// The identities on one network, `f64`: P-e1 (DNI), P-b4 (online), P-b1, P-b2, P-b3, P-e2.
fn identities(net: &Network, seed: u64, chunk: usize, lambda: f64, gamma: f64) {
    let steps = 3 + (seed as usize % 6);
    let p = Params::<f64>::random(net, seed).unwrap();
    let seq = Sequence::random(net, steps, seed).unwrap();
    let bptt = credit_bptt::gradient(net, &p, &seq).unwrap();
    let (g, g_r) = future_from_bptt(net, &p, &seq, &bptt.lambda).unwrap();
    // the crate's own G (S3) = BPTT's
    let own = Cortex::replay(net, &p, &seq).unwrap().future_gradient();
    // one tensor over every step (G^T = 0 here, a rounding residue in BPTT's λ^T − ℓ'^T)
    let stack = |v: &[DVector<f64>]| DMatrix::from_fn(steps, v[1].len(), |t, i| v[t + 1][i]);
    assert!(max_rel_err(&stack(&own), &stack(&g)) <= 1e-12, "G");
    let exact = |t: usize, _: &DVector<f64>| g[t].clone();
    let run = dni::dni(net, &p, &seq, DniOptions::new(chunk, 1.0), &exact).unwrap();
    assert_params("P-e1", &run.grad, &bptt.grad, 1e-12);
    let online = cortex::gradient(net, &p, &seq, 1.0, Traces::Immediate, &exact).unwrap();
    assert_params("P-b4", &online, &bptt.grad, 1e-12);
    let explicit = |t: usize, _: &DVector<f64>| g_r[t].clone();
    let traced = cortex::gradient(net, &p, &seq, 1.0, Traces::Eprop, &explicit).unwrap();
    assert_params("P-b4, e-prop traces", &traced, &bptt.grad, 1e-12);
    let synth = Synth::random(credit_synthgrad::state_dim(net), Some(4), seed, 0.5).unwrap();
    let opts = BpLambdaOptions { lambda, gamma };
    let back = bplambda::offline(net, &p, &seq, &synth, opts).unwrap();
    let fwd = bplambda::forward_view(net, &p, &seq, &synth, opts).unwrap();
    assert_synth("P-b1", &synth, &back.update, &fwd, 1e-12);
    // the online stepper with a zero learning rate is the offline sum (same predictions)
    let mut frozen = synth.clone();
    let online = bplambda::online(net, &p, &seq, &mut frozen, opts, 0.0).unwrap();
    assert_synth("online(lr = 0) = offline", &synth, &online, &back.update, 1e-12);
    let h = Cortex::replay(net, &p, &seq).unwrap().states;
    let one = bplambda::offline(net, &p, &seq, &synth, BpLambdaOptions { lambda: 1.0, gamma: 1.0 }).unwrap();
    assert_synth("P-b2", &synth, &one.update, &regression_target(&synth, &h, &g), 1e-12);
    let zero = bplambda::offline(net, &p, &seq, &synth, BpLambdaOptions { lambda: 0.0, gamma }).unwrap();
    let predict = |_: usize, v: &DVector<f64>| synth.predict(v);
    let d1 = dni::dni(net, &p, &seq, DniOptions::new(1, gamma), &predict).unwrap();
    assert_synth("P-b3", &synth, &zero.update, &-dni::synth_gradient(&synth, &d1), 1e-12);
    let full = dni::dni(net, &p, &seq, DniOptions::new(steps + chunk, 0.3), &predict).unwrap();
    assert_params("P-e2", &full.grad, &bptt.grad, 1e-12);
    assert!(full.boundaries.is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn identities_hold_on_random_small_nets(
        which in 0usize..3, n_in in 1usize..4, n in 1usize..5, seed in 0u64..10_000,
        chunk in 1usize..6, lambda in 0.0f64..=1.0, gamma in 0.0f64..=1.0, leaky in 0usize..2,
    ) {
        // leaky = 1: a readout with memory, κ = 0.7, the augmented state (h, y) (S15)
        let mut net = net(cells()[which].clone(), n_in, n);
        net.readout = Readout::leaky(0.7 * leaky as f64);
        identities(&net, seed, chunk, lambda, gamma);
    }
}

/// BP(λ) with `λ < 1` is biased: it does not regress onto the true future gradient.
#[test]
fn lambda_below_one_is_biased() {
    for cell in cells() {
        let net = net(cell, 2, 3);
        let (p, seq) = (Params::<f64>::random(&net, 7).unwrap(), Sequence::random(&net, 8, 7).unwrap());
        let bptt = credit_bptt::gradient(&net, &p, &seq).unwrap();
        let (g, _) = future_from_bptt(&net, &p, &seq, &bptt.lambda).unwrap();
        let synth = Synth::random(net.n * net.d(), None, 7, 0.5).unwrap();
        let h: Vec<_> =
            Cortex::replay(&net, &p, &seq).unwrap().traj.states.iter().map(|s| s.h.clone()).collect();
        let target = regression_target(&synth, &h, &g);
        let half =
            bplambda::offline(&net, &p, &seq, &synth, BpLambdaOptions { lambda: 0.5, gamma: 1.0 }).unwrap();
        assert!(max_rel_err(&col(&half.update), &col(&target)) > 1e-3);
    }
}

/// ccDNI's reading (an injection at `h^T` too) changes the gradient; bp_lambda's does not.
#[test]
fn last_chunk_reading_is_switchable() {
    let net = net(Cell::Lstm(Lstm), 2, 3);
    let (p, seq) = (Params::<f64>::random(&net, 3).unwrap(), Sequence::random(&net, 6, 3).unwrap());
    let synth = Synth::random(net.n * net.d(), None, 3, 0.5).unwrap();
    let predict = |_: usize, v: &DVector<f64>| synth.predict(v);
    let zero = dni::dni(&net, &p, &seq, DniOptions::new(4, 0.5), &predict).unwrap();
    let inject = DniOptions { last: LastChunk::Inject, ..DniOptions::new(4, 0.5) };
    let cc = dni::dni(&net, &p, &seq, inject, &predict).unwrap();
    assert!(max_rel_err(&cc.grad.tensors[0].value, &zero.grad.tensors[0].value) > 1e-6);
}

/// The same test on `f32` and `f64` (the `Dual64` instance below also checks dual parts).
macro_rules! scalar_tests {
    ($($module:ident: $t:ty, tol = $tol:expr;)*) => {$(
        mod $module {
            use super::*;

            fn close(what: &str, a: &[$t], b: &[$t]) {
                let a = DMatrix::from_fn(a.len(), 1, |i, _| a[i].value());
                let b = DMatrix::from_fn(b.len(), 1, |i, _| b[i].value());
                let e = max_rel_err(&a, &b);
                assert!(e <= $tol, "{what}: {e:.2e}");
                assert!(b.iter().any(|&x| x != 0.0), "{what}: the reference is zero");
            }

            /// DNI with the exact future gradient (S3, in this scalar) = BPTT, and P-b1.
            #[test]
            fn dni_exact_and_forward_backward() {
                for cell in cells() {
                    let net = net(cell, 2, 3);
                    let p: Params<$t> = Params::<f64>::random(&net, 11).unwrap().cast();
                    let seq = Sequence::random(&net, 7, 11).unwrap();
                    let bptt = credit_bptt::gradient(&net, &p, &seq).unwrap();
                    let g = Cortex::replay(&net, &p, &seq).unwrap().future_gradient();
                    let exact = |t: usize, _: &DVector<$t>| g[t].clone();
                    let run = dni::dni(&net, &p, &seq, DniOptions::new(2, 1.0), &exact).unwrap();
                    for (a, b) in run.grad.tensors.iter().zip(&bptt.grad.tensors) {
                        close(a.name, a.value.as_slice(), b.value.as_slice());
                    }
                    if matches!(net.cell, Cell::Lstm(_)) {
                        // the mossy-fibre layout (S16): G_u^t by (S16b) of λ^{t+1} = ℓ'^{t+1} + G^{t+1}
                        let cx = Cortex::replay(&net, &p, &seq).unwrap();
                        let gu = |t: usize| cx.jt_input(Layout::MossyFibre, t + 1, &(&cx.direct[t + 1] + &g[t + 1]));
                        let exact = |t: usize, _: &DVector<$t>| gu(t);
                        let opts = DniOptions { layout: Layout::MossyFibre, ..DniOptions::new(2, 1.0) };
                        let run = dni::dni(&net, &p, &seq, opts, &exact).unwrap();
                        for (a, b) in run.grad.tensors.iter().zip(&bptt.grad.tensors) {
                            close(a.name, a.value.as_slice(), b.value.as_slice());
                        }
                    }
                    let synth: Synth<$t> =
                        Synth::<f64>::random(net.n * net.d(), Some(3), 11, 0.5).unwrap().map(<$t>::c);
                    let opts = BpLambdaOptions { lambda: 0.6, gamma: 0.8 };
                    let back = bplambda::offline(&net, &p, &seq, &synth, opts).unwrap();
                    let fwd = bplambda::forward_view(&net, &p, &seq, &synth, opts).unwrap();
                    close("P-b1", back.update.as_slice(), fwd.as_slice());
                }
            }
        }
    )*};
}

scalar_tests! {
    f32_: f32, tol = 1e-4;
    f64_: f64, tol = 1e-12;
}

/// `Dual64`: parameters carry a direction `v`; the dual parts of DNI-with-exact-S and of BPTT
/// (derivatives of the gradient along `v`) agree, and so do those of the two BP(λ) views.
#[test]
fn dual64_dni_exact_and_forward_backward() {
    for cell in cells() {
        let net = net(cell, 2, 3);
        let p64 = Params::<f64>::random(&net, 11).unwrap();
        let dir = Params::<f64>::random(&net, 12).unwrap();
        let mut p: Params<Dual64> = p64.cast();
        for (t, d) in p.tensors.iter_mut().zip(&dir.tensors) {
            t.value.zip_apply(&d.value, |x, v| x.eps = v);
        }
        let seq = Sequence::random(&net, 7, 11).unwrap();
        let bptt = credit_bptt::gradient(&net, &p, &seq).unwrap();
        let g = Cortex::replay(&net, &p, &seq).unwrap().future_gradient();
        let exact = |t: usize, _: &DVector<Dual64>| g[t].clone();
        let run = dni::dni(&net, &p, &seq, DniOptions::new(2, 1.0), &exact).unwrap();
        for (a, b) in run.grad.tensors.iter().zip(&bptt.grad.tensors) {
            let (ar, br) = (a.value.map(|x| x.re), b.value.map(|x| x.re));
            let (ae, be) = (a.value.map(|x| x.eps), b.value.map(|x| x.eps));
            assert!(max_rel_err(&ar, &br) <= 1e-12, "{} re", a.name);
            assert!(max_rel_err(&ae, &be) <= 1e-12, "{} eps", a.name);
            assert!(be.iter().any(|&x| x != 0.0), "{}: zero dual part", a.name);
        }
        if matches!(net.cell, Cell::Lstm(_)) {
            // the mossy-fibre layout (S16), dual parts
            let cx = Cortex::replay(&net, &p, &seq).unwrap();
            let gu = |t: usize| cx.jt_input(Layout::MossyFibre, t + 1, &(&cx.direct[t + 1] + &g[t + 1]));
            let exact = |t: usize, _: &DVector<Dual64>| gu(t);
            let opts = DniOptions { layout: Layout::MossyFibre, ..DniOptions::new(2, 1.0) };
            let run = dni::dni(&net, &p, &seq, opts, &exact).unwrap();
            for (a, b) in run.grad.tensors.iter().zip(&bptt.grad.tensors) {
                let (ae, be) = (a.value.map(|x| x.eps), b.value.map(|x| x.eps));
                assert!(
                    max_rel_err(&a.value.map(|x| x.re), &b.value.map(|x| x.re)) <= 1e-12,
                    "{} mossy re",
                    a.name
                );
                assert!(max_rel_err(&ae, &be) <= 1e-12, "{} mossy eps", a.name);
            }
        }
        let synth: Synth<Dual64> =
            Synth::<f64>::random(net.n * net.d(), Some(3), 11, 0.5).unwrap().map(Dual64::from_re);
        let opts = BpLambdaOptions { lambda: 0.6, gamma: 0.8 };
        let back = bplambda::offline(&net, &p, &seq, &synth, opts).unwrap().update;
        let fwd = bplambda::forward_view(&net, &p, &seq, &synth, opts).unwrap();
        let (be, fe) = (col(&back.map(|x| x.eps)), col(&fwd.map(|x| x.eps)));
        assert!(max_rel_err(&col(&back.map(|x| x.re)), &col(&fwd.map(|x| x.re))) <= 1e-12);
        assert!(max_rel_err(&be, &fe) <= 1e-12 && fe.iter().any(|&x| x != 0.0), "P-b1 eps");
    }
}

#[test]
fn bad_input_is_a_typed_error_naming_the_field() {
    let good = net(Cell::Rate(Rate { alpha: 1.0 }), 2, 3);
    let (p, seq) = (Params::<f64>::random(&good, 1).unwrap(), Sequence::random(&good, 5, 1).unwrap());
    let zero = |_: usize, v: &DVector<f64>| DVector::zeros(v.len());
    let mut leaky = good.clone();
    leaky.readout = Readout::leaky(0.5);
    leaky.readout.delay = credit_core::ReadoutDelay::OneStep;
    assert_eq!(
        field(dni::dni(&leaky, &p, &seq, DniOptions::new(2, 0.1), &zero).unwrap_err()),
        "network.readout.delay"
    );
    let reg = credit_core::RateReg { c_reg: 0.1, f_target: 0.1, dt: 1.0, factor: RegFactor::Full };
    let with_reg = good.clone().with_reg(reg).unwrap();
    assert_eq!(
        field(cortex::gradient(&with_reg, &p, &seq, 1.0, Traces::Eprop, &zero).unwrap_err()),
        "network.reg"
    );
    assert_eq!(field(dni::dni(&good, &p, &seq, DniOptions::new(0, 0.1), &zero).unwrap_err()), "dni.chunk");
    let fibres = DniOptions { layout: Layout::MossyFibre, ..DniOptions::new(2, 0.1) };
    assert_eq!(field(dni::dni(&good, &p, &seq, fibres, &zero).unwrap_err()), "layout");
    assert_eq!(field(dni::dni(&good, &p, &seq, DniOptions::new(2, f64::NAN), &zero).unwrap_err()), "dni.s");
    let s = Synth::<f64>::linear(3);
    let bad = BpLambdaOptions { lambda: 1.5, gamma: 1.0 };
    assert_eq!(field(bplambda::offline(&good, &p, &seq, &s, bad).unwrap_err()), "bplambda.lambda");
    let bad = BpLambdaOptions { lambda: 0.5, gamma: -0.1 };
    assert_eq!(field(bplambda::forward_view(&good, &p, &seq, &s, bad).unwrap_err()), "bplambda.gamma");
    let wrong = Synth::<f64>::linear(4);
    let ok = BpLambdaOptions { lambda: 0.5, gamma: 1.0 };
    assert_eq!(field(bplambda::offline(&good, &p, &seq, &wrong, ok).unwrap_err()), "synth.n");
    assert_eq!(field(Synth::<f64>::random(0, None, 1, 0.5).unwrap_err()), "synth.n");
    assert_eq!(field(Synth::<f64>::random(3, Some(0), 1, 0.5).unwrap_err()), "synth.hidden");
    assert_eq!(field(Synth::<f64>::random(3, None, 1, f64::INFINITY).unwrap_err()), "synth.out_gain");
}

/// ccDNI's mossy-fibre layout (S16) on random small LSTMs: with the exact future gradient on
/// `[z; c]` (from BPTT's λ and the Jacobians, never through `F`) DNI is BPTT (P-e1), its targets
/// are that future gradient at every chunk start (S16b), and mapped back by (S16a) they are the
/// targets of the state layout (S6); a leaky readout is refused.
fn mossy_fibres(n_in: usize, n: usize, steps: usize, chunk: usize, seed: u64) {
    let net = net(Cell::Lstm(Lstm), n_in, n);
    let p = Params::<f64>::random(&net, seed).unwrap();
    let seq = Sequence::random(&net, steps, seed).unwrap();
    let bptt = credit_bptt::gradient(&net, &p, &seq).unwrap();
    let (g, _) = future_from_bptt(&net, &p, &seq, &bptt.lambda).unwrap();
    let gu = future_on_fibres(&net, &p, &seq, &bptt.lambda).unwrap();
    let fibres = DniOptions { layout: Layout::MossyFibre, ..DniOptions::new(chunk, 1.0) };
    let exact = |t: usize, _: &DVector<f64>| gu[t].clone();
    let run = dni::dni(&net, &p, &seq, fibres, &exact).unwrap();
    assert_params("P-e1 mossy fibres", &run.grad, &bptt.grad, 1e-12);
    let zero = |_: usize, v: &DVector<f64>| DVector::zeros(v.len());
    let cut = dni::dni(&net, &p, &seq, fibres, &zero).unwrap();
    let nc = net.n_cell_tensors();
    let worst = cut.grad.tensors[..nc]
        .iter()
        .zip(&bptt.grad.tensors)
        .map(|(a, b)| max_rel_err(&a.value, &b.value))
        .fold(0.0, f64::max);
    assert!(chunk >= steps || worst > 1e-6, "liveness: truncation with S = 0 equals BPTT");
    let own = dni::dni(&net, &p, &seq, DniOptions::new(chunk, 1.0), &|t, _| g[t].clone()).unwrap();
    let cx = Cortex::replay(&net, &p, &seq).unwrap();
    for (k, &b) in run.boundaries.iter().enumerate() {
        assert!(max_rel_err(&col(&run.targets[k]), &col(&gu[b])) <= 1e-12, "S16b target at {b}");
        assert!(gu[b].amax() > 0.0, "liveness: G_u^{b} = 0");
        let back = cx.from_input(Layout::MossyFibre, b, &run.targets[k]);
        assert!(max_rel_err(&col(&back), &col(&own.targets[k])) <= 1e-12, "S16a of S16b = S6 at {b}");
        assert!(max_rel_err(&col(&back), &col(&g[b])) <= 1e-12, "S16a of G_u = G at {b}");
        let u = cx.input(Layout::MossyFibre, b);
        assert_eq!(u.len(), 2 * n);
        assert!((u[0] - cx.traj.z[b][0]).abs() == 0.0 && (u[n] - cx.traj.states[b].h[0]).abs() == 0.0);
    }
    let mut leaky = net.clone();
    leaky.readout = Readout::leaky(0.5);
    assert_eq!(field(dni::dni(&leaky, &p, &seq, fibres, &zero).unwrap_err()), "layout");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]
    #[test]
    fn mossy_fibre_layout_is_exact_on_random_lstms(
        n_in in 1usize..3, n in 1usize..5, steps in 3usize..9, chunk in 1usize..4, seed in 0u64..1000
    ) {
        mossy_fibres(n_in, n, steps, chunk, seed);
    }
}

/// The closed-form synthesiser Jacobian `K` (S4) = dual numbers through `predict`.
#[test]
fn synth_jacobian_equals_dual_numbers() {
    for hidden in [None, Some(5)] {
        let s = Synth::<f64>::random(4, hidden, 9, 0.7).unwrap();
        let h = DVector::from_fn(4, |i, _| 0.3 * i as f64 - 0.5);
        let k = s.jacobian(&h);
        let base: Synth<Dual64> = s.map(Dual64::from_re);
        for q in 0..s.len() {
            let mut d = base.clone();
            let mut unit = DVector::from_element(s.len(), Dual64::from_re(0.0));
            unit[q] = Dual64::new(0.0, 1.0);
            d.add_flat(&unit).unwrap();
            let out = d.predict(&h.map(Dual64::from_re));
            for o in 0..4 {
                assert!((out[o].eps - k[(o, q)]).abs() <= 1e-14, "K[{o}, {q}]");
            }
        }
        // flat round trip
        let mut z = s.map(|x| x * 0.0);
        z.add_flat(&s.flat()).unwrap();
        assert_eq!(z.add_flat(&DVector::zeros(3)).map_err(field), Err("synth.flat".to_string()));
        assert_eq!(z.flat(), s.flat());
    }
}

/// Spiking cells (surrogate Jacobians): every relation of the module has rows on the memoryless
/// variants of the listed LIF and ALIF configs, each passes, and the variant spikes (not at every
/// `(t, j)`) with the truncation guard of `sg-exact=bptt` live.
#[test]
fn spiking_configs_are_live_and_pass() {
    use credit_check::relations::{Select, run_config_selected};
    use credit_check::synthgrad::{FIXPOINT_SKIP, IDS, SPIKING_CONFIGS};
    use credit_core::CellModel;
    let ids: Vec<String> = IDS.iter().map(|s| s.to_string()).collect();
    let suite = credit_check::suite::builtin_suite();
    for cell in ["lif", "alif"] {
        let cfgs: Vec<_> = suite
            .iter()
            .filter(|c| c.net.cell.id() == cell && SPIKING_CONFIGS.contains(&c.name.as_str()))
            .collect();
        assert_eq!(cfgs.len(), SPIKING_CONFIGS.len(), "{cell}: a listed config is missing");
        for cfg in cfgs {
            let rows = run_config_selected(cfg, Select(Some(&ids))).unwrap();
            let skip = FIXPOINT_SKIP.contains(&(cell, cfg.name.as_str()));
            for id in IDS.iter().filter(|id| !(skip && **id == "dni-fixed-point=chunk-return")) {
                assert!(rows.iter().any(|r| r.relation == *id), "{cell} {}: no {id} row", cfg.name);
            }
            for r in &rows {
                assert!(r.pass, "{cell} {}: {} {} fails ({:?})", cfg.name, r.relation, r.tensor, r.reason);
                assert!(r.liveness.spikes > 0 && r.liveness.spikes < r.liveness.outputs);
            }
        }
    }
}

/// P-e4: the linear synthesiser fitted by least squares to DNI's own targets is a fixed point
/// (its gradient (S7) with its own targets vanishes) and reproduces the `s`-discounted chunk
/// return from BPTT (S14) at the chunk starts; a wrong `s` gives another return.
#[test]
fn dni_fixed_point_is_the_discounted_chunk_return() {
    use credit_check::synthgrad::chunk_return;
    for (which, cell) in cells().into_iter().enumerate() {
        for chunk in [1, 2, 3] {
            let net = net(cell.clone(), 2, 2);
            let nd = net.n * net.d();
            let seed = 40 + which as u64;
            let p = Params::<f64>::random(&net, seed).unwrap();
            let seq = Sequence::random(&net, (nd + 2) * chunk, seed).unwrap();
            let opts = DniOptions::new(chunk, 0.6);
            let (fit, run) = dni::fit_linear(&net, &p, &seq, opts, nd + 1).unwrap();
            assert_eq!(run.boundaries.len(), nd + 1);
            let zero = |_: usize, v: &DVector<f64>| DVector::zeros(v.len());
            let at_zero = dni::synth_gradient(&fit, &dni::dni(&net, &p, &seq, opts, &zero).unwrap());
            let at_fit = dni::synth_gradient(&fit, &run);
            assert!(at_fit.amax() <= 1e-12 * at_zero.amax() && at_zero.amax() > 0.0, "(S7) at the fit");
            let ret = chunk_return(&net, &p, &seq, chunk, 0.6).unwrap();
            let wrong = chunk_return(&net, &p, &seq, chunk, 0.3).unwrap();
            let stack = |v: &[DVector<f64>]| DMatrix::from_fn(v.len(), nd, |b, i| v[b][i]);
            let preds: Vec<_> = run.states.iter().map(|h| fit.predict(h)).collect();
            let r: Vec<_> = ret.iter().map(|(_, v)| v.clone()).collect();
            let w: Vec<_> = wrong.iter().map(|(_, v)| v.clone()).collect();
            assert!(max_rel_err(&stack(&preds), &stack(&r)) <= 1e-12, "S*(h^b) = R_s^b");
            assert!(max_rel_err(&stack(&w), &stack(&r)) > 1e-6, "s/2 gives the same return");
        }
    }
    let net = net(Cell::Rate(Rate { alpha: 1.0 }), 2, 2);
    let (p, seq) = (Params::<f64>::random(&net, 1).unwrap(), Sequence::random(&net, 6, 1).unwrap());
    let err = dni::fit_linear(&net, &p, &seq, DniOptions::new(2, 0.5), 0).unwrap_err();
    assert_eq!(field(err), "dni.iterations");
    let err = dni::fit_linear(&net, &p, &seq, DniOptions::new(9, 0.5), 1).unwrap_err();
    assert_eq!(field(err), "dni.boundaries");
}
