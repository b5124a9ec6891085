"""A second, independent transcription of the `credit` forward model and its BPTT gradient.

Written in NumPy from docs/ alone (docs/notation.md, docs/cells.md, docs/bptt.md, docs/deep.md,
docs/fixtures.md), without reading the Rust sources: every cell (rate, LIF, ALIF, LSTM), every
convention of docs/cells.md §2 (refractoriness and the refractory surrogate, the four surrogate
shapes, reset differentiated/detached, input scale, threshold), the leaky readout (prefactor c,
delay delta), squared error and cross-entropy with any non-negative class weights, per-step
mask weights, the firing-rate regulariser, and stacks of layers (docs/deep.md). Each line that
implements an equation cites its label.

It also replays the BPTT training run of the config's `training` (docs/fixtures.md §2.2:
plain SGD, the `trainable` mask, the `w_min`/`w_max` clip) and records the task loss and the
regulariser separately, as trajectory.npz does.

Usage: python3 numpy_reference.py FIXTURE_DIR [OUT_DIR]

FIXTURE_DIR holds config.json and inputs.npz in the layout of docs/fixtures.md §2. OUT_DIR, if
given, receives intermediates.npz, gradients.npz and trajectory.npz (rule `bptt`) in the same
layout, to be compared with `cargo xtask compare-fixture FIXTURE_DIR OUT_DIR --tol 1e-10`. If
FIXTURE_DIR also holds the reference's intermediates.npz / gradients.npz / trajectory.npz, the
largest relative error (docs/notation.md §7) against their arrays of the same name is printed;
the exit status is 1 above 1e-10.

Arrays follow docs/fixtures.md: a leading axis of length T + 1 is time t = 0..T, row 0 the
initial values; h is (T+1) x N x d (neuron-major: component c of neuron j at [t, j, c]).
"""

import json
import os
import sys

import numpy as np

GATES = ("i", "f", "c", "o")  # LSTM gate order of the parameter tensors (docs/cells.md §6)


class ConfigError(ValueError):
    """A config.json / inputs.npz this transcription cannot read; the message names the field."""


def _choice(cfg, key, options, where):
    value = cfg.get(key)
    if value not in options:
        raise ConfigError(f"{where}.{key} = {value!r}: one of {', '.join(options)}")
    return value


def _number(cfg, key, where, kind=float):
    """A required number of the config; a missing or non-numeric field is a ConfigError."""
    value = cfg.get(key) if isinstance(cfg, dict) else None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or (kind is int and value != int(value))
    ):
        raise ConfigError(f"{where}.{key} = {value!r}: {'an integer' if kind is int else 'a number'}")
    return kind(value)


