"""Audio understanding: sniffing, probing, decoding budgets, renditions and waveforms."""

from .probe import AudioFacts, AudioLimits, content_type_for, probe
from .sniff import HEAD_BYTES, TAIL_BYTES, Sniffed, sniff

__all__ = [
    "HEAD_BYTES", "TAIL_BYTES", "AudioFacts", "AudioLimits", "Sniffed", "content_type_for",
    "probe", "sniff",
]
