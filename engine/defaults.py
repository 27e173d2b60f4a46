"""Default cross-diffusion knobs, chosen from the measured sweep in docs/results.md:
the strength closest to the target instrument (lowest FAD to held-out target renders)
that still keeps the source's melody (chroma similarity >= 0.6), and the fewest sampler
steps within 2 % of the best FAD at that strength (50 steps bought < 1.5 %)."""

DEFAULT_STRENGTH = 0.6
DEFAULT_STEPS = 20
