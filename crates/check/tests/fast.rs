//! The fast paths of issue 11 against the literal code they must equal: the fast forward pass
//! (trajectory and the structure-aware Jacobian entries (K3), (K4) against the literal
//! `jacobians` and `output_jacobian`, every config of the suite), fast BPTT and fast e-prop
//! (proptest over sizes, cells and conventions; the same tests per scalar type), the online
//! state's size, typed errors, and the liveness guard on the fast relations' rows.

mod common;

use common::*;
use credit_check::suite::builtin_suite;
use credit_core::fast::{FastTrajectory, Kernel};
use credit_core::{Cell, CellModel, Error, ForwardOptions, Network, Params, Scalar, Sequence, forward};
use credit_eprop::Feedback;
use nalgebra::DMatrix;
use num_dual::Dual64;
use proptest::prelude::*;
use proptest::test_runner::{Config as PtConfig, RngSeed};

fn pt_config(cases: u32) -> PtConfig {
    PtConfig { cases, failure_persistence: None, rng_seed: RngSeed::Fixed(0xFA57), ..PtConfig::default() }
}

/// `max|a − b| / max|b|` over paired values (0 when both are 0).
fn rel(a: impl IntoIterator<Item = f64>, b: impl IntoIterator<Item = f64>) -> f64 {
    let (mut diff, mut scale) = (0.0f64, 0.0f64);
    for (x, y) in a.into_iter().zip(b) {
        assert!(x.is_finite() && y.is_finite(), "{x} vs {y}");
        diff = diff.max((x - y).abs());
        scale = scale.max(y.abs());
    }
    if scale == 0.0 { diff } else { diff / scale }
}

/// The literal `jacobians` of step `t` rebuilt from the fast trajectory's gains and decays
/// (K3, K4 of `docs/fast.md`) and compared: `D`, `∂M/∂z`, `I`, and `∂z/∂h` (C5).
fn structure_matches(
    net: &Network,
    p: &Params<f64>,
    lit: &credit_core::Trajectory<f64>,
    fast: &FastTrajectory<f64>,
) {
    let kernel = Kernel::new(net, p).unwrap();
    let (n, d, n_in, g) = (net.n, net.d(), net.n_in, kernel.gates);
    let width = n_in + n + 1;
    let w = p.cell_tensors(net);
    let spiking = net.cell.is_spiking();
    for t in 1..=fast.steps() {
        let jac = net.cell.jacobians(&w, &lit.states[t - 1], &lit.z[t - 1], &lit.x[t]);
        let zh = net.cell.output_jacobian(&lit.states[t]);
        let zh_fast: Vec<f64> = (0..n * d).map(|r| fast.states.zh[(r, t)]).collect();
        assert!(rel(zh_fast, (0..n * d).map(|r| zh[(r / d, r % d)])) <= 1e-12, "dz/dh at t = {t}");
        let mut m_z = DMatrix::zeros(n * d, n);
        for j in 0..n {
            let mut i_j = DMatrix::zeros(d, g * width);
            let pre = |q: usize| {
                if q < n_in {
                    lit.x[t][q]
                } else if q < n_in + n {
                    lit.z[t - 1][q - n_in]
                } else {
                    1.0
                }
            };
            for gate in 0..g {
                let (c, gain) = (kernel.component(gate), fast.states.gain[(gate * n + j, t)]);
                for q in 0..width {
                    if !(spiking && q == n_in + j) {
                        i_j[(c, gate * width + q)] = gain * pre(q); // (K3): I = γ ⊙ [x | z | 1]
                    }
                }
                for i in 0..n {
                    if !(spiking && i == j) {
                        m_z[(j * d + c, i)] += gain * kernel.w_rec[(gate * n + j, i)]; // (K3): ∂M/∂z = γ ⊙ W_rec
                    }
                }
            }
            if spiking {
                m_z[(j * d, j)] = kernel.reset_slope();
            }
            assert!(rel(i_j.iter().copied(), jac.i[j].iter().copied()) <= 1e-12, "I_{j} at t = {t}");
            // (K4): D_00 is the decay; ALIF's second row reads ψ^{t−1}; the LSTM's other entries are 0
            let mut d_j = DMatrix::zeros(d, d);
            d_j[(0, 0)] = fast.states.decay[(j, t)];
            if let Cell::Alif(c) = &net.cell {
                let psi = fast.states.zh[(2 * j, t - 1)];
                d_j[(1, 0)] = psi;
                d_j[(1, 1)] = c.rho - c.beta * psi;
            }
            assert!(rel(d_j.iter().copied(), jac.d[j].iter().copied()) <= 1e-12, "D_{j} at t = {t}");
        }
        assert!(rel(m_z.iter().copied(), jac.m_z.iter().copied()) <= 1e-12, "dM/dz at t = {t}");
    }
}

