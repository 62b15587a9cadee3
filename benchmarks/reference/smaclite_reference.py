"""SMAClite reference figures for benchmarks/smac_fidelity.py (run in a throwaway venv, see README.md).

SMAClite (github.com/uoe-agents/smaclite) is an SC2-free re-creation of SMAC; it is a reference to
compare our simulator with, not the truth. This script is not part of qtran_lib and never imports it.
Per map, with SMAClite's fixed starts, it measures over N battles:
  (a) a focus-fire script: win rate, episode length, return (SMAC's shaped reward, scaled to 20);
  (b) uniformly random legal actions: win rate, episode length, timeout share;
  (c) the overlap statistic under the script: per step, the share of pairs of live ground units
      whose centres are closer than 0.8 x the sum of their radii (SMAClite's `size` is a diameter);
  (d) speed: env steps/s with random legal actions, B = 1, obs + state + masks every step.
The script is the one in qtran_lib/envs/starcraft/heuristic.py, restated on SMAClite's objects.

Run (from the repository root):
  OMP_NUM_THREADS=1 /tmp/smaclite-venv/bin/python benchmarks/reference/smaclite_reference.py \
      --battles 1000 --out benchmarks/results/smaclite_reference.json
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time

import numpy as np
from smaclite.env import SMACliteEnv
from smaclite.env.maps.map import MapInfo, get_standard_map
from smaclite.env.units.combat_type import CombatType
from smaclite.env.util.plane import Plane

HERE = os.path.dirname(os.path.abspath(__file__))

# SMAClite's preset names for the maps the book uses; the marine maps it lacks (3m, 8m, 5m_vs_6m)
# are JSON files in smaclite_maps/ written in the convention of its own marine maps
# (10m_vs_11m, 27m_vs_30m: groups at (9, 16) and (23, 16), attack point (9, 16), SIMPLE terrain).
PRESETS = {"2s3z": "2s3z", "3s5z": "3s5z", "MMM2": "mmm2", "27m_vs_30m": "27m_vs_30m", "corridor": "corridor"}
CUSTOM = ("3m", "8m", "5m_vs_6m")
MAPS = ("3m", "8m", "2s3z", "3s5z", "5m_vs_6m", "MMM2", "27m_vs_30m", "corridor")

# Episode limits in agent steps (SMAC: smac/env/starcraft2/maps/smac_maps.py, "limit");
# SMAClite itself never truncates an episode.
LIMITS = {"3m": 60, "8m": 120, "2s3z": 120, "3s5z": 150, "5m_vs_6m": 70, "MMM2": 180, "27m_vs_30m": 180,
          "corridor": 400}

OVERLAP_FRACTION = 0.8  # issue 22: "closer than 0.8 of touching distance"
FOLLOW_STOP = 3.0  # as qtran_lib's heuristic: a medivac stops within 3 of the ally it follows
NO_OP, STOP, NORTH, SOUTH, EAST, WEST, FIRST_TARGET = 0, 1, 2, 3, 4, 5, 6  # SMAC's action layout


def load_map(name: str) -> MapInfo:
    if name in PRESETS:
        return get_standard_map(PRESETS[name])
    if name in CUSTOM:
        return MapInfo.from_file(os.path.join(HERE, "smaclite_maps", f"{name}.json"))
    raise KeyError(name)


def move_toward(dx: float, dy: float, avail: np.ndarray) -> int:
    """Step along the dominant axis of (dx, dy), else the other axis, else stop."""
    horiz = EAST if dx >= 0 else WEST
    vert = NORTH if dy >= 0 else SOUTH
    first, second = (horiz, vert) if abs(dx) >= abs(dy) else (vert, horiz)
    return first if avail[first] else second if avail[second] else STOP


def focus_fire(env: SMACliteEnv, avail: list) -> list[int]:
    """Focus fire: attack the weakest (hp + shield) enemy in reach, else walk to the enemy closest to
    the team's centre; a medivac heals the most hurt ally in reach, else follows its closest ally."""
    agents, enemies = env.agents, env.enemies
    centre = np.mean([u.pos for u in agents.values()], axis=0)
    goal = min(enemies.values(), key=lambda e: (np.hypot(*(e.pos - centre)), e.id_in_faction))
    actions = [NO_OP] * env.n_agents
    for i, unit in agents.items():
        a = avail[i]
        if unit.combat_type == CombatType.HEALING:
            hurt = [(j_unit.hp / j_unit.max_hp, j) for j, j_unit in agents.items()
                    if j_unit.combat_type != CombatType.HEALING and a[FIRST_TARGET + j] and j_unit.hp < j_unit.max_hp]
            if hurt:
                actions[i] = FIRST_TARGET + min(hurt)[1]
                continue
            mates = [m for m in agents.values() if m.combat_type != CombatType.HEALING]
            if not mates:
                actions[i] = STOP
                continue
            friend = min(mates, key=lambda m: (np.hypot(*(m.pos - unit.pos)), m.id_in_faction))
            d = friend.pos - unit.pos
            actions[i] = STOP if np.hypot(*d) < FOLLOW_STOP else move_toward(d[0], d[1], a)
            continue
        hittable = [(e.hp + e.shield, j) for j, e in enemies.items() if a[FIRST_TARGET + j]]
        if hittable:
            actions[i] = FIRST_TARGET + min(hittable)[1]
        else:
            d = goal.pos - unit.pos
            actions[i] = move_toward(d[0], d[1], a)
    return actions


def random_legal(env: SMACliteEnv, avail: list, rng: np.random.Generator) -> list[int]:
    return [int(rng.choice(np.flatnonzero(a))) for a in avail]


