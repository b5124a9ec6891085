//! The m-order family relations (issue 4). The family is a reconstruction (`docs/family.md`).
//!
//! | id | compared | expect |
//! |---|---|---|
//! | `family0=eprop` | order 0 of the recursion vs symmetric e-prop (online form) | equal (1e-12) |
//! | `familyT=rtrl` | order `T − 1` vs RTRL | equal |
//! | `family-recursion=family-graded` | the recursion (F1) vs the hop-graded forward pass (F6), every order `0..T` when `T ≤ GRADED_MAX_T`, else orders `0..GRADED_TRUNCATED` from the graded pass truncated at `GRADED_TRUNCATED` coefficients (exact for those orders); one row per tensor with the worst order | equal |
//! | `familym!=rtrl` | order `m`, `0 < m < T − 1`, vs RTRL: smooth cells `m ≤ 3` ([`DIFFER_MAX_ORDER`]), spiking cells `m = 1` (high-order paths die where ψ = 0) | differ |

use crate::compare::{alive, max_rel_err, worst_tensor};
use crate::relations::{Ctx, Expect, TOL_F64};
use crate::suite::Role;
use credit_core::{CellModel, Params, Sequence};
use credit_eprop::Feedback;
use credit_family::{Reading, graded, recursion};

/// Coefficients of the graded number: configs with `T ≤ GRADED_MAX_T` run the four family
/// relations at every order; longer configs run `family-recursion=family-graded` at the orders
/// below [`GRADED_TRUNCATED`] only.
pub const GRADED_MAX_T: usize = 24;
/// Coefficients of the truncated graded pass on configs with `T > GRADED_MAX_T`: it witnesses
/// the orders `0..GRADED_TRUNCATED` there (exact for those orders, `docs/family.md` §5).
pub const GRADED_TRUNCATED: usize = 4;
/// Tolerance of `family0=eprop` (the bar).
pub const TOL_FAMILY0: f64 = 1e-12;
/// Threshold of `familym!=rtrl`: the order-`m` gradient must be further than this from RTRL.
/// Far above rounding (~1e-15 where the relations are equalities); high orders of smooth cells
/// differ from RTRL by small but structural amounts (paths with more than `m` hops).
pub const TOL_FAMILY_DIFFER: f64 = 1e-12;
/// Highest order asserted to differ from RTRL on smooth cells. The paths an order `m` drops have
/// more than `m` hops, and their weight falls geometrically with the hop count (products of
/// `m + 1` or more one-step Jacobians): beyond a few hops it sinks below any threshold that
/// still admits rounding (measured: order 18 of a `T = 20` rate net is within 7e-13 of RTRL).
/// Higher orders are reported by `cargo xtask family-table`, not asserted.
pub const DIFFER_MAX_ORDER: usize = 3;

/// The ids of this module's relations (`check-gradients --relations` runs `rows` when one
/// of them is selected).
pub const IDS: &[&str] =
    &["family0=eprop", "familyT=rtrl", "family-recursion=family-graded", "familym!=rtrl"];

pub(crate) fn rows(
    cx: &mut Ctx,
    p: &Params<f64>,
    seq: &Sequence,
    rtrl: &Params<f64>,
) -> credit_core::Result<()> {
    let net = &cx.cfg.net.clone();
    let steps = seq.len();
    if steps > GRADED_MAX_T {
        // the graded pass truncated at GRADED_TRUNCATED coefficients is exact for the orders
        // below it (docs/family.md §5): the second witness of orders 0..GRADED_TRUNCATED
        let graded = graded::family_gradients_truncated::<GRADED_TRUNCATED>(net, p, seq)?;
        let mut by_m = Vec::with_capacity(GRADED_TRUNCATED);
        for m in 0..GRADED_TRUNCATED.min(steps) {
            by_m.push(recursion::gradient(net, p, seq, m, Reading::HopCount)?.grad);
        }
        let scope = format!(", orders 0..={} of G={GRADED_TRUNCATED}", by_m.len().saturating_sub(1));
        recursion_vs_graded(cx, p, &by_m, &graded, &scope);
        return Ok(());
    }
    let nc = net.n_cell_tensors();
    // family0 = e-prop
    let f0 = recursion::gradient(net, p, seq, 0, Reading::HopCount)?;
    let ep = credit_eprop::gradient(net, p, seq, &Feedback::Symmetric)?;
    cx.tensors("family0=eprop", "f64", "", &f0.grad, &ep.grad, TOL_FAMILY0);
    // familyT = RTRL
    let top = recursion::gradient(net, p, seq, steps - 1, Reading::HopCount)?;
    cx.tensors("familyT=rtrl", "f64", &format!("m={}: ", steps - 1), &top.grad, rtrl, TOL_F64);
    // recursion = graded, every order
    let graded = graded::family_gradients::<GRADED_MAX_T>(net, p, seq)?;
    let mut by_m = Vec::with_capacity(steps);
    for m in 0..steps {
        by_m.push(if m == 0 {
            f0.grad.clone()
        } else {
            recursion::gradient(net, p, seq, m, Reading::HopCount)?.grad
        });
    }
    recursion_vs_graded(cx, p, &by_m, &graded, "");
    // familym != RTRL on generic nets
    if cx.cfg.role == Role::Generic {
        let last = if net.cell.is_spiking() { 1 } else { DIFFER_MAX_ORDER }.min(steps.saturating_sub(2));
        for (m, rec) in by_m.iter().enumerate().take(last + 1).skip(1) {
            let (e_max, name, live) = worst_tensor(&rec.tensors[..nc], &rtrl.tensors[..nc]);
            let tensor = format!("m={m}: max over cell tensors ({name})");
            cx.push_expect("familym!=rtrl", Expect::Differ, "f64", tensor, e_max, TOL_FAMILY_DIFFER, live);
        }
    }
    Ok(())
}

/// `family-recursion=family-graded`: the recursion's order `m` (`by_m[m]`) against the graded
/// pass's (`graded[m]`) for every `m < by_m.len()`; one row per tensor with the worst order.
/// `scope` is appended to the tensor label (the orders compared when they are not all).
fn recursion_vs_graded(
    cx: &mut Ctx,
    p: &Params<f64>,
    by_m: &[Params<f64>],
    graded: &[Params<f64>],
    scope: &str,
) {
    let mut worst = vec![(0.0f64, 0usize, true); p.tensors.len()];
    for (m, (rec, g)) in by_m.iter().zip(graded).enumerate() {
        for (i, (a, b)) in rec.tensors.iter().zip(&g.tensors).enumerate() {
            let e = max_rel_err(&a.value, &b.value);
            if e >= worst[i].0 {
                (worst[i].0, worst[i].1) = (e, m);
            }
            worst[i].2 &= alive(&b.value);
        }
    }
    for (i, t) in p.tensors.iter().enumerate() {
        let (e, m, live) = worst[i];
        cx.push(
            "family-recursion=family-graded",
            "f64",
            format!("{} (worst m={m}{scope})", t.name),
            e,
            TOL_F64,
            live,
        );
    }
}
