"""Rewriting a bundle's metadata: after a precision conversion (``export/fp16.py``, ``export/int8.py``) or
export."""

from __future__ import annotations

from pathlib import Path

import onnx

from diffband.engine.bundle import PREFIX
from diffband.engine.vocoders import VocoderSpec


def relocated(props: dict[str, str], source: Path, out: Path) -> dict[str, str]:
    """``props`` of the bundle at ``source`` as written to ``out``: a vocoder network named relative to
    ``source``'s folder is named relative to ``out``'s, so a conversion written elsewhere still finds it."""
    if PREFIX + "vocoder" not in props:
        return dict(props)
    spec = VocoderSpec.from_json(props[PREFIX + "vocoder"])
    if not spec.network:
        return dict(props)
    moved = spec.located(Path(source).parent).named_from(Path(out).parent)
    return {**props, PREFIX + "vocoder": moved.to_json()}


def set_metadata(proto: onnx.ModelProto, props: dict[str, str], precision: str) -> None:
    """Replace ``proto``'s metadata with ``props`` (a source bundle's), its precision set to ``precision``."""
    replace_metadata(proto, {**props, PREFIX + "precision": precision})


def replace_metadata(proto: onnx.ModelProto, props: dict[str, str]) -> None:
    """``proto``'s metadata_props become exactly ``props``."""
    del proto.metadata_props[:]
    for key, value in props.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
