//! Sparse SnAp-n: the influence matrix stored on its pattern only (`docs/snap.md` §6).
//!
//! [`gradient`] must equal the literal [`crate::gradient`] (same arguments, same loss and
//! gradient up to rounding; `snap-fast=snap` in `check-gradients`, ≤ 1e-12 relative per tensor
//! in `f64`, for `n = 1, 2` and `n = T`). The literal code stores `S^t` densely and masks it
//! after RTRL's step (Eq. S1), so its cost is RTRL's; this one keeps only the entries of the
//! pattern `P_n` (Eq. S3) and evaluates (S1) on them (Eqs. SP1–SP5 of `docs/snap.md` §6):
//!
//! * **layout** — `S` is compressed per parameter column, grouped by the parameter's owner
//!   neuron `j`: every one of neuron `j`'s `P_loc` columns keeps the same rows, the `d` state
//!   components of each neuron `k ∈ R_{n−1}(j)` in increasing `k` ([`SparseLayout::rows`]); the
//!   `r_j · d` kept entries of a column are contiguous, the columns of neuron `j` follow each
//!   other (`q = 0..P_loc`), neurons in order. `Z` has the same layout with one row per kept
//!   neuron; `Y` and the gradient are indexed by `j·P_loc + q` and scattered into the tensors
//!   once, at the end;
//! * **`∂M/∂z` restricted to the pattern** — the entries `(k, c), i` that can be non-zero are
//!   the structural edges `i → k` of Eq. (S4) and the diagonal `i = k` (reset, autapse): their
//!   values are computed once per step from the gain `γ^t` of the core's fused step (SP2), and
//!   each kept row `k` of neuron `j`'s group reads only the edges whose source is kept too
//!   ([`SparseLayout`]'s hop lists, built once);
//! * **`D^t`, `∂z/∂h`, `I^t`** come from the core's [`Kernel::step`] (`docs/fast.md` K2–K4), not
//!   from the allocating [`credit_core::CellModel::jacobians`]; the readout (Y1), the loss
//!   (Y2–Y4) and the exact readout gradient (T5) are written in place. Nothing is allocated in
//!   the time loop.
//!
//! Every multiply-add of the four sensitivity products that RTRL's cost formula counts
//! (`docs/rtrl.md` §5: `D S`, `(∂M/∂z) Z`, `(∂z/∂h) S`, `W_out Z`) is counted, per neuron
//! group, from the lengths of the loops the step runs ([`SparseState::madds`], Eq. SP6): for
//! SnAp-1 `P_cell · (d² + 2d + K)` per step (one kept row and one hop, the diagonal, per
//! column: O(P)), for a full pattern on a dense net exactly RTRL's `P_cell · (N d² + N² d +
//! N d + K N)`.

use crate::{Pattern, Snap};
use credit_core::fast::{Kernel, StepIn, StepOut, loss_and_grad};
use credit_core::{Cell, CellModel, Network, Params, Scalar, Sequence};
use nalgebra::{DMatrix, DVector};

/// The compressed layout of the pattern `P_n` and the hop lists of `∂M/∂z` on it (built once).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SparseLayout {
    /// `N`, `d`, `P_loc`, `G` (drive rows per neuron).
    pub dims: (usize, usize, usize, usize),
    /// The kept neurons of every group, concatenated: group `j` is
    /// `rows[row_start[j]..row_start[j + 1]]` = `R_{n−1}(j)` in increasing order.
    pub rows: Vec<usize>,
    /// Start of each group in [`SparseLayout::rows`] (`N + 1` entries).
    pub row_start: Vec<usize>,
    /// Position of `j` in its own group (the row that receives `I^t`).
    pub self_pos: Vec<usize>,
    /// The structural edges of `∂M/∂z` per target neuron `k` (CSR): sources
    /// `edge_src[edge_start[k]..edge_start[k + 1]]`, increasing, the diagonal `k` always one of them.
    pub edge_src: Vec<usize>,
    /// Start of each target's edges (`N + 1` entries).
    pub edge_start: Vec<usize>,
    /// The diagonal edge `k → k` of every target `k` (an index into [`SparseLayout::edge_src`]).
    pub diag_edge: Vec<usize>,
    /// For every kept row (flat index into [`SparseLayout::rows`]) its hops: pairs
    /// `(b, e)` — the source's position `b` in the same group and the edge `e` — in
    /// `hops[hop_start[row]..hop_start[row + 1]]`.
    pub hops: Vec<(usize, usize)>,
    /// Start of each kept row's hops (`Σ_j r_j + 1` entries).
    pub hop_start: Vec<usize>,
}

