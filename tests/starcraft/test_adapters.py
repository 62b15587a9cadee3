"""PettingZoo adapter and rendering."""
import pytest
import torch

from qtran_lib.envs import make_env
from qtran_lib.envs.starcraft import heuristic_actions


def test_pettingzoo_parallel_api():
    pytest.importorskip("pettingzoo")
    from pettingzoo.test import parallel_api_test

    from qtran_lib.envs.starcraft import to_pettingzoo

    env = to_pettingzoo("3m", seed=0)
    parallel_api_test(env, num_cycles=200)
    obs, infos = env.reset(seed=1)
    assert set(obs) == {"agent_0", "agent_1", "agent_2"}
    assert obs["agent_0"]["observation"].shape == (30,)
    assert env.state().shape == (48,)
    frame = env.render()
    assert frame.ndim == 3 and frame.shape[-1] == 3 and frame.dtype.name == "uint8"


def test_pettingzoo_episode_ends_for_everyone():
    pytest.importorskip("pettingzoo")
    from qtran_lib.envs.starcraft import to_pettingzoo

    env = to_pettingzoo("2s3z", seed=0, random_start=True)
    obs, _ = env.reset()
    for _ in range(200):
        acts = {a: env.action_space(a).sample(mask=obs[a]["action_mask"]) for a in env.agents}
        obs, rew, term, trunc, info = env.step(acts)
        if not env.agents:
            assert all(term[a] or trunc[a] for a in term)
            break
    assert not env.agents


def test_render_frame_and_animation():
    pytest.importorskip("matplotlib")
    from qtran_lib.envs.starcraft import EpisodeRecorder, animate_episode, render_frame

    env = make_env("starcraft:MMM2", batch_size=2, seed=0)
    env.reset()
    fig = render_frame(env, b=1)
    assert len(fig.axes) == 1 and len(fig.axes[0].patches) > 22
    rec = EpisodeRecorder(env, b=0)
    rec.record()
    for _ in range(3):
        env.step(heuristic_actions(env))
        rec.record()
    html = animate_episode(rec, interval=100)
    assert "<script" in html and html._repr_html_() == str(html)
    assert len(rec.frames) == 4 and rec.frames[-1]["t"] == 3


def test_corridor_render_has_terrain():
    pytest.importorskip("matplotlib")
    from qtran_lib.envs.starcraft import render_frame

    env = make_env("starcraft:corridor", batch_size=1)
    env.reset()
    assert len(render_frame(env).axes[0].images) == 1
    assert torch.is_tensor(env.tables.walkable)
