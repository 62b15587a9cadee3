"""Training on the StarCraft-like simulator: every algorithm updates with finite losses; presets load.

Owned by book/06_starcraft. Fast: B=4 battles of 3m and two gradient updates per algorithm.
"""
import math

import pytest
import torch

from qtran_lib.config import ALGORITHMS, PRESET_DIR, load_yaml, make_config
from qtran_lib.envs.starcraft.scenarios import SCENARIOS
from qtran_lib.sweep import parse_seeds
from qtran_lib.train import train

STARCRAFT_PRESETS = sorted(p.stem for p in PRESET_DIR.glob("starcraft*.yaml"))

@pytest.mark.parametrize("algo", ALGORITHMS)
def test_every_algorithm_updates_on_3m(algo):
    torch.set_num_threads(1)
    cfg = make_config(load_yaml("starcraft"), algo=algo, env="starcraft:3m", seed=0, batch_size_run=4,
                      batch_size=4, buffer_size=8, updates_per_iteration=1, max_updates=2, t_max=10_000,
                      test_interval=0, test_episodes=4, log_interval=1, hidden_dim=16, mixing_embed_dim=8,
                      hypernet_embed=16, qtran_embed_dim=16)
    result = train(cfg, progress=False)
    assert result.learner.n_updates == 2
    rows = [m for m in result.metrics if "loss" in m]
    assert rows, "no row of metrics recorded a loss"
    for row in rows:
        for key in ("loss", "td", "opt", "nopt", "grad_norm"):
            if key in row:
                assert math.isfinite(row[key]), (key, row[key])
    final = result.final
    assert 0.0 <= final["test_won_mean"] <= 1.0
    assert math.isfinite(final["test_return_mean"])