/// The fast forward pass = the literal one on every single-layer config of the suite: states,
/// refractory counters, identical spike trains, readout, loss gradients, loss, regulariser signal,
/// and the stored Jacobian entries.
#[test]
fn fast_forward_equals_the_literal_forward_on_the_suite() {
    for cfg in builtin_suite() {
        let net = &cfg.net;
        let (p, seq) = cfg.instantiate().unwrap();
        let lit = forward(net, &p, &seq, ForwardOptions::default()).unwrap();
        let fast = credit_core::fast::forward(net, &p, &seq).unwrap();
        let name = format!("{} {}", net.cell.id(), cfg.name);
        let steps = seq.len();
        let col = |m: &DMatrix<f64>, t: usize| m.column(t).iter().copied().collect::<Vec<_>>();
        let all = |m: &DMatrix<f64>| (0..=steps).flat_map(|t| col(m, t)).collect::<Vec<_>>();
        let cols =
            |v: &[nalgebra::DVector<f64>]| v.iter().flat_map(|x| x.iter().copied()).collect::<Vec<_>>();
        let h: Vec<f64> = lit.states.iter().flat_map(|s| s.h.iter().copied()).collect();
        assert!(rel(all(&fast.states.h), h) <= 1e-12, "{name}: h");
        assert!(rel(all(&fast.states.z), cols(&lit.z)) <= 1e-12, "{name}: z");
        assert!(rel(all(&fast.y), cols(&lit.y)) <= 1e-12, "{name}: y");
        assert!(rel(all(&fast.dl_dy), cols(&lit.dl_dy)) <= 1e-12, "{name}: dl/dy");
        assert!(rel(all(&fast.x), cols(&lit.x)) == 0.0, "{name}: x");
        assert!(rel([fast.loss], [lit.loss]) <= 1e-12, "{name}: loss");
        assert!(rel(fast.reg_signal.iter().copied(), lit.reg_signal.iter().copied()) <= 1e-12, "{name}: reg");
        for t in 0..=steps {
            let spikes = |v: Vec<f64>| v.iter().map(|x| *x > 0.5).collect::<Vec<_>>();
            assert_eq!(
                spikes(col(&fast.states.z, t)),
                spikes(lit.z[t].iter().copied().collect()),
                "{name}: spikes at {t}"
            );
            if net.cell.is_spiking() {
                let r: Vec<u32> = fast.states.refractory.column(t).iter().copied().collect();
                assert_eq!(r, lit.states[t].refractory, "{name}: refractory at {t}");
            }
        }
        if net.cell.is_spiking() {
            assert!(lit.spike_count() > 0, "{name}: the comparison needs spikes");
        }
        structure_matches(net, &p, &lit, &fast);
    }
}

