#!/usr/bin/env python3
"""JAX peer of `cargo xtask bench` for the rate, LIF and LSTM cells (issue 11, item 4).

1. Writes a fixture input (config.json + inputs.npz, docs/fixtures.md) for one cell (--cell):
     rate  leaky rate RNN, alpha = 0.5, (R1)-(R3) of docs/cells.md;
     lif   LIF, alpha = exp(-1/20), zeta = 1, surrogate gamma = 0.3 (shape --surrogate, default
           piecewise linear), refractory psi = 0, reset, n_ref and v_th from --reset / --n-ref /
           --v-th, (L1)-(L4);
     lstm  LSTM without peepholes, gates i, f, c, o, (M1)-(M4);
   all with N_in = 4, K = 2, readout kappa = 0.9, c = 1, same-step, MSE with a 0/1 mask,
   N = --n, T = --steps, drawn with NumPy's RNG from --seed. The defaults are the cells of
   `cargo xtask bench` (crates/check/src/suite.rs: `rate(0.5)`, `lif(0, Reset::Differentiated)`,
   `lstm()`), so the timed JAX function is the one `bench` times.
2. Runs `export-fixtures OUT --fixture IN --rules bptt,eprop_symmetric` (release): the literal
   Rust BPTT and symmetric e-prop gradients on exactly those weights.
3. Computes the same two gradients with JAX in float64: BPTT as `jit(grad(loss))`, symmetric
   e-prop as `jit(grad(loss'))` where loss' reads the recurrent input's z^{t-1} and (LIF) the
   reset's z^{t-1} through `stop_gradient` (property P4, docs/eprop.md section 6: symmetric e-prop
   = the exact gradient of that graph; the LSTM's only explicit z^{t-1} edge is the recurrent
   input of its four gates, so loss' detaches exactly those). The LIF spike is a `custom_jvp`:
   value H(v - v_th) (strict, 0 while refractory), tangent psi(v - v_th) * dv with psi = 0
   while refractory (L2), (L3), (L8). Checks every tensor against Rust at 1e-12 relative
   (max|a - b| / max|b|, as crates/check/src/compare.rs), and guards liveness: every reference
   tensor is non-zero, e-prop differs from BPTT (> 1e-6 in some tensor), a LIF net spikes at
   between 1 % and 99 % of the (t, j), psi > 0 at >= 1 % of them, and with --n-ref > 0 the
   refractory mask zeroes a spike or a non-zero psi somewhere (v > 0 while r > 0).
4. Times both sides interleaved: each round runs `bench --rule R --fixture IN --repeat K
   --json ...` (the fast path on the fixture's own network, weights and sequence, so both sides
   time the same net, spikes included; its own median) and K JAX calls (their median), for R in
   bptt, eprop; prints the medians over rounds and the ratios Rust / JAX. --rounds 0 checks
   agreement only. Every LIF option (--reset, --n-ref, --v-th, --surrogate) is timed as well.

Runs only where jax is installed (`python3 -m venv target/jax-venv && target/jax-venv/bin/pip
install jax numpy`); exits 0 with a message otherwise. Usage:

    target/jax-venv/bin/python benches/peer/jax_peer.py --cell rate|lif|lstm [--n 128] [--steps 1000]
        [--rounds 5] [--repeat 3] [--seed 11] [--reset differentiated|detached] [--n-ref 0] [--v-th 1]
        [--surrogate pl|exp|fast-sigmoid|arctan] [--surrogate-beta 1]
"""

import argparse
import json
import math
import pathlib
import subprocess
import sys
import tempfile
import time

try:
    import numpy as np
except ImportError:  # reported by main()
    np = None

ROOT = pathlib.Path(__file__).resolve().parents[2]
KAPPA, N_IN, K = 0.9, 4, 2
TOL = 1e-12
RATE_ALPHA = 0.5
LIF_ALPHA, GAMMA = math.exp(-1.0 / 20.0), 0.3
GATES = ("i", "f", "c", "o")


def cell_config(cell, a):
    """The `cell` object of config.json (docs/fixtures.md section 2; null where the kind has none)."""
    c = {k: None for k in ("alpha", "v_th", "n_ref", "reset", "input_scale", "surrogate", "gamma",
                           "surrogate_beta", "refractory_psi", "rho", "beta")}
    c["kind"] = cell
    if cell == "rate":
        c["alpha"] = RATE_ALPHA
    elif cell == "lif":
        c.update(alpha=LIF_ALPHA, v_th=a.v_th, n_ref=a.n_ref, reset=a.reset, input_scale="one", surrogate=a.surrogate,
                 gamma=GAMMA, surrogate_beta=None if a.surrogate == "pl" else a.surrogate_beta, refractory_psi="zero")
    return c


