"""Start positions: SMAC-like formations, optionally randomised (SMACv2-style)."""
from __future__ import annotations

import torch

from .config import StarCraftConfig
from .state import IDLE, BattleState
from .tables import BattleTables
from .units import MEDIVAC_ENERGY_START


def start_positions(tables: BattleTables, cfg: StarCraftConfig, batch: int,
                    generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Start positions [B, U, 2] and enemy attack points [B, 2].

    Without ``random_start`` every battle starts from the scenario's formation. With it, all
    randomness of a reset is drawn as one [B, 5] tensor: a side swap (point reflection of the
    whole layout through the map centre of the playable box) and a shift of each army's centre.
    """
    dev = tables.start_pos.device
    pos = tables.start_pos.expand(batch, -1, -1).clone()  # [B, U, 2]
    ap = tables.attack_point.expand(batch, -1).clone()  # [B, 2]
    if not cfg.random_start:
        return pos, ap
    u = torch.rand(batch, 5, generator=generator, device=dev)  # [B, 5]
    x0, y0, x1, y1 = tables.box
    centre = torch.tensor([(x0 + x1) / 2, (y0 + y1) / 2], device=dev)
    swap = (u[:, 0] < 0.5)[:, None, None]  # [B, 1, 1]
    pos = torch.where(swap, 2 * centre - pos, pos)
    ap = torch.where(swap[:, 0], 2 * centre - ap, ap)
    shift = (u[:, 1:] * 2 - 1).view(batch, 2, 2) * cfg.start_jitter  # [B, team, 2]
    if tables.walkable is not None:  # terrain maps: slide along the diagonal corridor, never into walls
        shift = shift[..., :1].expand(-1, -1, 2)
    team = (~tables.is_ally).long()  # [U]
    pos = pos + shift[:, team]
    ap = ap + shift[:, 0]
    lo = torch.tensor([x0, y0], device=dev) + 0.5
    hi = torch.tensor([x1, y1], device=dev) - 0.5
    return torch.maximum(torch.minimum(pos, hi), lo), torch.maximum(torch.minimum(ap, hi), lo)


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
