"""How closely our simulator's battles follow SMAClite's, map by map (issue 22).

Run:  OMP_NUM_THREADS=1 python benchmarks/smac_fidelity.py [--maps 3m 8m ...] [--battles 1000] [--seed 0]
Writes benchmarks/results/smac_fidelity.md; SMAClite's figures come from
benchmarks/results/smaclite_reference.json (made by benchmarks/reference/smaclite_reference.py in a
throwaway venv: SMAClite is no dependency of this project).

Per map, with fixed starts and all battles in one batch, it measures
  scripted: qtran_lib's focus-fire script (heuristic_actions): win rate, episode length, return;
  random:   uniformly random legal actions: win rate, episode length, return, timeout share;
  overlap:  under the script, after every step, the share of pairs of live ground units whose
            centres are closer than 0.8 x the sum of their radii (mean over battle-steps, max), and
            the median over battle-steps of the closest pair's distance / touching distance.
Sampling errors: binomial for rates (Agresti-Coull, so that a rate of 0 or 1 out of n still carries
an error of about 1/n), std / sqrt(n) for means. A difference counts as "within sampling
error" when |ours - SMAClite| <= 2 sqrt(se_ours^2 + se_SMAClite^2).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys

import torch
from tqdm.auto import tqdm

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from qtran_lib.envs import make_env  # noqa: E402
from qtran_lib.envs.starcraft import SIMULATOR_VERSION, heuristic_actions, random_actions  # noqa: E402
from qtran_lib.envs.starcraft.collisions import overlap_share  # noqa: E402

MAPS = ("3m", "8m", "2s3z", "3s5z", "5m_vs_6m", "MMM2", "27m_vs_30m", "corridor")
HERE = os.path.dirname(os.path.abspath(__file__))
REFERENCE = os.path.join(HERE, "results", "smaclite_reference.json")
OUT = os.path.join(HERE, "results", "smac_fidelity.md")


def overlap_step(env) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per battle: (the library's overlap statistic [B], closest pair's distance / touching distance [B], whether
    the battle has a ground pair [B])."""
    s, T = env.battle, env.tables
    live = s.alive & ~T.air  # [B, U]
    ratio = torch.hypot(s.x[:, :, None] - s.x[:, None, :], s.y[:, :, None] - s.y[:, None, :])  # [B, U, U]
    ratio = ratio / (T.radius[:, None] + T.radius[None, :])
    U = T.radius.shape[0]
    pair = live[:, :, None] & live[:, None, :] & torch.ones(U, U, dtype=torch.bool).triu(1)  # [B, U, U]
    closest = torch.where(pair, ratio, torch.inf).amin((1, 2))
    return overlap_share(s.x, s.y, s.alive, T.radius, ~T.air), closest, pair.any(2).any(1)


def run(name: str, battles: int, seed: int, scripted: bool, time_base: str = "smac", prepare=None,
        **env_options) -> dict:
    """Play ``battles`` battles of ``name`` in one batch; a battle's figures stop when it ends.

    ``env_options``: further StarCraftConfig fields (fixed starts unless ``random_start=True`` is passed);
    ``prepare(env)``, if given, is called before the first reset (the probes of fidelity_probes.py)."""
    env = make_env(f"starcraft:{name}", batch_size=battles, seed=seed, time_base=time_base,
                   **{"random_start": False, **env_options})
    if prepare is not None:
        prepare(env)
    env.reset()
    gen = torch.Generator().manual_seed(seed + 1)
    ret = torch.zeros(battles)
    length = torch.zeros(battles)
    won = torch.zeros(battles, dtype=torch.bool)
    timeout = torch.zeros(battles, dtype=torch.bool)
    shares, closest = [], []
    limit = env.env_info().episode_limit
    with torch.no_grad(), tqdm(total=limit, desc=f"{name} {time_base} {'scripted' if scripted else 'random'}",
                               leave=False) as bar:
        while bool(env.active.any()):
            was = env.active.clone()  # [B]
            actions = heuristic_actions(env) if scripted else random_actions(env.get_avail_actions(), gen)
            reward, _, info = env.step(actions)
            ret += reward
            length += was.float()
            won |= info["battle_won"].bool() & was
            timeout |= info["truncated"]
            if scripted:
                share, near, has = overlap_step(env)
                keep = was & has
                shares.append(share[keep])
                closest.append(near[keep])
            bar.update(1)
    out = summarise(won, length, ret, timeout)
    if scripted:
        sh, cl = torch.cat(shares).double(), torch.cat(closest).double()
        out.update(overlap_mean=float(sh.mean()), overlap_max=float(sh.max()),
                   closest_ratio_median=float(cl.median()), overlap_steps=int(sh.numel()))
    return out


