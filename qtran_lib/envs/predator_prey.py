"""Modified predator-prey (MPP) with a miscoordination penalty P (Son et al. 2019, Sec. 4.3).

Introduced in book/05_paper_experiments. N predators (the learning agents) and M prey live on a
d x d grid, at most one entity per cell; cells outside the grid are walls. Each step every
predator picks one of 5 moves (0: up y-1, 1: left x-1, 2: stay, 3: right x+1, 4: down y+1) and
every prey moves uniformly at random. Then, for each prey with k predators in its
4-neighbourhood, the team receives

    +1 if k >= 2 (a capture: two predators cooperate),   -P if k == 1 (a lone attempt),   0 if k == 0.

A lone predator next to a prey is punished every step it stays there, so agents that cannot
coordinate learn to keep away (relative overgeneralisation): the larger P, the stronger the pull.

Episode end (``terminate_on_capture``, default True): the first capture ends the episode, else
the limit of 100 steps. With ``terminate_on_capture=False`` a captured prey respawns on a random
empty cell instead and episodes always last 100 steps (the authors' "endless" scenario).

Move resolution: entities move in index order, predators first, then prey. A move succeeds when
the target cell is inside the grid and empty at that moment. Entities blocked by one that has not
yet moved retry in later passes (at most N + M passes), which reproduces the authors' recursive
rule: a vacated cell can be entered, but swaps and cycles fail.

Observation (per predator, length 3(N+M) + 2):
for every entity (predators then prey) its position relative to the observer, divided by d,
and a visibility flag; then the observer's own position as (p - d/2)/d. With the default
``sight=0`` everything is visible (the authors' learner is fully observed). With ``sight=r > 0``
an entity is visible only within Chebyshev distance r; invisible entities read (0, 0, 0).
The global state is the normalised (x, y) of every entity, 2(N+M) values.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch

from .base import EnvInfo, MultiAgentEnv, joint_actions

# (dx, dy) of actions 0..4, the authors' order: y-1, x-1, stay, x+1, y+1.
MOVES = ((0, -1), (-1, 0), (0, 0), (1, 0), (0, 1))
STAY = 2
CONFIGS = {"2p": dict(n_predators=2, n_prey=1, grid_size=5), "4p": dict(n_predators=4, n_prey=2, grid_size=7)}


class PredatorPrey(MultiAgentEnv):
    """B parallel MPP episodes. ``pos`` [B, N+M, 2] holds integer (x, y) cells: predators first, then prey."""

    def __init__(self, n_predators: int = 2, n_prey: int = 1, grid_size: int = 5, penalty: float = 0.5,
                 episode_limit: int = 100, sight: int = 0, terminate_on_capture: bool = True,
                 batch_size: int = 1, device="cpu", seed: int | None = None):
        super().__init__(batch_size, device, seed)
        if n_predators < 1 or n_prey < 1:
            raise ValueError(f"need at least one predator and one prey, got {n_predators} and {n_prey}")
        if grid_size < 2 or n_predators + n_prey > grid_size * grid_size:
            raise ValueError(f"a {grid_size}x{grid_size} grid cannot hold {n_predators} predators and {n_prey} prey")
        if not (math.isfinite(penalty) and penalty >= 0):
            raise ValueError(f"the penalty P is a magnitude and must be a finite number >= 0, got {penalty}")
        if episode_limit < 1 or sight < 0:
            raise ValueError(f"need episode_limit >= 1 and sight >= 0, got {episode_limit} and {sight}")
        self.n_predators, self.n_prey, self.grid_size = int(n_predators), int(n_prey), int(grid_size)
        self.penalty, self.limit, self.sight = float(penalty), int(episode_limit), int(sight)
        self.terminate_on_capture = bool(terminate_on_capture)
        self.n_entities = self.n_predators + self.n_prey
        self.moves = torch.tensor(MOVES, device=self.device)  # [5, 2]
        self.pos = torch.zeros(batch_size, self.n_entities, 2, dtype=torch.long, device=self.device)

    def env_info(self) -> EnvInfo:
        return EnvInfo(self.n_predators, len(MOVES), obs_dim=3 * self.n_entities + 2, state_dim=2 * self.n_entities,
                       episode_limit=self.limit)

    # ---- placement ---------------------------------------------------------------------------
    def _random_cells(self, rows: torch.Tensor, count: int, occupied: torch.Tensor) -> torch.Tensor:
        """``count`` distinct random empty cells for each row: occupied [R, d*d] bool -> [R, count, 2]."""
        d = self.grid_size
        scores = torch.rand(rows.numel(), d * d, generator=self.generator, device=self.device)
        scores = scores.masked_fill(occupied, 2.0)  # occupied cells sort last
        cells = scores.argsort(dim=-1)[:, :count]  # [R, count]
        return torch.stack([cells % d, cells // d], dim=-1)

    def _reset(self) -> None:
        rows = torch.arange(self.batch_size, device=self.device)
        empty = torch.zeros(self.batch_size, self.grid_size ** 2, dtype=torch.bool, device=self.device)
        self.pos = self._random_cells(rows, self.n_entities, empty)

    def set_positions(self, predators, prey) -> None:
        """Place entities by hand (tests, the book): predators [B, N, 2] and prey [B, M, 2] as (x, y) cells."""
        pos = torch.cat([torch.as_tensor(predators), torch.as_tensor(prey)], dim=1).to(self.device, torch.long)
        if tuple(pos.shape) != (self.batch_size, self.n_entities, 2):
            raise ValueError(f"positions must give [B, N+M, 2] = {[self.batch_size, self.n_entities, 2]}, "
                             f"got {list(pos.shape)}")
        if bool(((pos < 0) | (pos >= self.grid_size)).any()):
            raise ValueError(f"positions must lie in the {self.grid_size}x{self.grid_size} grid")
        flat = pos[..., 1] * self.grid_size + pos[..., 0]  # [B, E]
        if bool((flat.sort(-1).values.diff(dim=-1) == 0).any()):
            raise ValueError("two entities share a cell")
        self.pos = pos

    # ---- dynamics ----------------------------------------------------------------------------
    def _move(self, moves: torch.Tensor, live: torch.Tensor) -> None:
        """Apply one move per entity (moves [B, E] in 0..4) for rows in ``live`` [B], in index order."""
        d = self.grid_size
        target = self.pos + self.moves[moves]  # [B, E, 2]
        inside = ((target >= 0) & (target < d)).all(-1)  # [B, E]
        pending = live.unsqueeze(-1) & inside & (moves != STAY)  # [B, E] moves still to try
        for _ in range(self.n_entities):
            progressed = False
            for e in range(self.n_entities):
                cand = pending[:, e]
                if not bool(cand.any()):
                    continue
                free = ~(self.pos == target[:, e:e + 1]).all(-1).any(-1)  # [B] target cell empty now
                go = cand & free
                if bool(go.any()):
                    self.pos[go, e] = target[go, e]
                    pending[go, e] = False
                    progressed = True
            if not progressed:
                break

    def adjacent_counts(self) -> torch.Tensor:
        """[B, M] number of predators in each prey's 4-neighbourhood (Manhattan distance 1)."""
        pred, prey = self.pos[:, : self.n_predators], self.pos[:, self.n_predators:]
        dist = (pred.unsqueeze(2) - prey.unsqueeze(1)).abs().sum(-1)  # [B, N, M]
        return (dist == 1).sum(1)

    def team_reward(self, counts: torch.Tensor) -> torch.Tensor:
        """Sum over prey of +1 (k >= 2), -P (k == 1), 0 (k == 0): counts [B, M] -> [B]."""
        r = (counts >= 2).float() - self.penalty * (counts == 1).float()
        return r.sum(-1)

    def _step(self, actions):
        live = self.active.clone()
        prey_moves = torch.randint(len(MOVES), (self.batch_size, self.n_prey), generator=self.generator,
                                   device=self.device)
        self._move(torch.cat([actions.long(), prey_moves], dim=1), live)
        counts = self.adjacent_counts()  # [B, M]
        reward = self.team_reward(counts)
        captured = (counts >= 2) & live.unsqueeze(-1)  # [B, M]
        caught_any = captured.any(-1)
        if self.terminate_on_capture:
            terminal = caught_any
        else:
            terminal = torch.zeros_like(caught_any)
            self._respawn(captured)
        lone = ((counts == 1) & live.unsqueeze(-1)).sum(-1).float()  # [B] prey with a lone predator
        # battle_won: the runner ORs it over the episode, so test_won_mean is the capture rate
        return reward, terminal, {"captures": captured.sum(-1).float(), "lone": lone, "battle_won": caught_any}

    def _respawn(self, captured: torch.Tensor) -> None:
        """Move every captured prey to a random empty cell (endless mode)."""
        d = self.grid_size
        for m in range(self.n_prey):
            rows = captured[:, m].nonzero().flatten()
            if rows.numel() == 0:
                continue
            flat = self.pos[rows, :, 1] * d + self.pos[rows, :, 0]  # [R, E]
            occupied = torch.zeros(rows.numel(), d * d, dtype=torch.bool, device=self.device)
            occupied.scatter_(1, flat, True)
            self.pos[rows, self.n_predators + m] = self._random_cells(rows, 1, occupied)[:, 0]

    # ---- what the agents see -----------------------------------------------------------------
    def get_obs(self):
        d = self.grid_size
        pred = self.pos[:, : self.n_predators].float()  # [B, N, 2]
        rel = self.pos.float().unsqueeze(1) - pred.unsqueeze(2)  # [B, N, E, 2] entity - observer
        if self.sight > 0:
            seen = (rel.abs().amax(-1) <= self.sight).float()  # [B, N, E]
        else:
            seen = torch.ones(rel.shape[:-1], device=self.device)
        ents = torch.cat([rel / d * seen.unsqueeze(-1), seen.unsqueeze(-1)], dim=-1)  # [B, N, E, 3]
        own = (pred - d / 2) / d  # [B, N, 2]
        return torch.cat([ents.flatten(2), own], dim=-1)

    def get_state(self):
        return ((self.pos.float() - self.grid_size / 2) / self.grid_size).flatten(1)  # [B, 2E]

    def get_avail_actions(self):
        return torch.ones(self.batch_size, self.n_predators, len(MOVES), device=self.device)


