"""Rolling updates of a three-host fleet behind its load balancer, driven through playbooks/rolling_update.yml.

The tests run in file order and build on each other: the converged fleet (release 1) behind HAProxy, a dry
run, release 2 to one host, release 3 to all three (then again: zero changes), then releases that fail and
are rolled back - a container that crashes at start, an image that reads the sample wrongly, a broken model
set - and a rollout killed mid-host and run again. A client loop sends real OCR requests through the load
balancer during every rollout; a request that fails or reads the sample wrongly counts, and none may.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import yaml
from fleet_helpers import (
    HOSTS,
    LB_ENDPOINT,
    LB_HOST,
    PROJECT,
    ClientLoop,
    ansible_invocation,
    assert_fleet_reads_sample,
    on_host,
    playbook,
    recap,
    show,
)

from paddleocr_fleet.check import check_endpoints
from paddleocr_fleet.samples import load_samples

VERSION_LABEL = "org.opencontainers.image.version"
# Release 1 is what site.yml converged, with inventories/production's label.
RELEASE_1 = "2026.11.1"
MODULE = "/opt/paddleocr/ocr_system/module.py"
# An image without the OCR module: its containers crash at start, as a bad build would.
CRASHES = [f"RUN rm {MODULE}"]
# An image whose server swaps "f" and "g" in every line it answers, on any runtime: it reads the probe ("READY 8866")
# right, so its units start and the load balancer's check passes, but answers the sample's "PaddleOCR fleet" as
# "PaddleOCR gleet" - only the OCR check of the sample's text can tell. The grep fails the build if the edit missed.
SWAP_F_AND_G = """s/"text": text,/"text": text.translate(str.maketrans("fg", "gf")),/"""
READS_WRONGLY = [f"RUN sed -i '{SWAP_F_AND_G}' {MODULE} && grep -q maketrans {MODULE}"]
FIGURES: list[str] = []


def release(version: str, build_steps: list[str] | None = None) -> dict:
    # The sandbox's pip settings carry a planted password, so every build would drop its install stage from the
    # cache (test_production_path.py checks that on the converge's build): each release would reinstall every
    # wheel and ship a new venv layer to the registry and the hosts. The rollouts keep the cache, as a build
    # host without credentials does; the scenario's destroy.yml drops those stages after the run.
    extra: dict = {"paddleocr_image_labels": {VERSION_LABEL: version}, "paddleocr_image_prune_install_stage": False}
    if build_steps:
        extra["paddleocr_image_extra_build_steps"] = build_steps
    return extra


def rollout(extra: dict, *args: str, limit: str | None = None) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    proc = playbook(PROJECT / "playbooks/rolling_update.yml", "-e", json.dumps(extra), *args,
                    *(["--limit", limit] if limit else []))
    return proc, time.monotonic() - started


def deployed(host: str) -> dict:
    return json.loads(on_host(host, "cat", "/etc/paddleocr/release.json"))


def image_version(host: str) -> str:
    labels = on_host(host, "docker", "image", "inspect", "--format", "{{ json .Config.Labels }}", deployed(host)["image"])
    return (json.loads(labels) or {}).get(VERSION_LABEL, "")


def running_versions(host: str) -> list[str]:
    """The labels of the images the host's containers run now (not what is recorded)."""
    layout = json.loads(on_host(host, "cat", "/etc/paddleocr/instances.json"))
    versions = []
    for instance in layout["instances"]:
        image = on_host(host, "docker", "inspect", "--format", "{{ .Config.Image }}", instance["container"]).strip()
        labels = on_host(host, "docker", "image", "inspect", "--format", "{{ json .Config.Labels }}", image)
        versions.append((json.loads(labels) or {}).get(VERSION_LABEL, ""))
    return versions


def balancer_status() -> dict[str, str]:
    status = json.loads(on_host(LB_HOST, "paddleocr-lb-server", "status"))
    return {server: state["status"] for server, state in status.items()}


def settled_balancer_status(timeout: float = 60.0) -> dict[str, str]:
    """The balancer's view once every host is UP, or as it stands after timeout seconds: a real-OCR health check
    that times out on a saturated machine marks a host 'DOWN 1/2' until its next check passes; a host that stays
    down still fails the assertion."""
    deadline = time.monotonic() + timeout
    status = balancer_status()
    while set(status.values()) != {"UP"} and time.monotonic() < deadline:
        time.sleep(2)
        status = balancer_status()
    return status


