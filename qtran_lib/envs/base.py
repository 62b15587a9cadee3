"""The batched multi-agent environment protocol every task in the library speaks.

Introduced in book/01_dec_pomdp. The interface follows SMAC (observations, global state,
availability masks, one shared team reward) but every tensor carries a leading batch
dimension ``B`` of independent, parallel episodes, so a whole batch advances in one call.

Symbol | Shape | Meaning
------ | ----- | -------
obs    | [B, N, obs_dim]   | each agent's local observation
state  | [B, state_dim]    | the global state (used only in centralised training)
avail  | [B, N, n_actions] | 1 where an action is available to that agent
actions| [B, N] (int64)    | one action index per agent
reward | [B]               | the shared team reward of this step
terminated | [B] (bool)    | the episode ended in a true terminal state at this step

Lockstep (the default): episodes that already ended stay frozen: their actions are ignored,
their reward is 0, and ``active`` reports which episodes still run until ``reset()`` starts
a new batch. ``info["truncated"]`` marks episodes stopped by the episode limit (not a
terminal state: learners bootstrap through it, as pymarl does).

Autoreset (tasks with ``supports_autoreset``, built with ``autoreset=True``): a row whose
episode ends at a step (terminated or truncated) starts its next episode at once, so every
row is always active and never waits for the others. That step still returns the *ended*
episode's reward, ``terminated``, ``info["truncated"]`` and task entries for the row, and
adds, for every row:

Key | Shape | Meaning
--- | ----- | -------
reset | [B] (bool) | the row's episode ended at this step and a new one started
final_obs | [B, N, obs_dim] | the observation after this step, before any restart (equal to ``get_obs()`` elsewhere)
final_state | [B, state_dim] | likewise for the state (a truncated episode bootstraps from it)
final_avail | [B, N, n_actions] | likewise for the availability mask

``get_obs()``, ``get_state()``, ``get_avail_actions()`` and ``t`` then describe the new episodes.
``episode`` [B] counts episodes per row (0 after seeding; ``reset()`` and each restart add 1),
so a task can draw row b's k-th episode from (seed, b, k) alone, whatever the other rows do.
"""
from __future__ import annotations

import abc
import operator
from dataclasses import asdict, dataclass

import torch


class InvalidActionError(ValueError):
    """Raised when a batch of actions has the wrong shape, dtype, device or picks an unavailable action."""


@dataclass(frozen=True)
class EnvInfo:
    """Static sizes a learner needs to build its networks."""

    n_agents: int
    """N, the number of learning agents."""
    n_actions: int
    """|U|, the size of every agent's action set."""
    obs_dim: int
    """Length of one agent's observation vector."""
    state_dim: int
    """Length of the global state vector."""
    episode_limit: int
    """Maximum number of steps in an episode (1 for one-step games)."""

    def as_dict(self) -> dict:
        return asdict(self)