@dataclass
class TabularModel:
    """Every placement of the 1-prey task and what each (predator joint action, prey move) does to it.

    Joint action u = sum_i u_i 5^(N-1-i) (predator 0 most significant); prey moves are averaged over."""
    states: torch.Tensor  # [S, E] flat cells y*d + x, predators first, prey last
    reward: torch.Tensor  # [S, U, 5] team reward
    nxt: torch.Tensor  # [S, U, 5] index of the placement after the moves
    caught: torch.Tensor  # [S, U, 5] the prey was caught (it then reappears elsewhere in endless mode)
    respawn_sum: torch.Tensor  # [S, U, 5] -> index into by_predators: where the predators stand after the moves
    predator_key: torch.Tensor  # [S] the same index for each placement
    cells: int
    n_predators: int
    penalty: float

    def check_policy(self, policy: torch.Tensor) -> None:
        n_joint = self.reward.shape[1]
        if policy.shape != (len(self.states),) or policy.dtype != torch.long:
            raise ValueError(f"a joint policy is a long tensor [S] = [{len(self.states)}], got "
                             f"{policy.dtype} {list(policy.shape)}")
        if bool(((policy < 0) | (policy >= n_joint)).any()):
            raise ValueError(f"joint actions must lie in 0..{n_joint - 1}")

    def expected(self, value: torch.Tensor, terminate_on_capture: bool, gamma: float = 1.0) -> torch.Tensor:
        """E_prey[r + gamma V(next)] for every placement and joint action: value [S] -> [S, U]."""
        cont = value[self.nxt]  # [S, U, 5]
        if terminate_on_capture:
            cont = torch.where(self.caught, torch.zeros((), dtype=value.dtype), cont)
        else:  # a caught prey reappears uniformly on a cell that is empty and not its own (see _respawn)
            by_predators = torch.zeros(self.cells ** self.n_predators, dtype=value.dtype)
            by_predators.index_add_(0, self.predator_key, value)
            spawned = (by_predators[self.respawn_sum] - cont) / (self.cells - self.n_predators - 1)
            cont = torch.where(self.caught, spawned, cont)
        return (self.reward + gamma * cont).mean(-1)