def draw_params(cell, n, rng):
    """Weights; for LIF the drive is scaled down so that the net spikes sparsely, and W_rec's
    diagonal is 0 (LIF has no autapses; cells.md section 2, validated by the exporter)."""
    if cell == "lstm":
        p = {}
        for g in GATES:
            p[f"w_in_{g}"] = rng.normal(0, 0.8, (n, N_IN))
            p[f"w_rec_{g}"] = rng.normal(0, 1.0 / np.sqrt(n), (n, n))
            p[f"b_{g}"] = rng.normal(0, 0.3, (n, 1))
    elif cell == "lif":
        w_rec = rng.normal(0, 0.5 / np.sqrt(n), (n, n))
        np.fill_diagonal(w_rec, 0.0)
        p = {"w_in": rng.normal(0.02, 0.1, (n, N_IN)), "w_rec": w_rec, "b": rng.normal(0, 0.02, (n, 1))}
    else:
        p = {"w_in": rng.normal(0, 0.8, (n, N_IN)), "w_rec": rng.normal(0, 1.0 / np.sqrt(n), (n, n)),
             "b": rng.normal(0, 0.3, (n, 1))}
    scale = 1.0 if cell != "lif" else 3.0  # spikes are 0/1: a larger readout keeps the error signal O(1)
    p["w_out"] = rng.normal(0, scale / np.sqrt(n), (K, n))
    p["b_out"] = rng.normal(0, 0.2, (K, 1))
    return p


def fixture_input(d, cell, a):
    rng = np.random.default_rng(a.seed)
    n, steps = a.n, a.steps
    cfg = {
        "schema": 1, "name": f"peer-{cell}-n{n}-t{steps}", "preset": "paper", "cell": cell_config(cell, a),
        "n_in": N_IN, "n": n, "n_out": K, "steps": steps, "readout": {"kappa": KAPPA, "scale": "one", "delay": "same"},
        "loss": "mse", "reg": None, "seed": a.seed, "training": {"lr": 0.01, "updates": 0},
        "generator": "benches/peer/jax_peer.py",
    }
    p = draw_params(cell, n, rng)
    inputs = {f"params/{k}": v for k, v in p.items()}
    inputs["x"] = rng.uniform(0.0, 1.0, (steps, N_IN))
    inputs["target"] = rng.normal(0, 1, (steps, K))
    inputs["mask"] = (rng.uniform(size=steps) < 0.7).astype(float)
    inputs["feedback"] = rng.normal(0, 0.5, (n, K))
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps(cfg, indent=2))
    np.savez(d / "inputs.npz", **inputs)
    return p, inputs


def rust_gradients(inp, out):
    cmd = ["cargo", "run", "--release", "-q", "-p", "credit-check", "--bin", "export-fixtures", "--",
           str(out), "--fixture", str(inp), "--rules", "bptt,eprop_symmetric", "--force"]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"jax_peer.py: {' '.join(cmd)} failed: {r.stderr.strip()}")
    g = np.load(out / "gradients.npz")
    return {rule: {k.split("/", 1)[1]: g[k] for k in g.files if k.startswith(rule + "/")}
            for rule in ("bptt", "eprop_symmetric")}


