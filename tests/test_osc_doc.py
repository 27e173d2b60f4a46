"""docs/osc.md is the protocol's single source of truth: the code must say the same."""

from __future__ import annotations

import re

from diffband.bridge import file_input, protocol
from diffband.engine.techniques import TECHNIQUES as ENGINE_TECHNIQUES
from diffband.bridge.osc_guard import PacketLimits
from diffband.bridge.peer_log import PeerLog
from diffband.bridge.server import ServerConfig
from tests.conftest import REPO

DOC = (REPO / "docs" / "osc.md").read_text()


def table_rows(heading: str) -> list[list[str]]:
    """Cells of the Markdown table under ``## heading``."""
    section = DOC.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return [[cell.strip().strip("`") for cell in row.strip("|").split("|")] for row in rows[2:]]


def arg_spec(cell: str) -> tuple[tuple[str, str], ...]:
    return tuple(tuple(item.split(":")) for item in cell.split()) if cell != "—" else ()


def test_request_table_matches_code():
    rows = table_rows("Requests (client -> server)")
    documented = {row[0]: (arg_spec(row[1]), row[2]) for row in rows}
    assert set(documented) == set(protocol.REQUESTS)
    tails = {"—": "", "[reply_port:i]": "reply_port", "[key value]...` `[reply_port:i]": "options+reply_port"}
    for address, message in protocol.REQUESTS.items():
        args, tail = documented[address]
        assert args == message.args, address
        assert tails[tail] == message.tail, address


def test_reply_table_matches_code():
    documented = {row[0]: arg_spec(row[1]) for row in table_rows("Replies (server -> client)")}
    assert documented == {address: m.args for address, m in protocol.REPLIES.items()}


def test_live_report_table_matches_code():
    documented = {row[0]: arg_spec(row[1]) for row in table_rows("Live mode reports (diffband live -> client)")}
    assert documented == {address: m.args for address, m in protocol.LIVE_REPORTS.items()}


def test_options_and_error_codes_match_code():
    options = {row[0]: row for row in table_rows("Job options (`key value` pairs)")}
    assert list(options) == list(protocol.OPTIONS)
    for key, option in protocol.OPTIONS.items():
        _, kind, default, value_range, techniques, _ = options[key]
        assert kind == {str: "s", int: "i", float: "f"}[option.kind], key
        assert default == protocol.default_text(key), key
        if key != "with":
            assert value_range == option.range_text, key
        taking = [t for t in protocol.TECHNIQUES if key in protocol.BRIDGE_OPTIONS or key in ENGINE_TECHNIQUES[t].defaults]
        assert techniques == ("all" if len(taking) == len(protocol.TECHNIQUES) else ", ".join(taking)), key
    assert {row[0] for row in table_rows("Error codes")} == set(protocol.ERROR_CODES)
    assert set(protocol.TECHNIQUES) == {row[0] for row in table_rows("Layers")}


def test_defaults_and_limits_match_code():
    transport = {row[0]: row[1] for row in table_rows("Transport")}
    assert transport["server port"].startswith(f"{protocol.DEFAULT_PORT}`,")
    assert transport["server address"].startswith(protocol.DEFAULT_HOST)
    assert transport["client listening port (Max for Live device)"].startswith(str(protocol.DEFAULT_CLIENT_PORT))
    assert transport["chunk size over UDP"].startswith(f"{protocol.UDP_CHUNK_SAMPLES} samples")
    assert f"{protocol.TCP_CHUNK_SAMPLES} samples" in transport["chunk size over TCP"]

    limits = {row[0]: row[1] for row in table_rows("Security defaults and limits (`diffband serve` options)")}
    config = ServerConfig()
    mib = 2**20
    assert limits["UDP datagram"].startswith(f"{config.max_packet} bytes")
    assert limits["TCP packet (one SLIP frame)"].startswith(f"{config.max_frame // mib} MiB")
    assert limits["audio per job"] == f"{config.max_seconds:.0f} s"
    assert limits["channels in buffer mode"] == str(config.max_channels)
    assert limits["audio held in open uploads"] == f"{config.max_upload_bytes // mib} MiB"
    assert limits["queued jobs"] == str(config.max_queue)
    assert limits["jobs (queued, running or uploading) per client"] == str(config.max_jobs_per_client)
    assert limits["idle upload"] == f"{config.upload_timeout:.0f} s"
    assert limits["OSC messages in one packet"].startswith(f"{config.max_messages} ")
    assert limits["bundle nesting"] == f"{PacketLimits().max_depth} levels"
    assert limits["TCP connections open at once"].startswith(f"{config.max_connections} ")
    assert limits["idle TCP connection"].startswith(f"{config.idle_timeout:.0f} s")
    assert limits["models in one job (`with`)"] == str(protocol.MAX_MODELS_PER_JOB)
    file_limits = limits["input file in file mode (read from its header, before decoding)"]
    assert file_limits == (f"{file_input.MAX_FILE_CHANNELS} channels, {file_input.MAX_FILE_RATE} Hz, `--max-seconds` x "
                           f"{file_input.BUDGET_RATE} x {file_input.BUDGET_CHANNELS} samples")
    assert limits["folders file mode may read and write"].startswith("<system temp>/diffband-<uid>` (mode 0700")
    log = PeerLog(print)
    assert limits["log lines per peer"].startswith(f"{log.burst} per {log.interval:.0f} s")


def test_flow_examples_use_documented_addresses():
    flows = DOC.split("## Flows", 1)[1].split("\n## ", 1)[0]
    used = set(re.findall(r"[-<] (/diffband/[a-z/]+)", flows))
    assert used and used <= set(protocol.REQUESTS) | set(protocol.REPLIES)
