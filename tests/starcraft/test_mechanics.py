"""Hand-checked unit mechanics: duels, shields, splash, healing, draws."""
import torch
from starcraft_helpers import custom_env

from qtran_lib.envs.starcraft.units import UNIT_TYPES


def attack_first_enemy(env):
    avail = env.get_avail_actions()
    a = torch.where(avail[..., 6] > 0, 6, torch.where(avail[..., 1] > 0, 1, 0))
    return a.long()


def test_marine_duel_is_a_draw_after_eight_hits():
    env = custom_env({"marine": 1}, {"marine": 1}, [(10, 16), (15, 16)])
    steps = 0
    while env.active.any():
        r, term, info = env.step(attack_first_enemy(env))
        steps += 1
    # both fire on the same tick: 8 hits of 6 kill 45 HP; 7 cooldowns of 14 game loops = 98 loops
    assert bool(term[0]) and not bool(info["battle_won"][0]) and bool(info["draw"][0])
    assert int(info["dead_allies"][0]) == 1 and int(info["dead_enemies"][0]) == 1
    assert steps == 98 // 8 + 1


def test_shields_absorb_first_without_armor():
    env = custom_env({"stalker": 1}, {"stalker": 1}, [(10, 16), (15.5, 16)])
    env.step(attack_first_enemy(env))
    s = env.battle
    # one 13 (+5 armored) shot each: shields 80 -> 62, HP untouched
    assert torch.allclose(s.shield[0], torch.tensor([62.0, 62.0]))
    assert torch.allclose(s.hp[0], torch.tensor([80.0, 80.0]))


def test_armor_reduces_hp_damage():
    env = custom_env({"marine": 1}, {"marauder": 1}, [(10, 16), (15, 16)])
    env.step(attack_first_enemy(env))
    # marine 6 - marauder armor 1 = 5; marauder 10 (+10 armored, marine is light) = 10
    assert torch.allclose(env.battle.hp[0], torch.tensor([45.0 - 10.0, 125.0 - 5.0]))


def test_baneling_explodes_and_splashes():
    pos = [(10, 16), (11.0, 16), (11.5, 17.0), (11.5, 15.0), (20, 16)]
    env = custom_env({"baneling": 1}, {"zergling": 4}, pos)
    env.step(attack_first_enemy(env))
    s = env.battle
    assert not bool(s.alive[0, 0])  # the baneling died exploding
    assert not s.alive[0, 1:4].any()  # 16 + 19 (light) = 35 kills every zergling in 2.2
    assert bool(s.alive[0, 4])  # out of the blast


def test_medivac_heals_a_hurt_ally():
    env = custom_env({"marine": 1, "medivac": 1}, {"marine": 2}, [(10, 16), (11, 16), (28, 16), (28, 18)])
    s = env.get_battle_state()
    s.hp[0, 0] = 20.0
    env.set_battle_state(s)
    avail = env.get_avail_actions()
    assert avail[0, 1, 6] == 1 and avail[0, 1, 7] == 0  # heal the marine; no self-heal
    env.step(torch.tensor([[1, 6]]))
    assert float(env.battle.hp[0, 0]) > 20.0
    assert float(env.battle.energy[0, 1]) < 50.0 + 1.0


def test_only_medivacs_left_counts_as_defeat():
    env = custom_env({"marine": 1, "medivac": 1}, {"marine": 1}, [(10, 16), (2, 16), (14, 16)])  # medivac out of scan
    s = env.get_battle_state()
    s.hp[0, 0] = 1.0
    env.set_battle_state(s)
    r, term, info = env.step(torch.tensor([[6, 1]]))
    assert bool(term[0]) and not bool(info["battle_won"][0])


def test_unit_table_is_complete():
    for name in ("marine", "marauder", "medivac", "stalker", "zealot", "colossus", "zergling", "hydralisk",
                 "baneling", "spine_crawler"):
        assert name in UNIT_TYPES
