//! What the dual-number oracle needs of a model: its parameter shapes, validation, and a loss
//! computed by the model's own forward code with the given edges.

use crate::cell::Edges;
use crate::error::Result;
use crate::network::{ForwardOptions, Network, Params, Sequence, Tensor, forward_unchecked};
use crate::scalar::Scalar;
use crate::stack::Stack;
use nalgebra::DMatrix;

/// A differentiable model: a single layer ([`Network`]) or a [`Stack`].
pub trait Model: Sync {
    /// Names and shapes of the parameter tensors.
    fn shapes(&self) -> Vec<(&'static str, usize, usize)>;
    /// Validates the model, parameters and sequence.
    fn validate_all<T: Scalar>(&self, params: &Params<T>, seq: &Sequence) -> Result<()>;
    /// The loss by the model's forward code (unvalidated).
    fn loss<T: Scalar>(&self, params: &Params<T>, seq: &Sequence, edges: &Edges<'_, T>) -> T;
    /// All-zero tensors of the model's shapes.
    fn zeros<T: Scalar>(&self) -> Params<T> {
        Params {
            tensors: self
                .shapes()
                .into_iter()
                .map(|(name, r, c)| Tensor { name, value: DMatrix::zeros(r, c) })
                .collect(),
        }
    }
}

impl Model for Network {
    fn shapes(&self) -> Vec<(&'static str, usize, usize)> {
        self.tensor_shapes()
    }
    fn validate_all<T: Scalar>(&self, params: &Params<T>, seq: &Sequence) -> Result<()> {
        self.validate()?;
        params.validate(self)?;
        seq.validate(self)
    }
    fn loss<T: Scalar>(&self, params: &Params<T>, seq: &Sequence, edges: &Edges<'_, T>) -> T {
        forward_unchecked(self, params, seq, ForwardOptions { edges: *edges, tap: None }).loss
    }
}

impl Model for Stack {
    fn shapes(&self) -> Vec<(&'static str, usize, usize)> {
        self.tensor_shapes()
    }
    fn validate_all<T: Scalar>(&self, params: &Params<T>, seq: &Sequence) -> Result<()> {
        self.validate()?;
        self.validate_params(params)?;
        self.validate_sequence(seq)
    }
    fn loss<T: Scalar>(&self, params: &Params<T>, seq: &Sequence, edges: &Edges<'_, T>) -> T {
        self.forward_unchecked(params, seq, edges).loss
    }
}
