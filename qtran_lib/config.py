"""Typed training configuration. Every field a user can set (YAML, CLI ``key=value``) lives here."""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ALGORITHMS = ("iql", "vdn", "qmix", "qtran_base", "qtran_alt", "qplex", "cw_qmix", "ow_qmix")
PRESET_DIR = Path(__file__).parent / "configs"
TEST_SEED_OFFSET = 100_003
"""The greedy-evaluation environment is seeded with seed + TEST_SEED_OFFSET."""
MAX_SEED = 2**32 - 1 - TEST_SEED_OFFSET
"""torch's CPU generator keeps 32 bits of a seed (2**32 and 0 give the same stream), and the test env adds an offset."""


@dataclass
class TrainConfig:
    """Every setting of one training run, one typed field each with its own docstring; `validate` checks them all."""
    # --- what to train ---
    algo: str = "qtran_base"
    """One of iql, vdn, qmix, qtran_base, qtran_alt, qplex, cw_qmix, ow_qmix."""
    env: str = "matrix:paper"
    """Environment name, e.g. matrix:paper, matrix:8,-12;-12,0, gaussian_squeeze, predator_prey, starcraft:3m."""
    env_args: dict = field(default_factory=dict)
    """Extra keyword arguments for the environment factory."""
    seed: int = 0
    """Seeds network initialisation, exploration, replay sampling and the environment."""
    device: str = "auto"
    """cpu, cuda, cuda:1 or auto (CUDA when available)."""
    # --- data collection ---
    t_max: int = 20000
    """Total environment steps (summed over parallel episodes) to train for."""
    batch_size_run: int = 32
    """B: parallel episodes collected per iteration (the env's batch dimension)."""
    runner: str = "lockstep"
    """lockstep: play B episodes to the end of the longest, then start B new ones; autoreset (starcraft): every
    episode restarts as soon as it ends and each iteration stores the next B episodes to complete."""
    buffer_size: int = 5000
    """Replay capacity in episodes."""
    batch_size: int = 32
    """Episodes per gradient update."""
    updates_per_iteration: int = 1
    """Gradient updates after each batch of B episodes."""
    max_updates: int = 0
    """Stop after this many gradient updates even before t_max (0: no limit)."""
    full_batch: bool = False
    """One-step matrix games only: train every update on each joint action once (the paper's uniform protocol, noise-free)."""
    epsilon_start: float = 1.0
    """Exploration rate at t = 0."""
    epsilon_finish: float = 0.05
    """Exploration rate after annealing."""
    epsilon_anneal_time: int = 50000
    """Environment steps over which epsilon falls linearly."""
    epsilon_uniform_fraction: float = 0.0
    """Share of the B parallel episodes that act uniformly at random all through training (the rest follow the schedule)."""
    # --- networks ---
    agent: str = "rnn"
    """Agent network: rnn (FC-GRU-FC), mlp (FC-FC-FC) or mlp_separate (the mlp with each agent's own weights)."""
    hidden_dim: int = 64
    """Width of the agent network and size of the hidden feature h_i."""
    obs_last_action: bool = True
    """Append the agent's previous action (one-hot) to its input."""
    obs_agent_id: bool = True
    """Append the agent's id (one-hot) to its input."""
    mixing_embed_dim: int = 32
    """QMIX mixing width E."""
    hypernet_layers: int = 2
    """QMIX hypernetwork depth (1 or 2)."""
    hypernet_embed: int = 64
    """QMIX hypernetwork hidden width."""
    qtran_embed_dim: int = 64
    """Width of QTRAN's joint and state-value networks."""
    qtran_use_state: bool = True
    """Feed the global state to QTRAN's Q_jt and V_jt networks (pymarl) or only the agents' features (paper)."""
    qtran_use_v: bool = True
    """Learn V_jt (paper); False sets V_jt = 0 as the authors' fully observed code does."""
    qtran_detach_features: bool = False
    """Feed QTRAN's joint networks h_i.detach(): L_td then trains only Q_jt/V_jt, never the agents' shared layers."""
    qtran_joint_input: str = "features"
    """What QTRAN's Q_jt and V_jt networks read per agent: the agents' hidden features h_i (paper: shared lower
    layers) or the agents' raw inputs (their own layers, so L_opt moving the utilities never shifts the critic's
    input; for fully observed tasks, where the input holds everything the history would)."""
    qtran_td_target: str = "joint"
    """TD target: joint = Q_jt^-(tau', u_bar') (paper), individual = sum_i max Q_i^-(tau') (authors' code) or
    joint_max = max_u Q_jt^-(tau', u) over all joint actions (QTRAN-base, A^N <= 4096: Q_jt learns Q* by itself)."""
    qtran_nopt_actions: str = "taken"
    """QTRAN-base's L_nopt at the taken joint action (paper) or at all joint actions (Theorem 1's condition
    for every u; only where A^N <= 4096)."""
    lambda_opt: float = 1.0
    """Weight of L_opt."""
    lambda_nopt: float = 1.0
    """Weight of L_nopt (base) or L_nopt-min (alt)."""
    # --- after QTRAN: QPLEX and weighted QMIX (book/07_after_qtran) ---
    qplex_embed_dim: int = 64
    """QPLEX: width of the transformation's w_i(s), b_i(s) networks and of every attention extractor (pymarl2: 64)."""
    qplex_heads: int = 4
    """QPLEX: number K of attention heads summed into lambda_i(tau, u) (pymarl2: num_kernel 4; the authors' matrix game: 10)."""
    qplex_attention_layers: int = 1
    """QPLEX: hidden layers in every attention extractor (pymarl2 on SMAC: 1, adv_hypernet_layers 2; the authors' matrix
    game: 2, adv_hypernet_layers 3, which the 3x3 game needs to find (A, A))."""
    qplex_stop_gradient: bool = True
    """QPLEX: detach the advantages inside the lambda_i term (pymarl2's is_stop_gradient); False differentiates
    sum_i lambda_i A_i as written."""
    wqmix_alpha: float = 0.1
    """Weighted QMIX: the weight alpha in (0, 1] of the joint actions CW/OW-QMIX deem unimportant (pymarl2: 0.1;
    1 gives QMIX trained on Q^*'s targets)."""
    wqmix_central_embed_dim: int = 256
    """Weighted QMIX: width of the three hidden layers of Q^*'s feed-forward mixer (pymarl2: 256)."""

    # --- optimisation ---
    optimizer: str = "adam"
    """adam or rmsprop."""
    lr: float = 5e-4
    """Learning rate."""
    lr_final_fraction: float = 1.0
    """Anneal the learning rate linearly to lr * this fraction by the end of training (1.0: constant)."""
    optim_alpha: float = 0.99
    """RMSprop smoothing constant."""
    optim_eps: float = 1e-5
    """Optimiser epsilon."""
    gamma: float = 0.99
    """Discount factor."""
    td_lambda: float = 0.0
    """TD(lambda) targets: 0 is the paper's one-step target; pymarl2 uses 0.6 on SMAC."""
    reward_scale: float = 1.0
    """Multiply rewards before learning (Q tables report payoff units); 0 = auto: matrix payoffs beyond +-30 shrink to +-30."""
    grad_norm_clip: float = 10.0
    """Clip the global gradient L2 norm to this value."""
    target_update_interval: int = 200
    """Gradient updates between hard copies into the target networks."""
    double_q: bool = True
    """Pick the next greedy action with the online agents and evaluate it with the target networks."""
    # --- evaluation, logging, checkpoints ---
    test_interval: int = 10000
    """Environment steps between greedy evaluations (0: only at the end)."""
    test_episodes: int = 32
    """Episodes per greedy evaluation."""
    log_interval: int = 2000
    """Environment steps between rows of metrics.csv."""
    save_interval: int = 0
    """Environment steps between checkpoints (0: auto, at every tenth of the run, so a crash loses at most a tenth;
    -1: only at the end)."""
    tensorboard: bool = False
    """Also write TensorBoard event files (needs the tensorboard package)."""

    def validate(self) -> TrainConfig:
        """Check every field against ``RULES`` (finite numbers, signs, ranges) and the choices; raise ValueError."""
        if self.algo not in ALGORITHMS:
            raise ValueError(f"unknown algorithm {self.algo!r}; choose one of {', '.join(ALGORITHMS)}")
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{f.name} must be a finite number, got {value}")
        for name, (ok, expected) in RULES.items():
            value = getattr(self, name)
            if not ok(value):
                doc = FIELD_DOCS.get(name, "").split("\n")[0]
                raise ValueError(f"{name} must be {expected}, got {value!r}" + (f" ({name}: {doc})" if doc else ""))
        from .envs import ENVS  # the registry's names; the factory checks the spec when the run builds its env

        family = self.env.partition(":")[0] if isinstance(self.env, str) else None
        checks = [
            (family in ENVS, f"unknown environment family {family!r} in env={self.env!r}; known: {', '.join(sorted(ENVS))}"),
            (self.runner == "lockstep" or family == "starcraft",
             f"runner=autoreset needs an env with per-episode restarts (starcraft), not {self.env!r}"),
            (self.buffer_size >= self.batch_size, f"buffer_size ({self.buffer_size}) must be >= batch_size ({self.batch_size})"),
            (self.qtran_td_target != "joint_max" or self.algo == "qtran_base",
             f"qtran_td_target=joint_max is a QTRAN-base option, not one for {self.algo}"),
            (self.qtran_nopt_actions == "taken" or self.algo == "qtran_base",
             f"qtran_nopt_actions=all is a QTRAN-base option, not one for {self.algo}"),
        ]
        for ok, msg in checks:
            if not ok:
                raise ValueError(msg)
        return self

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}


