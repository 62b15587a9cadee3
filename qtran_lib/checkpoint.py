"""Checkpoints: written atomically, sealed with a SHA-256 digest, read with ``weights_only=True``, checked
against the run's config.

File layout (one ``torch.save`` of a plain dict, so ``weights_only=True`` reads it), by key:

- ``format``: ``FORMAT``;
- ``sha256``: hex digest of the payload bytes;
- ``payload``: uint8 tensor [n_bytes], the ``torch.save`` of the run's state dict.

A flipped byte in the payload fails the digest; a flipped byte elsewhere fails ``torch.load`` or the
format check. Either way ``load_checkpoint`` raises ``CheckpointError`` instead of resuming garbage.
"""
from __future__ import annotations

import errno
import hashlib
import io
import os
import shutil
import tempfile
import warnings
from pathlib import Path

import torch

FORMAT = "qtran_lib-checkpoint-v2"
LEGACY_FORMAT = "qtran_lib-checkpoint-v1"  # no digest, the whole preallocated replay buffer
# Config keys whose change would make a checkpoint meaningless for this run (the seed too: the generators
# continue the saved streams, so a new seed would be recorded but never used).
STRUCTURAL = ("algo", "env", "env_args", "seed", "agent", "hidden_dim", "obs_last_action", "obs_agent_id",
              "mixing_embed_dim", "hypernet_layers", "hypernet_embed", "qtran_embed_dim", "qtran_use_state",
              "qtran_use_v", "qtran_joint_input", "qplex_embed_dim", "qplex_heads", "qplex_attention_layers",
              "wqmix_central_embed_dim", "batch_size_run", "buffer_size", "optimizer", "runner")
REQUIRED = ("config", "learner", "buffer", "env_rng", "test_env_rng", "explore_rng", "sample_rng", "counters", "metrics")
TMP_PREFIX, TMP_SUFFIX = ".checkpoint-", ".tmp"


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, unreadable, corrupt or from an incompatible run."""


def _digest(data: bytes | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()


def clean_stale_temporaries(folder: str | Path, keep: str | Path | None = None) -> list[Path]:
    """Delete ``.checkpoint-*.tmp`` files a killed writer left in ``folder`` (all but ``keep``); returns them."""
    removed = []
    for p in Path(folder).glob(f"{TMP_PREFIX}*{TMP_SUFFIX}"):
        if keep is None or p != Path(keep):
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def save_checkpoint(payload: dict, path: str | Path) -> None:
    """Serialise to a temporary file, seal it with SHA-256 in a second one, fsync, rename.

    A crash never leaves half a file under ``path``; a full disk raises CheckpointError naming it. The serialised
    payload is never held in memory: the digest and the sealed tensor read the first temporary file through a memory
    map (a run's replay buffer makes a checkpoint several GB, and an in-memory copy was that much more memory at
    every checkpoint, on top of the buffer itself). Both temporaries live in the target's folder while writing.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporaries, n_bytes = [], None
    try:
        fd, inner = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=TMP_SUFFIX, dir=path.parent)
        temporaries.append(inner)
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
        n_bytes = os.path.getsize(inner)
        blob = torch.from_file(inner, shared=True, size=n_bytes, dtype=torch.uint8)  # mapped, not read in
        outer = {"format": FORMAT, "sha256": _digest(memoryview(blob.numpy())), "payload": blob}
        fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=TMP_SUFFIX, dir=path.parent)
        temporaries.append(tmp)
        with os.fdopen(fd, "wb") as f:
            torch.save(outer, f)
            f.flush()
            os.fsync(f.fileno())
        del outer, blob  # unmap the first temporary before it is deleted
        os.replace(tmp, path)
        temporaries.remove(tmp)
    except BaseException as e:
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT) or _looks_like_full_disk(e):
            free = shutil.disk_usage(path.parent).free / 2**20
            need = "" if n_bytes is None else f", {2 * n_bytes / 2**20:.1f} MiB needed while writing"
            raise CheckpointError(f"could not write the checkpoint {path}: the disk is full ({free:.0f} MiB free"
                                  f"{need}); free some space, then continue the run with --resume {path.parent}") from None
        raise
    finally:
        for t in temporaries:
            Path(t).unlink(missing_ok=True)
    clean_stale_temporaries(path.parent)


