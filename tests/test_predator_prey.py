"""Modified predator-prey: reward rules on hand-built positions, movement, batching, masks, errors."""
import itertools

import pytest
import torch

from qtran_lib.envs import make_env
from qtran_lib.envs.base import InvalidActionError, joint_action_index, joint_actions
from qtran_lib.envs.predator_prey import PredatorPrey, optimal_return, policy_return, q_values, tabulate

UP, LEFT, STAY, RIGHT, DOWN = range(5)


def place(env, predators, prey):
    env.reset()
    env.set_positions(torch.tensor(predators), torch.tensor(prey))


def step_with_prey(env, actions, prey_moves):
    """Step with chosen prey moves (instead of random ones) by patching the env's generator draw."""
    orig = torch.randint

    def fake(high, size, generator=None, device=None):
        return torch.tensor(prey_moves, device=device).view(size)

    torch.randint = fake
    try:
        return env.step(torch.tensor(actions))
    finally:
        torch.randint = orig


def test_registry_and_specs():
    env = make_env("predator_prey", batch_size=2)
    info = env.env_info()
    assert (info.n_agents, info.n_actions, info.episode_limit) == (2, 5, 100)
    assert (env.grid_size, env.n_prey, env.penalty) == (5, 1, 0.5)
    assert info.obs_dim == 3 * 3 + 2 and info.state_dim == 6
    big = make_env("predator_prey:4p,penalty=1.5")
    assert (big.n_predators, big.n_prey, big.grid_size, big.penalty) == (4, 2, 7, 1.5)
    assert make_env("predator_prey", penalty=1.0).penalty == 1.0  # env_args


def test_reward_rules_by_hand():
    env = PredatorPrey(penalty=1.5, batch_size=3, seed=0)
    # prey at (2, 2); episode 0: two adjacent predators; 1: one adjacent; 2: none adjacent (diagonal)
    place(env, [[[1, 2], [3, 2]], [[1, 2], [4, 4]], [[1, 1], [3, 3]]], [[[2, 2]], [[2, 2]], [[2, 2]]])
    reward, term, info = step_with_prey(env, [[STAY, STAY]] * 3, [[STAY]] * 3)
    assert reward.tolist() == [1.0, -1.5, 0.0]
    assert term.tolist() == [True, False, False]
    assert info["captures"].tolist() == [1.0, 0.0, 0.0] and info["lone"].tolist() == [0.0, 1.0, 0.0]
    assert info["battle_won"].tolist() == [True, False, False]  # a capture counts as a won episode
    assert env.active.tolist() == [False, True, True]


def test_reward_sums_over_prey_and_counts_after_moves():
    env = PredatorPrey(n_predators=4, n_prey=2, grid_size=7, penalty=1.0, batch_size=1, seed=0)
    # prey A at (1,1) gets one predator adjacent after it moves; prey B at (5,5) gets two
    place(env, [[[3, 1], [5, 4], [4, 5], [0, 6]]], [[[1, 1], [5, 5]]])
    reward, term, _ = step_with_prey(env, [[LEFT, STAY, STAY, STAY]], [[STAY, STAY]])
    assert env.pos[0, 0].tolist() == [2, 1]
    assert reward.item() == pytest.approx(1.0 - 1.0)
    assert term.item()


def test_walls_and_blocking_and_no_swaps():
    env = PredatorPrey(batch_size=1, seed=0)
    place(env, [[[0, 0], [1, 0]]], [[[4, 4]]])
    step_with_prey(env, [[UP, LEFT]], [[STAY]])  # pred 0 hits the wall; pred 1 is blocked by pred 0
    assert env.pos[0, :2].tolist() == [[0, 0], [1, 0]]
    step_with_prey(env, [[RIGHT, LEFT]], [[STAY]])  # a swap fails
    assert env.pos[0, :2].tolist() == [[0, 0], [1, 0]]
    step_with_prey(env, [[RIGHT, RIGHT]], [[STAY]])  # a chain: pred 1 vacates, pred 0 follows
    assert env.pos[0, :2].tolist() == [[1, 0], [2, 0]]
    step_with_prey(env, [[DOWN, DOWN]], [[RIGHT]])  # prey at the edge stays
    assert env.pos[0].tolist() == [[1, 1], [2, 1], [4, 4]]


