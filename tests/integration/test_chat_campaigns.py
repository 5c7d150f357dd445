"""Live chat proactive invitations (issue 11), the widget's side end to
end: what it is given (only enabled campaigns whose department has an
operator online, Origin checked) and the outcomes counted once per visitor.
The admin's rules and every refusal are in test_chat_campaigns_checks.py."""
from test_chat import SITE_ORIGIN, Visitor, make_department, make_site, online, operator_client


def shop(server, admin):
    site = make_site(admin)["site"]
    op = operator_client(server, admin, "ann", "Ann")
    dep = make_department(admin, site["id"], [op])
    return site, op, dep


def campaign(site, dep, **extra):
    return dict(dict(name="Pricing help", site_id=site["id"], department_id=dep["id"], url_pattern="/pricing*",
                     seconds_on_page=20, message="Questions about prices? <b>Ask us</b>"), **extra)


def test_widget_gets_live_campaigns_and_outcomes_count_once(server, admin):
    site, op, dep = shop(server, admin)
    on = admin.post("/api/v1/chat/campaigns", json=campaign(site, dep)).json()["campaign"]
    admin.post("/api/v1/chat/campaigns", json=campaign(site, dep, name="Off", enabled=False))
    v = Visitor(server, site["id"])
    # nobody online: no invitation
    assert v.c.s.get(server.url + "/api/v1/widget/%s/campaigns" % site["id"], headers=v.headers(),
                     timeout=10).json()["campaigns"] == []
    online(op)
    r = v.c.s.get(server.url + "/api/v1/widget/%s/campaigns" % site["id"], headers=v.headers(), timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["campaigns"] == [{"id": on["id"], "department_id": dep["id"], "url_pattern": "/pricing*",
                                      "seconds_on_page": 20, "message": on["message"]}]
    assert r.headers["Access-Control-Allow-Origin"] == SITE_ORIGIN
    # another origin, or no token
    r = v.c.s.get(server.url + "/api/v1/widget/%s/campaigns" % site["id"],
                  headers=dict(v.headers(), Origin="http://evil.example"), timeout=10)
    assert r.status_code == 403 and r.json()["error"]["code"] == "origin_not_allowed"
    r = v.c.s.get(server.url + "/api/v1/widget/%s/campaigns" % site["id"], headers=v.headers(token=False), timeout=10)
    assert r.status_code == 401
    # outcomes: each once per visitor, replays do not count
    for outcome in ("shown", "shown", "accepted", "accepted"):
        assert v.post("/campaigns/%s/%s" % (on["id"], outcome), json={}).status_code == 204
    v2 = Visitor(server, site["id"], browser_id="b" * 32)
    assert v2.post("/campaigns/%s/shown" % on["id"], json={}).status_code == 204
    assert v2.post("/campaigns/%s/declined" % on["id"], json={}).status_code == 204
    assert v.post("/campaigns/%s/liked" % on["id"], json={}).status_code == 404
    assert v.post("/campaigns/%s/shown" % ("A" * 22), json={}).status_code == 404
    c = admin.get("/api/v1/chat/campaigns").json()["campaigns"]
    counts = {x["name"]: (x["shown"], x["accepted"], x["declined"]) for x in c}
    assert counts == {"Pricing help": (2, 1, 1), "Off": (0, 0, 0)}
