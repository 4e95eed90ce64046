"""The tests that switch the host's runtime and then its layout run last, in that order: the others read the host as
the converge left it."""

from __future__ import annotations

import pytest

SWITCHES = ["test_runtime_switch.py", "test_proxied_layout.py"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: SWITCHES.index(item.path.name) + 1 if item.path.name in SWITCHES else 0)
