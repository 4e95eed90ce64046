"""Signed local apt repositories of STAND-IN packages for the repositories this machine cannot reach.

NVIDIA's libnvidia-container repository and Docker's download.docker.com are unreachable here, so the
gpu_stack tests point the roles at repositories built by this module instead. Every package in them:

- carries the real package name and a pinned version, so the roles' pinning and signed-by logic run
  against the same names and version strings as in production;
- says "STAND-IN built by paddleocr-fleet tests, not NVIDIA's package" (or "... not Docker's package")
  in its Description;
- is small and genuine enough to run: the stand-in ``nvidia-container-runtime`` execs ``runc`` so
  ``docker run --runtime nvidia`` really starts containers; the stand-in ``docker-ce`` is Debian's real
  ``docker.io`` package (fetched with ``apt-get download`` on this Debian 12 controller) repackaged
  under Docker's name, so the engine really runs. It cannot simply depend on docker.io: Debian's
  docker.io declares ``Conflicts: docker-ce, docker-ce-cli``. It is built for Debian 12 only.

Each repository also holds a newer version than the pinned one, so a test can tell that the pin (and
not "newest wins") chose what was installed. The repositories are signed with a throwaway key
(gpg --batch, ed25519) whose public half is served where the real projects serve theirs:

    <root>/FINGERPRINT                                    the key's fingerprint, as the vendors publish theirs
    <root>/libnvidia-container/gpgkey                     NVIDIA's layout: flat repo per arch
    <root>/libnvidia-container/stable/deb/<arch>/         (Packages, Release, InRelease, *.deb)
    <root>/docker-ce/linux/<distro>/gpg                    Docker's layout
    <root>/docker-ce/linux/<distro>/dists/<suite>/stable/binary-<arch>/Packages

Usage: python tests/support/standin_repo.py build --out DIR; ... serve --root DIR --bind ADDR --port N
(scripts/standin-apt-repo.sh does both).
"""

from __future__ import annotations

import argparse
import email.utils
import gzip
import hashlib
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from paddleocr_fleet.mirror import serve

NVIDIA_NOTE = "STAND-IN built by paddleocr-fleet tests, not NVIDIA's package"
DOCKER_NOTE = "STAND-IN built by paddleocr-fleet tests, not Docker's package"
TOOLKIT_VERSION = "1.17.8-1"
TOOLKIT_NEWER = "1.18.0-1"
DOCKER_VERSION = "5:27.5.1-1~standin"
DOCKER_NEWER = "5:28.0.0-1~standin"
DOCKER_SUITES = {"debian": ["bookworm"]}
KEY_UID = "paddleocr-fleet stand-in apt repository (tests only) <standin@paddleocr-fleet.invalid>"

RUNTIME_SCRIPT = """#!/bin/sh
# STAND-IN nvidia-container-runtime (paddleocr-fleet tests): no GPU hooks, just runc.
exec runc "$@"
"""
CTK_SCRIPT = """#!/bin/sh
# STAND-IN nvidia-ctk (paddleocr-fleet tests).
echo "NVIDIA Container Toolkit CLI version {version} (STAND-IN built by paddleocr-fleet tests)"
"""
CLI_SCRIPT = """#!/bin/sh
# STAND-IN nvidia-container-cli (paddleocr-fleet tests): there is no driver to talk to.
case "$1" in
  --version|-V) echo "cli-version: {version} (STAND-IN built by paddleocr-fleet tests)";;
  *) echo "nvidia-container-cli: STAND-IN built by paddleocr-fleet tests, no NVIDIA driver here" >&2; exit 1;;
esac
"""


@dataclass
class Package:
    name: str
    version: str
    description: str
    depends: str = ""
    files: dict[str, str] = field(default_factory=dict)  # path -> content (executables under usr/bin)

    @property
    def filename(self) -> str:
        return f"{self.name}_{self.version.split(':')[-1]}_{self.arch}.deb"

    arch: str = "amd64"


