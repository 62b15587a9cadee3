"""User scenarios from YAML files: schema validation with clear errors."""
import pytest

from qtran_lib.envs import make_env
from qtran_lib.envs.starcraft import StarCraftEnv, load_scenario


def write(tmp_path, text, name="battle.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_yaml_scenario_runs(tmp_path):
    path = write(tmp_path, """
name: 4m_vs_3z
episode_limit: 50
allies: {marine: 4}
enemies: {zealot: 3}
map: {size: [32, 32], playable: [0, 8, 32, 24]}
""")
    env = make_env(f"starcraft:{path}", batch_size=3)
    obs, state, avail = env.reset()
    info = env.env_info()
    assert info.n_agents == 4 and info.n_actions == 9 and info.episode_limit == 50
    # allies: marine (no shields); enemies: zealots (shields); two unit types -> 2 type bits
    assert info.obs_dim == 4 + 3 * (5 + 1 + 2) + 3 * (5 + 2) + (1 + 2)
    assert env.scenario.name == "4m_vs_3z"


@pytest.mark.parametrize("text, message", [
    ("episode_limit: 10\nallies: {marine: 2}\nenemies: {ultralisk: 1}\n", "unknown unit type 'ultralisk'"),
    ("episode_limit: 10\nallies: {marine: 0}\nenemies: {marine: 1}\n", "count of 'marine'"),
    ("episode_limit: 10\nallies: {marine: two}\nenemies: {marine: 1}\n", "count of 'marine'"),
    ("episode_limit: 10\nallies: {}\nenemies: {marine: 1}\n", "allies must be a non-empty mapping"),
    ("allies: {marine: 1}\nenemies: {marine: 1}\n", "missing required key 'episode_limit'"),
    ("episode_limit: -3\nallies: {marine: 1}\nenemies: {marine: 1}\n", "episode_limit must be a positive int"),
    ("episode_limit: 5\nallies: {marine: 1}\nenemies: {marine: 1}\ncolour: red\n", "unknown keys"),
    ("episode_limit: 5\nallies: {marine: 1}\nenemies: {marine: 1}\nmap: {playable: [5, 5, 1, 1]}\n", "map.playable"),
    ("[1, 2, 3]\n", "expected a mapping"),
    ("allies: {marine: [1\n", "not valid YAML"),
])
def test_bad_yaml_gives_clear_error(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ValueError, match=message):
        load_scenario(path)


def test_missing_file(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        make_env(f"starcraft:{tmp_path}/nope.yaml")


def test_yaml_terrain(tmp_path):
    path = write(tmp_path, """
episode_limit: 30
allies: {zealot: 2}
enemies: {zergling: 4}
map: {playable: [0, 0, 32, 32], terrain: corridor}
ally_center: [19.04, 19.12]
enemy_center: [27.91, 28.24]
""")
    env = StarCraftEnv(load_scenario(path), batch_size=2)
    env.reset()
    assert env.scenario.terrain == "corridor" and int(env.tables.walkable.sum()) == 440
    with pytest.raises(ValueError, match="map.terrain"):
        make_env("starcraft:" + write(tmp_path, "episode_limit: 5\nallies: {marine: 1}\nenemies: {marine: 1}\n"
                                      "map: {terrain: moon}\n", "bad.yaml"))
