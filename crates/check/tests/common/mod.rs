//! Shared helpers of the integration tests (included with `mod common;`).
#![allow(dead_code)]

use credit_check::suite::{alif, lif, lstm, rate};
use credit_core::cell::Reset;
use credit_core::{Cell, Loss, Network, Params, Readout, Scalar, Sequence};
use nalgebra::DMatrix;

/// Cell for an index 0 = rate, 1 = lif, 2 = alif, 3 = lstm, with a convention picked by `variant`.
pub fn cell(kind: usize, variant: u32) -> Cell {
    let reset = if variant.is_multiple_of(2) { Reset::Differentiated } else { Reset::Detached };
    let n_ref = variant / 2 % 3;
    match kind {
        0 => rate([1.0, 0.5, 0.2][variant as usize % 3]),
        1 => lif(n_ref, reset),
        2 => alif(n_ref, reset),
        _ => lstm(),
    }
}

/// A network with the given sizes.
pub fn net(cell: Cell, n_in: usize, n: usize, k: usize, ce: bool, kappa: f64) -> Network {
    let loss = if ce { Loss::CrossEntropy } else { Loss::Mse };
    Network::new(cell, n_in, n, k, Readout { kappa }, loss).expect("valid test network")
}

/// Random parameters and sequence.
pub fn instance(net: &Network, steps: usize, seed: u64) -> (Params<f64>, Sequence) {
    (Params::random(net, seed).expect("params"), Sequence::random(net, steps, seed).expect("sequence"))
}

/// Max relative error per tensor (real parts), see `credit_check::max_rel_err`.
pub fn per_tensor<T: Scalar, U: Scalar>(a: &Params<T>, b: &Params<U>) -> Vec<(&'static str, f64)> {
    a.tensors
        .iter()
        .zip(&b.tensors)
        .map(|(x, y)| {
            (x.name, credit_check::max_rel_err(&x.value.map(|v| v.value()), &y.value.map(|v| v.value())))
        })
        .collect()
}

/// Asserts every tensor agrees within `tol`, naming the tensor on failure.
pub fn assert_close<T: Scalar, U: Scalar>(what: &str, a: &Params<T>, b: &Params<U>, tol: f64) {
    for (name, e) in per_tensor(a, b) {
        assert!(e <= tol, "{what}: tensor {name} max relative error {e:e} > {tol:e}");
    }
}

/// Formats a number to `sig` significant digits with `-0` normalised, for platform-stable
/// snapshots.
pub fn snap(x: f64, sig: usize) -> String {
    if x == 0.0 {
        return format!("{:+.*e}", sig - 1, 0.0);
    }
    let s = format!("{:+.*e}", sig - 1, x);
    // re-parse so that a rounded value of zero cannot print as -0
    let v: f64 = s.parse().unwrap_or(x);
    format!("{:+.*e}", sig - 1, v + 0.0)
}

/// A matrix as rows of rounded numbers.
pub fn snap_matrix(m: &DMatrix<f64>, sig: usize) -> String {
    (0..m.nrows())
        .map(|i| (0..m.ncols()).map(|j| snap(m[(i, j)], sig)).collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}
