"""The production path, on the converged SSH fleet, before any rollout (runs before test_rollout.py).

The controller is a non-root operator without sudo; hosts are reached over SSH as `deploy` with
sudo; the inventory's group_vars are inventories/production's. These tests prove that path: who runs
what where, the operator's files, check/diff mode without changes or secrets, tags, and readiness.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import subprocess
import tarfile
from datetime import datetime
from pathlib import Path

import requests
from fleet_helpers import HOSTS, PROJECT, ansible, on_host, playbook, recap, show

# Planted in the scenario's inventory (host_vars/paddleocr-fleet-2.yml and -lb.yml, group_vars/all/sandbox.yml) and
# prepare.yml: none may appear in any output.
EPHEMERAL = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/nonexistent"))
SECRETS = ["fleet-basic-auth-s3cret", "pip-index-s3cret", "fleet-lb-client-s3cret"]


def tls_key_lines() -> list[str]:
    lines = (EPHEMERAL / "tls.key").read_text().splitlines()
    return [line for line in lines if line and not line.startswith("-----")][:3]


def test_the_controller_is_an_operator_without_sudo():
    assert os.geteuid() != 0, "run the fleet scenario through scripts/as-operator.sh"
    sudo = subprocess.run(["sudo", "-n", "true"], capture_output=True, check=False) if shutil.which("sudo") else None
    assert sudo is None or sudo.returncode != 0, "the operator may use sudo: a leaking become would go unseen"
    subprocess.run(["docker", "version"], capture_output=True, check=True)  # may use Docker


def test_hosts_are_reached_over_ssh_as_deploy_who_becomes_root():
    for host in HOSTS:
        hostvars = json.loads(ansible("ansible-inventory", "--host", host).stdout)
        assert hostvars["ansible_connection"] == "ansible.builtin.ssh", hostvars
        assert hostvars["ansible_user"] == "deploy"
    plain = ansible("ansible", "paddleocr_hosts", "-m", "ansible.builtin.command", "-a", "id -un",
                    "-e", "ansible_become=false")
    become = ansible("ansible", "paddleocr_hosts", "-m", "ansible.builtin.command", "-a", "id -un")
    assert plain.stdout.count("\ndeploy") == 3 and "root" not in plain.stdout, plain.stdout
    assert become.stdout.count("\nroot") == 3, become.stdout


def test_two_distribution_generations():
    facts = {}
    for host in HOSTS:
        out = ansible("ansible", host, "-m", "ansible.builtin.setup", "-a", "gather_subset=!all,min",
                      "-e", "ansible_become=false", "-o").stdout
        data = json.loads(out.split("=>", 1)[1])["ansible_facts"]
        facts[host] = (data["ansible_distribution"], data["ansible_distribution_major_version"],
                       data["ansible_python"]["version"]["minor"])
    print(f"\n  {facts}")
    assert facts["paddleocr-fleet-1"][:2] == ("Debian", "12")
    assert facts["paddleocr-fleet-2"] == ("Debian", "11", 9), "Debian 11 with its Python 3.9"


def test_every_file_in_the_operators_cache_is_the_operators():
    cache = Path.home() / ".cache" / "paddleocr-fleet"
    written = {path.relative_to(cache).parts[0] for path in cache.rglob("*")}
    # build/ (the image's build context) is laid out only when the engine lacks the image with the context's hash.
    assert {"model-archives", "image-archives"} <= written, written
    me = os.getuid()
    foreign = [str(path) for path in [cache, *cache.rglob("*")] if path.lstat().st_uid != me]
    assert not foreign, f"not the operator's ({pwd.getpwuid(me).pw_name}): {foreign[:10]}"


def test_check_diff_on_the_converged_fleet_changes_nothing_and_prints_no_secret():
    proc = playbook(PROJECT / "site.yml", "--check", "--diff")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, show(proc)
    counters = recap(proc.stdout)
    assert set(counters) >= {*HOSTS, "paddleocr-fleet-lb"}, counters
    for host in [*HOSTS, "paddleocr-fleet-lb"]:
        assert counters[host]["changed"] == 0 and counters[host]["failed"] == 0, (host, counters, show(proc))
    # The check still asked each host for real OCR.
    assert len(re.findall(r"recognised \[.*PaddleOCR fleet", output)) >= 3, show(proc)
    for secret in SECRETS + tls_key_lines():
        assert secret not in output, f"a planted secret is in the --check --diff output: {secret[:12]}..."


def test_pip_credentials_are_in_no_layer_history_or_setting_of_the_image():
    """The build got an index URL with credentials (group_vars/all/sandbox.yml): the image the registry served
    to a host keeps no trace of it, in its history (where the ARGs of RUN steps appear) or its settings, and
    the build host's cache no longer holds the install stage whose ARGs carried it."""
    image = json.loads(on_host("paddleocr-fleet-1", "cat", "/etc/paddleocr/release.json"))["image"]
    history = on_host("paddleocr-fleet-1", "docker", "history", "--no-trunc", "--format", "{{ .CreatedBy }}", image)
    inspect = on_host("paddleocr-fleet-1", "docker", "image", "inspect", image)
    assert "/opt/venv" in history, "the venv comes from the install stage"
    for secret in SECRETS:
        assert secret not in history and secret not in inspect, secret
    assert "PIP_INDEX_URL" not in history and "PIP_FIND_LINKS" not in history + inspect
    install_stage = subprocess.run(["docker", "image", "ls", "--all", "--quiet", "--no-trunc", "--filter",
                                    "label=org.paddleocr-fleet.build-stage=install"],
                                   capture_output=True, text=True, check=True).stdout.split()
    # Other builds on this engine (the GPU image's, without credentials) may keep theirs: the test is that no
    # cached install stage carries the fleet's planted credentials. An image gone since the listing holds none.
    for stage in install_stage:
        stage_history = subprocess.run(["docker", "history", "--no-trunc", "--format", "{{ .CreatedBy }}", stage],
                                       capture_output=True, text=True, check=False).stdout
        for secret in SECRETS:
            assert secret not in stage_history, f"the build host still caches the install stage {stage[:19]}"


