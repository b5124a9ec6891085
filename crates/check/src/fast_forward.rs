//! The fast forward-mode paths against the literal transcriptions (issue 11): each fast function
//! must equal the literal function its doc names, and the fast `f32` path the fast `f64` one.
//!
//! | id | compared | expect |
//! |---|---|---|
//! | `rtrl-fast=rtrl` | `credit_rtrl::fast::gradient` vs `credit_rtrl::gradient` (every single-layer config); `credit_rtrl::fast::stack_gradient` vs `credit_rtrl::stack::gradient` (every stack) | equal ([`TOL_FAST`]) |
//! | `family-fast=family` | `credit_family::fast::gradient` vs `credit_family::recursion::gradient`: hop count at orders `0, 1, ⌊(T−1)/2⌋, T−1` (`0..=3` when `T > 24`), last-step hop and time lag at orders `1` and `⌊(T−1)/2⌋` (`1, 2` when `T > 24`); loss and counted cost equal too | equal |
//! | `deep-fast=deep` | `credit_deep::fast::gradient_with` vs `credit_deep::gradient_with`, both [`Depth`]s (layer-local only where every layer is read: else its lower layers have no gradient), on every stack and on the one-layer stack of every single-layer config without a regulariser | equal |
//! | `ostl-fast=ostl` | `credit_ostl::fast::gradient` vs `credit_ostl::gradient`, the same configs | equal |
//! | `fast-forward-f32~f64` | each fast path above in `f32` vs the same in `f64` (family: hop count at order 1; identical spike trains required) | equal at [`TOL_F32`] |
//!
//! Liveness is the config's (the run's spikes, surrogate activity and gradient entries): a
//! silent net or a dead reference fails the row. Each row's reference is the literal (or the
//! `f64`) gradient of the tensor, which must be non-zero.

use crate::compare::{alive, max_rel_err};
use crate::relations::{Ctx, Row, Select, TOL_F32};
use crate::stacks::StackCase;
use credit_core::{CellModel, Params, Sequence, Stack, Trajectory};
use credit_deep::Depth;
use credit_family::Reading;

/// Tolerance of the fast-vs-literal relations in `f64` (the bar; measured ≤ ~1e-15).
pub const TOL_FAST: f64 = 1e-12;
/// Longest sequence on which the family runs at order `T − 1` (longer ones: orders `0..=3`).
pub const FAMILY_MAX_T: usize = 24;

/// The ids of this module's relations.
pub const IDS: &[&str] =
    &["rtrl-fast=rtrl", "family-fast=family", "deep-fast=deep", "ostl-fast=ostl", F32_ID];

const F32_ID: &str = "fast-forward-f32~f64";

/// The family orders compared on a sequence of `steps` steps, with their readings.
pub fn family_orders(steps: usize) -> Vec<(Reading, usize)> {
    let top = steps.saturating_sub(1);
    let mid = top / 2;
    let mut v: Vec<(Reading, usize)> = if steps > FAMILY_MAX_T {
        (0..=3.min(top)).map(|m| (Reading::HopCount, m)).collect()
    } else {
        [0, 1, mid, top].into_iter().map(|m| (Reading::HopCount, m)).collect()
    };
    // the other readings at order 1 and a middle order (2 on long sequences: the literal
    // recursion costs one dense level per order)
    let mid_other = if steps > FAMILY_MAX_T { 2.min(top) } else { mid.max(1).min(top) };
    for r in [Reading::LastStepHop, Reading::TimeLag] {
        v.push((r, 1.min(top)));
        v.push((r, mid_other));
    }
    v.sort_by_key(|&(r, m)| (r as u8, m));
    v.dedup();
    v
}

fn reading_id(r: Reading) -> &'static str {
    match r {
        Reading::HopCount => "hop-count",
        Reading::LastStepHop => "last-step-hop",
        Reading::TimeLag => "time-lag",
    }
}

/// Whether two trajectories emit the same spikes (`z > 0.5` at the same `(t, j)`).
fn same_spikes<A: credit_core::Scalar, B: credit_core::Scalar>(
    a: &[nalgebra::DVector<A>],
    b: &[nalgebra::DVector<B>],
) -> bool {
    a.iter().zip(b).all(|(x, y)| x.iter().zip(y.iter()).all(|(u, v)| (u.value() > 0.5) == (v.value() > 0.5)))
}