def assert_zero_failed(loop: ClientLoop, what: str) -> None:
    FIGURES.append(loop.report(what))
    assert loop.sent >= 20, f"the client loop sent only {loop.sent} requests"
    assert not loop.failures, loop.failures[:10]


def assert_every_host_serves() -> None:
    status = settled_balancer_status()
    assert status == dict.fromkeys(HOSTS, "UP"), status
    assert_fleet_reads_sample()


def test_converged_fleet_serves_one_image_built_once():
    refs = {host: deployed(host)["image"] for host in HOSTS}
    tags = {ref.rsplit(":", 1)[1] for ref in refs.values()}
    assert len(tags) == 1, refs
    assert re.match(r"^[\d.]+:\d+/paddleocr-fleet/hubserving:", refs["paddleocr-fleet-1"]), refs
    assert refs["paddleocr-fleet-3"].startswith("paddleocr-fleet/hubserving:"), "archive delivery, no registry"
    for host in HOSTS:  # OCR servers never build: no build context on any of them
        ls = subprocess.run(["docker", "exec", host, "ls", "/opt/paddleocr/build"], capture_output=True, check=False)
        assert ls.returncode != 0, f"{host} has a build context"
    assert_fleet_reads_sample()


def test_the_load_balancer_serves_every_host_and_checks_them_with_real_ocr():
    assert settled_balancer_status() == dict.fromkeys(HOSTS, "UP")
    config = on_host(LB_HOST, "cat", "/etc/haproxy/haproxy.cfg")
    assert "http-check send meth POST uri /predict/ocr_system" in config
    # Clients: the same API and port, TLS and basic auth at the load balancer.
    [through_lb] = check_endpoints([LB_ENDPOINT], load_samples(), timeout=120, verify=False)
    assert through_lb.ok, through_lb
    [wrong_password] = check_endpoints([LB_ENDPOINT.replace("s3cret", "guess")], load_samples(), timeout=30,
                                       verify=False)
    assert not wrong_password.ok and "401" in wrong_password.error, wrong_password
    # A host whose engine stops answering is taken out by the health check, not by failed client requests.
    subprocess.run(["docker", "exec", "paddleocr-fleet-3", "docker", "pause", "paddleocr"], check=True)
    try:
        deadline = time.monotonic() + 90
        while balancer_status()["paddleocr-fleet-3"] != "DOWN" and time.monotonic() < deadline:
            time.sleep(1)
        assert balancer_status()["paddleocr-fleet-3"] == "DOWN", balancer_status()
        with ClientLoop() as loop:
            time.sleep(10)
        assert_zero_failed(loop, "one host paused, taken out by the health check")
    finally:
        subprocess.run(["docker", "exec", "paddleocr-fleet-3", "docker", "unpause", "paddleocr"], check=True)
    deadline = time.monotonic() + 60
    while balancer_status()["paddleocr-fleet-3"] != "UP" and time.monotonic() < deadline:
        time.sleep(1)
    assert balancer_status()["paddleocr-fleet-3"] == "UP"


def test_stats_and_runtime_api_answer_on_the_load_balancer_host_only():
    stats = "import urllib.request; print(urllib.request.urlopen('http://{}:8404/stats', timeout=5).status)"
    assert on_host(LB_HOST, "python3", "-c", stats.format("127.0.0.1")).strip() == "200"
    lb_address = on_host(LB_HOST, "hostname", "-I").split()[0]
    # From an OCR host: refused (nothing listens there), while the same host reaches the client port.
    probe = ("import socket, sys\nfor port in (8404, 8866):\n    s = socket.socket(); s.settimeout(5)\n"
             "    print(port, s.connect_ex((sys.argv[1], port)))")
    reached = dict(line.split() for line in on_host("paddleocr-fleet-1", "python3", "-c", probe, lb_address).splitlines())
    assert reached["8866"] == "0" and reached["8404"] != "0", reached
    socket_mode = on_host(LB_HOST, "stat", "-c", "%a %U", "/run/haproxy/admin.sock").strip()
    assert socket_mode.startswith("660 "), socket_mode


def test_dry_run_reports_every_host_and_changes_nothing():
    before = {host: deployed(host) for host in HOSTS}
    proc, _ = rollout(release("2"), "-e", "paddleocr_rollout_dry_run=true")
    assert proc.returncode == 0, show(proc)
    assert proc.stdout.count("would update") == 3, show(proc)
    assert all(counters.get("changed") == 0 for counters in recap(proc.stdout).values()), show(proc)
    assert {host: deployed(host) for host in HOSTS} == before


