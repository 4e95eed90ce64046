"""Health, readiness and Prometheus metrics of the converged fleet, and instance ports closed to other hosts.

Debian's Prometheus, installed on the load balancer host by prepare as an operator's monitoring server would
run, scrapes every OCR instance and HAProxy with inventories/production/prometheus/paddleocr-scrape.yml: the
jobs as shipped, only targets, secrets and the interval swapped for the sandbox's.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import time
from collections.abc import Iterator

import pytest
import requests
import yaml
from fleet_helpers import ENDPOINTS, LB_HOST, PROJECT, on_host

from paddleocr_fleet.check import predict_url
from paddleocr_fleet.samples import load_samples

EXAMPLE = PROJECT / "inventories" / "production" / "prometheus" / "paddleocr-scrape.yml"
PROXY_PASSWORD = "fleet-basic-auth-s3cret"
QUERY = ("import sys, urllib.parse, urllib.request\n"
         "print(urllib.request.urlopen('http://127.0.0.1:9090/api/v1/' + sys.argv[1], timeout=10).read().decode())")


def address(host: str) -> str:
    """The host's address on the sandbox network (eth0; an OCR host's docker0 address comes first in hostname -I)."""
    return on_host(host, "ip", "-4", "-o", "addr", "show", "dev", "eth0").split()[3].split("/")[0]


def prometheus_api(path: str) -> dict:
    return json.loads(on_host(LB_HOST, "python3", "-c", QUERY, path))["data"]


def query(expr: str) -> dict[str, float]:
    """An instant query: each series' value, by its labels other than __name__ (formatted as key=value,...)."""
    result = prometheus_api("query?query=" + requests.utils.quote(expr, safe=""))["result"]
    return {",".join(f"{k}={v}" for k, v in sorted(series["metric"].items()) if k != "__name__"):
            float(series["value"][1]) for series in result}


def sandbox_scrape_config() -> str:
    jobs = {job["job_name"]: job for job in yaml.safe_load(EXAMPLE.read_text())["scrape_configs"]}
    assert set(jobs) == {"paddleocr", "paddleocr-instances", "paddleocr-lb"}, set(jobs)
    jobs["paddleocr"]["static_configs"] = [
        {"targets": [f"{address(host)}:8866" for host in ("paddleocr-fleet-1", "paddleocr-fleet-3")]}]
    # paddleocr-fleet-2: one instance behind its proxy (TLS with a self-signed certificate, basic auth).
    instances = jobs["paddleocr-instances"]
    instances["static_configs"] = [{"targets": [f"{address('paddleocr-fleet-2')}:8866"],
                                    "labels": {"__metrics_path__": "/instances/0/metrics", "paddleocr_instance": "0"}}]
    instances["tls_config"] = {"insecure_skip_verify": True}
    for job in jobs.values():
        job["scrape_interval"] = "2s"
    return yaml.safe_dump({"global": {"scrape_interval": "2s"}, "scrape_configs": list(jobs.values())})


@pytest.fixture(scope="module")
def prometheus() -> Iterator[None]:
    password_file = yaml.safe_load(EXAMPLE.read_text())["scrape_configs"][1]["basic_auth"]["password_file"]
    on_host(LB_HOST, "sh", "-c", f"cat > {password_file} && chown prometheus {password_file} && chmod 600 {password_file}",
            stdin=PROXY_PASSWORD)
    on_host(LB_HOST, "sh", "-c", "cat > /etc/prometheus/prometheus.yml", stdin=sandbox_scrape_config())
    on_host(LB_HOST, "promtool", "check", "config", "/etc/prometheus/prometheus.yml")
    on_host(LB_HOST, "systemctl", "restart", "prometheus")
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            targets = prometheus_api("targets")["activeTargets"]
        except subprocess.CalledProcessError:  # Prometheus is still starting
            targets = []
        if len(targets) == 4 and all(target["health"] == "up" for target in targets):
            break
        time.sleep(2)
    yield
    # Scraping every 2 s on this 2-core machine would weigh on the latency figures of the rollout tests.
    on_host(LB_HOST, "systemctl", "stop", "prometheus")


def test_every_host_answers_health_and_readiness():
    for host, endpoint in ENDPOINTS.items():
        for route, message in (("/health", "Healthy"), ("/ready", "Ready")):
            answer = requests.get(endpoint + route, timeout=30, verify=False)
            assert answer.status_code == 200, (host, route, answer.text)
            assert answer.json()["errorCode"] == 0 and answer.json()["errorMsg"] == message, (host, answer.text)


