#!/bin/sh
# Re-make the README's screenshots (docs/img/*.png) from the browser tests, then shrink them.
set -eu
cd "$(dirname "$0")/.."
WINKR_SCREENSHOTS=docs/img .venv/bin/python -m pytest -q -p no:randomly \
    tests/e2e/test_pages_browser.py tests/e2e/test_demo_browser.py -k "landing or admin or chat"
# Palette PNGs keep each file small (optional: needs Pillow).
.venv/bin/python - <<'PY' || true
from pathlib import Path
from PIL import Image
for path in Path("docs/img").glob("*.png"):
    Image.open(path).convert("RGB").quantize(colors=128).save(path, optimize=True)
PY
ls -l docs/img
