//! The SnAp-n relations (issue 15), properties P8–P9 of the design notes; `docs/snap.md` §4.
//!
//! | id | compared | expect |
//! |---|---|---|
//! | `snap-full=rtrl` | SnAp-`T` vs RTRL (`P_T` covers every entry RTRL can fill in `T` steps); on the config, and on its ring-sparsified copy ([`ring`]) run for `T' = N − 1` steps, where `P_{T'}` is **not** full (so the mask really removes entries and the claim is not the identity) ; the config's run also against BPTT (rows `vs BPTT`: SnAp shares RTRL's readout bookkeeping, `credit_core::online`) | equal (1e-12) |
//! | `snap2=rtrl` | SnAp-2 vs RTRL on the generic configs, whose off-diagonal `W_rec` entries are all non-zero (the row fails if `P_2` is not full there) | equal (1e-12) |
//! | `snap1=rtrl@W0` | SnAp-1 vs RTRL with `W_rec = 0` (`J` block-diagonal, reset allowed) | equal (1e-12) |
//! | `snap1!=rtrl` | SnAp-1 vs RTRL on generic nets (the approximation is live) | differ |
//! | `snap1=eprop` | SnAp-1 vs symmetric e-prop where `diag R ≡ 0` (no autapse, reset detached or absent) | equal (1e-12) |
//! | `snap1=eprop+diagR` | SnAp-1 vs e-prop's own trace code run with `D` replaced by `D + diag R` and the partial signal `∂E/∂z` (the exact difference between the two rules), every config | equal (1e-12) |
//! | `snap1!=eprop` | SnAp-1 vs symmetric e-prop where `diag R ≢ 0` | differ |
//! | `snap-fast=snap` | the sparse path `credit_snap::sparse::gradient` vs the literal `credit_snap::gradient` at `n = 1, 2, T` on every config, and at `n = T'` on its ring-sparsified copy (a pattern neither diagonal nor full); every tensor and the loss | equal (1e-12) |
//! | `snap-fast-f32~f64` | the sparse path in `f32` vs the same in `f64`, `n = 1, 2, T` (identical spike trains required) | equal at [`TOL_F32`] |

use crate::compare::worst_tensor;
use crate::eprop::TOL_DIFFER;
use crate::relations::{Ctx, Expect, TOL_F32};
use crate::suite::Role;
use credit_core::cell::{Cell, Reset};
use credit_core::{CellModel, LocalJacobians, Network, Params, Sequence, Trajectory};
use credit_eprop::Feedback;
use credit_eprop::traces::Eligibility;
use nalgebra::DMatrix;

/// Tolerance of the SnAp equalities (the bar: 1e-12 relative per tensor).
pub const TOL_SNAP: f64 = 1e-12;

/// The ids of this module's relations.
pub const IDS: &[&str] = &[
    "snap-full=rtrl",
    "snap2=rtrl",
    "snap1=rtrl@W0",
    "snap1!=rtrl",
    "snap1=eprop",
    "snap1=eprop+diagR",
    "snap1!=eprop",
    "snap-fast=snap",
    FAST_F32,
];

const FAST_F32: &str = "snap-fast-f32~f64";

