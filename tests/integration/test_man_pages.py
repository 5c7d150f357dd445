"""The manual pages in docs/ (installed by meson.build): each renders with
groff without a warning, and names every flag its binary's --help prints,
and for the server and the player every config key and VITRINE_* variable
too, so that a new option cannot be left out of its page."""
import os
import re
import subprocess

import pytest

from conftest import BUILD, CLI_BIN, ROOT

PAGES = {
    "vitrine-server.1": os.path.join(BUILD, "vitrine-server"),
    "vitrine-player.1": os.path.join(BUILD, "vitrine-player"),
    "vitrine-relay.1": os.path.join(BUILD, "vitrine-relay"),
    "vitrine.1": CLI_BIN,
}


def page_source(name):
    with open(os.path.join(ROOT, "docs", name)) as f:
        return f.read()


def help_text(binary):
    out = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout


def roff(text):
    """How text is written in a page: hyphens and underscores as the
    pages write them (\\- for every hyphen of a name)."""
    return text.replace("-", "\\-")


@pytest.mark.parametrize("name", sorted(PAGES))
def test_the_page_renders_without_warnings(name):
    path = os.path.join(ROOT, "docs", name)
    out = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", path], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0 and out.stderr == "", out.stderr
    # and as man shows it (man-db runs preconv, tbl and groff; warnings go to stderr)
    shown = subprocess.run(["man", "-l", "--warnings", path], capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, MANWIDTH="80", MAN_KEEP_FORMATTING="0"))
    assert shown.returncode == 0 and shown.stderr == "", shown.stderr
    assert name.split(".")[0].upper() in shown.stdout


@pytest.mark.parametrize("name", ["vitrine-server.1", "vitrine-player.1", "vitrine-relay.1"])
def test_every_flag_of_help_is_in_the_page(name):
    page = page_source(name)
    flags = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", help_text(PAGES[name])))
    assert len(flags) > 5, flags
    missing = sorted(f for f in flags if roff(f) not in page)
    assert not missing, "%s does not document %s" % (name, ", ".join(missing))


@pytest.mark.parametrize("name", ["vitrine-server.1", "vitrine-player.1"])
def test_every_setting_key_and_variable_is_in_the_page(name):
    page = page_source(name)
    text = help_text(PAGES[name])
    rows = text.split("environment", 1)[1].split("\n")[1:]  # after the table's header line
    keys, variables = set(), set()
    for line in rows:
        m = re.match(r"  (?:--\S+ \S+|-)\s+(\S+)\s+(VITRINE_\w+)", line)
        if m:
            keys.add(m.group(1))
            variables.add(m.group(2))
    assert len(keys) > 10, keys
    missing = sorted(k for k in keys if ("\\fB%s\\fR" % k) not in page)
    missing += sorted(v for v in variables if v not in page)
    assert not missing, "%s does not document %s" % (name, ", ".join(missing))
