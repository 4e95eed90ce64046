#!/usr/bin/env bash
# `make locks`: resolves the CUDA libraries of every GPU flavour in the compatibility matrix
# (roles/gpu_matrix/vars/main.yml, `packages`) into exact pins, roles/paddleocr_image/files/cuda-<flavour>.lock,
# for the image's Python (3.11) and platform (manylinux x86_64), from metadata only (nothing is installed).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
MATRIX=roles/gpu_matrix/vars/main.yml
OUT_DIR=roles/paddleocr_image/files
ONNXRUNTIME_VERSION=1.24.1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# pins_of [--without "NAME..."] SPEC...: the name==version of every distribution pip would install for SPECs but
# the NAMEs, sorted, resolved from metadata for the image's Python and platform (nothing is installed).
pins_of() {
  local without=""
  if [ "$1" = --without ]; then without=$2; shift 2; fi
  "${PY%python}pip" install --dry-run --quiet --ignore-installed --only-binary=:all: --implementation cp \
    --python-version 3.11 --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --target "$work/target" \
    --report "$work/report.json" "$@" 2> >(grep -v "^WARNING: Location" >&2)
  "$PY" -c '
import json, sys
report = json.load(open(sys.argv[1]))
for name, version in sorted((i["metadata"]["name"], i["metadata"]["version"]) for i in report["install"]):
    if name not in sys.argv[2].split():
        print(f"{name}=={version}")' "$work/report.json" "$without"
}

# headless: PaddleX's OpenCV pin as the headless build of the same release. PaddleX asks for the GUI build
# (opencv-contrib-python), whose cv2 links libGL and so brings Mesa and LLVM (about 200 MB) into the image; the
# headless build is the same cv2 module without GUI, and the image records it under the name PaddleX asks for.
headless() { sed 's/^opencv-contrib-python==/opencv-contrib-python-headless==/'; }

for flavour in $("$PY" -c 'import sys, yaml; print(" ".join(yaml.safe_load(open(sys.argv[1]))["_gpu_matrix_flavours"]))' "$MATRIX"); do
  mapfile -t specs < <("$PY" -c 'import sys, yaml; print("\n".join(yaml.safe_load(open(sys.argv[1]))["_gpu_matrix_flavours"][sys.argv[2]]["packages"]))' "$MATRIX" "$flavour")
  {
    echo "# CUDA libraries of the GPU flavour $flavour, pinned: written by \`make locks\` (scripts/cuda-locks.sh)"
    echo "# from the compatibility matrix (roles/gpu_matrix/vars/main.yml). Installed with --no-deps --require-hashes beside requirements.lock."
    pins_of "${specs[@]}"
  } >"$OUT_DIR/cuda-$flavour.lock"
