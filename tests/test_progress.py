"""Long steps show progress: the model downloads (paddleocr_models, for real against a slow local origin) and the
image build's wait (paddleocr_image build_wait.yml, on a stand-in job: no Docker here) run as async jobs that the
module async_job_watch watches, printing a progress line on every retry through the callback
plugins/callback/progress.py."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import ClassVar

import pytest
import yaml

from support import PROJECT_ROOT, load_plugin
from support.testing import serving

_spec = importlib.util.spec_from_file_location("progress_callback", PROJECT_ROOT / "plugins" / "callback" / "progress.py")
progress_callback = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(progress_callback)

SLOW = os.urandom(3_000_000)  # streamed in 30 pieces, 0.2 s apart: about 6 s
FAST = {"cls.tar": os.urandom(20_000), "rec.tar": os.urandom(30_000)}
LINE = re.compile(r"^  \[localhost\] (\S+): ([\d.]+) of ([\d.]+) MB, (\d+) s$", re.MULTILINE)


async_job_watch = load_plugin("modules", "async_job_watch")


# --- the watch module alone -------------------------------------------------------------------------

@pytest.mark.parametrize(("content", "running"), [
    ('{"started": 1, "finished": 0, "ansible_job_id": "j1"}', True),
    ('{"changed": true, "rc": 0}', False),
    ('{"started": 1, "fini', True),  # being written
    (None, False),
])
def test_a_job_runs_while_its_results_file_holds_the_started_record(tmp_path, content, running):
    results = tmp_path / "j1"
    if content is not None:
        results.write_text(content)
    assert async_job_watch.job_running(str(results)) is running


def test_the_bytes_so_far_are_the_newest_partial_files_then_the_final_files(tmp_path):
    started = time.time() - 10
    old = tmp_path / "tmpold"
    old.write_bytes(b"x" * 50)
    os.utime(old, (started - 5, started - 5))  # left by an earlier run: not this job's
    final = tmp_path / "det.tar"
    assert async_job_watch.bytes_so_far(str(tmp_path / "tmp*"), str(final), started) == 0
    (tmp_path / "tmpnew").write_bytes(b"x" * 1200)
    assert async_job_watch.bytes_so_far(str(tmp_path / "tmp*"), str(final), started) == 1200
    (tmp_path / "tmpnew").rename(final)
    assert async_job_watch.bytes_so_far(str(tmp_path / "tmp*"), str(final), started) == 1200


def test_a_report_never_goes_below_an_earlier_one(tmp_path):
    note = str(tmp_path / "j1.progress")
    assert [async_job_watch.not_less_than_seen(note, size) for size in (10, 500, 0, 700)] == [10, 500, 500, 700]


@pytest.mark.parametrize(("got", "total", "line"), [
    (1_200_000, 3_000_000, "det.tar: 1.2 of 3.0 MB, 4 s"),
    (20_000, 30_000, "det.tar: 20 of 30 kB, 4 s"),
    (2_500_000, 0, "det.tar: 2.5 MB, 4 s"),
])
def test_a_download_report_gives_the_size_so_far_against_the_whole(got, total, line):
    assert async_job_watch.size_report("det.tar", got, total, 4) == line


def test_a_build_report_gives_the_data_roots_growth_or_the_time_alone(tmp_path):
    used = async_job_watch.used_kb(str(tmp_path))
    assert async_job_watch.growth_report("image build", 12, str(tmp_path), str(used - 2000)) == \
        "image build: elapsed 12 s, docker data +2 MB"
    assert async_job_watch.growth_report("image build", 12, str(tmp_path), "") == "image build: elapsed 12 s"
    assert async_job_watch.growth_report("image build", 12, "", "100") == "image build: elapsed 12 s"


def test_watching_returns_as_soon_as_the_job_has_its_result(tmp_path):
    results = tmp_path / "j1"
    results.write_text('{"changed": false}')
    started = time.monotonic()
    watched = async_job_watch.watch({"results_file": str(results), "seconds": 30, "label": "image build",
                                     "partial_files": None, "used_space_of": "", "used_before_kb": ""})
    assert watched == {"finished": True, "progress": ""} and time.monotonic() - started < 2


def test_watching_a_running_job_reports_after_the_interval(tmp_path):
    results = tmp_path / "j1"
    results.write_text('{"started": 1, "finished": 0}')
    (tmp_path / "tmpabc").write_bytes(b"x" * 2_000_000)
    os.utime(results, (time.time() - 3, time.time() - 3))
    watched = async_job_watch.watch({"results_file": str(results), "seconds": 1, "label": "det.tar",
                                     "partial_files": str(tmp_path / "tmp*"), "final_file": str(tmp_path / "det.tar"),
                                     "total_bytes": 3_000_000, "used_space_of": "", "used_before_kb": ""})
    assert watched["finished"] is False and re.fullmatch(r"det\.tar: 2\.0 of 3\.0 MB, [4-9] s", watched["progress"])


# --- the callback alone -----------------------------------------------------------------------------

@pytest.mark.parametrize(("result", "line"), [
    ({"progress": "image build: elapsed 40 s", "stdout": "progress: other"}, "image build: elapsed 40 s"),
    ({"stdout": "noise\nprogress: det.tar: 1.0 of 3.0 MB, 2 s\n"}, "det.tar: 1.0 of 3.0 MB, 2 s"),
    ({"stdout": "progress: earlier\nnot a progress line"}, None),
    ({"stdout": "<html>a readiness probe's body</html>", "rc": 7}, None),
    ({"msg": "no stdout at all"}, None),
    ({"progress": "secret", "_ansible_no_log": True}, None),
    ({"progress": "   "}, None),
])
def test_the_callback_prints_a_report_only_when_the_result_carries_one(result, line):
    assert progress_callback.progress_of(result) == line


def test_the_callback_documents_itself_and_must_be_enabled():
    doc = yaml.safe_load(progress_callback.DOCUMENTATION)
    assert doc["name"] == "progress" and doc["type"] == "notification"
    module = progress_callback.CallbackModule
    assert (module.CALLBACK_TYPE, module.CALLBACK_NAME, module.CALLBACK_NEEDS_ENABLED) == ("notification", "progress", True)


# --- ansible-playbook with the callback enabled -----------------------------------------------------

def run_play(tmp_path: Path, play: str, extra: dict, *args: str) -> subprocess.CompletedProcess:
    (tmp_path / "play.yml").write_text(play)
    (tmp_path / "ansible.cfg").write_text(f"""[defaults]
