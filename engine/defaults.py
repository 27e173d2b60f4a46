"""Default cross-diffusion knobs, chosen by measurement: ``diffband eval quality`` on held-out
renders (docs/results.md, docs/results/recommendation.json; a test checks these constants
against that file).  With the shipped melody-following models, follow is on by default
(``auto``): the strength and guidance are the follow-on cell whose layers keep the source's
notes and sound most like the target instrument.  The steps are the fewest the same run
measured as good as more (docs/results.md, "Sampler steps": 10, 20 and 40 scored alike)."""

DEFAULT_STRENGTH = 0.9
DEFAULT_STEPS = 10
DEFAULT_GUIDANCE = 2.0

#: Epsilon scaling of ``generate`` (unconditional clips from noise, DDIM 50): measured on the shipped
#: bundles, 24 clips each, flatness over real renders and FAD to the instrument's held-out renders
#: (docs/decisions.md, "Epsilon scaling").  The techniques that start from the input keep 1.
GENERATE_EPS_SCALE = 1.02

#: Where a layer is grown (``engine.register``): ``fit`` grows an input that lies below the model's
#: range up in that range and brings the layer back down to the input's notes (docs/decisions.md,
#: "fit register"); measured by the same evaluation at the default cell against ``input``.
DEFAULT_REGISTER = "fit"
