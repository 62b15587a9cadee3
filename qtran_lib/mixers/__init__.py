"""Mixers: how per-agent utilities Q_i become a joint value. One file per method."""
from .qmix import QMixer
from .qtran_alt import QTranAlt
from .qtran_base import QTranBase
from .vdn import IndependentMixer, VDNMixer

__all__ = ["IndependentMixer", "QMixer", "QTranAlt", "QTranBase", "VDNMixer"]
