//! Shared helpers of the integration tests (included with `mod common;`).
#![allow(dead_code)]

use credit_check::suite::{alif, lif, lstm, rate};
use credit_core::cell::{RefractoryPsi, Reset, Spiking, Surrogate};
use credit_core::stack::{InterLayer, Layer, ReadoutFrom, Stack};
use credit_core::{Cell, Loss, Network, Params, Readout, Scalar, Sequence};
use nalgebra::DMatrix;
use proptest::test_runner::{Config as PtConfig, RngSeed};

/// Cell for an index 0 = rate, 1 = lif, 2 = alif, 3 = lstm, with the conventions picked by
/// `variant` (0..48): reset `v % 2`, refractory steps `(v/2) % 3`, surrogate `(v/6) % 4`
/// (piecewise linear, exponential, fast sigmoid, arctan), ψ kept while refractory `(v/24) % 2`.
pub fn cell(kind: usize, variant: u32) -> Cell {
    let reset = if variant.is_multiple_of(2) { Reset::Differentiated } else { Reset::Detached };
    let n_ref = variant / 2 % 3;
    let with = |c: Cell| -> Cell {
        let tweak = |sp: &mut Spiking| {
            sp.surrogate = match variant / 6 % 4 {
                0 => Surrogate::PiecewiseLinear { gamma: 0.3 },
                1 => Surrogate::Exponential { gamma: 0.3, beta: 2.0 },
                2 => Surrogate::FastSigmoid { gamma: 0.3, beta: 3.0 },
                _ => Surrogate::ArcTan { gamma: 0.3, beta: 1.5 },
            };
            if variant / 24 % 2 == 1 {
                sp.refractory_psi = RefractoryPsi::Keep;
            }
        };
        match c {
            Cell::Lif(mut l) => {
                tweak(&mut l.spiking);
                Cell::Lif(l)
            }
            Cell::Alif(mut a) => {
                tweak(&mut a.spiking);
                Cell::Alif(a)
            }
            other => other,
        }
    };
    match kind {
        0 => rate([1.0, 0.5, 0.2][variant as usize % 3]),
        1 => with(lif(n_ref, reset)),
        2 => with(alif(n_ref, reset)),
        _ => lstm(),
    }
}

/// A network with the given sizes.
pub fn net(cell: Cell, n_in: usize, n: usize, k: usize, ce: bool, kappa: f64) -> Network {
    let loss = if ce { Loss::CrossEntropy } else { Loss::Mse };
    Network::new(cell, n_in, n, k, Readout::leaky(kappa), loss).expect("valid test network")
}

/// A network whose readout conventions are picked by `variant` (bits above the cell's):
/// prefactor `c = 1 − κ` when `(v/48) % 2 = 1`, one-step delay when `(v/96) % 2 = 1`,
/// firing-rate regularisation when `(v/192) % 2 = 1` (with `k = ½` when `(v/384) % 2 = 1`).
pub fn net_v(cell: Cell, n_in: usize, n: usize, k: usize, ce: bool, kappa: f64, variant: u32) -> Network {
    let mut r = Readout::leaky(kappa.min(0.95));
    if variant / 48 % 2 == 1 {
        r.scale = credit_core::ReadoutScale::OneMinusKappa;
    }
    if variant / 96 % 2 == 1 {
        r.delay = credit_core::ReadoutDelay::OneStep;
    }
    let loss = if ce { Loss::CrossEntropy } else { Loss::Mse };
    let net = Network::new(cell, n_in, n, k, r, loss).expect("valid test network");
    if variant / 192 % 2 == 1 {
        let factor =
            if variant / 384 % 2 == 1 { credit_core::RegFactor::Half } else { credit_core::RegFactor::Full };
        let reg = credit_core::RateReg { c_reg: 0.3, f_target: 0.05, dt: 1.0, factor };
        return net.with_reg(reg).expect("valid regulariser");
    }
    net
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

/// Every array of the `.npz` at `path`, by name, in the file's order.
pub fn read_all(path: &std::path::Path) -> Vec<(String, ndarray::ArrayD<f64>)> {
    let mut r = ndarray_npy::NpzReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let names = r.names().unwrap();
    names.into_iter().map(|n| (n.clone(), r.by_name(&n).unwrap())).collect()
}

/// Writes `arrays` as the `.npz` at `path`.
pub fn write_all(path: &std::path::Path, arrays: &[(String, ndarray::ArrayD<f64>)]) {
    let mut w = ndarray_npy::NpzWriter::new(std::fs::File::create(path).unwrap());
    for (n, a) in arrays {
        w.add_array(n.as_str(), a).unwrap();
    }
    w.finish().unwrap();
}

/// A proptest configuration with `cases` cases from the fixed seed `seed` and no persisted
/// failures (reproducible runs).
pub fn pt_config(cases: u32, seed: u64) -> PtConfig {
    PtConfig {
        cases,
        failure_persistence: None,
        rng_seed: RngSeed::Fixed(seed),
        max_global_rejects: 4096,
        ..PtConfig::default()
    }
}

/// A stack of `(cell kind, convention variant, neurons)` layers (kinds and variants as [`cell`])
/// with `k` outputs, a leaky readout `kappa`, cross-entropy (`ce`) or MSE, same-step
/// (`same_step`) or one-step inter-layer timing, read from every layer (`all`) or the top.
pub fn stack_of(
    kinds: &[(usize, u32, usize)],
    n_in: usize,
    k: usize,
    ce: bool,
    same_step: bool,
    all: bool,
    kappa: f64,
) -> Stack {
    let layers: Vec<Layer> = kinds.iter().map(|&(kind, v, n)| Layer { cell: cell(kind, v), n }).collect();
    let loss = if ce { Loss::CrossEntropy } else { Loss::Mse };
    let mut stack = Stack::new(layers, n_in, k, Readout::leaky(kappa), loss).unwrap();
    stack.inter = if same_step { InterLayer::SameStep } else { InterLayer::OneStep };
    stack.readout_from = if all { ReadoutFrom::All } else { ReadoutFrom::Top };
    stack
}

/// `(real, dual)` parts of a gradient as `f64` (`dual` extracts the `.eps` part, or 0).
pub fn parts<T: Scalar>(g: &Params<T>, dual: impl Fn(T) -> f64) -> (Params<f64>, Params<f64>) {
    (g.map(|x| x.value()), g.map(dual))
}

/// `f64` parameters lifted into the scalar `T` by `mk(value, direction)`, the direction `dir`
/// in the dual part (for `Dual64`; ignored by `f32`, `f64`).
pub fn lift<T: Scalar>(p: &Params<f64>, dir: &Params<f64>, mk: fn(f64, f64) -> T) -> Params<T> {
    let mut q: Params<T> = p.cast();
    for (t, (a, d)) in q.tensors.iter_mut().zip(p.tensors.iter().zip(&dir.tensors)) {
        t.value = a.value.zip_map(&d.value, mk);
    }
    q
}
