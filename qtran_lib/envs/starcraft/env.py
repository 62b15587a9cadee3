"""``StarCraftEnv``: SMAC-style micro battles, a whole batch stepped with tensor ops.

Introduced in book/06_starcraft. Implements the library's batched protocol (``base.py``) on
top of the simulator in ``battle.py``. ``info`` of ``step`` holds ``battle_won``, ``draw``,
``dead_allies`` and ``dead_enemies`` [B] next to the base class's ``truncated`` and ``active``.

``autoreset=True`` restarts each battle as soon as it ends (``base.py`` defines what ``step``
returns then); row b's k-th battle starts from (seed, b, k) alone (``resets.py``), so a row's
battles do not depend on when the other rows finish. The default (lockstep) keeps finished
battles frozen until ``reset()``, exactly as before.
"""
from __future__ import annotations

import dataclasses

import torch

from ..base import EnvInfo, MultiAgentEnv
from .battle import TickConsts, apply_orders, simulate
from .config import StarCraftConfig
from .features import agent_geometry, avail_actions, build_layout, global_state, observations
from .layout import initial_state
from .resets import fresh_battles, start_template
from .reward import outcome, shaped_reward
from .scenarios import Scenario, get_scenario
from .state import BattleState
from .tables import build_tables

SIMULATOR_VERSION = 2
"""1: the first simulator (collisions once per step, procedural corridor, enemies chasing after the attack point,
shields and medivacs in the wrong time unit); 2: SMAC's physics and maps (collisions every tick, SMAC's corridor
grid and placements, SC2 game-second constants, ground-only weapons, one attack-move order, SMAC's obs quirks).
The results a run folder holds were trained under the version its checkpoint records."""


