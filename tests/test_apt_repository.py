"""The apt_repository role (one signed apt repository plus its pin, as data) with the data its three callers pass
it: each caller's include_role `vars:` is read from the caller's task file and run against a temporary root
(apt_repository_root) over a local connection, without an index update. The expected source and pin lines are
the ones the callers' own templates wrote before the role existed, so hosts converged before keep the same files."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from support import PROJECT_ROOT
from support.testing import gpg_home, serving

# Every test runs ansible-playbook on the role: the slow tier (make test), not make check.
pytestmark = pytest.mark.slow

UBUNTU_JAMMY_AMD64 = {"architecture": "x86_64", "distribution": "Ubuntu", "distribution_release": "jammy",
                      "distribution_version": "22.04", "distribution_major_version": "22"}
DEBIAN_BOOKWORM_ARM64 = {"architecture": "aarch64", "distribution": "Debian", "distribution_release": "bookworm",
                         "distribution_version": "12.5", "distribution_major_version": "12"}

# name: (caller role, its task file, the caller's key variables (url, fingerprints) or None)
CALLERS = {
    "docker-ce": ("docker_engine", "install_ce.yml",
                  ("docker_engine_ce_gpg_key_url", "docker_engine_ce_gpg_key_fingerprints")),
    "nvidia-container-toolkit": ("nvidia_container_toolkit", "install.yml",
                                 ("nvidia_container_toolkit_gpg_key_url", "nvidia_container_toolkit_gpg_key_fingerprints")),
    "nvidia-cuda": ("nvidia_driver", "repos.yml",
                    ("nvidia_driver_cuda_repo_gpg_key_url", "nvidia_driver_cuda_repo_gpg_key_fingerprints")),
    "debian-nvidia": ("nvidia_driver", "repos.yml", None),
}

# What the callers' templates (docker-ce.list.j2/.pref.j2, nvidia-container-toolkit.list.j2/.pref.j2, cuda.list.j2,
# debian-nvidia.list.j2) rendered for these facts and the roles' defaults, after the "# Ansible managed" line.
CASES = [
    pytest.param("docker-ce", UBUNTU_JAMMY_AMD64, {}, "/etc/apt/keyrings/docker.asc", [
        "deb [arch=amd64 signed-by=/etc/apt/keyrings/docker.asc] https://download.docker.com/linux/ubuntu jammy stable",
    ], [
        "# Docker CE stays at 5:27.5.1 until docker_engine_ce_version changes.",
        "Package: docker-ce docker-ce-cli",
        "Pin: version 5:27.5.1-*",
        "Pin-Priority: 1001",
    ], id="docker-ce-ubuntu-amd64"),
    pytest.param("docker-ce", DEBIAN_BOOKWORM_ARM64, {}, "/etc/apt/keyrings/docker.asc", [
        "deb [arch=arm64 signed-by=/etc/apt/keyrings/docker.asc] https://download.docker.com/linux/debian bookworm stable",
    ], [
        "# Docker CE stays at 5:27.5.1 until docker_engine_ce_version changes.",
        "Package: docker-ce docker-ce-cli",
        "Pin: version 5:27.5.1-*",
        "Pin-Priority: 1001",
    ], id="docker-ce-debian-arm64"),
    pytest.param("nvidia-container-toolkit", UBUNTU_JAMMY_AMD64, {}, "/etc/apt/keyrings/nvidia-container-toolkit.asc", [
        ("deb [signed-by=/etc/apt/keyrings/nvidia-container-toolkit.asc] "
        "https://nvidia.github.io/libnvidia-container/stable/deb/amd64 /"),
    ], [
        "# The NVIDIA Container Toolkit stays at 1.17.8-1 until nvidia_container_toolkit_version changes.",
        "Package: nvidia-container-toolkit nvidia-container-toolkit-base libnvidia-container-tools libnvidia-container1",
        "Pin: version 1.17.8-1",
        "Pin-Priority: 1001",
    ], id="nvidia-container-toolkit"),
    pytest.param("nvidia-cuda", UBUNTU_JAMMY_AMD64, {"nvidia_driver_ubuntu_cuda_repo": True},
                 "/etc/apt/keyrings/cuda-archive-keyring.asc", [
        ("deb [signed-by=/etc/apt/keyrings/cuda-archive-keyring.asc] "
        "https://developer.download.nvidia.com/compute/cuda/repos/ubuntu2204/x86_64 /"),
    ], None, id="nvidia-cuda"),
    pytest.param("debian-nvidia", DEBIAN_BOOKWORM_ARM64, {}, None, [
        "# Components the NVIDIA driver and its firmware come from (the host's other sources are unchanged).",
        "deb http://deb.debian.org/debian bookworm contrib non-free non-free-firmware",
        "deb http://deb.debian.org/debian bookworm-updates contrib non-free non-free-firmware",
        "deb http://deb.debian.org/debian-security bookworm-security contrib non-free non-free-firmware",
    ], None, id="debian-nvidia"),
]


def caller_vars(name: str) -> dict:
    """The `vars:` the caller passes to apt_repository for this repository, as written in its task file."""
    role, tasks_file, _ = CALLERS[name]
    tasks = yaml.safe_load((PROJECT_ROOT / "roles" / role / "tasks" / tasks_file).read_text())
    [task] = [task for task in tasks
              if (task.get("ansible.builtin.include_role") or {}).get("name") == "apt_repository"
              and task["vars"]["apt_repository_name"] == name]
    return task["vars"]


# Base URL of an HTTP server on loopback that serves this machine's files: the role fetches keys over HTTP.
KEY_SERVER: list[str] = []


@pytest.fixture(scope="module", autouse=True)
def _key_server():
    with serving(functools.partial(http.server.SimpleHTTPRequestHandler, directory="/")) as url:
        KEY_SERVER.append(url)
        yield
        KEY_SERVER.remove(url)


def standin_keys(tmp_path: Path, count: int = 1, name: str = "key.asc") -> tuple[str, str, list[str]]:
    """A STAND-IN repository key file made here with gpg (count keys in one file): its URL, checksum and the
    fingerprints gpg itself reports for it."""
    key = tmp_path / name
    with gpg_home() as home:
        gpg = ["gpg", "--batch", "--homedir", str(home)]
        for number in range(count):
            subprocess.run([*gpg, "--passphrase", "", "--quick-gen-key",
                            f"STAND-IN repository {number} <repo@example.org>", "ed25519", "sign", "never"],
                           check=True, capture_output=True)
        key.write_bytes(subprocess.run([*gpg, "--armor", "--export"], check=True, capture_output=True).stdout)
        listing = subprocess.run([*gpg, "--show-keys", "--with-colons", str(key)], check=True, capture_output=True,
                                 text=True).stdout.splitlines()
    fingerprints = [listing[i + 1].split(":")[9] for i, line in enumerate(listing) if line.startswith("pub:")]
    return f"{KEY_SERVER[0]}{key}", "sha256:" + hashlib.sha256(key.read_bytes()).hexdigest(), fingerprints


@functools.cache
def caller_key(tmp_path: Path) -> tuple[str, list[str]]:
    """One stand-in key per test, the same on each run of the caller (the idempotence run finds it written)."""
    url, _, fingerprints = standin_keys(tmp_path, name="caller-key.asc")
    return url, fingerprints


def make_root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    for sub in ("etc/apt/sources.list.d", "etc/apt/preferences.d"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    return root


def run(tmp_path: Path, root: Path, facts: dict, role_vars: dict, extra: dict,
        vars_files: list[Path] = (), *args: str) -> subprocess.CompletedProcess:
    play = tmp_path / "play.yml"
    play.write_text(yaml.safe_dump([{
        "hosts": "localhost", "connection": "local", "gather_facts": False,
        "vars_files": [str(f) for f in vars_files if f.exists()],
        "tasks": [
            {"ansible.builtin.set_fact": {"ansible_facts": "{{ ansible_facts | combine(fake_facts) }}"}},
            {"ansible.builtin.include_role": {"name": "apt_repository"}, "vars": role_vars},
        ],
    }], sort_keys=False))
    env = dict(os.environ, ANSIBLE_ROLES_PATH=str(PROJECT_ROOT / "roles"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_INVENTORY_UNPARSED_WARNING="0",
               ANSIBLE_COLLECTIONS_PATH=str(PROJECT_ROOT / ".collections"))
    extra_vars = {"ansible_python_interpreter": sys.executable, "fake_facts": facts,
                  "apt_repository_root": str(root), "apt_repository_update_cache": False, **extra}
    return subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", str(play), *args,
                           "-e", json.dumps(extra_vars)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=False)


def run_caller(tmp_path: Path, name: str, facts: dict, extra: dict, *args: str) -> subprocess.CompletedProcess:
    role, _, key_vars = CALLERS[name]
    if key_vars:
        url, fingerprints = caller_key(tmp_path)
        extra = {key_vars[0]: url, key_vars[1]: fingerprints, **extra}
    role_dir = PROJECT_ROOT / "roles" / role
    return run(tmp_path, make_root(tmp_path), facts, caller_vars(name), extra,
               [role_dir / "defaults" / "main.yml", role_dir / "vars" / "main.yml"], *args)


def body(path: Path) -> list[str]:
    """The file's lines after its managed-by line."""
    first, *rest = path.read_text().splitlines()
    assert first.startswith("# "), first
    return rest