def tabulate(penalty: float, n_predators: int = 2, grid_size: int = 5, max_rows: int = 5_000_000) -> TabularModel:
    """The whole task as tables, built by running ``PredatorPrey._move`` once on every case (one prey)."""
    n_ent, cells = n_predators + 1, grid_size * grid_size
    n_cases = len(MOVES) ** n_ent  # predators' joint action x prey move
    n_states = math.perm(cells, n_ent)
    if n_states * n_cases > max_rows:
        raise ValueError(f"{n_predators} predators on a {grid_size}x{grid_size} grid give {n_states} states x "
                         f"{n_cases} moves, more than max_rows={max_rows}: too large to solve exactly")
    states = torch.tensor(list(itertools.permutations(range(cells), n_ent)))  # [S, E]
    index = torch.full((cells,) * n_ent, -1, dtype=torch.long)
    index[tuple(states.T)] = torch.arange(n_states)
    moves = joint_actions(n_ent, len(MOVES)).repeat(n_states, 1)  # [R, E] (state, joint action, prey move) rows
    env = PredatorPrey(n_predators, 1, grid_size, penalty, batch_size=len(moves))
    flat = states.repeat_interleave(n_cases, 0)  # [R, E]
    env.pos = torch.stack([flat % grid_size, flat // grid_size], -1)
    env._move(moves, torch.ones(len(moves), dtype=torch.bool))
    counts = env.adjacent_counts()  # [R, 1]
    after = env.pos[..., 1] * grid_size + env.pos[..., 0]  # [R, E]
    place = cells ** torch.arange(n_predators - 1, -1, -1)  # [N] digits of the predators' key
    shape = (n_states, n_cases // len(MOVES), len(MOVES))
    return TabularModel(states, env.team_reward(counts).double().view(shape), index[tuple(after.T)].view(shape),
                        (counts[:, 0] >= 2).view(shape), (after[:, :-1] * place).sum(-1).view(shape),
                        (states[:, :-1] * place).sum(-1), cells, n_predators, float(penalty))


def optimal_return(penalty: float, terminate_on_capture: bool = True, n_predators: int = 2, grid_size: int = 5,
                   episode_limit: int = 100, model: TabularModel | None = None) -> float:
    """The best mean undiscounted episode return any joint policy can reach (finite-horizon dynamic programming).

    The reference line for the learning curves, like E_x[max G] for the Gaussian squeeze. The task is
    fully observed, so decentralised greedy agents can realise this centralised optimum. The 2-predator
    5x5 task has 13,800 placements; ``model`` reuses tables from ``tabulate``.
    """
    model = model or tabulate(penalty, n_predators, grid_size)
    if (model.penalty, model.n_predators, model.cells) != (float(penalty), n_predators, grid_size ** 2):
        raise ValueError(f"the model was tabulated for P = {model.penalty}, {model.n_predators} predators and "
                         f"{model.cells} cells, not P = {penalty}, {n_predators} and {grid_size ** 2}")
    value = torch.zeros(len(model.states), dtype=torch.float64)  # [S] optimal value with k steps to go
    for _ in range(episode_limit):
        value = model.expected(value, terminate_on_capture).max(-1).values
    return float(value.mean())  # the reset draws every placement with equal probability


def policy_return(model: TabularModel, policy: torch.Tensor, terminate_on_capture: bool = True,
                  episode_limit: int = 100) -> float:
    """The exact mean undiscounted return of a deterministic joint policy: policy [S] joint actions."""
    model.check_policy(policy)
    value = torch.zeros(len(model.states), dtype=torch.float64)
    for _ in range(episode_limit):
        value = model.expected(value, terminate_on_capture).gather(1, policy[:, None]).squeeze(1)
    return float(value.mean())


def q_values(model: TabularModel, policy: torch.Tensor | None = None, terminate_on_capture: bool = True,
             gamma: float = 0.99, sweeps: int = 1000) -> torch.Tensor:
    """Discounted Q^pi [S, U] of a deterministic joint policy [S], or Q* with ``policy=None``: the
    values the TD targets of training estimate (gamma^sweeps bounds the error)."""
    if policy is not None:
        model.check_policy(policy)
    value = torch.zeros(len(model.states), dtype=torch.float64)
    for _ in range(sweeps):
        q = model.expected(value, terminate_on_capture, gamma)  # [S, U]
        value = q.max(-1).values if policy is None else q.gather(1, policy[:, None]).squeeze(1)
    return q


def _parse_spec(spec: str) -> dict:
    """'' | '2p' | '4p' | '4p:penalty=1.5' | 'penalty=1.0,sight=2' -> keyword arguments."""
    out: dict = {}
    ints = ("n_predators", "n_prey", "grid_size", "episode_limit", "sight")
    for p in [p for p in spec.replace(":", ",").split(",") if p.strip()] if spec else []:
        key, eq, value = p.partition("=")
        key = key.strip()
        if not eq:
            if key not in CONFIGS:
                raise ValueError(f"unknown predator-prey configuration {key!r}; use {' or '.join(CONFIGS)} "
                                 "or options like 'predator_prey:penalty=1.5'")
            out.update(CONFIGS[key])
            continue
        try:
            if key in ints:
                out[key] = int(value)
            elif key == "penalty":
                out[key] = float(value)
            elif key == "terminate_on_capture":
                if value.strip().lower() not in ("true", "false", "1", "0"):
                    raise ValueError
                out[key] = value.strip().lower() in ("true", "1")
            else:
                raise KeyError(key)
        except ValueError:
            raise ValueError(f"cannot read {key}={value!r} in predator-prey spec {spec!r}") from None
        except KeyError:
            raise ValueError(f"unknown predator-prey option {key!r} in {spec!r}; known: "
                             f"{', '.join(ints + ('penalty', 'terminate_on_capture'))}") from None
    return out


def make_predator_prey(spec: str = "", batch_size: int = 1, device="cpu", seed: int | None = None,
                       **kw) -> PredatorPrey:
    """``predator_prey`` (2 predators, 1 prey, 5x5, P = 0.5), ``predator_prey:4p,penalty=1.5``; kw from env_args."""
    return PredatorPrey(**{**_parse_spec(spec), **kw}, batch_size=batch_size, device=device, seed=seed)
