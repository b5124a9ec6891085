//! The vectorised `exp`, `tanh`, `sigmoid` of `credit_core::vmath` (`docs/fast.md` §2.1)
//! against libm: dense sweeps over the whole range, random inputs (proptest), special values,
//! subnormal and overflow boundaries, chunk tails, and the scalar path for dual numbers.
#![allow(clippy::float_cmp)] // bit-exact equalities are the point of these tests

use credit_core::cell::lstm::sigmoid;
use credit_core::fast::exp_tanh;
use credit_core::vmath::{self, exp_f32, exp_f64, exp_in_place, exp_tanh_in_place, sigmoid_in_place};
use num_dual::Dual64;
use proptest::prelude::*;

/// Distance in units in the last place: 0 for equal values (including `+0 = −0`) and two NaNs,
/// `u64::MAX` for a NaN against a number, different signs or an infinity against a finite value.
fn ulps64(a: f64, b: f64) -> u64 {
    if a == b || (a.is_nan() && b.is_nan()) {
        0
    } else if a.is_nan()
        || b.is_nan()
        || a.is_sign_negative() != b.is_sign_negative()
        || !a.is_finite()
        || !b.is_finite()
    {
        u64::MAX
    } else {
        a.abs().to_bits().abs_diff(b.abs().to_bits())
    }
}

fn ulps32(a: f32, b: f32) -> u64 {
    if a == b || (a.is_nan() && b.is_nan()) {
        0
    } else if a.is_nan()
        || b.is_nan()
        || a.is_sign_negative() != b.is_sign_negative()
        || !a.is_finite()
        || !b.is_finite()
    {
        u64::MAX
    } else {
        u64::from(a.abs().to_bits().abs_diff(b.abs().to_bits()))
    }
}

/// A sweep of `[lo, hi]` with `count` points, each nudged off the grid by an irregular amount.
fn sweep(lo: f64, hi: f64, count: usize) -> Vec<f64> {
    (0..count)
        .map(|k| lo + (hi - lo) * (k as f64 + 0.5 + 0.49 * (k as f64 * 0.618).sin()) / count as f64)
        .collect()
}

/// Worst ulp distance of the slice kernel from libm over `xs`, with the argument.
fn worst64(xs: &[f64]) -> (u64, f64) {
    let mut ys = xs.to_vec();
    exp_in_place(&mut ys);
    xs.iter()
        .zip(&ys)
        .map(|(&x, &y)| (ulps64(y, x.exp()), x))
        .fold((0, 0.0), |w, e| if e.0 > w.0 { e } else { w })
}

fn worst32(xs: &[f32]) -> (u64, f32) {
    let mut ys = xs.to_vec();
    exp_in_place(&mut ys);
    xs.iter()
        .zip(&ys)
        .map(|(&x, &y)| (ulps32(y, x.exp()), x))
        .fold((0, 0.0), |w, e| if e.0 > w.0 { e } else { w })
}

/// The bound of `docs/fast.md` §2.1: at most 1 ulp from libm.
const BOUND: u64 = 1;

/// `f64`: the whole range (overflow and subnormal results at both ends), `[−1, 1]`, the
/// subnormal range and tiny arguments, 4 M points.
#[test]
fn exp_f64_within_one_ulp_of_libm_over_the_whole_range() {
    for (lo, hi, count) in [(-750.0, 712.0, 2_000_000), (-1.0, 1.0, 1_000_000), (-746.0, -707.0, 1_000_000)] {
        let (w, at) = worst64(&sweep(lo, hi, count));
        assert!(w <= BOUND, "[{lo}, {hi}]: {w} ulp at {at:e}");
    }
    let tiny: Vec<f64> = (0..4000)
        .map(|k| (if k % 2 == 0 { 1.0 } else { -1.0 }) * 10f64.powf(-320.0 + k as f64 * 0.08))
        .collect();
    let (w, at) = worst64(&tiny);
    assert!(w <= BOUND, "tiny: {w} ulp at {at:e}");
}

#[test]
fn exp_f32_within_one_ulp_of_libm_over_the_whole_range() {
    for (lo, hi, count) in [(-106.0, 90.0, 2_000_000), (-1.0, 1.0, 1_000_000), (-104.0, -86.0, 1_000_000)] {
        let xs: Vec<f32> = sweep(lo, hi, count).iter().map(|&x| x as f32).collect();
        let (w, at) = worst32(&xs);
        assert!(w <= BOUND, "[{lo}, {hi}]: {w} ulp at {at:e}");
    }
}

