//! The relations of the fast reverse and trace paths (issue 11): fast BPTT and fast e-prop
//! against their literal transcriptions, and the fast `f32` paths against the fast `f64` ones
//! (`docs/fast.md` §5).
//!
//! | id | compared | expect |
//! |---|---|---|
//! | `bptt-fast=bptt` | [`credit_bptt::fast()`] vs [`credit_bptt::gradient`]: every tensor and the loss; [`credit_bptt::fast::stack_gradient`] vs [`credit_bptt::stack::gradient`] on every stack and on the one-layer stack of every single-layer config without a regulariser (rows `stack1/…`) | equal (1e-12) |
//! | `eprop-fast=eprop` | [`credit_eprop::fast()`] vs [`credit_eprop::gradient`] with symmetric (also with trace blocks of 0 and 7 steps: rate, LIF, ALIF and LSTM blocked paths), random and adaptive feedback (adaptive: two Kolen–Pollack updates, each side driven by its own gradients); every tensor and the loss | equal (1e-12) |
//! | `fast-f32~f64` | fast BPTT (single layer and stacks) and fast symmetric e-prop in `f32` vs the same in `f64` (identical spike trains required) | equal at the f32 tolerance |
//!
//! Liveness is the config's (spikes, active surrogate, live gradient tensors) and every
//! reference tensor must be non-zero, as for every relation of [`crate::relations`].

use crate::compare::{alive, max_rel_err};
use crate::relations::{Ctx, Row, TOL_F32};
use crate::stacks::StackCase;
use credit_core::{CellModel, Params, Sequence, Stack};
use credit_eprop::{Adaptive, Feedback};
use nalgebra::DMatrix;

/// Tolerance of the fast = literal relations in `f64` (the bar; measured ~1e-15).
pub const TOL_FAST: f64 = 1e-12;
/// `λ` of the adaptive run of `eprop-fast=eprop`.
pub const ADAPTIVE_LAMBDA: f64 = 0.1;

/// The ids of this module's relations.
pub const IDS: &[&str] = &["bptt-fast=bptt", "eprop-fast=eprop", "fast-f32~f64"];

/// The ids of this module's relations that have rows on stacks (`stack_rows`).
pub const STACK_IDS: &[&str] = &["bptt-fast=bptt", "fast-f32~f64"];

/// `|a − b| / |b|` of two losses (0 when both are 0, infinity when not finite).
fn loss_err(a: f64, b: f64) -> f64 {
    max_rel_err(&DMatrix::from_element(1, 1, a), &DMatrix::from_element(1, 1, b))
}

pub(crate) fn rows(
    cx: &mut Ctx,
    p: &Params<f64>,
    seq: &Sequence,
    bptt: &credit_bptt::Bptt<f64>,
) -> credit_core::Result<()> {
    let net = &cx.cfg.net.clone();
    let fast_bptt = credit_bptt::fast(net, p, seq)?;
    if cx.select.wants("bptt-fast=bptt") {
        cx.tensors("bptt-fast=bptt", "f64", "", &fast_bptt.grad, &bptt.grad, TOL_FAST);
        let err = loss_err(fast_bptt.loss, bptt.loss);
        cx.push("bptt-fast=bptt", "f64", "loss".into(), err, TOL_FAST, bptt.loss != 0.0);
        if net.reg.is_none() {
            // the fast stack path on the one-layer stack of the network: every cell and convention
            let stack = Stack::of_network(net)?;
            let q = stack.rename(p);
            let lit = credit_bptt::stack::gradient(&stack, &q, seq)?;
            let fast = credit_bptt::fast::stack_gradient(&stack, &q, seq)?;
            cx.tensors("bptt-fast=bptt", "f64", "stack1/", &fast.grad, &lit.grad, TOL_FAST);
            let err = loss_err(fast.loss, lit.loss);
            cx.push("bptt-fast=bptt", "f64", "stack1/loss".into(), err, TOL_FAST, lit.loss != 0.0);
        }
    }
    let sym_fast = credit_eprop::fast(net, p, seq, &Feedback::Symmetric)?;
    if cx.select.wants("eprop-fast=eprop") {
        let b_random =
            cx.cfg.feedback.clone().unwrap_or_else(|| credit_eprop::random_feedback(net, cx.cfg.seed));
        let random = Feedback::Matrix(b_random);
        for (prefix, feedback, fast) in
            [("sym/", &Feedback::Symmetric, Some(&sym_fast)), ("rand/", &random, None)]
        {
            let owned;
            let fast = match fast {
                Some(f) => f,
                None => {
                    owned = credit_eprop::fast(net, p, seq, feedback)?;
                    &owned
                }
            };
            let lit = credit_eprop::gradient(net, p, seq, feedback)?;
            cx.tensors("eprop-fast=eprop", "f64", prefix, &fast.grad, &lit.grad, TOL_FAST);
            let err = loss_err(fast.loss, lit.loss);
            cx.push("eprop-fast=eprop", "f64", format!("{prefix}loss"), err, TOL_FAST, lit.loss != 0.0);
        }
        // the blocked traces of rate, LIF (docs/fast.md §4.1), LSTM (§4.2) and ALIF (§4.3) at other block
        // lengths: 0 (per step), 7 (several blocks and a partial last one on the suite's 8–60 steps)
        for block in [0, 7] {
            let fast = credit_eprop::fast::gradient_with_block(net, p, seq, &Feedback::Symmetric, block)?;
            let lit = credit_eprop::gradient(net, p, seq, &Feedback::Symmetric)?;
            cx.tensors("eprop-fast=eprop", "f64", &format!("sym-k{block}/"), &fast.grad, &lit.grad, TOL_FAST);
        }
        adaptive_rows(cx, p, seq)?;
    }
    if cx.select.wants("fast-f32~f64") {
        let p32: Params<f32> = p.cast();
        let t64 = credit_core::fast::forward(net, p, seq)?;
        let t32 = credit_core::fast::forward(net, &p32, seq)?;
        let same_spikes = t64.states.z.iter().zip(t32.states.z.iter()).all(|(a, b)| (*a > 0.5) == (*b > 0.5));
        let ok = same_spikes || !net.cell.is_spiking();
        let b32 = credit_bptt::fast(net, &p32, seq)?;
        let e32 = credit_eprop::fast(net, &p32, seq, &Feedback::Symmetric)?;
        for (name, g32, g64) in [("bptt/", &b32.grad, &fast_bptt.grad), ("eprop/", &e32.grad, &sym_fast.grad)]
        {
            let before = cx.rows.len();
            cx.tensors("fast-f32~f64", "f32", name, &g32.values(), g64, TOL_F32);
            if !ok {
                for r in &mut cx.rows[before..] {
                    r.pass = false;
                    r.tensor.push_str(" (spike trains differ)");
                    r.reason.get_or_insert_with(|| "the f32 and f64 spike trains differ".into());
                }
            }
        }
    }
    Ok(())
}

