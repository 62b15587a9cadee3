"""The dynamic state of a batch of battles, as structure-of-arrays tensors."""
from __future__ import annotations

from dataclasses import dataclass, fields

import torch

IDLE, MOVE, ATTACK = 0, 1, 2
"""Order kinds. ATTACK means heal for a medivac."""


@dataclass
class BattleState:
    """Everything that changes during a battle; row b of every tensor is battle b."""

    x: torch.Tensor  # [B, U] position (x and y apart: pairwise ops on [B, U, U] are cheaper than on [B, U, U, 2])
    y: torch.Tensor  # [B, U]
    hp: torch.Tensor  # [B, U]
    shield: torch.Tensor  # [B, U]
    energy: torch.Tensor  # [B, U] medivac energy (0 for others)
    cooldown: torch.Tensor  # [B, U] seconds until the weapon may fire
    since_hit: torch.Tensor  # [B, U] seconds since last damage (shield regen delay)
    alive: torch.Tensor  # [B, U] bool
    mode: torch.Tensor  # [B, U] long: IDLE / MOVE / ATTACK (as ordered at the start of the step)
    target: torch.Tensor  # [B, U] long: slot index of the attack/heal target
    goal_x: torch.Tensor  # [B, U] move-order destination
    goal_y: torch.Tensor  # [B, U]
    attack_point: torch.Tensor  # [B, 2] where the enemy AI attack-moves to
    last_action: torch.Tensor  # [B, N] long

    @property
    def pos(self) -> torch.Tensor:
        """[B, U, 2] positions."""
        return torch.stack([self.x, self.y], -1)

    def clone(self) -> BattleState:
        return BattleState(**{f.name: getattr(self, f.name).clone() for f in fields(self)})

    def rows(self, idx) -> BattleState:
        """The battles ``idx`` (a slice, index tensor or bool mask) as a new state."""
        return BattleState(**{f.name: getattr(self, f.name)[idx].clone() for f in fields(self)})

    def put_rows(self, idx: torch.Tensor, new: BattleState) -> BattleState:
        """This state with rows ``idx`` [K] replaced by the K battles of ``new`` (a new state; no writes in place)."""
        return BattleState(**{f.name: getattr(self, f.name).index_copy(0, idx, getattr(new, f.name)) for f in fields(self)})

    def where(self, keep_new: torch.Tensor, old: BattleState) -> BattleState:
        """Row-wise select: this state where ``keep_new`` [B] is True, else ``old``."""
        out = {}
        for f in fields(self):
            new, prev = getattr(self, f.name), getattr(old, f.name)
            mask = keep_new.view(-1, *([1] * (new.dim() - 1)))
            out[f.name] = torch.where(mask, new, prev)
        return BattleState(**out)