def _looks_like_full_disk(e: BaseException) -> bool:
    """torch's zip writer reports a short write as a RuntimeError ("enforce fail at inline_container.cc")."""
    return isinstance(e, RuntimeError) and "inline_container" in str(e)


def load_checkpoint(path: str | Path, map_location="cpu") -> dict:
    """Read a checkpoint (file or run folder) and verify its digest; raises CheckpointError with the reason."""
    path = Path(path)
    if path.is_dir():
        path = path / "checkpoint.pt"
    if not path.exists():
        raise CheckpointError(f"no checkpoint at {path}")
    try:  # memory-mapped: the sealed payload is read from the page cache, not copied into the process
        outer = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as e:  # torch raises many types for truncated or foreign files
        raise CheckpointError(f"{path} is not a readable checkpoint (corrupt or truncated?): {type(e).__name__}: {e}") from None
    if not isinstance(outer, dict) or not str(outer.get("format", "")).startswith("qtran_lib-checkpoint"):
        raise CheckpointError(f"{path} is not a qtran_lib checkpoint (format marker missing or different)")
    if outer["format"] == LEGACY_FORMAT:  # written before digests existed: read it, unchecked, and say so
        warnings.warn(f"{path} is a {LEGACY_FORMAT} checkpoint without a digest: it is read unverified; the run's next "
                      "checkpoint is written with one", stacklevel=2)
        del outer  # read it again into memory: a mapped file could not be replaced on every OS while in use
        return _complete(torch.load(path, map_location=map_location, weights_only=True), path)
    if outer["format"] != FORMAT:
        raise CheckpointError(f"{path} has checkpoint format {outer['format']!r}, this qtran_lib reads {FORMAT!r} "
                              "(written by a newer version?)")
    blob, digest = outer.get("payload"), outer.get("sha256")
    if not isinstance(blob, torch.Tensor) or blob.dtype != torch.uint8 or not isinstance(digest, str):
        raise CheckpointError(f"{path} is corrupt: its payload or digest is missing")
    data = memoryview(blob.numpy())  # the mapped bytes, not a copy (several GB with a StarCraft replay buffer)
    if _digest(data) != digest:
        raise CheckpointError(f"{path} is corrupt: the SHA-256 digest of its contents does not match the one stored "
                              "when it was written (a damaged disk or copy?); restore the file or retrain the run")
    try:
        state = torch.load(_BufferReader(data), map_location=map_location, weights_only=True)
    except Exception as e:
        raise CheckpointError(f"{path} has an unreadable payload: {type(e).__name__}: {e}") from None
    finally:
        del data, blob, outer  # unmap the file: the state's tensors are fresh copies
    return _complete(state, path)


class _BufferReader(io.RawIOBase):
    """A seekable read-only file over a buffer, without copying it (``io.BytesIO`` copies its initial bytes)."""

    def __init__(self, buffer: memoryview):
        super().__init__()
        self._buffer, self._pos = buffer.cast("B"), 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = max(0, min(len(b), len(self._buffer) - self._pos))
        memoryview(b).cast("B")[:n] = self._buffer[self._pos:self._pos + n]
        self._pos += n
        return n

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._pos = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: len(self._buffer)}[whence] + offset
        return self._pos

    def tell(self) -> int:
        return self._pos


def _complete(state, path: Path) -> dict:
    missing = [k for k in REQUIRED if not isinstance(state, dict) or k not in state]
    if missing:
        raise CheckpointError(f"{path} lacks {', '.join(missing)}: not a complete qtran_lib run checkpoint")
    return state


def check_compatible(saved: dict, current: dict) -> None:
    """Refuse a checkpoint whose network-shaping fields differ from the run's (a field newer than the checkpoint
    counts as its default, which is what the saved run used)."""
    from .config import TrainConfig

    defaults = TrainConfig().to_dict()
    was = {k: saved.get(k, defaults.get(k)) for k in STRUCTURAL}
    diffs = [f"{k}: checkpoint {was[k]!r} vs run {current.get(k)!r}" for k in STRUCTURAL if was[k] != current.get(k)]
    if diffs:
        raise CheckpointError("checkpoint does not match this configuration:\n  " + "\n  ".join(diffs))
