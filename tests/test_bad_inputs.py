"""Every bad input of issue 21 (and more): each ends in a clear error naming the problem, or in the correct result.

Most cases call ``qtran_lib.cli.main([...])`` in-process (exit code 2 and a message on stderr, never a
traceback); a handful of subprocesses check real signals and exit codes.
"""
import dataclasses
import errno
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from qtran_lib import checkpoint as ckpt_mod
from qtran_lib import make_config, make_env, train
from qtran_lib.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from qtran_lib.cli import main
from qtran_lib.config import FIELDS, MAX_SEED, RULES, load_yaml
from qtran_lib.envs import InvalidActionError

ROOT = Path(__file__).resolve().parents[1]
MATRIX = ["--env", "matrix:paper", "--no-progress", "max_updates=5", "agent=mlp", "hidden_dim=8", "qtran_embed_dim=8"]
PP = ["--env", "predator_prey:grid_size=4,episode_limit=6", "--no-progress", "--steps", "96", "batch_size_run=4",
      "batch_size=4", "buffer_size=16", "hidden_dim=8", "qtran_embed_dim=8", "test_episodes=4", "log_interval=24"]


def run_cli(argv, capsys) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_clear(code: int, err: str, *words: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    for w in words:
        assert w in err, f"{w!r} not in {err!r}"


# ---- item 4: every numeric config field is validated in one place -----------------------------------------
BAD_CONFIG = [
    ("grad_norm_clip=-1", "grad_norm_clip must be positive"), ("grad_norm_clip=.nan", "grad_norm_clip must be a finite"),
    ("grad_norm_clip=0", "grad_norm_clip must be positive"), ("lambda_opt=.nan", "lambda_opt must be a finite"),
    ("lambda_opt=-1", "lambda_opt must be >= 0"), ("lambda_nopt=.inf", "lambda_nopt must be a finite"),
    ("lr=.inf", "lr must be a finite"), ("lr=0", "lr must be positive"), ("lr=-0.1", "lr must be positive"),
    ("updates_per_iteration=0", "updates_per_iteration must be >= 1"),
    ("updates_per_iteration=-1", "updates_per_iteration must be >= 1"), ("hidden_dim=0", "hidden_dim must be positive"),
    ("test_episodes=0", "test_episodes must be >= 1"), ("mixing_embed_dim=0", "mixing_embed_dim must be positive"),
    ("hypernet_layers=3", "hypernet_layers must be 1 or 2"), ("hypernet_embed=-4", "hypernet_embed must be positive"),
    ("qtran_embed_dim=0", "qtran_embed_dim must be positive"), ("optim_eps=0", "optim_eps must be positive"),
    ("optim_alpha=1", "optim_alpha must be in [0, 1)"), ("gamma=1.5", "gamma must be in [0.0, 1.0]"),
    ("gamma=.nan", "gamma must be a finite"), ("td_lambda=-0.1", "td_lambda must be in"),
    ("epsilon_start=2", "epsilon_start must be in"), ("epsilon_finish=.nan", "epsilon_finish must be a finite"),
    ("epsilon_anneal_time=-1", "epsilon_anneal_time must be >= 0"),
    ("epsilon_uniform_fraction=1.5", "epsilon_uniform_fraction must be in"),
    ("reward_scale=-1", "reward_scale must be >= 0"), ("reward_scale=.inf", "reward_scale must be a finite"),
    ("lr_final_fraction=0", "lr_final_fraction must be in (0.0, 1.0]"),
    ("target_update_interval=0", "target_update_interval must be positive"),
    ("test_interval=-1", "test_interval must be >= 0"), ("log_interval=-5", "log_interval must be >= 0"),
    ("save_interval=-2", "save_interval must be >= -1"), ("seed=-1", "seed must be an integer in"),
    (f"seed={MAX_SEED + 1}", "seed must be an integer in"), ("t_max=0", "t_max must be positive"),
    ("batch_size_run=0", "batch_size_run must be positive"), ("batch_size=0", "batch_size must be positive"),
    ("buffer_size=0", "buffer_size must be positive"), ("max_updates=-1", "max_updates must be >= 0"),
    ("agent=lstm", "agent must be rnn, mlp or mlp_separate"), ("optimizer=sgd", "optimizer must be adam or rmsprop"),
    ("qtran_td_target=max", "qtran_td_target must be"), ("hidden_dim=1.5", "hidden_dim expects an integer"),
    ("lr=fast", "lr expects a number"), ("double_q=maybe", "double_q expects true/false"),
    ("env_args=3", "env_args expects a mapping"), ("env=foo", "unknown environment family 'foo'"),
]


@pytest.mark.parametrize("override, message", BAD_CONFIG, ids=[c[0] for c in BAD_CONFIG])
def test_bad_config_value_is_refused_before_training(override, message, capsys):
    code, _, err = run_cli(["train", *MATRIX, override], capsys)
    assert_clear(code, err, message)


def test_every_numeric_field_has_a_rule():
    numeric = [n for n, f in FIELDS.items() if f.type in ("int", "float")]
    assert numeric and not [n for n in numeric if n not in RULES]
    make_config()  # the defaults and every preset pass
    for preset in ("matrix", "gaussian_squeeze", "gaussian_squeeze_long", "predator_prey", "starcraft", "starcraft_tuned"):
        make_config(load_yaml(preset))
    for f in dataclasses.fields(make_config()):  # NaN is refused for every float field
        if f.type == "float":
            with pytest.raises(ValueError, match=f"{f.name} must be a finite number"):
                make_config(**{f.name: float("nan")})


# ---- item 4: environment-string parameters -----------------------------------------------------------------
BAD_ENV = [
    ("matrix:penalty:k=nan", "must be a finite number"), ("matrix:penalty:k=-inf", "must be a finite number"),
    ("matrix:penalty:k=inf", "must be a finite number"), ("matrix:1,nan;2,3", "must be a finite number"),
    ("matrix:1,2;3", "same number of entries"), ("matrix:penalty:j=1", "penalty game takes one parameter k"),
    ("predator_prey:penalty=nan", "finite number >= 0"), ("predator_prey:penalty=inf", "finite number >= 0"),
    ("predator_prey:penalty=-1", "finite number >= 0"), ("predator_prey:grid_size=x", "cannot read grid_size"),
    ("predator_prey:speed=2", "unknown predator-prey option"), ("gaussian_squeeze:x_max=nan", "x_max must be a finite"),
    ("gaussian_squeeze:x_max=inf", "x_max must be a finite"), ("gaussian_squeeze:n_agents=0", "need n_agents >= 1"),
    ("gridworld", "unknown environment family 'gridworld'"),
]


@pytest.mark.parametrize("env, message", BAD_ENV, ids=[c[0] for c in BAD_ENV])
def test_bad_environment_string_is_refused(env, message, capsys):
    code, _, err = run_cli(["train", *MATRIX, "--env", env], capsys)
    assert_clear(code, err, message)


# ---- item 1: run folders ------------------------------------------------------------------------------------
def test_training_into_a_run_folder_is_refused_and_overwrite_leaves_no_stale_files(tmp_path, capsys):
    run = tmp_path / "R"
    assert run_cli(["train", *MATRIX, "--out", run], capsys)[0] == 0
    assert (run / "q_tables.json").exists()
    code, _, err = run_cli(["train", *PP, "--out", run], capsys)
    assert_clear(code, err, "already holds a run", "--resume", "--overwrite")
    assert json.loads((run / "q_tables.json").read_text())["payoff"][0][0] == 8.0  # untouched
    assert run_cli(["train", *PP, "--out", run, "--overwrite"], capsys)[0] == 0
    assert not (run / "q_tables.json").exists()  # the matrix game's tables went with the old run
    code, out, _ = run_cli(["eval", run], capsys)
    assert code == 0 and "greedy joint action" not in out and "t_env=" in out


def test_out_naming_a_file_or_an_unwritable_folder(tmp_path, capsys, monkeypatch):
    f = tmp_path / "file.txt"
    f.write_text("x")
    assert_clear(*run_cli(["train", *MATRIX, "--out", f], capsys)[::2], "names a file")
    assert_clear(*run_cli(["train", *MATRIX, "--out", f / "sub"], capsys)[::2], "cannot write the run folder")
    train_mod = sys.modules["qtran_lib.train"]  # the package's ``train`` attribute is the function

    def denied(*a, **k):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(train_mod.tempfile, "TemporaryFile", denied)  # a read-only folder, even for root
    assert_clear(*run_cli(["train", *MATRIX, "--out", tmp_path / "ro"], capsys)[::2], "Permission denied",
                 "writable --out")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write into a read-only folder")
def test_read_only_folder(tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        assert_clear(*run_cli(["train", *MATRIX, "--out", ro / "run"], capsys)[::2], "cannot write the run folder")
    finally:
        ro.chmod(0o700)


def test_resume_and_overwrite_of_the_same_folder_contradict(tmp_path, capsys):
    run = tmp_path / "R"
    assert run_cli(["train", *MATRIX, "--out", run], capsys)[0] == 0
    code, _, err = run_cli(["train", "--resume", run, "--overwrite", "--no-progress"], capsys)
    assert_clear(code, err, "give one of them")


# ---- item 3: --resume with conflicting options ------------------------------------------------------------
@pytest.fixture
def finished_run(tmp_path, capsys):
    run = tmp_path / "R"
    assert run_cli(["train", *MATRIX, "--seed", "0", "--out", run], capsys)[0] == 0
    return run


@pytest.mark.parametrize("extra, message", [
    (["--algo", "vdn"], "--algo vdn differs from the resumed run's algo='qtran_base'"),
    (["--env", "matrix:climbing"], "--env matrix:climbing differs"),
    (["--seed", "9"], "--seed 9 differs from the resumed run's seed=0"),
    (["seed=9"], "seed: checkpoint 0 vs run 9"),
    (["hidden_dim=16"], "hidden_dim: checkpoint 8 vs run 16"),
    (["--config", "matrix"], "--config cannot be combined with --resume"),
    (["--steps", "3"], "does not extend the run"),
], ids=["algo", "env", "seed", "seed_override", "hidden_dim", "config", "steps_shorter"])
def test_resume_refuses_options_that_name_another_run(finished_run, extra, message, capsys):
    before = (finished_run / "checkpoint.pt").read_bytes()
    code, _, err = run_cli(["train", "--resume", finished_run, "--no-progress", *extra], capsys)
    assert_clear(code, err, message)
    assert (finished_run / "checkpoint.pt").read_bytes() == before
    assert "seed: 0" in (finished_run / "config.yaml").read_text()


def test_resume_with_steps_extends_the_budget(finished_run, capsys):
    t_env = load_checkpoint(finished_run)["counters"]["t_env"]
    code, out, _ = run_cli(["train", "--resume", finished_run, "--no-progress", "--algo", "qtran_base", "--seed", "0"],
                           capsys)
    assert code == 0 and "already finished" in out  # same names are fine; nothing to do says so
    code, out, _ = run_cli(["train", "--resume", finished_run, "--no-progress", "--steps", str(t_env + 64)], capsys)
    assert code == 0, out
    state = load_checkpoint(finished_run)
    assert state["config"]["t_max"] == t_env + 64 and state["counters"]["t_env"] >= t_env + 64


# ---- item 5: checkpoint integrity -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_checkpoint(tmp_path_factory):
    run = tmp_path_factory.mktemp("ck") / "run"
    cfg = make_config(env="predator_prey:grid_size=4,episode_limit=6", t_max=96, batch_size_run=4, batch_size=4,
                      buffer_size=64, hidden_dim=8, qtran_embed_dim=8, test_episodes=4, device="cpu")
    train(cfg, out=run, progress=False)
    return run / "checkpoint.pt"


def _payload_span(data: bytes) -> tuple[int, int]:
    """Byte range of the payload tensor's storage inside the file (torch stores it as data/0)."""
    import zipfile

    with zipfile.ZipFile(__import__("io").BytesIO(data)) as z:
        info = next(i for i in z.infolist() if i.filename.endswith("/data/0"))
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    return start, start + info.compress_size


@pytest.mark.parametrize("flip", range(12))
def test_a_flipped_byte_never_resumes(small_checkpoint, tmp_path, flip):
    data = bytearray(small_checkpoint.read_bytes())
    lo, hi = _payload_span(bytes(data)) if flip < 6 else (0, len(data))  # half inside the payload, half anywhere
    pos = random.Random(flip).randrange(lo, hi)
    data[pos] ^= 0xFF
    (tmp_path / "c.pt").write_bytes(bytes(data))
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(tmp_path / "c.pt")
    assert "corrupt" in str(e.value) or "not a" in str(e.value) or "unreadable" in str(e.value)


def test_digest_mismatch_and_zeroed_block_are_named(small_checkpoint, tmp_path):
    data = bytearray(small_checkpoint.read_bytes())
    lo, hi = _payload_span(bytes(data))
    one = bytearray(data)
    one[(lo + hi) // 2] ^= 0x01  # one bit of a weight or a buffer entry
    (tmp_path / "bit.pt").write_bytes(bytes(one))
    with pytest.raises(CheckpointError, match="SHA-256 digest"):
        load_checkpoint(tmp_path / "bit.pt")
    zeroed = bytearray(data)
    zeroed[lo + 4096: lo + 8192] = bytes(4096)
    (tmp_path / "zero.pt").write_bytes(bytes(zeroed))
    with pytest.raises(CheckpointError, match="digest"):
        load_checkpoint(tmp_path / "zero.pt")


def test_incomplete_and_old_format_checkpoints(tmp_path, capsys):
    save_checkpoint({"config": make_config().to_dict()}, tmp_path / "part.pt")
    with pytest.raises(CheckpointError, match="lacks learner"):
        load_checkpoint(tmp_path / "part.pt")
    torch.save({"format": "qtran_lib-checkpoint-v9"}, tmp_path / "new.pt")
    with pytest.raises(CheckpointError, match="format 'qtran_lib-checkpoint-v9'"):
        load_checkpoint(tmp_path / "new.pt")
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.pt").write_bytes((tmp_path / "part.pt").read_bytes())
    code, _, err = run_cli(["train", "--resume", run, "--no-progress"], capsys)
    assert code == 2 and "checkpoint error" in err and "lacks learner" in err and "Traceback" not in err


def test_a_v1_checkpoint_without_digest_still_resumes_bit_exactly(tmp_path):
    """Runs checkpointed before digests (format v1: whole buffer, no digest) continue, with a warning."""
    cfg = make_config(env="predator_prey:grid_size=4,episode_limit=6", t_max=192, batch_size_run=4, batch_size=4,
                      buffer_size=64, hidden_dim=8, qtran_embed_dim=8, test_episodes=4, log_interval=24, device="cpu")
    full = train(cfg, progress=False)
    train(cfg, out=tmp_path / "run", progress=False, stop_after_iterations=5)
    state = load_checkpoint(tmp_path / "run")
    buf = state["buffer"]
    whole = {k: torch.cat([v, v.new_zeros(64 - v.shape[0], *v.shape[1:])]) for k, v in buf["data"].items()}
    legacy = {**state, "format": "qtran_lib-checkpoint-v1", "buffer": {**buf, "data": whole}}
    torch.save(legacy, tmp_path / "run" / "checkpoint.pt")  # what v1 wrote: the payload itself, no digest
    with pytest.warns(UserWarning, match="without a digest"):
        resumed = train(cfg, out=tmp_path / "run", resume=tmp_path / "run", progress=False)
    strip = lambda rows: [{k: v for k, v in r.items() if k != "wall_time"} for r in rows]  # noqa: E731
    assert strip(resumed.metrics) == strip(full.metrics)
    assert load_checkpoint(tmp_path / "run")["buffer"]["data"]["obs"].shape[0] < 64  # rewritten as v2


def test_stale_temporaries_are_cleaned_and_only_the_filled_buffer_is_stored(small_checkpoint, tmp_path):
    state = load_checkpoint(small_checkpoint)
    buf = state["buffer"]
    assert 0 < buf["size"] == buf["data"]["obs"].shape[0] < buf["capacity"] == 64
    import io

    from qtran_lib.replay_buffer import EpisodeBuffer, empty_episodes

    env = make_env("predator_prey", batch_size=4)
    buffer = EpisodeBuffer(env.env_info(), capacity=1000)
    buffer.insert(empty_episodes(env.env_info(), 4, "cpu"))
    blob = io.BytesIO()
    torch.save(buffer.state_dict(), blob)  # a view would drag the whole preallocated storage along
    whole = sum(v.numel() * v.element_size() for v in buffer.data.values())
    assert len(blob.getvalue()) < whole / 100  # 4 of 1000 episodes (plus the file's overhead)
    run = tmp_path / "run"
    run.mkdir()
    stale = run / ".checkpoint-abc123.tmp"
    stale.write_bytes(b"half a checkpoint")
    cfg = make_config(env="matrix:paper", max_updates=3, agent="mlp", hidden_dim=8, qtran_embed_dim=8, device="cpu")
    train(cfg, out=run, progress=False)
    assert not stale.exists() and not list(run.glob("*.tmp"))


def test_checkpoints_are_periodic_by_default(tmp_path, monkeypatch):
    train_mod = sys.modules["qtran_lib.train"]  # the package's ``train`` attribute is the function

    saved = []
    real = train_mod.save_checkpoint
    monkeypatch.setattr(train_mod, "save_checkpoint", lambda p, path: (saved.append(p["counters"]["t_env"]), real(p, path)))
    cfg = make_config(env="predator_prey:grid_size=4,episode_limit=6", t_max=200, batch_size_run=4, batch_size=4,
                      buffer_size=16, hidden_dim=8, qtran_embed_dim=8, test_episodes=4, device="cpu")
    assert cfg.save_interval == 0  # the default: auto
    train(cfg, out=tmp_path / "run", progress=False)
    gaps = [b - a for a, b in zip([0, *saved], saved)]
    assert len(saved) >= 6 and max(gaps) <= 200 // 10 + 4 * 6  # a crash loses at most a tenth plus one iteration
    saved.clear()
    train(make_config(cfg.to_dict(), save_interval=-1), out=tmp_path / "end", progress=False)
    assert len(saved) == 1


@pytest.mark.parametrize("failure", ["enospc", "inline_container"])
@pytest.mark.parametrize("write", [0, 1])  # the payload's temporary file, or the sealed one
def test_full_disk_is_named(tmp_path, monkeypatch, failure, write, capsys):
    real, calls = torch.save, []

    def full(obj, f, *a, **k):
        calls.append(1)
        if len(calls) == write + 1:
            if failure == "enospc":
                raise OSError(errno.ENOSPC, "No space left on device")
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 64 vs 0")
        return real(obj, f, *a, **k)

    monkeypatch.setattr(ckpt_mod.torch, "save", full)
    code, _, err = run_cli(["train", *MATRIX, "--out", tmp_path / "run"], capsys)
    assert_clear(code, err, "the disk is full", "--resume")
    assert "inline_container" not in err and not list((tmp_path / "run").glob("*.tmp"))


# ---- item 7: other bare tracebacks and unclear messages -----------------------------------------------------
def test_config_naming_a_folder_or_holding_duplicate_keys(tmp_path, capsys):
    assert_clear(*run_cli(["train", "--config", tmp_path, "--no-progress"], capsys)[::2], "is a folder")
    dup = tmp_path / "dup.yaml"
    dup.write_text("lr: 0.1\nalgo: vdn\nlr: 0.2\n")
    assert_clear(*run_cli(["train", "--config", dup, "--no-progress"], capsys)[::2], "duplicate key 'lr'")
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00\x81")
    assert_clear(*run_cli(["train", "--config", binary, "--no-progress"], capsys)[::2], "not a text (YAML) file")


def test_tensorboard_without_the_package(tmp_path, capsys, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else real(name, *a))
    code, _, err = run_cli(["train", *MATRIX, "--tensorboard", "--out", tmp_path / "run"], capsys)
    assert_clear(code, err, "pip install tensorboard")
    assert not (tmp_path / "run").exists()  # refused before anything was written
    assert_clear(*run_cli(["train", *MATRIX, "--tensorboard"], capsys)[::2], "needs an output folder")


def test_keyboard_interrupt_in_process_is_a_message(tmp_path, capsys, monkeypatch):
    train_mod = sys.modules["qtran_lib.train"]  # the package's ``train`` attribute is the function

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(train_mod, "run_episodes", interrupted)
    code, _, err = run_cli(["train", *PP, "--out", tmp_path / "run"], capsys)
    assert code == 130 and "interrupted" in err and "--resume" in err and "Traceback" not in err


def test_incomplete_q_tables_and_bad_eval_folders(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "q_tables.json").write_text(json.dumps({"payoff": [[1]]}))
    assert_clear(*run_cli(["eval", run], capsys)[::2], "incomplete (missing", "greedy_action")
    (run / "q_tables.json").write_text("{not json")
    assert_clear(*run_cli(["eval", run], capsys)[::2], "not valid JSON")
    assert_clear(*run_cli(["eval", tmp_path / "none"], capsys)[::2], "no run folder")
    (tmp_path / "empty").mkdir()
    assert_clear(*run_cli(["eval", tmp_path / "empty"], capsys)[::2], "is it a run folder")


# ---- item 10: Q tables read what the joint networks read ---------------------------------------------------
def test_q_tables_honour_qtran_joint_input_inputs(tmp_path):
    from qtran_lib.envs.matrix_game import joint_action_episodes

    cfg = make_config(load_yaml("matrix"), qtran_joint_input="inputs", max_updates=20, hidden_dim=5, device="cpu")
    result = train(cfg, out=tmp_path / "run", progress=False)  # crashed with "mat1 and mat2 shapes" before
    tables = json.loads((tmp_path / "run" / "q_tables.json").read_text())
    learner, env = result.learner, result.env
    batch = joint_action_episodes(env)  # every joint action once, as the learner trains on it
    with torch.no_grad():
        q, f = learner.unroll(batch)
        q_jt = learner.joint_q(q[:, :1], f[:, :1], batch["actions"][:, :1], batch["state"][:, :1])[:, 0]  # [A^N]
        v = learner.v_jt(f[:1, :1], batch["state"][:1, :1]).reshape(-1)[0]
    scale = learner.reward_scale
    torch.testing.assert_close(torch.tensor(tables["q_jt"]).reshape(-1), q_jt / scale, atol=1e-4, rtol=0)
    assert abs(tables["v_jt"] - float(v) / scale) < 1e-4


# ---- item 8: environment API --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["predator_prey:grid_size=3,episode_limit=30", "starcraft:3m"])
def test_out_of_range_actions_in_finished_rows_are_ignored(name):
    env = make_env(name, batch_size=8, seed=1)
    _, _, avail = env.reset()
    g = torch.Generator().manual_seed(0)
    for _ in range(env.env_info().episode_limit):
        actions = torch.multinomial(avail.reshape(-1, avail.shape[-1]), 1, generator=g).reshape(avail.shape[:2])
        if not bool(env.active.all()):
            actions[~env.active] = 999  # rows of finished episodes: ignored, as the API says
        _, _, info = env.step(actions)
        avail = env.get_avail_actions()
        if not bool(info["active"].any()):
            break
    assert not bool(env.active.all()), "no episode finished early: the test checked nothing"
    if bool(env.active.any()):
        bad = torch.full_like(actions, 999)
        with pytest.raises(InvalidActionError, match="action indices must lie in"):
            env.step(bad)  # active rows still refuse it


@pytest.mark.parametrize("seed, message", [(2**32, "must lie in"), (-1, "must lie in"), (1.7, "must be an integer"),
                                           ("1", "must be an integer")])
def test_environment_seed_range(seed, message):
    with pytest.raises(ValueError, match=message):
        make_env("matrix:paper", seed=seed)
    env = make_env("matrix:paper")
    with pytest.raises(ValueError, match=message):
        env.reset(seed=seed)


# ---- item 2: sweeps -------------------------------------------------------------------------------------------
SWEEP = ["--seeds", "0", "--workers", "1", "max_updates=3", "agent=mlp", "hidden_dim=8", "qtran_embed_dim=8",
         "device=cpu"]


def test_sweep_whose_every_cell_fails_exits_nonzero(tmp_path, capsys):
    code, _, err = run_cli(["sweep", "--algos", "vdn", "--env", "foo", "--out", tmp_path / "X", *SWEEP], capsys)
    assert_clear(code, err, "unknown environment family 'foo'")
    code, _, err = run_cli(["sweep", "--algos", "vdn,qmix", "--env", "matrix:bogus", "--out", tmp_path / "Y", *SWEEP],
                           capsys)
    assert code == 1 and "2 of 2 cells failed" in err and "unknown matrix game" in err


def test_sweep_refuses_a_cell_of_another_config_and_a_file_as_out(tmp_path, capsys):
    out = tmp_path / "S"
    assert run_cli(["sweep", "--algos", "vdn", "--env", "matrix:paper", "--out", out, *SWEEP], capsys)[0] == 0
    code, _, err = run_cli(["sweep", "--algos", "vdn", "--env", "matrix:paper", "--out", out, *SWEEP, "lr=0.01"], capsys)
    assert code == 1 and "holds a run of another config (lr: 0.0005 -> 0.01)" in err and "--overwrite" in err
    assert run_cli(["sweep", "--algos", "vdn", "--env", "matrix:paper", "--out", out, *SWEEP, "lr=0.01",
                    "--overwrite"], capsys)[0] == 0
    f = tmp_path / "f"
    f.write_text("")
    assert_clear(*run_cli(["sweep", "--algos", "vdn", "--env", "matrix:paper", "--out", f, *SWEEP], capsys)[::2],
                 "names a file")


def _sigint_child(argv: list[str], ready) -> subprocess.CompletedProcess:
    proc = subprocess.Popen([sys.executable, "-m", "qtran_lib", *argv], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"},
                            start_new_session=True,  # its own process group: Ctrl-C reaches the workers too
                            # a terminal delivers SIGINT even when this test runs in a background job (which ignores it)
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.time() + 120
        while not ready():
            assert proc.poll() is None, proc.communicate()[1]
            assert time.time() < deadline, "the run did not start"
            time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT to a process group")
def test_ctrl_c_in_a_sweep_with_workers_is_a_message(tmp_path):
    out = tmp_path / "S"
    argv = ["sweep", "--algos", "vdn", "--env", "predator_prey", "--seeds", "0-1", "--workers", "2", "--out", str(out),
            "--steps", "10000000", "batch_size_run=4", "hidden_dim=8", "log_interval=100"]
    res = _sigint_child(argv, lambda: all((out / "vdn" / f"seed_{s}" / "metrics.csv").exists() for s in (0, 1)))
    assert res.returncode == 130, res.stderr
    assert "Traceback" not in res.stderr and "KeyboardInterrupt" not in res.stderr
    assert "interrupted" in res.stderr and "rerun the same sweep command" in res.stderr


# ---- item 6: YAML scenarios ------------------------------------------------------------------------------------
SCENARIO = "episode_limit: 10\nallies: {marine: 2}\nenemies: {marine: 2}\n"
BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n" for p, c in zip("abcdefgh", "bcdefghi"))
BAD_SCENARIOS = [
    (SCENARIO + "ally_center: [.nan, .nan]\n", "ally_center must be a pair of finite numbers"),
    (SCENARIO + "enemy_center: [.inf, 16]\n", "enemy_center must be a pair of finite numbers"),
    (SCENARIO + "map: {playable: [0, 0, .inf, .inf]}\n", "map.playable must be finite"),
    (SCENARIO + "map: {size: [.nan, 32]}\n", "map.size must be a pair of finite numbers"),
    (SCENARIO + "map: {size: [0, 32]}\n", "map.size must be a [width, height] in (0, 1024]"),
    (SCENARIO + "map: {playable: [0, 0, 64, 64]}\n", "must lie inside the map"),
    (SCENARIO + "ally_center: [99, 16]\n", "lies outside the 32 x 32 map"),
    (SCENARIO + "attack_point: [true, 1]\n", "attack_point must be a pair of finite numbers"),
    (SCENARIO + "episode_limit: 20\n", "duplicate key 'episode_limit'"),
    (SCENARIO + "ally_centers: [[9, 16]]\n", "ally_centers must be a mapping of unit type to [x, y]"),
    (SCENARIO + "unit_type_bits: 1000\n", "unit_type_bits must be an int in [0, 64]"),
    (BOMB, "aliases (*a) are not allowed"),
    ("episode_limit: 10\nallies: {" + ", ".join(f"{t}: 256" for t in ("marine", "marauder", "medivac", "stalker",
     "zealot")) + "}\nenemies: {" + ", ".join(f"{t}: 256" for t in ("colossus", "hydralisk", "zergling", "baneling",
                                                                       "spine_crawler")) + "}\n", "at most 512"),
]


@pytest.mark.parametrize("text, message", BAD_SCENARIOS, ids=[f"scenario{i}" for i in range(len(BAD_SCENARIOS))])
def test_bad_yaml_scenario_is_refused(tmp_path, text, message, capsys):
    path = tmp_path / "battle.yaml"
    path.write_text(text)
    code, _, err = run_cli(["train", "--env", f"starcraft:{path}", "--no-progress", "--steps", "10"], capsys)
    assert_clear(code, err, message)


def test_oversized_scenario_file_and_folder(tmp_path, capsys):
    big = tmp_path / "big.yaml"
    big.write_text(SCENARIO + "#" * (70 * 1024) + "\n")
    assert_clear(*run_cli(["train", "--env", f"starcraft:{big}", "--no-progress"], capsys)[::2], "at most 64 KiB")
    folder = tmp_path / "dir.yaml"
    folder.mkdir()
    assert_clear(*run_cli(["train", "--env", f"starcraft:{folder}", "--no-progress"], capsys)[::2], "is a folder")


def test_config_file_with_an_alias_is_refused(tmp_path, capsys):
    f = tmp_path / "c.yaml"
    f.write_text("lr: &x 0.1\noptim_eps: *x\n")
    assert_clear(*run_cli(["train", "--config", f, "--no-progress"], capsys)[::2], "aliases (*x) are not allowed")


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT to a process group")
def test_ctrl_c_in_train_is_a_message_and_leaves_a_resumable_run(tmp_path):
    run = tmp_path / "R"
    argv = ["train", "--env", "predator_prey", "--steps", "10000000", "--no-progress", "--out", str(run),
            "batch_size_run=4", "hidden_dim=8", "save_interval=200"]
    res = _sigint_child(argv, lambda: (run / "checkpoint.pt").exists())
    assert res.returncode == 130, res.stderr
    assert "Traceback" not in res.stderr and f"continue with --resume {run}" in res.stderr
    assert 0 < load_checkpoint(run)["counters"]["t_env"] < 10_000_000  # intact: the digest verifies
    assert not list(run.glob("*.tmp"))