def test_latency_through_the_load_balancer_before_any_rollout():
    with ClientLoop() as loop:
        time.sleep(15)
    assert_zero_failed(loop, "baseline, no rollout")


def test_rollout_to_one_host_fails_no_request():
    with ClientLoop() as loop:
        proc, seconds = rollout(release("2"), limit="paddleocr-fleet-1")
    FIGURES.append(f"ROLLOUT WALL TIME 1 host: {seconds:.1f} s")
    assert proc.returncode == 0, show(proc)
    assert_zero_failed(loop, "rollout to 1 host")
    assert "drain paddleocr-fleet-1" in proc.stdout and "enabled paddleocr-fleet-1" in proc.stdout, show(proc)
    assert image_version("paddleocr-fleet-1") == "2" and running_versions("paddleocr-fleet-1") == ["2"]
    assert image_version("paddleocr-fleet-2") == RELEASE_1 and running_versions("paddleocr-fleet-2") == [RELEASE_1]
    assert_every_host_serves()


def test_release_2_installed_its_wheels_again_and_ships_the_same_venv_layer():
    """The converge removed the install stage from the build cache (its pip settings carry credentials), so release 2
    installed every wheel again: the same locks make the same venv, byte for byte, and release 2 is release 1's layers
    under new labels - nothing more to push, pull or store."""
    def layers(host: str) -> list[str]:
        return json.loads(on_host(host, "docker", "image", "inspect", "--format", "{{ json .RootFS.Layers }}",
                                  deployed(host)["image"]))

    assert image_version("paddleocr-fleet-1") == "2" and image_version("paddleocr-fleet-2") == RELEASE_1
    assert layers("paddleocr-fleet-1") == layers("paddleocr-fleet-2")


def test_rollout_to_three_hosts_fails_no_request():
    with ClientLoop() as loop:
        proc, seconds = rollout(release("3"))
    FIGURES.append(f"ROLLOUT WALL TIME 3 hosts: {seconds:.1f} s")
    assert proc.returncode == 0, show(proc)
    assert_zero_failed(loop, "rollout to 3 hosts")
    assert [image_version(host) for host in HOSTS] == ["3", "3", "3"]
    assert [running_versions(host) for host in HOSTS] == [["3"], ["3"], ["3"]]
    assert_every_host_serves()


def test_same_rollout_again_changes_nothing():
    proc, seconds = rollout(release("3"))
    FIGURES.append(f"ROLLOUT WALL TIME 3 hosts, nothing to change: {seconds:.1f} s")
    assert proc.returncode == 0, show(proc)
    changed = {host: counters["changed"] for host, counters in recap(proc.stdout).items()}
    assert set(changed.values()) == {0}, changed


def assert_rolled_back(proc: subprocess.CompletedProcess, recorded: dict, running: dict[str, list[str]]) -> None:
    assert proc.returncode != 0, show(proc)
    assert "ROLLED BACK paddleocr-fleet-1" in proc.stdout, show(proc)
    assert recap(proc.stdout)["paddleocr-fleet-1"]["rescued"] == 1, show(proc)
    # The rollout stopped at the first host: the others were never touched.
    assert "paddleocr-fleet-2" not in proc.stdout.split("Roll the release out", 1)[1].split("PLAY RECAP")[0]
    assert deployed("paddleocr-fleet-1") == recorded
    assert {host: running_versions(host) for host in HOSTS} == running
    assert_every_host_serves()


def failed_rollout(extra: dict, what: str) -> subprocess.CompletedProcess:
    """Roll out a release that fails on the first host, under the client loop: it must be rolled back."""
    recorded = deployed("paddleocr-fleet-1")
    running = {host: running_versions(host) for host in HOSTS}
    with ClientLoop() as loop:
        proc, seconds = rollout(extra, "-e", "paddleocr_rollout_ready_timeout=60")
    FIGURES.append(f"ROLLOUT WALL TIME {what}: {seconds:.1f} s")
    assert_zero_failed(loop, what)
    print("\n" + next((line.strip() for line in proc.stdout.splitlines() if "ROLLED BACK" in line), show(proc)))
    assert_rolled_back(proc, recorded, running)
    return proc


def test_a_release_that_crashes_is_rolled_back_without_a_failed_request():
    failed_rollout(release("4", CRASHES), "broken release (crashes), rolled back")


