"""The probes behind the lines of "Remaining differences" in benchmarks/results/smac_fidelity.md (issue 22).

Run:  OMP_NUM_THREADS=1 python benchmarks/fidelity_probes.py [--battles 1000] [--seed 0] [--probes knife_edge ...]
Writes benchmarks/results/fidelity_probes.md (about 15 minutes on one idle core with 1,000 battles); with
--probes only those sections are rewritten and the others are kept.

Each probe changes one thing against the committed simulator, plays battles with
``smac_fidelity.run`` (same script, same statistics) and restores the simulator afterwards:
  knife_edge:   8m under the focus-fire script, each army's centre shifted by up to J per axis
                (``random_start=True, start_jitter=J``), with SMAC's step and SMAClite's: how often
                the script wins. SMAClite's fixed start loses; ours wins. Is that a robust difference?
  arrived:      random play with SMAClite's step, the enemies' stop distance at the attack point
                (``enemy_ai.ARRIVED``) at 2.0 (ours) and 0.01 (SMAClite walks to the exact point):
                episode length and timeout share.
  threat_first: MMM2 under the script and random play, the enemies' target choice ranking units that
                can return fire before the others (SC2's automatic targeting, Liquipedia "Automatic
                Targeting") instead of distance alone: scripted return and length, random win rate.
  mmm2:         MMM2 under the script: SMAClite's start positions instead of our formation, collisions
                off, and SMAClite's end rule (a battle goes on while an army's medivac lives; SMAC's
                ``only_medivac_left`` ends it): scripted return and length. The SMAClite side of this
                comparison is benchmarks/reference/smaclite_mmm2.py.
  crowd_hold:   random play with SMAClite's step on every map: the CROWDED hold-still rule (a unit the last
                tick left pressed into others waits a tick, ``battle.CROWDED``) for both sides as now, for
                the allies only, for the allies only with ARRIVED = 0.01, and for units whose stop point
                is within 2 ticks' walk (``battle.HOLD_WITHIN``) with two collision passes: episode length;
                and, under the script, the return and the overlap statistic those variants leave.
  numbering:    corridor under the script with our positions but SMAClite's slot numbering (its groups are
                filled row by row from the back for the enemies): the script breaks ties between
                full-health targets by the lowest slot, so which zergling is enemy 0 decides the battle.
  protoss_end:  2s3z and 3s5z, random play with SMAClite's step: where the extra steps of our battles are (the
                phase with one ally left, each ally type's death step), with both rules of crowd_hold's
                third column changed and then one more thing each: shields that never regenerate, the enemy
                AI every tick, a longer zealot reach, SMAClite's start positions; next to SMAClite's C++ and
                NumPy collision solvers (benchmarks/reference/smaclite_protoss.py).
None of these changes is adopted: they are measurements for the fidelity notes, and changing the
rules would start a simulator version 3 (every committed v2 run would be invalid).
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import sys

import torch
from tqdm.auto import tqdm

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from smac_fidelity import run  # noqa: E402

from qtran_lib.envs import make_env  # noqa: E402
from qtran_lib.envs.starcraft import SIMULATOR_VERSION, battle, enemy_ai, get_scenario, random_actions, units  # noqa: E402
from qtran_lib.envs.starcraft import env as env_module  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "fidelity_probes.md")
JITTERS = (0.0, 0.1, 0.25, 1.0)
ARRIVED_VALUES = (enemy_ai.ARRIVED, 0.01)
ARRIVED_MAPS = ("3m", "8m", "2s3z", "27m_vs_30m")


@contextlib.contextmanager
def patched(module, name: str, value):
    """Set ``module.name`` for the duration of a probe, then put the simulator's own value back."""
    old = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, old)


def threat_first_targets(s, T, threat0, e_target, e_engaged):
    """enemy_ai.enemy_targets with SC2's threat ranking: among the allies in scan range, those whose weapon can hit
    the enemy (not medivacs, not a unit that cannot reach the enemy's plane) come first, then distance decides."""
    A = T.n_agents
    hits_back = (T.can_target[:A, A:] & ~T.healer[:A, None]).T  # [E, A]: ally a can attack enemy e
    prefer = torch.where(hits_back, 0.0, 1e6)  # [E, A]: a non-threat only wins when no threat is in range
    return enemy_ai.enemy_targets(s, T, threat0, e_target, e_engaged, prefer=prefer)


