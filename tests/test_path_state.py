"""Check before act: the path_info module (one look at many paths), the path_drift filter that compares them with
what a role would leave, and the models role's fast path built on both, run for real on this machine."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import json
import os
import subprocess
import sys
import tarfile
from functools import partial
from http.server import SimpleHTTPRequestHandler
from pathlib import Path

import pytest
import yaml

from support import PROJECT_ROOT
from support.testing import serving


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


path_info = _load("path_info", PROJECT_ROOT / "plugins" / "modules" / "path_info.py")
path_state = _load("path_state", PROJECT_ROOT / "plugins" / "filter" / "path_state.py")


def test_path_info_describes_files_links_and_one_level_of_a_directory(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "deeper").mkdir()
    (tmp_path / "a.txt").write_bytes(b"hello")
    (tmp_path / "a.txt").chmod(0o600)
    (tmp_path / "link").symlink_to("sub/missing")
    facts = path_info.describe(str(tmp_path), checksum=True)
    entries = facts["entries"]
    assert facts["type"] == "directory" and sorted(entries) == ["a.txt", "link", "sub"]
    assert entries["a.txt"] == {"exists": True, "type": "file", "mode": "0600", "owner": entries["a.txt"]["owner"],
                                "group": entries["a.txt"]["group"], "checksum": hashlib.sha256(b"hello").hexdigest()}
    assert entries["link"]["type"] == "link" and entries["link"]["target"] == "sub/missing"  # not followed
    assert "entries" not in entries["sub"]  # one level only
    assert path_info.describe(str(tmp_path / "nothing"), checksum=True) == {"exists": False}
    assert "checksum" not in path_info.describe(str(tmp_path / "a.txt"), checksum=False)


def test_path_info_follows_only_given_links_to_directories(tmp_path):
    (tmp_path / "disk" / "models").mkdir(parents=True)
    (tmp_path / "disk" / "models" / "current").symlink_to("set")
    (tmp_path / "disk" / "file").write_text("x")
    (tmp_path / "root").symlink_to(tmp_path / "disk" / "models")
    (tmp_path / "file-link").symlink_to(tmp_path / "disk" / "file")
    followed = path_info.describe(str(tmp_path / "root"), checksum=False, follow=True)
    assert followed["type"] == "directory"
    assert followed["entries"]["current"] == {**followed["entries"]["current"], "type": "link", "target": "set"}
    assert path_info.describe(str(tmp_path / "root"), checksum=False)["type"] == "link"
    assert path_info.describe(str(tmp_path / "file-link"), checksum=True, follow=True)["type"] == "link"


FACTS = {
    "/root/dir": {"exists": True, "type": "directory", "mode": "0755", "owner": "root", "group": "root",
                  "entries": {"a": {"exists": True, "type": "file", "mode": "0644", "owner": "root", "group": "root",
                                    "checksum": "aa"},
                              "l": {"exists": True, "type": "link", "mode": "0777", "owner": "root", "group": "root",
                                    "target": "../x"}}},
    "/root/gone": {"exists": False},
}


def test_path_drift_is_empty_when_the_host_matches():
    expected = {"/root/dir": {"type": "directory", "mode": "0755", "entries": ["a", "l"]},
                "/root/dir/a": {"type": "file", "checksum": "aa"}, "/root/dir/l": {"type": "link", "target": "../x"}}
    assert path_state.path_drift(FACTS, expected) == []


@pytest.mark.parametrize(("expected", "says"), [
    ({"/root/dir/a": {"mode": "0600"}}, "/root/dir/a: mode 0644 (want 0600)"),
    ({"/root/dir/a": {"checksum": "bb"}}, "/root/dir/a: checksum aa (want bb)"),
    ({"/root/dir/a": {"checksum": ""}}, "/root/dir/a: checksum aa (want a recorded one)"),
    ({"/root/dir/l": {"target": "../y"}}, "/root/dir/l: target ../x (want ../y)"),
    ({"/root/dir/missing": {"type": "file"}}, "/root/dir/missing: missing"),
    ({"/root/gone": {}}, "/root/gone: missing"),
    ({"/root/dir": {"entries": ["a"]}}, "/root/dir: unexpected entry l"),
    ({"/root/dir": {"entries": ["a", "l", "b"]}}, "/root/dir: missing entry b"),
])
def test_path_drift_names_each_difference(expected, says):
    assert path_state.path_drift(FACTS, expected) == [says]


def test_paths_are_compared_normalised():
    facts = {"/root/dir/": FACTS["/root/dir"]}
    assert path_state.path_fact("/root/dir//a", facts)["checksum"] == "aa"
    assert path_state.path_fact("/root/dir", facts)["type"] == "directory"


def test_a_path_nobody_looked_at_is_an_error_not_a_match():
    with pytest.raises(Exception, match="was not looked at"):
        path_state.path_drift(FACTS, {"/elsewhere/file": {"type": "file"}})


def test_controller_sha256_reads_binary_files_whole(tmp_path):
    body = bytes(range(256)) + b"\n"
    (tmp_path / "probe.png").write_bytes(body)
    assert path_state.controller_sha256(str(tmp_path / "probe.png")) == hashlib.sha256(body).hexdigest()
    with pytest.raises(Exception, match="cannot read"):
        path_state.controller_sha256(str(tmp_path / "missing"))


# --- the models role's check before act, for real on this machine ---------------------------------------------

def _archive(directory: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, body in (("inference.pdiparams", directory.encode() * 100), ("inference.pdmodel", b"model")):
            info = tarfile.TarInfo(f"{directory}/{name}")
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return buffer.getvalue()


def _models_play(tmp_path: Path, origin: str) -> dict:
    (tmp_path / "origin" / "m").mkdir(parents=True)
    models, lock = {}, {}
    for role in ("det", "cls", "rec"):
        body = _archive(f"{role}_infer")
        (tmp_path / "origin" / "m" / f"{role}.tar").write_bytes(body)
        models[role] = {"source": "local", "path": f"m/{role}.tar", "dir": f"{role}_infer"}
        lock[f"local/m/{role}.tar"] = {"sha256": hashlib.sha256(body).hexdigest(), "size": len(body)}
    catalog = {"sources": {"local": origin}, "default_set": "one",
               "sets": {name: {"description": "check before act", "runtime": "paddleocr2", "ocr_version": "PP-OCRv4",
                               "lang": "en", "dict": None, "size_mb": 1, "models": models} for name in ("one", "two")}}
    (tmp_path / "models.yml").write_text(yaml.safe_dump(catalog))
    (tmp_path / "models.lock.yml").write_text(yaml.safe_dump({"archives": lock}))
    (tmp_path / "play.yml").write_text("""
