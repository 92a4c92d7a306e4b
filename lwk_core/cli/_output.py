"""What `lwk` prints: JSON, aligned tables, amounts, the scan progress bar and log lines."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from datetime import UTC, datetime
from typing import IO, Any

from .._network import Network
from .._types import Tip
from .._wollet import Balance, WalletTx

__all__ = [
    "ProgressBar",
    "balance_json",
    "balance_rows",
    "format_btc",
    "format_time",
    "log_to",
    "print_balance",
    "print_json",
    "print_table",
    "print_txs",
    "progress_bar",
    "tip_json",
    "tx_json",
    "tx_rows",
]

TX_HEADERS = ("HEIGHT", "DATE (UTC)", "TYPE", "L-BTC", "FEE", "TXID")


def print_json(obj: Any, *, compact: bool = False) -> None:
    """One JSON document on stdout (compact: on a single line, for streams)."""
    text = json.dumps(obj, separators=(",", ":")) if compact else json.dumps(obj, indent=2)
    print(text, flush=True)


def print_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    right: AbstractSet[int] = frozenset(),
    indent: str = "",
) -> None:
    """Columns padded to their widest cell; column indexes in `right` are right-aligned."""
    widths = [
        max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)
    ]
    for row in (headers, *rows):
        cells = [
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        print(indent + "  ".join(cells).rstrip())
    sys.stdout.flush()


def format_btc(sats: int, *, signed: bool = False) -> str:
    """Satoshis as BTC with 8 decimals, exactly (no float): 150000 -> 0.00150000."""
    sign = "-" if sats < 0 else ("+" if signed and sats > 0 else "")
    whole, frac = divmod(abs(sats), 100_000_000)
    return f"{sign}{whole}.{frac:08d}"


def format_time(timestamp: int | None) -> str:
    """A block time as UTC date and time ("" for none: unconfirmed)."""
    if timestamp is None:
        return ""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S")


def balance_rows(balance: Balance, network: Network) -> list[tuple[str, str]]:
    """L-BTC first (in BTC), then other assets by id (in base units)."""
    rows = [("L-BTC", format_btc(balance.btc_balance()))]
    rows += [
        (asset, str(sats))
        for asset, sats in sorted(balance.items())
        if asset != network.policy_asset
    ]
    return rows


def balance_json(balance: Balance, network: Network) -> dict[str, Any]:
    return {"policy_asset": network.policy_asset, "balance": dict(sorted(balance.items()))}


def tx_rows(txs: Sequence[WalletTx], network: Network) -> list[tuple[str, ...]]:
    """Table rows. FEE is the wallet's cost, so it is empty for an incoming payment, whose
    sender paid it (`tx.fee`, as LWK reports it and --json prints it, is the transaction's
    fee whoever paid it)."""
    return [
        (
            str(tx.height) if tx.height is not None else "mempool",
            format_time(tx.timestamp),
            tx.type,
            format_btc(tx.balance.get(network.policy_asset, 0), signed=True),
            "" if tx.type == "incoming" else str(tx.fee),
            tx.txid,
        )
        for tx in txs
    ]


def print_balance(balance: Balance, network: Network, *, indent: str = "") -> None:
    print_table(("ASSET", "BALANCE"), balance_rows(balance, network), right={1}, indent=indent)


def print_txs(txs: Sequence[WalletTx], network: Network, *, indent: str = "") -> None:
    print_table(TX_HEADERS, tx_rows(txs, network), right={0, 3, 4}, indent=indent)


def tx_json(tx: WalletTx) -> dict[str, Any]:
    return {
        "txid": tx.txid,
        "height": tx.height,
        "timestamp": tx.timestamp,
        "type": tx.type,
        "fee": tx.fee,
        "balance": dict(tx.balance),
    }


def tip_json(tip: Tip | None) -> dict[str, Any] | None:
    if tip is None:
        return None
    return {"height": tip.height, "hash": tip.hash, "timestamp": tip.timestamp}


class ProgressBar:
    """A one-line progress bar on a terminal, drawn only once a scan lasts `delay` seconds.

    Called as a scan's `progress(stage, done, total)` callback; `close()` erases it. Once a
    stage has advanced, the bar shows its rate since the stage began and the time left.
    """

    _LABELS: Mapping[str, str] = {
        "scripts": "scanning scripts",
        "transactions": "fetching transactions",
        "unblind": "unblinding outputs",
    }

    def __init__(
        self,
        stream: IO[str],
        *,
        delay: float = 0.5,
        width: int = 24,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stream = stream
        self._delay = delay
        self._width = width
        self._clock = clock
        self._start = clock()
        self._last_draw = float("-inf")
        self._stage_start = ("", 0.0, 0)  # stage, when it began, done then
        self.drawn = False

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = self._clock()
        if stage != self._stage_start[0]:
            self._stage_start = (stage, now, done)
        if now - self._start < self._delay or now - self._last_draw < 0.1:
            return
        self._last_draw = now
        total = max(total, done, 1)
        filled = self._width * done // total
        bar = "#" * filled + "." * (self._width - filled)
        label = self._LABELS.get(stage, stage)
        self._stream.write(
            f"\r\x1b[K{label:<22} [{bar}] {done}/{total}{self._pace(now, done, total)}"
        )
        self._stream.flush()
        self.drawn = True

    def _pace(self, now: float, done: int, total: int) -> str:
        """`  R/s, ~S s left` once the current stage has advanced; empty before and at the end."""
        _, began, done_then = self._stage_start
        if now <= began or done <= done_then or done >= total:
            return ""
        rate = (done - done_then) / (now - began)
        return f"  {rate:,.0f}/s, ~{math.ceil((total - done) / rate)}s left"

    def close(self) -> None:
        if self.drawn:
            self._stream.write("\r\x1b[K")
            self._stream.flush()
            self.drawn = False


def progress_bar(stream: IO[str] | None = None) -> ProgressBar | None:
    """A ProgressBar on stderr when stderr is a terminal, else None (no output)."""
    stream = stream if stream is not None else sys.stderr
    return ProgressBar(stream) if stream.isatty() else None


class _LineHandler(logging.Handler):
    """Writes each record as one line to the current sys.stdout or sys.stderr (looked up at
    emit time, so redirections made after setup are honoured)."""

    def __init__(self, to_stdout: bool) -> None:
        super().__init__()
        self._to_stdout = to_stdout

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = sys.stdout if self._to_stdout else sys.stderr
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:
            self.handleError(record)


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        record.levelname_lower = record.levelname.lower()
        return super().format(record)


@contextlib.contextmanager
def log_to(
    *,
    to_stdout: bool = False,
    level: int = logging.WARNING,
    fmt: str = "lwk: %(levelname_lower)s: %(message)s",
    logger: str = "",
    max_level: int = logging.CRITICAL,
) -> Iterator[None]:
    """Show log records of `logger` (root: every library) from `level` to `max_level`, one
    plain line each. With a named logger the records stop there (no duplicate via the root).
    """
    handler = _LineHandler(to_stdout)
    handler.setFormatter(_Formatter(fmt))
    handler.addFilter(lambda record: record.levelno <= max_level)
    target = logging.getLogger(logger)
    saved = (target.level, target.propagate)
    target.addHandler(handler)
    target.setLevel(level)
    if logger:
        target.propagate = False
    try:
        yield
    finally:
        target.removeHandler(handler)
        target.setLevel(saved[0])
        target.propagate = saved[1]
