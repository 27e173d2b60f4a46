"""The bundle metadata a precision conversion rewrites (``export/fp16.py``, ``export/int8.py``)."""

from __future__ import annotations

import onnx

from diffband.engine.bundle import PREFIX


def set_metadata(proto: onnx.ModelProto, props: dict[str, str], precision: str) -> None:
    """Replace ``proto``'s metadata with ``props`` (a source bundle's), its precision set to ``precision``."""
    props = {**props, PREFIX + "precision": precision}
    del proto.metadata_props[:]
    for key, value in props.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
