"""Start positions: SMAC-like formations, optionally randomised (SMACv2-style)."""
from __future__ import annotations

import torch

from .battle import walkable
from .config import StarCraftConfig
from .state import IDLE, BattleState
from .tables import BattleTables
from .units import MEDIVAC_ENERGY_START


def start_positions(tables: BattleTables, cfg: StarCraftConfig, batch: int,
                    generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Start positions [B, U, 2] and enemy attack points [B, 2].

    Without ``random_start`` every battle starts from the scenario's formation. With it, all
    randomness of a reset is drawn as one [B, 5] tensor of uniforms (``place_starts`` says what each
    one moves).
    """
    dev = tables.start_pos.device
    if not cfg.random_start:
        return tables.start_pos.expand(batch, -1, -1).clone(), tables.attack_point.expand(batch, -1).clone()
    return place_starts(tables, cfg, torch.rand(batch, N_UNIFORMS, generator=generator, device=dev))


N_UNIFORMS = 5
"""Uniforms per randomised start: side swap, then a 2-D shift per army."""


def place_starts(tables: BattleTables, cfg: StarCraftConfig, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Randomised start positions [K, U, 2] and attack points [K, 2] from uniforms ``u`` [K, 5].

    ``u[:, 0] < 0.5`` swaps the sides (a point reflection of the whole layout through the centre of the
    playable box); ``u[:, 1:]`` shift each army's centre by up to ``start_jitter`` per axis. On maps with
    terrain a swap or an army's shift that would put a unit (or the enemies' goal) on a wall is dropped
    for that battle. Shared by lockstep resets (uniforms from a generator) and per-battle restarts
    (counter-based uniforms, ``resets.py``).
    """
    k, dev = u.shape[0], tables.start_pos.device
    pos = tables.start_pos.expand(k, -1, -1)  # [K, U, 2]
    ap = tables.attack_point.expand(k, -1)  # [K, 2]
    x0, y0, x1, y1 = tables.box
    centre = torch.tensor([(x0 + x1) / 2, (y0 + y1) / 2], device=dev)
    swap = (u[:, 0] < 0.5)[:, None, None]  # [K, 1, 1]
    pos1 = torch.where(swap, 2 * centre - pos, pos)
    ap1 = torch.where(swap[:, 0], 2 * centre - ap, ap)
    pos, ap = _keep_on_terrain(tables, pos1, pos, ap1, ap, torch.ones_like(tables.is_ally))
    shift = (u[:, 1:] * 2 - 1).view(k, 2, 2) * cfg.start_jitter  # [K, team, 2]
    team = (~tables.is_ally).long()  # [U]
    lo = torch.tensor([x0, y0], device=dev) + 0.5
    hi = torch.tensor([x1, y1], device=dev) - 0.5
    pos1 = torch.maximum(torch.minimum(pos + shift[:, team], hi), lo)
    ap1 = torch.maximum(torch.minimum(ap + shift[:, 0], hi), lo)  # the enemies' goal moves with the allies
    pos, ap = _keep_on_terrain(tables, pos1, pos, ap1, ap, tables.is_ally)
    pos, ap = _keep_on_terrain(tables, pos1, pos, ap, ap, ~tables.is_ally)
    return pos, ap


def _keep_on_terrain(T: BattleTables, new: torch.Tensor, old: torch.Tensor, new_ap: torch.Tensor,
                     old_ap: torch.Tensor, side: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Take ``new`` [B, U, 2] for the units of ``side`` [U] in the battles where all of them (and the
    attack point [B, 2]) stand on walkable cells, else keep ``old``: SMAC's maps with terrain are not
    symmetric, so a reflected or shifted army may land on a wall."""
    if T.walkable is None:
        return torch.where(side[:, None], new, old), new_ap
    ok_units = walkable(T.walkable, new[..., 0], new[..., 1]) | T.air | ~side  # [B, U]
    ok = ok_units.all(1) & walkable(T.walkable, new_ap[:, 0], new_ap[:, 1])  # [B]
    pos = torch.where(ok[:, None, None] & side[:, None], new, old)
    return pos, torch.where(ok[:, None], new_ap, old_ap)


def initial_state(tables: BattleTables, cfg: StarCraftConfig, batch: int, n_actions: int,
                  generator: torch.Generator) -> BattleState:
    """Full health, loaded weapons, no orders."""
    dev = tables.hp_max.device
    pos, ap = start_positions(tables, cfg, batch, generator)
    u = tables.n_units
    zeros = torch.zeros(batch, u, device=dev)
    energy = torch.where(tables.healer, MEDIVAC_ENERGY_START, 0.0).expand(batch, -1).clone()
    return BattleState(
        x=pos[..., 0].clone(),
        y=pos[..., 1].clone(),
        hp=tables.hp_max.expand(batch, -1).clone(),
        shield=tables.shield_max.expand(batch, -1).clone(),
        energy=energy,
        cooldown=zeros.clone(),
        since_hit=zeros.clone(),
        alive=torch.ones(batch, u, dtype=torch.bool, device=dev),
        mode=torch.full((batch, u), IDLE, dtype=torch.long, device=dev),
        target=torch.arange(u, device=dev).expand(batch, -1).clone(),
        goal_x=pos[..., 0].clone(),
        goal_y=pos[..., 1].clone(),
        attack_point=ap,
        last_action=torch.zeros(batch, tables.n_agents, dtype=torch.long, device=dev),
    )
