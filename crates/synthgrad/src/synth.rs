//! The synthesisers ("cerebellum"), Eq. (S4) of `docs/synthgrad.md`:
//!
//! $$ S(h) = A h + c \\quad\\text{(linear)}, \\qquad
//!    S(h) = W_2\\,\\mathrm{relu}(W_1 h + b_1) + b_2 \\quad\\text{(one hidden ReLU layer)}, $$
//!
//! from the cell state $h^t \\in \\mathbb R^{N d}$ to a prediction of the future gradient on it
//! (bp_lambda `synthesiser.py`, `input_trigger` and `layers`; the **output layer is
//! zero-initialised**, "as in original Jaderberg et al. 2017" there). The parameter Jacobian
//! $K = \\partial S(h)/\\partial\\phi$ is written in closed form (the code's
//! `update_etraces_linear`, `update_etraces_one_layer`), with `relu'(0) = 0` as in the code
//! (`hidd_activity <= 0` is masked).
//!
//! Flat layout of `φ`: linear `A` (row-major) then `c`; MLP `W_1` (row-major), `b_1`, `W_2`
//! (row-major), `b_2`.

use credit_core::{Error, Result, Scalar};
use nalgebra::{DMatrix, DVector};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// A synthesiser with its parameters.
#[derive(Clone, Debug, PartialEq)]
pub enum Synth<T: Scalar> {
    /// `S(h) = A h + c`.
    Linear {
        /// `A`, `n × n`.
        a: DMatrix<T>,
        /// `c`, length `n`.
        c: DVector<T>,
    },
    /// `S(h) = W_2 relu(W_1 h + b_1) + b_2`.
    Mlp {
        /// `W_1`, `H × n`.
        w1: DMatrix<T>,
        /// `b_1`, length `H`.
        b1: DVector<T>,
        /// `W_2`, `n × H`.
        w2: DMatrix<T>,
        /// `b_2`, length `n`.
        b2: DVector<T>,
    },
}

fn relu<T: Scalar>(u: T) -> T {
    if u.value() > 0.0 { u } else { T::zero() }
}

impl<T: Scalar> Synth<T> {
    /// The linear synthesiser on `n`-dimensional states, zero-initialised.
    pub fn linear(n: usize) -> Self {
        Synth::Linear { a: DMatrix::zeros(n, n), c: DVector::zeros(n) }
    }

    /// The one-hidden-layer synthesiser on `n`-dimensional states with `hidden` ReLU units:
    /// `W_1 ~ N(0, 1/n)`, `b_1 = 0` from `seed`, output layer zero.
    pub fn mlp(n: usize, hidden: usize, seed: u64) -> Result<Self> {
        Self::random(n, Some(hidden), seed, 0.0)
    }

    /// A synthesiser with every layer drawn from `seed` (`N(0, 1/fan_in)` weights, biases
    /// `N(0, 0.1²)`) and its output layer scaled by `out_gain` (`0` gives the zero-initialised
    /// output of the papers; the relations use `out_gain > 0` so that `S ≢ 0`).
    pub fn random(n: usize, hidden: Option<usize>, seed: u64, out_gain: f64) -> Result<Self> {
        if n == 0 {
            return Err(Error::Empty { field: "synth.n".into() });
        }
        if hidden == Some(0) {
            return Err(Error::Empty { field: "synth.hidden".into() });
        }
        crate::check_range(
            "synth.out_gain",
            out_gain,
            0.0,
            f64::MAX,
            "the output gain must be finite and >= 0",
        )?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut draw = |r: usize, c: usize, sd: f64| {
            DMatrix::from_fn(r, c, |_, _| T::c(sd * rng.sample::<f64, _>(StandardNormal)))
        };
        Ok(match hidden {
            None => {
                let a = draw(n, n, out_gain / (n as f64).sqrt());
                let c = draw(n, 1, 0.1 * out_gain).column(0).into_owned();
                Synth::Linear { a, c }
            }
            Some(h) => {
                let w1 = draw(h, n, 1.0 / (n as f64).sqrt());
                let b1 = draw(h, 1, 0.1).column(0).into_owned();
                let w2 = draw(n, h, out_gain / (h as f64).sqrt());
                let b2 = draw(n, 1, 0.1 * out_gain).column(0).into_owned();
                Synth::Mlp { w1, b1, w2, b2 }
            }
        })
    }