/// Every representable argument next to the overflow and the underflow thresholds: libm's
/// result (finite or `+∞`, subnormal or `+0`) within 1 ulp, i.e. the same side of each threshold
/// except where libm's own result is within 1 ulp of it.
#[test]
fn exp_thresholds() {
    let walk64 = |x0: f64| -> Vec<f64> {
        let mut v = vec![x0];
        let (mut up, mut dn) = (x0, x0);
        for _ in 0..2000 {
            up = up.next_up();
            dn = dn.next_down();
            v.extend([up, dn]);
        }
        v
    };
    for x0 in [
        f64::MAX.ln(),
        f64::from_bits(1).ln(),
        (f64::from_bits(1) / 2.0).ln().next_down(),
        f64::MIN_POSITIVE.ln(),
    ] {
        let (w, at) = worst64(&walk64(x0));
        assert!(w <= BOUND, "near {x0}: {w} ulp at {at:e}");
    }
    let walk32 = |x0: f32| -> Vec<f32> {
        let mut v = vec![x0];
        let (mut up, mut dn) = (x0, x0);
        for _ in 0..2000 {
            up = up.next_up();
            dn = dn.next_down();
            v.extend([up, dn]);
        }
        v
    };
    for x0 in [f32::MAX.ln(), f32::from_bits(1).ln(), f32::MIN_POSITIVE.ln()] {
        let (w, at) = worst32(&walk32(x0));
        assert!(w <= BOUND, "near {x0}: {w} ulp at {at:e}");
    }
}

/// What the callers need at the special values: `e^±0 = 1` exactly, `e^+∞ = +∞`, `e^−∞ = +0`,
/// `+∞` beyond `ln MAX`, `+0` far below, NaN for NaN, `1` for subnormal arguments.
#[test]
fn exp_special_values() {
    for x in [0.0f64, -0.0, 1e-310, -1e-310, f64::MIN_POSITIVE] {
        assert_eq!(exp_f64(x).to_bits(), 1.0f64.to_bits(), "{x:e}");
    }
    for x in [f64::INFINITY, f64::MAX, 710.0, 709.8, 1e300] {
        assert_eq!(exp_f64(x), f64::INFINITY, "{x:e}");
    }
    for x in [f64::NEG_INFINITY, f64::MIN, -746.0, -745.2, -1e300] {
        assert_eq!(exp_f64(x).to_bits(), 0.0f64.to_bits(), "{x:e}");
    }
    assert!(exp_f64(f64::NAN).is_nan() && exp_f64(-f64::NAN).is_nan());
    assert_eq!(exp_f64(-745.0).to_bits(), (-745.0f64).exp().to_bits(), "smallest subnormals");
    for x in [0.0f32, -0.0, 1e-40, -1e-40, f32::MIN_POSITIVE] {
        assert_eq!(exp_f32(x).to_bits(), 1.0f32.to_bits(), "{x:e}");
    }
    for x in [f32::INFINITY, f32::MAX, 89.0, 88.8, 1e30] {
        assert_eq!(exp_f32(x), f32::INFINITY, "{x:e}");
    }
    for x in [f32::NEG_INFINITY, f32::MIN, -104.0, -103.98, -1e30] {
        assert_eq!(exp_f32(x).to_bits(), 0.0f32.to_bits(), "{x:e}");
    }
    assert!(exp_f32(f32::NAN).is_nan());
    // the same through the slice kernels
    let mut v = [0.0f64, -0.0, f64::INFINITY, f64::NEG_INFINITY, f64::NAN, 1.0];
    exp_in_place(&mut v);
    assert_eq!(&v[..4], &[1.0, 1.0, f64::INFINITY, 0.0]);
    assert!(v[4].is_nan() && ulps64(v[5], std::f64::consts::E) <= BOUND);
}

/// `exp_tanh_in_place` = the scalar `exp_tanh` to 1ε absolute (it is `tanh` to 4ε relative
/// for `|x| > 0.3`), odd (`+0` at `±0`), `±1` far out; `sigmoid_in_place` = the scalar
/// `sigmoid` to 2 ulp, `½` at 0, `0`/`1` at `∓∞`; NaN stays NaN. `f32` and `f64`.
#[test]
fn tanh_and_sigmoid_match_the_scalar_versions() {
    let xs = sweep(-40.0, 40.0, 1_000_000);
    let (mut t, mut s) = (xs.clone(), xs.clone());
    exp_tanh_in_place(&mut t);
    sigmoid_in_place(&mut s);
    for k in 0..xs.len() {
        let x = xs[k];
        assert!((t[k] - exp_tanh(x)).abs() <= f64::EPSILON, "tanh {x}: {} vs {}", t[k], exp_tanh(x));
        if x.abs() > 0.3 {
            assert!((t[k] - x.tanh()).abs() <= 4.0 * f64::EPSILON * x.tanh().abs(), "tanh {x}");
        }
        assert_eq!(vmath::tanh_f64(-x).to_bits(), (-t[k]).to_bits(), "odd at {x}");
        assert!(ulps64(s[k], sigmoid(x)) <= 2, "sigmoid {x}: {} vs {}", s[k], sigmoid(x));
    }
    let xs32: Vec<f32> = sweep(-20.0, 20.0, 400_000).iter().map(|&x| x as f32).collect();
    let (mut t, mut s) = (xs32.clone(), xs32.clone());
    exp_tanh_in_place(&mut t);
    sigmoid_in_place(&mut s);
    for k in 0..xs32.len() {
        let x = xs32[k];
        assert!((t[k] - exp_tanh(x)).abs() <= f32::EPSILON, "tanh {x}");
        assert!(ulps32(s[k], sigmoid(x)) <= 2, "sigmoid {x}: {} vs {}", s[k], sigmoid(x));
    }
    let mut sp = [0.0f64, -0.0, f64::INFINITY, f64::NEG_INFINITY, 40.0, -40.0, f64::NAN];
    let mut sg = sp;
    exp_tanh_in_place(&mut sp);
    sigmoid_in_place(&mut sg);
    assert_eq!(sp[0].to_bits(), 0.0f64.to_bits());
    assert_eq!(sp[1].to_bits(), 0.0f64.to_bits(), "+0 at −0, as the scalar exp_tanh");
    assert_eq!(&sp[2..6], &[1.0, -1.0, 1.0, -1.0]);
    assert_eq!(&sg[..4], &[0.5, 0.5, 1.0, 0.0]);
    assert!(sp[6].is_nan() && sg[6].is_nan());
}