impl SparseLayout {
    /// The layout of `pattern` for `params`' recurrent tensors (Eq. S4's edges, Eq. SP2).
    pub fn new<T: Scalar>(net: &Network, params: &Params<T>, pattern: &Pattern) -> Self {
        let (n, d, pl) = (net.n, net.d(), net.p_loc());
        let gates = if matches!(net.cell, Cell::Lstm(_)) { 4 } else { 1 };
        let mut rows = Vec::new();
        let mut row_start = vec![0];
        let mut self_pos = Vec::with_capacity(n);
        for j in 0..n {
            for k in 0..n {
                if pattern.reach[k][j] {
                    if k == j {
                        self_pos.push(rows.len() - row_start[j]);
                    }
                    rows.push(k);
                }
            }
            row_start.push(rows.len());
        }
        // Eq. (S4)'s edges i → k and the diagonal (reset, autapse): where ∂M_k/∂z_i can be ≠ 0
        let mut edge_src = Vec::new();
        let mut edge_start = vec![0];
        let mut diag_edge = Vec::with_capacity(n);
        let recurrent: Vec<&DMatrix<T>> = params.tensors[..net.n_cell_tensors()]
            .iter()
            .filter(|t| t.name.starts_with("w_rec"))
            .map(|t| &t.value)
            .collect();
        for k in 0..n {
            for i in 0..n {
                if i == k {
                    diag_edge.push(edge_src.len());
                }
                if i == k || recurrent.iter().any(|w| w[(k, i)] != T::zero()) {
                    edge_src.push(i);
                }
            }
            edge_start.push(edge_src.len());
        }
        // per kept row (j, k): the edges i → k whose source i is kept in group j too
        let mut pos = vec![usize::MAX; n];
        let mut hops = Vec::new();
        let mut hop_start = vec![0];
        for j in 0..n {
            let group = &rows[row_start[j]..row_start[j + 1]];
            for (b, &i) in group.iter().enumerate() {
                pos[i] = b;
            }
            for &k in group {
                for e in edge_start[k]..edge_start[k + 1] {
                    let b = pos[edge_src[e]];
                    if b != usize::MAX {
                        hops.push((b, e));
                    }
                }
                hop_start.push(hops.len());
            }
            for &i in group {
                pos[i] = usize::MAX;
            }
        }
        SparseLayout {
            dims: (n, d, pl, gates),
            rows,
            row_start,
            self_pos,
            edge_src,
            edge_start,
            diag_edge,
            hops,
            hop_start,
        }
    }

    /// Kept entries of `S`: `d · P_loc · Σ_j r_j` (= [`Pattern::kept`]).
    pub fn kept(&self) -> usize {
        let (_, d, pl, _) = self.dims;
        d * pl * self.rows.len()
    }
}