roles_path = {PROJECT_ROOT / 'roles'}
collections_path = {PROJECT_ROOT / '.collections'}
callback_plugins = {PROJECT_ROOT / 'plugins' / 'callback'}
callbacks_enabled = progress
stdout_callback = ansible.builtin.default
retry_files_enabled = false
""")
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    env.update(ANSIBLE_CONFIG=str(tmp_path / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="0",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="0", NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    return subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "play.yml", *args,
                           "-e", json.dumps({"ansible_python_interpreter": sys.executable, **extra})],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=240, check=False)


class Origin(BaseHTTPRequestHandler):
    """det.tar trickles, the others come at once; GET and HEAD (get_url's check mode)."""

    files: ClassVar[dict[str, bytes]] = {"det.tar": SLOW, **FAST}

    def do_HEAD(self) -> None:
        self.send_body(with_body=False)

    def do_GET(self) -> None:
        self.send_body(with_body=True)

    def send_body(self, with_body: bool) -> None:
        body = self.files.get(self.path.rsplit("/", 1)[-1])
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not with_body:
            return
        step = 100_000 if self.path.endswith("det.tar") else len(body)
        for start in range(0, len(body), step):
            self.wfile.write(body[start:start + step])
            self.wfile.flush()
            if step < len(body):
                time.sleep(0.2)

    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def slow_origin() -> Iterator[str]:
    with serving(Origin) as url:
        yield url + "/"


def catalog_and_lock(tmp_path: Path, url: str, lock: dict | None = None) -> dict:
    """A one-set catalog served by the slow origin, its lock, and the role's variables for them."""
    models = {role: {"source": "slow", "path": f"models/{role}.tar", "dir": f"{role}_infer"} for role in ("det", "cls", "rec")}
    catalog = {"sources": {"slow": url}, "default_set": "slowset",
               "sets": {"slowset": {"description": "progress test", "runtime": "paddleocr2", "ocr_version": "PP-OCRv4",
                                    "lang": "en", "dict": None, "size_mb": 3, "models": models}}}
    (tmp_path / "models.yml").write_text(yaml.safe_dump(catalog))
    if lock is None:
        lock = {f"slow/models/{name}": {"sha256": hashlib.sha256(body).hexdigest(), "size": len(body)}
                for name, body in Origin.files.items()}
    (tmp_path / "models.lock.yml").write_text(yaml.safe_dump({"archives": lock}))
    return {"paddleocr_models_catalog_file": str(tmp_path / "models.yml"),
            "paddleocr_models_lock_file": str(tmp_path / "models.lock.yml"),
            "paddleocr_model_sets": ["slowset"],
            "paddleocr_models_controller_cache": str(tmp_path / "cache"),
            "paddleocr_models_root": str(tmp_path / "models"),
            "paddleocr_models_download_progress_interval": 1}


def fetch_play(via: str) -> str:
    return f"""
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - ansible.builtin.include_role: {{name: paddleocr_models, tasks_from: resolve}}
    - ansible.builtin.include_role: {{name: paddleocr_models, tasks_from: fetch_{via}}}
"""


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the role gives the host's archives to root")


@pytest.mark.slow
@needs_root
@pytest.mark.parametrize("via", ["controller", "host"])
def test_a_slow_download_reports_its_growing_size_and_a_second_run_starts_no_download(tmp_path, via):
    with slow_origin() as url:
        variables = catalog_and_lock(tmp_path, url)
        first = run_play(tmp_path, fetch_play(via), variables)
        assert first.returncode == 0, first.stdout[-4000:]
        det = [(float(got), float(total), int(secs)) for name, got, total, secs in LINE.findall(first.stdout)
               if name == "det.tar"]
        assert len(det) >= 2, first.stdout[-4000:]
        assert all(total == 3.0 for _, total, _ in det)
        # Never shrinking, and caught part-way (how far it got between two reports depends on the machine's load).
        assert [got for got, _, _ in det] == sorted(got for got, _, _ in det) and det[0][0] < 3.0, det
        assert det[-1][2] > det[0][2], det
        assert "FAILED - RETRYING: [localhost]: Wait for the download of slow/models/det.tar" in first.stdout
        downloads = tmp_path / "models" / ".downloads"
        assert (downloads / "slow__models__det.tar").read_bytes() == SLOW
        assert (downloads / "slow__models__rec.tar").read_bytes() == FAST["rec.tar"]
        assert not [p.name for p in downloads.iterdir() if p.name.startswith("tmp")]  # no partial file left
        assert "changed=0" not in first.stdout

        again = run_play(tmp_path, fetch_play(via), variables)
        assert again.returncode == 0, again.stdout[-4000:]
        assert "changed=0" in again.stdout
        assert "Start downloading" not in again.stdout and "  [localhost] " not in again.stdout


@pytest.mark.slow
@needs_root
def test_a_download_that_fails_its_checksum_fails_with_get_urls_message(tmp_path):
    with slow_origin() as url:
        lock = {f"slow/models/{name}": {"sha256": "0" * 64, "size": len(body)} for name, body in Origin.files.items()}
        result = run_play(tmp_path, fetch_play("host"), catalog_and_lock(tmp_path, url, lock))
    assert result.returncode != 0
    assert "did not match 0000000000000000" in result.stdout, result.stdout[-4000:]
    assert not (tmp_path / "models" / ".downloads" / "slow__models__det.tar").exists()


@pytest.mark.slow
@needs_root
def test_check_mode_predicts_the_download_and_writes_nothing(tmp_path):
    (tmp_path / "models" / ".downloads").mkdir(parents=True)  # a host that got other sets before
    with slow_origin() as url:
        result = run_play(tmp_path, fetch_play("host"), catalog_and_lock(tmp_path, url), "--check")
    assert result.returncode == 0, result.stdout[-4000:]
    assert re.search(r"localhost\s+: ok=\d+\s+changed=[1-9]", result.stdout), result.stdout[-2000:]
    assert list((tmp_path / "models" / ".downloads").iterdir()) == []


# --- the image build's wait, on a stand-in job ------------------------------------------------------

def build_wait_play(job: str) -> str:
    """build.yml's last steps as it runs them, with a shell job in docker_image's place, writing into a
    directory that stands in for the Docker data root."""
    return f"""
- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    paddleocr_image_build_progress_interval: 1
    paddleocr_image_build_timeout: 60
    _paddleocr_image_engine: {{host_info: {{DockerRootDir: "{{{{ playbook_dir }}}}/docker"}}}}
  tasks:
    - name: Note the disk space used before
      ansible.builtin.shell: set -o pipefail; df -P -k docker | awk 'NR == 2 {{print $3}}'
      args: {{executable: /bin/bash}}
      register: _paddleocr_image_used_before
    - name: Start the stand-in build
      ansible.builtin.shell: {json.dumps(job)}
      async: 60
      poll: 0
      changed_when: false
      register: _paddleocr_image_build_job
    - ansible.builtin.include_role: {{name: paddleocr_image, tasks_from: build_wait}}
    - ansible.builtin.debug: {{msg: "RESULT {{{{ _paddleocr_image_build | to_json | b64encode }}}} END"}}
"""


@pytest.mark.slow
def test_the_build_wait_reports_elapsed_time_and_data_growth_then_hands_over_the_jobs_result(tmp_path):
    (tmp_path / "docker").mkdir()
    job = "for i in 1 2 3 4; do head -c 20000000 /dev/urandom > docker/layer$i; sleep 1; done; echo built"
    result = run_play(tmp_path, build_wait_play(job), {})
    assert result.returncode == 0, result.stdout[-4000:]
    lines = re.findall(r"^  \[localhost\] image build: elapsed (\d+) s, docker data ([+-]\d+) MB$", result.stdout,
                       re.MULTILINE)
    assert len(lines) >= 2, result.stdout[-4000:]
    assert int(lines[-1][0]) > int(lines[0][0])
    assert "FAILED - RETRYING: [localhost]: Wait for the image build (it takes minutes)" in result.stdout
    collected = json.loads(base64.b64decode(result.stdout.split("RESULT ", 1)[1].split(" END")[0]))
    assert collected["changed"] is True and collected["stdout"] == "built" and collected["finished"] is True
    assert not Path(collected["results_file"]).exists()  # the job's results file is removed


@pytest.mark.slow
def test_a_failing_build_fails_with_its_own_message(tmp_path):
    (tmp_path / "docker").mkdir()
    result = run_play(tmp_path, build_wait_play("sleep 2; echo 'no space left on device' >&2; exit 3"), {})
    assert result.returncode != 0
    assert "no space left on device" in result.stdout and "non-zero return code" in result.stdout, result.stdout[-4000:]
    assert "Remove the build job's results file" in result.stdout
