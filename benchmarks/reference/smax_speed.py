"""JaxMARL SMAX speed on CPU, one thread, for the speed table of issue 22 (throwaway venv, see README.md).

Random legal actions; every step builds obs + world state (SMAX's step returns both) and the
availability masks; battles auto-reset as SMAX does, so every battle of the batch is always running.
Two ways of stepping, both jit + vmap:
  "scan":   100 steps inside one jitted lax.scan (how SMAX is meant to be trained);
  "python": one jitted, vmapped step per Python call (how our simulator is driven).
Steps/s count battle-steps (B per batched step), after compilation, best of a few windows.

Run (from the repository root):
  XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1" \
  /tmp/smax-venv/bin/python benchmarks/reference/smax_speed.py
It writes benchmarks/results/reference_speed.json, copying SMAClite's B = 1 speed from
benchmarks/results/smaclite_reference.json when that file exists.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from importlib.metadata import version

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from jaxmarl import make  # noqa: E402
from jaxmarl.environments.smax import map_name_to_scenario  # noqa: E402

WANTED = ("3m", "2s3z", "27m_vs_30m", "8m", "3s5z", "5m_vs_6m", "MMM2", "corridor")
# SMAC's episode limits (smac/env/starcraft2/maps/smac_maps.py) as SMAX's max_steps
LIMITS = {"3m": 60, "8m": 120, "2s3z": 120, "3s5z": 150, "5m_vs_6m": 70, "27m_vs_30m": 180}
SCAN_LEN = 100


def build(name: str, batch: int):
    env = make("HeuristicEnemySMAX", scenario=map_name_to_scenario(name), max_steps=LIMITS.get(name, 100))
    agents = env.agents

    def one(key, state):
        k_act, k_step = jax.random.split(key)
        avail = env.get_avail_actions(state)
        keys = jax.random.split(k_act, len(agents))
        actions = {a: jax.random.categorical(k, jnp.log(avail[a].astype(jnp.float32))) for k, a in zip(keys, agents)}
        obs, state, _, _, _ = env.step(k_step, state, actions)
        return state, obs["world_state"].sum() + obs[agents[0]].sum()

    vstep = jax.vmap(one)

    @jax.jit
    def step(key, state):
        keys = jax.random.split(key, batch)
        return vstep(keys, state)

    @jax.jit
    def scan(key, state):
        def body(carry, k):
            s, acc = carry
            s, x = step(k, s)
            return (s, acc + x.sum()), None
        (state, acc), _ = jax.lax.scan(body, (state, 0.0), jax.random.split(key, SCAN_LEN))
        return state, acc

    _, state = jax.jit(jax.vmap(env.reset))(jax.random.split(jax.random.PRNGKey(0), batch))
    return step, scan, state


def rate(fn, state, batch: int, steps_per_call: int, budget: float, windows: int = 3) -> tuple[float, object]:
    key = jax.random.PRNGKey(1)
    state, acc = fn(key, state)  # compile
    jax.block_until_ready(acc)
    best = 0.0
    for _ in range(windows):
        calls, start = 0, time.perf_counter()
        while calls < 2 or time.perf_counter() - start < budget:
            key, k = jax.random.split(key)
            state, acc = fn(k, state)
            calls += 1
        jax.block_until_ready(acc)
        best = max(best, batch * steps_per_call * calls / (time.perf_counter() - start))
    return best, state


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} logical CPUs, {platform.system()}, Python {platform.python_version()}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--maps", nargs="+", default=list(WANTED))
    p.add_argument("--batches", nargs="+", type=int, default=[1, 64, 256, 1024])
    p.add_argument("--python-batches", nargs="+", type=int, default=[1, 64],
                   help="batch sizes also timed one call per step (each is one more compilation)")
    p.add_argument("--budget", type=float, default=1.0, help="seconds per timing window")
    p.add_argument("--smaclite", default="benchmarks/results/smaclite_reference.json")
    p.add_argument("--out", default="benchmarks/results/reference_speed.json")
    a = p.parse_args()

    out = json.load(open(a.out)) if os.path.exists(a.out) else {}
    smax, smax_py, missing = out.get("smax", {}), out.get("smax_python_loop", {}), []
    for name in a.maps:
        try:
            map_name_to_scenario(name)
        except KeyError:
            missing.append(name)
            continue
        for batch in a.batches:
            t0 = time.perf_counter()
            step, scan, state = build(name, batch)
            s_scan, state = rate(scan, state, batch, SCAN_LEN, a.budget)
            smax.setdefault(name, {})[str(batch)] = round(s_scan, 1)
            if batch in a.python_batches:
                s_py, _ = rate(step, state, batch, 1, a.budget)
                smax_py.setdefault(name, {})[str(batch)] = round(s_py, 1)
            print(f"{name} B={batch}: scan {s_scan:,.0f}, python-loop {smax_py.get(name, {}).get(str(batch))} "
                  f"steps/s ({time.perf_counter() - t0:.0f} s with compilation)", flush=True)
            write(a, smax, smax_py, missing)
    write(a, smax, smax_py, missing)


def write(a, smax: dict, smax_py: dict, missing: list) -> None:
    """Write the JSON (after every cell, so a long run can be polled)."""
    smaclite = {}
    if os.path.exists(a.smaclite):
        ref = json.load(open(a.smaclite))
        smaclite = {m: {"1": round(c["speed_b1"], 1)} for m, c in ref.get("maps", {}).items() if "speed_b1" in c}
    result = {
        "smax": smax,
        "smax_python_loop": smax_py,
        "smax_lacks": missing,
        "smaclite": smaclite,
        "machine": machine(),
        "load_average_1_5_15min": [round(x, 2) for x in os.getloadavg()],
        "threads": "one (XLA_FLAGS=" + os.environ["XLA_FLAGS"] + "; SMAClite: one process, OMP_NUM_THREADS=1)",
        "versions": {k: version(k) for k in ("jaxmarl", "jax", "jaxlib")},
        "what": "battle-steps/s, random legal actions, obs + state + avail every step; SMAX auto-resets; "
                "smax = 100 steps per jitted lax.scan, smax_python_loop = one jitted vmapped step per call",
    }
    with open(a.out, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
