"""Episode replay: a fixed-capacity ring of padded episodes with a ``filled`` mask, sampled uniformly.

Every field is stored as one preallocated tensor [capacity, T + 1, ...]. Index t holds the
observation *before* action t, so obs[:, t + 1] is the next observation of transition t.
"""
from __future__ import annotations

import torch

from .envs.base import EnvInfo


def episode_scheme(info: EnvInfo) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    """Field -> (per-step shape, dtype) of one stored episode step."""
    n, a = info.n_agents, info.n_actions
    return {
        "obs": ((n, info.obs_dim), torch.float32),
        "state": ((info.state_dim,), torch.float32),
        "avail": ((n, a), torch.float32),
        "actions": ((n,), torch.long),
        "reward": ((), torch.float32),
        "terminated": ((), torch.float32),  # 1 at a true terminal step (not at a timeout)
        "filled": ((), torch.float32),  # 1 at real transitions, 0 at padding
    }


def empty_episodes(info: EnvInfo, batch: int, device) -> dict[str, torch.Tensor]:
    """A zeroed episode batch {field: [batch, T + 1, ...]}."""
    t = info.episode_limit + 1
    return {k: torch.zeros(batch, t, *shape, dtype=dt, device=device) for k, (shape, dt) in episode_scheme(info).items()}


class EpisodeBuffer:
    """A ring buffer of padded episodes {field: [capacity, T+1, ...]} with a `filled` mask for the real steps."""
    def __init__(self, info: EnvInfo, capacity: int, device="cpu"):
        if capacity < 1:
            raise ValueError(f"buffer capacity must be positive, got {capacity}")
        self.capacity, self.device = capacity, torch.device(device)
        self.data = empty_episodes(info, capacity, self.device)
        self.index = 0  # next slot to write
        self.size = 0

    def insert(self, episodes: dict[str, torch.Tensor]) -> None:
        """Append a batch of episodes {field: [B, T + 1, ...]}, overwriting the oldest when full."""
        b = episodes["filled"].shape[0]
        if b > self.capacity:
            raise ValueError(f"cannot insert {b} episodes into a buffer of capacity {self.capacity}")
        slots = (torch.arange(b) + self.index) % self.capacity
        for k, v in self.data.items():
            if k not in episodes:
                raise KeyError(f"episode batch lacks field {k!r}")
            v[slots.to(self.device)] = episodes[k].to(self.device)
        self.index = (self.index + b) % self.capacity
        self.size = min(self.size + b, self.capacity)

    def can_sample(self, n: int) -> bool:
        return self.size >= n

    def sample(self, n: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """n episodes drawn uniformly without replacement, trimmed to the longest filled one."""
        if not self.can_sample(n):
            raise ValueError(f"buffer holds {self.size} episodes, cannot sample {n}")
        idx = torch.randperm(self.size, generator=generator)[:n].to(self.device)
        batch = {k: v[idx] for k, v in self.data.items()}
        t = int(batch["filled"].sum(1).max().item())
        return {k: v[:, : t + 1] for k, v in batch.items()}

    def state_dict(self) -> dict:
        """The filled slots only: {field: [size, T + 1, ...]} (slots fill 0, 1, ... until the ring wraps).

        A partly filled buffer is cloned (torch.save writes a view's whole storage, which would be the preallocated
        buffer again); a full one is returned as it is, not copied: for a StarCraft run that copy was 3.3 GB more
        memory at every checkpoint. Serialise it before the buffer changes (``save_checkpoint`` does at once).
        """
        full = self.size == self.capacity
        return {"data": {k: v if full else v[: self.size].clone() for k, v in self.data.items()}, "index": self.index,
                "size": self.size, "capacity": self.capacity}

    def load_state_dict(self, sd: dict) -> None:
        size, index = int(sd["size"]), int(sd["index"])
        if not (0 <= size <= self.capacity and 0 <= index < self.capacity and (size == self.capacity or index == size)):
            raise ValueError(f"checkpoint replay buffer holds size={size}, index={index}, which a buffer of capacity "
                             f"{self.capacity} cannot reach")
        for k, v in self.data.items():
            stored = sd["data"].get(k)
            # [size, ...] (the filled slots), or [capacity, ...] in checkpoints that stored the whole buffer
            if stored is None or stored.shape[1:] != v.shape[1:] or stored.shape[0] not in (size, self.capacity):
                raise ValueError(f"checkpoint replay buffer field {k!r} does not match this run's environment")
            v.zero_()
            v[:size].copy_(stored[:size])
        self.index, self.size = index, size
