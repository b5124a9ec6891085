//! Vectorised `exp`, `tanh` and `sigmoid` over slices for the fast step (`docs/fast.md` §2.1).
//!
//! The fast cell step evaluates one to five transcendental functions per neuron and step; libm's
//! scalar `exp` was about 15 % of fast LSTM BPTT's time. Here `exp` is a branch-free
//! Cody–Waite range reduction and a degree-13 (`f64`) or degree-7 (`f32`) Taylor polynomial,
//! written as plain loops over fixed-size chunks that the compiler vectorises inside a
//! [`pulp::WithSimd`] body (runtime-dispatched to AVX2 or AVX-512, like
//! [`crate::fast::gemv_acc`]). No FMA is used, so every instruction set gives the same bits.
//!
//! For `x` of type `f32` or `f64` (the type checked by `TypeId`, the slices reinterpreted
//! without copies through [`std::any::Any`] on fixed-size chunks): [`exp_in_place`],
//! [`exp_tanh_in_place`] and [`sigmoid_in_place`]. Any other [`Scalar`] (dual numbers) takes the
//! scalar generic path ([`Scalar::stable_exp`], [`crate::fast::exp_tanh`],
//! [`crate::cell::lstm::sigmoid`]), whose real part is libm's: a few ulp from the float run.
//!
//! **Bounds** (tested in `tests/vmath.rs` against libm on dense sweeps and random inputs): the
//! `exp` kernels are within 1 ulp of libm's `exp`/`expf` for every finite input (subnormal
//! results included), return exactly `1` at `±0`, `+∞` from `x > ln(MAX)` (and at `+∞`), `+0`
//! below the smallest subnormal (and at `−∞`), and `NaN` for `NaN`. `exp_tanh` and `sigmoid`
//! inherit the formulas of the scalar versions and differ from them only through the `exp`
//! error: `exp_tanh` by at most `1ε` absolute, `sigmoid` by at most 2 ulp.

use crate::Scalar;
use std::any::{Any, TypeId};

/// Elements per chunk: the loops run on `[f; CHUNK]` so that the compiler sees a fixed trip
/// count (8 AVX-512 vectors of `f64`).
const CHUNK: usize = 64;

/// `e^x` of every element, in place (`docs/fast.md` §2.1).
pub fn exp_in_place<T: Scalar>(xs: &mut [T]) {
    map(xs, Op::Exp);
}

/// [`crate::fast::exp_tanh`] of every element, in place: `sign(x)·(1 − e)/(1 + e)` with
/// `e = exp(−2|x|)` (`+0` at `−0`, as the scalar version).
pub fn exp_tanh_in_place<T: Scalar>(xs: &mut [T]) {
    map(xs, Op::Tanh);
}

/// [`crate::cell::lstm::sigmoid`] of every element, in place: `1/(1 + e)` for `x ≥ 0` and
/// `e/(1 + e)` below, with `e = exp(−|x|)`.
pub fn sigmoid_in_place<T: Scalar>(xs: &mut [T]) {
    map(xs, Op::Sigmoid);
}

/// True for `f32` and `f64`: the types with a vectorised kernel.
pub fn has_kernel<T: 'static>() -> bool {
    TypeId::of::<T>() == TypeId::of::<f64>() || TypeId::of::<T>() == TypeId::of::<f32>()
}

/// The function a [`Map`] applies.
#[derive(Clone, Copy)]
enum Op {
    Exp,
    Tanh,
    Sigmoid,
}

fn map<T: Scalar>(xs: &mut [T], op: Op) {
    if has_kernel::<T>() {
        pulp::Arch::new().dispatch(Map { xs, op });
    } else {
        for x in xs.iter_mut() {
            *x = match op {
                Op::Exp => x.stable_exp(),
                Op::Tanh => crate::fast::exp_tanh(*x),
                Op::Sigmoid => crate::cell::lstm::sigmoid(*x),
            };
        }
    }
}

/// An element-wise map handed to [`pulp::Arch::dispatch`] (compiled once per instruction set).
struct Map<'a, T> {
    xs: &'a mut [T],
    op: Op,
}

