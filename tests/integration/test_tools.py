"""The repository's own checks in tools/: check-circles finds a call circle
between C files in a build folder (from build.ninja and the objects' nm
symbols), names its files and the calls that make it, passes a circle on
its allowlist, and refuses a missing build folder with a sentence."""
import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHECK = os.path.join(ROOT, "tools", "check-circles")

SOURCES = {
    # a.c and b.c call each other; main.c calls a.c; leaf.c is called by b.c
    "a.c": "int b_twice(int);\nint a_half(int x) { return x > 1 ? b_twice(x / 2) : x; }\n",
    "b.c": "int a_half(int);\nint leaf(int);\nint b_twice(int x) { return leaf(a_half(x) * 2); }\n",
    "leaf.c": "int leaf(int x) { return x + 1; }\n",
    "main.c": "int a_half(int);\nint main(void) { return a_half(8); }\n",
}


@pytest.fixture
def project(tmp_path):
    if not shutil.which("cc") or not shutil.which("nm"):
        pytest.skip("cc and nm are needed")
    src, build = tmp_path / "src", tmp_path / "build"
    src.mkdir()
    build.mkdir()
    for name, text in SOURCES.items():
        (src / name).write_text(text)
        subprocess.run(["cc", "-c", str(src / name), "-o", str(build / (name + ".o"))], check=True)
    (build / "build.ninja").write_text(
        "rule c_COMPILER\n  command = cc\nrule STATIC_LINKER\n  command = ar\nrule c_LINKER\n  command = cc\n"
        "build a.c.o: c_COMPILER ../src/a.c\n"
        "build b.c.o: c_COMPILER ../src/b.c\n"
        "build leaf.c.o: c_COMPILER ../src/leaf.c\n"
        "build main.c.o: c_COMPILER ../src/main.c\n"
        "build libcore.a: STATIC_LINKER a.c.o b.c.o $\n  leaf.c.o\n"
        "build prog: c_LINKER main.c.o | /usr/lib/libm.so libcore.a\n")
    rel = {name: os.path.relpath(src / name, ROOT) for name in SOURCES}
    return build, rel


def run(*args):
    return subprocess.run([CHECK] + [str(a) for a in args], capture_output=True, text=True, timeout=60)


def test_a_circle_is_named_with_its_calls(project, tmp_path):
    build, rel = project
    none = tmp_path / "none"
    none.write_text("# nothing allowed\n")
    out = run("--allowed", none, build)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "circle of 2 files: %s %s" % (rel["a.c"], rel["b.c"]) in out.stderr
    assert "%s -> %s (b_twice)" % (rel["a.c"], rel["b.c"]) in out.stderr
    assert "%s -> %s (a_half)" % (rel["b.c"], rel["a.c"]) in out.stderr
    assert rel["main.c"] not in out.stderr.split("\n")[0] and rel["leaf.c"] not in out.stderr.split("\n")[0]


def test_an_allowed_circle_passes_and_a_stale_entry_is_noted(project, tmp_path):
    build, rel = project
    allowed = tmp_path / "allowed"
    allowed.write_text("%s %s  # being removed\nsrc/x.c src/y.c\n" % (rel["b.c"], rel["a.c"]))
    out = run("--allowed", allowed, build)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 allowed" in out.stdout and '"src/x.c src/y.c" is gone' in out.stdout
    # a circle that grows is no longer the allowed one
    allowed.write_text("%s %s %s\n" % (rel["a.c"], rel["b.c"], rel["leaf.c"]))
    assert run("--allowed", allowed, build).returncode == 1


def test_a_missing_build_folder_is_a_sentence(tmp_path):
    out = run(tmp_path / "nowhere")
    assert out.returncode == 2 and "cannot read" in out.stderr and "meson setup" in out.stderr
