"""Load `credit` conformance fixtures and compare a port with them, in pure NumPy.

Python >= 3.9 and NumPy only; no Rust is needed to use this file. The layout of a fixture
directory and the comparison rule are specified in docs/fixtures.md (sections 2 and 3); this
module implements the same rule and prints the same report as `cargo xtask compare-fixture`
(crates/check/src/fixtures/compare.rs), with the same exit codes:

    python credit_fixtures.py compare EXPECTED CANDIDATE [--tol T] [--rtol R] [--atol A]

exits 0 when every entry passes, 1 when one does not, 2 when a file or directory is unusable.

From Python:

    import credit_fixtures as cf
    fx = cf.load("fixtures/rate-paper-n5-t20")
    fx.config["cell"]["kind"], fx.params["w_rec"], fx.gradients["bptt"]["w_rec"]
    report = cf.compare("fixtures/rate-paper-n5-t20", {"gradients.npz": {"bptt/w_rec": g}})
    print(report); assert report.passed

The rule (docs/fixtures.md section 3). For a candidate array `a` and the reference `b` of the
same file and name, with d_i = |a_i - b_i| and S = max_i |b_i| (over finite b_i), entry i passes
when
  (R1) both values are finite, or both are the same infinity;
  (R2) d_i <= atol + rtol * |b_i|;
  (R3) d_i / S <= tol   (so the array's tensor-relative error rel = max_i d_i / S <= tol);
an array passes when the shapes agree and every entry passes. The worst entry is the first
(row-major) maximiser of (R4) q_i = max(d_i / (atol + rtol |b_i|), (d_i / S) / tol), q_i = inf
for an (R1) failure, where x / 0 is 0 for x = 0 and inf otherwise.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import zipfile
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

#: The compared files, in order.
FILES = ("inputs.npz", "intermediates.npz", "gradients.npz", "trajectory.npz")
#: Defaults of compare-fixture, chosen for float32 ports (docs/fixtures.md section 3).
DEFAULT_TOL = 1e-6
DEFAULT_RTOL = 1e-5
DEFAULT_ATOL = 1e-6

Arrays = Dict[str, Dict[str, np.ndarray]]


class FixtureError(Exception):
    """A directory, file or array is unusable (compare-fixture's exit code 2)."""


# ---------------------------------------------------------------------------------------------
# Loading


def _check_headers(path: str) -> None:
    """Reads every npy header of the .npz at `path` before any array (as compare-fixture does):
    a header that claims more elements than its entry stores (at 4 bytes each, the smallest
    float accepted) is an error naming the array, never an allocation."""
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            name = info.filename[: -len(".npy")] if info.filename.endswith(".npy") else info.filename
            with z.open(info) as f:
                version = np.lib.format.read_magic(f)
                read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                shape, _, _ = read(f)
            if math.prod(shape) * 4 > info.file_size:
                raise FixtureError(
                    f"{path}: array `{name}`: the npy header claims shape {list(shape)}, "
                    f"more than the {info.file_size} bytes stored"
                )


def _read_npz(path: str) -> Dict[str, np.ndarray]:
    try:
        _check_headers(path)
        with np.load(path, allow_pickle=False) as z:
            return {name: z[name] for name in z.files}
    except FileNotFoundError:
        raise FixtureError(f"{path}: No such file or directory") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise FixtureError(f"{path}: not a readable .npz: {e}") from None


def _split_rules(arrays: Mapping[str, np.ndarray]) -> Dict[str, Dict[str, np.ndarray]]:
    """`<rule>/<name>` -> {rule: {name: array}} (split at the first `/`)."""
    out: Dict[str, Dict[str, np.ndarray]] = {}
    for key, a in arrays.items():
        rule, _, name = key.partition("/")
        out.setdefault(rule, {})[name] = a
    return out


@dataclass
class Fixture:
    """A fixture directory in memory: arrays by file and name, as stored.

    Nothing is reshaped or validated here, so a bias stored as (N,) or (N, 1) and extra
    metadata keys in config.json load as they are; the comparison is by array name.
    """

    #: The directory.
    path: str
    #: config.json as a dict (None when the directory has none, e.g. a port's output).
    config: Optional[Dict[str, Any]]
    #: {file: {name: array}} for the files present (docs/fixtures.md section 2).
    arrays: Arrays = field(default_factory=dict)

    def file(self, name: str) -> Dict[str, np.ndarray]:
        """The arrays of one file (`inputs.npz` or `inputs`); empty when absent."""
        return self.arrays.get(_file_key(name), {})

    @property
    def inputs(self) -> Dict[str, np.ndarray]:
        """inputs.npz: `params/<tensor>`, `feedback`, `x`, `target`, `mask`."""
        return self.file("inputs.npz")

    @property
    def params(self) -> Dict[str, np.ndarray]:
        """The parameters {tensor: array} (the `params/` arrays of inputs.npz)."""
        return _split_rules(self.inputs).get("params", {})

    @property
    def intermediates(self) -> Dict[str, np.ndarray]:
        """intermediates.npz: per-step arrays (leading axis t = 0..T) and `loss`."""
        return self.file("intermediates.npz")

    @property
    def gradients(self) -> Dict[str, Dict[str, np.ndarray]]:
        """gradients.npz as {rule: {tensor: gradient}}."""
        return _split_rules(self.file("gradients.npz"))

    @property
    def trajectories(self) -> Dict[str, Dict[str, np.ndarray]]:
        """trajectory.npz as {rule: {"loss_task" | "loss_reg" | tensor: array over updates}}
        (schema 2: the task loss and the regulariser are stored apart, E = their sum)."""
        return _split_rules(self.file("trajectory.npz"))

    @property
    def training(self) -> Dict[str, Any]:
        """config.json's `training` with its defaults filled in (docs/fixtures.md section 2.2):
        `lr`, `updates`, `trainable` (the tensor names; every tensor of `params` when null or
        absent), `w_min`, `w_max` (-inf / inf when null or absent). Each update of a recorded
        run sets theta <- clip(theta - lr * g, w_min, w_max) for the trainable tensors only."""
        t = dict((self.config or {}).get("training") or {})
        if t.get("trainable") is None:
            t["trainable"] = list(self.params)
        t["w_min"] = -math.inf if t.get("w_min") is None else float(t["w_min"])
        t["w_max"] = math.inf if t.get("w_max") is None else float(t["w_max"])
        return t


def _check_dir(path: str) -> None:
    if not os.path.exists(path):
        raise FixtureError(f"{path}: directory does not exist")
    if not os.path.isdir(path):
        raise FixtureError(f"{path}: not a directory")


def load(path: Union[str, os.PathLike]) -> Fixture:
    """Loads a fixture (or a port's output in the same layout: any subset of the files)."""
    path = os.fspath(path)
    _check_dir(path)
    cfg_path = os.path.join(path, "config.json")
    config = None
    if os.path.exists(cfg_path):
        try:
            with open(cfg_path, encoding="utf-8") as f:
                config = json.load(f)
        except (OSError, ValueError) as e:
            raise FixtureError(f"{cfg_path}: {e}") from None
    arrays = {}
    for name in FILES:
        p = os.path.join(path, name)
        if os.path.exists(p):
            arrays[name] = _read_npz(p)
    return Fixture(path, config, arrays)


# ---------------------------------------------------------------------------------------------
# Comparing


@dataclass
class Entry:
    """One entry of an array."""

    index: Tuple[int, ...]
    actual: float
    expected: float
    #: q_i of (R4): above 1 when the entry fails (R2) or (R3), inf when it fails (R1).
    ratio: float


@dataclass
class ArrayReport:
    """One compared array (the fields of compare-fixture's ArrayReport)."""

    file: str
    name: str
    #: max|a - b| / max|b| over the entries that are not (R1) failures (nan on a shape mismatch).
    rel: float
    #: max|a - b| over the same entries (nan on a shape mismatch).
    abs: float
    #: The worst entry by (R4); None when no entry differs or the shapes differ.
    worst: Optional[Entry]
    #: The first failing entry in row-major order.
    first: Optional[Entry]
    #: Its step (first index) for arrays with a time axis.
    first_step: Optional[int]
    #: None, ("shape", actual, expected), ("non-finite", Entry) or ("tolerance",).
    failure: Optional[tuple]

    @property
    def passed(self) -> bool:
        return self.failure is None

    def entry_name(self, e: Entry) -> str:
        return _entry_name(self.name, e.index)


@dataclass
class Report:
    """The comparison: every compared array in file order, and the bounds."""

    arrays: List[ArrayReport]
    tol: float
    rtol: float
    atol: float

    @property
    def passed(self) -> bool:
        return all(a.passed for a in self.arrays)

    def first_failure(self) -> Optional[ArrayReport]:
        return next((a for a in self.arrays if not a.passed), None)

    def lines(self) -> List[str]:
        """The report as compare-fixture prints it."""
        return _render(self)

    def __str__(self) -> str:
        return "\n".join(self.lines())


def _file_key(name: str) -> str:
    return name if name.endswith(".npz") else name + ".npz"


def _has_time_axis(file: str, name: str) -> bool:
    if file == "intermediates.npz":
        return name != "loss"
    if file == "trajectory.npz":
        return True
    if file == "inputs.npz":
        return name in ("x", "target", "mask")
    return False


def _div(x: np.ndarray, y) -> np.ndarray:
    """x / y elementwise with 0 / 0 = 0 and x / 0 = inf for x > 0 (R4)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.broadcast_to(np.asarray(y, dtype=np.float64), x.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = x / np.where(y == 0.0, 1.0, y)
    return np.where(x == 0.0, 0.0, np.where(y == 0.0, np.inf, q))


def _entry_name(name: str, index: Sequence[int]) -> str:
    return f"{name}{_index(index)}" if len(index) else name


def _index(index: Sequence[int]) -> str:
    return "[" + ", ".join(str(i) for i in index) + "]"


def _measure(file: str, name: str, a: np.ndarray, b: np.ndarray, tol: float, rtol: float, atol: float) -> ArrayReport:
    shape = b.shape
    a = np.ravel(a, order="C")  # row-major (logical) order
    b = np.ravel(b, order="C")
    both_finite = np.isfinite(a) & np.isfinite(b)
    same_inf = np.isinf(a) & np.isinf(b) & (np.signbit(a) == np.signbit(b))
    r1 = ~(both_finite | same_inf)  # (R1) fails
    with np.errstate(invalid="ignore"):
        d = np.where(both_finite, np.abs(a - b), 0.0)
        bound = atol + rtol * np.abs(b)  # (R2)
    scale = float(np.max(np.abs(b[np.isfinite(b)]), initial=0.0))
    abs_err = float(np.max(d[~r1], initial=0.0))
    rel = float(_div(abs_err, scale))
    r = _div(d, scale)  # (R3)
    with np.errstate(invalid="ignore"):
        fails = r1 | (d > bound) | (r > tol)
    ratio = np.where(r1, np.inf, np.maximum(_div(d, np.where(r1, 1.0, bound)), _div(r, tol)))  # (R4)

    def entry(k: int) -> Entry:
        index = tuple(int(i) for i in np.unravel_index(k, shape))
        return Entry(index, float(a[k]), float(b[k]), float(ratio[k]))

    worst = entry(int(np.argmax(ratio))) if ratio.size and ratio.max() > 0.0 else None
    first = entry(int(np.argmax(fails))) if fails.any() else None
    if r1.any():
        failure: Optional[tuple] = ("non-finite", entry(int(np.argmax(r1))))
    elif first is not None:
        failure = ("tolerance",)
    else:
        failure = None
    first_step = first.index[0] if first is not None and _has_time_axis(file, name) and first.index else None
    return ArrayReport(file, name, rel, abs_err, worst, first, first_step, failure)


def _validate(tol: float, rtol: float, atol: float) -> None:
    for flag, v, inf_ok in (("--tol", tol, False), ("--rtol", rtol, False), ("--atol", atol, True)):
        if math.isnan(v) or v < 0.0 or (math.isinf(v) and not inf_ok):
            want = ">= 0 (inf allowed)" if inf_ok else "finite and >= 0"
            raise FixtureError(f"{flag}: tolerance {v} must be {want}")


def _as_float64(a: Any, where: str, name: str, candidate: bool) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.kind == "f" and a.dtype.itemsize == 8:
        return a.astype(np.float64, copy=False)
    if candidate and a.dtype.kind == "f" and a.dtype.itemsize == 4:
        return a.astype(np.float64)  # exact
    want = "float64 or float32" if candidate else "float64"
    raise FixtureError(f"{where}: array `{name}`: dtype {a.dtype} ({want} arrays are required)")


def compare(
    expected: Union[str, os.PathLike],
    candidate: Union[str, os.PathLike, Fixture, Mapping[str, Mapping[str, Any]]],
    tol: float = DEFAULT_TOL,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
) -> Report:
    """Compares a candidate (a directory, a Fixture, or {file: {name: array}} with file names
    such as "gradients.npz" or "gradients") with the reference directory `expected` by
    (R1)-(R4). Raises FixtureError where compare-fixture exits 2."""
    _validate(tol, rtol, atol)
    expected = os.fspath(expected)
    _check_dir(expected)
    if isinstance(candidate, Fixture):
        cand: Mapping[str, Mapping[str, Any]] = candidate.arrays
        where = candidate.path
    elif isinstance(candidate, Mapping):
        cand = {_file_key(k): v for k, v in candidate.items()}
        unknown = [k for k in cand if k not in FILES]
        if unknown:
            raise FixtureError(f"candidate: file `{unknown[0]}` is not part of the fixture layout")
        where = "candidate"
    else:
        where = os.fspath(candidate)
        _check_dir(where)
        cand = {f: _read_npz(os.path.join(where, f)) for f in FILES if os.path.exists(os.path.join(where, f))}
    arrays: List[ArrayReport] = []
    for file in FILES:
        if file not in cand:
            continue
        cpath = os.path.join(where, file)
        epath = os.path.join(expected, file)
        ref = _read_npz(epath)
        for name, a in cand[file].items():
            if name not in ref:
                raise FixtureError(f"{cpath}: array `{name}` is not part of the fixture layout")
            a = _as_float64(a, cpath, name, candidate=True)
            b = _as_float64(ref[name], epath, name, candidate=False)
            if a.shape != b.shape:
                failure = ("shape", list(a.shape), list(b.shape))
                arrays.append(ArrayReport(file, name, math.nan, math.nan, None, None, None, failure))
                continue
            arrays.append(_measure(file, name, a, b, tol, rtol, atol))
    if not arrays:
        raise FixtureError(
            f"{where}: no fixture arrays found (expected some of inputs.npz, intermediates.npz, "
            "gradients.npz, trajectory.npz)"
        )
    return Report(arrays, tol, rtol, atol)


# ---------------------------------------------------------------------------------------------
# The report, as compare-fixture prints it


def _sci(x: float, p: int) -> str:
    """x as Rust's `{:.p$e}` prints it: 1.23e-7, 0.00e0, inf, NaN."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    mantissa, exponent = f"{x:.{p}e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def _non_finite_label(e: Entry) -> str:
    def label(v: float) -> str:
        return "NaN" if math.isnan(v) else ("inf" if v > 0 else "-inf")

    if math.isfinite(e.actual):
        return f"expected {label(e.expected)} at {_index(e.index)} (found {_sci(e.actual, 6)})"
    return f"{label(e.actual)} at {_index(e.index)} (expected {_sci(e.expected, 6)})"


def _fails_r1(x: float, y: float) -> bool:
    same_inf = math.isinf(x) and math.isinf(y) and (x > 0) == (y > 0)
    return not ((math.isfinite(x) and math.isfinite(y)) or same_inf)


def _render(report: Report) -> List[str]:
    def or_dash(x: float) -> str:
        return "-" if math.isnan(x) else _sci(x, 2)

    row = "{:<18}  {:<28}  {:>9}  {:>9}  {:<12}  {:>9}  {:>4}  {}"
    lines = [row.format("file", "array", "rel. err", "abs. err", "worst entry", "q", "step", "verdict")]
    for a in report.arrays:
        if a.failure is None:
            verdict = "ok"
        elif a.failure[0] == "tolerance":
            verdict = "FAIL"
        elif a.failure[0] == "non-finite":
            verdict = f"FAIL: {_non_finite_label(a.failure[1])}"
        else:
            verdict = f"FAIL: shape {_index(a.failure[1])}, expected {_index(a.failure[2])}"
        lines.append(
            row.format(
                a.file,
                a.name,
                or_dash(a.rel),
                or_dash(a.abs),
                "-" if a.worst is None else _index(a.worst.index),
                "-" if a.worst is None else _sci(a.worst.ratio, 2),
                "-" if a.first_step is None else str(a.first_step),
                verdict,
            )
        )
    lines.append("")
    lines.append(
        "rule: an entry passes when |a - b| <= atol + rtol*|b| and |a - b| / max|b| <= tol, both "
        f"(tol {_sci(report.tol, 2)}, rtol {_sci(report.rtol, 2)}, atol {_sci(report.atol, 2)}); "
        "q = the larger of the two ratios, > 1 fails"
    )

    def value(a: ArrayReport, e: Entry, at: str) -> str:
        if _fails_r1(e.actual, e.expected):
            return f"{a.file} {a.name}: {_non_finite_label(e)}"
        return (
            f"{a.file} {a.entry_name(e)}{at}: {_sci(e.actual, 6)}, expected {_sci(e.expected, 6)} "
            f"(q {_sci(e.ratio, 2)})"
        )

    f = report.first_failure()
    if f is not None:
        if f.failure[0] == "shape":
            detail = f"{f.file} {f.name}: shape {_index(f.failure[1])}, expected {_index(f.failure[2])}"
        elif f.failure[0] == "non-finite":
            detail = f"{f.file} {f.name}: {_non_finite_label(f.failure[1])}"
        else:
            at = "" if f.first_step is None else f" at step {f.first_step}"
            e = f.first if f.first_step is not None else f.worst
            detail = f"{f.file} {f.name}" if e is None else value(f, e, at)
        lines.append(f"first parting: {detail}")
    worst = None
    for a in report.arrays:
        if a.worst is not None and (worst is None or a.worst.ratio > worst[1].ratio):
            worst = (a, a.worst)
    if worst is not None:
        lines.append(f"worst: {value(worst[0], worst[1], '')}")
    failed = sum(1 for a in report.arrays if not a.passed)
    lines.append(f"{len(report.arrays) - failed} passed, {failed} failed")
    return lines


# ---------------------------------------------------------------------------------------------
# Command line


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2, like the Rust CLIs
        sys.stderr.write(f"credit_fixtures: {message}\n")
        sys.exit(2)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """`compare EXPECTED CANDIDATE [--tol T] [--rtol R] [--atol A]`: exit 0, 1 or 2."""
    parser = _Parser(prog="credit_fixtures.py", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    c = sub.add_parser("compare", help="compare a candidate directory with a reference fixture")
    c.add_argument("expected", help="the reference fixture directory")
    c.add_argument("candidate", help="the directory with the other implementation's arrays")
    c.add_argument("--tol", type=float, default=DEFAULT_TOL, help="tensor-relative bound (R3)")
    c.add_argument("--rtol", type=float, default=DEFAULT_RTOL, help="relative part of the entry rule (R2)")
    c.add_argument("--atol", type=float, default=DEFAULT_ATOL, help="absolute part of (R2); inf switches it off")
    args = parser.parse_args(argv)
    try:
        report = compare(args.expected, args.candidate, tol=args.tol, rtol=args.rtol, atol=args.atol)
    except FixtureError as e:
        sys.stderr.write(f"credit_fixtures: {e}\n")
        return 2
    try:
        sys.stdout.write(str(report) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:  # a closed pipe is not an error
        pass
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
