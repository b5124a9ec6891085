//! `check-gradients` as a test: every relation on every built-in config (single layers and
//! stacks) must pass.
//!
//! Ignored by a plain `cargo test`: CI runs the same suite through the release binary
//! (`cargo xtask check-gradients`), which is much faster than this debug build. `cargo xtask
//! mutants` runs it (`--include-ignored`), so that a planted bug which only a relation can see
//! is counted as caught.

use credit_check::stacks::{builtin_stacks, run_stack};
use credit_check::{Row, builtin_suite, run_config};

fn failures(label: String, rows: credit_core::Result<Vec<Row>>) -> Vec<String> {
    match rows {
        Err(e) => vec![format!("{label}: error: {e}")],
        Ok(rows) => {
            assert!(!rows.is_empty(), "{label}: no rows");
            rows.iter()
                .filter(|r| !r.pass)
                .map(|r| {
                    format!(
                        "{label}: {} {} {}: {:e} (tol {:e})",
                        r.relation, r.scalar, r.tensor, r.max_rel_err, r.tolerance
                    )
                })
                .collect()
        }
    }
}

#[test]
#[ignore = "CI runs this suite as `cargo xtask check-gradients` (release); `cargo xtask mutants` runs this test"]
fn every_relation_of_the_builtin_suite_passes() {
    use credit_core::CellModel;
    let mut failed = Vec::new();
    for cfg in builtin_suite() {
        failed.extend(failures(format!("{} {}", cfg.net.cell.id(), cfg.name), run_config(&cfg)));
    }
    for cfg in builtin_stacks() {
        failed.extend(failures(format!("{} {}", cfg.stack.id(), cfg.name), run_stack(&cfg)));
    }
    assert!(failed.is_empty(), "{} failing rows:\n{}", failed.len(), failed.join("\n"));
}
