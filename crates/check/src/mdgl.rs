//! The MDGL relations (issue 15); `docs/mdgl.md`. MDGL is compared with the m-order family's
//! order 1 under the last-step-hop reading (`credit-family`, Eq. F4), a different code path
//! (the family's level recursion with counted costs). A regularised config is compared without
//! its regulariser (MDGL refuses it).
//!
//! | id | compared | expect |
//! |---|---|---|
//! | `mdgl=family1-lsh` | MDGL with the self-hop vs the family's order 1, last-step-hop reading, every config; MDGL without the self-hop vs the same where `diag R ≡ 0` | equal (1e-12) |
//! | `mdgl-noself!=family1-lsh` | MDGL without the self-hop vs the family's order 1 where `diag R ≢ 0` (the exact difference is the diagonal hop) | differ |
//! | `mdgl!=rtrl` | MDGL vs RTRL on generic nets with `T > 2` (cell tensors) | differ |

use crate::compare::worst_tensor;
use crate::eprop::TOL_DIFFER;
use crate::relations::{Ctx, Expect};
use crate::snap::diag_r_zero;
use crate::suite::Role;
use credit_core::{Network, Params, Sequence};
use credit_family::{Reading, recursion};
use credit_mdgl::SelfHop;

/// Tolerance of the MDGL equalities (1e-12 relative per tensor).
pub const TOL_MDGL: f64 = 1e-12;

/// The ids of this module's relations.
pub const IDS: &[&str] = &["mdgl=family1-lsh", "mdgl-noself!=family1-lsh", "mdgl!=rtrl"];

pub(crate) fn rows(cx: &mut Ctx, p: &Params<f64>, seq: &Sequence) -> credit_core::Result<()> {
    let net = &cx.cfg.net.clone();
    let nc = net.n_cell_tensors();
    let plain = Network { reg: None, ..net.clone() };
    let with = credit_mdgl::gradient(&plain, p, seq, SelfHop::Include)?.grad;
    let family = recursion::gradient(&plain, p, seq, 1, Reading::LastStepHop)?.grad;
    cx.tensors("mdgl=family1-lsh", "f64", "self-hop: ", &with, &family, TOL_MDGL);
    let without = credit_mdgl::gradient(&plain, p, seq, SelfHop::Exclude)?.grad;
    if diag_r_zero(net, p) {
        cx.tensors("mdgl=family1-lsh", "f64", "no self-hop, diag R = 0: ", &without, &family, TOL_MDGL);
    } else {
        let (e, name, live) = worst_tensor(&without.tensors[..nc], &family.tensors[..nc]);
        let tensor = format!("max over cell tensors ({name})");
        cx.push_expect("mdgl-noself!=family1-lsh", Expect::Differ, "f64", tensor, e, TOL_DIFFER, live);
    }
    if cx.cfg.role == Role::Generic && seq.len() > 2 && cx.select.wants("mdgl!=rtrl") {
        let rtrl = credit_rtrl::gradient(&plain, p, seq)?.grad;
        let (e, name, live) = worst_tensor(&with.tensors[..nc], &rtrl.tensors[..nc]);
        let tensor = format!("max over cell tensors ({name})");
        cx.push_expect("mdgl!=rtrl", Expect::Differ, "f64", tensor, e, TOL_DIFFER, live);
    }
    Ok(())
}