@pytest.mark.skipif(os.geteuid() != 0, reason="the role writes root-owned files")
@pytest.mark.parametrize(("name", "facts", "extra", "keyring", "source", "pin"), CASES)
def test_the_callers_data_writes_the_files_the_callers_wrote_before(tmp_path, name, facts, extra, keyring, source, pin):
    result = run_caller(tmp_path, name, facts, extra)
    assert result.returncode == 0, result.stdout[-3000:]
    root = tmp_path / "root"
    assert body(root / f"etc/apt/sources.list.d/{name}.list") == source
    pref = root / f"etc/apt/preferences.d/{name}.pref"
    assert (body(pref) if pref.exists() else None) == pin
    keyrings = root / "etc/apt/keyrings"
    if keyring:
        assert (root / keyring.lstrip("/")).read_text().startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")
        assert (root / keyring.lstrip("/")).stat().st_mode & 0o777 == 0o644
    else:
        assert not keyrings.exists()

    again = run_caller(tmp_path, name, facts, extra)
    assert again.returncode == 0, again.stdout[-3000:]
    assert "changed=0" in again.stdout, again.stdout[-3000:]


def system_python_has_apt() -> bool:
    return subprocess.run(["/usr/bin/python3", "-c", "import apt"], capture_output=True, check=False).returncode == 0 \
        if Path("/usr/bin/python3").exists() else False


