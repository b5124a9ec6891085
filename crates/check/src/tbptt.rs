//! The truncated-BPTT relations (issue 15), property P16 of the design notes; `docs/tbptt.md`.
//!
//! Both rules refuse the firing-rate regulariser, so a regularised config is compared without it
//! (same cell, conventions, weights and data), against BPTT on that plain network.
//!
//! | id | compared | expect |
//! |---|---|---|
//! | `ebptt-full=bptt` | E-BPTT with windows `L = T` and `L = T + 3` vs BPTT | equal (1e-12) |
//! | `fbptt-full=bptt` | F-BPTT with window `L = T` vs BPTT | equal (1e-12) |
//! | `ebptt-window=bptt-prefix` | E-BPTT (`L = ⌈T/2⌉`) after its first window closes vs BPTT (`credit-bptt`) on the first `L` steps: the truncation at the window's end, witnessed by other code | equal (1e-12) |
//! | `ebptt!=bptt` | E-BPTT with `L = 2 < T` vs BPTT (max over tensors) | differ |
//! | `fbptt!=bptt` | F-BPTT with `L = 2 < T` vs BPTT (max over tensors) | differ |

use crate::compare::worst_tensor;
use crate::eprop::TOL_DIFFER;
use crate::relations::{Ctx, Expect};
use credit_core::{Network, Params, Sequence};
use credit_tbptt::Ebptt;

/// Tolerance of the truncated-BPTT equalities (1e-12 relative per tensor).
pub const TOL_TBPTT: f64 = 1e-12;
/// Window of the `differ` guards.
pub const SHORT_WINDOW: usize = 2;

/// The ids of this module's relations.
pub const IDS: &[&str] =
    &["ebptt-full=bptt", "fbptt-full=bptt", "ebptt-window=bptt-prefix", "ebptt!=bptt", "fbptt!=bptt"];

/// The first `steps` steps of `seq`.
pub fn prefix(seq: &Sequence, steps: usize) -> Sequence {
    Sequence {
        x: seq.x[..steps].to_vec(),
        target: seq.target[..steps].to_vec(),
        mask: seq.mask[..steps].to_vec(),
    }
}

/// E-BPTT's gradient after its first window of `window` steps has closed (the state's
/// accumulated gradient at `t = window`).
pub fn ebptt_first_window(
    net: &Network,
    p: &Params<f64>,
    seq: &Sequence,
    window: usize,
) -> credit_core::Result<Params<f64>> {
    let mut st = Ebptt::new(net, window)?;
    let w = p.cell_tensors(net);
    for t in 0..window {
        st.step(net, p, &w, &seq.x[t], &seq.target[t], seq.mask[t]);
    }
    Ok(st.grad)
}

pub(crate) fn rows(
    cx: &mut Ctx,
    p: &Params<f64>,
    seq: &Sequence,
    bptt: &Params<f64>,
) -> credit_core::Result<()> {
    let net = &cx.cfg.net.clone();
    let steps = seq.len();
    let plain = Network { reg: None, ..net.clone() };
    let bptt_plain =
        if net.reg.is_some() { credit_bptt::gradient(&plain, p, seq)?.grad } else { bptt.clone() };
    if cx.select.wants("ebptt-full=bptt") {
        for window in [steps, steps + 3] {
            let e = credit_tbptt::ebptt(&plain, p, seq, window)?;
            cx.tensors("ebptt-full=bptt", "f64", &format!("L={window}: "), &e.grad, &bptt_plain, TOL_TBPTT);
        }
    }
    if cx.select.wants("fbptt-full=bptt") {
        let f = credit_tbptt::fbptt(&plain, p, seq, steps)?;
        cx.tensors("fbptt-full=bptt", "f64", &format!("L={steps}: "), &f.grad, &bptt_plain, TOL_TBPTT);
    }
    if cx.select.wants("ebptt-window=bptt-prefix") && steps >= 2 {
        let window = steps.div_ceil(2);
        let first = ebptt_first_window(&plain, p, seq, window)?;
        let reference = credit_bptt::gradient(&plain, p, &prefix(seq, window))?.grad;
        let label = format!("L={window}, t={window}: ");
        cx.tensors("ebptt-window=bptt-prefix", "f64", &label, &first, &reference, TOL_TBPTT);
    }
    if steps > SHORT_WINDOW {
        let short = [
            ("ebptt!=bptt", credit_tbptt::ebptt as fn(&Network, &Params<f64>, &Sequence, usize) -> _),
            ("fbptt!=bptt", credit_tbptt::fbptt),
        ];
        for (id, rule) in short {
            if cx.select.wants(id) {
                let g = rule(&plain, p, seq, SHORT_WINDOW)?.grad;
                let (e, name, live) = worst_tensor(&g.tensors, &bptt_plain.tensors);
                let tensor = format!("L={SHORT_WINDOW}: max over tensors ({name})");
                cx.push_expect(id, Expect::Differ, "f64", tensor, e, TOL_DIFFER, live);
            }
        }
    }
    Ok(())
}