def knife_edge(battles: int, seed: int) -> list[str]:
    lines = ["## 8m under the focus-fire script: win rate against start jitter", "",
             "| start jitter J | SMAC's step | SMAClite's step |", "|---|---|---|"]
    for j in tqdm(JITTERS, desc="knife_edge"):
        opts = {"random_start": True, "start_jitter": j} if j > 0 else {}
        smac, lite = (run("8m", battles, seed, True, base, **opts) for base in ("smac", "lite"))
        lines.append(f"| {j:g} | {smac['win']:.2f} ± {smac['win_se']:.2f} | {lite['win']:.2f} ± {lite['win_se']:.2f} |")
    return lines + [""]


def arrived(battles: int, seed: int) -> list[str]:
    lines = ["## Random play with SMAClite's step: the enemies' stop distance at the attack point", "",
             "| map | " + " | ".join(f"ARRIVED = {a:g}: length, timeouts" for a in ARRIVED_VALUES) + " |",
             "|---|" + "---|" * len(ARRIVED_VALUES)]
    for m in tqdm(ARRIVED_MAPS, desc="arrived"):
        cells = []
        for a in ARRIVED_VALUES:
            with patched(enemy_ai, "ARRIVED", a):
                r = run(m, battles, seed, False, "lite")
            cells.append(f"{r['length']:.1f} ± {r['length_se']:.1f}, {100 * r['timeout']:.0f} %")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return lines + [""]


def threat_first(battles: int, seed: int) -> list[str]:
    lines = ["## MMM2: the enemies' target choice, distance alone (ours) or threats first (SC2)", "",
             "| targeting | step | scripted return | scripted length | random win rate |", "|---|---|---|---|---|"]
    for label, fn in tqdm((("distance (ours)", enemy_ai.enemy_targets), ("threats first", threat_first_targets)),
                          desc="threat_first"):
        with patched(battle, "enemy_targets", fn):  # battle.simulate calls the name it imported
            for base in ("smac", "lite"):
                s, r = run("MMM2", battles, seed, True, base), run("MMM2", battles, seed, False, base)
                lines.append(f"| {label} | {base} | {s['return']:.2f} | {s['length']:.1f} | {r['win']:.3f} |")
    return lines + [""]


# SMAClite's fixed starts (SMACliteEnv.reset at commit 0d6abbea1334: groups at (9, 16) and (23, 16), rows along x
# packed by each unit's own size), per map, side (True: allies) and unit type in slot order
SMACLITE_START = {
    "MMM2": {
        True: {"marauder": [(7.688, 17.15), (8.863, 17.15)],
               "marine": [(9.05, 14.988), (9.85, 14.988), (10.65, 14.988), (7.5, 16.163), (8.3, 16.163),
                          (9.1, 16.163), (9.9, 16.163)],
               "medivac": [(7.875, 14.988)]},
        False: {"marauder": [(23.7, 14.85), (22.525, 14.85), (21.35, 14.85)],
                "marine": [(23.138, 17.013), (22.337, 17.013), (21.538, 17.013), (24.688, 15.837), (23.888, 15.837),
                           (23.087, 15.837), (22.288, 15.837), (24.688, 14.85)],
                "medivac": [(24.312, 17.013)]}},
    "2s3z": {
        True: {"stalker": [(7.875, 15.45), (9.175, 15.45)],
               "zealot": [(10.35, 15.45), (7.75, 16.625), (8.8, 16.625)]},
        False: {"stalker": [(24.125, 16.55), (22.825, 16.55)],
                "zealot": [(21.65, 16.55), (24.25, 15.375), (23.2, 15.375)]}},
    "3s5z": {
        True: {"stalker": [(7.75, 14.95), (9.05, 14.95), (10.35, 14.95)],
               "zealot": [(7.625, 16.125), (8.675, 16.125), (9.725, 16.125), (7.625, 17.175), (8.675, 17.175)]},
        False: {"stalker": [(24.25, 17.05), (22.95, 17.05), (21.65, 17.05)],
                "zealot": [(24.375, 15.875), (23.325, 15.875), (22.275, 15.875), (24.375, 14.825),
                           (23.325, 14.825)]}},
}