def test_episode_limit_masks_and_frozen_rows():
    env = PredatorPrey(episode_limit=3, batch_size=2, seed=0)
    place(env, [[[1, 2], [3, 2]], [[0, 0], [0, 4]]], [[[2, 2]], [[4, 2]]])
    r, term, info = step_with_prey(env, [[STAY, STAY]] * 2, [[STAY]] * 2)
    assert term.tolist() == [True, False]
    frozen = env.pos[0].clone()
    for _ in range(2):
        r, term, info = env.step(torch.tensor([[RIGHT, RIGHT], [STAY, STAY]]))
        assert r[0].item() == 0.0 and torch.equal(env.pos[0], frozen)
    assert info["truncated"].tolist() == [False, True] and not env.active.any()
    with pytest.raises(RuntimeError):
        env.step(torch.zeros(2, 2, dtype=torch.long))


def test_endless_mode_respawns_the_prey():
    env = PredatorPrey(terminate_on_capture=False, batch_size=1, seed=0)
    place(env, [[[1, 2], [3, 2]]], [[[2, 2]]])
    r, term, _ = step_with_prey(env, [[STAY, STAY]], [[STAY]])
    assert r.item() == 1.0 and not term.item() and env.active.item()
    assert env.pos[0, 2].tolist() != [2, 2]  # respawned on another cell: its own counts as occupied
    cells = {tuple(p) for p in env.pos[0].tolist()}
    assert len(cells) == 3


def test_reset_batching_observation_and_state():
    env = make_env("predator_prey:4p", batch_size=64, seed=5)
    obs, state, avail = env.reset()
    assert obs.shape == (64, 4, 3 * 6 + 2) and state.shape == (64, 12) and avail.shape == (64, 4, 5)
    flat = env.pos[..., 1] * 7 + env.pos[..., 0]
    assert all(len(set(row.tolist())) == 6 for row in flat)  # one entity per cell
    # own entry of the relative block is zero; visibility flags all 1 by default
    ents = obs[..., :18].view(64, 4, 6, 3)
    assert torch.all(ents[:, range(4), range(4), :2] == 0) and torch.all(ents[..., 2] == 1)
    again = make_env("predator_prey:4p", batch_size=64, seed=5)
    assert torch.equal(again.reset()[0], obs)


def test_partial_observability_hides_far_entities():
    env = PredatorPrey(sight=1, batch_size=1, seed=0)
    place(env, [[[0, 0], [1, 1]]], [[[4, 4]]])
    ents = env.get_obs()[0, 0, :9].view(3, 3)
    assert ents[1].tolist() == pytest.approx([0.2, 0.2, 1.0])  # neighbour at (+1, +1)/5, visible
    assert ents[2].tolist() == [0.0, 0.0, 0.0]  # prey out of sight


def test_errors():
    with pytest.raises(ValueError, match="configuration"):
        make_env("predator_prey:9p")
    with pytest.raises(ValueError, match="option"):
        make_env("predator_prey:speed=2")
    with pytest.raises(ValueError, match="cannot read"):
        make_env("predator_prey:penalty=high")
    with pytest.raises(ValueError, match="grid"):
        PredatorPrey(n_predators=20, n_prey=6, grid_size=5)
    with pytest.raises(ValueError, match="penalty"):
        PredatorPrey(penalty=-1)
    env = PredatorPrey(batch_size=1)
    env.reset()
    with pytest.raises(ValueError, match="share a cell"):
        env.set_positions(torch.tensor([[[0, 0], [0, 0]]]), torch.tensor([[[1, 1]]]))
    with pytest.raises(InvalidActionError):
        env.step(torch.tensor([[5, 0]]))