done
# The paddleocr3 runtime's lock: PaddleOCR 3.x with PaddleX's OCR core and the serving packages at the paddleocr2
# lock's pins, Paddle's own dependencies included and Paddle itself left out (the image installs it in its own step).
serving=$(grep -i -E '^(Flask|gunicorn|prometheus_client)==' "$OUT_DIR/requirements.lock" | cut -d' ' -f1)
{
  echo "# The paddleocr3 runtime (PaddleOCR 3.x, for model sets with runtime: paddleocr3), pinned: written by \`make locks\`"
  echo "# (scripts/cuda-locks.sh) from paddleocr==3.7.0 and the serving packages of requirements.lock, for Python 3.11"
  echo "# manylinux x86_64. Installed with --no-deps --require-hashes; Paddle itself is paddleocr_image_paddle_package."
  # shellcheck disable=SC2086 # one requirement per word
  pins_of --without paddlepaddle paddleocr==3.7.0 paddlepaddle==3.2.2 $serving | headless
} >"$OUT_DIR/requirements-paddleocr3.lock"
# The onnxruntime runtime's lock: the same PaddleOCR 3.x pipeline on ONNX Runtime's CPU build, no Paddle at all,
# without the distributions the service never imports (measured 2026-12-06 after a start and a request: 142 MB of the venv's 774):
# what ONNX Runtime's model tools need (sympy, protobuf, flatbuffers; inference needs none of them), the model
# hosters' HTTP, xet and crypto packages (every model is local, no hoster is reached) and their leaves.
ONNXRUNTIME_UNUSED="anyio bce-python-sdk crc32c flatbuffers fsspec future h11 hf-xet httpcore2 httpx2 mpmath protobuf
  py-cpuinfo pycparser pycryptodome six sympy truststore tzdata wcwidth"
{
  echo "# The onnxruntime runtime (PaddleOCR 3.x on ONNX Runtime, for model sets with runtime: onnxruntime), pinned: written"
  echo "# by \`make locks\` (scripts/cuda-locks.sh) from paddleocr==3.7.0, onnxruntime==$ONNXRUNTIME_VERSION and the serving"
  echo "# packages of requirements.lock, for Python 3.11 manylinux x86_64. Installed with --no-deps --require-hashes; no Paddle."
  # shellcheck disable=SC2086 # one requirement per word
  pins_of --without "$ONNXRUNTIME_UNUSED" paddleocr==3.7.0 onnxruntime==$ONNXRUNTIME_VERSION $serving | headless
} >"$OUT_DIR/requirements-onnxruntime.lock"
# Its OpenVINO build (paddleocr_onnxruntime_cpu_provider: openvino): onnxruntime-openvino in place of the CPU build, the
# same `onnxruntime` module with OpenVINO's provider and runtime beside its CPU provider.
{
  echo "# The onnxruntime runtime's image with ONNX Runtime's OpenVINO provider: as requirements-onnxruntime.lock with"
  echo "# onnxruntime-openvino==$ONNXRUNTIME_VERSION in place of onnxruntime, written by \`make locks\` (scripts/cuda-locks.sh)."
  # shellcheck disable=SC2086 # one requirement per word
  pins_of --without "$ONNXRUNTIME_UNUSED" paddleocr==3.7.0 onnxruntime-openvino==$ONNXRUNTIME_VERSION $serving | headless
} >"$OUT_DIR/requirements-onnxruntime-openvino.lock"
# Its GPU image's: ONNX Runtime's GPU build in place of the CPU build (its CUDA libraries: cuda-ort-cu12.lock).
{
  echo "# The onnxruntime runtime's GPU image: as requirements-onnxruntime.lock with onnxruntime-gpu==$ONNXRUNTIME_VERSION in"
  echo "# place of onnxruntime, written by \`make locks\` (scripts/cuda-locks.sh). Its CUDA libraries are cuda-ort-cu12.lock."
  # shellcheck disable=SC2086 # one requirement per word
  pins_of --without "$ONNXRUNTIME_UNUSED" paddleocr==3.7.0 onnxruntime-gpu==$ONNXRUNTIME_VERSION $serving | headless
} >"$OUT_DIR/requirements-onnxruntime-gpu.lock"
# Every file's sha256 from the index, for pip install --require-hashes (requirements.lock too), and those of
# the role's default Paddle (CPU, from PyPI) for its Paddle step.
"${PY%python}paddleocr-hash-lock" "$OUT_DIR"/requirements*.lock "$OUT_DIR"/cuda-*.lock
mapfile -t paddle < <(grep -o "'paddlepaddle==[^']*'" roles/paddleocr_image/defaults/main.yml | tr -d "'" | sort -u)
{
  echo "---"
  echo "# sha256 of every file PyPI has for the Paddle releases the paddleocr_image role installs by default, by"
  echo "# requirement: written by \`make locks\` (paddleocr-hash-lock --print). paddleocr_image_paddle_hashes adds others."
  "${PY%python}paddleocr-hash-lock" --print "${paddle[@]}" | sed 1d
} >"$OUT_DIR/paddle-hashes.yml"
