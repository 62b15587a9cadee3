"""Mixers: how per-agent utilities Q_i become a joint value. One file per method."""
from .qmix import QMixer
from .qplex import QPLEXMixer
from .qtran_alt import QTranAlt
from .qtran_base import QTranBase
from .vdn import IndependentMixer, VDNMixer
from .weighted_qmix import CentralMixer, WeightedQMixer

__all__ = ["CentralMixer", "IndependentMixer", "QMixer", "QPLEXMixer", "QTranAlt", "QTranBase", "VDNMixer",
           "WeightedQMixer"]
