"""Fingerprints of the OpenPGP keys in a repository's key file, read without gpg on the host.

``key_text | openpgp_fingerprints`` lists the fingerprint of every primary key in an ASCII-armored key file,
upper-case hex, in file order: what
``gpg --show-keys --with-colons`` prints in field 10 of the first ``fpr`` line after each ``pub``. A
fingerprint names the key itself, so it survives the vendor re-armoring the file or extending the key's
expiry, which change the file's checksum.

Version 4 keys (what apt repositories publish): SHA-1 over 0x99, the two-byte body length and the public-key
packet body (RFC 4880 12.2). Other versions are refused with their number.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

PUBLIC_KEY_TAG = 6


class OpenPGPError(ValueError):
    """Raised for a file that holds no OpenPGP public key this reader understands."""


def dearmor(text: str) -> bytes:
    """The binary packets of an ASCII-armored public key block (the first one in the text)."""
    lines = [line.strip() for line in text.replace("\r", "").split("\n")]
    try:
        start = lines.index("-----BEGIN PGP PUBLIC KEY BLOCK-----")
    except ValueError:
        raise OpenPGPError("no '-----BEGIN PGP PUBLIC KEY BLOCK-----' line: not an ASCII-armored public key") from None
    body: list[str] = []
    in_headers = True
    for line in lines[start + 1:]:
        if line.startswith("-----END PGP PUBLIC KEY BLOCK-----"):
            break
        if in_headers:
            # Armor headers ("Version: ...") run up to the first empty line.
            if not line or ":" not in line:
                in_headers = False
                if not line:
                    continue
            else:
                continue
        if line.startswith("="):  # the CRC-24 line
            break
        body.append(line)
    else:
        raise OpenPGPError("the armored key has no '-----END PGP PUBLIC KEY BLOCK-----' line")
    try:
        return base64.b64decode("".join(body), validate=True)
    except binascii.Error as error:
        raise OpenPGPError(f"the armored key is not valid base64: {error}") from None


def packets(data: bytes) -> list[tuple[int, bytes]]:
    """(tag, body) of each packet, old and new packet formats."""
    found: list[tuple[int, bytes]] = []
    offset = 0
    while offset < len(data):
        header = data[offset]
        if not header & 0x80:
            raise OpenPGPError(f"byte {offset} is not a packet header")
        if header & 0x40:  # new format
            tag = header & 0x3F
            first = data[offset + 1]
            if first < 192:
                length, offset = first, offset + 2
            elif first < 224:
                length, offset = ((first - 192) << 8) + data[offset + 2] + 192, offset + 3
            elif first == 255:
                length, offset = int.from_bytes(data[offset + 2:offset + 6], "big"), offset + 6
            else:
                raise OpenPGPError("partial body lengths do not occur in key files")
        else:  # old format
            tag = (header >> 2) & 0x0F
            size = {0: 1, 1: 2, 2: 4}.get(header & 0x03)
            if size is None:
                length, offset = len(data) - offset - 1, offset + 1
            else:
                length, offset = int.from_bytes(data[offset + 1:offset + 1 + size], "big"), offset + 1 + size
        if offset + length > len(data):
            raise OpenPGPError("a packet runs past the end of the key file")
        found.append((tag, data[offset:offset + length]))
        offset += length
    return found


def fingerprint(body: bytes) -> str:
    """The fingerprint of a version 4 public-key packet body."""
    version = body[0] if body else 0
    if version != 4:
        raise OpenPGPError(f"public key version {version}: only version 4 keys are read")
    return hashlib.sha1(b"\x99" + len(body).to_bytes(2, "big") + body, usedforsecurity=False).hexdigest().upper()


def openpgp_fingerprints(key: str) -> list[str]:
    """Fingerprints of the primary keys in an ASCII-armored key file."""
    found = [fingerprint(body) for tag, body in packets(dearmor(key)) if tag == PUBLIC_KEY_TAG]
    if not found:
        raise OpenPGPError("the key file holds no public key")
    return found


def openpgp_fingerprint_normalise(value: str) -> str:
    """A fingerprint as written anywhere (spaces, 0x, lower case) in the form openpgp_fingerprints returns."""
    text = value.replace(" ", "").upper()
    return text.removeprefix("0X")


class FilterModule:
    """Ansible filters: openpgp_fingerprints, openpgp_fingerprint_normalise."""

    def filters(self):
        return {"openpgp_fingerprints": openpgp_fingerprints,
                "openpgp_fingerprint_normalise": openpgp_fingerprint_normalise}