def overlap(env: SMACliteEnv) -> tuple[float, float] | None:
    """(share of live ground pairs closer than 0.8 x touching distance, smallest distance / touching
    distance) at this instant; None with fewer than two ground units."""
    ground = [u for u in env.all_units.values() if u.hp > 0 and u.plane == Plane.GROUND]
    if len(ground) < 2:
        return None
    pos = np.array([u.pos for u in ground], dtype=np.float64)  # [G, 2]
    r = np.array([u.radius for u in ground])  # [G]; radius = size / 2 (unit_type.py)
    iu = np.triu_indices(len(ground), 1)
    dist = np.hypot(*(pos[:, None, :] - pos[None, :, :]).transpose(2, 0, 1))[iu]  # [P]
    touch = (r[:, None] + r[None, :])[iu]
    ratio = dist / touch
    return float((ratio < OVERLAP_FRACTION).mean()), float(ratio.min())


def play(env: SMACliteEnv, limit: int, policy, seed: int, measure_overlap: bool) -> dict:
    """One battle; returns its outcome and, if asked, the per-step overlap figures."""
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    ret, steps, won, done, shares, ratios = 0.0, 0, False, False, [], []
    while not done and steps < limit:
        avail = env.get_avail_actions()
        actions = policy(env, avail) if policy is focus_fire else random_legal(env, avail, rng)
        _, reward, done, _, info = env.step(actions)
        ret += reward
        steps += 1
        won = bool(done and info["battle_won"])
        if measure_overlap:
            o = overlap(env)
            if o is not None:
                shares.append(o[0])
                ratios.append(o[1])
    return {"won": won, "steps": steps, "ret": ret, "timeout": not done, "shares": shares, "ratios": ratios}


def summarise(runs: list[dict]) -> dict:
    n = len(runs)
    win = np.mean([r["won"] for r in runs])
    out = {"n": n, "win": float(win), "win_se": float(math.sqrt(win * (1 - win) / n))}
    for key, name in (("steps", "length"), ("ret", "return"), ("timeout", "timeout")):
        v = np.array([float(r[key]) for r in runs])
        out[name] = float(v.mean())
        out[name + "_se"] = float(v.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
    shares = [s for r in runs for s in r["shares"]]
    if shares:
        ratios = [s for r in runs for s in r["ratios"]]
        out["overlap_mean"] = float(np.mean(shares))
        out["overlap_max"] = float(np.max(shares))
        out["closest_ratio_median"] = float(np.median(ratios))
        out["overlap_steps"] = len(shares)
    return out


def measure(env: SMACliteEnv, name: str, policy, battles: int, seed: int, max_s: float, overlap_on: bool) -> dict:
    runs, start = [], time.perf_counter()
    for i in range(battles):
        runs.append(play(env, LIMITS[name], policy, seed + i, overlap_on))
        if time.perf_counter() - start > max_s and i + 1 >= 30:
            break
    out = summarise(runs)
    out["seconds"] = round(time.perf_counter() - start, 1)
    return out


def speed(env: SMACliteEnv, name: str, seconds: float, seed: int) -> float:
    """Env steps/s at B = 1 with random legal actions; obs (returned by step), state, masks each step."""
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    steps, t, start = 0, 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        avail = env.get_avail_actions()
        _, _, done, _, _ = env.step(random_legal(env, avail, rng))
        env.get_state()
        steps += 1
        t += 1
        if done or t >= LIMITS[name]:
            env.reset(seed=seed + steps)
            t = 0
    return steps / (time.perf_counter() - start)


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} logical CPUs, {platform.system()}, Python {platform.python_version()}"


def smaclite_commit(src: str) -> str:
    try:
        return subprocess.run(["git", "-C", src, "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--maps", nargs="+", default=list(MAPS))
    p.add_argument("--battles", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-seconds", type=float, default=1e9, help="cap per (map, policy) cell; N is what ran")
    p.add_argument("--speed-seconds", type=float, default=10.0)
    p.add_argument("--python-rvo2", action="store_true", help="SMAClite's NumPy RVO2 instead of the C++ one")
    p.add_argument("--commit", default=os.environ.get("SMACLITE_COMMIT", ""), help="SMAClite commit measured")
    p.add_argument("--out", default="benchmarks/results/smaclite_reference.json")
    a = p.parse_args()

    old = json.load(open(a.out)) if os.path.exists(a.out) else {}
    result = {
        "smaclite_commit": a.commit or old.get("smaclite_commit", "unknown"),
        "rvo2": "NumPy port (SMAClite)" if a.python_rvo2 else "C++ (micadam/SMAClite-Python-RVO2, -O3)",
        "machine": machine(),
        "battles_requested": a.battles,
        "seed": a.seed,
        "limits": LIMITS,
        "maps": old.get("maps", {}),
        "custom_maps": list(CUSTOM),
    }
    for name in a.maps:
        env = SMACliteEnv(map_info=load_map(name), seed=a.seed, use_cpp_rvo2=not a.python_rvo2)
        cell = {}
        for label, policy in (("scripted", focus_fire), ("random", random_legal)):
            cell[label] = measure(env, name, policy, a.battles, a.seed, a.max_seconds, label == "scripted")
            print(name, label, json.dumps(cell[label]), flush=True)
        cell["speed_b1"] = speed(env, name, a.speed_seconds, a.seed)
        cell["load_average_1min"] = round(os.getloadavg()[0], 2)  # others share this machine
        print(name, "steps/s", round(cell["speed_b1"], 1), flush=True)
        result["maps"][name] = cell
        with open(a.out, "w") as f:  # after every map, so a long run can be polled
            json.dump(result, f, indent=1)
        env.close()


if __name__ == "__main__":
    sys.exit(main())
