"""Rewriting a bundle's metadata: after a precision conversion (``export/fp16.py``, ``export/int8.py``) or
export."""

from __future__ import annotations

import onnx

from diffband.engine.bundle import PREFIX


def set_metadata(proto: onnx.ModelProto, props: dict[str, str], precision: str) -> None:
    """Replace ``proto``'s metadata with ``props`` (a source bundle's), its precision set to ``precision``."""
    replace_metadata(proto, {**props, PREFIX + "precision": precision})


def replace_metadata(proto: onnx.ModelProto, props: dict[str, str]) -> None:
    """``proto``'s metadata_props become exactly ``props``."""
    del proto.metadata_props[:]
    for key, value in props.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