def one_step_cases(d, penalty):
    """Every (placement, u_1, u_2, prey move) on a d x d grid stepped once through env.step:
    placements [S, 3] flat cells, reward [S, 25, 5], cells after the moves [S, 25, 5, 3]."""
    states = torch.tensor(list(itertools.permutations(range(d * d), 3)))  # [S, 3]
    cases = list(itertools.product(range(len(states)), range(5), range(5), range(5)))  # state, u_1, u_2, prey move
    idx = torch.tensor(cases)  # [R, 4]
    env = PredatorPrey(grid_size=d, penalty=penalty, batch_size=len(cases), seed=0)
    cells = states[idx[:, 0]]
    xy = torch.stack([cells % d, cells // d], -1)  # [R, 3, 2]
    place(env, xy[:, :2].tolist(), xy[:, 2:].tolist())
    r, _, _ = step_with_prey(env, idx[:, 1:3].tolist(), idx[:, 3:].tolist())
    after = env.pos[..., 1] * d + env.pos[..., 0]  # [R, 3]
    return states, r.view(len(states), 25, 5), after.view(len(states), 25, 5, 3)


def test_optimal_return_one_step_matches_brute_force():
    """With one step to go the optimum is E_state[max_u E_prey r]: check it through env.step on every case."""
    _, r, _ = one_step_cases(3, 0.5)
    best = r.mean(-1).amax(-1).mean()
    assert optimal_return(0.5, grid_size=3, episode_limit=1) == pytest.approx(best.item(), abs=1e-6)


def test_optimal_return_two_steps_endless_matches_brute_force():
    """Two steps in endless mode: a caught prey reappears on one of the cells that are empty and not its own."""
    d, penalty = 3, 0.5
    states, r, after = one_step_cases(d, penalty)
    v1 = {tuple(s): v for s, v in zip(states.tolist(), r.mean(-1).amax(-1).tolist())}  # one step to go
    cont = torch.zeros_like(r)
    for i, u, m in itertools.product(*(range(n) for n in r.shape)):
        cells = tuple(after[i, u, m].tolist())
        if r[i, u, m] == 1.0:  # caught (one prey: reward 1 only on a capture)
            free = [c for c in range(d * d) if c not in cells]
            cont[i, u, m] = sum(v1[cells[:2] + (c,)] for c in free) / len(free)
        else:
            cont[i, u, m] = v1[cells]
    best = (r + cont).mean(-1).amax(-1).mean()
    value = optimal_return(penalty, terminate_on_capture=False, grid_size=d, episode_limit=2)
    assert value == pytest.approx(best.item(), abs=1e-6)


def test_optimal_return_orders_and_limits():
    # with no penalty and time to spare, two predators always corner the prey: the optimum tends to 1
    assert optimal_return(0.0, grid_size=3, episode_limit=40) == pytest.approx(1.0, abs=1e-3)
    endless = [optimal_return(p, terminate_on_capture=False, grid_size=3, episode_limit=10) for p in (0.0, 0.5, 1.5)]
    assert endless[0] > endless[1] > endless[2] > 0  # penalties cost, but coordinated capture still pays
    assert endless[0] > 1.0  # endless mode: several captures per episode
    with pytest.raises(ValueError, match="too large to solve exactly"):
        optimal_return(0.5, n_predators=4, grid_size=7)  # via tabulate
    model = tabulate(0.5, grid_size=3)
    with pytest.raises(ValueError, match="tabulated for P = 0.5"):
        optimal_return(1.5, grid_size=3, model=model)  # tables of another penalty: no silent wrong answer
    with pytest.raises(ValueError, match="long tensor"):
        policy_return(model, torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="must lie in 0..24"):
        q_values(model, torch.full((len(model.states),), 25), sweeps=1)


def test_exact_policy_values_match_simulation():
    """policy_return and q_values on a 3x3 grid, checked by simulating the env with the same policy."""
    d, penalty, limit = 3, 0.5, 10
    model = tabulate(penalty, grid_size=d)
    star = q_values(model, None, terminate_on_capture=False, gamma=0.9, sweeps=300)  # Q*  [S, 25]
    greedy = star.argmax(-1)  # [S] joint action, predator 0 most significant
    assert torch.allclose(q_values(model, greedy, False, gamma=0.9, sweeps=300), star, atol=1e-6)  # Q^pi* = Q*
    exact = policy_return(model, greedy, terminate_on_capture=False, episode_limit=limit)
    stay = policy_return(model, torch.full_like(greedy, 5 * STAY + STAY), False, episode_limit=limit)
    assert stay < exact <= optimal_return(penalty, False, grid_size=d, episode_limit=limit, model=model) + 1e-9
    index = torch.full((d * d,) * 3, -1, dtype=torch.long)
    index[tuple(model.states.T)] = torch.arange(len(model.states))
    env = PredatorPrey(grid_size=d, penalty=penalty, episode_limit=limit, terminate_on_capture=False,
                       batch_size=20_000, seed=1)
    env.reset()
    total = torch.zeros(env.batch_size)
    for _ in range(limit):
        u = greedy[index[tuple((env.pos[..., 1] * d + env.pos[..., 0]).T)]]  # [B]
        r, _, _ = env.step(torch.stack([u // 5, u % 5], -1))
        total += r
    assert abs(float(total.mean()) - exact) < 4 * float(total.std()) / env.batch_size ** 0.5


def test_probe_script_reads_the_joint_value_of_every_joint_action():
    """For VDN the joint value at u = (u_1, u_2) is Q_1(u_1) + Q_2(u_2), and the greedy joint action is its argmax."""
    from script_loader import load_script

    from qtran_lib import make_config
    from qtran_lib.config import load_yaml
    from qtran_lib.learners import make_learner

    probe = load_script("probe_predator_prey")
    cfg = make_config(load_yaml("predator_prey"), algo="vdn", env="predator_prey:grid_size=3", seed=0)
    env = make_env(cfg.env, batch_size=6, seed=0)
    obs, state, _ = env.reset()
    learner = make_learner(cfg, env.env_info())
    greedy, joint = probe.joint_table(learner, obs, state, 5)  # [6], [6, 25]
    q, _ = learner.agent(learner.inputs(obs, None), None)  # [6, 2, 5]
    assert torch.allclose(joint, (q[:, 0, :, None] + q[:, 1, None, :]).reshape(6, 25).double(), atol=1e-6)
    assert torch.equal(greedy, joint.argmax(-1))


def test_probe_script_generative_batches_and_overrides():
    """--data generative: one-step transitions in the buffer's layout from uniformly random placements and joint
    actions, which every learner trains on; --set scopes overrides to one algorithm or to all."""
    from script_loader import load_script

    from qtran_lib import make_config
    from qtran_lib.config import load_yaml
    from qtran_lib.learners import make_learner

    probe = load_script("probe_predator_prey")
    env = PredatorPrey(penalty=1.5, terminate_on_capture=False, batch_size=512, seed=0)
    batch = probe.generative_batch(env, 5)
    assert batch["obs"].shape == (512, 2, 2, 11) and batch["actions"].shape == (512, 2, 2)
    assert torch.equal(batch["filled"][0], torch.tensor([1.0, 0.0])) and not batch["terminated"].any()
    assert torch.equal(batch["obs"][:, 1], env.get_obs())  # the next step is the env after the step
    assert set(batch["reward"][:, 0].tolist()) == {-1.5, 0.0, 1.0}  # lone contacts, nothing, captures
    assert len(set(joint_action_index(batch["actions"][:, 0], 5).tolist())) == 25  # every joint action
    sets = ["hidden_dim=16", "qtran_base:qtran_joint_input=inputs", "vdn:lr=0.01"]
    assert probe.parse_sets(sets, "qtran_base") == {"hidden_dim": "16", "qtran_joint_input": "inputs"}
    assert probe.parse_sets(sets, "vdn") == {"hidden_dim": "16", "lr": "0.01"}
    with pytest.raises(ValueError, match="key=value"):
        probe.parse_sets(["hidden_dim"], "vdn")
    with pytest.raises(SystemExit):  # a scope that names no algorithm of the run is a typo, not a no-op
        probe.main(["--algos", "vdn", "--set", "qtran:lr=1", "--out", "-"])
    for algo in ("vdn", "qtran_base"):
        cfg = make_config(load_yaml("predator_prey"), algo=algo, seed=0, **probe.parse_sets(sets, algo))
        out = make_learner(cfg, env.env_info()).train_step(batch)
        assert all(torch.isfinite(torch.tensor(v)) for v in out.values())


def test_oracle_script_losses_and_event_counts():
    """The oracle's QTRAN loss vanishes exactly when the utilities' sum bounds the critic from above and meets
    it at their greedy joint action; its event counts add up to the return (+1 per capture, -P per lone contact)."""
    from script_loader import load_script

    oracle = load_script("oracle_predator_prey")
    torch.manual_seed(0)
    u_all = joint_actions(2, 5)  # [25, 2]
    assert torch.equal(joint_action_index(u_all, 5), torch.arange(25))  # the inverse of joint_actions
    q = torch.randn(4, 2, 5)  # [S, N, A]
    fit = oracle.joint_sum(q, u_all)  # [S, 25]
    assert torch.allclose(fit, (q[:, 0, :, None] + q[:, 1, None, :]).reshape(4, 25))
    state = torch.zeros(4, 6)
    assert float(oracle.loss("qtran", q, fit - 0.5 * torch.rand(4, 25) * (fit < fit.max(-1, keepdim=True).values),
                             u_all, state, None)) == 0.0
    above = fit.clone()
    above[:, 0] = fit.max(-1).values + 1.0  # the critic's argmax is no longer the utilities' greedy joint action
    assert float(oracle.loss("qtran", q, above, u_all, state, None)) > 0
    assert float(oracle.loss("vdn", q, fit, u_all, state, None)) == pytest.approx(0.0, abs=1e-10)
    model = tabulate(1.0, grid_size=3)
    policy = torch.randint(25, (len(model.states),))
    counts = oracle.stats(model, model.reward < 0, policy)
    assert counts["captures"] > 0 and counts["lone contacts"] > 0
    assert policy_return(model, policy, False) == pytest.approx(counts["captures"] - counts["lone contacts"])