/// The online state of sparse SnAp-n after `t` steps: the kept entries of `S^t` and `Z^t`, `Y^t`,
/// the cell state, the readout and the multiply-add counter.
#[derive(Clone, Debug)]
pub struct SparseState<T: Scalar> {
    /// The layout (pattern and hop lists).
    pub layout: SparseLayout,
    kernel: Kernel<T>,
    w_out: DMatrix<T>,
    b_out: DVector<T>,
    // cell state at t − 1 and t (swapped each step), drive, gain, decay, D blocks
    h: Vec<T>,
    h_new: Vec<T>,
    refr: Vec<u32>,
    refr_new: Vec<u32>,
    z: Vec<T>,
    z_new: Vec<T>,
    zh: Vec<T>,
    zh_new: Vec<T>,
    u: Vec<T>,
    gain: Vec<T>,
    decay: Vec<T>,
    dflat: Vec<T>,
    mz: Vec<T>,
    x: Vec<T>,
    target: Vec<T>,
    // the sensitivities on the pattern
    s: Vec<T>,
    zs: Vec<T>,
    ys: Vec<T>,
    zs_sum: Vec<T>,
    z_sum: DVector<T>,
    grad_cols: Vec<T>,
    // the readout (Y1, T5)
    y: Vec<T>,
    g: Vec<T>,
    z_bar: Vec<T>,
    b_bar: T,
    /// Steps consumed.
    pub steps: usize,
    /// Accumulated loss.
    pub loss: T,
    /// Accumulated gradient (readout tensors; the cell tensors are added by [`SparseState::finish`]).
    pub grad: Params<T>,
    /// Multiply-adds of the sensitivity products done so far (`docs/snap.md` Eq. SP6).
    pub madds: u64,
}

impl<T: Scalar> SparseState<T> {
    /// The state at `t = 0` for SnAp-`n` on `params` (validated against `net`).
    pub fn new(net: &Network, params: &Params<T>, n: usize) -> credit_core::Result<Self> {
        let pattern = Pattern::new(net, params, n)?;
        let kernel = Kernel::new(net, params)?;
        let layout = SparseLayout::new(net, params, &pattern);
        let (nn, d, pl, gates) = layout.dims;
        let kept_rows = layout.rows.len();
        let k = net.n_out;
        let reg = net.reg.is_some();
        let zh = kernel.initial_zh().as_slice().to_vec();
        let spiking = net.cell.is_spiking();
        Ok(SparseState {
            w_out: params.w_out().clone(),
            b_out: params.b_out().column(0).into_owned(),
            h: vec![T::zero(); nn * d],
            h_new: vec![T::zero(); nn * d],
            refr: vec![0; if spiking { nn } else { 0 }],
            refr_new: vec![0; if spiking { nn } else { 0 }],
            z: vec![T::zero(); nn],
            z_new: vec![T::zero(); nn],
            zh_new: zh.clone(),
            zh,
            u: vec![T::zero(); gates * nn],
            gain: vec![T::zero(); gates * nn],
            decay: vec![T::zero(); nn],
            dflat: vec![T::zero(); nn * d * d],
            mz: vec![T::zero(); layout.edge_src.len() * d],
            x: vec![T::zero(); net.n_in],
            target: vec![T::zero(); k],
            s: vec![T::zero(); layout.kept()],
            zs: vec![T::zero(); kept_rows * pl],
            ys: vec![T::zero(); k * nn * pl],
            zs_sum: vec![T::zero(); if reg { kept_rows * pl } else { 0 }],
            z_sum: DVector::zeros(if reg { nn } else { 0 }),
            grad_cols: vec![T::zero(); nn * pl],
            y: vec![T::zero(); k],
            g: vec![T::zero(); k],
            z_bar: vec![T::zero(); nn],
            b_bar: T::zero(),
            steps: 0,
            loss: T::zero(),
            grad: Params::zeros(net),
            madds: 0,
            layout,
            kernel,
        })
    }

    /// Number of scalars held (the pattern's `S`, `Z`, `ΣZ`, `Y`, the per-step buffers, the
    /// gradient); independent of the steps consumed.
    pub fn len_scalars(&self) -> usize {
        let vecs = [
            &self.h,
            &self.h_new,
            &self.z,
            &self.z_new,
            &self.zh,
            &self.zh_new,
            &self.u,
            &self.gain,
            &self.decay,
            &self.dflat,
            &self.mz,
            &self.x,
            &self.target,
            &self.s,
            &self.zs,
            &self.ys,
            &self.zs_sum,
            &self.grad_cols,
            &self.y,
            &self.g,
            &self.z_bar,
        ];
        vecs.iter().map(|v| v.len()).sum::<usize>()
            + self.refr.len()
            + self.refr_new.len()
            + self.z_sum.len()
            + self.grad.len()
            + 3
    }