def test_a_release_that_reads_the_sample_wrongly_is_caught_by_the_ocr_check_and_rolled_back():
    proc = failed_rollout(release("5", READS_WRONGLY), "release reading wrongly, rolled back")
    # It started and answered (the units' gate passed): the sample's expected text is what failed.
    assert re.search(r"expected \[.*paddleocr fleet.*\] in \[", proc.stdout, re.IGNORECASE), show(proc)


def test_a_broken_model_set_is_rolled_back_with_the_previous_models(tmp_path: Path):
    """A set whose rec model is a detection model: the models, not the image, break the release."""
    catalog = yaml.safe_load((PROJECT / "roles/paddleocr_models/files/models.yml").read_text())
    broken = json.loads(json.dumps(catalog["sets"]["ppocrv6-tiny"]))
    broken["models"]["rec"] = broken["models"]["det"]
    catalog["sets"]["ppocrv6-tiny-broken"] = broken
    (tmp_path / "models.yml").write_text(yaml.safe_dump(catalog))
    os.chmod(tmp_path, 0o755)
    config_before = on_host("paddleocr-fleet-1", "cat", "/etc/paddleocr/config.json")
    # A catalog of one's own brings its lock along (the lock's default sits beside the catalog): the recorded one.
    failed_rollout({**release("3"), "paddleocr_models_catalog_file": str(tmp_path / "models.yml"),
                    "paddleocr_models_lock_file": str(PROJECT / "roles/paddleocr_models/files/models.lock.yml"),
                    "paddleocr_model_sets": ["ppocrv6-tiny-broken"], "paddleocr_model_set_active": "ppocrv6-tiny-broken"},
                   "broken model set, rolled back")
    # The previous release's models were kept until the new one passed its check, and serve again.
    assert on_host("paddleocr-fleet-1", "readlink", "/opt/paddleocr/models/current").strip() == "ppocrv6-tiny"
    assert on_host("paddleocr-fleet-1", "cat", "/etc/paddleocr/config.json") == config_before
    model_dirs = [value for key, value in json.loads(config_before)["modules_info"]["ocr_system"]["init_args"].items()
                  if key.endswith("_model_dir")]
    for model_dir in model_dirs:
        on_host("paddleocr-fleet-1", "test", "-f", model_dir.replace("/models/", "/opt/paddleocr/models/", 1)
                + "/inference.onnx")


def test_a_rollout_killed_mid_host_is_recovered_by_running_it_again():
    recorded = deployed("paddleocr-fleet-1")
    env_args = ["-e", json.dumps(release("6")), "--limit", "paddleocr-fleet-1"]
    with ClientLoop() as loop:
        killed = ansible_popen(PROJECT / "playbooks/rolling_update.yml", *env_args)
        output: list[str] = []
        for line in killed.stdout:
            output.append(line)
            # Killed right after the unit names the new image, before the handler restarts the container.
            if "changed: [paddleocr-fleet-1]" in line and "Write the HubServing config, the unit" in "".join(output[-4:]):
                break
        os.killpg(killed.pid, signal.SIGKILL)
        killed.wait()
        # Nothing recorded, the container still on the old image, and the host out of rotation.
        assert deployed("paddleocr-fleet-1") == recorded, "".join(output)[-3000:]
        assert running_versions("paddleocr-fleet-1") != ["6"], "".join(output)[-3000:]
        assert balancer_status()["paddleocr-fleet-1"] != "UP", balancer_status()
        # Run again: no file changes any more, but the container runs another image than its unit names.
        proc, seconds = rollout(release("6"), limit="paddleocr-fleet-1")
    FIGURES.append(f"ROLLOUT WALL TIME re-run after a killed rollout: {seconds:.1f} s")
    assert proc.returncode == 0, show(proc)
    assert_zero_failed(loop, "rollout killed mid-host, then run again")
    assert image_version("paddleocr-fleet-1") == "6" and running_versions("paddleocr-fleet-1") == ["6"]
    assert_every_host_serves()


def test_print_the_figures():
    print("\n" + "\n".join(FIGURES))


def ansible_popen(path: Path, *args: str) -> subprocess.Popen:
    """ansible-playbook as `playbook` runs it, streaming its output, in a process group of its own (to kill)."""
    argv, env = ansible_invocation("ansible-playbook", str(path), *args)
    return subprocess.Popen(argv, cwd=PROJECT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