def summarise(won, length, ret, timeout) -> dict:
    n = won.numel()
    out = {"n": n}
    for key, v in (("win", won), ("length", length), ("return", ret), ("timeout", timeout)):
        v = v.double()
        out[key] = float(v.mean())
        out[key + "_se"] = float(v.std() / math.sqrt(n)) if n > 1 else float("nan")
    for key in RATES:
        out[key + "_se"] = rate_se(out[key], n)
    return out


RATES = ("win", "timeout")


def rate_se(p: float, n: int) -> float:
    """Agresti-Coull standard error of a rate p seen in n trials (add two successes and two failures)."""
    q = (p * n + 2) / (n + 4)
    return math.sqrt(q * (1 - q) / (n + 4))


def with_rate_se(cell: dict | None) -> dict | None:
    """A copy of a result cell whose rate errors follow rate_se (the reference JSON stores plain binomial ones)."""
    if not cell or "n" not in cell:
        return cell
    return {**cell, **{k + "_se": rate_se(cell[k], cell["n"]) for k in RATES if k in cell}}


def within(a: dict | None, b: dict | None, key: str) -> str:
    """'yes' when the two means are within 2 combined standard errors, 'no' otherwise, '-' if unknown."""
    if not a or not b or key not in a or key not in b:
        return "-"
    diff = abs(a[key] - b[key])
    se = math.sqrt(a.get(key + "_se", 0.0) ** 2 + b.get(key + "_se", 0.0) ** 2)
    return "yes" if diff <= 2 * se + 1e-12 else "no"


def fmt(d: dict | None, key: str, digits: int = 3) -> str:
    if not d or key not in d:
        return "-"
    se = d.get(key + "_se")
    value = f"{d[key]:.{digits}f}"
    return value if se is None or math.isnan(se) else f"{value} ± {se:.{digits}f}"


ROWS = (  # (section, key, label, digits)
    ("scripted", "win", "scripted win rate", 3),
    ("scripted", "length", "scripted episode length", 1),
    ("scripted", "return", "scripted return (max 20)", 2),
    ("random", "win", "random win rate", 3),
    ("random", "length", "random episode length", 1),
    ("random", "return", "random return", 2),
    ("random", "timeout", "random timeout share", 3),
)