def make_cell(cell, a, jax, jnp):
    """(init(n), step(params, state, z_rec, z_reset, x) -> (state, z)) of one cell. `z_rec` is the
    z^{t-1} read by the recurrent input, `z_reset` the one read by the LIF reset: the caller passes
    the live z^{t-1} or a `stop_gradient` copy (same value)."""
    n = a.n
    if cell == "rate":
        def step(p, h, z_rec, z_reset, x):
            u = p["w_in"] @ x + p["w_rec"] @ z_rec + p["b"][:, 0]  # (R1)
            h = (1 - RATE_ALPHA) * h + RATE_ALPHA * jnp.tanh(u)  # (R2)
            return h, h  # (R3): z = h
        return (lambda: jnp.zeros(n)), step

    if cell == "lstm":
        def step(p, c, z_rec, z_reset, x):
            u = {g: p[f"w_in_{g}"] @ x + p[f"w_rec_{g}"] @ z_rec + p[f"b_{g}"][:, 0] for g in GATES}  # (M1)
            i, f = jax.nn.sigmoid(u["i"]), jax.nn.sigmoid(u["f"])  # (M2)
            c_tilde, o = jnp.tanh(u["c"]), jax.nn.sigmoid(u["o"])  # (M2)
            c = f * c + i * c_tilde  # (M3)
            return c, o * jnp.tanh(c)  # (M4)
        return (lambda: jnp.zeros(n)), step

    # LIF: the spike with the surrogate pseudo-derivative as its tangent, (L2), (L3), (L8).
    v_th = a.v_th

    beta = a.surrogate_beta

    def surrogate(delta):
        """psi(Delta) of (L3), the shape of --surrogate."""
        if a.surrogate == "pl":
            return (GAMMA / v_th) * jnp.maximum(0.0, 1.0 - jnp.abs(delta) / v_th)
        if a.surrogate == "exp":
            return GAMMA * jnp.exp(-beta * jnp.abs(delta))
        if a.surrogate == "fast-sigmoid":
            return GAMMA * (1.0 + beta * jnp.abs(delta)) ** -2
        return GAMMA / (1.0 + (beta * delta) ** 2)  # arctan

    @jax.custom_jvp
    def spike(delta, live):
        """H(delta) (strict) where `live` = 1 (not refractory), 0 where refractory."""
        return jnp.where(delta > 0, 1.0, 0.0) * live

    @spike.defjvp
    def spike_jvp(primals, tangents):
        delta, live = primals
        d_delta, _ = tangents  # `live` is a function of the refractory counter: no derivative
        psi = surrogate(delta)
        return spike(delta, live), psi * live * d_delta  # RefractoryPsi::Zero: psi = 0 while refractory

    no_autapse = 1.0 - jnp.eye(n)  # W_rec_jj is never read (cells.md section 2)

    def step(p, state, z_rec, z_reset, x):
        v, r = state
        r = jnp.where(jax.lax.stop_gradient(z_reset) > 0.5, float(a.n_ref), jnp.maximum(r - 1.0, 0.0))  # (L4)
        drive = (p["w_rec"] * no_autapse) @ z_rec + p["w_in"] @ x + p["b"][:, 0]
        v = LIF_ALPHA * v + drive - v_th * z_reset  # (L1), zeta = 1
        z = spike(v - v_th, jnp.where(r > 0, 0.0, 1.0))  # (L2): Delta = v - A, A = v_th
        return (v, r), z

    return (lambda: (jnp.zeros(n), jnp.zeros(n))), step


def make_loss(cell, a, jax, jnp, eprop):
    """The masked MSE loss of the net, as a function of the parameters; with `eprop` the graph G'
    of P4: the recurrent input's z^{t-1} and (LIF) the reset's under `stop_gradient`."""
    init, cell_step = make_cell(cell, a, jax, jnp)
    detach_reset = eprop or (cell == "lif" and a.reset == "detached")  # (L6): a detached reset

    def loss(params, x, target, mask, with_z=False):
        def step(carry, inp_t):
            s, z, y = carry
            xt, tt, mt = inp_t
            z_rec = jax.lax.stop_gradient(z) if eprop else z
            z_reset = jax.lax.stop_gradient(z) if detach_reset else z
            s, z = cell_step(params, s, z_rec, z_reset, xt)
            y = KAPPA * y + (params["w_out"] @ z + params["b_out"][:, 0])  # (Y1), c = 1, delta = 0
            return (s, z, y), (0.5 * jnp.sum((y - tt) ** 2) * mt, z, s)  # (Y2), masked
        _, (e, zs, ss) = jax.lax.scan(step, (init(), jnp.zeros(a.n), jnp.zeros(K)), (x, target, mask))
        return (e.sum(), zs, ss) if with_z else e.sum()
    return loss


