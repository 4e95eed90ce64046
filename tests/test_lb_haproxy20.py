"""The load balancer's health check for HAProxy 2.0/2.1 (Ubuntu 20.04), which have no `http-check send`: the role
renders the same real OCR request into `option httpchk`'s version argument. HAProxy 2.0 itself is NOT run here
(no package for this machine): the rendered line is read the way HAProxy 2.0.0's source reads it, ported below
(src/cfgparse.c readcfgfile() for words and escapes, src/cfgparse-listen.c for `option httpchk`, src/checks.c
for the bytes it sends and how it judges the answer), and those bytes go over a real socket to a stand-in of
HubServing built on Python's http.server. The 2.2+ rendering (`http-check send`) is checked to be unchanged."""

from __future__ import annotations

import base64
import http.server
import io
import json
import os
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import BinaryIO

import pytest
import yaml

from support import PROJECT_ROOT, load_plugin

ROLE = PROJECT_ROOT / "roles" / "paddleocr_lb"
PROBE = (ROLE / "files" / "probe.png").read_bytes()
PROBE_B64 = base64.b64encode(PROBE).decode()
[PROBE_TEXT] = yaml.safe_load((ROLE / "files" / "probe.yml").read_text())["expect"]
ANSWER_REGEX = load_plugin("filter", "probe_text").answer_regex([PROBE_TEXT])
HAPROXY_ANSWER_REGEX = ANSWER_REGEX.replace('"', '\\"')  # in the configuration's double quotes

# `haproxy -v` as each release prints it (2.0 to 2.3 say "HA-Proxy"), "" where it did not run (check mode).
VERSIONS = {
    "2.0": "HA-Proxy version 2.0.13-2ubuntu0.5 2023/02/15 - https://haproxy.org/",
    "2.1": "HA-Proxy version 2.1.4 2020/04/02 - https://haproxy.org/",
    "2.2": "HA-Proxy version 2.2.9-2+deb11u6 2023/12/08 - https://haproxy.org/",
    "2.6": "HAProxy version 2.6.12-1+deb12u1 2023/12/16 - https://haproxy.org/",
    "1.8": "HA-Proxy version 1.8.19-1+deb10u4 2022/05/13",
    "unknown": "",
}
BACKEND_AUTH = {"name": "fleet", "password": "pass with space#1"}

# HAProxy 2.0.0's limits (include/common/defaults.h, doc/configuration.txt): words on a configuration line, and
# the check buffer (tune.chksize, default 16384): a longer request is cut to it without a warning (b_putblk).
MAX_LINE_ARGS = 64
CHKSIZE = 16384
# What HAProxy 2.0 appends to the request of `option httpchk` when `http-check expect` is set (src/checks.c).
APPENDED_BY_HAPROXY20 = b"Connection: close\r\n\r\n"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, dict]:
    """For each case: the role's haproxy.cfg (rendered by ansible from the role's defaults, vars and template, with
    `haproxy -v` as that release prints it), the version the role read, and what its version assert said."""
    tmp = tmp_path_factory.mktemp("lb")
    tasks = yaml.safe_load((ROLE / "tasks" / "main.yml").read_text())
    (version_assert,) = [task for task in tasks if "ansible.builtin.assert" in task and "_paddleocr_lb_haproxy_release"
                         in str(task)]
    cases = [{"name": name, "auth": False} for name in VERSIONS] + [{"name": "2.0-auth", "auth": True}]
    case_vars = {
        "_paddleocr_lb_haproxy_version": "{{ {'rc': 0 if VERSIONS[item.name.split('-')[0]] else 2, "
                                         "'stdout': VERSIONS[item.name.split('-')[0]]} }}",
        "paddleocr_lb_backend_basic_auth": "{{ BACKEND_AUTH if item.auth else {} }}",
    }
    play = [{
        "hosts": "localhost", "connection": "local", "gather_facts": False,
        "vars_files": [str(ROLE / "defaults" / "main.yml"), str(ROLE / "vars" / "main.yml")],
        "vars": {"VERSIONS": VERSIONS, "BACKEND_AUTH": BACKEND_AUTH,
                 "paddleocr_lb_backends": [{"name": "ocr-1", "address": "10.0.0.11"},
                                           {"name": "ocr-2", "address": "10.0.0.12", "tls": True}],
                 "_paddleocr_lb_probe": {"content": PROBE_B64}},
        "tasks": [
            {"ansible.builtin.template": {"src": str(ROLE / "templates" / "haproxy.cfg.j2"),
                                          "dest": f"{tmp}/{{{{ item.name }}}}.cfg"},
             "loop": cases, "vars": case_vars},
            {**version_assert, "loop": cases, "vars": case_vars, "ignore_errors": True, "register": "refusals"},
            {"ansible.builtin.copy": {"dest": f"{tmp}/{{{{ item.item.name }}}}.json", "content": (
                "{{ {'release': _paddleocr_lb_haproxy_release, 'send': _paddleocr_lb_http_check_send | bool,"
                " 'refused': item.failed | default(false), 'message': item.msg | default('')} | to_json }}")},
             "loop": "{{ refusals.results }}",
             "vars": {k: v.replace("item.", "item.item.") for k, v in case_vars.items()}},
        ],
    }]
    (tmp / "render.yml").write_text(json.dumps(play))
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_LOCALHOST_WARNING="0",
               ANSIBLE_INVENTORY_UNPARSED_WARNING="0", ANSIBLE_COLLECTIONS_PATH=str(PROJECT_ROOT / ".collections"))
    result = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,",
                             str(tmp / "render.yml"), "-e", json.dumps({"ansible_python_interpreter": sys.executable,
                                                                       "paddleocr_lb_probe_text": [PROBE_TEXT]})],
                            capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 0, result.stdout[-3000:]
    return {case["name"]: {"cfg": (tmp / f"{case['name']}.cfg").read_text(),
                           **json.loads((tmp / f"{case['name']}.json").read_text())} for case in cases}


