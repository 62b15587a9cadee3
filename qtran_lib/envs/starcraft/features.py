"""What the agents see: availability masks, per-agent observations and the global state.

Layouts follow SMAC v1 (spec §3.1-3.3) so sizes match the published numbers:
obs = [move (4) | enemies E x (5 + sh_e + tb) | allies (N-1) x (5 + sh_a + tb) | own (1 + sh_a + tb)],
state = [allies N x (4 + sh_a + tb) | enemies E x (3 + sh_e + tb) | last actions N x n_actions].

Speed: every (agent, unit) pair gets one padded feature row, and a static index table picks
SMAC's layout out of them with a single ``gather`` (dropping shield columns where a race has
none, skipping the agent itself among its allies), instead of dozens of slices and cats.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .battle import N_NO_ATTACK, walkable
from .config import StarCraftConfig
from .state import BattleState
from .tables import BattleTables

# padded per-pair features: flag, dist, dx, dy, hp, shield, type one-hot (tb), [last action one-hot], zero pad
_FLAG, _DIST, _DX, _DY, _HP, _SH, _TYPE = range(7)
# padded per-unit state row: hp, cooldown, x, y, shield, type one-hot (tb)
_S_HP, _S_CD, _S_X, _S_Y, _S_SH, _S_TYPE = range(6)


@dataclass
class Layout:
    """Static sizes and gather tables of the SMAC layout for one scenario and config."""

    n_actions: int
    obs_dim: int
    state_dim: int
    pair_width: int
    obs_index: torch.Tensor  # [N, obs_core] positions in the flattened [U * pair_width + n_actions] rows
    state_index: torch.Tensor  # [state_core] positions in the flattened [U * 5 + tb] rows


def build_layout(T: BattleTables, cfg: StarCraftConfig, device) -> Layout:
    """Work out SMAC's obs/state layout once per env."""
    N, E, tb = T.n_agents, T.n_enemies, T.type_bits
    sh_a, sh_e = T.shields_ally, T.shields_enemy
    n_actions = N_NO_ATTACK + E
    la = n_actions if cfg.obs_last_action else 0
    pw = _TYPE + tb + la + 1  # + one zero padding column
    types = list(range(_TYPE, _TYPE + tb))
    enemy_cols = [_FLAG, _DIST, _DX, _DY, _HP] + ([_SH] if sh_e else []) + types
    ally_cols = [_FLAG, _DIST, _DX, _DY, _HP] + ([_SH] if sh_a else []) + types + list(range(_TYPE + tb, pw - 1))
    own_cols = [_HP] + ([_SH] if sh_a else []) + types
    U = T.n_units
    rows = []  # pair features are stored feature-major, [pw, U] per agent: index = column * U + unit
    for i in range(N):
        r = [(pw - 1) * U] * 4  # move availability: filled in after the gather
        for j in range(N, N + E):
            r += [c * U + j for c in enemy_cols]
        for j in range(N):
            if j != i:
                r += [c * U + j for c in ally_cols]
        r += [c * U + i for c in own_cols]
        rows.append(r)
    s_types = list(range(_S_TYPE, _S_TYPE + tb))
    s_ally = [_S_HP, _S_CD, _S_X, _S_Y] + ([_S_SH] if sh_a else []) + s_types
    s_enemy = [_S_HP, _S_X, _S_Y] + ([_S_SH] if sh_e else []) + s_types
    state_index = [c * U + j for j in range(N) for c in s_ally] + [c * U + j for j in range(N, N + E) for c in s_enemy]
    obs_dim = len(rows[0]) + int(cfg.obs_timestep_number) + (N if cfg.obs_agent_id else 0)
    state_dim = len(state_index) + (N * n_actions if cfg.state_last_action else 0)
    return Layout(n_actions, obs_dim, state_dim, pw, torch.tensor(rows, dtype=torch.long, device=device),
                  torch.tensor(state_index, dtype=torch.long, device=device))


def agent_geometry(s: BattleState, T: BattleTables) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """dx, dy [B, N, U] from each agent to every unit, and the distances [B, N, U]."""
    N = T.n_agents
    dx = s.x[:, None, :] - s.x[:, :N, None]
    dy = s.y[:, None, :] - s.y[:, :N, None]
    return dx, dy, torch.hypot(dx, dy)