class Layer:
    """One layer: the cell M, f of docs/cells.md with its parameters theta (N x P_loc)."""

    def __init__(self, cell, n, n_in, params, prefix, where):
        self.kind = _choice(cell, "kind", ("rate", "lif", "alif", "lstm"), where)
        self.n, self.n_in = n, n_in
        # d: hidden dimension per neuron (docs/notation.md §1)
        self.d = 2 if self.kind in ("alif", "lstm") else 1
        if self.kind == "lstm":
            self.names = [f"{prefix}{t}_{g}" for g in GATES for t in ("w_in", "w_rec", "b")]
        else:
            self.names = [f"{prefix}{t}" for t in ("w_in", "w_rec", "b")]
        shapes = {"w_in": (n, n_in), "w_rec": (n, n), "b": (n, 1)}
        blocks = []
        for name in self.names:
            if name not in params:
                raise ConfigError(f"inputs.npz: params/{name} missing")
            tensor = name[len(prefix) :]
            want = shapes[tensor[:-2] if self.kind == "lstm" else tensor]  # LSTM: w_in_i -> w_in
            if params[name].shape != want:
                raise ConfigError(f"inputs.npz: params/{name} has shape {params[name].shape}, want {want}")
            blocks.append(params[name])
        # theta_j = row j of every cell tensor, concatenated in tensor order (docs/notation.md §2)
        self.theta = np.hstack(blocks)
        self.p_loc = self.theta.shape[1]
        self.widths = [b.shape[1] for b in blocks]
        if self.kind == "lstm":
            q = n_in + n + 1  # one gate's block [w_in row | w_rec row | b]
            self.gate = {g: self.theta[:, k * q : (k + 1) * q] for k, g in enumerate(GATES)}
            return
        self.w_in = self.theta[:, :n_in]
        self.w_rec = self.theta[:, n_in : n_in + n]
        self.b = self.theta[:, n_in + n]
        self.alpha = _number(cell, "alpha", where)
        if self.kind == "rate":
            return
        # spiking cells: the conventions of docs/cells.md §2
        self.v_th = _number(cell, "v_th", where)
        if not self.v_th > 0:
            raise ConfigError(f"{where}.v_th = {self.v_th}: must be > 0")
        self.n_ref = _number(cell, "n_ref", where, int)
        self.reset = _choice(cell, "reset", ("differentiated", "detached"), where)
        scale = _choice(cell, "input_scale", ("one", "one-minus-alpha"), where)
        self.zeta = 1.0 if scale == "one" else 1.0 - self.alpha
        self.surrogate = _choice(cell, "surrogate", ("pl", "exp", "fast-sigmoid", "arctan"), where)
        self.gamma = _number(cell, "gamma", where)
        self.s_beta = None if self.surrogate == "pl" else _number(cell, "surrogate_beta", where)
        self.refractory_psi = _choice(cell, "refractory_psi", ("zero", "keep"), where)
        if self.kind == "alif":
            self.rho, self.beta = _number(cell, "rho", where), _number(cell, "beta", where)
        # autapses: W_rec_jj is never read by LIF/ALIF (docs/cells.md §2, (L1))
        self.w_rec_offdiag = self.w_rec * (1.0 - np.eye(n))

    # ---- the spike and its pseudo-derivative -------------------------------------------------

    def psi_shape(self, delta):
        """psi(Delta), the surrogate shapes of (L3)."""
        g, vth = self.gamma, self.v_th
        if self.surrogate == "pl":
            return (g / vth) * np.maximum(0.0, 1.0 - np.abs(delta) / vth)  # (L3) piecewise linear
        b = self.s_beta
        if self.surrogate == "exp":
            return g * np.exp(-b * np.abs(delta))  # (L3) exponential
        if self.surrogate == "fast-sigmoid":
            return g * (1.0 + b * np.abs(delta)) ** -2  # (L3) fast sigmoid
        return g / (1.0 + (b * delta) ** 2)  # (L3) arctan

    def threshold(self, h):
        """A^t: v_th for LIF (docs/cells.md §4), v_th + beta a^t for ALIF (A2)."""
        if self.kind == "alif":
            return self.v_th + self.beta * h[:, 1]  # (A2)
        return np.full(self.n, self.v_th)

    def output(self, h, r):
        """z^t = f(h^t, r^t) and the rows dz_j/dh_j (C5), an N x d matrix."""
        if self.kind == "rate":
            return h[:, 0].copy(), np.ones((self.n, 1))  # (R3)
        if self.kind == "lstm":
            c, o = h[:, 0], h[:, 1]
            z = o * np.tanh(c)  # (M4)
            return z, np.stack([o * (1.0 - np.tanh(c) ** 2), np.tanh(c)], axis=1)  # (M4)
        delta = h[:, 0] - self.threshold(h)  # Delta^t = v^t - A^t (L2)
        refractory = r > 0
        z = np.where(refractory, 0.0, (delta > 0).astype(float))  # (L2), (A3): H strict
        psi = self.psi_shape(delta)
        if self.refractory_psi == "zero":
            psi = np.where(refractory, 0.0, psi)  # (L3): psi = 0 while refractory
        if self.kind == "alif":
            return z, np.stack([psi, -self.beta * psi], axis=1)  # (A5)
        return z, psi[:, None]  # (L8)

    def refractory(self, r_prev, z_prev):
        """r^t from r^{t-1} and z^{t-1} (L4); 0 for the non-spiking cells."""
        if self.kind in ("rate", "lstm"):
            return np.zeros(self.n)
        return np.where(z_prev > 0.5, float(self.n_ref), np.maximum(r_prev - 1.0, 0.0))  # (L4)

    # ---- one step M ----------------------------------------------------------------------------

    def lstm_gates(self, z_prev, x):
        """Pre-activations (M1) and gate values (M2)."""
        col = np.concatenate([x, z_prev, [1.0]])  # [x^t | z^{t-1} | 1]
        u = {g: self.gate[g] @ col for g in GATES}  # (M1)
        sig = {g: 1.0 / (1.0 + np.exp(-u[g])) for g in ("i", "f", "o")}  # (M2)
        return col, sig["i"], sig["f"], np.tanh(u["c"]), sig["o"]  # (M2)

    def step(self, h_prev, r_prev, z_prev, x):
        """h^t = M(h^{t-1}, z^{t-1}, x^t) (C1); r^t rides along (L4). Returns (h^t, r^t)."""
        r = self.refractory(r_prev, z_prev)
        h = np.zeros((self.n, self.d))
        if self.kind == "rate":
            u = self.w_in @ x + self.w_rec @ z_prev + self.b  # (R1)
            h[:, 0] = (1.0 - self.alpha) * h_prev[:, 0] + self.alpha * np.tanh(u)  # (R2)
        elif self.kind == "lstm":
            _, i, f, c_tilde, o = self.lstm_gates(z_prev, x)
            h[:, 0] = f * h_prev[:, 0] + i * c_tilde  # (M3)
            h[:, 1] = o  # o^t stored as a state component (docs/cells.md §6)
        else:
            drive = self.w_rec_offdiag @ z_prev + self.w_in @ x + self.b  # (L1), i != j
            h[:, 0] = self.alpha * h_prev[:, 0] + self.zeta * drive - self.v_th * z_prev  # (L1)
            if self.kind == "alif":
                z_hat, _ = self.output(h_prev, r_prev)  # own spike recomputed inside M (A1)
                h[:, 1] = self.rho * h_prev[:, 1] + z_hat  # (A1)
        return h, r

    # ---- the local Jacobians of step t, at (h^{t-1}, r^{t-1}), z^{t-1}, x^t ---------------------

    def jacobians(self, h_prev, r_prev, z_prev, x):
        """D^t (N x d x d, (C2)), dM/dz^{t-1} (N x d x N, (C3)), I^t (N x d x P_loc, (C6)) and
        Phi^t = dM/dx^t (N x d x N_in, (C7)); entry [j, c, .] is component c of neuron j."""
        n, d = self.n, self.d
        D = np.zeros((n, d, d))
        Mz = np.zeros((n, d, n))
        I = np.zeros((n, d, self.p_loc))
        Phi = np.zeros((n, d, self.n_in))
        if self.kind == "rate":
            u = self.w_in @ x + self.w_rec @ z_prev + self.b  # (R1)
            gp = self.alpha * (1.0 - np.tanh(u) ** 2)  # alpha tanh'(u_j)
            D[:, 0, 0] = 1.0 - self.alpha  # (R4)
            Mz[:, 0, :] = gp[:, None] * self.w_rec  # (R5), all i including j
            I[:, 0, :] = gp[:, None] * np.concatenate([x, z_prev, [1.0]])[None, :]  # (R6)
            Phi[:, 0, :] = gp[:, None] * self.w_in  # (C7) rate
            return D, Mz, I, Phi
        if self.kind == "lstm":
            col, i, f, c_tilde, o = self.lstm_gates(z_prev, x)
            c_prev = h_prev[:, 0]
            D[:, 0, 0] = f  # (M5): diag(f, 0)
            dc_du = {"i": c_tilde * i * (1 - i), "f": c_prev * f * (1 - f), "c": i * (1 - c_tilde**2)}  # (M5)
            do_du = o * (1 - o)  # (M5)
            q = self.n_in + n + 1
            for k, g in enumerate(GATES):
                w_in_g, w_rec_g = self.gate[g][:, : self.n_in], self.gate[g][:, self.n_in : self.n_in + n]
                row, slope = (1, do_du) if g == "o" else (0, dc_du[g])
                Mz[:, row, :] += slope[:, None] * w_rec_g  # (M6) dM/dz^{t-1}
                Phi[:, row, :] += slope[:, None] * w_in_g  # (C7) LSTM
                I[:, row, k * q : (k + 1) * q] = slope[:, None] * col[None, :]  # (M6) I^t_j
            return D, Mz, I, Phi
        # LIF, ALIF: the v-rows (component 0) are (L5)-(L7); the ALIF a-rows (A4), (A6)
        D[:, 0, 0] = self.alpha  # (L5), first row of (A4)
        Mz[:, 0, :] = self.zeta * self.w_rec_offdiag  # (L6), i != j
        Mz[np.arange(n), 0, np.arange(n)] = (
            -self.v_th if self.reset == "differentiated" else 0.0
        )  # (L6), i = j
        zp = np.tile(z_prev, (n, 1))
        zp[np.arange(n), np.arange(n)] = 0.0  # (L7): entry j of z^{t-1} set to 0
        I[:, 0, :] = self.zeta * np.hstack([np.tile(x, (n, 1)), zp, np.ones((n, 1))])  # (L7)
        Phi[:, 0, :] = self.zeta * self.w_in  # (C7) LIF; ALIF v-rows, a-rows 0
        if self.kind == "alif":
            _, dz_dh_prev = self.output(h_prev, r_prev)
            psi_prev = dz_dh_prev[:, 0]  # psi^{t-1}, same refractory convention (A4)
            D[:, 1, 0] = psi_prev  # (A4)
            D[:, 1, 1] = self.rho - self.beta * psi_prev  # (A4); a-rows of Mz, I, Phi stay 0 (A6)
        return D, Mz, I, Phi

    def split(self, g_theta):
        """dE/dtheta as N x P_loc back into the named tensors."""
        out, k = {}, 0
        for name, w in zip(self.names, self.widths):
            out[name] = g_theta[:, k : k + w].copy()
            k += w
        return out