def toolkit_packages(version: str, arch: str) -> list[Package]:
    upstream = version.split("-")[0]
    return [
        Package("libnvidia-container1", version, NVIDIA_NOTE, arch=arch),
        Package("libnvidia-container-tools", version, NVIDIA_NOTE, f"libnvidia-container1 (>= {version})",
                {"usr/bin/nvidia-container-cli": CLI_SCRIPT.format(version=upstream)}, arch=arch),
        Package("nvidia-container-toolkit-base", version, NVIDIA_NOTE, "",
                {"usr/bin/nvidia-container-runtime": RUNTIME_SCRIPT,
                 "usr/bin/nvidia-ctk": CTK_SCRIPT.format(version=upstream)}, arch=arch),
        Package("nvidia-container-toolkit", version, NVIDIA_NOTE,
                f"nvidia-container-toolkit-base (= {version}), libnvidia-container-tools (>= {version})", arch=arch),
    ]


def docker_packages(version: str, arch: str) -> list[Package]:
    """The small ones; docker-ce itself is repack_docker_io's (the pinned version) or an empty newer one."""
    return [
        Package("docker-ce-cli", version, DOCKER_NOTE, f"docker-ce (= {version})", arch=arch),
        Package("containerd.io", "1.7.25-1~standin", DOCKER_NOTE, "containerd", arch=arch),
        Package("docker-buildx-plugin", "0.20.0-1~standin", DOCKER_NOTE, arch=arch),
        Package("docker-compose-plugin", "2.32.4-1~standin", DOCKER_NOTE, arch=arch),
    ]


def build_deb(pkg: Package, out_dir: Path) -> Path:
    """dpkg-deb a package whose files are the given scripts plus a STAND-IN note under /usr/share/doc."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "pkg"
        (root / "DEBIAN").mkdir(parents=True)
        files = dict(pkg.files)
        files[f"usr/share/doc/{pkg.name}/STAND-IN"] = pkg.description + "\n"
        for rel, content in files.items():
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
            target.chmod(0o755 if rel.startswith("usr/bin/") else 0o644)
        control = [f"Package: {pkg.name}", f"Version: {pkg.version}", f"Architecture: {pkg.arch}",
                   "Maintainer: paddleocr-fleet tests <standin@paddleocr-fleet.invalid>",
                   "Section: misc", "Priority: optional"]
        if pkg.depends:
            control.append(f"Depends: {pkg.depends}")
        control += [f"Description: {pkg.description}",
                    " Throwaway package for the paddleocr-fleet gpu_stack tests; install it nowhere else."]
        (root / "DEBIAN" / "control").write_text("\n".join(control) + "\n")
        out_dir.mkdir(parents=True, exist_ok=True)
        deb = out_dir / pkg.filename
        subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(root), str(deb)],
                       check=True, capture_output=True)
    return deb


def fetch_docker_io(cache: Path) -> Path:
    """Debian's docker.io .deb, downloaded once into cache with apt-get download."""
    cache.mkdir(parents=True, exist_ok=True)
    found = sorted(cache.glob("docker.io_*.deb"))
    if not found:
        subprocess.run(["apt-get", "download", "docker.io"], cwd=cache, check=True, capture_output=True)
        found = sorted(cache.glob("docker.io_*.deb"))
    return found[-1]


