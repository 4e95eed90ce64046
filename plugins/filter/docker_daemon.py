"""The one merge rule for /etc/docker/daemon.json, shared by docker_engine and nvidia_container_toolkit.

``existing | docker_daemon_merge(layer1, layer2, ...)`` (or one list of layers): the settings already on the host are the base,
so keys another role (or an operator) wrote survive; each layer is merged over it in order:

- dicts merge recursively (``log-opts``, ``runtimes``: a layer adds or replaces single keys);
- any other value (string, number, list) replaces the old one;
- ``None`` (YAML ``null``) removes the key, the only way to take a setting out again.

The result does not depend on how often it is applied (merge(merge(a, l), l) == merge(a, l)), which is
what makes the two roles idempotent together.
"""

from __future__ import annotations

import json


class DaemonJsonError(ValueError):
    """Raised for an existing daemon.json that is not a JSON object."""


def _plain(value):
    """A deep copy made by iteration: copy.deepcopy of Ansible's lazily templated containers
    breaks plugin loading inside the values (ansible-core 2.19)."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _merge(base: dict, layer: dict) -> dict:
    result = _plain(base)
    for key, value in layer.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _merge(result[key], value)
        elif isinstance(value, dict):
            result[key] = _merge({}, value)
        else:
            result[key] = _plain(value)
    return result


def parse_daemon_json(text: str | bytes | None) -> dict:
    """The current daemon.json's settings: empty or missing -> {}; anything but a JSON object fails."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    if text is None or not str(text).strip():
        return {}
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise DaemonJsonError(f"the existing daemon.json is not valid JSON ({exc}); fix or remove it") from exc
    if not isinstance(data, dict):
        raise DaemonJsonError(f"the existing daemon.json is a JSON {type(data).__name__}, not an object")
    return data


def docker_daemon_merge(existing, *layers) -> dict:
    """Merge the layers, in order, over the existing settings (a dict or daemon.json's text)."""
    result = existing if isinstance(existing, dict) else parse_daemon_json(existing)
    result = _merge({}, dict(result))
    if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
        layers = tuple(layers[0])
    for layer in layers:
        if layer is None:
            continue
        if not isinstance(layer, dict):
            raise DaemonJsonError(f"a daemon.json layer must be a dict, got {type(layer).__name__}")
        result = _merge(result, dict(layer))
    return result


def docker_daemon_json(settings: dict) -> str:
    """The file's text: sorted keys, two-space indent, final newline (stable, so re-runs change nothing)."""
    return json.dumps(settings, indent=2, sort_keys=True) + "\n"


class FilterModule:
    """Ansible filters: docker_daemon_merge, docker_daemon_json."""

    def filters(self):
        return {"docker_daemon_merge": docker_daemon_merge, "docker_daemon_json": docker_daemon_json}