proptest! {
    #![proptest_config(pt_config(64))]

    /// Fast BPTT = literal BPTT and fast e-prop = literal e-prop (symmetric and random `B`), every
    /// cell, surrogate, reset, refractoriness, readout convention, loss and regulariser, at
    /// ≤ 1e-12 per tensor.
    #[test]
    fn fast_paths_equal_the_literal_ones(
        kind in 0usize..4, variant in 0u32..768, n in 1usize..=5, n_in in 1usize..=3,
        steps in 1usize..=10, seed in any::<u64>(), ce in any::<bool>(), kappa in 0.0f64..=1.0,
    ) {
        let net = net_v(cell(kind, variant), n_in, n, 2, ce, kappa, variant);
        let (p, seq) = instance(&net, steps, seed);
        let fb = credit_eprop::random_feedback(&net, seed);
        let lit = credit_bptt::gradient(&net, &p, &seq).unwrap();
        let fast = credit_bptt::fast(&net, &p, &seq).unwrap();
        for (name, e) in per_tensor(&fast.grad, &lit.grad) {
            prop_assert!(e <= 1e-12, "bptt {}: {:e}", name, e);
        }
        prop_assert!(rel([fast.loss], [lit.loss]) <= 1e-12);
        for feedback in [Feedback::Symmetric, Feedback::Matrix(fb)] {
            let lit = credit_eprop::gradient(&net, &p, &seq, &feedback).unwrap();
            let fast = credit_eprop::fast(&net, &p, &seq, &feedback).unwrap();
            for (name, e) in per_tensor(&fast.grad, &lit.grad) {
                prop_assert!(e <= 1e-12, "eprop {}: {:e}", name, e);
            }
            prop_assert!(rel([fast.loss], [lit.loss.value()]) <= 1e-12);
        }
    }
}

proptest! {
    #![proptest_config(pt_config(48))]

    /// The blocked traces (`docs/fast.md` §4.1 rate and LIF, (K19)–(K23); §4.2 LSTM, (K40)–(K44);
    /// §4.3 ALIF, (K45)–(K49)) = literal e-prop at every block length from 0 (per step) to
    /// 9, with up to 40 steps (several blocks and a partial last one), every readout convention
    /// and regulariser, symmetric and random `B`, at ≤ 1e-12 per tensor.
    #[test]
    fn blocked_traces_equal_the_literal_eprop_at_every_block_length(
        kind in 0usize..4, variant in 0u32..768, n in 1usize..=4, n_in in 1usize..=3,
        steps in 1usize..=40, block in 0usize..=9, seed in any::<u64>(), ce in any::<bool>(),
        kappa in 0.0f64..=1.0,
    ) {
        let net = net_v(cell(kind, variant), n_in, n, 2, ce, kappa, variant);
        let (p, seq) = instance(&net, steps, seed);
        let fb = credit_eprop::random_feedback(&net, seed);
        for feedback in [Feedback::Symmetric, Feedback::Matrix(fb)] {
            let lit = credit_eprop::gradient(&net, &p, &seq, &feedback).unwrap();
            let fast = credit_eprop::fast::gradient_with_block(&net, &p, &seq, &feedback, block).unwrap();
            for (name, e) in per_tensor(&fast.grad, &lit.grad) {
                prop_assert!(e <= 1e-12, "eprop block {} {}: {:e}", block, name, e);
            }
            prop_assert!(rel([fast.loss], [lit.loss.value()]) <= 1e-12);
        }
    }
}

/// The LSTM's blocked traces over many full blocks of the default length (`T = 330`: five blocks
/// of 64 and a partial one of 10) = literal e-prop, with and without a regulariser and both
/// readout delays; the gradient is live (every cell tensor non-zero).
#[test]
fn lstm_blocked_traces_over_many_blocks_equal_the_literal_eprop() {
    for variant in [0u32, 96, 192 + 384, 96 + 192] {
        let net = net_v(cell(3, 0), 3, 5, 2, false, 0.9, variant);
        let (p, seq) = instance(&net, 330, 7);
        let lit = credit_eprop::gradient(&net, &p, &seq, &Feedback::Symmetric).unwrap();
        let fast = credit_eprop::fast(&net, &p, &seq, &Feedback::Symmetric).unwrap();
        for ((name, e), t) in per_tensor(&fast.grad, &lit.grad).into_iter().zip(&lit.grad.tensors) {
            assert!(e <= 1e-12, "variant {variant} {name}: {e:e}");
            assert!(t.value.iter().any(|v| *v != 0.0), "variant {variant} {name}: zero reference");
        }
        assert!(rel([fast.loss], [lit.loss.value()]) <= 1e-12, "variant {variant}: loss");
    }
}