class Network:
    """A single layer or a stack (docs/deep.md §1) with the leaky readout and the loss."""

    def __init__(self, cfg, params):
        self.stack = "layers" in cfg
        self.n_in, self.n_out = _number(cfg, "n_in", "config", int), _number(cfg, "n_out", "config", int)
        self.steps = _number(cfg, "steps", "config", int)
        if self.stack:
            self.inter_layer = _choice(cfg, "inter_layer", ("same", "one"), "config")
            read = _choice(cfg, "readout_from", ("top", "all"), "config")
            self.layers, below = [], self.n_in
            for k, spec in enumerate(cfg["layers"]):
                layer = Layer(
                    spec["cell"],
                    _number(spec, "n", f"layers[{k}]", int),
                    below,
                    params,
                    f"l{k + 1}.",
                    f"layers[{k}].cell",
                )
                self.layers.append(layer)
                below = layer.n
            self.read = list(range(len(self.layers))) if read == "all" else [len(self.layers) - 1]
        else:
            self.inter_layer = "same"
            self.layers = [
                Layer(cfg["cell"], _number(cfg, "n", "config", int), self.n_in, params, "", "cell")
            ]
            self.read = [0]
        ro = cfg["readout"]
        self.kappa = _number(ro, "kappa", "readout")
        scale = _choice(ro, "scale", ("one", "one-minus-kappa"), "readout")
        self.c = 1.0 if scale == "one" else 1.0 - self.kappa  # prefactor c (Y1)
        self.delay = 0 if _choice(ro, "delay", ("same", "one"), "readout") == "same" else 1  # delta (Y1)
        self.loss = _choice(cfg, "loss", ("mse", "ce"), "config")
        reg = cfg.get("reg")
        if self.stack and reg is not None:
            raise ConfigError("config.reg: a stack has no firing-rate regulariser (docs/fixtures.md §2)")
        self.reg = None
        if reg is not None:
            factor = _choice(reg, "factor", ("full", "half"), "reg")
            self.reg = dict(
                c_reg=_number(reg, "c_reg", "reg"),
                f_target=_number(reg, "f_target", "reg"),
                dt=_number(reg, "dt", "reg"),
                k=1.0 if factor == "full" else 0.5,
            )
        n_read = sum(self.layers[l].n for l in self.read)
        for name, shape in (("w_out", (self.n_out, n_read)), ("b_out", (self.n_out, 1))):
            if name not in params or params[name].shape != shape:
                raise ConfigError(f"inputs.npz: params/{name} missing or not of shape {shape}")
        self.w_out, self.b_out = params["w_out"], params["b_out"][:, 0]
        # columns of W_out per read layer: z_read = (z^1; ...; z^L) (S2)
        self.cols, k = {}, 0
        for l in self.read:
            self.cols[l] = slice(k, k + self.layers[l].n)
            k += self.layers[l].n

    def layer_input(self, z, x, l, t):
        """The input of layer l at step t: x^t, or z^{l-1,t'} with t' = t or t-1 (S1)."""
        if l == 0:
            return x[t - 1]  # x^t is row t-1 of the fixture's x (docs/fixtures.md §2)
        return z[l - 1][t] if self.inter_layer == "same" else z[l - 1][t - 1]  # (S1)

    def step_loss(self, y, target):
        """E^t (Y2)/(Y3) and dE^t/dy^t (Y4)."""
        if self.loss == "mse":
            return 0.5 * np.sum((y - target) ** 2), y - target  # (Y2), (Y4)
        c0 = np.max(y)
        lse = np.log(np.sum(np.exp(y - c0))) + c0  # LSE(y), shifted by the constant c0
        mass = np.sum(target)
        return mass * lse - target @ y, mass * np.exp(y - lse) - target  # (Y3), (Y4)

    def forward(self, x, target, mask):
        """The trajectory: h, r, z, dz_dh per layer, y, g^t, the loss and dE_reg/dz."""
        T = self.steps
        if x.shape != (T, self.n_in) or target.shape != (T, self.n_out) or mask.shape != (T,):
            raise ConfigError("inputs.npz: x, target, mask must be T x N_in, T x K, T")
        h = [np.zeros((T + 1, m.n, m.d)) for m in self.layers]  # h^0 = 0
        r = [np.zeros((T + 1, m.n)) for m in self.layers]  # r^0 = 0
        z = [np.zeros((T + 1, m.n)) for m in self.layers]  # z^0 = 0
        dz_dh = [np.zeros((T + 1, m.n, m.d)) for m in self.layers]
        for l, m in enumerate(self.layers):
            dz_dh[l][0] = m.output(h[l][0], r[l][0])[1]  # (C5) at (h^0, r^0)
        y = np.zeros((T + 1, self.n_out))  # y^0 = 0
        for t in range(1, T + 1):
            for l, m in enumerate(self.layers):  # bottom-up (S1)
                inp = self.layer_input(z, x, l, t)
                h[l][t], r[l][t] = m.step(h[l][t - 1], r[l][t - 1], z[l][t - 1], inp)  # (C1)
                z[l][t], dz_dh[l][t] = m.output(h[l][t], r[l][t])  # (C1), (C5)
            z_read = np.concatenate([z[l][t - self.delay] for l in self.read])  # z_read^{t-delta} (S2)
            y[t] = self.kappa * y[t - 1] + self.c * (self.w_out @ z_read + self.b_out)  # (Y1), (S2)
        loss_task, g = 0.0, np.zeros((T + 1, self.n_out))
        for t in range(1, T + 1):
            e_t, de_dy = self.step_loss(y[t], target[t - 1])
            loss_task += mask[t - 1] * e_t  # E_task = sum_t m^t E^t
            g[t] = mask[t - 1] * de_dy  # g^t = m^t dE^t/dy^t
        reg_signal = [np.zeros(m.n) for m in self.layers]
        loss_reg = 0.0
        if self.reg is not None:
            q = self.reg
            for l, m in enumerate(self.layers):
                f = z[l][1:].sum(axis=0) / (T * q["dt"])  # f_j (Y5)
                loss_reg += q["k"] * q["c_reg"] * np.sum((f - q["f_target"]) ** 2)  # E_reg (Y5)
                reg_signal[l] = 2 * q["k"] * q["c_reg"] * (f - q["f_target"]) / (T * q["dt"])  # (Y5)
        loss = loss_task + loss_reg  # E = E_task + E_reg
        return dict(
            h=h, r=r, z=z, dz_dh=dz_dh, y=y, g=g, loss=loss, loss_task=loss_task, loss_reg=loss_reg,
            reg_signal=reg_signal,
        )

    def bptt(self, x, target, mask):
        """The forward pass and the gradient by (B1)-(B6), (B7) for stacks."""
        T, L = self.steps, len(self.layers)
        fw = self.forward(x, target, mask)
        h, r, z, dz_dh, g = fw["h"], fw["r"], fw["z"], fw["dz_dh"], fw["g"]
        # the Jacobians of step t of layer l, at (h^{t-1}, r^{t-1}), z^{t-1}, x^{l,t} (C2)-(C7)
        jac = [
            [None]
            + [
                m.jacobians(h[l][t - 1], r[l][t - 1], z[l][t - 1], self.layer_input(z, x, l, t))
                for t in range(1, T + 1)
            ]
            for l, m in enumerate(self.layers)
        ]
        g_theta = [np.zeros((m.n, m.p_loc)) for m in self.layers]
        g_w_out, g_b_out = np.zeros_like(self.w_out), np.zeros(self.n_out)
        lam = [np.zeros((T + 2, m.n, m.d)) for m in self.layers]  # lambda^{T+1} = 0
        delta = [np.zeros((T + 1, m.n)) for m in self.layers]  # delta^t = dE/dz^t
        partial = [np.zeros((T + 1, m.n)) for m in self.layers]  # dE/dz^t (partial)
        y_bar = np.zeros((T + 2, self.n_out))  # y_bar^{T+1} = 0
        for t in range(T, 0, -1):
            y_bar[t] = g[t] + self.kappa * y_bar[t + 1]  # (B1)
            z_read = np.concatenate([z[l][t - self.delay] for l in self.read])
            g_w_out += self.c * np.outer(y_bar[t], z_read)  # (B2)
            g_b_out += self.c * y_bar[t]  # (B2)
            for l in range(L - 1, -1, -1):  # top-down within the step (docs/deep.md §3)
                m = self.layers[l]
                s = fw["reg_signal"][l].copy()  # dE_reg/dz^t (Y5)
                if l in self.cols and t + self.delay <= T:
                    s += self.c * self.w_out[:, self.cols[l]].T @ y_bar[t + self.delay]  # (B3)
                partial[l][t] = s
                dlt = s.copy()
                if t < T:
                    _, Mz_next, _, _ = jac[l][t + 1]
                    dlt += np.einsum("jci,jc->i", Mz_next, lam[l][t + 1])  # (B4)
                if l + 1 < L:
                    t2 = t if self.inter_layer == "same" else t + 1  # t'' (B7)
                    if t2 <= T:
                        phi_above = jac[l + 1][t2][3]
                        dlt += np.einsum("jci,jc->i", phi_above, lam[l + 1][t2])  # (B7)
                delta[l][t] = dlt
                lam[l][t] = dz_dh[l][t] * dlt[:, None]  # (B5), first term
                if t < T:
                    D_next = jac[l][t + 1][0]
                    lam[l][t] += np.einsum(
                        "jcb,jc->jb", D_next, lam[l][t + 1]
                    )  # (B5), (D^{t+1}_jj)^T lambda_j
                g_theta[l] += np.einsum("jcp,jc->jp", jac[l][t][2], lam[l][t])  # (B6)
        grads = {}
        for l, m in enumerate(self.layers):
            grads.update(m.split(g_theta[l]))
        grads["w_out"], grads["b_out"] = g_w_out, g_b_out[:, None]
        fw.update(delta=delta, partial=partial, lam=lam, grads=grads)
        return fw


