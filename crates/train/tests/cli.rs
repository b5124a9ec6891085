//! The `train` binary as a user runs it: bad arguments give one line and exit 2; a run writes
//! the curve as CSV, JSON and an SVG that parses as XML, and prints a summary line.

use std::process::Command;

fn train(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_train")).args(args).output().expect("runs");
    let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), s(&out.stdout), s(&out.stderr))
}

#[test]
fn bad_arguments_give_one_line_and_exit_2() {
    let dir = std::env::temp_dir().join("credit-train-cli-bad");
    let d = dir.to_str().unwrap();
    for (args, needle) in [
        (vec!["--task", "sinus", "--out", d], "task = sinus"),
        (vec!["--task", "sine", "--rule", "sgd", "--out", d], "rule = sgd"),
        (vec!["--task", "sine", "--lr", "-1", "--out", d], "lr = -1"),
        (vec!["--task", "sine", "--lr", "nan", "--out", d], "lr = NaN"),
        (vec!["--task", "sine", "--freeze", "bias", "--out", d], "frozen = bias"),
        (vec!["--task", "sine", "--batch", "0", "--out", d], "batch"),
        (vec!["--task", "sine", "--iterations", "-3", "--out", d], "negative"),
        (vec!["--task", "copy", "--preset", "nest", "--out", d], "preset"),
        (vec!["--task", "sine", "--rule", "deep", "--cell", "gru", "--out", d], "cell = gru"),
        (vec!["--task", "sine", "--clip", "0", "--out", d], "--clip"),
        // the online rules of issue 15 refuse with their crate's own typed error
        (vec!["--task", "sine", "--rule", "rflo", "--out", d], "network.cell = lif"),
        (vec!["--task", "sine", "--rule", "kf-rtrl", "--out", d], "network.cell"),
        (vec!["--task", "sine", "--rule", "mdgl", "--preset", "nest", "--out", d], "network.reg"),
        (vec!["--task", "sine", "--rule", "snap-0", "--out", d], "rule = snap-0"),
        (
            vec!["--task", "adding", "--rule", "ebptt-5", "--layers", "2", "--out", d],
            "rule = ebptt-5 on stack",
        ),
        (vec!["--task", "sine"], "--out"),
    ] {
        let (code, stdout, stderr) = train(&args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stdout.is_empty(), "{args:?}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("train: ") && stderr.contains(needle), "{args:?}: {stderr}");
    }
}

#[test]
fn a_run_writes_csv_json_and_a_well_formed_svg() {
    let dir = std::env::temp_dir().join(format!("credit-train-cli-{}", std::process::id()));
    let (code, stdout, stderr) = train(&[
        "--task",
        "adding",
        "--cell",
        "lstm",
        "--rule",
        "eprop-random",
        "--iterations",
        "4",
        "--batch",
        "2",
        "--cosine",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.starts_with("train: adding lstm eprop-random: task loss ") && stdout.contains("4 updates"),
        "{stdout}"
    );
    let csv = std::fs::read_to_string(dir.join("curve.csv")).unwrap();
    assert_eq!(csv.lines().count(), 5);
    assert!(csv.starts_with("iteration,task_loss,reg_loss,rate,cosine_bptt,grad_norm\n"));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("curve.json")).unwrap()).unwrap();
    assert_eq!(json["settings"]["rule"], "eprop-random");
    assert_eq!(json["log"].as_array().unwrap().len(), 4);
    assert!(json["log"][0]["cosine_bptt"].as_f64().unwrap() < 1.0);
    let svg = std::fs::read_to_string(dir.join("curve.svg")).unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("the SVG parses as XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let texts: Vec<&str> =
        doc.descendants().filter(|n| n.has_tag_name("text")).filter_map(|n| n.text()).collect();
    assert!(texts.iter().any(|t| t.contains("task loss")), "legend text: {texts:?}");
    assert!(doc.descendants().filter(|n| n.has_tag_name("polyline")).count() >= 1, "a curve is drawn");
    std::fs::remove_dir_all(&dir).ok();
}