def haproxy20_words(line: str) -> list[str]:
    """The words of one configuration line as HAProxy 2.0's readcfgfile() (src/cfgparse.c) makes them: double
    and single quotes, the escapes \\<space> \\\\ \\# \\r \\n \\t \\xHH \\" \\' (others kept as they are), a
    comment from an unquoted #. Environment variables (a $ in double quotes) are refused: the role uses none."""
    words: list[str] = []
    word: list[str] = []
    dquote = squote = False
    i, text = 0, line.lstrip()
    while i < len(text):
        char = text[i]
        if char == '"' and not squote:
            dquote, i = not dquote, i + 1
        elif char == "'" and not dquote:
            squote, i = not squote, i + 1
        elif char == "\\" and not squote:
            follower = text[i + 1:i + 2]
            simple = {" ": " ", "\\": "\\", "#": "#", "r": "\r", "n": "\n", "t": "\t", '"': '"', "'": "'"}
            if follower in simple:
                word.append(simple[follower])
                i += 2
            elif follower == "x":
                assert re.fullmatch(r"[0-9a-fA-F]{2}", text[i + 2:i + 4]), f"invalid \\x sequence at {i}"
                word.append(chr(int(text[i + 2:i + 4], 16)))
                i += 4
            else:
                word.append("\\")
                i += 1
        elif (char == "#" and not squote and not dquote) or char in "\r\n":
            break
        elif char.isspace() and not squote and not dquote:
            words.append("".join(word))
            word = []
            while i < len(text) and text[i].isspace():
                i += 1
        else:
            assert not (dquote and char == "$"), "environment variable in double quotes"
            word.append(char)
            i += 1
    assert not dquote and not squote, "mismatched quotes"
    words.append("".join(word))
    while words and not words[-1]:
        words.pop()
    return words


def backend_lines(cfg: str, keyword: str) -> list[str]:
    return [line.strip() for line in cfg.splitlines() if line.strip().startswith(keyword)]


def haproxy20_check_request(cfg: str) -> bytes:
    """The bytes HAProxy 2.0 sends for the backend's health check: `option httpchk <method> <uri> <version>` is
    "<method> <uri> <version>\\r\\n" (cfgparse-listen.c), followed at each check by "Connection: close\\r\\n" when
    `http-check expect` is set, then "\\r\\n" (checks.c, connect_conn_chk())."""
    (line,) = backend_lines(cfg, "option httpchk")
    words = haproxy20_words(line)
    assert len(words) <= MAX_LINE_ARGS
    # `option httpchk` takes at most 3 arguments (alertif_too_many_args_idx(3, 1, ...)); 2.0 stops on a 4th.
    assert words[:2] == ["option", "httpchk"] and len(words) == 5, words[:5]
    method, uri, version = words[2:]
    request = f"{method} {uri} {version}\r\n".encode("latin-1")
    assert backend_lines(cfg, "http-check expect")
    return request + APPENDED_BY_HAPROXY20


