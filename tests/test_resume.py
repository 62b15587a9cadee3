"""Resuming a run continues it bit-exactly on CPU; bad checkpoints fail with clear errors."""
import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from qtran_lib import make_config, train
from qtran_lib.checkpoint import CheckpointError, load_checkpoint

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(env="predator_prey:grid_size=4,episode_limit=8,penalty=1.0", agent="rnn", hidden_dim=16,
            qtran_embed_dim=16, t_max=640, batch_size_run=8, batch_size=8, buffer_size=64,
            epsilon_anneal_time=320, target_update_interval=5, log_interval=64, test_interval=128,
            test_episodes=8, save_interval=128, device="cpu")
ARGS = [f"{k}={v}" for k, v in TINY.items() if k not in ("env", "device")]


def rows(run: Path) -> list[dict]:
    with open(run / "metrics.csv", newline="") as f:
        return [{k: v for k, v in r.items() if k != "wall_time"} for r in csv.DictReader(f)]


def params(run: Path) -> dict:
    return load_checkpoint(run)["learner"]


def assert_same_learner(a: dict, b: dict) -> None:
    for part in ("agent", "mixer", "target_agent", "target_mixer"):
        for k in a[part]:
            assert torch.equal(a[part][k], b[part][k]), f"{part}.{k} differs"
    assert a["n_updates"] == b["n_updates"]


@pytest.mark.parametrize("algo", ["qtran_base", "qmix"])
def test_stop_and_resume_in_process_is_bit_exact(tmp_path, algo):
    cfg = make_config(TINY, algo=algo, seed=3)
    full = train(cfg, out=tmp_path / "full", progress=False)
    train(cfg, out=tmp_path / "part", progress=False, stop_after_iterations=4)
    assert load_checkpoint(tmp_path / "part")["counters"]["iteration"] == 4
    resumed = train(cfg, out=tmp_path / "part", resume=tmp_path / "part", progress=False)
    assert rows(tmp_path / "full") == rows(tmp_path / "part")
    assert resumed.final["t_env"] == full.final["t_env"]
    assert_same_learner(params(tmp_path / "full"), params(tmp_path / "part"))


def _cli(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "qtran_lib", "train", "--algo", "vdn", "--env", TINY["env"], "--seed", "1",
            "--device", "cpu", "--out", str(out), "--no-progress", *extra]


