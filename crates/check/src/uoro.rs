//! The unbiasedness relations of UORO, KF-RTRL and R-KF-RTRL (issue 15), property P12 of the
//! design notes; `docs/uoro.md`.
//!
//! The expectation over the noise is taken **exactly**: the estimate is averaged over every
//! sign pattern of `ν` over the whole sequence (`2^{len·T}` runs), which is the Rademacher
//! distribution itself. That is affordable only on a tiny instance, so each config contributes
//! [`tiny`]: its own cell, conventions, readout and loss with `N = 2`, `T = 3` and no
//! regulariser, its weights and data drawn from the config's seed (the first of
//! [`TINY_SEEDS`] seeds whose RTRL gradient is non-zero in every tensor, the input gain raised
//! ×2, ×4, ×8 if none is).
//!
//! | id | compared | expect |
//! |---|---|---|
//! | `uoro-mean=rtrl` | UORO averaged over all `2^{N·d·T}` patterns vs RTRL, and vs BPTT | equal (1e-12) |
//! | `kf-mean=rtrl` | KF-RTRL averaged over all `4^T` patterns vs RTRL, and vs BPTT (rate cell) | equal (1e-12) |
//! | `rkf-mean=rtrl` | R-KF-RTRL averaged over all `2^{N·T}` patterns vs RTRL, and vs BPTT | equal (1e-12) |
//!
//! The rows against BPTT (`… vs BPTT`) keep the relations independent of RTRL's code: the
//! estimators share the readout bookkeeping (`credit_core::online`, Eqs. T3–T5) with RTRL, so a
//! defect there would make both sides equally wrong; BPTT computes the gradient by the reverse
//! recursion (`rtrl=bptt` proves the two equal).
//! | `lowrank-draw!=rtrl` | one seeded draw of each estimator vs RTRL (max over cell tensors) | differ |

use crate::compare::{alive, max_rel_err, worst_tensor};
use crate::eprop::TOL_DIFFER;
use crate::relations::{Ctx, Expect};
use credit_core::cell::Cell;
use credit_core::{InitScale, Network, Params, Sequence};
use credit_uoro::{Kind, Noise};

/// Tolerance of the exact-mean relations (1e-12 relative per tensor).
pub const TOL_MEAN: f64 = 1e-12;
/// Neurons of the tiny instance.
pub const TINY_N: usize = 2;
/// Steps of the tiny instance.
pub const TINY_T: usize = 3;
/// Seeds tried (from the config's) for a tiny instance whose RTRL gradient is live.
pub const TINY_SEEDS: u64 = 64;

/// The ids of this module's relations.
pub const IDS: &[&str] = &["uoro-mean=rtrl", "kf-mean=rtrl", "rkf-mean=rtrl", "lowrank-draw!=rtrl"];

/// The tiny instance of a config: its network with `N = 2` and no regulariser, data drawn from
/// the first seed `≥ seed` (of [`TINY_SEEDS`]) whose RTRL gradient is non-zero in every tensor;
/// `None` if there is none.
pub fn tiny(net: &Network, seed: u64) -> credit_core::Result<Option<(Network, Params<f64>, Sequence)>> {
    let small = Network::new(net.cell.clone(), net.n_in, TINY_N, net.n_out, net.readout, net.loss)?;
    // three steps are short for a spiking net to fire: the input gain is raised (×1, ×2, ×4, ×8)
    // before a seed is given up
    for gain in [1.0, 2.0, 4.0, 8.0] {
        for s in seed..seed + TINY_SEEDS {
            let mut scale = InitScale::default_for(&small);
            scale.w_in *= gain;
            let p = Params::random_scaled(&small, s, scale)?;
            let seq = Sequence::random(&small, TINY_T, s)?;
            let r = credit_rtrl::gradient(&small, &p, &seq)?;
            if r.grad.tensors.iter().all(|t| alive(&t.value)) {
                return Ok(Some((small, p, seq)));
            }
        }
    }
    Ok(None)
}

/// The estimator's gradient averaged over every sign pattern of its noise (`2^{len·T}` runs).
pub fn exact_mean(
    net: &Network,
    p: &Params<f64>,
    seq: &Sequence,
    kind: Kind,
) -> credit_core::Result<Params<f64>> {
    let len = kind.noise_len(net);
    let bits = len * seq.len();
    let runs = 1usize << bits;
    let mut sum = p.map(|_| 0.0);
    for pattern in 0..runs {
        let signs: Vec<Vec<f64>> = (0..seq.len())
            .map(|t| (0..len).map(|k| if pattern >> (t * len + k) & 1 == 1 { -1.0 } else { 1.0 }).collect())
            .collect();
        let g = credit_uoro::gradient(net, p, seq, kind, &Noise::Signs(signs))?.grad;
        for (a, b) in sum.tensors.iter_mut().zip(&g.tensors) {
            a.value += &b.value;
        }
    }
    Ok(sum.map(|x| x / runs as f64))
}

pub(crate) fn rows(cx: &mut Ctx) -> credit_core::Result<()> {
    let net = &cx.cfg.net.clone();
    let Some((small, p, seq)) = tiny(net, cx.cfg.seed)? else {
        // no live tiny instance: one failing row per wanted relation says so
        for id in ["uoro-mean=rtrl", "rkf-mean=rtrl"] {
            cx.push(id, "f64", format!("tiny N={TINY_N} T={TINY_T}: no live instance"), 0.0, TOL_MEAN, false);
        }
        return Ok(());
    };
    let rtrl = credit_rtrl::gradient(&small, &p, &seq)?.grad;
    let bptt = credit_bptt::gradient(&small, &p, &seq)?.grad;
    let nc = small.n_cell_tensors();
    let mut kinds = vec![(Kind::Uoro, "uoro-mean=rtrl"), (Kind::Rkf, "rkf-mean=rtrl")];
    if matches!(small.cell, Cell::Rate(_)) {
        kinds.push((Kind::Kf, "kf-mean=rtrl"));
    }
    for (kind, id) in kinds {
        if cx.select.wants(id) {
            let mean = exact_mean(&small, &p, &seq, kind)?;
            let runs = 1usize << (kind.noise_len(&small) * TINY_T);
            for (reference, against) in [(&rtrl, ""), (&bptt, " vs BPTT")] {
                for (a, b) in mean.tensors.iter().zip(&reference.tensors) {
                    let err = max_rel_err(&a.value, &b.value);
                    let label = format!("tiny N={TINY_N} T={TINY_T}, {runs} patterns: {}{against}", a.name);
                    cx.push(id, "f64", label, err, TOL_MEAN, alive(&b.value));
                }
            }
        }
        if cx.select.wants("lowrank-draw!=rtrl") {
            let draw = credit_uoro::gradient(&small, &p, &seq, kind, &Noise::Seed(cx.cfg.seed))?.grad;
            let (e, name, live) = worst_tensor(&draw.tensors[..nc], &rtrl.tensors[..nc]);
            let tensor = format!("{kind:?}, one draw: max over cell tensors ({name})");
            cx.push_expect("lowrank-draw!=rtrl", Expect::Differ, "f64", tensor, e, TOL_DIFFER, live);
        }
    }
    Ok(())
}