def load(fixture):
    """config.json and inputs.npz of a fixture directory (docs/fixtures.md §2)."""
    with open(os.path.join(fixture, "config.json")) as f:
        cfg = json.load(f)
    inp = np.load(os.path.join(fixture, "inputs.npz"))
    params = {k.split("/", 1)[1]: inp[k] for k in inp.files if k.startswith("params/")}
    return cfg, params, inp["x"], inp["target"], inp["mask"]


def train(cfg, params, x, target, mask):
    """The BPTT training run of the config's `training` (docs/fixtures.md §2.2): before each of
    `updates` plain-SGD steps and after the last, E_task and E_reg and every tensor; a step sets
    theta <- clip(theta - lr g, w_min, w_max) for each trainable tensor (`trainable`: a list of
    names, null = all; a null bound = none) and leaves the others as they are."""
    tr = cfg.get("training")
    if not isinstance(tr, dict):
        raise ConfigError(f"config.training = {tr!r}: an object")
    lr, updates = _number(tr, "lr", "training"), _number(tr, "updates", "training", int)
    trainable = tr.get("trainable")
    if trainable is not None and (
        not isinstance(trainable, list) or any(name not in params for name in trainable)
    ):
        raise ConfigError(f"training.trainable = {trainable!r}: a list of tensor names or null")
    lo = -np.inf if tr.get("w_min") is None else _number(tr, "w_min", "training")
    hi = np.inf if tr.get("w_max") is None else _number(tr, "w_max", "training")
    p = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    history = {k: [v.copy()] for k, v in p.items()}
    loss_task, loss_reg = [], []
    for k in range(updates + 1):
        out = Network(cfg, p).bptt(x, target, mask) if k < updates else None
        fw = out if out is not None else Network(cfg, p).forward(x, target, mask)
        loss_task.append(fw["loss_task"])
        loss_reg.append(fw["loss_reg"])
        if out is None:
            break
        for name, grad in out["grads"].items():
            if trainable is None or name in trainable:
                p[name] = np.clip(p[name] - grad.reshape(p[name].shape) * lr, lo, hi)  # SGD, clip
            history[name].append(p[name].copy())
    traj = {"bptt/loss_task": np.array(loss_task), "bptt/loss_reg": np.array(loss_reg)}
    traj.update({f"bptt/{k}": np.stack(v) for k, v in history.items()})
    return traj