def _choice(*names: str) -> tuple[Callable, str]:
    return (lambda v: v in names), ", ".join(names[:-1]) + " or " + names[-1]


def _at_least(lo: float) -> tuple[Callable, str]:
    return (lambda v: v >= lo), f">= {lo}"


def _between(lo: float, hi: float, open_lo: bool = False) -> tuple[Callable, str]:
    if open_lo:
        return (lambda v: lo < v <= hi), f"in ({lo}, {hi}]"
    return (lambda v: lo <= v <= hi), f"in [{lo}, {hi}]"


_POSITIVE = ((lambda v: v > 0), "positive")
# Field -> (predicate, what it must be). Every numeric field is listed: validate() also refuses NaN and inf.
RULES: dict[str, tuple[Callable, str]] = {
    "seed": ((lambda v: 0 <= v <= MAX_SEED), f"an integer in [0, {MAX_SEED}] (torch's generator keeps 32 bits)"),
    "t_max": _POSITIVE,
    "batch_size_run": _POSITIVE,
    "runner": _choice("lockstep", "autoreset"),
    "buffer_size": _POSITIVE,
    "batch_size": _POSITIVE,
    "updates_per_iteration": ((lambda v: v >= 1), ">= 1 (0 would collect data and never train)"),
    "max_updates": _at_least(0),
    "epsilon_start": _between(0.0, 1.0),
    "epsilon_finish": _between(0.0, 1.0),
    "epsilon_anneal_time": _at_least(0),
    "epsilon_uniform_fraction": _between(0.0, 1.0),
    "agent": _choice("rnn", "mlp", "mlp_separate"),
    "hidden_dim": _POSITIVE,
    "mixing_embed_dim": _POSITIVE,
    "hypernet_layers": ((lambda v: v in (1, 2)), "1 or 2"),
    "hypernet_embed": _POSITIVE,
    "qtran_embed_dim": _POSITIVE,
    "qtran_joint_input": _choice("features", "inputs"),
    "qtran_td_target": _choice("joint", "individual", "joint_max"),
    "qtran_nopt_actions": _choice("taken", "all"),
    "lambda_opt": _at_least(0.0),
    "lambda_nopt": _at_least(0.0),
    "qplex_embed_dim": _POSITIVE,
    "qplex_heads": _POSITIVE,
    "qplex_attention_layers": _POSITIVE,
    "wqmix_alpha": _between(0.0, 1.0, open_lo=True),
    "wqmix_central_embed_dim": _POSITIVE,
    "optimizer": _choice("adam", "rmsprop"),
    "lr": _POSITIVE,
    "lr_final_fraction": _between(0.0, 1.0, open_lo=True),
    "optim_alpha": ((lambda v: 0.0 <= v < 1.0), "in [0, 1)"),
    "optim_eps": _POSITIVE,
    "gamma": _between(0.0, 1.0),
    "td_lambda": _between(0.0, 1.0),
    "reward_scale": ((lambda v: v >= 0), ">= 0 (0 = auto)"),
    "grad_norm_clip": ((lambda v: v > 0), "positive (a negative clip turns descent into ascent)"),
    "target_update_interval": _POSITIVE,
    "test_interval": ((lambda v: v >= 0), ">= 0 (0: only at the end)"),
    "test_episodes": ((lambda v: v >= 1), ">= 1 (episodes per greedy evaluation)"),
    "log_interval": _at_least(0),
    "save_interval": ((lambda v: v >= -1), ">= -1 (0: auto, -1: only at the end)"),
}