def read_fields(stream: BinaryIO) -> dict[str, str]:
    """A header or trailer section: `Name: value` lines, each ending in CRLF, up to an empty line (strict: the end
    of the stream before it is an error, where http.client.parse_headers would stop quietly)."""
    fields: dict[str, str] = {}
    while (line := stream.readline(65537)) != b"\r\n":
        assert line.endswith(b"\r\n") and b"\n" not in line[:-2] and b"\r" not in line[:-2], line[:200]
        name, value = line[:-2].decode("latin-1").split(":", 1)
        assert re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name), name
        fields[name.lower()] = value.strip(" \t")
    return fields


def read_chunked(stream: BinaryIO) -> tuple[list[bytes], dict[str, str]]:
    """A chunked body (RFC 9112 7.1): its chunks and its trailer section."""
    chunks = []
    while True:
        size_line = stream.readline(1024)
        assert size_line.endswith(b"\r\n"), size_line
        size = int(size_line[:-2].split(b";")[0].decode("ascii"), 16)
        if size == 0:
            return chunks, read_fields(stream)
        chunk = stream.read(size)
        assert len(chunk) == size and stream.read(2) == b"\r\n"
        chunks.append(chunk)


def probe_answer(body: bytes) -> dict:
    """HubServing's envelope for a request body: text for the probe image only (what a working host answers), no
    result otherwise."""
    try:
        images = json.loads(body)["images"]
        is_probe = len(images) == 1 and base64.b64decode(images[0], validate=True) == PROBE
    except (ValueError, KeyError, TypeError):
        is_probe = False
    results = [[{"confidence": 0.99, "text": PROBE_TEXT, "text_region": [[4, 8], [96, 8], [96, 40], [4, 40]]}]]
    return {"msg": "", "results": results if is_probe else [], "status": "000" if is_probe else "101"}


def haproxy20_check_passes(cfg: str, response: bytes) -> bool:
    """HAProxy 2.0's verdict on a health check answer with `http-check expect rstring` (checks.c): an HTTP/1.x status
    line, then the regex searched in what follows the first empty line."""
    (line,) = backend_lines(cfg, "http-check expect")
    words = haproxy20_words(line)
    assert words[:3] == ["http-check", "expect", "rstring"] and len(words) == 4, words
    assert re.match(rb"HTTP/1\.. \d\d\d[ \r]", response), response[:40]
    body = re.split(rb"\r?\n\r?\n", response, maxsplit=1)[1]
    return re.search(words[3], body.decode("latin-1")) is not None


@pytest.mark.parametrize("case", ["2.0", "2.1", "2.0-auth"])
def test_haproxy_20_and_21_get_one_option_httpchk_carrying_the_whole_ocr_request(rendered, case):
    cfg = rendered[case]["cfg"]
    assert rendered[case]["send"] is False and not rendered[case]["refused"]
    assert not backend_lines(cfg, "http-check send")
    assert len(backend_lines(cfg, "option httpchk")) == 1
    sent = haproxy20_check_request(cfg)
    stream = io.BytesIO(sent)
    assert stream.readline() == b"POST /predict/ocr_system HTTP/1.1\r\n"
    headers = read_fields(stream)
    expected = {"host": "paddleocr", "content-type": "application/json", "connection": "close",
                "transfer-encoding": "chunked"}
    if case.endswith("-auth"):
        credentials = f"{BACKEND_AUTH['name']}:{BACKEND_AUTH['password']}".encode()
        expected["authorization"] = f"Basic {base64.b64encode(credentials).decode()}"
    assert headers == expected  # no Content-Length beside the chunked body
    chunks, trailers = read_chunked(stream)
    # One chunk: its size, written in the line before it, is the body's exact byte length.
    (body,) = chunks
    assert json.loads(body) == {"images": [PROBE_B64]}
    assert base64.b64decode(json.loads(body)["images"][0]) == PROBE
    # HAProxy 2.0's own "Connection: close" and empty line are the trailer section that ends the request.
    assert trailers == {"connection": "close"}
    assert stream.read() == b""


def test_haproxy_20_reads_the_long_line_and_the_request_fits_its_check_buffer(rendered):
    """2.0 reads a configuration line of any length (its 2048-byte LINESIZE buffer is doubled as needed:
    readcfgfile()), up to 64 words; the request must fit the check buffer, tune.chksize, 16384 bytes by default."""
    cfg = rendered["2.0-auth"]["cfg"]
    assert "tune.chksize" not in cfg
    (line,) = backend_lines(cfg, "option httpchk")
    assert len(line) > 2048  # the probe's base64 alone is longer: fine for 2.0, as above
    assert len(haproxy20_words(line)) == 5
    assert len(haproxy20_check_request(cfg)) < CHKSIZE


