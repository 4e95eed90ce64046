"""Model distribution to a fleet of three real sandbox hosts, from a real local model mirror:
the origin serves each archive once per fleet, a tampered or half-written archive is rejected
and the installed set stays in place."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import yaml

from paddleocr_fleet import CATALOG_PATH
from support import PROJECT_ROOT
from support.mirror_standin import default_cache
from support.testing import corrupt_copy, docker0_address, running_mirror

HOSTS = [f"paddleocr-models-{n}" for n in (1, 2, 3)]
PORT = 8911
BIN = Path(sys.executable).parent
SET_KEYS = [
    "ppocr/PP-OCRv4/chinese/ch_PP-OCRv4_det_infer.tar",
    "ppocr/PP-OCRv4/chinese/ch_PP-OCRv4_rec_infer.tar",
    "ppocr/dygraph_v2.0/ch/ch_ppocr_mobile_v2.0_cls_infer.tar",
]


@pytest.fixture(scope="module")
def mirror(tmp_path_factory):
    """A private copy of the local mirror, with a tampered archive beside the good ones."""
    source = default_cache() / "mirror"
    if not (source / "models.lock.yml").exists():
        pytest.skip("no local model mirror (make mirror)")
    root = tmp_path_factory.mktemp("mirror")
    shutil.copytree(source / "models", root / "models")
    det = root / "models" / SET_KEYS[0]
    corrupt_copy(det, root / "models" / "ppocr" / "tampered" / det.name)
    lock = yaml.safe_load((source / "models.lock.yml").read_text())["archives"]
    with running_mirror(root, docker0_address(), PORT) as url:
        yield {"url": url, "lock": lock, "dir": root}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    for name in HOSTS:
        playbook(["playbooks/sandbox.yml", "-e", f"sandbox_name={name}", "-e", "sandbox_port="], check=True)
    inventory = tmp_path_factory.mktemp("inventory") / "hosts.yml"
    inventory.write_text(yaml.safe_dump({"all": {"children": {"paddleocr_hosts": {"hosts": {
        name: {"ansible_connection": "community.docker.docker", "ansible_python_interpreter": "/usr/bin/python3"}
        for name in HOSTS}}}}}))
    yield inventory
    for name in HOSTS:
        playbook(["playbooks/sandbox.yml", "-e", f"sandbox_name={name}", "-e", "sandbox_state=absent"], check=True)


def playbook(args: list[str], check: bool = False) -> subprocess.CompletedProcess:
    env = dict(os.environ, ANSIBLE_CONFIG=str(PROJECT_ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    result = subprocess.run([str(BIN / "ansible-playbook"), *args], cwd=PROJECT_ROOT, env=env,
                            capture_output=True, text=True, timeout=900, check=False)
    if check and result.returncode != 0:
        raise AssertionError(result.stdout[-4000:] + result.stderr[-2000:])
    return result


def converge(fleet: Path, tmp_path: Path, mirror: dict, **overrides) -> subprocess.CompletedProcess:
    play = tmp_path / "models.yml"
    play.write_text("- hosts: paddleocr_hosts\n  gather_facts: false\n  roles:\n    - role: paddleocr_models\n")
    lock = tmp_path / "lock.yml"
    lock.write_text(yaml.safe_dump({"archives": overrides.pop("lock", mirror["lock"])}))
    variables = {
        "paddleocr_model_sets": ["ppocrv4-mobile"],
        "paddleocr_models_source_urls": {"ppocr": f"{mirror['url']}/models/ppocr/"},
        "paddleocr_models_lock_file": str(lock),
        "paddleocr_models_require_checksum": True,
        "paddleocr_models_controller_cache": str(tmp_path.parent / "controller-cache"),
        **overrides,
    }
    return playbook(["-i", str(fleet), str(play), "-e", json.dumps(variables)])


def origin_bytes(mirror: dict, reset: bool = False) -> int:
    served = requests.get(f"{mirror['url']}/_stats", timeout=5).json()
    if reset:
        requests.post(f"{mirror['url']}/_stats/reset", timeout=5)
    return sum(size for path, size in served.items() if path.endswith(".tar"))


def on_host(host: str, command: str) -> str:
    return subprocess.run(["docker", "exec", host, "sh", "-c", command], capture_output=True, text=True,
                          check=True).stdout.strip()


def set_bytes(mirror: dict) -> int:
    return sum(mirror["lock"][key]["size"] for key in SET_KEYS)


def test_origin_serves_each_archive_once_for_three_hosts(fleet, mirror, tmp_path):
    origin_bytes(mirror, reset=True)
    result = converge(fleet, tmp_path, mirror)
    assert result.returncode == 0, result.stdout[-3000:]
    fetched = origin_bytes(mirror, reset=True)
    print(f"\norigin bytes for {len(HOSTS)} hosts, fetch_via=controller: {fetched} "
          f"= {fetched / set_bytes(mirror):.2f} x the set ({set_bytes(mirror)} bytes)")
    assert fetched == set_bytes(mirror)
    for host in HOSTS:
        assert on_host(host, "readlink /opt/paddleocr/models/current") == "ppocrv4-mobile"
        assert on_host(host, "ls /opt/paddleocr/models/current/det/") == "inference.pdiparams\ninference.pdiparams.info\ninference.pdmodel"

    again = converge(fleet, tmp_path, mirror)
    assert again.returncode == 0
    assert all(f"{host:<27}: ok=" in again.stdout and "changed=0" in again.stdout for host in HOSTS)
    assert origin_bytes(mirror, reset=True) == 0


def test_direct_mode_hits_the_origin_once_per_host(fleet, mirror, tmp_path):
    origin_bytes(mirror, reset=True)
    result = converge(fleet, tmp_path, mirror, paddleocr_models_fetch_via="host",
                      paddleocr_models_root="/opt/paddleocr/models-direct")
    assert result.returncode == 0, result.stdout[-3000:]
    fetched = origin_bytes(mirror, reset=True)
    print(f"\norigin bytes for {len(HOSTS)} hosts, fetch_via=host: {fetched} = {fetched / set_bytes(mirror):.2f} x the set")
    assert fetched == len(HOSTS) * set_bytes(mirror)


def catalog_with(tmp_path: Path, name: str, det_source: str, det_path: str, sources: dict | None = None) -> Path:
    catalog = yaml.safe_load(CATALOG_PATH.read_text())
    catalog["sources"].update(sources or {})
    extra = json.loads(json.dumps(catalog["sets"]["ppocrv4-mobile"]))
    extra["models"]["det"] = {"source": det_source, "path": det_path, "dir": "ch_PP-OCRv4_det_infer"}
    catalog["sets"][name] = extra
    path = tmp_path / "catalog.yml"
    path.write_text(yaml.safe_dump(catalog))
    return path


def assert_installed_set_untouched() -> None:
    for host in HOSTS:
        assert on_host(host, "readlink /opt/paddleocr/models/current") == "ppocrv4-mobile"
        assert on_host(host, "ls -A /opt/paddleocr/models/.store | grep -c staging || true") == "0"
        assert on_host(host, "ls /opt/paddleocr/models/.store | wc -l") == "3"
        assert on_host(host, "test -f /opt/paddleocr/models/current/det/inference.pdiparams && echo ok") == "ok"


def install_good_set(fleet: Path, tmp_path: Path, mirror: dict) -> None:
    result = converge(fleet, tmp_path, mirror)
    assert result.returncode == 0, result.stdout[-3000:]


def test_tampered_archive_is_rejected_and_the_installed_set_stays(fleet, mirror, tmp_path):
    install_good_set(fleet, tmp_path, mirror)
    lock = dict(mirror["lock"])
    lock["ppocr/tampered/ch_PP-OCRv4_det_infer.tar"] = lock[SET_KEYS[0]]  # the origin's copy no longer matches
    catalog = catalog_with(tmp_path, "tampered-v4", "ppocr", "tampered/ch_PP-OCRv4_det_infer.tar")
    result = converge(fleet, tmp_path, mirror, lock=lock, paddleocr_models_catalog_file=str(catalog),
                      paddleocr_model_sets=["ppocrv4-mobile", "tampered-v4"], paddleocr_model_set_active="tampered-v4")
    assert result.returncode != 0
    assert "did not match" in result.stdout, result.stdout[-3000:]
    assert_installed_set_untouched()
    for host in HOSTS:
        assert on_host(host, "test -e /opt/paddleocr/models/tampered-v4/det && echo linked || echo absent") == "absent"


def test_half_written_download_is_never_unpacked(fleet, mirror, tmp_path):
    install_good_set(fleet, tmp_path, mirror)
    catalog = catalog_with(tmp_path, "truncated-v4", "faulty", "PP-OCRv4/chinese/ch_PP-OCRv4_det_infer.tar",
                           sources={"faulty": f"{mirror['url']}/_truncated/models/ppocr/"})
    result = converge(fleet, tmp_path, mirror, paddleocr_models_catalog_file=str(catalog),
                      paddleocr_models_require_checksum=False, paddleocr_models_fetch_via="host",
                      paddleocr_model_sets=["ppocrv4-mobile", "truncated-v4"], paddleocr_model_set_active="truncated-v4")
    assert result.returncode != 0
    assert "incomplete" in result.stdout.lower() or "content-length" in result.stdout.lower(), result.stdout[-2000:]
    assert_installed_set_untouched()
    for host in HOSTS:
        assert on_host(host, "ls /opt/paddleocr/models/.downloads | grep -c faulty || true") == "0"
