"""The descriptors file: one CT descriptor per line; blank lines and `#` comment lines
skipped (a `#` inside a line is the descriptor's checksum)."""

from __future__ import annotations

from pathlib import Path

from lwk_core import DescriptorError, WolletDescriptor

__all__ = ["read_descriptors"]


def read_descriptors(path: str | Path) -> list[WolletDescriptor]:
    """Every descriptor of the file, parsed; a bad or repeated one is a DescriptorError
    naming its line (never its text: a descriptor holds a blinding key)."""
    found: dict[str, int] = {}  # canonical text -> line
    descriptors = []
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            descriptor = WolletDescriptor(text)
        except DescriptorError as exc:
            raise DescriptorError(f"line {number}: {exc}") from None
        if str(descriptor) in found:
            raise DescriptorError(f"line {number}: the wallet of line {found[str(descriptor)]}")
        found[str(descriptor)] = number
        descriptors.append(descriptor)
    if not descriptors:
        raise DescriptorError("no descriptor in the file")
    return descriptors
