"""What the agents see: availability masks, per-agent observations and the global state.

Layouts follow SMAC v1 (spec §3.1-3.3) so sizes match the published numbers:
obs = [move (4) | enemies E x (5 + sh_e + tb) | allies (N-1) x (5 + sh_a + tb) | own (1 + sh_a + tb)],
state = [allies N x (4 + sh_a + tb) | enemies E x (3 + sh_e + tb) | last actions N x n_actions].
"""
from __future__ import annotations

import torch

from .battle import N_NO_ATTACK, walkable
from .config import StarCraftConfig
from .state import BattleState
from .tables import BattleTables


def sizes(T: BattleTables, cfg: StarCraftConfig) -> dict:
    """Widths of every block, derived from the scenario and options."""
    N, E, tb = T.n_agents, T.n_enemies, T.type_bits
    sh_a, sh_e = int(T.shields_ally), int(T.shields_enemy)
    n_actions = N_NO_ATTACK + E
    enemy_f = 5 + sh_e + tb
    ally_f = 5 + sh_a + tb + (n_actions if cfg.obs_last_action else 0)
    own_f = 1 + sh_a + tb
    obs = 4 + E * enemy_f + (N - 1) * ally_f + own_f + int(cfg.obs_timestep_number) + (N if cfg.obs_agent_id else 0)
    state = N * (4 + sh_a + tb) + E * (3 + sh_e + tb) + (N * n_actions if cfg.state_last_action else 0)
    return {"n_actions": n_actions, "obs": obs, "state": state, "enemy_f": enemy_f, "ally_f": ally_f}


def others_index(n: int, device) -> torch.Tensor:
    """[N, N-1] the other agents of each agent, in slot order."""
    idx = torch.arange(n, device=device)
    return torch.stack([torch.cat([idx[:i], idx[i + 1:]]) for i in range(n)]) if n > 1 else idx[:, :0]


def agent_geometry(s: BattleState, T: BattleTables) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """dx, dy [B, N, U] from each agent to every unit, and the distances [B, N, U]."""
    N = T.n_agents
    dx = s.x[:, None, :] - s.x[:, :N, None]
    dy = s.y[:, None, :] - s.y[:, :N, None]
    return dx, dy, torch.hypot(dx, dy)


def avail_actions(s: BattleState, T: BattleTables, cfg: StarCraftConfig, dist: torch.Tensor) -> torch.Tensor:
    """[B, N, n_actions] float mask: dead agents may only no-op; attacks need the target within shoot range."""
    N = T.n_agents
    alive = s.alive[:, :N]  # [B, N]
    x, y = s.x[:, :N], s.y[:, :N]
    x0, y0, x1, y1 = T.box
    if T.walkable is None:
        moves = torch.stack([y + 1 < y1, y - 1 >= y0, x + 1 < x1, x - 1 >= x0], -1)  # [B, N, 4]
    else:
        g = T.walkable
        moves = torch.stack([walkable(g, x, y + 1), walkable(g, x, y - 1), walkable(g, x + 1, y),
                             walkable(g, x - 1, y)], -1)
        moves = moves | T.air[:N, None]
    attack = s.alive[:, None, N:] & (dist[:, :, N:] <= cfg.shoot_range)  # [B, N, E]
    if T.ally_healer:
        mates = s.alive[:, None, :N] & ~T.healer[None, None, :N] & (dist[:, :, :N] <= cfg.shoot_range)  # [B, N, N]
        heal = torch.zeros_like(attack)
        k = min(N, T.n_enemies)
        heal[..., :k] = mates[..., :k]
        attack = torch.where(T.healer[:N, None], heal, attack)
    alive_ = alive[..., None]
    avail = torch.cat([~alive_, alive_, moves & alive_, attack & alive_], -1)
    return avail.float()