/// The ALIF's blocked traces (`docs/fast.md` §4.3, (K45)–(K49)) over many blocks = literal
/// e-prop: `T = 331` (not a multiple of any block length used) at blocks of 1, 2, 3 (the carried
/// `ε^a`, `x̄` and `ψ^{t₀}` cross a block boundary at almost every step) and the default 64 (five
/// full blocks and a partial one of 11), with and without a regulariser, both readout delays,
/// both resets and refractoriness; the gradient is live (every cell tensor non-zero).
#[test]
fn alif_blocked_traces_over_many_blocks_equal_the_literal_eprop() {
    for variant in [0u32, 3, 96, 192 + 384, 96 + 192 + 1, 48 + 24] {
        let net = net_v(cell(2, variant), 3, 5, 2, false, 0.9, variant);
        let (p, seq) = instance(&net, 331, 11);
        let lit = credit_eprop::gradient(&net, &p, &seq, &Feedback::Symmetric).unwrap();
        for block in [1usize, 2, 3, 64] {
            let fast =
                credit_eprop::fast::gradient_with_block(&net, &p, &seq, &Feedback::Symmetric, block).unwrap();
            for ((name, e), t) in per_tensor(&fast.grad, &lit.grad).into_iter().zip(&lit.grad.tensors) {
                assert!(e <= 1e-12, "variant {variant} block {block} {name}: {e:e}");
                assert!(t.value.iter().any(|v| *v != 0.0), "variant {variant} {name}: zero reference");
            }
            assert!(rel([fast.loss], [lit.loss.value()]) <= 1e-12, "variant {variant} block {block}: loss");
        }
    }
}

proptest! {
    #![proptest_config(pt_config(32))]

    /// The ALIF's blocked traces (`docs/fast.md` §4.3) = literal e-prop at block lengths 1, 2, 3
    /// and 64 on sequences of 1–150 steps (mostly not a multiple of the block: a partial last
    /// block), every surrogate, reset, refractoriness, readout convention and regulariser,
    /// symmetric and random `B`, at ≤ 1e-12 per tensor; and in `f32` within 1e-3 of `f64`
    /// when the spike trains agree.
    #[test]
    fn alif_blocked_traces_equal_the_literal_eprop_at_short_and_full_blocks(
        variant in 0u32..768, n in 1usize..=4, n_in in 1usize..=3, steps in 1usize..=150,
        bi in 0usize..4, seed in any::<u64>(), ce in any::<bool>(), kappa in 0.0f64..=1.0,
    ) {
        let block = [1usize, 2, 3, 64][bi];
        let net = net_v(cell(2, variant), n_in, n, 2, ce, kappa, variant);
        let (p, seq) = instance(&net, steps, seed);
        let fb = credit_eprop::random_feedback(&net, seed);
        for feedback in [Feedback::Symmetric, Feedback::Matrix(fb)] {
            let lit = credit_eprop::gradient(&net, &p, &seq, &feedback).unwrap();
            let fast = credit_eprop::fast::gradient_with_block(&net, &p, &seq, &feedback, block).unwrap();
            for (name, e) in per_tensor(&fast.grad, &lit.grad) {
                prop_assert!(e <= 1e-12, "alif block {} {}: {:e}", block, name, e);
            }
            prop_assert!(rel([fast.loss], [lit.loss.value()]) <= 1e-12);
        }
        let p32: Params<f32> = p.cast();
        let (t64, t32) = (credit_core::fast::forward(&net, &p, &seq).unwrap(), credit_core::fast::forward(&net, &p32, &seq).unwrap());
        if t64.states.z.iter().zip(t32.states.z.iter()).all(|(a, b)| (*a > 0.5) == (*b > 0.5)) {
            let f64g = credit_eprop::fast::gradient_with_block(&net, &p, &seq, &Feedback::Symmetric, block).unwrap();
            let f32g = credit_eprop::fast::gradient_with_block(&net, &p32, &seq, &Feedback::Symmetric, block).unwrap();
            for (name, e) in per_tensor(&f32g.grad, &f64g.grad) {
                prop_assert!(e <= 1e-3, "alif f32 block {} {}: {:e}", block, name, e);
            }
        }
    }
}