/// `snap-fast=snap` and `snap-fast-f32~f64`: the sparse path against the literal one at
/// `n = 1, 2, T` (and `T'` on the ring copy), and in `f32` against `f64`.
fn fast_rows(
    cx: &mut Ctx,
    p: &Params<f64>,
    seq: &Sequence,
    traj: &Trajectory<f64>,
) -> credit_core::Result<()> {
    let net = &cx.cfg.net.clone();
    let steps = seq.len();
    let mut orders = vec![1, 2, steps.max(1)];
    orders.dedup();
    if cx.select.wants("snap-fast=snap") {
        for &n in &orders {
            let lit = credit_snap::gradient(net, p, seq, n)?;
            let fast = credit_snap::sparse::gradient(net, p, seq, n)?;
            let prefix = format!("n={n}: ");
            cx.tensors("snap-fast=snap", "f64", &prefix, &fast.grad, &lit.grad, TOL_SNAP);
            let dl = (fast.loss - lit.loss).abs() / lit.loss.abs().max(f64::MIN_POSITIVE);
            cx.push("snap-fast=snap", "f64", format!("{prefix}loss"), dl, TOL_SNAP, lit.loss != 0.0);
        }
        if let Some((q, cut)) = ring(net, p, seq) {
            let t_cut = cut.len();
            let lit = credit_snap::gradient(net, &q, &cut, t_cut)?;
            let fast = credit_snap::sparse::gradient(net, &q, &cut, t_cut)?;
            // as for snap-full=rtrl: a silent prefix is not reported
            if lit.grad.tensors.iter().all(|t| crate::compare::alive(&t.value)) {
                cx.tensors(
                    "snap-fast=snap",
                    "f64",
                    &format!("ring n=T={t_cut}: "),
                    &fast.grad,
                    &lit.grad,
                    TOL_SNAP,
                );
            }
        }
    }
    if cx.select.wants(FAST_F32) {
        let p32: Params<f32> = p.cast();
        let t32 = credit_core::forward(net, &p32, seq, credit_core::ForwardOptions::default())?;
        let same = traj
            .z
            .iter()
            .zip(&t32.z)
            .all(|(a, b)| a.iter().zip(b.iter()).all(|(u, v)| (*u > 0.5) == (*v > 0.5)));
        let ok = !net.cell.is_spiking() || same;
        for &n in &orders {
            let a = credit_snap::sparse::gradient(net, &p32, seq, n)?.grad.values();
            let b = credit_snap::sparse::gradient(net, p, seq, n)?.grad;
            let before = cx.rows.len();
            cx.tensors(FAST_F32, "f32", &format!("n={n}: "), &a, &b, TOL_F32);
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

fn cell_only(p: &Params<f64>, nc: usize) -> Params<f64> {
    Params { tensors: p.tensors[..nc].to_vec() }
}

/// Whether `diag R^t ≡ 0` by construction: no neuron reads its own `z^{t−1}` through an
/// explicit edge (no non-zero autapse in a cell that allows them, no differentiated reset).
pub fn diag_r_zero(net: &Network, p: &Params<f64>) -> bool {
    let reset_live = match &net.cell {
        Cell::Lif(c) => c.spiking.reset == Reset::Differentiated,
        Cell::Alif(c) => c.spiking.reset == Reset::Differentiated,
        Cell::Rate(_) | Cell::Lstm(_) => false,
    };
    let autapse = net.cell.allows_autapses()
        && p.tensors[..net.n_cell_tensors()]
            .iter()
            .filter(|t| t.name.starts_with("w_rec"))
            .any(|t| (0..net.n).any(|j| t.value[(j, j)] != 0.0));
    !reset_live && !autapse
}

/// `D^t + diag R^t`: neuron `j`'s block `D_jj + (∂M_j/∂z_j^{t−1}) (∂z_j^{t−1}/∂h_j^{t−1})`
/// (Eq. C4 restricted to the diagonal), everything else of `jac` unchanged.
pub fn with_diag_r(jac: &LocalJacobians<f64>, z_h_prev: &DMatrix<f64>) -> LocalJacobians<f64> {
    let d = z_h_prev.ncols();
    let mut out = jac.clone();
    for (j, block) in out.d.iter_mut().enumerate() {
        let col = jac.m_z.view((j * d, j), (d, 1));
        *block += col * z_h_prev.row(j);
    }
    out
}

/// SnAp-1 written as e-prop with `D` replaced by `D + diag R` (`docs/snap.md` §3, Eq. S5):
/// `Σ_t Σ_j L_j^t (∂z_j^t/∂h_j^t) ε'_j^t`, `ε'^t = (D^t + diag R^t) ε'^{t−1} + I^t`, run by
/// e-prop's trace code ([`Eligibility`]) along the stored trajectory, with e-prop's partial
/// signal `L^t = ∂E/∂z^t` (symmetric feedback). Cell tensors only.
pub fn eprop_with_diag_r(
    net: &Network,
    p: &Params<f64>,
    seq: &Sequence,
    traj: &Trajectory<f64>,
) -> credit_core::Result<Params<f64>> {
    let signals = credit_eprop::partial_signals(net, p, seq, &Feedback::Symmetric)?;
    let w = p.cell_tensors(net);
    let mut elig = Eligibility::new(net);
    let mut grad = Params::zeros(net);
    for t in 1..=seq.len() {
        let jac = net.cell.jacobians(&w, &traj.states[t - 1], &traj.z[t - 1], &traj.x[t]);
        let z_h_prev = net.cell.output_jacobian(&traj.states[t - 1]);
        elig.step(&with_diag_r(&jac, &z_h_prev));
        let e = elig.traces(net, &traj.states[t]);
        for j in 0..net.n {
            let row: Vec<f64> = e.row(j).iter().map(|&v| v * signals[t][j]).collect();
            grad.add_local_row(net, j, &row);
        }
    }
    Ok(cell_only(&grad, net.n_cell_tensors()))
}

/// The ring-sparsified copy of a config: every recurrent tensor keeps only its diagonal and the
/// entries `W[k, k−1 mod N]` (a one-directional ring), and the sequence is cut to
/// `T' = N − 1` steps. Then `R_m(j) = {j, j+1, …, j+m}` (mod `N`) and `P_{T'}` misses the pair
/// `(j−1, j)`: SnAp-`T'` zeroes entries of a dense matrix, yet equals RTRL because RTRL's `S^t` is
/// supported on `P_t` (`docs/snap.md` §4). `None` when `N < 4` or `T < N − 1`.
pub fn ring(net: &Network, p: &Params<f64>, seq: &Sequence) -> Option<(Params<f64>, Sequence)> {
    let n = net.n;
    if n < 4 || seq.len() < n - 1 {
        return None;
    }
    let mut q = p.clone();
    for t in q.tensors[..net.n_cell_tensors()].iter_mut().filter(|t| t.name.starts_with("w_rec")) {
        for k in 0..n {
            for i in 0..n {
                if i != k && i != (k + n - 1) % n {
                    t.value[(k, i)] = 0.0;
                }
            }
        }
    }
    let steps = n - 1;
    let cut = Sequence {
        x: seq.x[..steps].to_vec(),
        target: seq.target[..steps].to_vec(),
        mask: seq.mask[..steps].to_vec(),
    };
    Some((q, cut))
}

pub(crate) fn rows(
    cx: &mut Ctx,
    p: &Params<f64>,
    seq: &Sequence,
    traj: &Trajectory<f64>,
    rtrl: &Params<f64>,
) -> credit_core::Result<()> {
    let net = &cx.cfg.net.clone();
    let nc = net.n_cell_tensors();
    let steps = seq.len();
    let generic = cx.cfg.role == Role::Generic;
    if cx.select.any(&["snap-fast=snap", FAST_F32]) {
        fast_rows(cx, p, seq, traj)?;
    }
    if cx.select.wants("snap-full=rtrl") {
        let full = credit_snap::gradient(net, p, seq, steps)?;
        cx.tensors("snap-full=rtrl", "f64", &format!("n=T={steps}: "), &full.grad, rtrl, TOL_SNAP);
        // and against BPTT: SnAp shares RTRL's readout bookkeeping (`credit_core::online`, Eqs.
        // T3–T6), so RTRL alone would be equally wrong with a defect there
        let bptt = credit_bptt::gradient(net, p, seq)?.grad;
        cx.tensors("snap-full=rtrl", "f64", &format!("n=T={steps} vs BPTT: "), &full.grad, &bptt, TOL_SNAP);
        if let Some((q, cut)) = ring(net, p, seq) {
            let t_cut = cut.len();
            let sparse = !credit_snap::Pattern::new(net, &q, t_cut)?.is_full();
            let snap = credit_snap::gradient(net, &q, &cut, t_cut)?;
            let exact = credit_rtrl::gradient(net, &q, &cut)?;
            let prefix = format!("ring n=T={t_cut}: ");
            // a short prefix of a spiking run can be silent in some tensor (e.g. no spike reaches
            // the readout in N − 1 steps): such a ring run is not reported at all (the config's
            // own rows above stand); `tests/online_rules.rs` checks that most configs report it
            if exact.grad.tensors.iter().all(|t| crate::compare::alive(&t.value)) {
                for (a, b) in snap.grad.tensors.iter().zip(&exact.grad.tensors) {
                    let err = crate::compare::max_rel_err(&a.value, &b.value);
                    // live only if the pattern really cuts entries
                    cx.push("snap-full=rtrl", "f64", format!("{prefix}{}", a.name), err, TOL_SNAP, sparse);
                }
            }
        }
    }
    // generic configs draw every off-diagonal W_rec entry non-zero: P_2 must be full there, and
    // a pattern that is not is a failing row (not a missing one)
    if cx.select.wants("snap2=rtrl") && generic {
        let full = credit_snap::Pattern::new(net, p, 2)?.is_full();
        let two = credit_snap::gradient(net, p, seq, 2)?;
        for (a, b) in two.grad.tensors.iter().zip(&rtrl.tensors) {
            let err = crate::compare::max_rel_err(&a.value, &b.value);
            let live = full && crate::compare::alive(&b.value);
            cx.push("snap2=rtrl", "f64", format!("P_2 full: {}", a.name), err, TOL_SNAP, live);
        }
    }
    let one_ids = ["snap1=rtrl@W0", "snap1!=rtrl", "snap1=eprop", "snap1=eprop+diagR", "snap1!=eprop"];
    if !cx.select.any(&one_ids) {
        return Ok(());
    }
    let one = cell_only(&credit_snap::gradient(net, p, seq, 1)?.grad, nc);
    let rtrl_cells = cell_only(rtrl, nc);
    if generic {
        let (e, name, live) = worst_tensor(&one.tensors, &rtrl_cells.tensors);
        let tensor = format!("max over cell tensors ({name})");
        cx.push_expect("snap1!=rtrl", Expect::Differ, "f64", tensor, e, TOL_DIFFER, live);
    } else {
        cx.tensors("snap1=rtrl@W0", "f64", "", &one, &rtrl_cells, TOL_SNAP);
    }
    if cx.select.any(&["snap1=eprop", "snap1!=eprop"]) {
        let ep = cell_only(&credit_eprop::gradient(net, p, seq, &Feedback::Symmetric)?.grad, nc);
        if diag_r_zero(net, p) {
            cx.tensors("snap1=eprop", "f64", "diag R = 0: ", &one, &ep, TOL_SNAP);
        } else {
            let (e, name, live) = worst_tensor(&one.tensors, &ep.tensors);
            let tensor = format!("max over cell tensors ({name})");
            cx.push_expect("snap1!=eprop", Expect::Differ, "f64", tensor, e, TOL_DIFFER, live);
        }
    }
    if cx.select.wants("snap1=eprop+diagR") {
        let witness = eprop_with_diag_r(net, p, seq, traj)?;
        cx.tensors("snap1=eprop+diagR", "f64", "", &one, &witness, TOL_SNAP);
    }
    Ok(())
}
