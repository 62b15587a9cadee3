"""Checkpoints: written atomically, read with ``weights_only=True``, checked against the run's config."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch

FORMAT = "qtran_lib-checkpoint-v1"
# Config keys whose change would make a checkpoint meaningless for this run.
STRUCTURAL = ("algo", "env", "env_args", "agent", "hidden_dim", "obs_last_action", "obs_agent_id", "mixing_embed_dim",
              "hypernet_layers", "hypernet_embed", "qtran_embed_dim", "qtran_use_state", "qtran_use_v", "batch_size_run",
              "buffer_size", "optimizer")


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, unreadable, corrupt or from an incompatible run."""


def save_checkpoint(payload: dict, path: str | Path) -> None:
    """Write to a temporary file in the same folder, then rename: a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".checkpoint-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save({"format": FORMAT, **payload}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(path: str | Path, map_location="cpu") -> dict:
    path = Path(path)
    if path.is_dir():
        path = path / "checkpoint.pt"
    if not path.exists():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises many types for truncated or foreign files
        raise CheckpointError(f"{path} is not a readable checkpoint (corrupt or truncated?): {type(e).__name__}: {e}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a qtran_lib checkpoint (format marker missing or different)")
    return data


def check_compatible(saved: dict, current: dict) -> None:
    diffs = [f"{k}: checkpoint {saved.get(k)!r} vs run {current.get(k)!r}" for k in STRUCTURAL if saved.get(k) != current.get(k)]
    if diffs:
        raise CheckpointError("checkpoint does not match this configuration:\n  " + "\n  ".join(diffs))
