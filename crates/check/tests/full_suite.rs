//! `check-gradients` as a test: every relation on every built-in config (single layers and
//! stacks) must pass; and a selection of relations reports the rows a full run reports.
//!
//! The whole suite is ignored by a plain `cargo test`: CI runs the same suite through the release binary
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

/// `--relations`: a selection computes and reports exactly the selected relations' rows, and
/// they are the rows of a full run (the first configs of the suite, a stack; debug build).
#[test]
fn a_selection_reports_the_rows_of_a_full_run() {
    use credit_check::relations::{Select, run_config_selected};
    use credit_check::stacks::run_stack_selected;
    let ids: Vec<String> =
        ["jacobian=dual", "eprop-random=oracle-feedback", "familym!=rtrl", "ostl=oracle-detached"]
            .map(String::from)
            .to_vec();
    let select = Select(Some(&ids));
    let suite = builtin_suite();
    for cfg in suite.iter().filter(|c| c.steps <= 12).take(4) {
        let all = run_config(cfg).unwrap();
        let some = run_config_selected(cfg, select).unwrap();
        let expected: Vec<_> = all.into_iter().filter(|r| ids.iter().any(|id| id == r.relation)).collect();
        assert!(!some.is_empty(), "{}", cfg.name);
        assert_eq!(some, expected, "{}", cfg.name);
    }
    let stack = &builtin_stacks()[0];
    let some = run_stack_selected(stack, select).unwrap();
    assert!(!some.is_empty() && some.iter().all(|r| r.relation == "ostl=oracle-detached"));
    assert!(run_stack_selected(stack, Select(Some(&["family0=eprop".to_string()]))).unwrap().is_empty());
}