/// The single-layer rows: `rtrl-fast=rtrl`, `family-fast=family`, and on the one-layer stack of
/// the network (without a regulariser) `deep-fast=deep` and `ostl-fast=ostl`; their `f32` rows.
pub(crate) fn rows(
    cx: &mut Ctx,
    p: &Params<f64>,
    seq: &Sequence,
    traj: &Trajectory<f64>,
    rtrl: &Params<f64>,
) -> credit_core::Result<()> {
    let net = &cx.cfg.net.clone();
    let sel = cx.select;
    let p32: Params<f32> = p.cast();
    let mut f32_pairs: Vec<(String, Params<f64>, Params<f64>)> = Vec::new();
    if sel.wants("rtrl-fast=rtrl") || sel.wants(F32_ID) {
        let fast = credit_rtrl::fast::gradient(net, p, seq)?;
        cx.tensors("rtrl-fast=rtrl", "f64", "", &fast.grad, rtrl, TOL_FAST);
        if sel.wants(F32_ID) {
            let f32 = credit_rtrl::fast::gradient(net, &p32, seq)?;
            f32_pairs.push(("rtrl/".into(), f32.grad.values(), fast.grad));
        }
    }
    if sel.wants("family-fast=family") {
        for (reading, m) in family_orders(seq.len()) {
            let lit = credit_family::recursion::gradient(net, p, seq, m, reading)?;
            let fast = credit_family::fast::gradient(net, p, seq, m, reading)?;
            let prefix = format!("{} m={m}: ", reading_id(reading));
            cx.tensors("family-fast=family", "f64", &prefix, &fast.grad, &lit.grad, TOL_FAST);
            // the loss and the counted cost are the literal's too
            let dl = (fast.loss - lit.loss).abs() / lit.loss.abs().max(f64::MIN_POSITIVE);
            let cost_ok = fast.cost == lit.cost;
            cx.push(
                "family-fast=family",
                "f64",
                format!("{prefix}loss, cost"),
                if cost_ok { dl } else { f64::INFINITY },
                TOL_FAST,
                lit.loss != 0.0,
            );
        }
    }
    if sel.wants(F32_ID) {
        let m = 1.min(seq.len().saturating_sub(1));
        let a = credit_family::fast::gradient(net, &p32, seq, m, Reading::HopCount)?;
        let b = credit_family::fast::gradient(net, p, seq, m, Reading::HopCount)?;
        f32_pairs.push((format!("family m={m}/"), a.grad.values(), b.grad));
    }
    if net.reg.is_none() && sel.any(&["deep-fast=deep", "ostl-fast=ostl", F32_ID]) {
        let stack = Stack::of_network(net)?;
        let q = stack.rename(p);
        for (relation, label, lit, fast, f32) in stack_pairs(&stack, &q, seq, sel)? {
            cx.tensors(relation, "f64", label, &fast, &lit, TOL_FAST);
            if let Some(f) = f32 {
                f32_pairs.push((label.into(), f, fast));
            }
        }
    }
    if !f32_pairs.is_empty() {
        let t32 = credit_core::forward(net, &p32, seq, credit_core::ForwardOptions::default())?;
        let ok = !net.cell.is_spiking() || same_spikes(&traj.z, &t32.z);
        for (label, a, b) in f32_pairs {
            let before = cx.rows.len();
            cx.tensors(F32_ID, "f32", &label, &a, &b, TOL_F32);
            if !ok {
                for r in &mut cx.rows[before..] {
                    r.pass = false;
                    r.reason.get_or_insert_with(|| "the f32 and f64 spike trains differ".into());
                }
            }
        }
    }
    Ok(())
}

type Pair = (&'static str, &'static str, Params<f64>, Params<f64>, Option<Params<f64>>);