    /// `D^t` of every neuron, row-major `d × d` blocks into `dflat` (Eqs. R4, L5, A4, M5 via the
    /// kernel's decay `D_00^t` (K4) and, for ALIF, `ψ^{t−1}` from `∂z^{t−1}/∂h^{t−1}`).
    fn fill_d(&mut self) {
        let n = self.kernel.n;
        match &self.kernel.cell {
            Cell::Rate(_) | Cell::Lif(_) => self.dflat.copy_from_slice(&self.decay), // Eqs. (R4), (L5)
            Cell::Alif(c) => {
                let (rho, beta) = (T::c(c.rho), T::c(c.beta));
                for j in 0..n {
                    let psi = self.zh[2 * j]; // ψ^{t−1}
                    // Eq. (A4): [[α, 0], [ψ^{t−1}, ρ − βψ^{t−1}]]
                    self.dflat[4 * j..4 * j + 4].copy_from_slice(&[
                        self.decay[j],
                        T::zero(),
                        psi,
                        rho - beta * psi,
                    ]);
                }
            }
            Cell::Lstm(_) => {
                for j in 0..n {
                    // Eq. (M5): [[f, 0], [0, 0]]
                    self.dflat[4 * j..4 * j + 4].copy_from_slice(&[
                        self.decay[j],
                        T::zero(),
                        T::zero(),
                        T::zero(),
                    ]);
                }
            }
        }
    }

    /// The values of `∂M^t/∂z^{t−1}` on the stored edges (Eq. SP2): `mz[e·d + c] = Σ_{g: c(g) = c}
    /// γ_{g,k} W_rec^g[k, i] (+ r on the diagonal, c = 0)` for edge `e = (i → k)`; the diagonal
    /// weight is skipped where the cell allows no autapse (Eqs. R5, L6, M5).
    fn fill_mz(&mut self) {
        let (n, d, _, gates) = self.layout.dims;
        let autapses = self.kernel.cell.allows_autapses();
        let r = self.kernel.reset_slope();
        // W_recᵀ, N × (G·N): column g·N + k is row k of gate g's W_rec, contiguous
        let wt = self.kernel.w_rec_t.as_slice();
        for k in 0..n {
            let (e0, e1) = (self.layout.edge_start[k], self.layout.edge_start[k + 1]);
            let src = &self.layout.edge_src[e0..e1];
            let out = &mut self.mz[e0 * d..e1 * d];
            out.fill(T::zero());
            for g in 0..gates {
                let c = self.kernel.component(g);
                let gam = self.gain[g * n + k];
                let w_row = &wt[(g * n + k) * n..(g * n + k + 1) * n];
                for (slot, &i) in out.chunks_exact_mut(d).zip(src) {
                    slot[c] += gam * w_row[i];
                }
            }
            if !autapses {
                // Eq. (L6): the diagonal is the reset alone, −v_th or 0
                let at = (self.layout.diag_edge[k] - e0) * d;
                out[at..at + d].fill(T::zero());
                out[at] = r;
            }
        }
    }

