"""diffband runtime: mel codec, noise schedule, ONNX bundles, samplers and techniques.

This package runs models with numpy + onnxruntime alone; it never imports torch.
"""

__version__ = "0.1.0"