- hosts: localhost
  connection: local
  gather_facts: false
  roles: [paddleocr_models]
""")
    return {"paddleocr_models_catalog_file": str(tmp_path / "models.yml"),
            "paddleocr_models_lock_file": str(tmp_path / "models.lock.yml"),
            "paddleocr_model_sets": ["one", "two"], "paddleocr_models_fetch_via": "host",
            "paddleocr_models_root": str(tmp_path / "models"), "paddleocr_models_download_progress_interval": 1}


def _converge(tmp_path: Path, variables: dict) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    env.update(ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
    result = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "play.yml",
                             "-e", json.dumps({"ansible_python_interpreter": sys.executable, **variables})],
                            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=240, check=False)
    assert result.returncode == 0, result.stdout[-4000:]
    return result


@pytest.fixture
def models_play(tmp_path):
    """The play's variables, its catalog and lock, with the origin serving the archives while the test runs."""
    with serving(partial(SimpleHTTPRequestHandler, directory=str(tmp_path / "origin"))) as url:
        yield _models_play(tmp_path, url + "/")


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the role gives the host's archives to root")


@pytest.mark.slow
@needs_root
def test_an_installed_host_is_checked_in_one_look_and_any_drift_takes_the_full_path(tmp_path, models_play):
    variables = models_play
    root = tmp_path / "models"
    first = _converge(tmp_path, variables)
    assert "changed=0" not in first.stdout
    assert os.readlink(root / "current") == "one"
    det_link = os.readlink(root / "two" / "det")

    again = _converge(tmp_path, variables)
    assert "changed=0" in again.stdout
    # The full path's tasks did not run: nothing was checksummed again, unpacked or linked.
    for task in ("Checksum the archives on the host", "Unpack", "Point each set's det/cls/rec"):
        assert f"TASK [paddleocr_models : {task}" not in again.stdout, task

    # Each kind of drift the one look must see; the full path puts every one of them right.
    (root / ".downloads" / "local__m__rec.tar").chmod(0o600)
    (root / "two" / "det").unlink()
    (root / "two" / "det").symlink_to("../.store/elsewhere/det_infer")
    (root / "current").unlink()
    (root / "current").symlink_to("two")
    repaired = _converge(tmp_path, {**variables, "paddleocr_models_prune": False})
    assert "changed=0" not in repaired.stdout
    assert "TASK [paddleocr_models : Checksum the archives on the host" in repaired.stdout
    assert oct((root / ".downloads" / "local__m__rec.tar").stat().st_mode & 0o777) == "0o644"
    assert os.readlink(root / "two" / "det") == det_link
    assert os.readlink(root / "current") == "one"
    assert "changed=0" in _converge(tmp_path, variables).stdout


@pytest.mark.slow
@needs_root
def test_a_root_on_another_disk_is_checked_where_it_points_and_unlocked_archives_always_take_the_full_path(
        tmp_path, models_play):
    variables = models_play
    (tmp_path / "disk").mkdir()
    (tmp_path / "models").symlink_to(tmp_path / "disk")
    _converge(tmp_path, variables)
    (tmp_path / "disk" / "stale-set").mkdir()
    again = _converge(tmp_path, variables)
    assert "changed=0" not in again.stdout  # the stale set went, read through the link as find read it
    assert "TASK [paddleocr_models : Checksum the archives on the host" not in again.stdout
    assert not (tmp_path / "disk" / "stale-set").exists() and (tmp_path / "models").is_symlink()

    unlocked = {**variables, "paddleocr_models_require_checksum": False,
                "paddleocr_models_lock_file": str(tmp_path / "no-such-lock.yml")}
    first, second = _converge(tmp_path, unlocked), _converge(tmp_path, unlocked)
    assert "archives without a recorded sha256: local/m/det.tar" in second.stdout, second.stdout[-3000:]
    assert "TASK [paddleocr_models : Checksum the archives on the host" in second.stdout
    assert "changed=0" in second.stdout, first.stdout[-2000:]
