//! Column-major sensitivity kernels shared by the fast forward-mode paths
//! (`credit_rtrl::fast`, `credit_deep::fast`, `credit_ostl::fast`; `docs/rtrl.md` §6,
//! `docs/deep.md` §10).
//!
//! A sensitivity `S` of a layer of `N` neurons with state dimension `d` is stored as an
//! `(N·d) × P` matrix, column-major, one column per parameter, the `d` state rows of neuron `j`
//! at rows `j·d .. j·d + d` (neuron-major). On that layout:
//!
//! * [`d_in_place`] is the implicit term `D^t S` of every forward recursion (`docs/rtrl.md`
//!   Eq. T1, `docs/deep.md` Eqs. D1 and O-T): per column, `N` contiguous `d × d` products with
//!   the blocks `D_jj^t` (row-major, from [`flatten_d`]); [`d_column`] is the same for one column;
//! * [`add_immediate`] is the immediate term `+ I^t` of the same equations, scattered through a
//!   map from flat parameter to `(neuron, local index)` ([`owners`], [`stack_owners`]);
//! * [`output_into`] is `Z = ∂z/∂h · S` (`docs/rtrl.md` Eq. T2; `e = ∂z/∂h ε` of Eq. D1);
//! * [`readout_acc`] is `Y += c W^{out} Z` (Eq. T3 without the decay);
//! * [`load`] converts a sequence's `f64` data into a preallocated buffer.
//!
//! The kernels compute each entry with the same operations, in the same order, as the literal
//! `nalgebra` products they replace; the fast paths that use them are proved equal to their
//! literal functions per tensor (`rtrl-fast=rtrl`, `deep-fast=deep`, `ostl-fast=ostl`).

use crate::stack::Stack;
use crate::{CellModel, LocalJacobians, Network, Scalar};
use nalgebra::{DMatrix, DVector};

/// The largest state dimension `d` the block kernels handle (every cell of the core has `d ≤ 3`).
pub const MAX_STATE_DIM: usize = 8;

/// `col ← D^t col` for one column of `N·d` neuron-major rows (the implicit term of Eq. T1);
/// `dflat` holds the `N` blocks `D_jj^t` row-major (`d·d` each, [`flatten_d`]). `d ≤`
/// [`MAX_STATE_DIM`].
#[inline]
pub fn d_column<T: Scalar>(dflat: &[T], d: usize, col: &mut [T]) {
    if d == 1 {
        for (x, &dj) in col.iter_mut().zip(dflat) {
            *x *= dj;
        }
        return;
    }
    let mut tmp = [T::zero(); MAX_STATE_DIM];
    assert!(d <= MAX_STATE_DIM, "state dimension above 8");
    for (blk, dj) in col.chunks_exact_mut(d).zip(dflat.chunks_exact(d * d)) {
        for c in 0..d {
            let mut acc = T::zero();
            for c2 in 0..d {
                acc += dj[c * d + c2] * blk[c2];
            }
            tmp[c] = acc;
        }
        blk.copy_from_slice(&tmp[..d]);
    }
}

/// `S ← D^t S` in place, column by column (Eq. T1, the implicit term): `s` has `N·d`
/// neuron-major rows; `dflat` holds the `N` blocks `D_jj^t` row-major (`d·d` each), filled by
/// [`flatten_d`].
pub fn d_in_place<T: Scalar>(dflat: &[T], d: usize, s: &mut DMatrix<T>) {
    let nd = s.nrows();
    if nd == 0 {
        return;
    }
    for col in s.as_mut_slice().chunks_exact_mut(nd) {
        d_column(dflat, d, col);
    }
}

/// The blocks `D_jj^t` of `jac` row-major into `out` (`N·d·d`).
pub fn flatten_d<T: Scalar>(jac: &LocalJacobians<T>, out: &mut [T]) {
    for (j, b) in jac.d.iter().enumerate() {
        let d = b.nrows();
        for c in 0..d {
            for c2 in 0..d {
                out[j * d * d + c * d + c2] = b[(c, c2)];
            }
        }
    }
}

/// The `N × d` output Jacobian `∂z/∂h` flattened neuron-major (`f[j·d + c] = rows[(j, c)]`), as
/// [`output_column`] reads it.
pub fn flatten_rows<T: Scalar>(rows: &DMatrix<T>) -> Vec<T> {
    let (n, d) = rows.shape();
    let mut f = Vec::with_capacity(n * d);
    for j in 0..n {
        for c in 0..d {
            f.push(rows[(j, c)]);
        }
    }
    f
}