    /// One online step with `x^t`, `y^{*t}`, `m^t` (inputs validated by [`gradient`]).
    pub fn step(&mut self, net: &Network, x: &DVector<f64>, target: &DVector<f64>, mask: f64) {
        let (n, d, pl, _) = self.layout.dims;
        let k_out = net.n_out;
        let kappa = T::c(net.readout.kappa);
        let c_out = T::c(net.readout.c());
        let lag = net.readout.lag();
        let mask = T::c(mask);
        for (a, &b) in self.x.iter_mut().zip(x.iter()) {
            *a = T::c(b);
        }
        for (a, &b) in self.target.iter_mut().zip(target.iter()) {
            *a = T::c(b);
        }
        // (K1)–(K4): u^t, h^t, z^t, ∂z^t/∂h^t, γ^t, D_00^t
        self.kernel.drive(&self.x, &self.z, &mut self.u);
        self.kernel.step(
            &self.u,
            StepIn { h: &self.h, refractory: &self.refr, z: &self.z },
            StepOut {
                h: &mut self.h_new,
                refractory: &mut self.refr_new,
                z: &mut self.z_new,
                zh: &mut self.zh_new,
                gain: &mut self.gain,
                decay: &mut self.decay,
            },
        );
        self.fill_d(); // Eq. (SP1)'s D^t
        self.fill_mz(); // Eq. (SP2)
        // Eq. (Y1): y^t = κ y^{t−1} + c (W_out z^{t−δ} + b_out); Eqs. (Y2)–(Y4): E^t, g^t
        let z_read: &[T] = if lag == 0 { &self.z_new } else { &self.z };
        for k in 0..k_out {
            let mut acc = T::zero();
            for (i, &zi) in z_read.iter().enumerate() {
                acc += self.w_out[(k, i)] * zi;
            }
            self.y[k] = self.y[k] * kappa + (acc + self.b_out[k]) * c_out;
        }
        self.loss += loss_and_grad(net, &self.y, &self.target, mask, &mut self.g);
        // rtrl.md Eq. (T5): the exact readout gradient
        for (zb, &zi) in self.z_bar.iter_mut().zip(z_read) {
            *zb = *zb * kappa + zi * c_out;
        }
        self.b_bar = self.b_bar * kappa + c_out;
        let nt = self.grad.tensors.len();
        for k in 0..k_out {
            for (i, &zb) in self.z_bar.iter().enumerate() {
                self.grad.tensors[nt - 2].value[(k, i)] += self.g[k] * zb;
            }
            self.grad.tensors[nt - 1].value[(k, 0)] += self.g[k] * self.b_bar;
        }
        // Eqs. (SP1), (SP3)–(SP5), neuron group by neuron group: every column of group j keeps
        // the same rows, so each row's D block and hops are read once for the P_loc columns
        let autapses = self.kernel.cell.allows_autapses();
        let n_in = self.kernel.n_in;
        let width = n_in + n + 1;
        let reg = !self.zs_sum.is_empty();
        let lay = &self.layout;
        let mut madds = 0u64;
        for j in 0..n {
            let (r0, r1) = (lay.row_start[j], lay.row_start[j + 1]);
            let (r, rd) = (r1 - r0, (r1 - r0) * d);
            let group = &lay.rows[r0..r1];
            let sp = lay.self_pos[j];
            let sgrp = &mut self.s[r0 * pl * d..r1 * pl * d];
            let zgrp = &mut self.zs[r0 * pl..r1 * pl];
            let ygrp = &mut self.ys[j * pl * k_out..(j + 1) * pl * k_out];
            if lag == 1 {
                // Eq. (SP4) with Z^{t−1}, before Z is overwritten
                for (ycol, zcol) in ygrp.chunks_exact_mut(k_out.max(1)).zip(zgrp.chunks_exact(r)) {
                    readout_column(ycol, &self.w_out, group, zcol, kappa, c_out);
                }
            }
            // Eq. (SP1) without I^t: S_{k·}^t = D_kk^t S_{k·}^{t−1} + Σ_{i ∈ R(j), i→k} ∂M_k/∂z_i Z_i^{t−1}
            for (a, &k) in group.iter().enumerate() {
                let dk = &self.dflat[k * d * d..(k + 1) * d * d];
                let hops = &lay.hops[lay.hop_start[r0 + a]..lay.hop_start[r0 + a + 1]];
                // the state dimension as a constant where the cells have it (unrolled blocks)
                match d {
                    1 => sp1_row(1, dk, hops, &self.mz, sgrp, zgrp, a, r),
                    2 => sp1_row(2, dk, hops, &self.mz, sgrp, zgrp, a, r),
                    _ => sp1_row(d, dk, hops, &self.mz, sgrp, zgrp, a, r),
                }
            }
            // Eq. (SP1)'s + δ_kj I^t_j (Eqs. R6, L7, M6): gate g's block [x^t | z^{t−1} | 1]
            // scaled by γ_{g,j}, into component c(g) of neuron j's rows
            for g in 0..self.kernel.gates {
                let at = sp * d + self.kernel.component(g);
                let gam = self.gain[g * n + j];
                let cols = sgrp[g * width * rd..(g + 1) * width * rd].chunks_exact_mut(rd);
                for (o, scol) in cols.enumerate() {
                    let v = if o < n_in {
                        self.x[o]
                    } else if o < n_in + n {
                        let i = o - n_in;
                        if i == j && !autapses { T::zero() } else { self.z[i] }
                    } else {
                        T::one()
                    };
                    scol[at] += gam * v;
                }
            }
            for (q, scol) in sgrp.chunks_exact(rd).enumerate() {
                let zcol = &mut zgrp[q * r..(q + 1) * r];
                // Eq. (SP3): Z_{k·}^t = ∂z_k^t/∂h_k^t S_{k·}^t
                for (a, &k) in group.iter().enumerate() {
                    let mut acc = T::zero();
                    for c in 0..d {
                        acc += self.zh_new[k * d + c] * scol[a * d + c];
                    }
                    zcol[a] = acc;
                }
                let ycol = &mut ygrp[q * k_out..(q + 1) * k_out];
                if lag == 0 {
                    readout_column(ycol, &self.w_out, group, zcol, kappa, c_out); // Eq. (SP4)
                }
                // Eq. (SP5): grad_θ += (Y^t_{·θ})ᵀ g^t
                let mut gacc = T::zero();
                for (&yk, &gk) in ycol.iter().zip(&self.g) {
                    gacc += yk * gk;
                }
                self.grad_cols[j * pl + q] += gacc;
                if reg {
                    for (acc, &zv) in
                        self.zs_sum[r0 * pl + q * r..r0 * pl + (q + 1) * r].iter_mut().zip(zcol.iter())
                    {
                        *acc += zv;
                    }
                }
            }
            // Eq. (SP6): D S, (∂M/∂z) Z, (∂z/∂h) S, W_out Z on this group's P_loc columns
            let hops_j = (lay.hop_start[r1] - lay.hop_start[r0]) as u64;
            let (r, du) = (r as u64, d as u64);
            madds += pl as u64 * (r * du * du + du * hops_j + r * du + k_out as u64 * r);
        }
        self.madds += madds;
        if reg {
            for (acc, &zv) in self.z_sum.iter_mut().zip(&self.z_new) {
                *acc += zv;
            }
        }
        std::mem::swap(&mut self.h, &mut self.h_new);
        std::mem::swap(&mut self.refr, &mut self.refr_new);
        std::mem::swap(&mut self.z, &mut self.z_new);
        std::mem::swap(&mut self.zh, &mut self.zh_new);
        self.steps += 1;
    }