def field_docs() -> dict[str, str]:
    """Field name -> its one-line docstring, read from this file's source (used by --help)."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(TrainConfig))
    docs, body = {}, tree.body[0].body
    for node, nxt in zip(body, body[1:]):
        if isinstance(node, ast.AnnAssign) and isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant):
            docs[node.target.id] = str(nxt.value.value)
    return docs


def coerce(name: str, value):
    """Convert a YAML/CLI value to the type of field ``name``; unknown names are an error."""
    if name not in FIELDS:
        import difflib

        near = difflib.get_close_matches(name, FIELDS, n=3)
        hint = f" (did you mean {', '.join(near)}?)" if near else ""
        raise ValueError(f"unknown config key {name!r}{hint}")
    default = FIELDS[name].default if FIELDS[name].default is not dataclasses.MISSING else FIELDS[name].default_factory()
    if isinstance(value, str):
        if isinstance(default, bool):
            low = value.lower()
            if low not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(f"{name} expects true/false, got {value!r}")
            return low in ("true", "1", "yes")
        if isinstance(default, (int, float, dict)):
            try:
                value = yaml.safe_load(value)
            except yaml.YAMLError as e:
                raise ValueError(f"cannot parse {name}={value!r}: {e}") from None
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"{name} expects true/false, got {value!r}")
        return value
    if isinstance(default, int) and not isinstance(default, bool):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"{name} expects an integer, got {value!r}")
        return value
    if isinstance(default, float):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ValueError(f"{name} expects a number, got {value!r}")
        return float(value)
    if isinstance(default, dict):
        if not isinstance(value, dict):
            raise ValueError(f"{name} expects a mapping, got {value!r}")
        return dict(value)
    return str(value)


class UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a mapping with a repeated key (plain YAML silently keeps the last one)."""