/// The chunking (64 elements, zero-padded tail): every length and offset gives the element-wise
/// kernel's bits.
#[test]
fn slices_of_every_length_equal_the_elementwise_kernels() {
    let base = sweep(-30.0, 30.0, 300);
    for len in [0, 1, 7, 63, 64, 65, 127, 128, 129, 200] {
        for off in [0, 3] {
            let xs = &base[off..off + len];
            let (mut e, mut t, mut s) = (xs.to_vec(), xs.to_vec(), xs.to_vec());
            exp_in_place(&mut e);
            exp_tanh_in_place(&mut t);
            sigmoid_in_place(&mut s);
            for k in 0..len {
                assert_eq!(e[k].to_bits(), exp_f64(xs[k]).to_bits(), "exp len {len} at {k}");
                assert_eq!(t[k].to_bits(), vmath::tanh_f64(xs[k]).to_bits(), "tanh len {len} at {k}");
                assert_eq!(s[k].to_bits(), vmath::sigmoid_f64(xs[k]).to_bits(), "sigmoid len {len} at {k}");
            }
            let xs32: Vec<f32> = xs.iter().map(|&x| x as f32).collect();
            let mut e32 = xs32.clone();
            exp_in_place(&mut e32);
            for k in 0..len {
                assert_eq!(e32[k].to_bits(), exp_f32(xs32[k]).to_bits(), "exp f32 len {len} at {k}");
            }
        }
    }
}

/// Dual numbers take the scalar path: value and derivative of the scalar functions, exactly.
#[test]
fn dual_numbers_take_the_scalar_path() {
    use credit_core::Scalar;
    let xs: Vec<Dual64> = sweep(-5.0, 5.0, 150).into_iter().map(|x| Dual64::new(x, 1.0)).collect();
    let (mut e, mut t, mut s) = (xs.clone(), xs.clone(), xs.clone());
    exp_in_place(&mut e);
    exp_tanh_in_place(&mut t);
    sigmoid_in_place(&mut s);
    for k in 0..xs.len() {
        let (ee, tt, ss) = (xs[k].stable_exp(), exp_tanh(xs[k]), sigmoid(xs[k]));
        assert_eq!((e[k].re.to_bits(), e[k].eps.to_bits()), (ee.re.to_bits(), ee.eps.to_bits()));
        assert_eq!((t[k].re.to_bits(), t[k].eps.to_bits()), (tt.re.to_bits(), tt.eps.to_bits()));
        assert_eq!((s[k].re.to_bits(), s[k].eps.to_bits()), (ss.re.to_bits(), ss.eps.to_bits()));
        assert!(t[k].eps > 0.0 && s[k].eps > 0.0);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]

    /// Any `f64` (every bit pattern) and arguments drawn over the finite-result range.
    #[test]
    fn exp_f64_random(x in proptest::num::f64::ANY, y in -746.0f64..710.0) {
        prop_assert!(ulps64(exp_f64(x), x.exp()) <= BOUND, "{x:e}: {} vs {}", exp_f64(x), x.exp());
        prop_assert!(ulps64(exp_f64(y), y.exp()) <= BOUND, "{y:e}: {} vs {}", exp_f64(y), y.exp());
    }

    #[test]
    fn exp_f32_random(x in proptest::num::f32::ANY, y in -104.0f32..89.0) {
        prop_assert!(ulps32(exp_f32(x), x.exp()) <= BOUND, "{x:e}: {} vs {}", exp_f32(x), x.exp());
        prop_assert!(ulps32(exp_f32(y), y.exp()) <= BOUND, "{y:e}: {} vs {}", exp_f32(y), y.exp());
    }
}