    /// Ends the sequence: the regulariser's loss and its gradient (rtrl.md Eq. T6 on the
    /// pattern, Eq. SP5), then the cell gradient scattered into the tensors.
    pub fn finish(&mut self, net: &Network) {
        let (n, _, pl, _) = self.layout.dims;
        if let Some(reg) = &net.reg {
            let (e, g) = reg.value_and_grad(&self.z_sum, self.steps);
            self.loss += e;
            for j in 0..n {
                let (r0, r1) = (self.layout.row_start[j], self.layout.row_start[j + 1]);
                let r = r1 - r0;
                for q in 0..pl {
                    let zcol = &self.zs_sum[r0 * pl + q * r..r0 * pl + (q + 1) * r];
                    let mut acc = T::zero();
                    for (&k, &zv) in self.layout.rows[r0..r1].iter().zip(zcol) {
                        acc += zv * g[k]; // Eq. (T6)
                    }
                    self.grad_cols[j * pl + q] += acc;
                }
            }
        }
        let mut flat = DVector::<T>::zeros(net.p_cell());
        for j in 0..n {
            for q in 0..pl {
                flat[net.flat_index_of_local(j, q)] = self.grad_cols[j * pl + q];
            }
        }
        self.grad.add_flat_cells(net, &flat);
        self.grad_cols.fill(T::zero());
    }
}