    /// Dimension of the state it reads (and of the gradient it predicts).
    pub fn n(&self) -> usize {
        match self {
            Synth::Linear { c, .. } => c.len(),
            Synth::Mlp { b2, .. } => b2.len(),
        }
    }

    /// Number of parameters `P_S`.
    pub fn len(&self) -> usize {
        self.tensors().iter().map(|(_, m)| m.len()).sum()
    }

    /// True when there are no parameters (never: `n ≥ 1`).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `(name, tensor)` in the flat order; vectors as `k×1` matrices.
    pub fn tensors(&self) -> Vec<(&'static str, DMatrix<T>)> {
        let col = |v: &DVector<T>| DMatrix::from_column_slice(v.len(), 1, v.as_slice());
        match self {
            Synth::Linear { a, c } => vec![("synth.a", a.clone()), ("synth.c", col(c))],
            Synth::Mlp { w1, b1, w2, b2 } => {
                vec![
                    ("synth.w1", w1.clone()),
                    ("synth.b1", col(b1)),
                    ("synth.w2", w2.clone()),
                    ("synth.b2", col(b2)),
                ]
            }
        }
    }

    /// A flat vector (the layout of the module doc) split into this synthesiser's tensors;
    /// `Error::Shape` (`synth.flat`) if its length is not `P_S`.
    pub fn split(&self, flat: &DVector<T>) -> Result<Vec<(&'static str, DMatrix<T>)>> {
        self.check_len(flat)?;
        let mut off = 0;
        Ok(self
            .tensors()
            .into_iter()
            .map(|(name, m)| {
                let (r, c) = m.shape();
                let t = DMatrix::from_fn(r, c, |i, j| flat[off + i * c + j]);
                off += r * c;
                (name, t)
            })
            .collect())
    }

    fn check_len(&self, flat: &DVector<T>) -> Result<()> {
        if flat.len() != self.len() {
            return Err(Error::Shape {
                field: "synth.flat".into(),
                expected: format!("{} (P_S)", self.len()),
                found: format!("{}", flat.len()),
            });
        }
        Ok(())
    }

    /// The parameters as one flat vector.
    pub fn flat(&self) -> DVector<T> {
        let mut v = Vec::with_capacity(self.len());
        for (_, m) in self.tensors() {
            for i in 0..m.nrows() {
                for j in 0..m.ncols() {
                    v.push(m[(i, j)]);
                }
            }
        }
        DVector::from_vec(v)
    }

    /// `φ ← φ + Δ` for a flat vector of length `P_S` (`Error::Shape`, `synth.flat`, otherwise).
    pub fn add_flat(&mut self, delta: &DVector<T>) -> Result<()> {
        self.check_len(delta)?;
        let mut off = 0;
        let mut add = |m: &mut [T]| {
            // the slices below are row-major views built by the callers
            for x in m.iter_mut() {
                *x += delta[off];
                off += 1;
            }
        };
        match self {
            Synth::Linear { a, c } => {
                let mut at = a.transpose();
                add(at.as_mut_slice());
                *a = at.transpose();
                add(c.as_mut_slice());
            }
            Synth::Mlp { w1, b1, w2, b2 } => {
                let mut t1 = w1.transpose();
                add(t1.as_mut_slice());
                *w1 = t1.transpose();
                add(b1.as_mut_slice());
                let mut t2 = w2.transpose();
                add(t2.as_mut_slice());
                *w2 = t2.transpose();
                add(b2.as_mut_slice());
            }
        }
        Ok(())
    }

    /// Entry-wise map into another scalar type.
    pub fn map<U: Scalar>(&self, f: impl Fn(T) -> U) -> Synth<U> {
        match self {
            Synth::Linear { a, c } => Synth::Linear { a: a.map(&f), c: c.map(&f) },
            Synth::Mlp { w1, b1, w2, b2 } => {
                Synth::Mlp { w1: w1.map(&f), b1: b1.map(&f), w2: w2.map(&f), b2: b2.map(&f) }
            }
        }
    }