impl<T: Scalar> pulp::WithSimd for Map<'_, T> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        let (chunks, rest) = self.xs.as_chunks_mut::<CHUNK>();
        for c in chunks {
            chunk(c, self.op);
        }
        if !rest.is_empty() {
            let mut buf = [T::zero(); CHUNK];
            buf[..rest.len()].copy_from_slice(rest);
            chunk(&mut buf, self.op);
            rest.copy_from_slice(&buf[..rest.len()]);
        }
    }
}

/// One chunk: reinterpreted as `[f64; CHUNK]` or `[f32; CHUNK]` (a `TypeId` test the compiler
/// resolves per instantiation) and mapped by a loop without branches.
#[inline(always)]
fn chunk<T: 'static>(c: &mut [T; CHUNK], op: Op) {
    let any: &mut dyn Any = c;
    if let Some(c) = any.downcast_mut::<[f64; CHUNK]>() {
        match op {
            Op::Exp => c.iter_mut().for_each(|x| *x = exp_f64(*x)),
            Op::Tanh => c.iter_mut().for_each(|x| *x = tanh_f64(*x)),
            Op::Sigmoid => c.iter_mut().for_each(|x| *x = sigmoid_f64(*x)),
        }
    } else if let Some(c) = any.downcast_mut::<[f32; CHUNK]>() {
        match op {
            Op::Exp => c.iter_mut().for_each(|x| *x = exp_f32(*x)),
            Op::Tanh => c.iter_mut().for_each(|x| *x = tanh_f32(*x)),
            Op::Sigmoid => c.iter_mut().for_each(|x| *x = sigmoid_f32(*x)),
        }
    }
}

// ---- f64 ------------------------------------------------------------------------------------

/// `1.5·2⁵²`: adding it rounds to an integer held in the low mantissa bits (Eq. V1).
const MAGIC_64: f64 = 6_755_399_441_055_744.0;
/// `log₂ e`.
const LOG2E_64: f64 = std::f64::consts::LOG2_E;
/// `ln 2` split (fdlibm): `LN2_HI_64` (`0.6931471803691238`) has 32 significant bits, so `n·LN2_HI_64` is exact for
/// `|n| < 2²¹` (Eq. V2).
const LN2_HI_64: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
/// `ln 2 − LN2_HI_64` rounded (`1.9082149292705877e-10`).
const LN2_LO_64: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
/// `1/k!` for `k = 2 … 13` (Eq. V3).
const C64: [f64; 12] = [
    0.5,
    0.166_666_666_666_666_66,
    0.041_666_666_666_666_664,
    0.008_333_333_333_333_333,
    0.001_388_888_888_888_889,
    0.000_198_412_698_412_698_4,
    2.480_158_730_158_73e-5,
    2.755_731_922_398_589_3e-6,
    2.755_731_922_398_589e-7,
    2.505_210_838_544_172e-8,
    2.087_675_698_786_81e-9,
    1.605_904_383_682_161_3e-10,
];

/// `e^x` in `f64`, branch-free (Eqs. V1–V4 of `docs/fast.md` §2.1).
#[inline(always)]
pub fn exp_f64(x: f64) -> f64 {
    // clamp (NaN passes: both comparisons are false); e^−746 < 2⁻¹⁰⁷⁵ rounds to +0 and
    // e^710 > MAX overflows to +∞ through the two-step scale below
    let x = if x < -746.0 { -746.0 } else { x };
    let x = if x > 710.0 { 710.0 } else { x };
    let k = x * LOG2E_64 + MAGIC_64; // Eq. (V1): n = round(x / ln 2)
    let nf = k - MAGIC_64;
    let n = (k.to_bits() as i64).wrapping_sub(MAGIC_64.to_bits() as i64);
    let r = (x - nf * LN2_HI_64) - nf * LN2_LO_64; // Eq. (V2): |r| ≲ ln 2 / 2
    // Eq. (V3): e^r − 1 = r (1 + r/2! + … + r¹²/13!) by Horner
    let mut q = C64[11];
    for &c in C64[..11].iter().rev() {
        q = q * r + c;
    }
    let p = 1.0 + (r + r * (r * q));
    // Eq. (V4): 2ⁿ as 2^{n₁}·2^{n₂}, n₁ = ⌊n/2⌋ (both normal for n ∈ [−1076, 1024]); the
    // logical shift of n + 1536 ≥ 0 avoids a 64-bit arithmetic shift (none before AVX-512)
    let n1 = (((n.wrapping_add(1536)) as u64) >> 1) as i64 - 768;
    let n2 = n.wrapping_sub(n1);
    let s1 = f64::from_bits((n1.wrapping_add(1023) as u64) << 52);
    let s2 = f64::from_bits((n2.wrapping_add(1023) as u64) << 52);
    (p * s1) * s2
}