def index_update(result: subprocess.CompletedProcess) -> str:
    """What became of the role's index update: changed, ok or skipping."""
    lines = result.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if "apt_repository : Update the package index" in line)
    return next(line for line in lines[at + 1:] if line.strip()).split(":")[0]


@pytest.mark.skipif(os.geteuid() != 0 or not system_python_has_apt(),
                    reason="the role writes root-owned files; apt's check mode needs python3-apt")
def test_check_mode_writes_nothing_and_the_index_is_updated_only_after_a_change(tmp_path):
    """Check mode (apt does not touch the index there): a new source would update the index, an unchanged one not."""
    with_update = {"apt_repository_update_cache": True, "ansible_python_interpreter": "/usr/bin/python3"}
    # As on jammy, noble and bookworm (get_url fails in check mode where the keyring directory is still missing).
    (tmp_path / "root/etc/apt/keyrings").mkdir(parents=True)
    check = run_caller(tmp_path, "docker-ce", UBUNTU_JAMMY_AMD64, with_update, "--check")
    assert check.returncode == 0, check.stdout[-3000:]
    assert index_update(check) == "changed"
    assert list((tmp_path / "root/etc/apt/sources.list.d").iterdir()) == []
    assert list((tmp_path / "root/etc/apt/keyrings").iterdir()) == []

    assert run_caller(tmp_path, "docker-ce", UBUNTU_JAMMY_AMD64, {}).returncode == 0
    unchanged = run_caller(tmp_path, "docker-ce", UBUNTU_JAMMY_AMD64, with_update, "--check")
    assert unchanged.returncode == 0, unchanged.stdout[-3000:]
    assert index_update(unchanged) == "skipping"
    assert "changed=0" in unchanged.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="the role writes root-owned files")
