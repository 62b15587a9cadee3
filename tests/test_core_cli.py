"""The CLI and run folders: files written, Q tables, errors for bad options, corrupt checkpoints."""
import json
import subprocess
import sys

import pytest
import torch
import yaml

from qtran_lib.checkpoint import CheckpointError, load_checkpoint
from qtran_lib.cli import main
from qtran_lib.config import load_yaml, make_config
from qtran_lib.train import train


def test_train_writes_a_complete_run_folder(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", "--algo", "qtran_base", "--env", "matrix:8,-12,-12;-12,0,0;-12,0,0",
                 "--seed", "0", "--out", str(out), "--no-progress", "max_updates=30"])
    assert code == 0
    for name in ("config.yaml", "metrics.csv", "checkpoint.pt", "q_tables.json"):
        assert (out / name).exists(), name
    tables = json.loads((out / "q_tables.json").read_text())
    assert {"payoff", "q_i", "q_jt", "q_sum", "v_jt", "greedy_action", "greedy_payoff"} <= set(tables)
    assert len(tables["q_i"]) == 2 and len(tables["q_jt"]) == 3 and len(tables["q_jt"][0]) == 3
    assert tables["payoff"][0][0] == 8.0
    assert yaml.safe_load((out / "config.yaml").read_text())["algo"] == "qtran_base"
    capsys.readouterr()
    assert main(["eval", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "greedy joint action" in shown and "Q_jt" in shown and "payoff" in shown


def test_help_documents_every_option():
    res = subprocess.run([sys.executable, "-m", "qtran_lib", "train", "--help"], capture_output=True, text=True)
    assert res.returncode == 0
    for word in ("--algo", "--env", "--seed", "--steps", "--config", "--out", "--resume", "lambda_opt", "qtran_td_target"):
        assert word in res.stdout


@pytest.mark.parametrize("argv, message", [
    (["train", "--env", "gridworld"], "unknown environment family 'gridworld'"),
    (["train", "lr=fast"], "lr expects a number"),
    (["train", "lamda_opt=1"], "did you mean lambda_opt"),
    (["train", "--env", "matrix:1,2;3"], "same number of entries"),
    (["train", "--config", "no_such_preset"], "neither a file nor a preset"),
    (["eval", "/nonexistent/run"], "no run folder"),
])
def test_bad_input_is_rejected_clearly(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_unknown_algorithm_exits_nonzero():
    res = subprocess.run([sys.executable, "-m", "qtran_lib", "train", "--algo", "qtran_v3"], capture_output=True, text=True)
    assert res.returncode != 0 and "invalid choice: 'qtran_v3'" in res.stderr


def test_config_file_and_overrides(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("algo: vdn\nenv: matrix:climbing\nlr: 0.001\nagent: mlp\nfull_batch: true\nmax_updates: 5\n")
    cfg = make_config(load_yaml(f), seed=3)
    assert (cfg.algo, cfg.env, cfg.lr, cfg.seed) == ("vdn", "matrix:climbing", 0.001, 3)
    bad = tmp_path / "bad.yaml"
    bad.write_text("algo: [unclosed\n")
    with pytest.raises(ValueError, match="not valid YAML"):
        load_yaml(bad)


def test_corrupt_and_foreign_checkpoints(tmp_path):
    cfg = make_config(load_yaml("matrix"), max_updates=3)
    train(cfg, out=tmp_path / "ok", progress=False)
    data = (tmp_path / "ok" / "checkpoint.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_checkpoint(tmp_path / "cut.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="not a qtran_lib checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="does not match this configuration"):
        train(make_config(load_yaml("matrix"), algo="vdn", max_updates=3), resume=tmp_path / "ok", progress=False)


def test_same_seed_same_run():
    cfg = make_config(load_yaml("matrix"), algo="qmix", max_updates=20, full_batch=False, t_max=32 * 20, batch_size_run=32)
    a = train(cfg, progress=False).metrics
    b = train(cfg, progress=False).metrics
    strip = lambda rows: [{k: v for k, v in r.items() if k != "wall_time"} for r in rows]  # noqa: E731
    assert strip(a) == strip(b)