def smaclite_start(env) -> None:
    """Put every unit where SMAClite's reset puts it (the k-th unit of a type and side on the k-th position)."""
    T, name = env.tables, env.scenario.name
    names = get_scenario(name).type_order
    used = {(a, n): 0 for a in (True, False) for n in names}
    pos = T.start_pos.clone()
    for i in range(T.n_units):
        key = (bool(T.is_ally[i]), names[int(T.type_idx[i])])
        pos[i] = torch.tensor(SMACLITE_START[name][key[0]][key[1]][used[key]])
        used[key] += 1
    T.start_pos = pos


def no_collisions(env) -> None:
    env.config = dataclasses.replace(env.config, collide_iters=0)


def smaclite_outcome(alive, T):
    """SMAClite's end of battle: an army is beaten only when every unit, medivacs included, is dead."""
    allies_up, enemies_up = alive[:, :T.n_agents].any(1), alive[:, T.n_agents:].any(1)
    return ~allies_up | ~enemies_up, allies_up & ~enemies_up, enemies_up & ~allies_up


def mmm2(battles: int, seed: int) -> list[str]:
    variants = (("ours", None, False), ("SMAClite's start positions", smaclite_start, False),
                ("collisions off", no_collisions, False),
                ("SMAClite's start, collisions off", lambda e: (smaclite_start(e), no_collisions(e)), False),
                ("SMAClite's end rule", None, True))
    lines = ["## MMM2 under the focus-fire script: start positions, collisions and the end rule", "",
             "| variant | return, SMAC's step | length | return, SMAClite's step | length |", "|---|---|---|---|---|"]
    for label, prepare, lite_end in tqdm(variants, desc="mmm2"):
        with patched(env_module, "outcome", smaclite_outcome) if lite_end else contextlib.nullcontext():
            cells = [run("MMM2", battles, seed, True, base, prepare=prepare) for base in ("smac", "lite")]
        lines.append(f"| {label} | " + " | ".join(f"{c['return']:.2f} | {c['length']:.1f}" for c in cells) + " |")
    return lines + [""]


def allies_only_hold():
    """battle.tick with the CROWDED hold for the allies only: the enemies' crowd values are zeroed before each tick."""
    tick = battle.tick

    def allies_hold(s, T, c, tgt, attack, move, collide_iters, crowd):
        return tick(s, T, c, tgt, attack, move, collide_iters, torch.cat([crowd[:, :T.n_agents],
                                                                          torch.zeros_like(crowd[:, T.n_agents:])], 1))
    return patched(battle, "tick", allies_hold)


CROWD_MAPS = ("3m", "8m", "2s3z", "3s5z", "5m_vs_6m", "MMM2", "27m_vs_30m", "corridor")


def crowd_hold(battles: int, seed: int) -> list[str]:
    @contextlib.contextmanager
    def allies_only_hold_exact_arrival():
        with allies_only_hold(), patched(enemy_ai, "ARRIVED", 0.01):
            yield

    variants = (("both sides hold (ours)", contextlib.nullcontext, {}), ("allies only", allies_only_hold, {}),
                ("allies only, ARRIVED = 0.01", allies_only_hold_exact_arrival, {}),
                ("hold near the goal, 2 passes", lambda: patched(battle, "HOLD_WITHIN", 2.0), {"collide_iters": 2}))
    lines = ["## The CROWDED hold: random-play length with SMAClite's step, and the scripted battle", "",
             "Cells: random-play length ± s.e. / scripted return / overlap mean under the script (share of live",
             "ground pairs closer than 0.8 of touching distance); all with SMAClite's step. SMAClite's figures:",
             "`smac_fidelity.md`.", "",
             "| map | " + " | ".join(v[0] for v in variants) + " |", "|---|" + "---|" * len(variants)]
    for m in tqdm(CROWD_MAPS, desc="crowd_hold"):
        cells = []
        for _, ctx, options in variants:
            with ctx():
                r, s = run(m, battles, seed, False, "lite", **options), run(m, battles, seed, True, "lite", **options)
            cells.append(f"{r['length']:.1f} ± {r['length_se']:.1f} / {s['return']:.2f} / {s['overlap_mean']:.4f}")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return lines + [""]