def test_docker_ce_without_a_version_drops_the_pin_it_wrote_before(tmp_path):
    assert run_caller(tmp_path, "docker-ce", UBUNTU_JAMMY_AMD64, {}).returncode == 0
    pref = tmp_path / "root/etc/apt/preferences.d/docker-ce.pref"
    assert pref.exists()
    result = run_caller(tmp_path, "docker-ce", UBUNTU_JAMMY_AMD64, {"docker_engine_ce_version": ""})
    assert result.returncode == 0, result.stdout[-3000:]
    assert not pref.exists()
    assert (tmp_path / "root/etc/apt/sources.list.d/docker-ce.list").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="the role writes root-owned files")
def test_turning_the_cuda_repository_off_removes_its_source_and_key(tmp_path):
    on = run_caller(tmp_path, "nvidia-cuda", UBUNTU_JAMMY_AMD64, {"nvidia_driver_ubuntu_cuda_repo": True})
    assert on.returncode == 0, on.stdout[-3000:]
    source = tmp_path / "root/etc/apt/sources.list.d/nvidia-cuda.list"
    key = tmp_path / "root/etc/apt/keyrings/cuda-archive-keyring.asc"
    assert source.exists() and key.exists()
    off = run_caller(tmp_path, "nvidia-cuda", UBUNTU_JAMMY_AMD64, {"nvidia_driver_ubuntu_cuda_repo": False})
    assert off.returncode == 0, off.stdout[-3000:]
    assert not source.exists() and not key.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="the role writes root-owned files")
def test_a_pin_by_release_and_absent_state(tmp_path):
    url, checksum, _ = standin_keys(tmp_path)
    root = make_root(tmp_path)
    data = {"apt_repository_name": "example", "apt_repository_key_url": url, "apt_repository_key_checksum": checksum,
            "apt_repository_sources": [{"uri": "https://apt.example.org/debian", "suite": "stable",
                                        "components": ["main", "contrib"]}],
            "apt_repository_architectures": ["amd64", "arm64"],
            "apt_repository_pin": {"packages": ["example-tool"], "release": "o=Example,l=Example", "priority": 990}}
    result = run(tmp_path, root, UBUNTU_JAMMY_AMD64, data, {})
    assert result.returncode == 0, result.stdout[-3000:]
    assert body(root / "etc/apt/sources.list.d/example.list") == [
        "deb [arch=amd64,arm64 signed-by=/etc/apt/keyrings/example.asc] https://apt.example.org/debian stable main contrib"]
    assert body(root / "etc/apt/preferences.d/example.pref") == [
        "Package: example-tool", "Pin: release o=Example,l=Example", "Pin-Priority: 990"]
    assert (root / "etc/apt/keyrings/example.asc").exists()

    gone = run(tmp_path, root, UBUNTU_JAMMY_AMD64, {**data, "apt_repository_state": "absent"}, {})
    assert gone.returncode == 0, gone.stdout[-3000:]
    assert not (root / "etc/apt/sources.list.d/example.list").exists()
    assert not (root / "etc/apt/preferences.d/example.pref").exists()
    assert not (root / "etc/apt/keyrings/example.asc").exists()


