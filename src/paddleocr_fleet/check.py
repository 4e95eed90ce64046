"""paddleocr-check: post a real image to one or many HubServing endpoints and check the recognised text.

    paddleocr-check http://ocr-01:8866 http://ocr-02:8866 [--image F --expect TEXT ...] [--json]
    paddleocr-check https://USER:PASSWORD@ocr-01:8866 --cacert site-ca.pem   # behind the proxy's TLS and basic auth

Without --image it uses the verification samples that the paddleocr_verify role uses (shipped in the package;
--samples names another list). Exit status is non-zero when any endpoint fails.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests

from paddleocr_fleet import SAMPLES_PATH
from paddleocr_fleet.samples import Sample, load_samples, missing_texts

PREDICT_PATH = "/predict/ocr_system"


@dataclass
class CheckResult:
    endpoint: str
    ok: bool
    latency_ms: float | None = None
    texts: list[str] = field(default_factory=list)
    error: str = ""


def predict_url(endpoint: str) -> str:
    endpoint = endpoint.rstrip("/")
    if "://" not in endpoint:
        endpoint = f"http://{endpoint}"
    return endpoint if endpoint.endswith(PREDICT_PATH) else endpoint + PREDICT_PATH


def redact(endpoint: str) -> str:
    """The endpoint as it may be printed: a password in it replaced by ***."""
    parts = urlsplit(endpoint if "://" in endpoint else f"http://{endpoint}")
    if parts.password is None:
        return endpoint
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def recognise(session: requests.Session, url: str, image: bytes, timeout: float) -> list[str]:
    """POST one image; return its recognised lines or raise RuntimeError with the envelope's message."""
    payload = {"images": [base64.b64encode(image).decode("ascii")]}
    response = session.post(url, json=payload, timeout=timeout)
    response.raise_for_status()
    body = response.json()
    if body.get("status") != "000":
        raise RuntimeError(f"status {body.get('status')}: {body.get('msg')}")
    return [item["text"] for item in body["results"][0]]


def check_endpoint(endpoint: str, samples: list[Sample], timeout: float, verify: bool | str = True) -> CheckResult:
    """Check one endpoint; basic auth credentials may be in its URL, verify is requests' TLS setting."""
    url = predict_url(endpoint)
    result = CheckResult(endpoint=redact(endpoint), ok=False)
    started = time.perf_counter()
    try:
        with requests.Session() as session:
            session.verify = verify
            for sample in samples:
                texts = recognise(session, url, sample.image.read_bytes(), timeout)
                result.texts.extend(texts)
                missing = missing_texts(sample.expect, texts)
                if missing:
                    result.error = f"{sample.image.name}: expected {missing!r}, recognised {texts!r}"
                    return result
    except (requests.RequestException, RuntimeError, ValueError, KeyError, IndexError) as exc:
        result.error = f"{type(exc).__name__}: {exc}".replace(endpoint, result.endpoint)
        return result
    finally:
        result.latency_ms = round((time.perf_counter() - started) * 1000 / max(len(samples), 1), 1)
    result.ok = True
    return result


def check_endpoints(endpoints: list[str], samples: list[Sample], timeout: float,
                    verify: bool | str = True) -> list[CheckResult]:
    with ThreadPoolExecutor(max_workers=min(32, len(endpoints))) as pool:
        return list(pool.map(lambda endpoint: check_endpoint(endpoint, samples, timeout, verify), endpoints))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="paddleocr-check", description=__doc__.split("\n\n")[0])
    parser.add_argument("endpoints", nargs="+", help="host:port or URL of each HubServing endpoint")
    parser.add_argument("--image", type=Path, help="image to send (default: the verification samples)")
    parser.add_argument("--expect", action="append", default=[], help="text the image must yield (repeatable)")
    parser.add_argument("--samples", type=Path, default=SAMPLES_PATH,
                        help="samples.yml listing images and their texts, used without --image (default: the "
                             "verification samples shipped in the package)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per request (default: %(default)s)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of a table")
    tls = parser.add_mutually_exclusive_group()
    tls.add_argument("--cacert", type=Path, help="CA bundle that signed the endpoints' TLS certificates")
    tls.add_argument("--insecure", action="store_true", help="do not verify TLS certificates")
    args = parser.parse_args(argv)
    verify: bool | str = str(args.cacert) if args.cacert else not args.insecure

    samples = [Sample(args.image, tuple(args.expect))] if args.image else load_samples(args.samples)
    results = check_endpoints(args.endpoints, samples, args.timeout, verify)
    if args.json:
        print(json.dumps({"ok": all(r.ok for r in results), "endpoints": [asdict(r) for r in results]}, indent=2))
    else:
        for r in results:
            status = "OK  " if r.ok else "FAIL"
            print(f"{status} {r.endpoint}  {r.latency_ms} ms/img  texts={r.texts!r}  {r.error}".rstrip())
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
