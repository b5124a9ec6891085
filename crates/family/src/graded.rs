//! The second, independent formulation: a **hop-graded** forward pass, Eq. (F6) of
//! `docs/family.md`. The tangent of a forward-mode pass is made a polynomial in a formal `λ`,
//! `ṫ = Σ_k λ^k ṫ_k`, and every explicit (z-mediated) edge multiplies it by `λ`; arithmetic is
//! linear in the tangent, so the coefficient `ṫ_k` of the loss collects exactly the chain-rule
//! paths with `k` explicit hops. The order-`m` gradient is `Σ_{k ≤ m} ∂E/∂θ|_k`.
//!
//! The graded number is num-dual's `DualSVec64<G>` (`G` coefficients of the tangent, `k < G`),
//! which already satisfies the workspace's `Scalar` bound: the very forward code of the core runs
//! on it, with [`shift`] installed as the map of the explicit edges ([`credit_core::Edges`]).
//! One pass per parameter yields every order at once.

use credit_core::{Edges, ForwardOptions, Network, Params, Sequence, forward, forward_unchecked};
use nalgebra::SVector;
use num_dual::{Derivative, DualSVec64};

/// Multiplies the tangent by `λ`: coefficient `k` moves to `k + 1`; the top one is dropped.
pub fn shift<const G: usize>(x: DualSVec64<G>) -> DualSVec64<G> {
    let mut out = x;
    if let Some(v) = x.eps.0 {
        let mut s = SVector::<f64, G>::zeros();
        for k in 1..G {
            s[k] = v[k - 1];
        }
        out.eps = Derivative::some(s);
    }
    out
}

/// `∂E/∂θ` split by the number of explicit hops: entry `k` holds the paths with exactly `k`
/// hops, `k = 0..G`. Requires `G ≥ T` so that no path is dropped (a path has at most `T − 1`
/// hops); otherwise an error names the limit.
pub fn hop_gradients<const G: usize>(
    net: &Network,
    params: &Params<f64>,
    seq: &Sequence,
) -> credit_core::Result<Vec<Params<f64>>> {
    if seq.len() > G {
        return Err(credit_core::Error::Invalid {
            field: "family.graded.T".into(),
            value: format!("{}", seq.len()),
            requirement: "the graded number holds G coefficients: T must be <= G",
        });
    }
    hop_gradients_truncated::<G>(net, params, seq)
}

/// [`hop_gradients`] for any `T`: entries `k = 0..G` hold the paths with exactly `k` hops also
/// when `T > G`. Exact because coefficient `k` of the graded tangent is fed only by coefficients
/// `≤ k` (arithmetic acts on each coefficient alike, [`shift`] moves `k − 1` to `k`), so the
/// coefficients `≥ G` that [`shift`] drops never reach a kept one (`docs/family.md` §5).
pub fn hop_gradients_truncated<const G: usize>(
    net: &Network,
    params: &Params<f64>,
    seq: &Sequence,
) -> credit_core::Result<Vec<Params<f64>>> {
    let base: Params<DualSVec64<G>> = params.map(DualSVec64::<G>::from);
    let hop = |x: DualSVec64<G>| shift(x);
    let opts = ForwardOptions { edges: Edges { explicit: Some(&hop), ..Edges::default() }, tap: None };
    forward(net, &base, seq, opts)?;
    let mut out = vec![Params::<f64>::zeros(net); G];
    for k in 0..params.len() {
        let mut p = base.clone();
        let (ti, r, c) = p.locate(k).expect("k < P");
        let mut seed = SVector::<f64, G>::zeros();
        seed[0] = 1.0; // θ_k's own perturbation has taken no hop yet
        p.tensors[ti].value[(r, c)].eps = Derivative::some(seed);
        let loss = forward_unchecked(net, &p, seq, opts).loss;
        let coeffs = loss.eps.unwrap_generic(nalgebra::Const::<G>, nalgebra::U1);
        for (h, g) in out.iter_mut().enumerate() {
            g.tensors[ti].value[(r, c)] = coeffs[h];
        }
    }
    Ok(out)
}

/// The order-`m` gradient for every `m = 0..G`: cumulative sums of [`hop_gradients`].
pub fn family_gradients<const G: usize>(
    net: &Network,
    params: &Params<f64>,
    seq: &Sequence,
) -> credit_core::Result<Vec<Params<f64>>> {
    let by_hop = hop_gradients::<G>(net, params, seq)?;
    Ok(cumulative(net, by_hop))
}

/// The order-`m` gradient for `m = 0..G` and any `T`: cumulative sums of
/// [`hop_gradients_truncated`] (orders `≥ G` are not computed).
pub fn family_gradients_truncated<const G: usize>(
    net: &Network,
    params: &Params<f64>,
    seq: &Sequence,
) -> credit_core::Result<Vec<Params<f64>>> {
    let by_hop = hop_gradients_truncated::<G>(net, params, seq)?;
    Ok(cumulative(net, by_hop))
}

fn cumulative(net: &Network, by_hop: Vec<Params<f64>>) -> Vec<Params<f64>> {
    let mut acc = Params::<f64>::zeros(net);
    let mut out = Vec::with_capacity(by_hop.len());
    for g in by_hop {
        for (a, b) in acc.tensors.iter_mut().zip(&g.tensors) {
            a.value += &b.value;
        }
        out.push(acc.clone());
    }
    out
}