@pytest.mark.parametrize(("data", "message"), [
    ({"apt_repository_key_url": "https://apt.example.org/key.asc"},
     "apt_repository_key_fingerprints and apt_repository_key_checksum are empty: a repository key fetched unverified"),
    ({"apt_repository_key_url": "https://apt.example.org/key.asc", "apt_repository_key_fingerprints": ["9DC8 5822"]},
     "must be 40 hex digits each"),
    ({"apt_repository_pin": {"packages": ["example-tool"]}}, "exactly one of version, origin, release"),
    ({"apt_repository_name": "example repo"}, "must be a file stem apt reads"),
    ({"apt_repository_sources": []}, "must list at least one source"),
])
def test_wrong_data_fails_before_any_change(tmp_path, data, message):
    root = make_root(tmp_path)
    role_vars = {"apt_repository_name": "example",
                 "apt_repository_sources": [{"uri": "https://apt.example.org/debian", "suite": "stable"}], **data}
    result = run(tmp_path, root, UBUNTU_JAMMY_AMD64, role_vars, {})
    assert result.returncode != 0
    assert message in " ".join(result.stdout.split())
    if "checksum" in message:
        assert "curl -fsSL https://apt.example.org/key.asc | sha256sum" in result.stdout
    assert "changed=0" in result.stdout
    assert list((root / "etc/apt/sources.list.d").iterdir()) == []


def example_repository(url: str, **key: object) -> dict:
    return {"apt_repository_name": "example", "apt_repository_key_url": url,
            "apt_repository_sources": [{"uri": "https://apt.example.org/debian", "suite": "stable"}], **key}


def nothing_written(root: Path) -> bool:
    return list((root / "etc/apt/sources.list.d").iterdir()) == [] and not (root / "etc/apt/keyrings").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="the role writes root-owned files")
def test_a_key_with_its_published_fingerprint_is_written_and_another_key_fails_before_any_change(tmp_path):
    url, _, [fingerprint] = standin_keys(tmp_path)
    _, _, [other] = standin_keys(tmp_path, name="other.asc")
    root = make_root(tmp_path)
    wrong = run(tmp_path, root, UBUNTU_JAMMY_AMD64, example_repository(url, apt_repository_key_fingerprints=[other]), {})
    assert wrong.returncode != 0
    message = " ".join(wrong.stdout.split())
    assert f"has the fingerprints {fingerprint}, expected {other}" in message, wrong.stdout[-3000:]
    assert nothing_written(root) and "changed=0" in wrong.stdout

    # As a publisher may print it: lower case, in groups of four.
    spelled = " ".join(fingerprint[i:i + 4] for i in range(0, 40, 4)).lower()
    right = run(tmp_path, root, UBUNTU_JAMMY_AMD64, example_repository(url, apt_repository_key_fingerprints=[spelled]), {})
    assert right.returncode == 0, right.stdout[-3000:]
    assert (root / "etc/apt/keyrings/example.asc").read_bytes() == (tmp_path / "key.asc").read_bytes()


@pytest.mark.skipif(os.geteuid() != 0, reason="the role writes root-owned files")
def test_a_key_file_that_also_holds_an_unlisted_key_fails(tmp_path):
    """Every key in the file would sign for the repository: a key appended beside the publisher's is refused."""
    url, _, [first, second] = standin_keys(tmp_path, count=2)
    root = make_root(tmp_path)
    result = run(tmp_path, root, UBUNTU_JAMMY_AMD64, example_repository(url, apt_repository_key_fingerprints=[first]), {})
    assert result.returncode != 0
    assert f"has the fingerprints {first}, {second}, expected {first}" in " ".join(result.stdout.split())
    assert nothing_written(root)


@pytest.mark.skipif(os.geteuid() != 0, reason="the role writes root-owned files")
def test_the_key_files_checksum_is_an_extra_check_beside_the_fingerprint(tmp_path):
    url, checksum, fingerprints = standin_keys(tmp_path)
    root = make_root(tmp_path)
    wrong_sum = "sha256:" + "0" * 64
    result = run(tmp_path, root, UBUNTU_JAMMY_AMD64, example_repository(
        url, apt_repository_key_fingerprints=fingerprints, apt_repository_key_checksum=wrong_sum), {})
    assert result.returncode != 0
    assert f"has the checksum {checksum}, expected {wrong_sum}" in " ".join(result.stdout.split())
    assert nothing_written(root)
    both = run(tmp_path, root, UBUNTU_JAMMY_AMD64, example_repository(
        url, apt_repository_key_fingerprints=fingerprints, apt_repository_key_checksum=checksum), {})
    assert both.returncode == 0, both.stdout[-3000:]
