"""qtran_lib: QTRAN, VDN, QMIX and friends for cooperative multi-agent RL, in plain PyTorch.

The companion library of the executable book in ``book/``. Start with ``train(make_config(...))``
or the CLI ``python -m qtran_lib train --help``.
"""
from .config import TrainConfig, make_config
from .envs import make_env
from .train import train

__version__ = "0.1.0"
__all__ = ["TrainConfig", "make_config", "make_env", "train", "__version__"]
