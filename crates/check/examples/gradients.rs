//! Compute a gradient with each rule on one network and see how each relates to the exact one:
//! BPTT, RTRL and the dual-number oracle (exact), e-prop with symmetric and random feedback,
//! the m-order family at a few orders (order T − 1 is RTRL), and on a two-layer stack deep
//! e-prop and OSTL. Run with `cargo run --example gradients`; it exits non-zero if an exact rule
//! is not exact or an approximation equals BPTT.

use credit_check::max_rel_err;
use credit_core::stack::{Layer, Stack};
use credit_core::{Conventions, Detach, Loss, Network, Params, Readout, Sequence};
use credit_eprop::Feedback;
use credit_family::{Reading, recursion};

/// Cosine similarity and largest relative error (docs/notation.md §7) over the given tensors.
fn versus(a: &Params<f64>, b: &Params<f64>, tensors: std::ops::Range<usize>) -> (f64, f64) {
    let (mut ab, mut aa, mut bb, mut err) = (0.0, 0.0, 0.0, 0.0f64);
    for i in tensors {
        let (x, y) = (&a.tensors[i].value, &b.tensors[i].value);
        ab += x.dot(y);
        aa += x.norm_squared();
        bb += y.norm_squared();
        err = err.max(max_rel_err(x, y));
    }
    (ab / (aa.sqrt() * bb.sqrt()), err)
}

fn main() -> Result<(), credit_core::Error> {
    // one LIF layer: 3 inputs → 6 neurons → 2 readouts, 12 steps
    let lif = Conventions::default().lif((-1.0f64 / 20.0).exp(), 1.0);
    let net = Network::new(lif.clone(), 3, 6, 2, Readout::leaky(0.9), Loss::Mse)?;
    let (p, seq) = (Params::<f64>::random(&net, 5)?, Sequence::random(&net, 12, 5)?);
    let steps = seq.len();
    let all = 0..p.tensors.len();
    let cells = 0..net.n_cell_tensors();

    let bptt = credit_bptt::gradient(&net, &p, &seq)?.grad;
    let mut rules: Vec<(String, Params<f64>, bool)> = vec![
        ("RTRL".into(), credit_rtrl::gradient(&net, &p, &seq)?.grad, true),
        (
            "oracle (dual numbers)".into(),
            credit_oracle::gradient(&net, &p, &seq, Detach::default())?.grad,
            true,
        ),
        (
            "e-prop, symmetric B".into(),
            credit_eprop::gradient(&net, &p, &seq, &Feedback::Symmetric)?.grad,
            false,
        ),
    ];
    let random = Feedback::Matrix(credit_eprop::random_feedback(&net, 9));
    rules.push(("e-prop, random B".into(), credit_eprop::gradient(&net, &p, &seq, &random)?.grad, false));
    for m in [1, 2, steps - 1] {
        let g = recursion::gradient(&net, &p, &seq, m, Reading::HopCount)?.grad;
        rules.push((format!("family, order {m}"), g, m == steps - 1));
    }
    println!(
        "LIF, N = 6, T = {steps}: each rule against BPTT (exact rules: every tensor; the others: cell tensors)"
    );
    println!("  {:<24} {:>10} {:>10}", "rule", "cosine", "rel. err");
    for (name, g, exact) in &rules {
        let (cos, err) = versus(g, &bptt, if *exact { all.clone() } else { cells.clone() });
        println!("  {name:<24} {cos:>10.6} {err:>10.2e}");
        if *exact {
            assert!(err <= 1e-10, "{name} should be exact: {err:e}");
        } else {
            assert!(err > 1e-6, "{name} equals BPTT here: nothing was approximated");
        }
    }

    // a stack: a LIF layer under a second LIF layer, readout from the top
    let stack = Stack::new(vec![Layer { cell: lif.clone(), n: 5 }; 2], 3, 2, Readout::leaky(0.9), Loss::Mse)?;
    let (p, seq) = (stack.random_params(5)?, stack.random_sequence(12, 5)?);
    let bptt = credit_bptt::stack::gradient(&stack, &p, &seq)?.grad;
    let deep = credit_deep::gradient(&stack, &p, &seq)?.grad;
    let ostl = credit_ostl::gradient(&stack, &p, &seq)?.grad;
    println!("\n{}: per layer against BPTT", stack.id());
    println!("  {:<24} {:>5} {:>10} {:>10}", "rule", "layer", "cosine", "rel. err");
    for (name, g) in [("deep e-prop", &deep), ("OSTL", &ostl)] {
        for l in 0..stack.layers.len() {
            let (cos, err) = versus(g, &bptt, stack.layer_tensors(l));
            println!("  {name:<24} {:>5} {cos:>10.6} {err:>10.2e}", l + 1);
        }
    }
    // OSTL is exact on the top layer (docs/deep.md §7)
    let (_, top) = versus(&ostl, &bptt, stack.layer_tensors(1));
    assert!(top <= 1e-10, "OSTL's top layer should be exact: {top:e}");
    let (_, lower) = versus(&deep, &bptt, stack.layer_tensors(0));
    assert!(lower > 1e-6, "deep e-prop equals BPTT on the lower layer: nothing was approximated");
    Ok(())
}

#[test]
fn runs() {
    main().unwrap();
}