def avail_actions(s: BattleState, T: BattleTables, cfg: StarCraftConfig, dist: torch.Tensor) -> torch.Tensor:
    """[B, N, n_actions] float mask: dead agents may only no-op; attacks need the target within shoot range."""
    N = T.n_agents
    alive = s.alive[:, :N, None]  # [B, N, 1]
    x, y = s.x[:, :N], s.y[:, :N]
    x0, y0, x1, y1 = T.box
    if T.walkable is None:  # SMAC checks the point half a move away
        moves = torch.stack([y < y1 - 1, y >= y0 + 1, x < x1 - 1, x >= x0 + 1], -1)  # [B, N, 4]
    else:
        g = T.walkable
        moves = torch.stack([walkable(g, x, y + 1), walkable(g, x, y - 1), walkable(g, x + 1, y),
                             walkable(g, x - 1, y)], -1) | T.air[:N, None]
    in_range = dist <= cfg.shoot_range  # [B, N, U]
    attack = s.alive[:, None, N:] & in_range[..., N:]  # [B, N, E]
    if T.ally_healer:
        mates = (s.alive[:, None, :N] & ~T.healer[:N]) & in_range[..., :N]  # [B, N, N]
        k = min(N, T.n_enemies)
        heal = torch.cat([mates[..., :k], torch.zeros_like(attack[..., k:])], -1)
        attack = torch.where(T.healer[:N, None], heal, attack)
    return torch.cat([~alive, alive, moves & alive, attack & alive], -1).float()


def observations(s: BattleState, T: BattleTables, cfg: StarCraftConfig, layout: Layout, geometry: tuple,
                 avail: torch.Tensor, t: torch.Tensor, limit: int) -> torch.Tensor:
    """[B, N, obs_dim] SMAC observations; rows of dead agents are zero."""
    B, U = s.hp.shape
    N = T.n_agents
    dx, dy, dist = geometry  # [B, N, U]
    seen = ((dist < cfg.sight_range) & s.alive[:, None, :] & s.alive[:, :N, None]).float()  # [B, N, U]; dead see nothing
    seen_s = seen / cfg.sight_range
    flag = torch.cat([seen[..., :N], avail[..., N_NO_ATTACK:N_NO_ATTACK + T.n_enemies] * seen[..., N:]], -1)
    cols = [flag, dist * seen_s, dx * seen_s, dy * seen_s, (s.hp / T.hp_max)[:, None, :] * seen,
            (s.shield / T.shield_max.clamp_min(1e-6))[:, None, :] * seen]
    cols += [T.type_onehot[:, k] * seen for k in range(T.type_bits)]
    if cfg.obs_last_action:
        last = torch.nn.functional.one_hot(s.last_action, layout.n_actions).float()  # [B, N, n_actions]
        last = torch.cat([last, torch.zeros(B, U - N, layout.n_actions, device=last.device)], 1)  # [B, U, n_act]
        cols += [last[:, None, :, k] * seen for k in range(layout.n_actions)]
    cols.append(torch.zeros_like(seen))  # padding column, read by the move-availability slots below
    pair = torch.stack(cols, 2).flatten(2)  # [B, N, pw * U]: one copy (feature-major: stacking last is 4x slower)
    obs = pair.gather(2, layout.obs_index.expand(B, -1, -1))
    obs[..., :4] = avail[..., 2:N_NO_ATTACK]  # zero for the dead, like everything else
    parts = [obs]
    if cfg.obs_timestep_number:
        parts.append((t.float() / limit)[:, None, None].expand(-1, N, 1) * s.alive[:, :N, None])
    if cfg.obs_agent_id:
        parts.append(torch.eye(N, device=obs.device).expand(B, -1, -1))
    return torch.cat(parts, -1) if len(parts) > 1 else obs


def global_state(s: BattleState, T: BattleTables, cfg: StarCraftConfig, layout: Layout) -> torch.Tensor:
    """[B, state_dim] SMAC's global state; dead units give zero rows."""
    B = s.hp.shape[0]
    x0, y0, x1, y1 = T.box
    cd = (s.cooldown / T.cooldown_norm).clamp(0, 1)
    if T.ally_healer:
        cd = torch.where(T.healer, s.energy / (T.cooldown_norm * 22.4), cd)
    rows = torch.stack([s.hp / T.hp_max, cd, (s.x - (x0 + x1) / 2) / (x1 - x0), (s.y - (y0 + y1) / 2) / (y1 - y0),
                        s.shield / T.shield_max.clamp_min(1e-6)], 1)  # [B, 5, U] feature-major
    if T.type_bits:
        rows = torch.cat([rows, T.type_onehot.T.expand(B, -1, -1)], 1)
    rows = rows * s.alive[:, None, :]
    state = rows.flatten(1).index_select(1, layout.state_index)
    if cfg.state_last_action:
        last = torch.nn.functional.one_hot(s.last_action, layout.n_actions).float().flatten(1)
        state = torch.cat([state, last], -1)
    return state