def _docker_time(stamp: str) -> datetime:
    """Docker's RFC 3339 timestamps (nanoseconds, Z or an offset), to the second."""
    match = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d+)?(Z|[+-]\d\d:\d\d)$", stamp)
    assert match, stamp
    return datetime.fromisoformat(match.group(1) + match.group(2).replace("Z", "+00:00"))


def test_the_converge_took_the_cold_path_whatever_an_earlier_run_left():
    """destroy.yml leaves the controller no image of the release, so warm caches cannot hide the cold path: the
    controller built the image in this run (after the hosts' engines were created), the registry serves that very
    build, the archive on the controller holds it, and the hosts pulled (registry) or loaded (archive) it."""
    refs = {host: json.loads(on_host(host, "cat", "/etc/paddleocr/release.json"))["image"] for host in HOSTS}
    name_tag = refs["paddleocr-fleet-3"]
    name, tag = name_tag.rsplit(":", 1)
    built = json.loads(subprocess.run(["docker", "image", "inspect", name_tag], capture_output=True, text=True,
                                      check=True).stdout)[0]
    engines_created = json.loads(subprocess.run(["docker", "volume", "inspect", "paddleocr-fleet-1-docker"],
                                                capture_output=True, text=True, check=True).stdout)[0]["CreatedAt"]
    assert _docker_time(built["Created"]) > _docker_time(engines_created), (built["Created"], engines_created)
    # Pushed: the registry's manifest names this build's configuration.
    registry = refs["paddleocr-fleet-1"].split("/", 1)[0].rsplit(":", 1)[1]
    manifest = requests.get(f"http://127.0.0.1:{registry}/v2/{name}/manifests/{tag}", timeout=30,
                            headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"}).json()
    assert manifest["config"]["digest"] == built["Id"], manifest
    # Saved: the controller's archive holds this build.
    archive = Path.home() / ".cache/paddleocr-fleet/image-archives" / f"{name.replace('/', '_')}-{tag}.tar"
    with tarfile.open(archive) as tar:
        config = json.load(tar.extractfile("manifest.json"))[0]["Config"]
    assert built["Id"].split(":")[1] in config, config
    # Pulled and loaded: each host runs this build.
    for host in HOSTS:
        assert on_host(host, "docker", "image", "inspect", "--format", "{{ .Id }}", refs[host]).strip() == built["Id"]


def test_tags_verify_alone_checks_the_fleet_and_changes_nothing():
    proc = playbook(PROJECT / "site.yml", "--tags", "verify")
    assert proc.returncode == 0, show(proc)
    assert "Recognise sample.png" in proc.stdout and "Install Docker" not in proc.stdout, show(proc)
    assert {counters["changed"] for counters in recap(proc.stdout).values()} == {0}


# One real OCR request from the host itself, no retry.
ONE_REQUEST = """
import base64, json, urllib.request
image = base64.b64encode(open("/opt/paddleocr/verify/sample.png", "rb").read()).decode()
request = urllib.request.Request("http://127.0.0.1:8866/predict/ocr_system", json.dumps({"images": [image]}).encode(),
                                 {"Content-Type": "application/json"})
print(urllib.request.urlopen(request, timeout=60).read().decode())
"""


def docker_exec(host: str, *command: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", "exec", host, *command], capture_output=True, text=True, check=check)


def test_started_means_answering_and_a_unit_that_never_gets_ready_fails():
    host = "paddleocr-fleet-1"
    # A restart returns only once the API answers: the very next request gets real text.
    docker_exec(host, "systemctl", "restart", "paddleocr")
    answer = docker_exec(host, "python3", "-c", ONE_REQUEST, check=False)
    assert json.loads(answer.stdout or "{}").get("status") == "000", (answer.stdout[:500], answer.stderr[-500:])
    # The same unit with a readiness gate that never passes: systemd gives up at TimeoutStartSec.
    dropin = "/run/systemd/system/paddleocr.service.d"
    docker_exec(host, "mkdir", "-p", dropin)
    docker_exec(host, "sh", "-c", f"printf '[Service]\\nExecStartPost=\\nExecStartPost=/usr/local/sbin/paddleocr-ready "
                f"http://127.0.0.1:9/\\nTimeoutStartSec=20\\nRestart=no\\n' >{dropin}/never-ready.conf")
    try:
        docker_exec(host, "systemctl", "daemon-reload")
        restart = docker_exec(host, "systemctl", "restart", "paddleocr", check=False)
        state = docker_exec(host, "systemctl", "is-failed", "paddleocr", check=False).stdout.strip()
        assert restart.returncode != 0 and state == "failed", (restart.returncode, state, restart.stderr)
    finally:
        docker_exec(host, "rm", "-rf", dropin)
        docker_exec(host, "systemctl", "daemon-reload")
        docker_exec(host, "systemctl", "reset-failed", "paddleocr", check=False)
        docker_exec(host, "systemctl", "restart", "paddleocr")