def run(fixture):
    """Everything this transcription computes for a fixture, as fixture-layout dictionaries
    {intermediates: {name: array}, gradients: {"bptt/<tensor>": array},
    trajectory: {"bptt/loss_task" | "bptt/loss_reg" | "bptt/<tensor>": array}}."""
    cfg, params, x, target, mask = load(fixture)
    net = Network(cfg, params)
    out = net.bptt(x, target, mask)
    inter = {"loss": np.array(out["loss"]), "y": out["y"]}
    if net.stack:
        for l in range(len(net.layers)):
            inter[f"l{l + 1}/h"], inter[f"l{l + 1}/z"] = out["h"][l], out["z"][l]
            inter[f"l{l + 1}/dz_dh"] = out["dz_dh"][l]
    else:
        inter.update(
            h=out["h"][0],
            z=out["z"][0],
            refractory=out["r"][0],
            dz_dh=out["dz_dh"][0],
            learning_signal_total=out["delta"][0],
            learning_signal_partial=out["partial"][0],
        )
    grads = {f"bptt/{k}": v for k, v in out["grads"].items()}
    return {"intermediates": inter, "gradients": grads, "trajectory": train(cfg, params, x, target, mask)}


def rel_err(a, b):
    """max|a - b| / max|b| (docs/notation.md §7): 0 if both vanish, inf if only b does."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return np.inf
    num, den = np.max(np.abs(a - b), initial=0.0), np.max(np.abs(b), initial=0.0)
    if num == 0.0:
        return 0.0
    return np.inf if den == 0.0 else num / den


def main(argv):
    if len(argv) not in (2, 3):
        print("usage: numpy_reference.py FIXTURE_DIR [OUT_DIR]", file=sys.stderr)
        return 2
    fixture = argv[1]
    try:
        res = run(fixture)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyError as e:
        print(f"error: {fixture}: missing field or array {e}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as e:
        print(f"error: {fixture}: {e}".replace("\n", " "), file=sys.stderr)
        return 2
    if len(argv) == 3:
        os.makedirs(argv[2], exist_ok=True)
        for name, arrays in res.items():
            np.savez(os.path.join(argv[2], f"{name}.npz"), **arrays)
    worst = 0.0
    for name, arrays in res.items():
        path = os.path.join(fixture, f"{name}.npz")
        if os.path.exists(path):
            ref = np.load(path)
            for k, v in arrays.items():
                if k not in ref.files:  # e.g. a fixture exported without `bptt`
                    continue
                e = rel_err(v, ref[k])
                worst = max(worst, e)
                print(f"{name}/{k}: {e:.2e}")
    print(f"max relative error against the fixture: {worst:.2e}")
    return 0 if worst <= 1e-10 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