def _unique_mapping(loader: UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep)


UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def safe_load_unique(text: str):
    """``yaml.safe_load`` that raises yaml.YAMLError on a duplicate key or an alias (``*name``): config and
    scenario files need neither, and nested aliases expand a few hundred bytes into gigabytes (a "billion laughs")."""
    for event in yaml.parse(text):  # events stream without expanding aliases
        if isinstance(event, yaml.AliasEvent):
            raise yaml.YAMLError(f"aliases (*{event.anchor}) are not allowed here; write the value out")
    return yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)


def load_yaml(path: str | Path) -> dict:
    """Read a config file (or a preset name from qtran_lib/configs) into a dict of checked fields."""
    p = Path(path)
    if not p.exists() and (PRESET_DIR / f"{path}.yaml").exists():
        p = PRESET_DIR / f"{path}.yaml"
    if not p.exists():
        presets = ", ".join(sorted(x.stem for x in PRESET_DIR.glob("*.yaml")))
        raise FileNotFoundError(f"config {str(path)!r} is neither a file nor a preset (presets: {presets})")
    if p.is_dir():
        raise ValueError(f"config {str(path)!r} is a folder; give a YAML file or a preset name")
    try:
        data = safe_load_unique(p.read_text()) or {}
    except yaml.YAMLError as e:
        raise ValueError(f"{p} is not valid YAML: {e}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{p} is not a text (YAML) file") from None
    if not isinstance(data, dict):
        raise ValueError(f"{p} must hold a mapping of config keys, got {type(data).__name__}")
    return {k: coerce(k, v) for k, v in data.items()}


def make_config(base: dict | None = None, **overrides) -> TrainConfig:
    """Build a validated TrainConfig from a dict (e.g. a YAML preset) and keyword overrides."""
    values = {k: coerce(k, v) for k, v in {**(base or {}), **overrides}.items()}
    return TrainConfig(**values).validate()


FIELD_DOCS = field_docs()
