"""Writes index.xml: a ReaPack repository holding the "diffband layers" action, so a Reaper
user installs it (and gets its updates) with Extensions > ReaPack > Import repositories.

    python max_patches/reaper/build_index.py              # for this checkout (file:// URLs)
    python max_patches/reaper/build_index.py --url BASE   # for a published copy whose files are
                                                          # at BASE/max_patches/reaper/...

ReaPack needs absolute download URLs, so the index names where the script lives: this
checkout by default (written next to the script; import it as the file:// URL printed),
or a published copy (commit that index.xml and give musicians its URL).  Version,
description and about text come from the script's ReaPack header (``# @version ...``);
the source carries the script's SHA-256, which ReaPack checks before installing.
"""

from __future__ import annotations

import argparse
import hashlib
import re
from pathlib import Path
from xml.etree import ElementTree as ET

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
SCRIPT = HERE / "diffband_layers.py"
INDEX = HERE / "index.xml"
REPOSITORY_NAME = "diffband"
CATEGORY = "Items"


def header(script: str) -> dict[str, str]:
    """The ReaPack metadata tags at the top of ``script`` (``# @tag value``, indented lines continue)."""
    tags: dict[str, str] = {}
    last = None
    for line in script.splitlines():
        if not line.startswith("#"):
            break
        tag = re.match(r"#\s*@(\w+)\s*(.*)$", line)
        if tag:
            last = tag[1]
            tags[last] = tag[2].strip()
        elif last and line.startswith("#   "):
            tags[last] = (tags[last] + "\n" + line[4:].rstrip()).strip()
    return tags


def multihash_sha256(data: bytes) -> str:
    """SHA-256 as ReaPack's ``hash`` attribute writes it (multihash: 0x12, 32, digest; hex)."""
    return "1220" + hashlib.sha256(data).hexdigest()


def build(base_url: str) -> bytes:
    """index.xml for the script, downloadable at ``base_url`` + its path in the repository."""
    data = SCRIPT.read_bytes()
    tags = header(data.decode("utf-8"))
    index = ET.Element("index", version="1", name=REPOSITORY_NAME)
    category = ET.SubElement(index, "category", name=CATEGORY)
    package = ET.SubElement(category, "reapack", name=SCRIPT.name, type="script", desc=tags["description"])
    about = ET.SubElement(ET.SubElement(package, "metadata"), "description")
    about.text = tags.get("about", "")
    version = ET.SubElement(package, "version", name=tags["version"], author=tags.get("author", ""))
    source = ET.SubElement(version, "source", main="main", hash=multihash_sha256(data))
    source.text = base_url.rstrip("/") + "/" + SCRIPT.relative_to(REPO).as_posix()
    ET.indent(index)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(index, encoding="utf-8") + b"\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=REPO.as_uri(), help="where the repository's files are (default: this checkout)")
    parser.add_argument("-o", "--output", type=Path, default=INDEX, help="index file to write (default: %(default)s)")
    args = parser.parse_args()
    args.output.write_bytes(build(args.url))
    print(f"wrote {args.output}\nin Reaper: Extensions > ReaPack > Import repositories..., paste {args.output.resolve().as_uri()}")


if __name__ == "__main__":
    main()
