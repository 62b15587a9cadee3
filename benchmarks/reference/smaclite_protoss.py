"""SMAClite's side of the protoss_end probe in benchmarks/fidelity_probes.py (run in the SMAClite venv of README.md).

Random play on 2s3z and 3s5z lasts 6-9 steps longer in our simulator than in SMAClite's, even with SMAClite's step
and the two rules that explain the marine maps changed (smac_fidelity.md, "Remaining differences"). This script
measures where in the battle SMAClite's steps go, from its fixed start, with uniformly random legal actions, once
with its C++ RVO2 and once with its own NumPy port of RVO2 (same commit, same rules, another collision solver):
  length:        steps until one army is dead or SMAC's limit (timeouts count as the limit);
  last ally:     steps during which exactly one ally is left and the battle goes on, and the median distance from
                 that ally to the nearest enemy over those steps;
  dies at:       the mean step at which an ally of each type dies (a survivor counts the battle's last step).

Run (from the repository root):
  OMP_NUM_THREADS=1 /tmp/smaclite-venv/bin/python benchmarks/reference/smaclite_protoss.py --battles 100
which writes benchmarks/results/smaclite_protoss.json.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
from smaclite.env import SMACliteEnv

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from smaclite_reference import LIMITS, load_map, random_legal  # noqa: E402

MAPS = ("2s3z", "3s5z")


def battle(env: SMACliteEnv, name: str, seed: int) -> tuple[int, list[float], list[tuple[str, int]]]:
    """One random battle: (length, nearest-enemy distances while one ally is left, (type, death step) per ally)."""
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    allies = list(env.agents.values())
    death: dict[int, int] = {}
    last: list[float] = []
    steps, done = 0, False
    while not done and steps < LIMITS[name]:
        _, _, done, _, _ = env.step(random_legal(env, env.get_avail_actions(), rng))
        steps += 1
        for i, u in enumerate(allies):
            if u.hp == 0 and i not in death:
                death[i] = steps
        if not done and len(env.agents) == 1 and steps < LIMITS[name]:
            a = next(iter(env.agents.values()))
            last.append(min(float(np.linalg.norm(e.pos - a.pos)) for e in env.enemies.values()))
    return steps, last, [(u.type.name.lower(), death.get(i, steps)) for i, u in enumerate(allies)]


def measure(name: str, battles: int, cpp: bool) -> dict:
    env = SMACliteEnv(map_info=load_map(name), seed=0, use_cpp_rvo2=cpp)
    runs = [battle(env, name, i) for i in range(battles)]
    length = np.array([r[0] for r in runs], dtype=float)
    last_steps = np.array([len(r[1]) for r in runs], dtype=float)
    dists = [d for r in runs for d in r[1]]
    by_type: dict[str, list[int]] = {}
    for r in runs:
        for t, d in r[2]:
            by_type.setdefault(t, []).append(d)
    return {"n": battles, "length": round(length.mean(), 2), "length_se": round(length.std(ddof=1) / np.sqrt(battles), 2),
            "timeout": round(float((length >= LIMITS[name]).mean()), 3),
            "last_ally_steps": round(last_steps.mean(), 2), "last_ally_nearest_median": round(float(np.median(dists)), 2),
            "dies_at": {t: round(float(np.mean(v)), 1) for t, v in sorted(by_type.items())}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--battles", type=int, default=100)
    p.add_argument("--out", default="benchmarks/results/smaclite_protoss.json")
    a = p.parse_args()
    out = {}
    for name in MAPS:
        out[name] = {solver: measure(name, a.battles, solver == "c++") for solver in ("c++", "numpy")}
        print(name, json.dumps(out[name]), flush=True)
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
