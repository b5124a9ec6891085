//! `check-gradients` as a test: every relation on every built-in config (single layers and
//! stacks) must pass.
//!
//! Ignored by a plain `cargo test`: CI runs the same suite through the release binary
//! (`cargo xtask check-gradients`), which is much faster than this debug build. `cargo xtask
//! mutants` runs it (`--include-ignored`), so that a planted bug which only a relation can see
//! is counted as caught.

use credit_check::stacks::{builtin_stacks, run_stack};
use credit_check::{Row, builtin_suite, run_config};

fn failures(label: String, rows: credit_core::Result<Vec<Row>>, seen: &mut Vec<&'static str>) -> Vec<String> {
    match rows {
        Err(e) => vec![format!("{label}: error: {e}")],
        Ok(rows) => {
            assert!(!rows.is_empty(), "{label}: no rows");
            seen.extend(rows.iter().map(|r| r.relation));
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
    let (mut failed, mut seen) = (Vec::new(), Vec::new());
    for cfg in builtin_suite() {
        failed.extend(failures(format!("{} {}", cfg.net.cell.id(), cfg.name), run_config(&cfg), &mut seen));
    }
    for cfg in builtin_stacks() {
        failed.extend(failures(format!("{} {}", cfg.stack.id(), cfg.name), run_stack(&cfg), &mut seen));
    }
    // the registry and the suite agree: every row's relation is registered, every registered
    // relation has rows
    let registered: Vec<&str> = credit_check::registry::RELATIONS.iter().map(|(id, _)| *id).collect();
    for id in &seen {
        assert!(registered.contains(id), "relation {id} is not in credit_check::registry::RELATIONS");
    }
    for id in &registered {
        assert!(seen.contains(id), "registered relation {id} has no row in the built-in suite");
    }
    assert!(failed.is_empty(), "{} failing rows:\n{}", failed.len(), failed.join("\n"));
}