/// Eq. (SP1) without `I^t` for kept row `a` of every column of one group:
/// `S_a ← D_kk S_a + Σ_{(b, e) ∈ hops} (∂M_k/∂z_i)_e Z_b^{t−1}` (`d`-blocks; `sgrp` holds the
/// group's columns of `r·d` entries, `zgrp` its columns of `r`).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn sp1_row<T: Scalar>(
    d: usize,
    dk: &[T],
    hops: &[(usize, usize)],
    mz: &[T],
    sgrp: &mut [T],
    zgrp: &[T],
    a: usize,
    r: usize,
) {
    let mut tmp = [T::zero(); credit_core::columns::MAX_STATE_DIM];
    for (scol, zcol) in sgrp.chunks_exact_mut(r * d).zip(zgrp.chunks_exact(r)) {
        let blk = &mut scol[a * d..(a + 1) * d];
        for c in 0..d {
            let mut acc = T::zero();
            for c2 in 0..d {
                acc += dk[c * d + c2] * blk[c2];
            }
            tmp[c] = acc;
        }
        for &(b, e) in hops {
            let zb = zcol[b];
            for c in 0..d {
                tmp[c] += mz[e * d + c] * zb;
            }
        }
        blk.copy_from_slice(&tmp[..d]); // a constant-size copy once `d` is inlined
    }
}

/// Eq. (SP4) for one column: `Y_{·θ} ← κ Y_{·θ} + c Σ_{k ∈ R(j)} W_out[·, k] Z_{kθ}`.
fn readout_column<T: Scalar>(
    ycol: &mut [T],
    w_out: &DMatrix<T>,
    group: &[usize],
    zcol: &[T],
    kappa: T,
    c: T,
) {
    for (kk, yk) in ycol.iter_mut().enumerate() {
        let mut acc = T::zero();
        for (&k, &zv) in group.iter().zip(zcol) {
            acc += w_out[(kk, k)] * zv;
        }
        *yk = *yk * kappa + acc * c;
    }
}

/// What sparse SnAp returns: the literal's [`Snap`] fields plus the counted cost.
#[derive(Clone, Debug, PartialEq)]
pub struct SparseSnap<T: Scalar> {
    /// The loss `E`.
    pub loss: T,
    /// The SnAp-n estimate of `dE/dθ` (the readout tensors are exact).
    pub grad: Params<T>,
    /// Multiply-adds of the sensitivity products over the sequence (Eq. SP6).
    pub madds: u64,
    /// Scalars held ([`SparseState::len_scalars`]).
    pub floats: u64,
}

impl<T: Scalar> SparseSnap<T> {
    /// The literal function's return type (loss and gradient).
    pub fn snap(self) -> Snap<T> {
        Snap { loss: self.loss, grad: self.grad }
    }
}

/// Sparse SnAp-`n`: equal to [`crate::gradient`] (Eqs. S1–S4 evaluated on the pattern,
/// `docs/snap.md` §6), for every cell and any scalar (fast for `f32` and `f64`), online.
pub fn gradient<T: Scalar>(
    net: &Network,
    params: &Params<T>,
    seq: &Sequence,
    n: usize,
) -> credit_core::Result<SparseSnap<T>> {
    net.validate()?;
    params.validate(net)?;
    seq.validate(net)?;
    let mut st = SparseState::new(net, params, n)?;
    let floats = st.len_scalars() as u64;
    for t in 0..seq.len() {
        st.step(net, &seq.x[t], &seq.target[t], seq.mask[t]);
    }
    st.finish(net);
    Ok(SparseSnap { loss: st.loss, grad: st.grad, madds: st.madds, floats })
}
