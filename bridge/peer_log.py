"""A log that a flooding peer cannot fill: a few lines per peer per interval, then a count."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Callable


class PeerLog:
    """Pass at most ``burst`` lines per peer every ``interval`` seconds to ``log``.

    Lines over that are counted, not written; the next line that passes from the same
    peer says how many were suppressed.  At most ``max_peers`` peers are remembered.
    """

    def __init__(
        self,
        log: Callable[[str], None],
        burst: int = 3,
        interval: float = 10.0,
        max_peers: int = 1024,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.log = log
        self.burst = burst
        self.interval = interval
        self.max_peers = max_peers
        self.clock = clock
        self._peers: OrderedDict[str, list[float]] = OrderedDict()  # peer -> [window start, lines, suppressed]
        self._lock = threading.Lock()

    def __call__(self, peer: str, line: str) -> None:
        now = self.clock()
        with self._lock:
            state = self._peers.pop(peer, None) or [now, 0, 0]
            if now - state[0] >= self.interval:
                state[0], state[1] = now, 0
            self._peers[peer] = state
            while len(self._peers) > self.max_peers:
                self._peers.popitem(last=False)
            if state[1] >= self.burst:
                state[2] += 1
                return
            state[1] += 1
            suppressed, state[2] = int(state[2]), 0
        if suppressed:
            line += f" ({suppressed} similar line(s) from {peer} suppressed)"
        self.log(line)