    /// `S(h)`, Eq. (S4).
    pub fn predict(&self, h: &DVector<T>) -> DVector<T> {
        match self {
            Synth::Linear { a, c } => a * h + c, // Eq. (S4), linear
            Synth::Mlp { w1, b1, w2, b2 } => {
                let r = (w1 * h + b1).map(relu); // Eq. (S4), hidden ReLU layer
                w2 * r + b2 // Eq. (S4), output layer
            }
        }
    }

    /// `Kᵀ v` in the flat layout without forming `K` (Eq. (S4) differentiated, backwards):
    /// linear `(v hᵀ, v)`; MLP `(δ hᵀ, δ, v rᵀ, v)` with `r = relu(W_1 h + b_1)` and
    /// `δ = (W_2ᵀ v) ⊙ relu'(W_1 h + b_1)`, `relu'(0) = 0`.
    pub fn vjp(&self, h: &DVector<T>, v: &DVector<T>) -> DVector<T> {
        let mut out = Vec::with_capacity(self.len());
        let mut outer = |a: &DVector<T>, b: &DVector<T>| {
            for ai in a.iter() {
                out.extend(b.iter().map(|&bj| *ai * bj)); // row-major a bᵀ
            }
        };
        match self {
            Synth::Linear { .. } => {
                outer(v, h); // ∂/∂A = v hᵀ
                return DVector::from_iterator(self.len(), out.into_iter().chain(v.iter().copied())); // ∂/∂c = v
            }
            Synth::Mlp { w1, b1, w2, .. } => {
                let u = w1 * h + b1;
                let r = u.map(relu);
                let back = w2.tr_mul(v);
                let delta = DVector::from_iterator(
                    u.len(),
                    u.iter().zip(back.iter()).map(|(ui, bi)| if ui.value() > 0.0 { *bi } else { T::zero() }),
                );
                outer(&delta, h); // ∂/∂W_1 = δ hᵀ
                out.extend(delta.iter().copied()); // ∂/∂b_1 = δ
                let mut tail = Vec::with_capacity(v.len() * r.len());
                for vi in v.iter() {
                    tail.extend(r.iter().map(|&rq| *vi * rq)); // ∂/∂W_2 = v rᵀ
                }
                out.extend(tail);
                out.extend(v.iter().copied()); // ∂/∂b_2 = v
            }
        }
        DVector::from_vec(out)
    }

    /// `K = ∂S(h)/∂φ`, `n × P_S` in the flat layout, Eq. (S4) differentiated.
    pub fn jacobian(&self, h: &DVector<T>) -> DMatrix<T> {
        let n = self.n();
        let mut k = DMatrix::zeros(n, self.len());
        match self {
            Synth::Linear { .. } => {
                let m = h.len();
                for o in 0..n {
                    for i in 0..m {
                        k[(o, o * m + i)] = h[i]; // ∂S_o/∂A_{o,i} = h_i
                    }
                    k[(o, n * m + o)] = T::one(); // ∂S_o/∂c_o = 1
                }
            }
            Synth::Mlp { w1, b1, w2, .. } => {
                let (hid, m) = w1.shape();
                let u = w1 * h + b1;
                let r = u.map(relu);
                let off_b1 = hid * m;
                let off_w2 = off_b1 + hid;
                let off_b2 = off_w2 + n * hid;
                for o in 0..n {
                    for q in 0..hid {
                        k[(o, off_w2 + o * hid + q)] = r[q]; // ∂S_o/∂W2_{o,q} = relu(u_q)
                        if u[q].value() > 0.0 {
                            let g = w2[(o, q)]; // W2_{o,q} relu'(u_q)
                            k[(o, off_b1 + q)] = g; // ∂S_o/∂b1_q
                            for i in 0..m {
                                k[(o, q * m + i)] = g * h[i]; // ∂S_o/∂W1_{q,i}
                            }
                        }
                    }
                    k[(o, off_b2 + o)] = T::one(); // ∂S_o/∂b2_o = 1
                }
            }
        }
        k
    }
}
