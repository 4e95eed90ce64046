"""The image role picks one publisher per distinct release tag, on the controller, before any change:
the same tag for every host with the same content, one build per profile, and no publisher for hosts
that build for themselves; the base image's ID is part of the tag. Runs the role's tag tasks in check mode on
three local hosts with the role's defaults (the base is only looked for, in this machine's Docker engine)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support import PROJECT_ROOT

PLAY = """
- hosts: all
  gather_facts: false
  tasks:
    - ansible.builtin.include_role:
        name: paddleocr_image
        tasks_from: tag.yml
    - ansible.builtin.debug:
        msg: "RELEASE {{ {'ref': paddleocr_image_ref, 'publisher': _paddleocr_image_publisher,
                          'deliveries': _paddleocr_image_deliveries, 'base_id': _paddleocr_image_base_id} | to_json }}"
"""


def releases(tmp_path: Path, inventory: str, extra_vars: dict, check: bool = True) -> dict[str, dict]:
    (tmp_path / "play.yml").write_text(PLAY)
    (tmp_path / "hosts.yml").write_text(inventory)
    env = dict(os.environ, ANSIBLE_ROLES_PATH=str(PROJECT_ROOT / "roles"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
    extra = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable, **extra_vars}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), *(["--check"] if check else []), "-i", "hosts.yml",
         "play.yml", "-e", json.dumps(extra)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=True,
    )
    last_task = json.loads(result.stdout)["plays"][0]["tasks"][-1]
    found = {host: json.loads(outcome["msg"].split("RELEASE ", 1)[1]) for host, outcome in last_task["hosts"].items()}
    return found


HOSTS = "all:\n  hosts:\n    ocr-1:\n    ocr-2:\n    ocr-3:\n"


def test_one_publisher_and_one_tag_for_the_fleet_with_a_registry(tmp_path):
    found = releases(tmp_path, HOSTS, {"paddleocr_image_registry": "registry.internal:5000"})
    assert set(found) == {"ocr-1", "ocr-2", "ocr-3"}
    assert len({release["ref"] for release in found.values()}) == 1
    assert all(r["ref"].startswith("registry.internal:5000/paddleocr-fleet/hubserving:") for r in found.values())
    assert {release["publisher"] for release in found.values()} == {"ocr-1"}
    assert found["ocr-2"]["deliveries"] == ["registry"]


def test_cpu_and_gpu_hosts_get_their_own_image_and_publisher(tmp_path):
    inventory = HOSTS + "  children:\n    gpu:\n      hosts:\n        ocr-2:\n      vars:\n        paddleocr_profile: gpu\n"
    found = releases(tmp_path, inventory, {})
    assert found["ocr-1"]["ref"] == found["ocr-3"]["ref"] != found["ocr-2"]["ref"]
    assert [found[host]["publisher"] for host in ("ocr-1", "ocr-2", "ocr-3")] == ["ocr-1", "ocr-2", "ocr-1"]
    assert found["ocr-1"]["deliveries"] == ["archive"]  # no registry: docker save / load


def test_onnxruntime_cpu_hosts_get_the_build_of_their_provider(tmp_path):
    inventory = HOSTS + "  children:\n    openvino:\n      hosts:\n        ocr-2:\n      vars:\n" \
                        "        paddleocr_onnxruntime_cpu_provider: openvino\n"
    found = releases(tmp_path, inventory, {"paddleocr_image_runtime": "onnxruntime"})
    assert found["ocr-1"]["ref"] == found["ocr-3"]["ref"] != found["ocr-2"]["ref"]
    assert [found[host]["publisher"] for host in ("ocr-1", "ocr-2", "ocr-3")] == ["ocr-1", "ocr-2", "ocr-1"]


def test_hosts_that_build_for_themselves_publish_nothing(tmp_path):
    found = releases(tmp_path, HOSTS, {"paddleocr_image_delivery": "build_on_host"})
    assert {release["publisher"] for release in found.values()} == {""}


def test_a_new_label_is_a_new_release_tag(tmp_path):
    before = releases(tmp_path, HOSTS, {})["ocr-1"]["ref"]
    after = releases(tmp_path, HOSTS, {"paddleocr_image_labels": {"org.opencontainers.image.version": "2"}})["ocr-1"]["ref"]
    assert before != after


@pytest.fixture
def two_bases():
    """Two base images with distinct IDs (an empty filesystem imported twice: each import has its own date)."""
    names = ["paddleocr-fleet/unit-base:one", "paddleocr-fleet/unit-base:two"]
    ids = []
    for name in names:
        empty = subprocess.run(["tar", "-cf", "-", "-T", "/dev/null"], capture_output=True, check=True).stdout
        ids.append(subprocess.run(["docker", "import", "-", name], input=empty, capture_output=True, check=True)
                   .stdout.decode().strip())
        time.sleep(1.1)
    yield dict(zip(names, ids))
    subprocess.run(["docker", "rmi", *names], capture_output=True, check=False)


def test_the_base_images_id_is_part_of_the_tag(tmp_path, two_bases):
    (one, one_id), (two, two_id) = two_bases.items()
    first = releases(tmp_path, HOSTS, {"paddleocr_image_base": one})
    assert {release["base_id"] for release in first.values()} == {one_id}
    assert releases(tmp_path, HOSTS, {"paddleocr_image_base": one})["ocr-1"]["ref"] == first["ocr-1"]["ref"]
    other = releases(tmp_path, HOSTS, {"paddleocr_image_base": two})
    assert other["ocr-1"]["base_id"] == two_id and other["ocr-1"]["ref"] != first["ocr-1"]["ref"]
    built_here = releases(tmp_path, HOSTS, {"paddleocr_image_base": two, "paddleocr_image_delivery": "build_on_host"})
    assert {release["base_id"] for release in built_here.values()} == {two_id}


def test_a_base_rebuilt_under_the_same_name_is_loaded_from_its_archive(tmp_path, two_bases):
    """The engine holds the old base under the base's name, the archive the new one under the same name: a dry run
    already tags the release with the archive's base, and the run loads it."""
    (old, old_id), (new, new_id) = two_bases.items()
    name = "paddleocr-fleet/unit-base:rebuilt"
    archive = tmp_path / "base.tar"
    subprocess.run(["docker", "tag", new, name], check=True)
    subprocess.run(["docker", "save", "-o", str(archive), name], check=True)
    subprocess.run(["docker", "tag", old, name], check=True)
    try:
        settings = {"paddleocr_image_base": name, "paddleocr_image_base_archive": str(archive),
                    "paddleocr_image_delivery": "build_on_host"}
        one_host = "all:\n  hosts:\n    ocr-1:\n"
        assert releases(tmp_path, one_host, settings)["ocr-1"]["base_id"] == new_id
        assert inspect_id(name) == old_id, "a dry run loaded the archive"
        assert releases(tmp_path, one_host, settings, check=False)["ocr-1"]["base_id"] == new_id
        assert inspect_id(name) == new_id
    finally:
        subprocess.run(["docker", "rmi", name], capture_output=True, check=False)


def inspect_id(image: str) -> str:
    return subprocess.run(["docker", "image", "inspect", "--format", "{{.Id}}", image], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_a_missing_base_still_gets_a_tag_in_a_dry_run(tmp_path):
    found = releases(tmp_path, HOSTS, {"paddleocr_image_base": "paddleocr-fleet/no-such-base:none"})
    assert {release["base_id"] for release in found.values()} == {""}
    assert len({release["ref"] for release in found.values()}) == 1