def repack_docker_io(src: Path, version: str, out_dir: Path) -> Path:
    """Debian's docker.io (engine and CLI) under the name docker-ce, at version, with a STAND-IN note."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "pkg"
        subprocess.run(["dpkg-deb", "-R", str(src), str(root)], check=True, capture_output=True)
        fields: list[list[str]] = []
        for line in (root / "DEBIAN" / "control").read_text().splitlines():
            if line[:1] in (" ", "\t") and fields:
                fields[-1].append(line)
            elif line.strip():
                fields.append([line])
        origin = next(f[0].split(":", 1)[1].strip() for f in fields if f[0].startswith("Version:"))
        keep = [f for f in fields if f[0].split(":", 1)[0] not in
                ("Package", "Version", "Description", "Conflicts", "Replaces", "Breaks", "Provides", "Maintainer")]
        head = [["Package: docker-ce"], [f"Version: {version}"],
                ["Maintainer: paddleocr-fleet tests <standin@paddleocr-fleet.invalid>"]]
        tail = [["Conflicts: docker.io"], ["Replaces: docker.io"],
                [f"Description: {DOCKER_NOTE}", f" Debian's docker.io {origin} repackaged as docker-ce for the",
                 " paddleocr-fleet gpu_stack tests; install it nowhere else."]]
        (root / "DEBIAN" / "control").write_text("\n".join(line for f in head + keep + tail for line in f) + "\n")
        note = root / "usr" / "share" / "doc" / "docker-ce" / "STAND-IN"
        note.parent.mkdir(parents=True, exist_ok=True)
        note.write_text(f"{DOCKER_NOTE}: Debian's docker.io {origin}\n")
        out_dir.mkdir(parents=True, exist_ok=True)
        deb = out_dir / f"docker-ce_{version.split(':')[-1]}_{subprocess.run(['dpkg-deb', '-f', str(src), 'Architecture'], check=True, capture_output=True, text=True).stdout.strip()}.deb"
        subprocess.run(["dpkg-deb", "-Zgzip", "-z1", "--build", str(root), str(deb)], check=True, capture_output=True)
    return deb


def packages_stanza(deb: Path, filename: str) -> str:
    control = subprocess.run(["dpkg-deb", "-f", str(deb)], check=True, capture_output=True, text=True).stdout
    data = deb.read_bytes()
    return (control.rstrip("\n") + f"\nFilename: {filename}\nSize: {len(data)}\n"
            f"MD5sum: {hashlib.md5(data).hexdigest()}\nSHA256: {hashlib.sha256(data).hexdigest()}\n")


def write_index(directory: Path, stanzas: list[str]) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    text = "\n".join(stanzas).encode()
    (directory / "Packages").write_bytes(text)
    (directory / "Packages.gz").write_bytes(gzip.compress(text, mtime=0))
    return [directory / "Packages", directory / "Packages.gz"]


def write_release(release_dir: Path, indexes: list[Path], fields: dict[str, str], gnupg: Path, key_id: str) -> None:
    lines = [f"{k}: {v}" for k, v in fields.items()]
    lines.append(f"Date: {email.utils.formatdate(usegmt=True)}")
    for title, algo in (("MD5Sum", hashlib.md5), ("SHA256", hashlib.sha256)):
        lines.append(f"{title}:")
        for index in indexes:
            data = index.read_bytes()
            lines.append(f" {algo(data).hexdigest()} {len(data):>8} {index.relative_to(release_dir)}")
    release = release_dir / "Release"
    release.write_text("\n".join(lines) + "\n")
    gpg = ["gpg", "--batch", "--yes", "--homedir", str(gnupg), "--local-user", key_id]
    subprocess.run(gpg + ["--clearsign", "-o", str(release_dir / "InRelease"), str(release)], check=True,
                   capture_output=True)
    subprocess.run(gpg + ["--armor", "--detach-sign", "-o", str(release_dir / "Release.gpg"), str(release)],
                   check=True, capture_output=True)


def existing_key(gnupg: Path) -> str | None:
    if not gnupg.exists():
        return None
    listing = subprocess.run(["gpg", "--batch", "--homedir", str(gnupg), "--with-colons", "--list-secret-keys", KEY_UID],
                             capture_output=True, text=True, check=False).stdout
    return next((line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:")), None)


def make_key(gnupg: Path) -> str:
    gnupg.mkdir(mode=0o700, parents=True, exist_ok=True)
    subprocess.run(["gpg", "--batch", "--homedir", str(gnupg), "--passphrase", "", "--quick-gen-key", KEY_UID,
                    "ed25519", "sign", "never"], check=True, capture_output=True)
    listing = subprocess.run(["gpg", "--batch", "--homedir", str(gnupg), "--with-colons", "--list-keys", KEY_UID],
                             check=True, capture_output=True, text=True).stdout
    return next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:"))


def export_key(gnupg: Path, key_id: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    armored = subprocess.run(["gpg", "--batch", "--homedir", str(gnupg), "--armor", "--export", key_id],
                             check=True, capture_output=True).stdout
    target.write_bytes(armored)


def build(out: Path, arch: str = "amd64") -> dict[str, str]:
    """Build both stand-in repositories under out (replacing what was there); returns their layout."""
    if out.exists():
        shutil.rmtree(out)
    # The throwaway key is made once and kept: hosts that trusted it keep working after a rebuild.
    gnupg = out.parent / (out.name + ".gnupg")
    key_id = existing_key(gnupg) or make_key(gnupg)
    # Where a vendor documents its key's fingerprint, the stand-in publishes its own.
    out.mkdir(parents=True)
    (out / "FINGERPRINT").write_text(key_id + "\n")

    nvidia = out / "libnvidia-container"
    flat = nvidia / "stable" / "deb" / arch
    stanzas = [packages_stanza(build_deb(p, flat), f"./{p.filename}")
               for v in (TOOLKIT_VERSION, TOOLKIT_NEWER) for p in toolkit_packages(v, arch)]
    indexes = write_index(flat, stanzas)
    write_release(flat, indexes, {"Origin": "paddleocr-fleet STAND-IN", "Label": "STAND-IN libnvidia-container",
                                  "Architectures": arch,
                                  "Description": "STAND-IN for NVIDIA's libnvidia-container repository (tests only)"},
                  gnupg, key_id)
    export_key(gnupg, key_id, nvidia / "gpgkey")

    docker_io = fetch_docker_io(out.parent / "standin-src")
    for distro, suites in DOCKER_SUITES.items():
        base = out / "docker-ce" / "linux" / distro
        pool = base / "pool" / "stable"
        unique = {p.filename: p for v in (DOCKER_VERSION, DOCKER_NEWER) for p in docker_packages(v, arch)}
        unique["newer"] = Package("docker-ce", DOCKER_NEWER, DOCKER_NOTE + " (newer than the pin: never installed)",
                                  arch=arch)
        stanzas = [packages_stanza(build_deb(p, pool), f"pool/stable/{p.filename}") for p in unique.values()]
        engine = repack_docker_io(docker_io, DOCKER_VERSION, pool)
        stanzas.append(packages_stanza(engine, f"pool/stable/{engine.name}"))
        for suite in suites:
            dist = base / "dists" / suite
            indexes = write_index(dist / "stable" / f"binary-{arch}", stanzas)
            write_release(dist, indexes, {"Origin": "paddleocr-fleet STAND-IN", "Label": "STAND-IN Docker CE",
                                          "Suite": suite, "Codename": suite, "Architectures": arch,
                                          "Components": "stable",
                                          "Description": "STAND-IN for download.docker.com (tests only)"},
                          gnupg, key_id)
        export_key(gnupg, key_id, base / "gpg")
    (out / "README.txt").write_text(__doc__)
    return {"nvidia_repo": "libnvidia-container/stable/deb/" + arch, "nvidia_key": "libnvidia-container/gpgkey",
            "docker_repo": "docker-ce/linux/<distro>", "docker_key": "docker-ce/linux/<distro>/gpg"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="standin-repo", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build_cmd = commands.add_parser("build", help="build the signed stand-in repositories")
    build_cmd.add_argument("--out", type=Path, required=True)
    build_cmd.add_argument("--arch", default="amd64")
    serve_cmd = commands.add_parser("serve", help="serve a built directory over HTTP")
    serve_cmd.add_argument("--root", type=Path, required=True)
    serve_cmd.add_argument("--bind", default="127.0.0.1")
    serve_cmd.add_argument("--port", type=int, default=8920)
    args = parser.parse_args(argv)
    if args.command == "build":
        for name, path in build(args.out, args.arch).items():
            print(f"{name}: {args.out / path}")
    else:
        serve(args.root, args.bind, args.port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