/// Real and dual parts as `f64`.
fn parts<T: Scalar>(g: &Params<T>, dual: bool, f: impl Fn(T) -> f64 + Copy) -> Params<f64> {
    if dual { g.map(f) } else { g.values() }
}

macro_rules! scalar_tests {
    ($($module:ident: $t:ty, tol = $tol:expr;)*) => {$(
        mod $module {
            use super::*;

            fn lifted(net: &Network, p: &Params<f64>) -> Params<$t> {
                let dir = Params::<f64>::random(net, 7).unwrap();
                let mut q: Params<$t> = p.cast();
                for (t, d) in q.tensors.iter_mut().zip(&dir.tensors) {
                    for (x, v) in t.value.iter_mut().zip(d.value.iter()) {
                        *x = lift::<$t>(x.value(), *v);
                    }
                }
                q
            }

            /// Fast = literal in this scalar type, on every cell with two convention variants;
            /// for `Dual64` also the dual parts (the derivative along a direction).
            #[test]
            fn fast_equals_literal() {
                for kind in 0..4 {
                    for variant in [0u32, 3, 200] {
                        let net = net_v(cell(kind, variant), 3, 5, 2, variant == 3, 0.9, variant);
                        let (p, seq) = instance(&net, 14, 300 + kind as u64 + variant as u64);
                        let q = lifted(&net, &p);
                        let b = credit_bptt::gradient(&net, &q, &seq).unwrap();
                        let bf = credit_bptt::fast(&net, &q, &seq).unwrap();
                        assert_close("bptt real", &bf.grad.values(), &b.grad.values(), $tol);
                        let dual = |x: $t| eps(x);
                        assert_close("bptt dual", &parts(&bf.grad, true, dual), &parts(&b.grad, true, dual), $tol);
                        let fb = Feedback::Symmetric;
                        let e = credit_eprop::gradient(&net, &q, &seq, &fb).unwrap();
                        let ef = credit_eprop::fast(&net, &q, &seq, &fb).unwrap();
                        assert_close("eprop real", &ef.grad.values(), &e.grad.values(), $tol);
                        assert_close("eprop dual", &parts(&ef.grad, true, dual), &parts(&e.grad, true, dual), $tol);
                    }
                }
            }
        }
    )*};
}

/// The dual part of a scalar (0 for plain floats).
trait Eps: Scalar {
    fn eps_part(self) -> f64;
    fn with(x: f64, v: f64) -> Self;
}
impl Eps for f32 {
    fn eps_part(self) -> f64 {
        0.0
    }
    fn with(x: f64, _: f64) -> Self {
        x as f32
    }
}
impl Eps for f64 {
    fn eps_part(self) -> f64 {
        0.0
    }
    fn with(x: f64, _: f64) -> Self {
        x
    }
}
impl Eps for Dual64 {
    fn eps_part(self) -> f64 {
        self.eps
    }
    fn with(x: f64, v: f64) -> Self {
        Dual64::new(x, v)
    }
}
fn eps<T: Eps>(x: T) -> f64 {
    x.eps_part()
}
fn lift<T: Eps>(x: f64, v: f64) -> T {
    T::with(x, v)
}

scalar_tests! {
    f32_: f32, tol = 1e-4;
    f64_: f64, tol = 1e-12;
    dual64: Dual64, tol = 1e-12;
}

