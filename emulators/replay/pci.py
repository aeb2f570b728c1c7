"""PCI addresses of GPUs, as the kernel log and nvidia-smi write them, and GPU index maps."""

from __future__ import annotations

import re

from emulators.replay.errors import ReplayInputError

PciAddress = tuple[int, int, int]
"""PCI domain, bus and device numbers; the function is left out because a GPU is function 0."""

_ADDRESS = re.compile(r"^(?:PCI:)?(?:(?P<domain>[0-9A-Fa-f]{1,8}):)?(?P<bus>[0-9A-Fa-f]{1,2}):(?P<device>[0-9A-Fa-f]{1,2})(?:\.[0-7])?$")


def parse_pci_address(text: str) -> PciAddress:
    """Parse ``PCI:0000:3b:00``, ``00000000:3B:00.0`` or ``3b:00.0`` (domain 0).

    Raises:
        ValueError: the text is not a PCI address.
    """
    match = _ADDRESS.match(text.strip())
    if match is None:
        raise ValueError(f"invalid PCI address {text!r}; expected domain:bus:device such as 0000:3b:00")
    return int(match.group("domain") or "0", 16), int(match.group("bus"), 16), int(match.group("device"), 16)


def parse_pci_map(text: str) -> dict[PciAddress, int]:
    """Parse ``ADDRESS=INDEX`` pairs separated by commas into a GPU index map.

    Raises:
        ReplayInputError: a pair is malformed, an address repeats, or an index is not
            between 0 and 63.
    """
    mapping: dict[PciAddress, int] = {}
    for pair in filter(None, (part.strip() for part in text.split(","))):
        address_text, _, index_text = pair.rpartition("=")
        try:
            address = parse_pci_address(address_text)
        except ValueError as exc:
            raise ReplayInputError(f"invalid --pci-map entry {pair!r}: {exc}") from None
        if not index_text.isdigit() or int(index_text) > 63:
            raise ReplayInputError(f"invalid --pci-map entry {pair!r}; expected ADDRESS=INDEX with an index from 0 to 63")
        if address in mapping:
            raise ReplayInputError(f"invalid --pci-map: address {address_text} appears twice")
        mapping[address] = int(index_text)
    return mapping