class MultiAgentEnv(abc.ABC):
    """A batch of ``batch_size`` parallel episodes of one cooperative task on one device.

    Subclasses implement ``_reset`` and ``_step`` on the whole batch with tensor ops;
    this base class owns the bookkeeping shared by every task: the episode clock, the
    ``active`` mask, the episode limit, seeding, and validation of the actions.
    """

    def __init__(self, batch_size: int, device: str | torch.device = "cpu", seed: int | None = None):
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        self.batch_size = batch_size
        self.device = torch.device(device)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(_checked_seed(0 if seed is None else seed))
        self.t = torch.zeros(batch_size, dtype=torch.long, device=self.device)  # [B] steps taken
        self.active = torch.zeros(batch_size, dtype=torch.bool, device=self.device)  # [B]
        self.episode = torch.zeros(batch_size, dtype=torch.long, device=self.device)  # [B] episodes begun per row
        self.autoreset = False  # tasks with supports_autoreset switch it on in their constructor
        self._obs = self._state = self._avail = None

    supports_autoreset = False
    """Whether the task implements ``_restart`` (per-row restarts, see the module docstring)."""
    rules_version = 1
    """The version of the task's rules. A change that alters what an episode does for the same actions bumps it:
    a run trained under one version is not continued under another (``train`` checks it on resume)."""

    # ---- what every task defines -------------------------------------------------------------
    @abc.abstractmethod
    def env_info(self) -> EnvInfo:
        """Sizes of observations, state and actions, and the episode limit."""

    @abc.abstractmethod
    def _reset(self) -> None:
        """Start B new episodes; set the task's internal tensors."""

    @abc.abstractmethod
    def _step(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict]:
        """Advance active episodes by one step. Returns reward [B], terminal [B] and extra info.

        Rows of inactive episodes must be left unchanged; the base class zeroes their reward.
        """

    @abc.abstractmethod
    def get_obs(self) -> torch.Tensor:
        """[B, N, obs_dim] current observation of every agent."""

    @abc.abstractmethod
    def get_state(self) -> torch.Tensor:
        """[B, state_dim] current global state."""

    @abc.abstractmethod
    def get_avail_actions(self) -> torch.Tensor:
        """[B, N, n_actions] availability mask (1 = available) as a float tensor."""

    def _restart(self, done: torch.Tensor) -> None:
        """Autoreset only: start new episodes in the rows ``done`` [B] (bool, at least one True).

        Called after ``t`` and ``episode`` were updated for those rows; afterwards ``get_obs()`` etc. must
        describe the new episodes there and be unchanged elsewhere.
        """
        raise NotImplementedError(f"{type(self).__name__} does not support autoreset")

    # ---- the protocol ------------------------------------------------------------------------
    def seed(self, seed: int) -> None:
        self.generator.manual_seed(_checked_seed(seed))
        self.episode.zero_()

    def reset(self, seed: int | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Start a new batch of episodes. Returns obs [B,N,O], state [B,S], avail [B,N,A]."""
        if seed is not None:
            self.seed(seed)
        self.t.zero_()
        self.active.fill_(True)
        self.episode += 1
        self._reset()
        return self.get_obs(), self.get_state(), self.get_avail_actions()

    def step(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict]:
        """Apply one joint action per episode. Returns reward [B], terminated [B], info.

        ``info`` always holds ``truncated`` [B] (hit the episode limit) and ``active`` [B]
        (still running after this step); tasks add their own entries (e.g. ``battle_won``).
        """
        if self.autoreset:
            return self._step_autoreset(actions)
        if not bool(self.active.any()):
            raise RuntimeError("step() called after every episode in the batch has ended; call reset() first")
        self.check_actions(actions)
        was_active = self.active.clone()
        if not bool(was_active.all()):  # rows of finished episodes are ignored: give _step an in-range action there
            actions = torch.where(was_active.unsqueeze(-1), actions, torch.zeros_like(actions))
        reward, terminal, info = self._step(actions)
        reward = torch.where(was_active, reward, torch.zeros_like(reward))
        terminated = terminal & was_active
        self.t += was_active.long()
        limit = self.env_info().episode_limit
        truncated = was_active & ~terminated & (self.t >= limit)
        self.active = was_active & ~terminated & ~truncated
        info = dict(info)
        info["truncated"] = truncated
        info["active"] = self.active.clone()
        return reward, terminated, info

    def _step_autoreset(self, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict]:
        """``step`` with per-row restarts: every row is active, ended rows restart (module docstring)."""
        self.check_actions(actions)
        reward, terminated, info = self._step(actions)
        self.t += 1
        truncated = ~terminated & (self.t >= self.env_info().episode_limit)
        done = terminated | truncated
        info = dict(info)
        info["truncated"] = truncated
        info["active"] = self.active.clone()  # all True
        info["reset"] = done
        info["final_obs"], info["final_state"], info["final_avail"] = self.get_obs(), self.get_state(), \
            self.get_avail_actions()
        if bool(done.any()):  # the step's one host sync
            self.t.masked_fill_(done, 0)
            self.episode += done.long()
            self._restart(done)
        return reward, terminated, info

    def check_actions(self, actions: torch.Tensor) -> None:
        """Raise InvalidActionError unless ``actions`` is a valid [B, N] int64 batch for active episodes."""
        info = self.env_info()
        expected = (self.batch_size, info.n_agents)
        if not isinstance(actions, torch.Tensor):
            raise InvalidActionError(f"actions must be a torch.Tensor of shape {list(expected)}, got {type(actions).__name__}")
        if tuple(actions.shape) != expected:
            raise InvalidActionError(f"actions must have shape [B, N] = {list(expected)}, got {list(actions.shape)}")
        if actions.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8, torch.int8):
            raise InvalidActionError(f"actions must be an integer tensor (int64), got dtype {actions.dtype}")
        if actions.device != self.device:
            raise InvalidActionError(f"actions are on {actions.device} but the environment runs on {self.device}")
        act = actions.long()
        rows = self.active  # [B]
        # the common case in one fused check and one host sync; the detailed checks below only find the culprit
        ok = (act >= 0) & (act < info.n_actions)
        chosen = self.get_avail_actions().gather(-1, act.clamp(0, info.n_actions - 1).unsqueeze(-1)).squeeze(-1)
        if bool((ok & (chosen > 0) | ~rows.unsqueeze(-1)).all()):  # [B, N]
            return
        all_rows = bool(rows.all())  # the common case: skip the (slow) boolean row selection
        a = act if all_rows else act[rows]
        if a.numel() and (int(a.min()) < 0 or int(a.max()) >= info.n_actions):
            raise InvalidActionError(f"action indices must lie in [0, {info.n_actions - 1}], "
                                     f"got values in [{int(a.min())}, {int(a.max())}]")
        avail = self.get_avail_actions()
        avail = avail if all_rows else avail[rows]  # [B', N, A]
        if a.numel():
            chosen = avail.gather(-1, a.unsqueeze(-1)).squeeze(-1)  # [B', N]
            if bool((chosen <= 0).any()):
                bad = (chosen <= 0).nonzero()[0]
                b = int(rows.nonzero()[bad[0]])
                raise InvalidActionError(
                    f"unavailable action {int(a[bad[0], bad[1]])} chosen by agent {int(bad[1])} in episode {b}; "
                    f"available actions there: {avail[bad[0], bad[1]].nonzero().flatten().tolist()}"
                )

    def __repr__(self) -> str:
        i = self.env_info()
        return (f"{type(self).__name__}(batch_size={self.batch_size}, n_agents={i.n_agents}, n_actions={i.n_actions}, "
                f"obs_dim={i.obs_dim}, state_dim={i.state_dim}, episode_limit={i.episode_limit}, device={self.device})")


def _checked_seed(seed) -> int:
    """An env seed in [0, 2**32): torch's CPU generator keeps 32 bits, so 2**32 would replay seed 0's stream."""
    try:
        seed = operator.index(seed)  # ints and integer tensors/arrays, never 1.7 or "1"
    except TypeError:
        raise ValueError(f"seed must be an integer in [0, 2**32 - 1], got {seed!r}") from None
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed must lie in [0, 2**32 - 1] (torch's generator keeps 32 bits, so larger seeds collide), "
                         f"got {seed}")
    return seed


def joint_actions(n_agents: int, n_actions: int, device="cpu") -> torch.Tensor:
    """Every joint action once, [A^N, N], agent 0's action the most significant digit (row u = sum_i u_i A^(N-1-i))."""
    digits = n_actions ** torch.arange(n_agents - 1, -1, -1, device=device)  # [N]
    return torch.arange(n_actions ** n_agents, device=device)[:, None] // digits % n_actions


def joint_action_index(u: torch.Tensor, n_actions: int) -> torch.Tensor:
    """The inverse of joint_actions: per-agent actions [..., N] -> their row in joint_actions(N, A) [...]."""
    digits = n_actions ** torch.arange(u.shape[-1] - 1, -1, -1, device=u.device)  # [N]
    return (u * digits).sum(-1)
