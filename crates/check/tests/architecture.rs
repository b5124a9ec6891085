//! Architecture invariants of ARCHITECTURE.md, checked as tests: algorithm crates and the
//! oracle depend on the core only; the oracle calls no Jacobian; every source file starts with
//! a module doc.

use std::path::{Path, PathBuf};

fn crates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("crates/").to_path_buf()
}

/// The `credit-*` packages named in the `[dependencies]` section of a crate's manifest.
fn credit_deps(krate: &str) -> Vec<String> {
    credit_deps_in(krate, "[dependencies]")
}

/// The `credit-*` packages named in section `section` of a crate's manifest.
fn credit_deps_in(krate: &str, section: &str) -> Vec<String> {
    let text = std::fs::read_to_string(crates_dir().join(krate).join("Cargo.toml")).expect("manifest");
    let mut in_deps = false;
    let mut out = Vec::new();
    for line in text.lines() {
        let l = line.trim();
        if l.starts_with('[') {
            in_deps = l == section;
            continue;
        }
        if in_deps && l.starts_with("credit-") {
            out.push(l.split(['.', ' ', '=']).next().unwrap_or_default().to_string());
        }
    }
    out
}

#[test]
fn algorithm_crates_and_the_oracle_depend_on_the_core_only() {
    // every crate of crates/ but the core and the two consumers (credit-check, credit-train) is
    // an algorithm crate or the oracle: a new crate is covered without being listed here
    let mut krates: Vec<String> = std::fs::read_dir(crates_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|k| !["core", "check", "train"].contains(&k.as_str()))
        .collect();
    krates.sort();
    for k in ["bptt", "rtrl", "eprop", "family", "deep", "ostl", "oracle", "snap", "synthgrad", "qagrel"] {
        assert!(krates.iter().any(|x| x == k), "crates/{k} missing from {krates:?}");
    }
    for krate in &krates {
        assert_eq!(credit_deps(krate), vec!["credit-core".to_string()], "crates/{krate}");
        // not even their tests and benches reach another rule or the oracle: a comparison
        // between rules belongs to credit-check (its benches included)
        let dev = credit_deps_in(krate, "[dev-dependencies]");
        assert!(dev.iter().all(|d| d == "credit-core"), "crates/{krate} dev-dependencies: {dev:?}");
    }
    assert!(credit_deps("core").is_empty());
}

#[test]
fn the_training_crate_consumes_rules_but_never_the_oracle() {
    // credit-train uses the rules as gradient sources and credit-check's CLI helpers; it never
    // names the oracle (a training step must not be a disguised oracle call)
    let deps = credit_deps("train");
    for rule in [
        "credit-core",
        "credit-bptt",
        "credit-rtrl",
        "credit-eprop",
        "credit-family",
        "credit-deep",
        "credit-ostl",
        "credit-snap",
        "credit-tbptt",
        "credit-rflo",
        "credit-uoro",
        "credit-mdgl",
    ] {
        assert!(deps.iter().any(|d| d == rule), "crates/train must depend on {rule}");
    }
    assert!(
        !deps.iter().any(|d| d == "credit-oracle"),
        "crates/train must not depend on the oracle directly"
    );
    for krate in [
        "bptt", "rtrl", "eprop", "family", "deep", "ostl", "snap", "tbptt", "rflo", "uoro", "mdgl", "oracle",
        "core", "check",
    ] {
        assert!(
            !credit_deps(krate).iter().any(|d| d == "credit-train"),
            "crates/{krate} must not depend on credit-train"
        );
    }
    let mut stack = vec![crates_dir().join("train/src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                assert!(!text.contains("credit_oracle"), "{} names the oracle", path.display());
            }
        }
    }
}

#[test]
fn the_oracle_never_uses_hand_derived_jacobians_or_rules() {
    let src = std::fs::read_to_string(crates_dir().join("oracle/src/lib.rs")).unwrap();
    // only the doc-comment and the dense comparison helper may mention them
    let code: String =
        src.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
    for forbidden in [
        ".jacobians(",
        ".output_jacobian(",
        ".prime(",
        ".dloss_dy(",
        "credit_bptt",
        "credit_rtrl",
        "credit_backprop",
    ] {
        assert!(!code.contains(forbidden), "oracle code mentions `{forbidden}`");
    }
}

#[test]
fn every_source_file_starts_with_a_module_doc() {
    let root = crates_dir().parent().unwrap().to_path_buf();
    let mut stack = vec![root.join("crates"), root.join("xtask")];
    let mut checked = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if !path.ends_with("snapshots") {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                assert!(text.starts_with("//!"), "{} must start with a `//!` module doc", path.display());
                checked += 1;
            }
        }
    }
    assert!(checked > 20, "walked only {checked} files");
}
