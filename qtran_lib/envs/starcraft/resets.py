"""Per-battle restarts: the start of row b's k-th battle drawn from (env seed, b, k) alone.

Introduced in book/06_starcraft. With ``autoreset`` a battle restarts as soon as it ends, so rows
finish at different times; drawing starts from one shared ``torch.Generator`` would make row b's
next battle depend on when the other rows ended. A counter-based draw (a small integer hash of
seed, row, battle index and component, turned into uniforms) gives every battle its own stream,
vectorised over the rows that restart.
"""
from __future__ import annotations

import dataclasses

import torch

from .config import StarCraftConfig
from .layout import N_UNIFORMS, initial_state, place_starts
from .state import BattleState
from .tables import BattleTables

_MASK = 0xFFFFFFFF  # the hash works on 32-bit words held in int64, so products never overflow
_MULT = 0x45D9F3B  # an odd multiplier < 2**27 with good avalanche (a common 32-bit integer mixer's constant)
_GOLDEN = 0x9E3779B9  # 2**32 / golden ratio: spreads consecutive counters over the word


def mix32(x: torch.Tensor) -> torch.Tensor:
    """A bijective 32-bit integer mixer on int64 tensors holding values in [0, 2**32)."""
    x = (x ^ (x >> 16)) * _MULT & _MASK
    x = (x ^ (x >> 16)) * _MULT & _MASK
    return x ^ (x >> 16)


def counter_uniforms(seed: int, rows: torch.Tensor, episodes: torch.Tensor, n: int = N_UNIFORMS) -> torch.Tensor:
    """[K, n] uniforms in [0, 1) for battles (rows[k], episodes[k]) [K] of an env seeded with ``seed``.

    Each value is a hash of (seed, row, episode, component): no state, so any subset of battles is drawn
    in any order with the same result. 24 bits per value (exact in float32).
    """
    h = mix32(torch.full_like(rows, seed & _MASK) ^ _GOLDEN)
    h = mix32(h ^ rows)
    h = mix32(h ^ (episodes * _GOLDEN & _MASK))
    comp = torch.arange(n, device=rows.device) * _GOLDEN & _MASK  # [n]
    h = mix32(h[:, None] ^ comp)  # [K, n]
    return (h >> 8).float() * 2.0 ** -24


def start_template(tables: BattleTables, cfg: StarCraftConfig, n_actions: int) -> BattleState:
    """One battle [1, ...] at the scenario's formation: what every start shares before the random moves."""
    return initial_state(tables, dataclasses.replace(cfg, random_start=False), 1, n_actions, None)


def fresh_battles(tables: BattleTables, cfg: StarCraftConfig, n_actions: int, seed: int, rows: torch.Tensor,
                  episodes: torch.Tensor, template: BattleState | None = None) -> BattleState:
    """New battles for rows [K] at battle indices episodes [K]: the scenario's formation, and with
    ``random_start`` the counter-based swap and shifts. Fields the draw does not touch are expanded
    views of ``template`` (``start_template``): read them, never write into them."""
    k = rows.shape[0]
    base = start_template(tables, cfg, n_actions) if template is None else template
    s = BattleState(**{name: v.expand(k, *v.shape[1:]) for name, v in vars(base).items()})
    if not cfg.random_start:
        return s
    pos, ap = place_starts(tables, cfg, counter_uniforms(seed, rows, episodes))
    s.x, s.y = pos[..., 0], pos[..., 1]
    s.goal_x, s.goal_y = s.x, s.y
    s.attack_point = ap
    return s
