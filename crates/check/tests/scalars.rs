//! The same tests instantiated for every scalar type (nalgebra's `gen_tests!` pattern): BPTT,
//! RTRL and e-prop run unchanged on `f32`, `f64` and `Dual64`, the oracle on `f32` and `f64`.
//!
//! For `Dual64` the parameters carry a direction `v` in their dual parts, so the dual part of a
//! gradient is the derivative of the gradient along `v` (a Hessian-vector product of the
//! surrogate loss). BPTT and RTRL must agree on it too. num-dual compares duals by real part
//! only, so every assertion here is on extracted `f64` parts.

// Exact (bit-for-bit) equalities are intended where they are asserted.
#![allow(clippy::float_cmp)]

mod common;

use common::*;
use credit_core::{Params, Scalar};
use nalgebra::DMatrix;
use num_dual::Dual64;

/// Real and dual part of a scalar as `f64` (dual part 0 for plain floats).
trait Parts: Scalar {
    fn parts(self) -> (f64, f64);
}
impl Parts for f32 {
    fn parts(self) -> (f64, f64) {
        (self as f64, 0.0)
    }
}
impl Parts for f64 {
    fn parts(self) -> (f64, f64) {
        (self, 0.0)
    }
}
impl Parts for Dual64 {
    fn parts(self) -> (f64, f64) {
        (self.re, self.eps)
    }
}

/// Lifts `f64` parameters into `T`, with direction `dir` in the dual part when `T` has one.
trait Lift: Parts {
    fn lift(x: f64, v: f64) -> Self;
}
impl Lift for f32 {
    fn lift(x: f64, _: f64) -> Self {
        x as f32
    }
}
impl Lift for f64 {
    fn lift(x: f64, _: f64) -> Self {
        x
    }
}
impl Lift for Dual64 {
    fn lift(x: f64, v: f64) -> Self {
        Dual64::new(x, v)
    }
}

fn lift<T: Lift>(p: &Params<f64>, dir: &Params<f64>) -> Params<T> {
    let mut q: Params<T> = p.cast();
    for (t, d) in q.tensors.iter_mut().zip(&dir.tensors) {
        t.value = DMatrix::from_fn(t.value.nrows(), t.value.ncols(), |i, j| {
            T::lift(p.get(t.name).expect("layout")[(i, j)], d.value[(i, j)])
        });
    }
    q
}

fn part<T: Parts>(g: &Params<T>, which: usize) -> Params<f64> {
    g.map(|x| if which == 0 { x.parts().0 } else { x.parts().1 })
}

macro_rules! scalar_tests {
    ($($module:ident: $t:ty, tol = $tol:expr, vs_f64 = $tol64:expr;)*) => {$(
        mod $module {
            use super::*;

            fn each_config(mut f: impl FnMut(&credit_core::Network, &Params<f64>, &credit_core::Sequence, &Params<f64>)) {
                for kind in 0..4 {
                    for variant in [0u32, 3] {
                        let net = net(cell(kind, variant), 3, 5, 2, variant == 3, 0.9);
                        let (p, seq) = instance(&net, 14, 100 + kind as u64 + variant as u64);
                        let dir = Params::<f64>::random(&net, 7).unwrap();
                        f(&net, &p, &seq, &dir);
                    }
                }
            }

            #[test]
            fn bptt_equals_rtrl() {
                each_config(|net, p, seq, dir| {
                    let q: Params<$t> = lift(p, dir);
                    let b = credit_bptt::gradient(net, &q, seq).unwrap();
                    let r = credit_rtrl::gradient(net, &q, seq).unwrap();
                    assert_close("real parts", &part(&r.grad, 0), &part(&b.grad, 0), $tol);
                    assert_close("dual parts", &part(&r.grad, 1), &part(&b.grad, 1), $tol);
                });
            }

            #[test]
            fn eprop_causal_equals_noncausal() {
                each_config(|net, p, seq, dir| {
                    let q: Params<$t> = lift(p, dir);
                    let fb = credit_eprop::Feedback::Symmetric;
                    let online = credit_eprop::gradient(net, &q, seq, &fb).unwrap();
                    let noncausal = credit_eprop::gradient_noncausal(net, &q, seq, &fb).unwrap();
                    assert_close("real parts", &part(&online.grad, 0), &part(&noncausal, 0), $tol);
                    assert_close("dual parts", &part(&online.grad, 1), &part(&noncausal, 1), $tol);
                });
            }

            #[test]
            fn real_part_matches_the_f64_run() {
                each_config(|net, p, seq, dir| {
                    let q: Params<$t> = lift(p, dir);
                    let b = credit_bptt::gradient(net, &q, seq).unwrap();
                    let b64 = credit_bptt::gradient(net, p, seq).unwrap();
                    assert_close("bptt vs f64", &part(&b.grad, 0), &b64.grad, $tol64);
                });
            }
        }
    )*};
}

scalar_tests! {
    f32_: f32, tol = 1e-4, vs_f64 = 1e-3;
    f64_: f64, tol = 1e-12, vs_f64 = 0.0;
    dual64: Dual64, tol = 1e-12, vs_f64 = 1e-14;
}

macro_rules! oracle_tests {
    ($($module:ident: $t:ty, tol = $tol:expr;)*) => {$(
        mod $module {
            use super::*;
            use credit_core::Detach;

            #[test]
            fn oracle_equals_bptt() {
                for kind in 0..4 {
                    let net = net(cell(kind, 0), 3, 4, 2, false, 0.8);
                    let (p, seq) = instance(&net, 12, 200 + kind as u64);
                    let q: Params<$t> = p.cast();
                    let o = credit_oracle::gradient(&net, &q, &seq, Detach::default()).unwrap();
                    let b = credit_bptt::gradient(&net, &q, &seq).unwrap();
                    assert_close("oracle vs bptt", &o.grad, &b.grad, $tol);
                }
            }
        }
    )*};
}

oracle_tests! {
    oracle_f32: f32, tol = 1e-4;
    oracle_f64: f64, tol = 1e-12;
}

/// The dual part of the Dual64 BPTT gradient is the derivative of the gradient: it matches
/// central differences of the f64 BPTT gradient along the same direction (rate cell, smooth).
#[test]
fn dual_part_is_the_directional_derivative_of_the_gradient() {
    let net = net(cell(0, 1), 3, 4, 2, false, 0.7);
    let (p, seq) = instance(&net, 10, 5);
    let dir = Params::<f64>::random(&net, 9).unwrap();
    let q: Params<Dual64> = lift(&p, &dir);
    let hv = part(&credit_bptt::gradient(&net, &q, &seq).unwrap().grad, 1);
    let h = 1e-5;
    let shifted = |s: f64| {
        let mut pp = p.clone();
        for (t, d) in pp.tensors.iter_mut().zip(&dir.tensors) {
            t.value += &d.value * s;
        }
        credit_bptt::gradient(&net, &pp, &seq).unwrap().grad
    };
    let (up, down) = (shifted(h), shifted(-h));
    let fd = Params {
        tensors: up
            .tensors
            .iter()
            .zip(&down.tensors)
            .map(|(a, b)| credit_core::Tensor { name: a.name, value: (&a.value - &b.value) / (2.0 * h) })
            .collect(),
    };
    assert_close("Hv vs finite differences", &hv, &fd, 1e-6);
}
