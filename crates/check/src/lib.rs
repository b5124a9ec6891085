//! # credit-check — the relations, the built-in suite, the report
//!
//! Every claim of the workspace that can be checked numerically is a **relation** between two
//! computations (a rule and the oracle, two rules, one rule in two scalar types), evaluated per
//! parameter tensor on a **config** (cell, sizes, seed, loss). This crate holds:
//!
//! * [`compare`]: the error measure (max abs difference over the tensor, relative to the
//!   reference tensor's max magnitude) and the liveness guards;
//! * [`suite`]: the built-in configs of `cargo xtask check-gradients`;
//! * [`relations`]: the relations of the foundation (`jacobian=dual`, `bptt=oracle`,
//!   `rtrl=oracle`, `rtrl=bptt`, `fd=oracle`, `f32~f64`);
//! * [`eprop`]: the e-prop relations (`eprop-total=bptt`, `eprop-causal=eprop-noncausal`,
//!   `eprop=oracle-detached`, `eprop=bptt@R0`, `eprop!=bptt`, `eprop-wout=bptt`,
//!   `adaptive-decay`, `eprop-literal=eprop-generic`);
//! * [`family`]: the m-order family relations (`family0=eprop`, `familyT=rtrl`,
//!   `family-recursion=family-graded`, `familym!=rtrl`);
//! * [`fast_reverse`]: the fast BPTT and e-prop paths against the literal ones (`bptt-fast=bptt`,
//!   `eprop-fast=eprop`, `fast-f32~f64`);
//! * [`snap`]: the SnAp-n relations (`snap-full=rtrl`, `snap2=rtrl`, `snap1=rtrl@W0`,
//!   `snap1!=rtrl`, `snap1=eprop`, `snap1=eprop+diagR`, `snap1!=eprop`; the sparse path:
//!   `snap-fast=snap`, `snap-fast-f32~f64`);
//! * [`tbptt`]: the truncated-BPTT relations (`ebptt-full=bptt`, `fbptt-full=bptt`,
//!   `ebptt-window=bptt-prefix`, `ebptt!=bptt`, `fbptt!=bptt`);
//! * [`rflo`]: the RFLO and KeRNL relations (`rflo=eprop-random`, `kernl-fixed=rflo`,
//!   `rflo!=bptt`, `kernl!=bptt`);
//! * [`uoro`]: unbiasedness of UORO, KF-RTRL, R-KF-RTRL by exact enumeration
//!   (`uoro-mean=rtrl`, `kf-mean=rtrl`, `rkf-mean=rtrl`, `lowrank-draw!=rtrl`);
//! * [`mdgl`]: MDGL against the family's order 1 (`mdgl=family1-lsh`,
//!   `mdgl-noself!=family1-lsh`, `mdgl!=rtrl`);
//! * [`stacks`]: the stacked-network relations (`bptt=oracle`, `rtrl=oracle`, `rtrl=bptt` on
//!   `stack(…)`);
//! * [`fast_forward`]: the fast paths against the literal ones (`rtrl-fast=rtrl`,
//!   `family-fast=family`, `deep-fast=deep`, `ostl-fast=ostl`, `fast-forward-f32~f64`);
//! * [`synthgrad`]: the synthetic-gradient relations (`sg-exact=bptt`,
//!   `bplambda-forward=backward`, `bplambda1=bptt-target`, `bplambda0=dni1`, `dni-full=bptt`,
//!   `bplambda<1!=bptt-target`);
//! * [`feedforward`]: backprop and Q-AGREL on feedforward networks (`ff-bp=oracle`,
//!   `qagrel=oracle`, `qagrel-expected=weighted-bp`, `qagrel-feedback-invariant`,
//!   `qagrel-fa!=oracle`);
//! * [`burstccn`]: BurstCCN against backprop and feedback alignment (`burstccn-out=bp`,
//!   `burstccn-hidden~bp`, `burstccn-zero-error`, `burstccn-fa=fa`, `burstccn-fa!=bp`, `burstccn-q-fixed-point`,
//!   `burstccn-ct-steady=discrete`);
//! * [`registry`]: the one list of relation ids and their claims;
//! * [`report`]: the table and the JSON schema;
//! * [`fixtures`]: conformance fixtures (export, import, compare);
//! * [`budget`]: cost estimates (memory, multiply-adds) checked before a run allocates.
//!
//! **Architecture invariant:** this is the only crate that depends on both the oracle and the
//! algorithms; the algorithms never see the oracle and the oracle never sees them.

pub mod budget;
pub mod burstccn;
pub mod cli;
pub mod compare;
pub mod eprop;
pub mod family;
pub mod fast_forward;
pub mod fast_reverse;
pub mod feedforward;
pub mod fixtures;
pub mod mdgl;
pub mod registry;
pub mod relations;
pub mod report;
pub mod rflo;
pub mod snap;
pub mod stacks;
pub mod suite;
pub mod synthgrad;
pub mod tbptt;
pub mod uoro;

pub use compare::{Liveness, alive, max_rel_err};
pub use relations::{Expect, Row, run_config};
pub use suite::{Config, builtin_suite};

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