/// Fast e-prop is online: the state's size after 200 steps is its size after 10 (and the
/// literal online state's size grows no more).
#[test]
fn fast_eprop_state_is_flat_in_t() {
    for kind in 0..4 {
        let net = net_v(cell(kind, 0), 3, 4, 2, false, 0.9, 200);
        let p = Params::<f64>::random(&net, 1).unwrap();
        let seq = Sequence::random(&net, 200, 1).unwrap();
        let kernel = Kernel::new(&net, &p).unwrap();
        let b = p.w_out().transpose();
        let mut st = credit_eprop::fast::FastOnline::new(&net, &kernel);
        let mut sizes = Vec::new();
        for t in 0..200 {
            st.step(&net, &p, &kernel, &b, &seq.x[t], &seq.target[t], seq.mask[t]);
            if t == 9 || t == 199 {
                sizes.push(st.len_scalars());
            }
        }
        assert_eq!(sizes[0], sizes[1], "{}", net.cell.id());
    }
}

/// Bad input is a typed error naming the field, never a panic.
#[test]
fn bad_input_is_a_typed_error() {
    let net = net(cell(1, 0), 2, 3, 2, false, 0.9);
    let (p, seq) = instance(&net, 5, 1);
    let mut wrong = p.clone();
    wrong.tensors[1].value = DMatrix::zeros(2, 3);
    let field = |e: Error| match e {
        Error::Shape { field, .. } | Error::NonFinite { field, .. } | Error::Invalid { field, .. } => field,
        Error::Empty { field } => field,
    };
    assert_eq!(field(credit_bptt::fast(&net, &wrong, &seq).unwrap_err()), "params.w_rec");
    let fb = Feedback::Matrix(DMatrix::zeros(2, 2));
    assert_eq!(field(credit_eprop::fast(&net, &p, &seq, &fb).unwrap_err()), "feedback.B");
    let mut autapse = p.clone();
    autapse.tensors[1].value[(0, 0)] = 1.0;
    assert_eq!(
        field(credit_eprop::fast(&net, &autapse, &seq, &Feedback::Symmetric).unwrap_err()),
        "params.w_rec[(0, 0)]"
    );
    let mut short = seq.clone();
    short.x[2] = nalgebra::DVector::zeros(5);
    assert_eq!(field(credit_core::fast::forward(&net, &p, &short).unwrap_err()), "sequence.x[2]");
    let mut nan = p;
    nan.tensors[0].value[(1, 1)] = f64::NAN;
    assert_eq!(field(credit_bptt::fast(&net, &nan, &seq).unwrap_err()), "params.w_in");
}

/// The fast relations carry the liveness guard: on a silent LIF net (no input, no bias) their
/// rows exist and fail with the reason.
#[test]
fn fast_relations_fail_on_a_silent_net() {
    use credit_check::suite::{Config, Role};
    let net = net(cell(1, 0), 2, 3, 2, false, 0.8);
    let mut p = Params::<f64>::random(&net, 5).unwrap();
    p.tensors[2].value.fill(0.0);
    let mut seq = Sequence::random(&net, 8, 5).unwrap();
    seq.x.iter_mut().for_each(|x| x.fill(0.0));
    let cfg = Config {
        name: "silent".into(),
        steps: 8,
        net,
        seed: 1,
        scale: None,
        role: Role::Generic,
        data: Some((p, seq)),
        feedback: None,
        style: Default::default(),
    };
    let rows = credit_check::relations::run_config(&cfg).unwrap();
    for id in credit_check::fast_reverse::IDS {
        let mine: Vec<_> = rows.iter().filter(|r| r.relation == *id).collect();
        assert!(!mine.is_empty(), "{id} has rows");
        for r in mine {
            assert!(!r.pass, "{id} {} passed on a silent net", r.tensor);
            assert!(
                r.reason.as_deref().unwrap_or("").contains("not live: no spikes"),
                "{id}: {:?}",
                r.reason
            );
        }
    }
}
