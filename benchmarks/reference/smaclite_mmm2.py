"""SMAClite's side of the MMM2 probe in benchmarks/fidelity_probes.py (run in the SMAClite venv of README.md).

Our simulator's scripted MMM2 battles are shorter (23-30 vs 44 steps) and return less (5.4-5.6 vs 9.1) than
SMAClite's. Two of SMAClite's rules differ from SMAC's, and this script measures how much each accounts for,
under the focus-fire script of smaclite_reference.py, from SMAClite's fixed start:
  end rule: SMAClite ends a battle only when a whole army is dead, medivacs included; SMAC ends it when only
            medivacs are left (``only_medivac_left`` in smac/env/starcraft2/starcraft2.py), as ours does.
            Column "SMAC's end rule": SMAClite with that rule patched in.
  reward:   SMAClite rewards each hit's damage and never subtracts healing; SMAC rewards the change in the
            enemies' health + shield, so an enemy medivac's healing counts against it (``reward_battle``), as
            ours does. Column "net of healing": the return minus the enemies' healed HP on the same scale.
  priority: SMAClite's enemies pick a healer in scan range before any other target (``CombatType.priority``);
            the map gives every unit the same priority. Variant "equal_priority": SMAClite with one priority.

Run (from the repository root):
  OMP_NUM_THREADS=1 /tmp/smaclite-venv/bin/python benchmarks/reference/smaclite_mmm2.py --battles 30
which writes benchmarks/results/smaclite_mmm2.json.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
from smaclite.env import SMACliteEnv
from smaclite.env.units.combat_type import CombatType
from smaclite.env.units.unit import Unit
from smaclite.env.util.faction import Faction

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from smaclite_reference import LIMITS, focus_fire, load_map  # noqa: E402

HEALED = {"enemy": 0.0}
_heal = Unit.heal


def counting_heal(self, target):
    """Unit.heal, adding what an enemy medivac restores to HEALED."""
    before = target.hp
    _heal(self, target)
    if target.faction == Faction.ENEMY:
        HEALED["enemy"] += target.hp - before


def only_medivacs(units) -> bool:
    return all(u.combat_type == CombatType.HEALING for u in units)


def battle(env: SMACliteEnv, seed: int, smac_end: bool) -> tuple[float, float, int]:
    """One scripted battle: (return, return net of enemy healing, length)."""
    env.reset(seed=seed)
    HEALED["enemy"] = 0.0
    ret, steps, done = 0.0, 0, False
    while not done and steps < LIMITS["MMM2"]:
        _, reward, done, _, _ = env.step(focus_fire(env, env.get_avail_actions()))
        ret += reward
        steps += 1
        if smac_end and (only_medivacs(env.agents.values()) or only_medivacs(env.enemies.values())):
            done = True
    return ret, ret - HEALED["enemy"] * 20.0 / env.max_reward, steps


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--battles", type=int, default=30)
    p.add_argument("--python-rvo2", action="store_true", help="SMAClite's NumPy RVO2 instead of the C++ one")
    p.add_argument("--out", default="benchmarks/results/smaclite_mmm2.json")
    a = p.parse_args()
    Unit.heal = counting_heal
    env = SMACliteEnv(map_info=load_map("MMM2"), seed=0, use_cpp_rvo2=not a.python_rvo2)
    out = {"rvo2": "numpy" if a.python_rvo2 else "c++"}
    for name, smac_end in (("smaclite", False), ("smac_end_rule", True), ("equal_priority", False)):
        if name == "equal_priority":
            CombatType.priority = property(lambda self: 1)
        r = np.array([battle(env, i, smac_end) for i in range(a.battles)])
        se = r.std(0, ddof=1) / np.sqrt(len(r))
        out[name] = {
            "n": len(r), "return": round(r[:, 0].mean(), 3), "return_se": round(se[0], 3),
            "return_net_of_healing": round(r[:, 1].mean(), 3), "length": round(r[:, 2].mean(), 2),
            "length_se": round(se[2], 2)}
    print(json.dumps(out, indent=1))
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