def test_sigkill_mid_run_then_resume_matches_uninterrupted(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(_cli(tmp_path / "full", *ARGS), check=True, cwd=ROOT, env=env, capture_output=True)
    run = tmp_path / "killed"
    proc = subprocess.Popen(_cli(run, *ARGS, "t_max=200000"), cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 90
        while not (run / "checkpoint.pt").exists():
            assert proc.poll() is None, "the run ended before writing its first checkpoint"
            assert time.time() < deadline, "no checkpoint appeared within 90 s"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    ckpt = load_checkpoint(run)  # the atomic write never leaves a half file behind
    assert 0 < ckpt["counters"]["t_env"] < 200000
    # resume with the original length: the run continues from its last checkpoint to t_max = 640
    out = subprocess.run([sys.executable, "-m", "qtran_lib", "train", "--resume", str(run), "--no-progress",
                          "t_max=640"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert rows(run) == rows(tmp_path / "full")
    assert_same_learner(params(run), params(tmp_path / "full"))


def test_corrupt_and_mismatched_checkpoints_are_clear_errors(tmp_path):
    cfg = make_config(TINY, algo="vdn", t_max=200)
    train(cfg, out=tmp_path / "run", progress=False)
    with pytest.raises(CheckpointError, match="checkpoint does not match"):
        train(make_config(TINY, algo="qmix", t_max=400), resume=tmp_path / "run", progress=False)
    with pytest.raises(CheckpointError, match="hidden_dim"):
        train(make_config(TINY, algo="vdn", hidden_dim=32), resume=tmp_path / "run", progress=False)
    data = (tmp_path / "run" / "checkpoint.pt").read_bytes()
    (tmp_path / "run" / "checkpoint.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        train(cfg, resume=tmp_path / "run", progress=False)
    with pytest.raises(CheckpointError, match="no checkpoint"):
        train(cfg, resume=tmp_path / "nothing", progress=False)
    torch.save({"hello": 1}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="not a qtran_lib checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt")
    cli = subprocess.run([sys.executable, "-m", "qtran_lib", "train", "--resume", str(tmp_path / "run")],
                         cwd=ROOT, capture_output=True, text=True)
    assert cli.returncode == 2 and "checkpoint error" in cli.stderr and "Traceback" not in cli.stderr


def test_a_full_replay_buffer_is_checkpointed_without_a_copy():
    """A full buffer's state dict is the buffer itself (a 3.3 GB copy per checkpoint on MMM2); a partly filled one is
    a copy of the filled slots only, which later inserts cannot change; both load back to the same buffer."""
    from qtran_lib.envs import make_env
    from qtran_lib.replay_buffer import EpisodeBuffer, empty_episodes

    info = make_env("predator_prey", batch_size=4).env_info()
    episodes = empty_episodes(info, 4, "cpu")
    for capacity, inserts in ((8, 2), (12, 2)):  # full, then two thirds full
        buffer = EpisodeBuffer(info, capacity=capacity)
        for i in range(inserts):
            episodes["reward"].fill_(i + 1.0)
            buffer.insert(episodes)
        sd = buffer.state_dict()
        full = buffer.size == capacity
        assert all((sd["data"][k].data_ptr() == v.data_ptr()) == full for k, v in buffer.data.items())
        assert sd["data"]["reward"].shape[0] == buffer.size
        copy = EpisodeBuffer(info, capacity=capacity)
        copy.load_state_dict(sd)
        assert all(torch.equal(copy.data[k], v) for k, v in buffer.data.items())


def test_checkpoint_writer_holds_no_copy_of_the_serialised_bytes(tmp_path):
    """save_checkpoint serialises to a temporary file and seals it through a memory map: no Python-side copy of the
    payload (an in-memory file held one, several GB for a StarCraft replay buffer; before that, three)."""
    import hashlib
    import io
    import tracemalloc

    from qtran_lib.checkpoint import save_checkpoint

    x = torch.arange(5_000_000, dtype=torch.float32)  # 20 MB
    tracemalloc.start()
    save_checkpoint({"buffer": x}, tmp_path / "c.pt")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 0.1 * x.numel() * 4, f"peak {peak / 2**20:.1f} MiB for a {x.numel() * 4 / 2**20:.0f} MiB payload"
    assert not list(tmp_path.glob("*.tmp"))  # both temporaries are gone
    outer = torch.load(tmp_path / "c.pt", weights_only=True)
    data = outer["payload"].numpy().tobytes()
    assert outer["sha256"] == hashlib.sha256(data).hexdigest()
    assert torch.equal(torch.load(io.BytesIO(data), weights_only=True)["buffer"], x)


def test_checkpoint_reader_does_not_copy_the_payload(tmp_path):
    """load_checkpoint maps the file and reads the sealed payload through one view: no Python-side copy of it (it held
    one bytes copy, and the mapped file replaces an in-memory one: a StarCraft checkpoint needed three times its size)."""
    import tracemalloc

    from qtran_lib.checkpoint import save_checkpoint

    x = torch.arange(5_000_000, dtype=torch.float32)  # 20 MB
    payload = {k: 0 for k in ("config", "learner", "env_rng", "test_env_rng", "explore_rng", "sample_rng", "counters",
                              "metrics")}
    save_checkpoint({**payload, "buffer": x}, tmp_path / "c.pt")
    tracemalloc.start()
    state = load_checkpoint(tmp_path / "c.pt")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 0.1 * x.numel() * 4, f"peak {peak / 2**20:.1f} MiB for a {x.numel() * 4 / 2**20:.0f} MiB payload"
    assert torch.equal(state["buffer"], x) and state["buffer"].untyped_storage().filename is None  # not the mapped file
