"""The paper's matrix-game result (Son et al. 2019, Table 1) as statements over seeds, with margins.

Runs use the `matrix` preset (the paper's uniform protocol) in two worker processes. Every claim below
was checked on more seeds than it tests and under two float paths (native AVX-512 kernels and
``ATEN_CPU_CAPABILITY=default``) before it was written down; the worst margins seen are in the
comments. ``make test`` runs this module natively with 10 seeds and again on the scalar kernels with
``QTRAN_REPRO_SEEDS=3`` (the same claims on seeds 0-2, to stay within CI's time).
"""
from __future__ import annotations

import multiprocessing as mp
import os

import pytest
import torch

N_SEEDS = int(os.environ.get("QTRAN_REPRO_SEEDS", "10"))
SEEDS = range(N_SEEDS)

# Full-batch updates per run. The 3x3 games settle well before 3000 (chapter 4 uses 2000); VDN and
# QMIX reach their representational floor within 1000 (chapter 3). The random larger games run with
# the preset's default budget, which is what `python -m qtran_lib train` uses.
UPDATES = {("vdn", "matrix:paper"): 1000, ("qmix", "matrix:paper"): 1000}
UPDATES_3X3 = 3000


def _run(job):
    algo, env, seed = job
    torch.set_num_threads(1)
    from qtran_lib.analysis import q_tables
    from qtran_lib.config import load_yaml, make_config
    from qtran_lib.train import train

    preset = load_yaml("matrix")
    budget = UPDATES.get((algo, env), UPDATES_3X3 if env in ("matrix:paper", "matrix:climbing") else preset["max_updates"])
    cfg = make_config(preset, algo=algo, env=env, seed=seed, max_updates=budget)
    result = train(cfg, progress=False)
    t = q_tables(result.learner, result.env)
    err = (t.q_jt - t.payoff).abs()
    optimum = tuple(int(i) for i in torch.unravel_index(t.payoff.argmax(), t.payoff.shape))
    return job, t.greedy_action, t.greedy_payoff, float(err.max()), float(err[optimum])


def random_game(seed: int, n_actions: int) -> str:
    """A 2-agent game with integer payoffs in [-100, 100] and a unique optimum, as a CLI payoff string."""
    g = torch.Generator().manual_seed(seed)
    while True:
        pay = (torch.rand(n_actions, n_actions, generator=g) * 200 - 100).round()
        if (pay == pay.max()).sum() == 1:
            return "matrix:" + ";".join(",".join(str(int(x)) for x in row) for row in pay)


RANDOM_GAMES = [random_game(seed, n) for seed, n in ((1, 5), (3, 4))]


@pytest.fixture(scope="module")
def outcomes():
    jobs = [(a, "matrix:paper", s) for a in ("qtran_base", "qtran_alt", "vdn", "qmix") for s in SEEDS]
    jobs += [(a, "matrix:climbing", s) for a in ("qtran_base", "qtran_alt") for s in SEEDS]
    jobs += [(a, game, 0) for a in ("qtran_base", "qtran_alt") for game in RANDOM_GAMES]
    with mp.get_context("spawn").Pool(2) as pool:
        return {job: rest for job, *rest in pool.map(_run, jobs)}


def _cells(outcomes, algo, env):
    return [outcomes[(algo, env, s)] for s in SEEDS]


@pytest.mark.slow
@pytest.mark.parametrize("algo", ["qtran_base", "qtran_alt"])
@pytest.mark.parametrize("env, optimum, best", [("matrix:paper", (0, 0), 8.0), ("matrix:climbing", (0, 0), 11.0)])
def test_qtran_finds_the_optimum_and_fits_the_payoff(outcomes, algo, env, optimum, best):
    """In every seed: the greedy joint action is the optimum and |Q_jt - payoff| < 0.5 at every joint action."""
    cells = _cells(outcomes, algo, env)
    assert [c[0] for c in cells] == [optimum] * N_SEEDS, cells
    assert all(c[1] == best for c in cells)
    worst = max(c[2] for c in cells)
    assert worst < 0.5, f"{algo} on {env}: largest |Q_jt - payoff| over seeds is {worst:.3f}"


@pytest.mark.slow
@pytest.mark.parametrize("algo", ["vdn", "qmix"])
def test_vdn_and_qmix_miss_the_optimum(outcomes, algo):
    """In at least 80 % of the seeds VDN and QMIX settle on a 0-payoff cell (measured: every seed)."""
    cells = _cells(outcomes, algo, "matrix:paper")
    misses = sum(c[0] != (0, 0) for c in cells)
    assert misses >= 0.8 * N_SEEDS, f"{algo} found (A, A) in {N_SEEDS - misses}/{N_SEEDS} seeds"


@pytest.mark.slow
@pytest.mark.parametrize("algo", ["qtran_base", "qtran_alt"])
@pytest.mark.parametrize("game", RANDOM_GAMES)
def test_the_default_budget_finds_the_optimum_of_large_random_games(outcomes, algo, game):
    """The CLI's default budget finds the optimum of 2-agent games with up to 5 actions and |payoff| <= 100.

    What it does not promise: a Q_jt that fits every cell. The joint network reads a *sum* of per-agent
    action encodings, and on some seeds it stalls with two rows of Q_jt differing by a constant on most
    columns (an additive piece, as VDN would fit): on the 4x4 game, |Q_jt - payoff| reached 30 in 4 of
    6 seeds of QTRAN-base. The greedy action is unaffected (L_opt and L_nopt only need Q_jt's argmax),
    and Q_jt is exact at the optimum, which is what Theorem 1 transfers to the agents.
    """
    from qtran_lib.envs.matrix_game import parse_payoff

    payoff = parse_payoff(game.partition(":")[2])
    optimum = tuple(int(i) for i in torch.unravel_index(payoff.argmax(), payoff.shape))
    greedy, _, _, at_optimum = outcomes[(algo, game, 0)]
    assert greedy == optimum
    assert at_optimum < 1.0, f"|Q_jt - payoff| at the optimum = {at_optimum:.3f} on a game with |payoff| <= 100"