/// Adaptive e-prop through two Kolen–Pollack updates (Eq. E11), the literal and the fast side
/// each driven by its own gradients from the same start; the gradients after the updates are
/// compared (rows `adaptive/…`): the fast path is a drop-in replacement inside the training loop.
fn adaptive_rows(cx: &mut Ctx, p: &Params<f64>, seq: &Sequence) -> credit_core::Result<()> {
    let net = &cx.cfg.net.clone();
    let b0 = credit_eprop::random_feedback(net, cx.cfg.seed ^ 7);
    let (mut pl, mut pf) = (p.clone(), p.clone());
    let (mut al, mut af) =
        (Adaptive { b: b0.clone(), lambda: ADAPTIVE_LAMBDA }, Adaptive { b: b0, lambda: ADAPTIVE_LAMBDA });
    for _ in 0..2 {
        let gl = credit_eprop::gradient(net, &pl, seq, &Feedback::Matrix(al.b.clone()))?.grad;
        let gf = credit_eprop::fast(net, &pf, seq, &Feedback::Matrix(af.b.clone()))?.grad;
        let largest = gl.tensors.iter().map(|t| t.value.norm()).fold(0.0, f64::max);
        let lr = 0.05 / largest.max(f64::MIN_POSITIVE);
        al.update(&mut pl, &gl, lr);
        af.update(&mut pf, &gf, lr);
    }
    let lit = credit_eprop::gradient(net, &pl, seq, &Feedback::Matrix(al.b.clone()))?;
    let fast = credit_eprop::fast(net, &pf, seq, &Feedback::Matrix(af.b.clone()))?;
    cx.tensors("eprop-fast=eprop", "f64", "adaptive/", &fast.grad, &lit.grad, TOL_FAST);
    let err = loss_err(fast.loss, lit.loss);
    cx.push("eprop-fast=eprop", "f64", "adaptive/loss".into(), err, TOL_FAST, lit.loss != 0.0);
    Ok(())
}

/// The stack rows of `bptt-fast=bptt` ([`credit_bptt::fast::stack_gradient`] vs
/// [`credit_bptt::stack::gradient`], every tensor and the loss) and of `fast-f32~f64` (the fast
/// stack path in `f32` vs `f64`, identical spike trains in every layer required), with the
/// stack's liveness: `row` builds a row as the stack relations do.
pub(crate) fn stack_rows(case: &StackCase<'_>) -> credit_core::Result<Vec<Row>> {
    let StackCase { stack, p, seq, sel, row } = *case;
    let mut rows = Vec::new();
    if !sel.any(STACK_IDS) {
        return Ok(rows);
    }
    let fast = credit_bptt::fast::stack_gradient(stack, p, seq)?;
    if sel.wants("bptt-fast=bptt") {
        let lit = credit_bptt::stack::gradient(stack, p, seq)?;
        for (ta, tb) in fast.grad.tensors.iter().zip(&lit.grad.tensors) {
            let err = max_rel_err(&ta.value, &tb.value);
            rows.push(row("bptt-fast=bptt", "f64", ta.name.to_string(), err, TOL_FAST, alive(&tb.value)));
        }
        let err = loss_err(fast.loss, lit.loss);
        rows.push(row("bptt-fast=bptt", "f64", "loss".into(), err, TOL_FAST, lit.loss != 0.0));
    }
    if sel.wants("fast-f32~f64") {
        let p32: Params<f32> = p.cast();
        let t64 = stack.forward(p, seq, &credit_core::Edges::default())?;
        let t32 = stack.forward(&p32, seq, &credit_core::Edges::default())?;
        let spikes_ok = t64.layers.iter().zip(&t32.layers).zip(&stack.layers).all(|((a, b), layer)| {
            !layer.cell.is_spiking()
                || a.z
                    .iter()
                    .zip(&b.z)
                    .all(|(u, v)| u.iter().zip(v.iter()).all(|(x, y)| (*x > 0.5) == (*y > 0.5)))
        });
        let g32 = credit_bptt::fast::stack_gradient(stack, &p32, seq)?.grad.values();
        for (ta, tb) in g32.tensors.iter().zip(&fast.grad.tensors) {
            let err = max_rel_err(&ta.value, &tb.value);
            let mut r =
                row("fast-f32~f64", "f32", format!("bptt/{}", ta.name), err, TOL_F32, alive(&tb.value));
            if !spikes_ok {
                r.pass = false;
                r.reason.get_or_insert_with(|| "the f32 and f64 spike trains differ".into());
            }
            rows.push(r);
        }
    }
    Ok(rows)
}
