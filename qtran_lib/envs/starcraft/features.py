"""What the agents see: availability masks, per-agent observations and the global state.

Layouts follow SMAC v1 (spec §3.1-3.3) so sizes match the published numbers:
obs = [move (4) | enemies E x (5 + sh_e + tb) | allies (N-1) x (5 + sh_a + tb) | own (1 + sh_a + tb)],
state = [allies N x (4 + sh_a + tb) | enemies E x (3 + sh_e + tb) | last actions N x n_actions].

Speed: each feature column is computed straight into its place in the output ([B, N, obs_dim]
views with ``out=``), so no [B, N, U, F] intermediate is built and nothing is gathered from one:
one pass over the output, which keeps large maps scaling with B. Only arithmetic that is exact
in IEEE float (products, quotients, comparisons) follows the shared ``hypot``, so the values are
bit-identical to a padded per-pair table.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .battle import N_NO_ATTACK, walkable
from .config import StarCraftConfig
from .state import BattleState
from .tables import BattleTables

# padded per-unit state row: hp, cooldown, x, y, shield, type one-hot (tb)
_S_HP, _S_CD, _S_X, _S_Y, _S_SH, _S_TYPE = range(6)


@dataclass
class Layout:
    """Static sizes of the SMAC layout for one scenario and config."""

    n_actions: int
    obs_dim: int
    state_dim: int
    enemy_width: int  # per enemy: flag, dist, dx, dy, hp, [shield], type one-hot
    ally_width: int  # per ally: the same, [+ last action one-hot]
    own_width: int  # hp, [shield], type one-hot
    others: torch.Tensor  # [N, N-1] agent i's k-th ally (every agent but i, in slot order)
    state_index: torch.Tensor  # [state_core] positions in the flattened [U * 5 + tb] rows


def build_layout(T: BattleTables, cfg: StarCraftConfig, device) -> Layout:
    """Work out SMAC's obs/state layout once per env."""
    N, E, tb = T.n_agents, T.n_enemies, T.type_bits
    sh_a, sh_e = T.shields_ally, T.shields_enemy
    n_actions = N_NO_ATTACK + E
    la = n_actions if cfg.obs_last_action else 0
    enemy_width, ally_width, own_width = 5 + sh_e + tb, 5 + sh_a + tb + la, 1 + sh_a + tb
    U = T.n_units
    others = [[j for j in range(N) if j != i] for i in range(N)]
    s_types = list(range(_S_TYPE, _S_TYPE + tb))
    s_ally = [_S_HP, _S_CD, _S_X, _S_Y] + ([_S_SH] if sh_a else []) + s_types
    s_enemy = [_S_HP, _S_X, _S_Y] + ([_S_SH] if sh_e else []) + s_types
    state_index = [c * U + j for j in range(N) for c in s_ally] + [c * U + j for j in range(N, N + E) for c in s_enemy]
    core = 4 + E * enemy_width + (N - 1) * ally_width + own_width
    obs_dim = core + int(cfg.obs_timestep_number) + (N if cfg.obs_agent_id else 0)
    state_dim = len(state_index) + (N * n_actions if cfg.state_last_action else 0)
    return Layout(n_actions, obs_dim, state_dim, enemy_width, ally_width, own_width,
                  torch.tensor(others, dtype=torch.long, device=device).view(N, N - 1),
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
    if T.walkable is None:  # SMAC checks the cell of the point half a move (1) away, with int() truncating
        # towards zero: at x in (0, 1) "west" looks at int(x - 1) = 0, a playable cell, so SMAC allows it
        # (starcraft2.py, can_move / check_bounds); the same holds for "south" at y in (0, 1)
        moves = torch.stack([y < y1 - 1, (y - 1).trunc() >= y0, x < x1 - 1, (x - 1).trunc() >= x0], -1)  # [B, N, 4]
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
    B = s.hp.shape[0]
    N, E, tb = T.n_agents, T.n_enemies, T.type_bits
    dx, dy, dist = geometry  # [B, N, U]
    seen = ((dist < cfg.sight_range) & s.alive[:, None, :] & s.alive[:, :N, None]).float()  # [B, N, U]; dead see nothing
    seen_s = seen / cfg.sight_range
    hp = s.hp / T.hp_max  # [B, U]
    sh = s.shield / T.shield_max.clamp_min(1e-6) if T.shields_ally or T.shields_enemy else None
    obs = dist.new_empty(B, N, layout.obs_dim)
    obs[..., :4] = avail[..., 2:N_NO_ATTACK]  # move availability: zero for the dead, like everything else
    o = 4
    if E:  # enemies: [B, N, E, enemy_width] view of obs
        e = obs[..., o:o + E * layout.enemy_width].unflatten(-1, (E, layout.enemy_width))
        o += E * layout.enemy_width
        torch.mul(avail[..., N_NO_ATTACK:N_NO_ATTACK + E], seen[..., N:], out=e[..., 0])  # flag: attackable and seen
        _pair_columns(e, None, seen[..., N:], seen_s[..., N:], dist[..., N:], dx[..., N:], dy[..., N:],
                      hp[:, None, N:], sh[:, None, N:] if T.shields_enemy else None, T.type_onehot[N:])
    if N > 1:  # other allies: [B, N, N-1, ally_width] view, agent i's own slot skipped
        a = obs[..., o:o + (N - 1) * layout.ally_width].unflatten(-1, (N - 1, layout.ally_width))
        o += (N - 1) * layout.ally_width
        idx = layout.others.expand(B, -1, -1)  # [B, N, N-1]
        seen_a = seen[..., :N].gather(2, idx)
        others = layout.others
        _pair_columns(a, seen_a, seen_a, seen_s[..., :N].gather(2, idx), dist[..., :N].gather(2, idx),
                      dx[..., :N].gather(2, idx), dy[..., :N].gather(2, idx), hp[:, others],
                      sh[:, others] if T.shields_ally else None, T.type_onehot[others])
        if cfg.obs_last_action:
            last = torch.nn.functional.one_hot(s.last_action, layout.n_actions).float()  # [B, N, n_actions]
            torch.mul(last[:, others], seen_a[..., None], out=a[..., a.shape[-1] - layout.n_actions:])
    own = obs[..., o:o + layout.own_width]  # hp, shield, type of the agent itself, seen iff alive
    o += layout.own_width
    seen_i = seen.diagonal(dim1=1, dim2=2)  # [B, N]
    torch.mul(hp[:, :N], seen_i, out=own[..., 0])
    if T.shields_ally:
        torch.mul(sh[:, :N], seen_i, out=own[..., 1])
    if tb:
        torch.mul(seen_i[..., None], T.type_onehot[:N], out=own[..., own.shape[-1] - tb:])
    if cfg.obs_timestep_number:
        torch.mul((t.float() / limit)[:, None], s.alive[:, :N], out=obs[..., o])
        o += 1
    if cfg.obs_agent_id:
        obs[..., o:o + N] = torch.eye(N, device=obs.device)
    return obs


def _pair_columns(out, flag, seen, seen_s, dist, dx, dy, hp, sh, types) -> None:
    """Write flag (unless None), dist, dx, dy, hp, [shield], type one-hot of every (agent, unit) pair into
    ``out`` [B, N, K, F]."""
    if flag is not None:
        out[..., 0] = flag
    torch.mul(dist, seen_s, out=out[..., 1])
    torch.mul(dx, seen_s, out=out[..., 2])
    torch.mul(dy, seen_s, out=out[..., 3])
    torch.mul(hp, seen, out=out[..., 4])
    c = 5
    if sh is not None:
        torch.mul(sh, seen, out=out[..., 5])
        c = 6
    if types.shape[-1]:
        torch.mul(seen[..., None], types, out=out[..., c:c + types.shape[-1]])


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
