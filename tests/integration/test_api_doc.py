"""docs/api.yaml describes exactly the routes of src/server/routes.c.

Static: reads the two files, needs no server. Every {"METHOD", "/path", ...}
entry of the route table must be an operation of the OpenAPI document and
the reverse; for each route the document's x-vitrine-auth, x-vitrine-roles,
x-vitrine-body-limit and flag extensions must say what the table says.
Needs python3-yaml (Debian package)."""
import os
import re

import pytest

yaml = pytest.importorskip("yaml", reason="python3-yaml is needed to read docs/api.yaml")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROUTES_C = os.path.join(ROOT, "src", "server", "routes.c")
# the headers whose #defines the route table's body limits use
LIMIT_HEADERS = [os.path.join(ROOT, "src", "server", "content", "content.h"),
                 os.path.join(ROOT, "src", "server", "updates", "updates.h")]
API_YAML = os.path.join(ROOT, "docs", "api.yaml")

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

# {"METHOD", "/path", handler, AUTH_X, roles, body_limit, flags}
ROUTE_RE = re.compile(
    r'\{\s*"([A-Z]+)"\s*,\s*"(/[^"]*)"\s*,\s*(\w+)\s*,\s*(AUTH_\w+)\s*,'
    r'\s*([^,{}]+?)\s*,\s*([^,{}]+?)\s*,\s*([^,{}]+?)\s*(?:,\s*&\w+\s*)?\}'
)


def route_table():
    with open(ROUTES_C, encoding="utf-8") as f:
        text = f.read()
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)  # comments
    text = re.sub(r"//[^\n]*", " ", text)
    start = text.index("server_routes[]")
    body = text[start:text.index("};", start)]
    defines = {name: value.strip() for name, value in re.findall(r"#define\s+(\w+)[ \t]+([^\n]+)", text)}
    for path in LIMIT_HEADERS:
        with open(path, encoding="utf-8") as f:
            header = re.sub(r"/\*.*?\*/", " ", f.read(), flags=re.S)
        for name, value in re.findall(r"#define\s+(\w+)[ \t]+([^\n]+)", header):
            defines.setdefault(name, value.strip())
    routes = {}
    for m in ROUTE_RE.finditer(body):
        method, path, handler, auth, roles, limit, flags = m.groups()
        key = (method, path)
        assert key not in routes, "duplicate route %s %s" % key
        routes[key] = {
            "handler": handler,
            "auth": auth,
            "roles": bit_names(roles, defines),
            "body_limit": eval_size(limit, defines),
            "flags": bit_names(flags, defines),
        }
    # every "{"..." line of the table must have been understood
    assert len(routes) == body.count('{"'), "a route entry of routes.c did not match ROUTE_RE"
    return routes


def bit_names(expr, defines, depth=0):
    """Names OR-ed together in a route field ("R | ROUTE_PW_CHANGE", "SUPPORT"),
    with the file's #defines expanded; "0" is the empty set."""
    assert depth < 8, "recursive #define in %r" % expr
    names = set()
    for term in re.split(r"\s*\|\s*", expr.strip().strip("()").strip()):
        if term == "0":
            continue
        if term in defines:
            names |= bit_names(defines[term], defines, depth + 1)
        else:
            assert re.fullmatch(r"[A-Z_]+", term), "cannot read route field %r" % expr
            names.add(term)
    return names


def eval_size(expr, defines):
    """Evaluates "0", "1024", "4 * KB", "((size_t)4 << 30)" without eval()."""
    expr = re.sub(r"\(size_t\)", "", defines.get(expr.strip(), expr)).strip()
    while expr.startswith("(") and expr.endswith(")"):
        expr = expr[1:-1].strip()
    m = re.fullmatch(r"(\d+)\s*<<\s*(\d+)", expr)
    if m:
        return int(m.group(1)) << int(m.group(2))
    total = 1
    for factor in re.split(r"\s*\*\s*", expr.strip()):
        factor = defines.get(factor, factor)
        assert factor.isdigit(), "cannot read body limit %r" % expr
        total *= int(factor)
    return total


