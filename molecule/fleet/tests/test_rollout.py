"""Rolling updates of a three-host fleet, driven through playbooks/rolling_update.yml.

The tests run in file order and build on each other: the converged fleet (release 1), a dry run,
release 2 to one host, release 3 to all three (then again: zero changes), and a broken release 4
that the first host fails, is rolled back from, and that stops the rollout.
"""

from __future__ import annotations

import json
import re
import subprocess
import time

from fleet_helpers import HOSTS, PROJECT, assert_fleet_reads_sample, playbook, recap, show

VERSION_LABEL = "org.opencontainers.image.version"
# Release 1 is what site.yml converged, with inventories/production's label.
RELEASE_1 = "2026.11.1"
# Release 4's image lacks the OCR module: its containers crash at start, as a bad build would.
BROKEN = ["RUN rm /opt/paddleocr/ocr_system/module.py"]


def release(version: str, broken: bool = False) -> dict:
    extra: dict = {"paddleocr_image_labels": {VERSION_LABEL: version}}
    if broken:
        extra["paddleocr_image_extra_build_steps"] = BROKEN
    return extra


def rollout(extra: dict, *args: str, limit: str | None = None) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    proc = playbook(PROJECT / "playbooks/rolling_update.yml", "-e", json.dumps(extra), *args,
                    *(["--limit", limit] if limit else []))
    return proc, time.monotonic() - started


def deployed_image(host: str) -> str:
    text = subprocess.run(["docker", "exec", host, "cat", "/etc/paddleocr/deployed-image"],
                          capture_output=True, text=True, check=True).stdout
    return next(line for line in text.splitlines() if line and not line.startswith("#"))


def image_version(host: str) -> str:
    ref = deployed_image(host)
    labels = subprocess.run(
        ["docker", "exec", host, "docker", "image", "inspect", "--format", "{{ json .Config.Labels }}", ref],
        capture_output=True, text=True, check=True).stdout
    return (json.loads(labels) or {}).get(VERSION_LABEL, "")


def test_converged_fleet_serves_one_image_built_once():
    refs = {host: deployed_image(host) for host in HOSTS}
    tags = {ref.rsplit(":", 1)[1] for ref in refs.values()}
    assert len(tags) == 1, refs
    assert re.match(r"^[\d.]+:\d+/paddleocr-fleet/hubserving:", refs["paddleocr-fleet-1"]), refs
    assert refs["paddleocr-fleet-3"].startswith("paddleocr-fleet/hubserving:"), "archive delivery, no registry"
    for host in HOSTS:  # OCR servers never build: no build context on any of them
        ls = subprocess.run(["docker", "exec", host, "ls", "/opt/paddleocr/build"], capture_output=True, check=False)
        assert ls.returncode != 0, f"{host} has a build context"
    assert_fleet_reads_sample()


def test_dry_run_reports_every_host_and_changes_nothing():
    before = {host: deployed_image(host) for host in HOSTS}
    proc, _ = rollout(release("2"), "-e", "paddleocr_rollout_dry_run=true")
    assert proc.returncode == 0, show(proc)
    assert proc.stdout.count("would update") == 3, show(proc)
    assert all(counters.get("changed") == 0 for counters in recap(proc.stdout).values()), show(proc)
    assert {host: deployed_image(host) for host in HOSTS} == before


def test_rollout_to_one_host():
    proc, seconds = rollout(release("2"), limit="paddleocr-fleet-1")
    print(f"\nROLLOUT WALL TIME 1 host: {seconds:.1f} s")
    assert proc.returncode == 0, show(proc)
    assert image_version("paddleocr-fleet-1") == "2"
    assert image_version("paddleocr-fleet-2") == RELEASE_1
    assert_fleet_reads_sample()


def test_rollout_to_three_hosts():
    proc, seconds = rollout(release("3"))
    print(f"\nROLLOUT WALL TIME 3 hosts: {seconds:.1f} s")
    assert proc.returncode == 0, show(proc)
    assert [image_version(host) for host in HOSTS] == ["3", "3", "3"]
    assert_fleet_reads_sample()


def test_same_rollout_again_changes_nothing():
    proc, seconds = rollout(release("3"))
    print(f"\nROLLOUT WALL TIME 3 hosts, nothing to change: {seconds:.1f} s")
    assert proc.returncode == 0, show(proc)
    changed = {host: counters["changed"] for host, counters in recap(proc.stdout).items()}
    assert set(changed.values()) == {0}, changed


def test_broken_release_is_rolled_back_and_stops_the_rollout():
    proc, seconds = rollout(release("4", broken=True), "-e", "paddleocr_rollout_ready_timeout=60")
    print(f"\nROLLOUT WALL TIME broken release, rolled back: {seconds:.1f} s")
    assert proc.returncode != 0, show(proc)
    assert "ROLLED BACK paddleocr-fleet-1" in proc.stdout, show(proc)
    counters = recap(proc.stdout)
    assert counters["paddleocr-fleet-1"]["rescued"] == 1, counters
    # The rollout stopped at the first host: the others were never touched.
    assert "paddleocr-fleet-2" not in proc.stdout.split("Roll the release out", 1)[1].split("PLAY RECAP")[0]
    assert [image_version(host) for host in HOSTS] == ["3", "3", "3"]
    assert_fleet_reads_sample()