@pytest.mark.parametrize("algo", ALGORITHMS)
def test_every_parameter_gets_a_gradient_on_3m(algo):
    """RLlib's QMIX once never trained its mixer: check agent and mixer both receive gradients here."""
    from qtran_lib.envs import make_env
    from qtran_lib.learners import make_learner
    from qtran_lib.runner import run_episodes

    torch.set_num_threads(1)
    torch.manual_seed(0)
    cfg = make_config(load_yaml("starcraft"), algo=algo, batch_size_run=4, batch_size=4, hidden_dim=16,
                      mixing_embed_dim=8, hypernet_embed=16, qtran_embed_dim=16)
    env = make_env("starcraft:3m", batch_size=4, seed=0)
    learner = make_learner(cfg, env.env_info())
    batch, _ = run_episodes(env, learner, epsilon=1.0, generator=torch.Generator().manual_seed(0))
    terms = learner.losses(batch)
    learner.optimizer.zero_grad(set_to_none=True)
    terms["loss"].backward()
    named = list(learner.agent.named_parameters()) + [("mixer." + n, p) for n, p in learner.mixer.named_parameters()]
    missing = [n for n, p in named if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing, f"{algo}: no (finite) gradient for {missing}"


def test_starcraft_presets_exist_and_validate():
    assert "starcraft" in STARCRAFT_PRESETS
    for name in STARCRAFT_PRESETS:
        values = load_yaml(name)
        cfg = make_config(values, algo="qmix")
        assert cfg.env.startswith("starcraft:"), name
        assert cfg.agent == "rnn", f"{name}: SMAC is partially observed, agents need memory"
        assert cfg.epsilon_anneal_time < cfg.t_max, name
        suffix = name.removeprefix("starcraft_")
        if suffix in SCENARIOS:  # a per-map preset trains its map; starcraft_tuned is a recipe for any map
            assert cfg.env == "starcraft:" + suffix, name

def test_tuned_recipe_differs_from_the_preset_where_the_book_says():
    """book/06_starcraft and scripts/run_starcraft.py describe starcraft_tuned by its differences from starcraft."""
    base, tuned = load_yaml("starcraft"), load_yaml("starcraft_tuned")
    changed = {k for k in base.keys() | tuned.keys() if base.get(k) != tuned.get(k)}
    assert changed == {"env_args", "t_max", "target_update_interval", "td_lambda", "lambda_opt", "lambda_nopt",
                       "test_episodes"}
    assert tuned["env_args"] == {"random_start": True, "start_jitter": 0.25} and tuned["td_lambda"] == 0.6


def test_cli_picks_the_starcraft_preset():
    from qtran_lib.cli import build_parser, config_from_args

    args = build_parser().parse_args(["train", "--algo", "vdn", "--env", "starcraft:8m", "--no-progress"])
    cfg = config_from_args(args)
    assert cfg.env == "starcraft:8m" and cfg.batch_size_run == load_yaml("starcraft")["batch_size_run"]


def _run_starcraft_script():
    from script_loader import load_script
    return load_script("run_starcraft")


def test_every_results_grid_row_is_a_valid_config():
    """A typo in a row of scripts/run_starcraft.py's GRID would only surface after hours of other rows."""
    from qtran_lib.sweep import parse_seeds

    script = _run_starcraft_script()
    folders = {row[0] for row in script.GRID}
    for folder, map_name, algos, seeds, overrides, continue_from in script.GRID:
        assert map_name in SCENARIOS and parse_seeds(seeds), folder
        assert continue_from is None or continue_from in folders, (folder, continue_from)
        for algo in algos:
            cfg = make_config({**script.preset_for(map_name), **overrides}, algo=algo, seed=0)
            assert cfg.env == f"starcraft:{map_name}", folder


def test_a_cluster_sweep_trains_the_final_rows_cells(monkeypatch, tmp_path):
    """README: `sweep --config starcraft_tuned --env starcraft:<map> --backend ray` fills the folder of a final/<map>
    GRID row with exactly the configs scripts/run_starcraft.py would train (so either tool resumes the other's cells)."""
    import qtran_lib.cli as cli
    import qtran_lib.sweep as sweep

    script = _run_starcraft_script()
    finals = [row for row in script.GRID if row[0].startswith("final/")]
    assert {row[1] for row in finals} == set(script.SMAC_MAPS)
    seen = []
    monkeypatch.setattr(sweep, "run_on_ray", lambda jobs, workers, record, **kw: seen.extend(jobs))
    monkeypatch.setitem(sweep.BACKENDS, "ray", sweep.run_on_ray)
    for folder, map_name, algos, seeds, overrides, _ in finals:
        seen.clear()
        out = tmp_path / folder
        args = cli.build_parser().parse_args(["sweep", "--backend", "ray", "--config", "starcraft_tuned", "--env",
                                              f"starcraft:{map_name}", "--algos", ",".join(algos), "--seeds", seeds,
                                              "--out", str(out)])
        assert cli.cmd_sweep(args) == 0
        want = {(str(out / a / f"seed_{s}"), repr(sorted(make_config({**script.preset_for(map_name), **overrides},
                                                                      algo=a, seed=s).to_dict().items())))
                for a in algos for s in parse_seeds(seeds)}
        assert {(job[1], repr(sorted(job[0].items()))) for job in seen} == want, folder


def test_results_script_trains_the_seeds_asked_for(monkeypatch):
    """`--only ROW --seeds 1` trains seed 1 of that GRID row (a pilot seed before the others), nothing else."""
    script = _run_starcraft_script()
    calls = []
    monkeypatch.setattr(script, "train_cells", lambda folder, m, algos, seeds, *rest: calls.append((folder, seeds)) or [])
    monkeypatch.setattr(script, "report", lambda: [])
    folder = script.GRID[-1][0]
    assert script.main(["--only", folder, "--seeds", "1"]) == 0
    assert calls and all(c == (folder, [1]) for c in calls)
    calls.clear()
    script.main(["--only", folder])
    assert calls and all(c[0] == folder and c[1] == [0, 1, 2] for c in calls)


def test_status_lists_every_cell_and_the_hours_left(monkeypatch, tmp_path, capsys):
    """`--status` trains nothing and tells each cell's state: done (metrics reach t_max), partial (a checkpoint
    continues it), interrupted (files but no checkpoint: it starts again), from source (a continuing row's source
    checkpoint starts it) or missing; the hours left scale the row's finished runs by what is still to go."""
    script = _run_starcraft_script()
    monkeypatch.setattr(script, "OUT", tmp_path)
    monkeypatch.setattr(script, "train_cells", lambda *a, **k: pytest.fail("--status must not train"))
    header = "t_env,test_won_mean,wall_time\n"

    def run(folder, algo, seed, t, wall, checkpoint=False):
        d = tmp_path / folder / algo / f"seed_{seed}"
        d.mkdir(parents=True)
        (d / "metrics.csv").write_text(header + f"{t},0.5,{wall}\n")
        if checkpoint:
            (d / "checkpoint.pt").write_bytes(b"")

    run("final/3m", "qmix", 0, 400_000, 3600.0)
    run("final/3m", "qmix", 1, 100_000, 900.0, checkpoint=True)
    run("final/3m", "qmix", 2, 50_000, 450.0)
    run("final/3m", "iql", 0, 400_000, 7200.0)
    run("final/3m", "qtran_base", 0, 400_000, 1800.0, checkpoint=True)  # the source of log/steps_800k/3m
    grid = [("final/3m", "3m", ("qmix", "iql", "vdn"), "0-2", script.TUNED, None),
            ("log/steps_800k/3m", "3m", ("qtran_base",), "0-1", {**script.TUNED, "t_max": 800_000}, "final/3m"),
            ("final/8m", "8m", ("qmix",), "0-1", script.TUNED, None)]
    lines, hours, unknown = script.grid_status(grid)
    assert lines == [
        "final/3m (t_max 400k)",
        "  qmix        1/3 done; seed_1 partial at 100k, seed_2 interrupted at 50k, about 1.8 CPU-core h",
        "  iql         1/3 done; seed_1 missing, seed_2 missing, about 4.0 CPU-core h",
        "  vdn         0/3 done; seed_0 missing, seed_1 missing, seed_2 missing, about 4.5 CPU-core h",
        "log/steps_800k/3m (t_max 800k)",
        "  qtran_base  0/2 done; seed_0 from source at 400k, seed_1 missing, about 1.5 CPU-core h",
        "final/8m (t_max 400k)",
        "  qmix        0/2 done; seed_0 missing, seed_1 missing, no finished run of this map to estimate from",
    ]
    # qmix: 0.75 + 1 runs of 1 h; iql: 2 runs of 2 h; vdn has no finished run: 3 runs of the row's mean, 1.5 h;
    # log/steps_800k/3m has none either: final/3m's QTRAN-base takes 1800 s per 400k, so 1 h per 800k, for 0.5 + 1 runs
    assert hours == pytest.approx(1.75 + 4.0 + 4.5 + 1.5) and unknown == 2
    monkeypatch.setattr(script, "GRID", grid)
    assert script.main(["--only", "final/3m", "--algos", "qmix", "--status"]) == 0
    out = capsys.readouterr().out
    assert "seed_1 partial at 100k" in out and "iql" not in out and "left: about 1.8 CPU-core hours" in out


def test_a_cell_killed_before_its_first_checkpoint_starts_again(tmp_path):
    """A grid stopped early in a cell leaves config.yaml and metrics.csv without a checkpoint; the next run of the
    script trains that cell from scratch (as a sweep does) instead of failing on the occupied folder, and says so; so
    does a cell whose checkpoint fails its check. A folder holding another config's checkpoint is refused, not
    overwritten."""
    script = _run_starcraft_script()
    cfg = make_config(load_yaml("matrix"), algo="vdn", max_updates=3, agent="mlp", hidden_dim=8, device="cpu")
    out = tmp_path / "vdn" / "seed_0"
    out.mkdir(parents=True)
    (out / "config.yaml").write_text("algo: vdn\n")
    (out / "metrics.csv").write_text("t_env,wall_time\n32,1.0\n")
    msg = script._cell((cfg.to_dict(), str(out), True))
    assert "restarted (killed before its first checkpoint), done in" in msg, msg
    assert (out / "checkpoint.pt").exists() and "test_won_mean" in (out / "metrics.csv").read_text().splitlines()[0]
    (out / "checkpoint.pt").write_bytes((out / "checkpoint.pt").read_bytes()[:-10])  # a truncated checkpoint
    msg = script._cell((cfg.to_dict(), str(out), True))
    assert "restarted (its checkpoint failed the digest or format check), done in" in msg, msg
    longer = make_config(load_yaml("matrix"), algo="vdn", max_updates=6, agent="mlp", hidden_dim=8, device="cpu")
    first = (out / "metrics.csv").read_text().splitlines()
    msg = script._cell((longer.to_dict(), str(out), True))  # a longer budget continues the run, as GRID's rows do
    assert "restarted" not in msg and "done in" in msg, msg
    after = (out / "metrics.csv").read_text().splitlines()
    assert after[:2] == first[:2] and after[-1].split(",")[2] == "6"  # the same first row (wall time too); 6 updates
    other = make_config(load_yaml("matrix"), algo="vdn", max_updates=3, agent="mlp", hidden_dim=16, device="cpu")
    before = (out / "checkpoint.pt").read_bytes()
    assert "holds a checkpoint of another config" in script._cell((other.to_dict(), str(out), True))
    assert (out / "checkpoint.pt").read_bytes() == before


def test_every_committed_results_folder_is_a_grid_row():
    """results/starcraft/simulator_v<V>/{final/<map>, log/<experiment>/<map>} are rows of the script's GRID (the
    grid is the same for every simulator version), so each can be regenerated; the script writes the current one."""
    script = _run_starcraft_script()
    from qtran_lib.envs.starcraft import SIMULATOR_VERSION

    assert script.OUT.name == f"simulator_v{SIMULATOR_VERSION}"
    folders = {row[0] for row in script.GRID}
    versions = sorted(script.OUT.parent.glob("simulator_v*"))
    assert versions, "no committed StarCraft runs found under results/starcraft"
    for root in versions:
        committed = {str(m.parents[2].relative_to(root)) for m in root.glob("**/seed_*/metrics.csv")}
        assert committed <= folders, f"{root.name}: folders without a GRID row: {sorted(committed - folders)}"
        assert all(f.startswith(("final/", "log/")) for f in committed), sorted(committed)


def test_a_run_from_another_version_of_the_simulator_is_not_resumed(tmp_path):
    """A checkpoint records the simulator's rules version; resuming it under other rules is refused by name."""
    from qtran_lib.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
    from qtran_lib.envs.starcraft import SIMULATOR_VERSION

    torch.set_num_threads(1)
    cfg = make_config(load_yaml("starcraft"), algo="vdn", env="starcraft:3m", seed=0, batch_size_run=4,
                      batch_size=4, buffer_size=8, updates_per_iteration=1, max_updates=2, t_max=10_000,
                      test_interval=0, test_episodes=4, log_interval=1, hidden_dim=16)
    train(cfg, out=tmp_path / "run", progress=False)
    ckpt = load_checkpoint(tmp_path / "run" / "checkpoint.pt")
    assert ckpt["env_rules_version"] == SIMULATOR_VERSION
    del ckpt["env_rules_version"]  # as written before versions were recorded: version 1
    save_checkpoint(ckpt, tmp_path / "run" / "checkpoint.pt")
    with pytest.raises(CheckpointError, match=f"version 1 of starcraft:3m's rules; this library has version "
                                              f"{SIMULATOR_VERSION}"):
        train(make_config(cfg.to_dict(), max_updates=4), resume=tmp_path / "run", progress=False)


def test_results_script_trains_the_algorithms_asked_for_and_refuses_mixed_modes(monkeypatch, capsys):
    """`--only final/3m --algos qmix` trains only QMIX of that row (it once ignored --only and trained an ad-hoc
    preset run); an algorithm the row lacks, or --maps/--config next to --only, is a clear error."""
    script = _run_starcraft_script()
    calls = []
    monkeypatch.setattr(script, "train_cells",
                        lambda folder, m, algos, seeds, *rest: calls.append((folder, tuple(algos), seeds)) or [])
    monkeypatch.setattr(script, "report", lambda: [])
    assert script.main(["--only", "final/3m", "--algos", "qmix", "--seeds", "0"]) == 0
    assert calls == [("final/3m", ("qmix",), [0])]
    for argv, message in ((["--only", "log/preset_200k/3m", "--algos", "vdn"], "not in the rows"),
                          (["--only", "final/3m", "--maps", "8m"], "--only trains GRID rows")):
        with pytest.raises(SystemExit) as e:
            script.main(argv)
        assert e.value.code == 2 and message in capsys.readouterr().err


def test_a_continuing_rows_copied_run_is_not_reported_as_finished(monkeypatch, tmp_path):
    """A continuing row (log/steps_800k/3m) starts from copies of its source's runs, whose config.yaml still says
    400k until they train on: the report must judge them against the row's t_max, not count them as 800k runs."""
    script = _run_starcraft_script()
    grid = [("final/3m", "3m", ("qmix",), "0", script.TUNED, None),
            ("log/steps_800k/3m", "3m", ("qmix",), "0-1", {**script.TUNED, "t_max": 800_000}, "final/3m")]
    monkeypatch.setattr(script, "GRID", grid)

    def run(folder, seed, t):
        d = tmp_path / folder / "qmix" / f"seed_{seed}"
        d.mkdir(parents=True)
        (d / "config.yaml").write_text(f"env: starcraft:3m\nt_max: {t}\n")  # as copied: the source's t_max
        (d / "metrics.csv").write_text(f"t_env,test_won_mean,test_return_mean,wall_time\n{t},0.5,10.0,60.0\n")

    run("final/3m", 0, 400_000)
    run("log/steps_800k/3m", 0, 400_000)  # copied, not trained on yet
    run("log/steps_800k/3m", 1, 400_000)
    (tmp_path / "log/steps_800k/3m/qmix/seed_1/metrics.csv").write_text(
        "t_env,test_won_mean,test_return_mean,wall_time\n800000,0.9,18.0,120.0\n")  # trained on to 800k
    rows, unfinished, _ = script.summary_rows(tmp_path)
    assert [(r["folder"], r["seeds"], r["t_env"]) for r in rows] == [("final/3m", "0", 400_000),
                                                                     ("log/steps_800k/3m", "1", 800_000)]
    assert unfinished == ["log/steps_800k/3m/qmix/seed_0"]


@pytest.mark.parametrize("version", [1, 2])
def test_committed_summary_matches_its_runs(version):
    """Chapter 6 reads summary.csv, not the runs: a run added or changed without `run_starcraft.py --report-only`
    would leave the book quoting a stale table. Recompute every row from the committed metrics and compare."""
    import csv
    import io

    script = _run_starcraft_script()
    root = script.OUT.parent / f"simulator_v{version}"
    rows, _, _ = script.summary_rows(root)
    fresh = io.StringIO()
    writer = csv.DictWriter(fresh, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    want, have = fresh.getvalue().splitlines(), (root / "summary.csv").read_text().splitlines()
    stale = sorted(set(have) ^ set(want))
    assert have == want, (f"{root.name}/summary.csv differs from its runs in these lines (rerun "
                          f"`python scripts/run_starcraft.py --report-only`): {stale[:6]}")


def test_a_finished_cell_drops_its_checkpoint_unless_a_row_continues_from_it(monkeypatch, tmp_path):
    """The grid's checkpoints (replay buffers) would fill over 100 GB: a finished cell deletes its checkpoint.pt unless
    a GRID row continues from that folder and algorithm, or --keep-checkpoints asks to keep it."""
    import sys
    from pathlib import Path

    train_module = sys.modules["qtran_lib.train"]  # the module (qtran_lib.train is also the function's name)
    script = _run_starcraft_script()
    assert ("final/3m", "qtran_base") in script.continued_sources()  # log/steps_800k/3m continues from it
    assert ("final/3m", "iql") not in script.continued_sources()

    def fake_train(cfg, out, resume=None, progress=True, overwrite=False):
        (Path(out) / "checkpoint.pt").write_bytes(b"x" * 10)

    monkeypatch.setattr(train_module, "train", fake_train)
    for keep, kept in ((False, False), (True, True)):
        out = tmp_path / f"keep_{keep}"
        out.mkdir()
        message = script._cell(({}, str(out), keep))
        assert (out / "checkpoint.pt").exists() == kept, message
        assert ("checkpoint deleted" in message) == (not kept)
    assert (script._cell(({}, str(out))) and (out / "checkpoint.pt").exists())  # old two-field jobs keep it
    jobs = []
    import qtran_lib.sweep

    monkeypatch.setattr(qtran_lib.sweep, "imap_processes", lambda fn, js, workers, lost: jobs.extend(js) or [])
    monkeypatch.setattr(script, "OUT", tmp_path / "results")
    for keep_all in (False, True):
        jobs.clear()
        script.train_cells("final/3m", "3m", ("iql", "qtran_base"), [0], 1, {}, None, keep_all)
        assert {(Path(j[1]).parent.name, j[2]) for j in jobs} == {("iql", keep_all), ("qtran_base", True)}


def test_a_cell_whose_worker_died_is_named_and_fails_the_command(monkeypatch, tmp_path, capsys):
    """A worker the OS killed (out of memory) once left the grid waiting forever; now the cell is reported, the other
    rows still train, and the command exits 1 naming it (a rerun resumes it from its checkpoint)."""
    import qtran_lib.sweep

    script = _run_starcraft_script()
    monkeypatch.setattr(script, "OUT", tmp_path / "results")
    monkeypatch.setattr(script, "report", lambda: [])
    monkeypatch.setattr(qtran_lib.sweep, "imap_processes",
                        lambda fn, js, workers, lost: [lost(js[0], "its worker process died from signal SIGKILL")])
    assert script.main(["--only", "final/3m", "--algos", "qmix", "--seeds", "0"]) == 1
    out, err = capsys.readouterr()
    cell = str(tmp_path / "results" / "final" / "3m" / "qmix" / "seed_0")
    assert f"{cell}: FAILED, its worker process died from signal SIGKILL" in out
    assert "1 cell(s) lost their worker process" in err and cell in err