/// `(relation, f32 label, literal, fast f64, fast f32 when selected)` of deep e-prop (both
/// depths) and OSTL on a stack.
fn stack_pairs(
    stack: &Stack,
    p: &Params<f64>,
    seq: &Sequence,
    sel: Select,
) -> credit_core::Result<Vec<Pair>> {
    let p32: Params<f32> = p.cast();
    let f32 = sel.wants(F32_ID);
    let mut v: Vec<Pair> = Vec::new();
    if sel.any(&["deep-fast=deep", F32_ID]) {
        // layer-local e-prop gives the lower layers of a top-read stack no gradient at all (a
        // dead reference): it runs where every layer is read
        let local = stack.layers.len() == 1 || stack.readout_from == credit_core::ReadoutFrom::All;
        let depths: &[(Depth, &str)] = if local {
            &[(Depth::Recursive, "deep/"), (Depth::LayerLocal, "deep-layer-local/")]
        } else {
            &[(Depth::Recursive, "deep/")]
        };
        for &(depth, label) in depths {
            let lit = credit_deep::gradient_with(stack, p, seq, depth)?.grad;
            let fast = credit_deep::fast::gradient_with(stack, p, seq, depth)?.grad;
            let g32 = if f32 {
                Some(credit_deep::fast::gradient_with(stack, &p32, seq, depth)?.grad.values())
            } else {
                None
            };
            v.push(("deep-fast=deep", label, lit, fast, g32));
        }
    }
    if sel.any(&["ostl-fast=ostl", F32_ID]) {
        let lit = credit_ostl::gradient(stack, p, seq)?.grad;
        let fast = credit_ostl::fast::gradient(stack, p, seq)?.grad;
        let g32 = if f32 { Some(credit_ostl::fast::gradient(stack, &p32, seq)?.grad.values()) } else { None };
        v.push(("ostl-fast=ostl", "ostl/", lit, fast, g32));
    }
    Ok(v)
}

/// The stack rows: `rtrl-fast=rtrl`, `deep-fast=deep`, `ostl-fast=ostl` and their `f32` rows on
/// one stack, with the stack's liveness; `row` builds a row as the stack relations do.
pub(crate) fn stack_rows(case: &StackCase<'_>) -> credit_core::Result<Vec<Row>> {
    let StackCase { stack, p, seq, sel, row } = *case;
    let mut rows = Vec::new();
    let p32: Params<f32> = p.cast();
    let t64 = stack.forward(p, seq, &credit_core::Edges::default())?;
    let t32 = stack.forward(&p32, seq, &credit_core::Edges::default())?;
    let spikes_ok = t64.layers.iter().zip(&t32.layers).all(|(a, b)| same_spikes(&a.z, &b.z));
    let mut push = |relation: &'static str,
                    scalar: &'static str,
                    label: &str,
                    a: &Params<f64>,
                    b: &Params<f64>,
                    tol: f64| {
        for (ta, tb) in a.tensors.iter().zip(&b.tensors) {
            let err = max_rel_err(&ta.value, &tb.value);
            let mut r = row(relation, scalar, format!("{label}{}", ta.name), err, tol, alive(&tb.value));
            if scalar == "f32" && !spikes_ok {
                r.pass = false;
                r.reason.get_or_insert_with(|| "the f32 and f64 spike trains differ".into());
            }
            rows.push(r);
        }
    };
    if sel.any(&["rtrl-fast=rtrl", F32_ID]) {
        let lit = credit_rtrl::stack::gradient(stack, p, seq)?.grad;
        let fast = credit_rtrl::fast::stack_gradient(stack, p, seq)?.grad;
        push("rtrl-fast=rtrl", "f64", "", &fast, &lit, TOL_FAST);
        if sel.wants(F32_ID) {
            let g32 = credit_rtrl::fast::stack_gradient(stack, &p32, seq)?.grad.values();
            push(F32_ID, "f32", "rtrl/", &g32, &fast, TOL_F32);
        }
    }
    for (relation, label, lit, fast, g32) in stack_pairs(stack, p, seq, sel)? {
        push(relation, "f64", label, &fast, &lit, TOL_FAST);
        if let Some(g) = g32 {
            push(F32_ID, "f32", label, &g, &fast, TOL_F32);
        }
    }
    rows.retain(|r| sel.wants(r.relation));
    Ok(rows)
}