/// `sign(x)·(1 − e)/(1 + e)`, `e = exp(−2|x|)`: [`crate::fast::exp_tanh`] with [`exp_f64`].
#[inline(always)]
pub fn tanh_f64(x: f64) -> f64 {
    let a = x.abs();
    let e = exp_f64(-(a + a));
    let t = (1.0 - e) / (1.0 + e);
    if x < 0.0 { -t } else { t }
}

/// `1/(1 + e)` (`x ≥ 0`) or `e/(1 + e)`, `e = exp(−|x|)`: [`crate::cell::lstm::sigmoid`] with
/// [`exp_f64`].
#[inline(always)]
pub fn sigmoid_f64(x: f64) -> f64 {
    let e = exp_f64(-x.abs());
    let num = if x >= 0.0 { 1.0 } else { e };
    num / (1.0 + e)
}

// ---- f32 ------------------------------------------------------------------------------------

/// `1.5·2²³` (Eq. V1).
const MAGIC_32: f32 = 12_582_912.0;
/// `log₂ e`.
const LOG2E_32: f32 = std::f32::consts::LOG2_E;
/// `ln 2` split: `0x3f317200` has 15 significant bits (`n·LN2_HI_32` exact for `|n| < 2⁹`).
const LN2_HI_32: f32 = f32::from_bits(0x3f31_7200);
/// `ln 2 − LN2_HI_32` rounded (`1.4286068e-6`).
const LN2_LO_32: f32 = f32::from_bits(0x35bf_be8e);
/// `1/k!` for `k = 2 … 7` (Eq. V3).
const C32: [f32; 6] = [0.5, 0.166_666_67, 0.041_666_668, 0.008_333_334, 0.001_388_888_9, 0.000_198_412_7];

/// `e^x` in `f32`, branch-free (Eqs. V1–V4 with the `f32` constants).
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    // e^−104 < 2⁻¹⁵⁰ rounds to +0; e^89 > MAX overflows
    let x = if x < -104.0 { -104.0 } else { x };
    let x = if x > 89.0 { 89.0 } else { x };
    let k = x * LOG2E_32 + MAGIC_32;
    let nf = k - MAGIC_32;
    let n = (k.to_bits() as i32).wrapping_sub(MAGIC_32.to_bits() as i32);
    let r = (x - nf * LN2_HI_32) - nf * LN2_LO_32;
    let mut q = C32[5];
    for &c in C32[..5].iter().rev() {
        q = q * r + c;
    }
    let p = 1.0 + (r + r * (r * q));
    // n ∈ [−150, 128]: n₁, n₂ ∈ [−75, 64]
    let n1 = (((n.wrapping_add(256)) as u32) >> 1) as i32 - 128;
    let n2 = n.wrapping_sub(n1);
    let s1 = f32::from_bits((n1.wrapping_add(127) as u32) << 23);
    let s2 = f32::from_bits((n2.wrapping_add(127) as u32) << 23);
    (p * s1) * s2
}

/// [`tanh_f64`] in `f32`.
#[inline(always)]
pub fn tanh_f32(x: f32) -> f32 {
    let a = x.abs();
    let e = exp_f32(-(a + a));
    let t = (1.0 - e) / (1.0 + e);
    if x < 0.0 { -t } else { t }
}

/// [`sigmoid_f64`] in `f32`.
#[inline(always)]
pub fn sigmoid_f32(x: f32) -> f32 {
    let e = exp_f32(-x.abs());
    let num = if x >= 0.0 { 1.0 } else { e };
    num / (1.0 + e)
}