def documented():
    with open(API_YAML, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    ops = {}
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method.upper() in METHODS:
                ops[(method.upper(), path)] = op
    return doc, ops


def test_every_route_is_documented_and_nothing_else():
    code = set(route_table())
    _, ops = documented()
    doc = set(ops)
    assert code, "no routes found in routes.c"
    missing = sorted(code - doc)
    extra = sorted(doc - code)
    assert not missing, "routes of routes.c missing from docs/api.yaml: %s" % missing
    assert not extra, "docs/api.yaml documents routes that routes.c does not have: %s" % extra


def test_document_is_openapi_303_with_unique_operation_ids():
    doc, ops = documented()
    assert doc["openapi"] == "3.0.3"
    ids = [op.get("operationId") for op in ops.values()]
    assert all(ids) and len(ids) == len(set(ids))
    for name in ("session", "csrf", "apiToken", "deviceToken"):
        assert name in doc["components"]["securitySchemes"]


def test_no_yaml_slips():
    """A comma inside an unquoted flow-mapping value ({description: a, b})
    silently makes a key "b" with no value; such keys are always mistakes."""
    doc, _ = documented()
    slips = []

    def walk(node, where):
        if isinstance(node, dict):
            for key, value in node.items():
                if value is None:
                    slips.append(where + "/" + str(key))
                walk(value, where + "/" + str(key))
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, "%s/%d" % (where, i))

    walk(doc, "")
    assert not slips, "keys without a value in docs/api.yaml (quote the text before them): %s" % slips


def test_path_parameters_are_declared():
    doc, ops = documented()
    for (method, path), op in ops.items():
        wanted = set(re.findall(r"\{(\w+)\}", path))
        params = list(doc["paths"][path].get("parameters", [])) + list(op.get("parameters", []))
        declared = set()
        for p in params:
            if "$ref" in p:
                p = doc["components"]["parameters"][p["$ref"].rsplit("/", 1)[1]]
            if p["in"] == "path":
                declared.add(p["name"])
        assert declared == wanted, (method, path, declared, wanted)


def test_policy_extensions_match_the_route_table():
    routes = route_table()
    _, ops = documented()
    auth_names = {"AUTH_NONE": "none", "AUTH_USER": "user", "AUTH_DEVICE": "device"}
    role_names = {"ROLE_ADMIN": "admin", "ROLE_EDITOR": "editor", "ROLE_OPERATOR": "operator",
                  "ROLE_SUPPORT": "support"}
    for key, rt in routes.items():
        if key not in ops:
            continue  # reported by test_every_route_is_documented_and_nothing_else
        op = ops[key]
        where = "%s %s" % key
        assert op.get("x-vitrine-auth") == auth_names[rt["auth"]], where
        assert op.get("x-vitrine-body-limit") == rt["body_limit"], where
        if rt["auth"] == "AUTH_NONE":
            assert op.get("security") == [], where + ": public routes declare security: []"
            continue
        assert set(op.get("x-vitrine-roles", [])) == {role_names[r] for r in rt["roles"]}, where
        schemes = [sorted(req) for req in op.get("security", [])]
        if rt["auth"] == "AUTH_DEVICE":
            if key[1].startswith("/ddi/"):  # hawkBit DDI: the device token, also as hawkBit's TargetToken
                assert schemes == [["targetToken"], ["deviceToken"]], where + ": DDI routes take the device token"
            else:
                assert schemes == [["deviceToken"]], where + ": device routes take only the device token"
            assert "401" in op["responses"], where
            if rt["body_limit"]:
                assert "413" in op["responses"], where
            continue
        assert bool(op.get("x-vitrine-password-change-allowed")) == ("ROUTE_PW_CHANGE" in rt["flags"]), where
        assert bool(op.get("x-vitrine-skip-allowlist")) == ("ROUTE_ANY_ORIGIN" in rt["flags"]), where
        assert ["apiToken"] in schemes, where
        # cookie writes need the CSRF header; reads do not
        want_session = ["csrf", "session"] if key[0] not in ("GET", "HEAD") else ["session"]
        assert want_session in schemes, where
        assert "401" in op["responses"] and "403" in op["responses"], where
        if rt["body_limit"]:
            assert "413" in op["responses"], where + ": a route that takes a body can answer 413"