def test_prometheus_scrapes_every_instance_and_the_load_balancer(prometheus):
    # Only the example's jobs: Debian's own default jobs (its first start, before this configuration) may
    # still have samples within the query's lookback.
    up = query('up{job=~"paddleocr.*"}')
    assert len(up) == 4 and set(up.values()) == {1.0}, up
    releases = query("paddleocr_release_info")
    assert len(releases) == 3, releases
    assert all("model_set=ppocrv6-tiny" in labels and "image=" in labels for labels in releases), releases
    # HAProxy's exporter: every OCR host up behind the load balancer.
    assert query('haproxy_backend_active_servers{proxy="paddleocr"}') == {
        "instance=127.0.0.1:8404,job=paddleocr-lb,proxy=paddleocr": 3.0}


def counters(instance: str) -> dict[str, float]:
    by_status = query(f'sum by (status) (paddleocr_requests_total{{instance="{instance}"}})')
    images = query(f'sum(paddleocr_images_total{{instance="{instance}"}})')
    latencies = query(f'sum(paddleocr_request_duration_seconds_count{{instance="{instance}"}})')
    return {"000": by_status.get("status=000", 0.0), "101": by_status.get("status=101", 0.0),
            "images": next(iter(images.values()), 0.0), "timed": next(iter(latencies.values()), 0.0)}


def direct_counters(endpoint: str) -> dict[str, float]:
    text = requests.get(endpoint + "/metrics", timeout=30).text
    found = {"000": 0.0, "101": 0.0, "images": 0.0, "timed": 0.0}
    for name, labels, value in re.findall(r"^(paddleocr_\w+)\{([^}]*)\} (\S+)$", text, re.MULTILINE):
        status = re.search(r'status="(\d+)"', labels)
        if name == "paddleocr_requests_total" and status and status.group(1) in found:
            found[status.group(1)] += float(value)
        elif name == "paddleocr_images_total":
            found["images"] += float(value)
        elif name == "paddleocr_request_duration_seconds_count":
            found["timed"] += float(value)
    return found


def balancer(command: str) -> str:
    socket_command = ("import socket, sys\ns = socket.socket(socket.AF_UNIX)\ns.connect('/run/haproxy/admin.sock')\n"
                      "s.sendall(sys.argv[1].encode() + b'\\n')\nprint(s.recv(65536).decode())")
    return on_host(LB_HOST, "python3", "-c", socket_command, command)


def test_the_request_counter_prometheus_scraped_matches_the_requests_sent(prometheus):
    host, endpoint = "paddleocr-fleet-1", ENDPOINTS["paddleocr-fleet-1"]
    instance = f"{address(host)}:8866"
    sample = load_samples()[0]
    good, bad = 12, 4
    # In maintenance at HAProxy, the host gets neither client requests nor the LB's health checks (real OCR
    # requests, which the counter would count too): only the test's requests.
    balancer(f"set server paddleocr/{host} state maint")
    try:
        time.sleep(3)
        deadline = time.monotonic() + 30
        while (before := counters(instance)) != direct_counters(endpoint) and time.monotonic() < deadline:
            time.sleep(1)
        assert before == direct_counters(endpoint), "Prometheus does not see the instance's counters"
        body = {"images": [base64.b64encode(sample.image.read_bytes()).decode()]}
        for _ in range(good):
            assert requests.post(predict_url(endpoint), json=body, timeout=120).json()["status"] == "000"
        for _ in range(bad):
            assert requests.post(predict_url(endpoint), json={"images": ["not base64!"]}, timeout=60).json()["status"] == "101"
        expected = {"000": before["000"] + good, "101": before["101"] + bad, "images": before["images"] + good,
                    "timed": before["timed"] + good + bad}
        deadline = time.monotonic() + 30
        while (after := counters(instance)) != expected and time.monotonic() < deadline:
            time.sleep(1)
        print(f"\nPROMETHEUS COUNTER: sent {good} readable + {bad} bad images; scraped {before} -> {after}")
        assert after == expected
    finally:
        balancer(f"set server paddleocr/{host} state ready")
        on_host(LB_HOST, "paddleocr-lb-server", "ready", host, "--timeout", "120")