def test_the_20_request_read_by_http_server_is_one_complete_post_of_the_probe(rendered):
    """The exact bytes HAProxy 2.0 would send, over a TCP socket to a stand-in of HubServing (Python's http.server):
    it reads one whole request, nothing left after it, answers with text for the probe image, and HAProxy 2.0's
    expectation passes on that answer."""
    cfg = rendered["2.0"]["cfg"]
    seen: dict = {}

    class HubServingStandIn(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            seen.update(request=(self.command, self.path, self.request_version), headers=dict(self.headers))
            seen["chunks"], seen["trailers"] = read_chunked(self.rfile)
            # The client shut its sending side once the request was out: this is all it sent past the request.
            seen["after"] = self.rfile.read()
            payload = json.dumps(probe_answer(b"".join(seen["chunks"])), sort_keys=True,
                                 separators=(",", ":")).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), HubServingStandIn)
    server.timeout = 10
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    try:
        with socket.create_connection(server.server_address, timeout=10) as client:
            client.sendall(haproxy20_check_request(cfg))
            client.shutdown(socket.SHUT_WR)
            response = b"".join(iter(lambda: client.recv(65536), b""))
        thread.join(10)
    finally:
        server.server_close()
    assert seen["request"] == ("POST", "/predict/ocr_system", "HTTP/1.1")
    assert seen["headers"]["Transfer-Encoding"] == "chunked" and "Content-Length" not in seen["headers"]
    assert [json.loads(chunk) for chunk in seen["chunks"]] == [{"images": [PROBE_B64]}]
    assert seen["trailers"] == {"connection": "close"}
    assert seen["after"] == b""
    assert json.loads(response.split(b"\r\n\r\n", 1)[1])["results"][0][0]["text"] == PROBE_TEXT
    assert haproxy20_check_passes(cfg, response)
    # An instance that answers, but reads another text, is not up.
    assert not haproxy20_check_passes(cfg, response.replace(PROBE_TEXT.encode(), b"PaddleOCR"))


@pytest.mark.parametrize("case", ["2.0", "2.6"])
def test_both_forms_expect_text_and_status_000(rendered, case):
    cfg = rendered[case]["cfg"]
    for answer, passes in [
        ({"msg": "", "results": [[{"confidence": 0.9, "text": PROBE_TEXT, "text_region": []}]], "status": "000"}, True),
        ({"msg": "", "results": [[{"confidence": 0.9, "text": "ready8866", "text_region": []}]], "status": "000"}, True),
        ({"msg": "", "results": [[{"confidence": 0.9, "text": "PaddleOCR", "text_region": []}]], "status": "000"}, False),
        ({"msg": "", "results": [[{"confidence": 0.9, "text": "", "text_region": []}]], "status": "000"}, False),
        ({"msg": "", "results": [[]], "status": "000"}, False),
        ({"msg": "Module ocr_system is not available.", "results": "", "status": "111"}, False),
    ]:
        body = json.dumps(answer, sort_keys=True, separators=(",", ":")).encode()
        response = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        assert haproxy20_check_passes(cfg, response) is passes, answer


@pytest.mark.parametrize("case", ["2.2", "2.6", "unknown"])
def test_haproxy_22_and_newer_keep_the_http_check_send_form_unchanged(rendered, case):
    """The lines the role rendered before HAProxy 2.0 was supported, byte for byte but for the expected text (the
    probe's, no longer any); also where `haproxy -v` gave no version (check mode before the package is installed)."""
    cfg = rendered[case]["cfg"]
    assert rendered[case]["send"] is True and not rendered[case]["refused"]
    check = cfg.split("    # Health: a real OCR request for a small image must come back with its text and status 000"
                      " (the readiness gate's rule).\n")[1]
    assert check.startswith(
        "    option httpchk\n"
        "    http-check send meth POST uri /predict/ocr_system ver HTTP/1.1 hdr Host paddleocr hdr Content-Type"
        f" application/json body '{{\"images\":[\"{PROBE_B64}\"]}}'\n"
        f'    http-check expect rstring "{HAPROXY_ANSWER_REGEX}"\n'
        "    default-server check inter 2000 rise 2 fall 2\n")


def test_versions_before_20_are_refused_with_the_reason(rendered):
    assert rendered["1.8"]["release"] == "1.8.19" and rendered["1.8"]["refused"]
    assert "HAProxy 1.8.19 on this host is older than 2.0" in rendered["1.8"]["message"]
    assert [rendered[case]["release"] for case in ("2.0", "2.1", "2.2", "2.6")] == ["2.0.13", "2.1.4", "2.2.9", "2.6.12"]
