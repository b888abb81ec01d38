"""The synthetic credit world: population, macro regime, behaviour, truth, generator."""

from toolkit.synth.generate import default_output, generate

__all__ = ["default_output", "generate"]
