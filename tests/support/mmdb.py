"""A MaxMind DB written by a test (format: MaxMind DB File Format Spec 2.0),
for the server's geoip_database: a few networks, each with its record
(country and continent codes, names, a city's location). Used by the
integration tests (relay choice, chat visitors, screen locations) and the
map's browser test."""
import ipaddress
import struct
import time


def _mmdb_ctrl(kind, size):
    if size < 29:
        first, ext = size, b""
    elif size < 29 + 256:
        first, ext = 29, bytes([size - 29])
    elif size < 285 + 65536:
        first, ext = 30, (size - 285).to_bytes(2, "big")
    else:
        first, ext = 31, (size - 65821).to_bytes(3, "big")
    if kind <= 7:
        return bytes([(kind << 5) | first]) + ext
    return bytes([first, kind - 7]) + ext  # extended type


def _mmdb_value(v):
    """dict -> map, str -> UTF-8 string, list -> array, float -> double (location.latitude),
    ("u16"|"u32"|"u64", n) -> unsigned."""
    if isinstance(v, float):
        return _mmdb_ctrl(3, 8) + struct.pack(">d", v)
    if isinstance(v, dict):
        return _mmdb_ctrl(7, len(v)) + b"".join(_mmdb_value(str(k)) + _mmdb_value(x) for k, x in v.items())
    if isinstance(v, str):
        b = v.encode()
        return _mmdb_ctrl(2, len(b)) + b
    if isinstance(v, list):
        return _mmdb_ctrl(11, len(v)) + b"".join(_mmdb_value(x) for x in v)
    kind, n = v
    b = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return _mmdb_ctrl({"u16": 5, "u32": 6, "u64": 9}[kind], len(b)) + b


def write_mmdb(path, networks):
    """networks: [(cidr, {"country": {"iso_code"}, "continent": {"code"}, "location": {"latitude": 52.5}})],
    broader ones first (a record's values as _mmdb_value takes them). An IPv6
    database (record size 24) with IPv4 networks under ::/96, as GeoLite2 has them."""
    nodes = [[None, None]]
    data = b""
    for cidr, record in networks:
        net = ipaddress.ip_network(cidr)
        addr, plen = int(net.network_address), net.prefixlen
        if net.version == 4:
            plen += 96
        off = len(data)
        data += _mmdb_value(record)
        node = 0
        for i in range(plen):
            bit = (addr >> (127 - i)) & 1
            if i == plen - 1:
                nodes[node][bit] = ("d", off)
                break
            child = nodes[node][bit]
            if child is None or child[0] == "d":  # a new node; a broader network's data goes on below it
                nodes.append([child, child])
                nodes[node][bit] = ("n", len(nodes) - 1)
                node = len(nodes) - 1
            else:
                node = child[1]
    count = len(nodes)

    def rec(x):
        return count if x is None else x[1] if x[0] == "n" else count + 16 + x[1]

    tree = b"".join(rec(a).to_bytes(3, "big") + rec(b).to_bytes(3, "big") for a, b in nodes)
    meta = {"node_count": ("u32", count), "record_size": ("u16", 24), "ip_version": ("u16", 6),
            "database_type": "Vitrine-Test-Country", "languages": ["en"],
            "binary_format_major_version": ("u16", 2), "binary_format_minor_version": ("u16", 0),
            "build_epoch": ("u64", int(time.time())), "description": {"en": "test regions"}}
    with open(path, "wb") as f:
        f.write(tree + b"\0" * 16 + data + b"\xab\xcd\xefMaxMind.com" + _mmdb_value(meta))