REMAINING = """## Remaining differences

What each difference in the tables comes from, as far as it is known. "Open" marks the ones not yet explained by a
named fact; they are the next things to measure.

- **The agent step (explains the first column against the other two).** SMAClite's step is 8 ticks of 1/16 s
  (`STEP_MUL = 8` in `smaclite/env/smaclite.py`, `TICKS_PER_SECOND = 16` in `smaclite/env/units/unit.py`),
  but its speeds and cooldowns are SC2's "faster"-speed values (marine speed 3.15, cooldown 0.61), 1.4x the
  game-second values: per step its units move and fire as in 0.7 game seconds (11.2 game loops), SMAC's in 0.5
  (8 loops, `step_mul=8`). Its healing, energy and shield rates are game-second values (`HEAL_PER_SECOND = 9`,
  `SHIELD_PER_SECOND = 2` after 10 s), as ours. Our default follows SMAC; the middle column runs our simulator
  with SMAClite's step (`time_base="lite"`, which also speeds up shields and healing by 1.4, unlike SMAClite).
  Episode lengths must be compared in that column.
- **Overlap: closed.** With one collision pass per tick our mean overlap share is at most 0.003 on every map with
  SMAC's step and 0.007 with SMAClite's (SMAClite's RVO2: 0.000-0.021), and the closest pair sits at 0.73-1.07 of
  touching distance (SMAClite 0.74-1.00). On corridor before the change: 0.090 and 0.19.
- **Scripted wins on 2s3z, 3s5z, MMM2, 27m_vs_30m, corridor, 5m_vs_6m and 3m: closed** (same outcome from the
  fixed start; the battles are deterministic, so a rate is 0 or 1 on both sides).
- **8m, scripted win 1 (ours, both steps) vs 0 (SMAClite): a knife edge, measured.** The script's 8 marines
  against the enemy's 8 from one fixed start: small solver changes flipped it during development, and small
  shifts of the start flip it now. 1,000 scripted battles with each army's centre moved by up to J per axis
  (`random_start=True, start_jitter=J`; probe `knife_edge` of `benchmarks/fidelity_probes.py`, table in
  `fidelity_probes.md`): with SMAClite's step the script wins 100 % at J = 0, 51 % at
  J = 0.1, 58 % at 0.25, 58 % at 1.0; with SMAC's step 100 %, 100 %, 92 %, 84 %. A draw that lands on either
  side of an even fight at SMAClite's step cannot be closed by matching one fixed start, whose unit
  arrangement inside the group differs (SMAClite fills rows along x, ours along y).
- **MMM2, scripted return 5.4-5.6 vs 9.1 and length 23-30 vs 44 steps: mostly two SMAClite departures from SMAC,
  measured; the rest is geometry.** (1) Length: SMAClite ends a battle only when a whole army is dead, medivacs
  included (`smaclite.py`); SMAC ends it when only medivacs are left (`only_medivac_left` in `starcraft2.py`), as
  ours does. With SMAC's rule patched into SMAClite its scripted battles last 31.3 steps instead of 43.8
  (`benchmarks/reference/smaclite_mmm2.py`, `smaclite_mmm2.json`, 30 battles). (2) Return: SMAClite rewards each
  hit's damage and never subtracts healing; SMAC rewards the change in the enemies' health and shield
  (`reward_battle`), so the enemy medivac's healing counts against the script, as in ours. Net of that healing
  SMAClite's return is 6.5 (6.9 with SMAC's end rule), against our 5.4-5.6. What remains, about 1-1.5 of return
  and 31 vs 23 fighting steps at SMAClite's step, moves with the battle's geometry, to which ours is sensitive
  (probe `mmm2` of `benchmarks/fidelity_probes.py`): with SMAClite's start positions ours returns 11.3 in 42
  steps, with collisions off 10.5 in 34, with both 5.3 in 20. SMAClite's healer-first target priority is not
  it: with one priority for every unit SMAClite's battles are identical (the ally medivac never enters an
  enemy's scan range while the fight lasts). Neither start formation is SMAC's (SC2 places spawned units itself).
  Also ruled out on MMM2: SC2's automatic targeting ranks threats (units that can return fire) before priority
  and distance (Liquipedia, "Automatic Targeting"), so an enemy skips the medivac while a marine or marauder is
  in scan range; with that rule in `enemy_targets` (probe `threat_first` of `benchmarks/fidelity_probes.py`) the
  scripted figures are unchanged (return 5.56 / 5.40, length 30 / 23 steps with SMAC's / SMAClite's step, 1,000
  battles) and random play still wins none.
- **Scripted return on 27m_vs_30m (14.3 vs 9.7): the enemies' CROWDED hold (above).** Without it the
  enemies' 30 marines come into range together: 8.8 with the hold for the allies only, 10.1 with the hold near
  the goal and two passes (probe `crowd_hold`). The fight is close to even, so small start shifts move it.
- **Scripted return on corridor (3.6-5.2 vs 0.5): which zergling is enemy 0, a numbering convention.** At full
  health every zergling ties as the weakest and the script (ours and the reference's) takes the lowest slot.
  SMAClite numbers a group from the back row for the enemies, so its zealots chase a zergling behind the swarm
  and never strike it; ours numbers from the front. With SMAClite's numbering on our own positions ours returns
  0.00 with either step (probe `numbering`). Neither order is SC2's (SMAC orders units by their SC2 tags), so ours
  is kept.
- **Random play lasts longer and times out more often than SMAClite's, even at SMAClite's step (3m 34.5 vs 24.3
  steps, 24 % vs 7 % timeouts; 27m_vs_30m 78 vs 51): explained on the marine maps and corridor, by two rules of
  ours; a version-3 candidate is measured, not adopted.** (1) The `battle.CROWDED` hold: a unit the last tick left
  pressed into others waits a tick. Attack-moving enemies converge on one point or target, so the rear ones keep
  waiting behind the front ones; SC2's units, like SMAClite's RVO2 agents, slide round a unit that stands. (2)
  `enemy_ai.ARRIVED` = 2.0: SMAClite's attack-move walks to the exact point, ours stops within 2 of it. Measured
  with SMAClite's step, 1,000 random battles (probes `crowd_hold` and `arrived` of `benchmarks/fidelity_probes.py`):
  with the hold for the allies only and ARRIVED = 0.01, 3m 27.4 steps (SMAClite 24.3), 8m 38.8 (35.8), 27m_vs_30m
  48.0 (51.0), corridor 27.0 (30.6), 5m_vs_6m 29.4 (27.4), MMM2 43.6 (45.4, SMAClite playing on while a medivac
  lives). But without the enemies' hold the overlap statistic rises above issue 22's bound (corridor 0.040,
  27m_vs_30m 0.010 under the script). A hold only for units whose stop point is within two ticks' walk
  (`battle.HOLD_WITHIN` = 2) with two collision passes keeps the overlap at or below 0.008 on every map and brings
  27m_vs_30m's scripted return from 14.3 to 10.1 (SMAClite 9.7), but shortens random play less (3m 31.1, 8m 52.0,
  27m_vs_30m 55.8), flips 2s3z's fixed-start scripted battle to a win (another fixed start on a knife edge, like
  8m's) and runs a second collision pass every tick (0.62-0.65x version 2's steps per second at B = 1024, timed
  in one process, not a committed benchmark). Decided: version 2 stays the simulator of the book's StarCraft
  results. The overlap-safe candidate closes one row (27m_vs_30m's return) but no random-play row (3m 31.1 vs
  24.3), so it would not settle this bullet; it costs about a third of the throughput; and it would start a
  version 3 that discards the finished version-2 grid (3m, 2s3z, 8m). A version 3 is worth its runs only if it
  closes these rows without the second pass. Not idle auto-attack: SMAClite's `StopCommand`
  and `MoveCommand` never fire either (`unit_command.py`). The protoss maps keep a gap with both changes: next bullet.
- **Random play on 2s3z and 3s5z, 5-9 steps longer than SMAClite's even with both changes above (50.4 and 53.6
  steps against 41.4 and 47.7): located at the end of the battle, and as large as the difference between SMAClite's
  own two collision solvers; open.** Probe `protoss_end` of `benchmarks/fidelity_probes.py`, SMAClite's side from
  `benchmarks/reference/smaclite_protoss.py` (100 battles per cell). Most of the extra steps come once a single
  ally is left: it lives 16.1 and 14.3 steps in ours against 10.4 and 10.1 in SMAClite's, and its nearest enemy is
  a median 5.7 and 6.3 away against 1.5 and 1.6: our last survivor often wanders out of the enemies' scan range
  (5), and they walk back to their attack point. SMAClite with its own NumPy port of RVO2 (same commit and rules,
  only the collision solver differs) plays the same battles 45.4 and 51.4 steps long, with 13.4 and 13.8 steps of
  last phase and its survivor 3.1 and 6.1 from the nearest enemy: the row moves with the collision solver by half
  to all of our gap (3s5z is then within sampling error, 2s3z not), so no unit rule is known to be missing. Ruled
  out, each changed on top of both changes: shields that never regenerate, the enemy AI every tick
  (`ai_every=1`), a zealot reach of 0.3 instead of 0.1 (each moves the length by at most 1.1 steps), and
  SMAClite's start positions: with them our zealots die at SMAClite's step (23.1 against 22.2 on 2s3z, 24.9
  against 24.7 on 3s5z; ours otherwise 28.2 and 29.7), our stalkers later, and the length stays (49.5, 53.2).
  Not the shield formula either: SMAClite (as SC2) takes a hit off the shield and then the unit's armour off
  what spills over; ours scales the armour-reduced damage by the share the shield did not absorb. The two differ
  only on the hit that breaks a shield, by at most armour x shield / hit < armour (1 of a zealot's 150 or a
  stalker's 160 hit points), once per shield break.
- **SMAClite has no 3m, 8m or 5m_vs_6m.** Its figures for these come from map JSONs written in the convention of
  its own marine maps (`benchmarks/reference/smaclite_maps/`): groups at (9, 16) and (23, 16), attack point
  (9, 16), open terrain, as SMAC's map files place them.
- **Time limits.** SMAClite never truncates an episode; the reference script stops a battle at SMAC's limit for the
  map (60, 120, 120, 150, 70, 180, 180, 400 steps) and counts it as a timeout, as ours does.
- **Sampling error.** SMAClite's cells hold 30-147 battles (the reference run was capped by time on a loaded 2-core
  machine), ours 1,000: the "within" column uses both errors.
"""


