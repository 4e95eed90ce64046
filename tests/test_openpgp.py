"""The fingerprint reader the apt_repository role checks keys with, against what gpg itself reports."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from support import load_plugin
from support.testing import gpg_home

openpgp = load_plugin("filter", "openpgp")
OpenPGPError = openpgp.OpenPGPError
openpgp_fingerprints = openpgp.openpgp_fingerprints
openpgp_fingerprint_normalise = openpgp.openpgp_fingerprint_normalise


def gpg_key_file(tmp_path: Path, *algorithms: str) -> tuple[str, list[str]]:
    """An armored file of one key per algorithm, made by gpg, and the primary-key fingerprints gpg lists for it."""
    with gpg_home() as home:
        gpg = ["gpg", "--batch", "--homedir", str(home)]
        for number, algorithm in enumerate(algorithms):
            subprocess.run([*gpg, "--passphrase", "", "--quick-gen-key", f"key {number} <k{number}@example.org>",
                            algorithm, "sign", "never"], check=True, capture_output=True)
            # A subkey too: its fingerprint is not a primary key's.
            primary = subprocess.run([*gpg, "--with-colons", "--list-keys", f"k{number}@example.org"], check=True,
                                     capture_output=True, text=True).stdout.split("fpr:::::::::")[1].split(":")[0]
            subprocess.run([*gpg, "--passphrase", "", "--quick-add-key", primary, algorithm, "sign", "never"],
                           check=True, capture_output=True)
        armored = subprocess.run([*gpg, "--armor", "--export"], check=True, capture_output=True, text=True).stdout
        (tmp_path / "key.asc").write_text(armored)
        listing = subprocess.run([*gpg, "--show-keys", "--with-colons", str(tmp_path / "key.asc")], check=True,
                                 capture_output=True, text=True).stdout.splitlines()
    return armored, [listing[i + 1].split(":")[9] for i, line in enumerate(listing) if line.startswith("pub:")]


def test_the_primary_fingerprints_are_the_ones_gpg_reports(tmp_path):
    armored, expected = gpg_key_file(tmp_path, "rsa2048", "ed25519")
    assert len(expected) == 2
    assert openpgp_fingerprints(armored) == expected


def test_armor_headers_and_crlf_line_ends_are_read(tmp_path):
    armored, expected = gpg_key_file(tmp_path, "ed25519")
    begin, rest = armored.split("\n", 1)
    with_headers = f"{begin}\nComment: published by the vendor\nVersion: 2.2\n\n{rest.lstrip()}".replace("\n", "\r\n")
    assert openpgp_fingerprints("an introduction before the block\n" + with_headers) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("<html>404 Not Found</html>", "not an ASCII-armored public key"),
    ("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQ==\n", "no '-----END PGP PUBLIC KEY BLOCK-----' line"),
    ("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nAAAA\n-----END PGP PUBLIC KEY BLOCK-----\n", "is not a packet header"),
])
def test_what_is_not_a_key_is_refused_with_the_reason(text, message):
    with pytest.raises(OpenPGPError, match=message):
        openpgp_fingerprints(text)


def test_fingerprints_are_compared_in_one_spelling():
    assert openpgp_fingerprint_normalise("0x9dc8 5822 9fc7 dd38 854a  e2d8 8d81 803c 0ebf cd88") == \
        "9DC858229FC7DD38854AE2D88D81803C0EBFCD88"