class StarCraftEnv(MultiAgentEnv):
    """A batch of ``batch_size`` battles of one scenario (SMAC v1 interface)."""

    supports_autoreset = True
    rules_version = SIMULATOR_VERSION

    def __init__(self, scenario: str | Scenario = "3m", batch_size: int = 1, device="cpu", seed: int | None = None,
                 config: StarCraftConfig | None = None, autoreset: bool = False, **options):
        super().__init__(batch_size, device, seed)
        self.autoreset = bool(autoreset)
        self._seed = 0 if seed is None else int(seed)
        cfg = config or StarCraftConfig()
        unknown = set(options) - set(vars(cfg))
        if unknown:
            raise TypeError(f"unknown StarCraft option(s) {sorted(unknown)}; options: {sorted(vars(cfg))}")
        cfg = dataclasses.replace(cfg, **options)
        _ = cfg.dt  # validates time_base and tick counts
        self.config = cfg
        self.scenario = get_scenario(scenario)
        self.tables = build_tables(self.scenario, self.device)
        self.layout = build_layout(self.tables, cfg, self.device)
        L = self.layout
        self._info = EnvInfo(self.tables.n_agents, L.n_actions, L.obs_dim, L.state_dim, self.scenario.episode_limit)
        self._rows = torch.arange(batch_size, device=self.device)  # [B]
        self._template = start_template(self.tables, cfg, self._info.n_actions)  # [1] the formation, no draws
        self._start_features: tuple | None = None  # obs, state, avail of the fixed start (autoreset, no random_start)
        self.battle: BattleState = self._new_battles()
        self._cache: dict = {}
        self._consts = TickConsts(self.tables, cfg.dt, batch_size, self.device)

    def _new_battles(self) -> BattleState:
        """A new battle in every row: from the generator (lockstep), or from (seed, row, episode) (autoreset)."""
        if self.autoreset:
            return fresh_battles(self.tables, self.config, self._info.n_actions, self._seed, self._rows, self.episode,
                                 self._template).clone()
        return initial_state(self.tables, self.config, self.batch_size, self._info.n_actions, self.generator)

    # ---- protocol ------------------------------------------------------------------------------
    def env_info(self) -> EnvInfo:
        return self._info

    def seed(self, seed: int) -> None:
        """Re-seed as the constructor does, including its draw of a first battle, so that ``env.reset(seed=s)`` and
        ``StarCraftEnv(seed=s).reset()`` start the same battles (with ``random_start`` too)."""
        super().seed(seed)
        self._seed = int(seed)
        self.battle = self._new_battles()

    def _reset(self) -> None:
        self.battle = self._new_battles()
        self._cache = {}

    def _restart(self, done: torch.Tensor) -> None:
        """Autoreset: new battles in the rows ``done`` [B]; their obs/state/avail replace those rows of the
        cached features (the ended battles' features stay in ``step``'s ``info["final_*"]``)."""
        idx = done.nonzero().squeeze(1)  # [K]
        fresh = fresh_battles(self.tables, self.config, self._info.n_actions, self._seed, idx, self.episode[idx],
                              self._template)
        final = {"obs": self.get_obs(), "state": self.get_state(), "avail": self.get_avail_actions()}
        self.battle = self.battle.put_rows(idx, fresh)
        if self.config.random_start:
            new = self._features_of(fresh, self.t[idx])
        else:  # every battle starts from the same formation: its features are computed once
            if self._start_features is None:
                one = fresh.rows(slice(0, 1))
                self._start_features = self._features_of(one, torch.zeros(1, dtype=torch.long, device=self.device))
            new = tuple(f.expand(len(idx), *f.shape[1:]) for f in self._start_features)
        self._cache = {k: final[k].index_copy(0, idx, v) for k, v in zip(("obs", "state", "avail"), new)}

    def _features_of(self, s: BattleState, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """obs, state and avail of the battles ``s`` at steps ``t``."""
        T, cfg = self.tables, self.config
        geometry = agent_geometry(s, T)
        avail = avail_actions(s, T, cfg, geometry[2])
        obs = observations(s, T, cfg, self.layout, geometry, avail, t, self._info.episode_limit)
        return obs, global_state(s, T, cfg, self.layout), avail

    def _step(self, actions: torch.Tensor):
        T, cfg, old = self.tables, self.config, self.battle
        s = BattleState(**vars(old))  # shallow copy: the ticks replace tensors, never write into them
        prev_hp = old.hp + old.shield
        apply_orders(s, actions, T, cfg.move_amount)
        simulate(s, T, cfg, self._consts)
        active = self.active
        if not self.autoreset and not bool(active.all()):  # one host sync per step; freezes finished battles
            s = s.where(active, old)
        self.battle = s
        self._cache = {}
        terminal, won, lost = outcome(s.alive, T)
        reward = shaped_reward(prev_hp, old.alive, s.hp + s.shield, s.alive, won, lost, T, cfg)
        dead = ~s.alive
        info = {
            "battle_won": won & active,
            "draw": terminal & ~won & ~lost & active,
            "dead_allies": dead[:, :T.n_agents].sum(1),
            "dead_enemies": dead[:, T.n_agents:].sum(1),
        }
        return reward, terminal, info

    def _features(self) -> dict:
        c = self._cache
        if "geometry" not in c:  # after a restart the cache holds obs/state/avail only
            c["geometry"] = agent_geometry(self.battle, self.tables)
        if "avail" not in c:
            c["avail"] = avail_actions(self.battle, self.tables, self.config, c["geometry"][2])
        return c

    def get_avail_actions(self) -> torch.Tensor:
        return self._features()["avail"]

    def get_obs(self) -> torch.Tensor:
        f = self._features()
        if "obs" not in f:
            f["obs"] = observations(self.battle, self.tables, self.config, self.layout, f["geometry"], f["avail"],
                                    self.t, self._info.episode_limit)
        return f["obs"]

    def get_state(self) -> torch.Tensor:
        f = self._features()
        if "state" not in f:
            f["state"] = global_state(self.battle, self.tables, self.config, self.layout)
        return f["state"]

    # ---- extras --------------------------------------------------------------------------------
    def get_battle_state(self) -> BattleState:
        """A copy of the simulator's tensors (for tests, replays and rendering)."""
        return self.battle.clone()

    def set_battle_state(self, state: BattleState) -> None:
        """Replace the simulator's tensors, e.g. with rows of another env's ``get_battle_state``."""
        if state.hp.shape != self.battle.hp.shape:
            raise ValueError(f"battle state has shape {tuple(state.hp.shape)}, expected {tuple(self.battle.hp.shape)}")
        self.battle = state.clone()
        self._cache = {}

    @property
    def n_agents(self) -> int:
        return self.tables.n_agents

    @property
    def n_enemies(self) -> int:
        return self.tables.n_enemies


def make_starcraft(spec: str, batch_size: int = 1, device="cpu", seed: int | None = None, **kw) -> StarCraftEnv:
    """Registry entry: ``make_env("starcraft:3m", batch_size=1024)`` or ``starcraft:path/to/battle.yaml``."""
    return StarCraftEnv(spec or "3m", batch_size=batch_size, device=device, seed=seed, **kw)
