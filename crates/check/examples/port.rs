//! Port a rule: export a conformance fixture, play the other implementation by perturbing one
//! array of it, and let the comparison say where the two part (`docs/fixtures.md`).
//!
//! With a real port, the candidate directory holds your framework's arrays in the fixture's
//! layout (any subset), and the same comparison runs as
//! `cargo xtask compare-fixture EXPECTED CANDIDATE`. Run this with
//! `cargo run --example port`; it exits non-zero if the parting is not found where it was made.

use credit_check::fixtures::{self, compare::compare};
use ndarray::ArrayD;
use ndarray_npy::{NpzReader, NpzWriter};
use std::fs::File;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = std::env::temp_dir().join(format!("credit-example-port-{}", std::process::id()));
    let (expected, candidate) = (root.join("expected"), root.join("candidate"));
    std::fs::create_dir_all(&candidate)?;

    // 1. the reference: the canonical LIF fixture under the paper's conventions
    let fx = fixtures::canonical()
        .into_iter()
        .find(|f| f.config.name == "lif-paper-n5-t20")
        .ok_or("no fixture")?;
    fixtures::write(&expected, &fx)?;

    // 2. the "port": every per-step intermediate copied, but the hidden state h of neuron 2
    //    is off by 1e-3 from step 7 on — as a port with a wrong leak or reset would be
    let mut inputs = NpzReader::new(File::open(expected.join("intermediates.npz"))?)?;
    let mut out = NpzWriter::new(File::create(candidate.join("intermediates.npz"))?);
    for name in inputs.names()? {
        let mut a: ArrayD<f64> = inputs.by_name(&name)?;
        let key = name.trim_end_matches(".npy");
        if key == "h" {
            // h is (T+1) × N × d; row 0 is h^0
            for t in 7..a.shape()[0] {
                a[[t, 2, 0]] += 1e-3;
            }
        }
        out.add_array(key, &a)?;
    }
    out.finish()?;

    // 3. where do they part?
    let report = compare(&expected, &candidate, 1e-6)?;
    for a in &report.arrays {
        let step = a.first_step.map_or("-".to_string(), |t| t.to_string());
        let verdict = if a.pass { "ok" } else { "FAIL" };
        println!("{:<18} {:<28} rel {:>9.2e}  first step {step:>3}  {verdict}", a.file, a.name, a.rel);
    }
    let first = report.first_failure().ok_or("the perturbation went unnoticed")?;
    let at = first.first_step.map_or(String::new(), |t| format!(" at step {t}"));
    println!("first parting: {} `{}`{at}", first.file, first.name);
    assert_eq!((first.name.as_str(), first.first_step), ("h", Some(7)));
    assert_eq!(report.arrays.iter().filter(|a| !a.pass).count(), 1, "only h was perturbed");
    std::fs::remove_dir_all(&root)?;
    Ok(())
}

#[test]
fn runs() {
    main().unwrap();
}
