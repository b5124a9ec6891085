//! The generic scalar: `f32`, `f64` and first-order dual numbers through one bound.
//!
//! Every forward computation, every hand-derived Jacobian and every learning rule in the
//! workspace is written once, against [`Scalar`], and runs unchanged on `f32`, `f64`,
//! [`num_dual::Dual32`], [`num_dual::Dual64`] and [`num_dual::DualSVec64`].
//!
//! Two helpers carry the numerical conventions that make the dual-number oracle exact:
//!
//! * [`Scalar::linearize`] evaluates a function and its derivative at the **real part** and
//!   applies the first-order chain rule to the dual part:
//!   $$ \\mathrm{lin}_{f_0,f_1}(a + b\\,\\varepsilon) = f_0 + f_1\\, b\\, \\varepsilon .$$
//!   It implements the surrogate spike (Heaviside value, pseudo-derivative slope) and an
//!   overflow-safe `tanh`.
//! * [`Scalar::detach`] keeps the real part and drops every derivative: the stop-gradient of
//!   autodiff frameworks.
//!
//! num-dual compares duals **by real part only** (`Dual64::new(1.,2.) == Dual64::new(1.,-5.)`),
//! so tests in this workspace never assert on dual numbers directly: they extract `.eps`.

use nalgebra::RealField;
use num_dual::DualNum;
use num_traits::{Float, ToPrimitive};

/// The scalar bound of the workspace: nalgebra's `RealField` (linear algebra, `convert`),
/// num-dual's `DualNum` (access to the real part) and `Copy`.
///
/// Blanket-implemented; users never implement it. Satisfied by `f32`, `f64`, `Dual32`,
/// `Dual64`, `DualSVec64<N>` and `HyperDual64` (for which [`Scalar::linearize`] and
/// [`Scalar::detach`] are first-order only).
///
/// ```
/// use credit_core::Scalar;
/// use num_dual::Dual64;
/// // d/dx tanh(x) at x = 0.5 is 1 - tanh(0.5)^2
/// let x = Dual64::from(0.5).derivative();
/// let y = x.stable_tanh();
/// assert!((y.eps - (1.0 - 0.5f64.tanh().powi(2))).abs() < 1e-15);
/// // no overflow where sinh/cosh would give NaN
/// let big = Dual64::from(800.0).derivative().stable_tanh();
/// assert_eq!((big.re, big.eps), (1.0, 0.0));
/// ```
pub trait Scalar: RealField + DualNum + Copy {
    /// A constant converted from `f64` (rounded for `f32`).
    fn c(x: f64) -> Self {
        nalgebra::convert::<f64, Self>(x)
    }

    /// The real part as `f64`.
    fn value(self) -> f64 {
        self.re().to_f64().unwrap_or(f64::NAN)
    }

    /// First-order chain rule taken at the real part: value `f0`, slope `f1`.
    ///
    /// For `x = a + bε` returns `f0 + f1·b·ε`. For plain floats returns `f0`.
    fn linearize(self, f0: Self::Primitive, f1: Self::Primitive) -> Self {
        let re = self.re();
        Self::from(f0) + (self - Self::from(re)) * f1
    }

    /// Stop-gradient: the real part with every derivative dropped.
    fn detach(self) -> Self {
        Self::from(self.re())
    }

    /// `tanh` through [`Scalar::linearize`]: the real part is exactly `Float::tanh` of the real
    /// part (bit-identical to the `f64` run) and the derivative `1 − tanh²` never overflows.
    fn stable_tanh(self) -> Self {
        let t = Float::tanh(self.re());
        let one = <Self::Primitive as num_traits::One>::one();
        self.linearize(t, one - t * t)
    }

    /// `exp` evaluated the same way (real part bit-identical to the float run).
    fn stable_exp(self) -> Self {
        let e = Float::exp(self.re());
        self.linearize(e, e)
    }

    /// True when the real part is finite.
    fn is_finite_value(self) -> bool {
        Float::is_finite(self.re())
    }
}

impl<T: RealField + DualNum + Copy> Scalar for T {}

#[cfg(test)]
#[allow(clippy::float_cmp)] // bit-exact equalities are the point of these tests
mod tests {
    use super::*;
    use num_dual::{Dual32, Dual64};

    #[test]
    fn linearize_is_first_order_chain_rule() {
        let x = Dual64::new(0.3, 2.0);
        let y = x.linearize(7.0, -3.0);
        assert_eq!((y.re, y.eps), (7.0, -6.0));
        assert_eq!(0.3f64.linearize(7.0, -3.0), 7.0);
    }

    #[test]
    fn detach_drops_the_dual_part() {
        let x = Dual64::new(0.3, 2.0).detach();
        assert_eq!((x.re, x.eps), (0.3, 0.0));
        let y = Dual32::new(1.5, 2.0).detach();
        assert_eq!((y.re, y.eps), (1.5, 0.0));
    }

    #[test]
    fn stable_tanh_matches_float_tanh_bitwise() {
        for &v in &[-3.0, -0.2, 0.0, 0.7, 19.0, 400.0, -900.0] {
            let d = Dual64::from(v).derivative().stable_tanh();
            assert_eq!(d.re.to_bits(), v.tanh().to_bits());
            let expect = 1.0 - v.tanh() * v.tanh();
            assert!((d.eps - expect).abs() <= 1e-15, "{v}");
            assert!(d.eps.is_finite());
        }
    }

    #[test]
    fn constants_and_values_round_trip() {
        assert_eq!(f32::c(0.1), 0.1f32);
        assert_eq!(Dual64::c(0.25).value(), 0.25);
        assert_eq!(Dual64::c(0.25).eps, 0.0);
        assert!(!f64::NAN.is_finite_value());
    }
}