def smaclite_numbering(env) -> None:
    """Keep our positions, number each side's units of a type as SMAClite's group placement does: allies row by
    row from low y, each row from low x; enemies (mirrored) from high y, each row from high x."""
    T = env.tables
    pos = T.start_pos.clone()
    for first, n, sign in ((0, T.n_agents, 1.0), (T.n_agents, T.n_enemies, -1.0)):
        for t in T.type_idx[first:first + n].unique():
            idx = [i for i in range(first, first + n) if int(T.type_idx[i]) == int(t)]
            ordered = sorted((pos[i].tolist() for i in idx), key=lambda p: (sign * round(p[1], 3), sign * round(p[0], 3)))
            for i, p in zip(idx, ordered):
                pos[i] = torch.tensor(p)
    T.start_pos = pos


def numbering(battles: int, seed: int) -> list[str]:
    lines = ["## corridor under the focus-fire script: our slot numbering or SMAClite's", "",
             "| numbering | return, SMAC's step | length | return, SMAClite's step | length |", "|---|---|---|---|---|"]
    for label, prepare in (("ours", None), ("SMAClite's (our positions)", smaclite_numbering)):
        cells = [run("corridor", battles, seed, True, base, prepare=prepare) for base in ("smac", "lite")]
        lines.append(f"| {label} | " + " | ".join(f"{c['return']:.2f} | {c['length']:.1f}" for c in cells) + " |")
    return lines + [""]


PROTOSS_MAPS = ("2s3z", "3s5z")
SMACLITE_PROTOSS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "smaclite_protoss.json")


@torch.no_grad()
def random_end(name: str, battles: int, seed: int, prepare=None, **env_options) -> dict:
    """Random play with SMAClite's step from the fixed start, measured as benchmarks/reference/smaclite_protoss.py
    measures SMAClite: length, the steps with one ally left (and its nearest enemy's distance), and the mean step at
    which an ally of each type dies (a survivor counts the battle's last step)."""
    env = make_env(f"starcraft:{name}", batch_size=battles, seed=seed, time_base="lite", random_start=False,
                   **env_options)
    if prepare is not None:
        prepare(env)
    env.reset()
    N, names = env.env_info().n_agents, get_scenario(name).type_order
    ally_type = [names[int(i)] for i in env.tables.type_idx[:N]]
    gen = torch.Generator().manual_seed(seed + 1)
    length, last_steps, nearest = torch.zeros(battles), torch.zeros(battles), []
    death = torch.zeros(battles, N)
    while bool(env.active.any()):
        was = env.active.clone()  # [B]
        env.step(random_actions(env.get_avail_actions(), gen))
        s = env.battle
        length += was.float()
        dead_now = was[:, None] & ~s.alive[:, :N] & (death == 0)  # [B, N]
        death = torch.where(dead_now, length[:, None], death)
        one = env.active & (s.alive[:, :N].sum(1) == 1)  # [B]: one ally left, the battle goes on
        if one.any():
            b = one.nonzero().flatten()
            a = s.alive[b, :N].float().argmax(1)  # [K]: the survivor's slot
            d = torch.hypot(s.x[b, N:] - s.x[b, a][:, None], s.y[b, N:] - s.y[b, a][:, None])  # [K, E]
            nearest.append(d.masked_fill(~s.alive[b, N:], float("inf")).min(1).values)
            last_steps[b] += 1
    death = torch.where(death == 0, length[:, None], death)
    return {"length": length.mean().item(), "length_se": (length.std() / battles ** 0.5).item(),
            "last_ally_steps": last_steps.mean().item(),
            "last_ally_nearest_median": torch.cat(nearest).median().item() if nearest else float("nan"),
            "dies_at": {t: death[:, [i for i in range(N) if ally_type[i] == t]].mean().item()
                        for t in sorted(set(ally_type))}}


@contextlib.contextmanager
def zealot_reach(r: float):
    """The zealot's melee range set to ``r`` (SC2 and SMAClite: 0.1) for the duration of a probe."""
    old = units.UNIT_TYPES["zealot"]
    units.UNIT_TYPES["zealot"] = dataclasses.replace(old, range=r)
    try:
        yield
    finally:
        units.UNIT_TYPES["zealot"] = old


