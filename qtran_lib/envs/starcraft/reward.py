"""SMAC's shaped team reward and the battle outcome."""
from __future__ import annotations

import torch

from .config import StarCraftConfig
from .tables import BattleTables


def outcome(alive: torch.Tensor, T: BattleTables) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(terminal, won, lost) [B] bool. An army of only medivacs counts as beaten; both beaten is a draw."""
    fighting = alive & ~T.healer  # [B, U]
    allies_up = fighting[:, :T.n_agents].any(1)
    enemies_up = fighting[:, T.n_agents:].any(1)
    terminal = ~allies_up | ~enemies_up
    return terminal, allies_up & ~enemies_up, enemies_up & ~allies_up


def shaped_reward(prev_hp: torch.Tensor, prev_alive: torch.Tensor, hp: torch.Tensor, alive: torch.Tensor,
                  won: torch.Tensor, lost: torch.Tensor, T: BattleTables, cfg: StarCraftConfig) -> torch.Tensor:
    """Reward [B] of one step (spec §3.4).

    ``prev_hp``/``hp`` [B, U] are health + shield before/after the step. Enemies: damage dealt
    plus ``reward_death_value`` per kill; +``reward_win`` on victory; scaled so a perfect
    episode returns ``reward_scale_rate``.
    """
    N = T.n_agents
    if cfg.reward_sparse:
        return won.float() - lost.float()
    lost_hp = (prev_hp - hp) * prev_alive  # [B, U]
    deaths = (prev_alive & ~alive).float()
    enemy = lost_hp[:, N:].sum(1) + cfg.reward_death_value * deaths[:, N:].sum(1)
    if cfg.reward_only_positive:
        r = enemy.abs() if cfg.reward_abs_compat else enemy.clamp_min(0.0)
    else:
        ally = lost_hp[:, :N].sum(1) + cfg.reward_death_value * deaths[:, :N].sum(1)
        r = enemy - cfg.reward_negative_scale * ally
    r = r + cfg.reward_win * won.float() + cfg.reward_defeat * lost.float()
    if cfg.reward_scale:
        r = r / (T.max_reward / cfg.reward_scale_rate)
    return r
