"""Learner registry, keyed by the algorithm names users type."""
from __future__ import annotations

from ..config import TrainConfig
from ..envs.base import EnvInfo
from .base import Learner
from .qplex import QPLEXLearner
from .qtran import QTranAltLearner, QTranBaseLearner
from .value_decomposition import IQLLearner, QMIXLearner, VDNLearner
from .weighted_qmix import CWQMIXLearner, OWQMIXLearner

LEARNERS: dict[str, type[Learner]] = {
    "iql": IQLLearner,
    "vdn": VDNLearner,
    "qmix": QMIXLearner,
    "qtran_base": QTranBaseLearner,
    "qtran_alt": QTranAltLearner,
    "qplex": QPLEXLearner,
    "cw_qmix": CWQMIXLearner,
    "ow_qmix": OWQMIXLearner,
}


def make_learner(cfg: TrainConfig, info: EnvInfo, device="cpu") -> Learner:
    """Build the learner registered under `cfg.algo` (the names users type); unknown names are refused."""
    if cfg.algo not in LEARNERS:
        raise ValueError(f"unknown algorithm {cfg.algo!r}; choose one of {', '.join(LEARNERS)}")
    return LEARNERS[cfg.algo](cfg, info, device)


__all__ = ["LEARNERS", "Learner", "make_learner"]
