"""The end-to-end tunnel's test vectors (tests/vectors/e2e.json) recomputed
by tests/vectors/check_e2e.py, an implementation of docs/PROTOCOL.md
("Remote control: the end-to-end tunnel") in Python that shares no code with
src/common/e2e.c; the C side is unit/test_e2e: test_vectors; and by
tests/vectors/check_e2e.mjs, the console's own guest (web/console/remote/
e2e.js on the vendored libsodium.js) run by node."""
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_e2e_vectors_match_an_independent_implementation():
    pytest.importorskip("cryptography")
    script = os.path.join(ROOT, "tests", "vectors", "check_e2e.py")
    r = subprocess.run([sys.executable, script], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "match" in r.stdout


def test_e2e_vectors_match_the_browser_implementation():
    """web/console/remote/e2e.js, the console's guest side, on the vendored
    libsodium.js (scripts/vendor-js), run by node: tests/vectors/check_e2e.mjs."""
    node = shutil.which("node")
    if not node:
        pytest.skip("node is not installed (apt-get install nodejs)")
    vendored = os.path.join(ROOT, "web", "console", "vendor", "libsodium", "libsodium-wrappers.js")
    assert os.path.isfile(vendored), "web/console/vendor/ is missing: run scripts/vendor-js (scripts/deps does)"
    script = os.path.join(ROOT, "tests", "vectors", "check_e2e.mjs")
    r = subprocess.run([node, script], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "the rekey and the refusals match" in r.stdout