/// `z_j = Σ_c f[j·d + c] · s[j·d + c]` for one column (Eq. T2): `f` from [`flatten_rows`], `s`
/// a column of `N·d` neuron-major rows, `z` the matching column of `N` rows.
#[inline]
pub fn output_column<T: Scalar>(f: &[T], d: usize, s: &[T], z: &mut [T]) {
    if d == 1 {
        for ((zj, &sj), &fj) in z.iter_mut().zip(s).zip(f) {
            *zj = fj * sj;
        }
    } else {
        for (j, zj) in z.iter_mut().enumerate() {
            let mut acc = T::zero();
            for c in 0..d {
                acc += f[j * d + c] * s[j * d + c];
            }
            *zj = acc;
        }
    }
}

/// `Z ← ∂z/∂h · S` (Eq. T2) into a preallocated `N × P` buffer; `rows` is the `N×d` output
/// Jacobian, `s` has `N·d` rows and the same columns as `z`.
pub fn output_into<T: Scalar>(rows: &DMatrix<T>, s: &DMatrix<T>, z: &mut DMatrix<T>) {
    let (n, d) = rows.shape();
    if n == 0 {
        return;
    }
    let f = flatten_rows(rows);
    for (zc, sc) in z.as_mut_slice().chunks_exact_mut(n).zip(s.as_slice().chunks_exact(n * d)) {
        output_column(&f, d, sc, zc);
    }
}

/// `S += I^t` (Eq. T1, the immediate term): column `p` of `s` receives block `owner[p].0`'s
/// column `owner[p].1` in the rows of that neuron (`owner` from [`owners`] or [`stack_owners`];
/// columns whose owner is `None` belong to other layers).
pub fn add_immediate<T: Scalar>(i: &[DMatrix<T>], owner: &[Option<(usize, usize)>], s: &mut DMatrix<T>) {
    let nd = s.nrows();
    if nd == 0 {
        return;
    }
    for (col, own) in s.as_mut_slice().chunks_exact_mut(nd).zip(owner) {
        if let Some((j, q)) = *own {
            let b = &i[j];
            let d = b.nrows();
            for c in 0..d {
                col[j * d + c] += b[(c, q)];
            }
        }
    }
}

/// For every flat cell parameter of a single layer, its `(neuron j, local index q)`: the
/// inverse of [`Network::flat_index_of_local`].
pub fn owners(net: &Network) -> Vec<Option<(usize, usize)>> {
    let mut o = vec![None; net.p_cell()];
    for j in 0..net.n {
        for q in 0..net.p_loc() {
            o[net.flat_index_of_local(j, q)] = Some((j, q));
        }
    }
    o
}

/// For every flat cell parameter of the stack (all layers), its `(neuron, local index)` if it
/// belongs to layer `l` (the inverse of [`Stack::locate_local`]).
pub fn stack_owners(stack: &Stack, l: usize) -> Vec<Option<(usize, usize)>> {
    let mut o = vec![None; stack.p_cells()];
    let layer = &stack.layers[l];
    let p_loc: usize = layer.cell.tensor_cols(stack.layer_input(l), layer.n).iter().sum();
    for j in 0..layer.n {
        for q in 0..p_loc {
            o[stack.locate_local(l, j, q).2] = Some((j, q));
        }
    }
    o
}

/// `dst ← src` elementwise from `f64` data (the sequence) without allocating.
pub fn load<T: Scalar>(dst: &mut DVector<T>, src: &DVector<f64>) {
    for (a, &b) in dst.iter_mut().zip(src.iter()) {
        *a = T::c(b);
    }
}

/// `Y += c · W^{out}[:, off..off+N] · Z` (Eq. T3 without the decay) for a `K × P` readout
/// sensitivity and an `N × P` `Z`, with `wt = (W^{out})ᵀ` so that each readout row is a
/// contiguous column: `K` dot products of length `N` per column of `Z`. (nalgebra's `gemm`
/// leaves `matrixmultiply` when a dimension is ≤ 5, as `K` usually is, for a loop of short
/// `axpy`s that cost more than the whole `O(N²P)` GEMM of (T1) at `K = 2`.)
pub fn readout_acc<T: Scalar>(ys: &mut DMatrix<T>, wt: &DMatrix<T>, off: usize, zs: &DMatrix<T>, c: T) {
    let (k_out, n) = (ys.nrows(), zs.nrows());
    if n == 0 || k_out == 0 {
        return;
    }
    let wt = wt.as_slice();
    let nw = wt.len() / k_out; // rows of wt
    for (yc, zc) in ys.as_mut_slice().chunks_exact_mut(k_out).zip(zs.as_slice().chunks_exact(n)) {
        for (k, yk) in yc.iter_mut().enumerate() {
            let wk = &wt[k * nw + off..k * nw + off + n];
            let mut acc = T::zero();
            for (&a, &b) in wk.iter().zip(zc) {
                acc += a * b;
            }
            *yk += c * acc;
        }
    }
}
