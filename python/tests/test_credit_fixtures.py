"""python/credit_fixtures.py against the Rust reference: the loader names every array, and
`compare` gives the same verdicts, worst entries, report text and exit codes as
`compare-fixture` on the same pairs (exported canonical fixtures, perturbed here).

Needs cargo (the fixtures are exported and compared by the Rust binaries, built in release).
"""

import json
import os
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))

import credit_fixtures as cf  # noqa: E402

SCRIPT = os.path.join(os.path.dirname(HERE), "credit_fixtures.py")


def cargo_bin(name, *args):
    cmd = ["cargo", "run", "--release", "-q", "-p", "credit-check", "--bin", name, "--", *map(str, args)]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    return out.returncode, out.stdout, out.stderr


def rust_compare(expected, candidate, *flags):
    return cargo_bin("compare-fixture", expected, candidate, *flags)


def py_compare(expected, candidate, *flags):
    cmd = [sys.executable, SCRIPT, "compare", str(expected), str(candidate), *map(str, flags)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    return out.returncode, out.stdout, out.stderr


@pytest.fixture(scope="session")
def fixtures_dir(tmp_path_factory):
    if shutil.which("cargo") is None:
        pytest.skip("cargo is not installed: the fixtures come from the Rust exporter")
    d = tmp_path_factory.mktemp("credit") / "fixtures"
    code, out, err = cargo_bin("export-fixtures", d)
    assert code == 0, err
    return d


def write(dir_, arrays):
    """Writes {file: {name: array}} as a candidate directory."""
    os.makedirs(dir_, exist_ok=True)
    for file, named in arrays.items():
        np.savez(os.path.join(dir_, file), **named)
    return dir_


def copy_of(fx, files=cf.FILES, keep=lambda file, name: True):
    return {f: {n: a.copy() for n, a in fx.file(f).items() if keep(f, n)} for f in files}


def same_report(expected, candidate, *flags):
    """Both CLIs on one pair: same exit code and the same text, line for line."""
    rc, rout, rerr = rust_compare(expected, candidate, *flags)
    pc, pout, perr = py_compare(expected, candidate, *flags)
    assert rc in (0, 1), rerr
    assert (pc, pout.splitlines()) == (rc, rout.splitlines()), f"rust:\n{rout}\npython:\n{pout}\n{perr}"
    return rc, rout


# ---------------------------------------------------------------------------------------------
# Loading


def test_load_names_every_array(fixtures_dir):
    fx = cf.load(fixtures_dir / "rate-paper-n5-t20")
    assert fx.config["cell"]["kind"] == "rate" and fx.config["schema"] == 2
    n, n_in, k, t = fx.config["n"], fx.config["n_in"], fx.config["n_out"], fx.config["steps"]
    assert {name: a.shape for name, a in fx.params.items()} == {
        "w_in": (n, n_in), "w_rec": (n, n), "b": (n, 1), "w_out": (k, n), "b_out": (k, 1),
    }
    assert fx.inputs["x"].shape == (t, n_in) and fx.inputs["feedback"].shape == (n, k)
    assert fx.intermediates["h"].shape == (t + 1, n, 1) and fx.intermediates["loss"].shape == ()
    assert set(fx.gradients) == {
        "bptt", "rtrl", "oracle", "oracle_detached", "eprop_total", "eprop_symmetric",
        "eprop_noncausal_symmetric", "eprop_random", "family_m1",
    }
    assert set(fx.gradients["bptt"]) == set(fx.params)
    updates = fx.config["training"]["updates"]
    assert set(fx.trajectories) == {"bptt", "eprop_random"}
    assert fx.trajectories["bptt"]["loss_task"].shape == (updates + 1,)
    e = fx.trajectories["bptt"]["loss_task"] + fx.trajectories["bptt"]["loss_reg"]
    assert e[0] == fx.intermediates["loss"] and np.all(np.diff(e) < 0)
    assert fx.training["trainable"] == list(fx.params) and fx.training["w_max"] == np.inf
    np.testing.assert_array_equal(fx.trajectories["bptt"]["w_rec"][0], fx.params["w_rec"])
    # the loaded gradients are the Rust ones: BPTT = RTRL = oracle at ~1e-12
    for name, g in fx.gradients["oracle"].items():
        assert np.abs(fx.gradients["bptt"][name] - g).max() <= 1e-10 * np.abs(g).max()
    stack = cf.load(fixtures_dir / "stack-lif-alif-paper-n5x2-t20")
    assert "layers" in stack.config and "deep_eprop" in stack.gradients


def test_mask_and_clip_round_trip(fixtures_dir, tmp_path):
    """`trainable`, `w_min`, `w_max` written into a config travel export-fixtures --fixture ->
    config.json -> cf.load: the frozen biases stay put, the clip binds, the NumPy transcription
    replays the run at 1e-12, and a candidate whose frozen bias moves fails at that update in
    both comparers alike (docs/fixtures.md section 2.2)."""
    src, mine, out = fixtures_dir / "lif-paper-n5-t20", tmp_path / "mine", tmp_path / "out"
    mine.mkdir()
    cfg = json.loads((src / "config.json").read_text())
    cfg["training"].update(trainable=["w_in", "w_rec", "w_out"], w_min=-0.3, w_max=0.35)
    (mine / "config.json").write_text(json.dumps(cfg))
    shutil.copy(src / "inputs.npz", mine / "inputs.npz")
    code, _, err = cargo_bin("export-fixtures", out, "--fixture", mine, "--rules", "bptt,eprop_random")
    assert code == 0, err
    fx = cf.load(out)
    assert fx.config["schema"] == 2 and fx.config["training"] == cfg["training"]
    assert fx.training["trainable"] == ["w_in", "w_rec", "w_out"] and fx.training["w_min"] == -0.3
    for rule, run in fx.trajectories.items():
        for name, series in run.items():
            if name in ("b", "b_out"):
                assert np.all(series == series[0]), f"{rule}/{name}: a frozen tensor moved"
            elif name.startswith("w_"):
                moved = series[1:][series[1:] != series[0]]
                assert moved.size and moved.min() >= -0.3 and moved.max() <= 0.35, f"{rule}/{name}"
        clipped = sum(np.sum((run[n][1:] == -0.3) | (run[n][1:] == 0.35)) for n in ("w_in", "w_rec", "w_out"))
        assert clipped > 0, f"{rule}: the clip must bind"
    sys.path.insert(0, os.path.join(ROOT, "docs", "examples"))
    import numpy_reference as npref

    ours = npref.train(*npref.load(str(out)))
    for k, v in ours.items():
        assert npref.rel_err(v, fx.trajectories["bptt"][k.split("/", 1)[1]]) <= 1e-12, k
    cand = copy_of(fx, files=["trajectory.npz"])
    cand["trajectory.npz"]["bptt/b"][3, 2, 0] += 0.01
    write(tmp_path / "cand", cand)
    rc, report = same_report(out, tmp_path / "cand")
    assert rc == 1 and "first parting: trajectory.npz bptt/b[3, 2, 0] at step 3" in report, report


def test_loader_is_tolerant_of_1d_bias_and_extra_keys(fixtures_dir, tmp_path):
    src = fixtures_dir / "lif-tf-n5-t20"
    cfg = json.loads((src / "config.json").read_text())
    cfg["comment"] = {"exported_by": "a port"}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    inputs = cf.load(src).inputs
    inputs["params/b"] = inputs["params/b"][:, 0]
    np.savez(tmp_path / "inputs.npz", **inputs)
    fx = cf.load(tmp_path)
    assert fx.config["comment"]["exported_by"] == "a port"
    assert fx.params["b"].shape == (5,) and fx.gradients == {}
    # compared by name, the (N,) bias is a shape mismatch in both implementations
    rc, out = same_report(src, tmp_path)
    assert rc == 1 and "FAIL: shape [5], expected [5, 1]" in out


# ---------------------------------------------------------------------------------------------
# The same verdicts as compare-fixture


def test_identical_copy_passes_with_zero_bounds(fixtures_dir, tmp_path):
    ref = fixtures_dir / "alif-nest-n5-t20"
    write(tmp_path, copy_of(cf.load(ref)))
    rc, out = same_report(ref, tmp_path, "--tol", 0, "--rtol", 0, "--atol", 0)
    assert rc == 0 and out.endswith(" passed, 0 failed\n") and "worst:" not in out
    assert cf.compare(ref, tmp_path, tol=0, rtol=0, atol=0).passed


def test_small_entry_error_fails_the_entry_rule(fixtures_dir, tmp_path):
    ref = fixtures_dir / "lif-paper-n5-t20"
    fx = cf.load(ref)
    cand = copy_of(fx, files=["gradients.npz"], keep=lambda f, n: n.startswith("bptt/"))
    # an entry small against its tensor, perturbed by 1e-4 relative
    name, index = next(
        (n, tuple(int(i) for i in np.argwhere((abs(a) > 0.02) & (abs(a) < 0.005 * abs(a).max()))[0]))
        for n, a in cand["gradients.npz"].items()
        if ((abs(a) > 0.02) & (abs(a) < 0.005 * abs(a).max())).any()
    )
    cand["gradients.npz"][name][index] *= 1 + 1e-4
    write(tmp_path, cand)
    rc, out = same_report(ref, tmp_path)
    assert rc == 1
    entry = f"gradients.npz {name}[{', '.join(map(str, index))}]"
    assert f"first parting: {entry}: " in out and f"worst: {entry}: " in out
    report = cf.compare(ref, tmp_path)
    bad = [a for a in report.arrays if not a.passed]
    assert [(a.name, a.failure, a.worst.index) for a in bad] == [(name, ("tolerance",), index)]
    assert 0 < bad[0].rel <= cf.DEFAULT_TOL  # the tensor-relative measure alone passes it
    assert cf.compare(ref, tmp_path, rtol=0, atol=float("inf")).passed
    assert same_report(ref, tmp_path, "--rtol", 0, "--atol", "inf")[0] == 0


def test_nan_and_inf(fixtures_dir, tmp_path):
    ref = fixtures_dir / "lstm-paper-n5-t20"
    cand = copy_of(cf.load(ref), files=["gradients.npz", "intermediates.npz"])
    cand["gradients.npz"]["bptt/w_rec_f"][3, 1] = np.nan
    cand["gradients.npz"]["rtrl/b_o"][2, 0] = np.inf
    cand["intermediates.npz"]["h"][9:, 1, 1] = np.nan
    write(tmp_path, cand)
    rc, out = same_report(ref, tmp_path)
    assert rc == 1
    assert "FAIL: NaN at [3, 1] (expected " in out and "FAIL: inf at [2, 0] (expected " in out
    assert "first parting: intermediates.npz h: NaN at [9, 1, 1]" in out
    assert "relative inf" not in out and "inf inf" not in out
    h = next(a for a in cf.compare(ref, tmp_path).arrays if a.name == "h")
    assert h.failure[0] == "non-finite" and h.failure[1].index == (9, 1, 1) and h.first_step == 9


def test_shape_mismatch(fixtures_dir, tmp_path):
    ref = fixtures_dir / "rate-paper-n5-t20"
    cand = copy_of(cf.load(ref), files=["gradients.npz", "trajectory.npz"], keep=lambda f, n: "bptt/" in n)
    cand["gradients.npz"]["bptt/w_in"] = cand["gradients.npz"]["bptt/w_in"][:, :2]
    cand["trajectory.npz"]["bptt/loss_task"] = cand["trajectory.npz"]["bptt/loss_task"][:, None]
    write(tmp_path, cand)
    rc, out = same_report(ref, tmp_path)
    assert rc == 1 and "FAIL: shape [5, 2], expected [5, 3]" in out and "FAIL: shape [6, 1], expected [6]" in out
    assert "first parting: gradients.npz bptt/w_in: shape [5, 2], expected [5, 3]" in out
    assert " inf " not in out and "step 0" not in out


def test_drift_names_step_and_entry(fixtures_dir, tmp_path):
    ref = fixtures_dir / "alif-tf-n5-t20"
    cand = copy_of(cf.load(ref), files=["intermediates.npz"])
    cand["intermediates.npz"]["h"][7:, 2, 1] += 1e-3
    write(tmp_path, cand)
    rc, out = same_report(ref, tmp_path)
    assert rc == 1 and "first parting: intermediates.npz h[7, 2, 1] at step 7: " in out


@pytest.mark.parametrize("seed", range(8))
def test_random_perturbations_give_the_same_report(fixtures_dir, tmp_path, seed):
    """Random subsets of every file of a fixture, entries scaled by 1 + 10^U(-9, -3), sometimes
    a float32 candidate, random bounds: the whole report is the same text."""
    rng = np.random.default_rng(seed)
    names = sorted(p.name for p in fixtures_dir.iterdir())
    ref = fixtures_dir / names[seed * 5 % len(names)]
    fx = cf.load(ref)
    cand = {}
    for f in cf.FILES:
        kept = {n: a.copy() for n, a in fx.file(f).items() if rng.random() < 0.5}
        for a in kept.values():
            if a.size and rng.random() < 0.5:
                flat = a.reshape(-1)
                for k in rng.integers(0, a.size, size=rng.integers(1, 4)):
                    flat[k] *= 1 + rng.choice([-1, 1]) * 10 ** rng.uniform(-9, -3)
        if seed % 3 == 2:
            kept = {n: a.astype(np.float32) for n, a in kept.items()}
        if kept:
            cand[f] = kept
    write(tmp_path, cand)
    flags = [] if seed < 3 else ["--tol", 10 ** rng.uniform(-8, -5), "--rtol", 10 ** rng.uniform(-7, -4), "--atol", 1e-9]
    same_report(ref, tmp_path, *flags)
    # the API on a dict of arrays prints the same report as on the directory
    kw = dict(zip(["tol", "rtol", "atol"], map(float, flags[1::2])))
    assert cf.compare(ref, cand, **kw).lines() == cf.compare(ref, tmp_path, **kw).lines()


# ---------------------------------------------------------------------------------------------
# Unusable input: exit 2 with one line, in both


@pytest.mark.parametrize(
    "case", ["missing-candidate", "missing-expected", "outside-layout", "not-npz", "int-array", "bad-tol", "empty", "huge-header"]
)
def test_unusable_input_exits_2(fixtures_dir, tmp_path, case):
    ref = fixtures_dir / "rate-paper-n5-t20"
    cand, flags = tmp_path / "cand", []
    os.makedirs(cand)
    if case == "missing-candidate":
        cand = tmp_path / "no-such-dir"
    elif case == "missing-expected":
        ref, cand = tmp_path / "no-such-dir", ref
    elif case == "outside-layout":
        write(cand, {"gradients.npz": {"bptt/w_hidden": np.zeros(2)}})
    elif case == "not-npz":
        (cand / "gradients.npz").write_bytes(b"not a zip")
    elif case == "int-array":
        write(cand, {"gradients.npz": {"bptt/w_in": np.zeros((5, 3), dtype=np.int64)}})
    elif case == "bad-tol":
        cand, flags = ref, ["--rtol=-1"]
    elif case == "huge-header":
        # an npy header claiming 5 x 2**40 float64 over 64 stored bytes: refused before reading
        header = "{'descr': '<f8', 'fortran_order': False, 'shape': (5, 1099511627776), }".ljust(117) + "\n"
        npy = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + bytes(64)
        with zipfile.ZipFile(cand / "gradients.npz", "w") as z:
            z.writestr("bptt/w_rec.npy", npy)
    results = [rust_compare(ref, cand, *flags), py_compare(ref, cand, *flags)]
    for code, out, err in results:
        assert (code, out) == (2, ""), err
        assert len(err.strip().splitlines()) == 1, err
    if case.startswith("missing"):
        assert all(err.rstrip().endswith("no-such-dir: directory does not exist") for _, _, err in results)
    if case == "huge-header":
        assert [err.split(": ", 1)[1] for _, _, err in results][0] == [err.split(": ", 1)[1] for _, _, err in results][1]
        assert "1099511627776" in results[0][2]
    with pytest.raises(cf.FixtureError):
        cf.compare(ref, cand, **({"rtol": -1.0} if flags else {}))
