"""Benchmark: trials/s of the write-verify twin (30 devices, program + infer) and of the sweep.

Run: ``.venv/bin/python bench/bench_sweep.py [--trials N]``.  One trial = draw 30 devices from
a pool of device-to-device variants, program all 30 by write-verify (reset pulse, C2C noise)
with the controller's algorithm and timing, then infer the test set with 10 % input noise.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from cosim import data, mss, network, program, train
from cosim.controller import PulseScheme


class _CrLike:
    """Cr starting card of DEVICES.md (phi = 1, no Schottky branch)."""

    r_on, r_off, v_on, v_off, tau, t_eff = 5e3, 800e3, 0.30, 0.155, 20e-6, 85.0
    phi, alpha_f, alpha_r, beta_f, beta_r = 1.0, 0.0, 0.0, 0.0, 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--trials", type=int, default=10_000)
    ap.add_argument("--pool", type=int, default=128, help="device variants in the pool")
    args = ap.parse_args()
    g_min, g_max = 2.5e-6, 160e-6
    spec = train.spec_for_card(g_min, g_max, 0.1, 10e3)
    tr, te = data.split(data.make_dataset())
    w = train.train(spec, tr, g_min, g_max, train.TrainConfig(noise=0.1, steps=800))
    tg = train.to_conductances(spec, w, g_min, g_max)
    g_t = np.concatenate([tg.g1_S.ravel(), tg.g2_S])
    scheme = PulseScheme(0.5, 1e-6, -0.3, 1e-6, -1.0, 50e-6, 0.1, 5e-6, 3e-6, 2e-6, True, 16, 200)
    setup = program.ProgramSetup.create(scheme, program.default_harness(), 10.1e3, 10e3)
    rng = np.random.default_rng(0)
    k = args.pool
    params = mss.MSSArrays.from_params(
        _CrLike(),
        m_r_on=np.exp(0.3 * rng.standard_normal(k)),
        m_tau=np.exp(0.3 * rng.standard_normal(k)),
        m_v_on=1 + 0.1 * rng.standard_normal(k),
    )
    t0 = time.perf_counter()
    tables = program.build_tables(params, setup)
    t_tab = time.perf_counter() - t0
    tc = setup.target_codes(g_t)
    t0 = time.perf_counter()
    rows = rng.integers(0, k, (args.trials, network.N_DEVICES))
    out = program.write_verify(
        tables, rows, rng.uniform(0, 1, rows.shape), tc, rng=rng, n_switches=300
    )
    g1 = out.g_S[:, :27].reshape(-1, 9, 3)
    g2 = out.g_S[:, 27:]
    ni = train.NonIdealities(input_noise=0.1)
    acc = np.empty(args.trials)
    step = 1000
    for s in range(0, args.trials, step):
        acc[s : s + step] = train.evaluate(
            spec,
            g1[s : s + step],
            g2[s : s + step],
            te,
            rng,
            ni,
            n_trials=g1[s : s + step].shape[0],
        )
    dt = time.perf_counter() - t0
    print(f"tables: {k} device variants in {t_tab:.2f} s")
    print(
        f"twin: {args.trials} program+infer trials in {dt:.2f} s = {args.trials / dt:.0f} trials/s "
        f"(mean pulses/device {out.pulses.mean():.1f}, ok {out.ok.mean():.1%}, "
        f"mean accuracy {acc.mean():.3f})"
    )


if __name__ == "__main__":
    main()
