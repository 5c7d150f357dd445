"""Live chat proactive invitations (issue 11): the campaigns an admin sets,
what the widget is given (only enabled campaigns whose department has an
operator online, Origin checked), and the outcomes counted once per
visitor."""
from test_chat import SITE_ORIGIN, Visitor, make_department, make_site, online, operator_client
from test_remote import other_account_admin


def shop(server, admin):
    site = make_site(admin)["site"]
    op = operator_client(server, admin, "ann", "Ann")
    dep = make_department(admin, site["id"], [op])
    return site, op, dep


def campaign(site, dep, **extra):
    return dict(dict(name="Pricing help", site_id=site["id"], department_id=dep["id"], url_pattern="/pricing*",
                     seconds_on_page=20, message="Questions about prices? <b>Ask us</b>"), **extra)


def test_campaign_crud_and_checks(server, admin):
    site, op, dep = shop(server, admin)
    r = admin.post("/api/v1/chat/campaigns", json=campaign(site, dep))
    assert r.status_code == 201, r.text
    c = r.json()["campaign"]
    assert c["message"] == "Questions about prices? <b>Ask us</b>" and c["enabled"] is True
    assert (c["shown"], c["accepted"], c["declined"]) == (0, 0, 0)
    other_site = make_site(admin, domains=("shop2.example",))["site"]
    bad = [({"name": ""}, "name"), ({"message": "x" * 501}, "message"), ({"url_pattern": "pricing"}, "url_pattern"),
           ({"url_pattern": "/a b"}, "url_pattern"), ({"seconds_on_page": -1}, "seconds_on_page"),
           ({"seconds_on_page": 3601}, "seconds_on_page"), ({"seconds_on_page": "5"}, "seconds_on_page"),
           ({"enabled": "yes"}, "enabled"), ({"site_id": "A" * 22}, "site_id"),
           ({"site_id": other_site["id"]}, "department_id")]  # the department is not on that site
    for body, words in bad:
        r = admin.post("/api/v1/chat/campaigns", json=campaign(site, dep, **body))
        assert r.status_code == 400 and words in r.json()["error"]["message"], (body, r.text)
    r = admin.patch("/api/v1/chat/campaigns/" + c["id"], json={"seconds_on_page": 5, "enabled": False})
    assert r.status_code == 200 and r.json()["campaign"]["seconds_on_page"] == 5
    assert r.json()["campaign"]["enabled"] is False and r.json()["campaign"]["name"] == "Pricing help"
    # operators read, do not write; another account sees none of it
    assert [x["id"] for x in op.get("/api/v1/chat/campaigns").json()["campaigns"]] == [c["id"]]
    assert op.post("/api/v1/chat/campaigns", json=campaign(site, dep)).status_code == 403
    other = other_account_admin(server)
    assert other.get("/api/v1/chat/campaigns").json()["campaigns"] == []
    assert other.patch("/api/v1/chat/campaigns/" + c["id"], json={"name": "x"}).status_code == 404
    assert other.delete("/api/v1/chat/campaigns/" + c["id"]).status_code == 404
    assert admin.delete("/api/v1/chat/campaigns/" + c["id"]).status_code == 204
    assert admin.delete("/api/v1/chat/campaigns/" + c["id"]).status_code == 404


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