def markdown(ours: dict, lite: dict, ref: dict, battles: int, seed: int) -> str:
    """ours / lite: {map: {"scripted": cell, "random": cell}} with SMAC's step and with SMAClite's."""
    refmaps = ref.get("maps", {})
    lines = [
        "# Fidelity: our simulator next to SMAClite",
        "",
        f"Regenerate: `OMP_NUM_THREADS=1 python benchmarks/smac_fidelity.py --battles {battles} --seed {seed}` "
        "(SMAClite's side: `benchmarks/reference/smaclite_reference.py`, see `benchmarks/reference/README.md`).",
        "",
        f"Ours: {battles} battles per map in one batch, fixed starts, seed {seed}, simulator version "
        f"{SIMULATOR_VERSION}, twice: with SMAC's agent step (8 game loops, the default) and with SMAClite's "
        "(`time_base=\"lite\"`: 8 ticks of 1/16 s at SC2's \"faster\" speeds, 1.4x the game time per step; see "
        f"below). SMAClite: commit `{ref.get('smaclite_commit', '?')[:12]}`, RVO2 {ref.get('rvo2', '?')}, n battles "
        "per cell as listed (capped by time on a shared 2-core machine). Values are mean ± standard error; "
        "\"within\" compares ours with SMAClite's step to SMAClite: |diff| ≤ 2·sqrt(se_ours² + se_SMAClite²).",
        "",
        "## Summary (ours, SMAC's step / ours, SMAClite's step / SMAClite)",
        "",
        "| map | scripted win | scripted return | random length | random timeout | overlap mean (scripted) "
        "| overlap max | closest pair / touching (median) |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def triple(m, section, key, digits):
        cells = (ours.get(m, {}).get(section), lite.get(m, {}).get(section), refmaps.get(m, {}).get(section))
        return " / ".join(f"{d[key]:.{digits}f}" if d and key in d else "-" for d in cells)

    for m in ours:
        lines.append(f"| {m} | {triple(m, 'scripted', 'win', 3)} | {triple(m, 'scripted', 'return', 1)} | "
                     f"{triple(m, 'random', 'length', 1)} | {triple(m, 'random', 'timeout', 3)} | "
                     f"{triple(m, 'scripted', 'overlap_mean', 4)} | {triple(m, 'scripted', 'overlap_max', 3)} | "
                     f"{triple(m, 'scripted', 'closest_ratio_median', 2)} |")
    lines += ["", "## Per map", ""]
    for m in ours:
        r = refmaps.get(m, {})
        n_ref = "/".join(str(r[s]["n"]) for s in ("scripted", "random") if s in r) or "-"
        lines += [f"### {m}", "",
                  f"n battles: ours {ours[m]['scripted']['n']}, SMAClite {n_ref} (scripted/random)"
                  + (" (SMAClite lacks this map: custom JSON)" if m in ref.get("custom_maps", []) else ""),
                  "", "| measure | ours, SMAC's step | ours, SMAClite's step | SMAClite | within sampling error |",
                  "|---|---|---|---|---|"]
        for section, key, label, digits in ROWS:
            a, li, b = ours[m].get(section), lite.get(m, {}).get(section), with_rate_se(r.get(section))
            lines.append(f"| {label} | {fmt(a, key, digits)} | {fmt(li, key, digits)} | {fmt(b, key, digits)} | "
                         f"{within(li, b, key)} |")
        cells = (ours[m]["scripted"], lite.get(m, {}).get("scripted", {}), r.get("scripted", {}))
        for key, label in (("overlap_mean", "overlap share, mean over steps"), ("overlap_max", "overlap share, max"),
                           ("closest_ratio_median", "closest pair / touching distance, median")):
            values = " | ".join(f"{d[key]:.4f}" if key in d else "-" for d in cells)
            lines.append(f"| {label} | {values} | n/a |")
        lines.append("")
    lines.append(REMAINING)
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--maps", nargs="+", default=list(MAPS))
    p.add_argument("--battles", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--reference", default=REFERENCE)
    p.add_argument("--out", default=OUT)
    a = p.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    ref = json.load(open(a.reference)) if os.path.exists(a.reference) else {}
    ours, lite = {}, {}
    for m in tqdm(a.maps, desc="maps"):
        for store, base in ((ours, "smac"), (lite, "lite")):
            store[m] = {"scripted": run(m, a.battles, a.seed, True, base), "random": run(m, a.battles, a.seed, False, base)}
    text = markdown(ours, lite, ref, a.battles, a.seed)
    print(text)
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    main()