# A SYN to 127.0.0.1:<port> in an Ethernet frame addressed to the target's MAC, as a host on the same network
# can send it (moby/moby#41872): prints "syn-ack" if something answered, "silence" otherwise.
CRAFTED_SYN = r'''
import random, socket, struct, sys, time
iface, target_mac, source_ip, port = sys.argv[1], bytes.fromhex(sys.argv[2].replace(":", "")), sys.argv[3], int(sys.argv[4])
def checksum(data):
    data += b"\0" * (len(data) % 2)
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    total = (total >> 16) + (total & 0xFFFF)
    return ~(total + (total >> 16)) & 0xFFFF
source, destination, sport = socket.inet_aton(source_ip), socket.inet_aton("127.0.0.1"), random.randint(40000, 60000)
tcp = struct.pack("!HHIIBBHHH", sport, port, 1, 0, 5 << 4, 0x02, 64240, 0, 0)
tcp = tcp[:16] + struct.pack("!H", checksum(source + destination + struct.pack("!BBH", 0, 6, len(tcp)) + tcp)) + tcp[18:]
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0, 64, 6, 0, source, destination)
ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
raw.bind((iface, 0))
raw.send(target_mac + raw.getsockname()[4] + b"\x08\x00" + ip + tcp)
raw.settimeout(0.5)
deadline = time.time() + 5
while time.time() < deadline:
    try:
        frame = raw.recv(2048)
    except socket.timeout:
        continue
    segment = frame[14 + (frame[14] & 0x0F) * 4:]
    if frame[23] == 6 and struct.unpack("!HH", segment[:4]) == (port, sport) and segment[13] & 0x12 == 0x12:
        print("syn-ack")
        break
else:
    print("silence")
'''
CONNECT = r'''
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5).close()
    print("connected")
except socket.timeout:
    print("timeout")
except OSError as error:
    print(type(error).__name__)
'''


def reach_instance_from_another_host(target: str, container_ip: str, subnet: str, loopback_port: int) -> dict[str, str]:
    """From the load balancer host, on the same network: the container's address routed through the target
    (moby/moby#45610), and a crafted SYN to the target's loopback-published port (#41872)."""
    target_ip = address(target)
    target_mac = on_host(target, "cat", "/sys/class/net/eth0/address").strip()
    route = on_host(LB_HOST, "ip", "-o", "route", "get", target_ip).split()
    iface, source_ip = route[route.index("dev") + 1], route[route.index("src") + 1]
    on_host(LB_HOST, "ip", "route", "replace", subnet, "via", target_ip)
    try:
        routed = on_host(LB_HOST, "python3", "-c", CONNECT, container_ip, "8866").strip()
    finally:
        on_host(LB_HOST, "ip", "route", "del", subnet, "via", target_ip)
    crafted = on_host(LB_HOST, "python3", "-c", CRAFTED_SYN, iface, target_mac, source_ip, str(loopback_port)).strip()
    return {"routed to the container": routed, "crafted for 127.0.0.1": crafted}


def test_instance_ports_are_closed_to_other_hosts_on_the_same_network():
    target = "paddleocr-fleet-2"  # one instance on 127.0.0.1:8867, behind its proxy
    layout = json.loads(on_host(target, "cat", "/etc/paddleocr/instances.json"))
    instance = layout["instances"][0]
    container_ip = on_host(target, "docker", "inspect", "--format",
                           "{{ range .NetworkSettings.Networks }}{{ .IPAddress }}{{ end }}", instance["container"]).strip()
    subnet = on_host(target, "docker", "network", "inspect", "--format",
                     "{{ (index .IPAM.Config 0).Subnet }}", "bridge").strip()
    port = int(instance["url"].rsplit(":", 1)[1].strip("/"))
    # Alive: the target itself reaches the instance both ways, so silence from elsewhere is a drop.
    assert on_host(target, "python3", "-c", CONNECT, container_ip, "8866").strip() == "connected"
    assert on_host(target, "python3", "-c", CONNECT, "127.0.0.1", str(port)).strip() == "connected"
    # Without docker_engine's isolation, this Docker forwards both (the tests can fail for the reason they name).
    on_host(target, "systemctl", "stop", "docker-isolation")
    try:
        exposed = reach_instance_from_another_host(target, container_ip, subnet, port)
    finally:
        on_host(target, "systemctl", "start", "docker-isolation")
    isolated = reach_instance_from_another_host(target, container_ip, subnet, port)
    print(f"\nINSTANCE PORT FROM ANOTHER HOST: without the isolation {exposed}; with it {isolated}")
    assert exposed == {"routed to the container": "connected", "crafted for 127.0.0.1": "syn-ack"}, exposed
    assert isolated == {"routed to the container": "timeout", "crafted for 127.0.0.1": "silence"}, isolated
    # The proxy port, allowed for this network, still answers.
    assert requests.get(ENDPOINTS[target] + "/health", timeout=30, verify=False).status_code == 200