def check(cell, a, jax, jnp, p, inp, rust):
    """Agreement per tensor at TOL, and the liveness guards; exits 1 on a failure."""
    params = {k: jnp.asarray(v) for k, v in p.items()}
    args = (jnp.asarray(inp["x"]), jnp.asarray(inp["target"]), jnp.asarray(inp["mask"]))
    fails = []
    if cell == "lif":
        _, zs, (v, r) = jax.jit(make_loss(cell, a, jax, jnp, False), static_argnums=4)(params, *args, True)
        v, r = np.asarray(v), np.asarray(r)
        frac = float(np.mean(np.asarray(zs)))
        window = float(np.mean((r == 0) & (np.abs(v - a.v_th) < a.v_th)))  # |Delta| < v_th: the pl psi != 0, (L3)
        muted = int(np.sum((r > 0) & (v > 0)))  # refractory with H or psi != 0 unmasked, (L2), (L3)
        print(f"live   spike fraction {frac:.3f}, |Delta| < v_th at {window:.3f} of the (t, j), "
              f"{muted} refractory (t, j) where the mask zeroes a spike or a slope (JAX forward)")
        if not 0.01 <= frac <= 0.99:
            fails.append(f"spike fraction {frac:.3f} outside [0.01, 0.99]")
        if window < 0.01:
            fails.append(f"the surrogate window holds {window:.3f} of the (t, j)")
        if a.n_ref > 0 and muted == 0:
            fails.append("--n-ref > 0 but the refractory mask zeroes nothing")
    worst = 0.0
    for rule, eprop in (("bptt", False), ("eprop_symmetric", True)):
        g = jax.jit(jax.grad(make_loss(cell, a, jax, jnp, eprop)))(params, *args)
        if set(g) != set(rust[rule]):
            fails.append(f"{rule}: tensors {sorted(g)} vs Rust {sorted(rust[rule])}")
            continue
        for name, ref in rust[rule].items():
            ours = np.asarray(g[name]).reshape(ref.shape)
            scale = np.max(np.abs(ref))
            if scale == 0.0:
                fails.append(f"{rule}/{name}: the Rust gradient is 0 (nothing to compare)")
                continue
            err = np.max(np.abs(ours - ref)) / scale
            worst = max(worst, err)
            print(f"agree  {rule:16s} {name:8s} max rel err {err:.1e}")
            if not err <= TOL:
                fails.append(f"{rule}/{name}: {err:.1e} > {TOL:.0e}")
    gap = max(np.max(np.abs(rust["eprop_symmetric"][k] - v)) / np.max(np.abs(v)) for k, v in rust["bptt"].items())
    print(f"differ e-prop vs BPTT (Rust) max rel diff {gap:.2e}")
    if not gap > 1e-6:
        fails.append(f"e-prop equals BPTT ({gap:.1e}): the detached edges carry nothing")
    if fails:
        sys.exit("jax_peer.py: " + "; ".join(fails))
    print(f"ok     every tensor within {TOL:.0e} (worst {worst:.1e})")
    return params, args


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cell", choices=("rate", "lif", "lstm"), default="rate")
    ap.add_argument("--n", type=int, default=128)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--reset", choices=("differentiated", "detached"), default="differentiated",
                    help="LIF reset convention (bench: differentiated)")
    ap.add_argument("--n-ref", type=int, default=0, help="LIF refractory steps (bench: 0)")
    ap.add_argument("--v-th", type=float, default=1.0, help="LIF threshold (bench: 1)")
    ap.add_argument("--surrogate", choices=("pl", "exp", "fast-sigmoid", "arctan"), default="pl",
                    help="LIF surrogate shape, gamma = 0.3 (bench: pl)")
    ap.add_argument("--surrogate-beta", type=float, default=1.0, help="beta of exp, fast-sigmoid, arctan")
    a = ap.parse_args()
    lif_default = a.reset == "differentiated" and a.n_ref == 0 and a.v_th == 1.0 and a.surrogate == "pl"
    if a.cell != "lif" and not lif_default:
        ap.error("--reset, --n-ref, --v-th and --surrogate apply to --cell lif only")
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        jax = None
    if jax is None or np is None:
        print("jax_peer.py: jax or numpy is not installed; nothing to compare (see the module doc)")
        return 0
    jax.config.update("jax_enable_x64", True)

    tmp = pathlib.Path(tempfile.mkdtemp(prefix="credit-peer-"))
    p, inp = fixture_input(tmp / "in", a.cell, a)
    rust = rust_gradients(tmp / "in", tmp / "out")
    params, args = check(a.cell, a, jax, jnp, p, inp, rust)
    if a.rounds == 0:
        return 0
    bench = ROOT / "target" / "release" / "bench"
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "credit-check", "--bin", "bench"], cwd=ROOT, check=True)
    fns = {"bptt": jax.jit(jax.grad(make_loss(a.cell, a, jax, jnp, False))),
           "eprop": jax.jit(jax.grad(make_loss(a.cell, a, jax, jnp, True)))}
    times = {r: {"rust": [], "jax": []} for r in fns}
    spikes = []
    for _ in range(a.rounds):
        for rule, fn in fns.items():
            out = tmp / f"{rule}.json"
            # bench times the fixture's own network, weights and sequence: the same as JAX's
            subprocess.run([str(bench), "--rule", rule, "--fixture", str(tmp / "in"),
                            "--repeat", str(a.repeat), "--json", str(out)],
                           check=True, capture_output=True)
            report = json.loads(out.read_text())
            times[rule]["rust"].append(report["median_s"])
            spikes.append(report.get("spike_fraction"))
            jax.block_until_ready(fn(params, *args))  # warm (compiled on the first round)
            ts = []
            for _ in range(a.repeat):
                t0 = time.perf_counter()
                jax.block_until_ready(fn(params, *args))
                ts.append(time.perf_counter() - t0)
            times[rule]["jax"].append(float(np.median(ts)))
    print(f"{a.cell} n={a.n} T={a.steps} f64, {a.rounds} interleaved rounds of {a.repeat} runs, jax {jax.__version__}")
    if a.cell == "lif":
        print(f"the net spikes at {spikes[0]:.3f} of the (t, j) (bench --fixture: the weights JAX times)")
    for rule, t in times.items():
        r, j = np.median(t["rust"]), np.median(t["jax"])
        print(f"{rule:6s} rust fast {r * 1e3:8.2f} ms   jax jit(grad) {j * 1e3:8.2f} ms   rust/jax {r / j:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
