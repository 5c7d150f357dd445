"""The end-to-end tunnel's test vectors (tests/vectors/e2e.json) recomputed
by tests/vectors/check_e2e.py, an implementation of docs/PROTOCOL.md
("Remote control: the end-to-end tunnel") in Python that shares no code with
src/common/e2e.c; the C side is unit/test_e2e: test_vectors."""
import os
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