def protoss_end(battles: int, seed: int) -> list[str]:
    @contextlib.contextmanager
    def both(*extra):
        with allies_only_hold(), patched(enemy_ai, "ARRIVED", 0.01), contextlib.ExitStack() as stack:
            for ctx in extra:
                stack.enter_context(ctx)
            yield

    variants = (("ours as is", contextlib.nullcontext, None, {}),
                ("both changes (hold for allies only, ARRIVED = 0.01)", both, None, {}),
                ("both, shields never regenerate", lambda: both(patched(battle, "SHIELD_REGEN", 0.0)), None, {}),
                ("both, enemy AI every tick (`ai_every=1`)", both, None, {"ai_every": 1}),
                ("both, zealot reach 0.3 instead of 0.1", lambda: both(zealot_reach(0.3)), None, {}),
                ("both, SMAClite's start positions", both, smaclite_start, {}))
    lines = ["## 2s3z and 3s5z: where random play's extra steps are", "",
             "Random play with SMAClite's step from the fixed start. *last ally*: steps with one ally left while the",
             "battle goes on, and the median distance from it to the nearest enemy over those steps; *dies at*: the",
             "mean step at which an ally stalker / zealot dies. SMAClite's rows: `smaclite_protoss.json`",
             "(`benchmarks/reference/smaclite_protoss.py`, 100 battles each).", "",
             "| map | variant | length | last ally: steps, nearest enemy | stalker dies at | zealot dies at |",
             "|---|---|---|---|---|---|"]
    lite = json.load(open(SMACLITE_PROTOSS)) if os.path.exists(SMACLITE_PROTOSS) else {}

    def row(m, label, r):
        return (f"| {m} | {label} | {r['length']:.1f} ± {r['length_se']:.1f} | {r['last_ally_steps']:.1f}, "
                f"{r['last_ally_nearest_median']:.1f} | {r['dies_at']['stalker']:.1f} | {r['dies_at']['zealot']:.1f} |")
    for m in tqdm(PROTOSS_MAPS, desc="protoss_end"):
        for solver in ("c++", "numpy"):
            if m in lite:
                lines.append(row(m, f"SMAClite, {'C++ RVO2' if solver == 'c++' else 'its NumPy RVO2 port'}",
                                 lite[m][solver]))
        for label, ctx, prepare, options in variants:
            with ctx():
                lines.append(row(m, label, random_end(m, battles, seed, prepare, **options)))
    return lines + [""]


PROBES = {"knife_edge": knife_edge, "arrived": arrived, "threat_first": threat_first, "mmm2": mmm2,
          "crowd_hold": crowd_hold, "numbering": numbering, "protoss_end": protoss_end}


MARKER = "<!-- probe: {} -->"


def merge_sections(old_text: str | None, header: list[str], new: dict[str, list[str]]) -> str:
    """The probes file with the sections in ``new`` (probe name -> lines) replaced or added and every other probe's
    section kept from ``old_text``: running a few probes never drops the others' measurements."""
    kept: dict[str, str] = {}
    if old_text is not None:
        parts = old_text.split("<!-- probe: ")
        if len(parts) == 1 and set(new) != set(PROBES):
            raise SystemExit("the probes file has no '<!-- probe: name -->' markers (written by an older version), so "
                             "running only some probes would drop the others' results: run every probe once, or "
                             "pass --out with another file")
        for part in parts[1:]:
            name, _, body = part.partition(" -->\n")
            kept[name] = body.rstrip("\n")
    sections = []
    for name in PROBES:
        body = "\n".join(new[name]).rstrip("\n") if name in new else kept.get(name)
        if body is not None:
            sections.append(MARKER.format(name) + "\n" + body)
    return "\n".join(header) + "\n" + "\n\n".join(sections) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--battles", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--probes", nargs="+", choices=sorted(PROBES), default=list(PROBES),
                   help="probes to run; the others' sections of --out are kept")
    p.add_argument("--out", default=OUT)
    a = p.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    header = [f"# Fidelity probes (simulator v{SIMULATOR_VERSION}, seed {a.seed})", "",
              "Written by `OMP_NUM_THREADS=1 python benchmarks/fidelity_probes.py [--probes NAME ...]`; what each probe",
              "changes is in the script's docstring. `±`: one standard error. None of the changes is part of the",
              "simulator. Battles per cell: 1,000 unless a section says otherwise.", ""]
    old = open(a.out).read() if os.path.exists(a.out) else None
    new = {}
    for name in a.probes:
        new[name] = PROBES[name](a.battles, a.seed)
        if a.battles != 1000:
            new[name][1:1] = ["", f"({a.battles} battles per cell)"]
        print("\n".join(new[name]))
    text = merge_sections(old, header, new)
    with open(a.out, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