def observations(s: BattleState, T: BattleTables, cfg: StarCraftConfig, geometry: tuple, avail: torch.Tensor,
                 others: torch.Tensor, t: torch.Tensor, limit: int) -> torch.Tensor:
    """[B, N, obs_dim] SMAC observations; rows of dead agents are zero."""
    B = s.hp.shape[0]
    N = T.n_agents
    sight = cfg.sight_range
    dx, dy, dist = geometry
    rel = torch.stack([dist, dx, dy], -1) / sight  # [B, N, U, 3]
    seen = (s.alive[:, None, :] & (dist < sight))[..., None].float()  # [B, N, U, 1]
    unit = unit_features(s, T)  # [B, U, F]
    sh_e, sh_a = int(T.shields_enemy), int(T.shields_ally)

    e_unit = _health_block(unit[:, N:], sh_e, T)  # [B, E, 1+sh+tb]
    enemies = torch.cat([avail[..., N_NO_ATTACK:N_NO_ATTACK + T.n_enemies, None], rel[:, :, N:],
                         e_unit[:, None].expand(-1, N, -1, -1)], -1) * seen[:, :, N:]  # [B, N, E, Fe]
    a_unit = _health_block(unit[:, :N], sh_a, T)  # [B, N, 1+sh+tb]
    ally_parts = [torch.ones_like(rel[:, :, :N, :1]), rel[:, :, :N], a_unit[:, None].expand(-1, N, -1, -1)]
    if cfg.obs_last_action:
        n_act = N_NO_ATTACK + T.n_enemies
        ally_parts.append(torch.nn.functional.one_hot(s.last_action, n_act).float()[:, None].expand(-1, N, -1, -1))
    allies = torch.cat(ally_parts, -1) * seen[:, :, :N]  # [B, N, N, Fa]
    allies = allies.gather(2, others[None, :, :, None].expand(B, -1, -1, allies.shape[-1]))  # [B, N, N-1, Fa]
    parts = [avail[..., 2:N_NO_ATTACK], enemies.flatten(2), allies.flatten(2), a_unit]
    if cfg.obs_timestep_number:
        parts.append((t.float() / limit)[:, None, None].expand(-1, N, 1))
    obs = torch.cat(parts, -1) * s.alive[:, :N, None]
    if cfg.obs_agent_id:
        obs = torch.cat([obs, torch.eye(N, device=obs.device).expand(B, -1, -1)], -1)
    return obs


def unit_features(s: BattleState, T: BattleTables) -> torch.Tensor:
    """[B, U, 2 + tb]: hp fraction, shield fraction, type one-hot."""
    hp = s.hp / T.hp_max
    sh = s.shield / T.shield_max.clamp_min(1e-6)
    onehot = T.type_onehot.expand(s.hp.shape[0], -1, -1)
    return torch.cat([hp[..., None], sh[..., None], onehot], -1)


def _health_block(unit: torch.Tensor, with_shield: int, T: BattleTables) -> torch.Tensor:
    return unit if with_shield else torch.cat([unit[..., :1], unit[..., 2:]], -1)


def global_state(s: BattleState, T: BattleTables, cfg: StarCraftConfig) -> torch.Tensor:
    """[B, state_dim] SMAC's global state; dead units give zero rows."""
    N = T.n_agents
    x0, y0, x1, y1 = T.box
    centre = torch.tensor([(x0 + x1) / 2, (y0 + y1) / 2], device=s.pos.device)
    extent = torch.tensor([x1 - x0, y1 - y0], device=s.pos.device)
    rel = (torch.stack([s.x, s.y], -1) - centre) / extent  # [B, U, 2]
    unit = unit_features(s, T)
    cd = (s.cooldown / T.cooldown_norm).clamp(0, 1)
    if T.ally_healer:
        cd = torch.where(T.healer, s.energy / T.cooldown_norm / 22.4, cd)
    ally = torch.cat([unit[:, :N, :1], cd[:, :N, None], rel[:, :N], _health_block(unit[:, :N], int(T.shields_ally), T)[..., 1:]], -1)
    enemy = torch.cat([unit[:, N:, :1], rel[:, N:], _health_block(unit[:, N:], int(T.shields_enemy), T)[..., 1:]], -1)
    alive = s.alive[..., None].float()
    parts = [(ally * alive[:, :N]).flatten(1), (enemy * alive[:, N:]).flatten(1)]
    if cfg.state_last_action:
        n_act = N_NO_ATTACK + T.n_enemies
        parts.append(torch.nn.functional.one_hot(s.last_action, n_act).float().flatten(1))
    return torch.cat(parts, -1)
