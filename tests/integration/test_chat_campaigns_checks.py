"""Live chat, proactive invitations (campaigns, issue 11): the admin's rules
(a site, a department of it, a glob on the page's path and query, seconds on
the page, the invitation text), what the widget reads of them, and the
shown / accepted / declined counters, each counted once per visitor. Each
test runs a real vitrine-server; the site's origin is a loopback address that
need not listen."""
import pytest

from test_remote import other_account_admin
from test_chat import OTHER_ORIGIN, SITE_ORIGIN, Visitor, make_department, make_site, online, operator_client

EVIL = "<img src=x onerror=alert(1)>Need <b>help</b>?"


def campaign(site_id, department_id, **extra):
    body = {"name": "Pricing", "site_id": site_id, "department_id": department_id, "url_pattern": "/pricing*",
            "seconds_on_page": 20, "message": "Questions about our prices?", "enabled": True}
    body.update(extra)
    return body


def widget_get(v, path, origin=None, token=True):
    headers = v.headers(token)
    if origin:
        headers["Origin"] = origin
    return v.c.s.get(v.server.url + "/api/v1/widget/%s%s" % (v.site, path), headers=headers, timeout=30)


@pytest.fixture
def setup(server, admin):
    """A site, two departments (Sales with an online operator, Support with
    an operator who is offline) and a visitor of the site."""
    site = make_site(admin)["site"]
    ann = operator_client(server, admin, "ann", "Ann")
    bob = operator_client(server, admin, "bob", "Bob")
    sales = make_department(admin, site["id"], [ann], name="Sales")
    support = make_department(admin, site["id"], [bob], name="Support")
    online(ann)
    return dict(server=server, admin=admin, site=site, ann=ann, bob=bob, sales=sales, support=support)


def test_campaigns_crud_and_every_bad_field(setup):
    admin, ann, site, sales = setup["admin"], setup["ann"], setup["site"], setup["sales"]
    r = admin.post("/api/v1/chat/campaigns", json=campaign(site["id"], sales["id"]))
    assert r.status_code == 201, r.text
    c = r.json()["campaign"]
    assert c["name"] == "Pricing" and c["url_pattern"] == "/pricing*" and c["seconds_on_page"] == 20
    assert c["enabled"] is True and c["site_id"] == site["id"] and c["department_id"] == sales["id"]
    assert (c["shown"], c["accepted"], c["declined"]) == (0, 0, 0)
    # enabled defaults to true
    body = campaign(site["id"], sales["id"], name="Home", url_pattern="/")
    del body["enabled"]
    r = admin.post("/api/v1/chat/campaigns", json=body)
    assert r.status_code == 201 and r.json()["campaign"]["enabled"] is True, r.text
    home = r.json()["campaign"]

    # a department of another site of the account is not one of this site's
    other_site = make_site(admin, domains=("127.0.0.1:18124",))["site"]
    elsewhere = make_department(admin, other_site["id"], name="Elsewhere")
    good = campaign(site["id"], sales["id"])
    bad = [
        (dict(good, name=""), "name"),
        (dict(good, name="x" * 201), "name"),
        (dict(good, name="a\nb"), "name"),
        (dict(good, name=42), "name"),
        ({k: v for k, v in good.items() if k != "name"}, "name"),
        (dict(good, site_id="nope"), "site_id"),
        (dict(good, site_id=None), "site_id"),
        (dict(good, department_id="nope"), "department_id"),
        (dict(good, department_id=elsewhere["id"]), "department_id"),
        ({k: v for k, v in good.items() if k != "department_id"}, "department_id"),
        (dict(good, url_pattern=""), "url_pattern"),
        (dict(good, url_pattern="/" + "x" * 500), "url_pattern"),
        (dict(good, url_pattern="/pricing\u00e9"), "url_pattern"),
        (dict(good, url_pattern="/a\tb"), "url_pattern"),
        (dict(good, url_pattern=["/x"]), "url_pattern"),
        (dict(good, seconds_on_page=-1), "seconds_on_page"),
        (dict(good, seconds_on_page=3601), "seconds_on_page"),
        (dict(good, seconds_on_page=2.5), "seconds_on_page"),
        (dict(good, seconds_on_page="5"), "seconds_on_page"),
        (dict(good, seconds_on_page=True), "seconds_on_page"),
        (dict(good, message=""), "message"),
        (dict(good, message="x" * 501), "message"),
        (dict(good, message="a\u0001b"), "message"),
        (dict(good, enabled="yes"), "enabled"),
        (dict(good, enabled=1), "enabled"),
    ]
    for body, field in bad:
        r = admin.post("/api/v1/chat/campaigns", json=body)
        assert r.status_code == 400, (body, r.text)
        assert r.json()["error"]["code"] == "invalid_field", r.text
        assert field in r.json()["error"]["message"], (field, r.text)
    # limits that are allowed
    r = admin.post("/api/v1/chat/campaigns",
                   json=dict(good, name="n" * 200, url_pattern="/" + "x" * 499, seconds_on_page=3600,
                             message="\u00e9" * 500, enabled=False))
    assert r.status_code == 201, r.text
    edge = r.json()["campaign"]
    assert edge["seconds_on_page"] == 3600 and edge["enabled"] is False

    # the operator reads them but may not change them
    listed = ann.get("/api/v1/chat/campaigns")
    assert listed.status_code == 200, listed.text
    assert sorted(x["id"] for x in listed.json()["campaigns"]) == sorted([c["id"], home["id"], edge["id"]])
    assert ann.post("/api/v1/chat/campaigns", json=good).status_code == 403
    assert ann.patch("/api/v1/chat/campaigns/" + c["id"], json={"name": "x"}).status_code == 403
    assert ann.delete("/api/v1/chat/campaigns/" + c["id"]).status_code == 403

    # update: each field optional, checked the same way
    r = admin.patch("/api/v1/chat/campaigns/" + c["id"],
                    json={"name": "Prices", "seconds_on_page": 0, "enabled": False})
    assert r.status_code == 200, r.text
    c2 = r.json()["campaign"]
    assert (c2["name"], c2["seconds_on_page"], c2["enabled"]) == ("Prices", 0, False)
    assert c2["url_pattern"] == "/pricing*" and c2["message"] == "Questions about our prices?"
    for body, field in [({"name": ""}, "name"), ({"url_pattern": ""}, "url_pattern"),
                        ({"seconds_on_page": 4000}, "seconds_on_page"), ({"message": None}, "message"),
                        ({"enabled": "no"}, "enabled"), ({"department_id": elsewhere["id"]}, "department_id"),
                        ({"site_id": other_site["id"]}, "department_id"), ({"site_id": "nope"}, "site_id")]:
        r = admin.patch("/api/v1/chat/campaigns/" + c["id"], json=body)
        assert r.status_code == 400, (body, r.text)
        assert field in r.json()["error"]["message"], (field, r.text)
    # moving it to the other site with that site's department
    r = admin.patch("/api/v1/chat/campaigns/" + c["id"],
                    json={"site_id": other_site["id"], "department_id": elsewhere["id"]})
    assert r.status_code == 200, r.text
    assert r.json()["campaign"]["site_id"] == other_site["id"]
    # unknown ids
    assert admin.patch("/api/v1/chat/campaigns/nope", json={"name": "x"}).status_code == 404
    assert admin.patch("/api/v1/chat/campaigns/" + "A" * 22, json={"name": "x"}).status_code == 404
    assert admin.delete("/api/v1/chat/campaigns/" + "A" * 22).status_code == 404
    # remove
    assert admin.delete("/api/v1/chat/campaigns/" + c["id"]).status_code == 204
    assert admin.delete("/api/v1/chat/campaigns/" + c["id"]).status_code == 404
    assert c["id"] not in [x["id"] for x in admin.get("/api/v1/chat/campaigns").json()["campaigns"]]

    # audited
    actions = [e["action"] for e in admin.get("/api/v1/audit", params={"limit": 200}).json()["entries"]]
    for a in ("chat.campaign_created", "chat.campaign_updated", "chat.campaign_deleted"):
        assert a in actions, actions


def test_html_is_stored_and_returned_as_text(setup):
    admin, site, sales = setup["admin"], setup["site"], setup["sales"]
    r = admin.post("/api/v1/chat/campaigns", json=campaign(site["id"], sales["id"], name="<b>Bold</b> & co",
                                                           message=EVIL, url_pattern="/<script>*"))
    assert r.status_code == 201, r.text
    c = r.json()["campaign"]
    assert c["name"] == "<b>Bold</b> & co" and c["message"] == EVIL and c["url_pattern"] == "/<script>*"
    v = Visitor(setup["server"], site["id"])
    listed = widget_get(v, "/campaigns").json()["campaigns"]
    assert [x["message"] for x in listed] == [EVIL]
    assert admin.get("/api/v1/chat/campaigns").json()["campaigns"][0]["name"] == "<b>Bold</b> & co"


def test_another_accounts_campaigns_are_not_seen(setup):
    server, admin, site, sales = setup["server"], setup["admin"], setup["site"], setup["sales"]
    c = admin.post("/api/v1/chat/campaigns", json=campaign(site["id"], sales["id"])).json()["campaign"]
    other = other_account_admin(server)
    assert other.get("/api/v1/chat/campaigns").json()["campaigns"] == []
    assert other.patch("/api/v1/chat/campaigns/" + c["id"], json={"name": "Mine"}).status_code == 404
    assert other.delete("/api/v1/chat/campaigns/" + c["id"]).status_code == 404
    # nor may it use this account's site or department
    r = other.post("/api/v1/chat/campaigns", json=campaign(site["id"], sales["id"]))
    assert r.status_code == 400 and "site_id" in r.json()["error"]["message"], r.text
    assert admin.get("/api/v1/chat/campaigns").json()["campaigns"][0]["name"] == "Pricing"


def test_at_most_100_campaigns_per_account(setup):
    admin, site, sales = setup["admin"], setup["site"], setup["sales"]
    for i in range(100):
        r = admin.post("/api/v1/chat/campaigns", json=campaign(site["id"], sales["id"], name="C%03d" % i))
        assert r.status_code == 201, r.text
    r = admin.post("/api/v1/chat/campaigns", json=campaign(site["id"], sales["id"], name="One too many"))
    assert r.status_code == 409 and r.json()["error"]["code"] == "too_many", r.text
    assert len(admin.get("/api/v1/chat/campaigns").json()["campaigns"]) == 100


def test_widget_lists_enabled_campaigns_with_an_operator_online(setup):
    server, admin, site, sales, support = (setup[k] for k in ("server", "admin", "site", "sales", "support"))
    on = admin.post("/api/v1/chat/campaigns", json=campaign(site["id"], sales["id"], seconds_on_page=5)).json()
    off = admin.post("/api/v1/chat/campaigns",
                     json=campaign(site["id"], sales["id"], name="Off", enabled=False)).json()
    nobody = admin.post("/api/v1/chat/campaigns", json=campaign(site["id"], support["id"], name="Support")).json()
    other_site = make_site(admin, domains=("127.0.0.1:18124",))["site"]
    other_dep = make_department(admin, other_site["id"], [setup["ann"]], name="Other")
    admin.post("/api/v1/chat/campaigns", json=campaign(other_site["id"], other_dep["id"], name="Other site"))

    v = Visitor(server, site["id"])
    r = widget_get(v, "/campaigns")
    assert r.status_code == 200, r.text
    assert r.headers["Access-Control-Allow-Origin"] == SITE_ORIGIN
    listed = r.json()["campaigns"]
    assert listed == [{"id": on["campaign"]["id"], "url_pattern": "/pricing*", "seconds_on_page": 5,
                       "message": "Questions about our prices?", "department_id": sales["id"]}]
    assert off["campaign"]["id"] and nobody["campaign"]["id"]

    # Support's operator comes online: its campaign shows too; Sales' goes away
    online(setup["bob"])
    ids = {x["id"] for x in widget_get(v, "/campaigns").json()["campaigns"]}
    assert ids == {on["campaign"]["id"], nobody["campaign"]["id"]}
    online(setup["ann"], "away")
    ids = {x["id"] for x in widget_get(v, "/campaigns").json()["campaigns"]}
    assert ids == {nobody["campaign"]["id"]}
    # enabling one changes the list
    admin.patch("/api/v1/chat/campaigns/" + off["campaign"]["id"], json={"department_id": support["id"],
                                                                         "enabled": True})
    ids = {x["id"] for x in widget_get(v, "/campaigns").json()["campaigns"]}
    assert ids == {nobody["campaign"]["id"], off["campaign"]["id"]}
    # a department no longer on the site: its campaigns are not offered
    r = admin.patch("/api/v1/chat/departments/" + support["id"], json={"site_ids": [other_site["id"]]})
    assert r.status_code == 200, r.text
    assert widget_get(v, "/campaigns").json()["campaigns"] == []


def test_widget_campaigns_need_the_origin_and_the_token(setup):
    server, admin, site, sales = setup["server"], setup["admin"], setup["site"], setup["sales"]
    c = admin.post("/api/v1/chat/campaigns", json=campaign(site["id"], sales["id"])).json()["campaign"]
    v = Visitor(server, site["id"])
    r = widget_get(v, "/campaigns", origin=OTHER_ORIGIN)
    assert r.status_code == 403 and r.json()["error"]["code"] == "origin_not_allowed"
    assert "Access-Control-Allow-Origin" not in r.headers
    r = v.c.s.get(server.url + "/api/v1/widget/%s/campaigns" % site["id"],
                  headers={"Authorization": "Bearer " + v.token}, timeout=30)
    assert r.status_code == 403 and r.json()["error"]["code"] == "origin_not_allowed"
    r = widget_get(v, "/campaigns", token=False)
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"
    for outcome in ("shown", "accepted", "declined"):
        path = "/campaigns/%s/%s" % (c["id"], outcome)
        r = v.post(path, headers={"Origin": OTHER_ORIGIN})
        assert r.status_code == 403 and r.json()["error"]["code"] == "origin_not_allowed"
        assert v.post(path, token=False).status_code == 401
        # the preflight
        r = v.c.s.options(server.url + "/api/v1/widget/%s%s" % (site["id"], path),
                          headers={"Origin": SITE_ORIGIN, "Access-Control-Request-Method": "POST"}, timeout=30)
        assert r.status_code == 204 and r.headers["Access-Control-Allow-Origin"] == SITE_ORIGIN
        assert "POST" in r.headers["Access-Control-Allow-Methods"]
        r = v.c.s.options(server.url + "/api/v1/widget/%s%s" % (site["id"], path),
                          headers={"Origin": OTHER_ORIGIN}, timeout=30)
        assert r.status_code == 403
    r = v.c.s.options(server.url + "/api/v1/widget/%s/campaigns" % site["id"], headers={"Origin": SITE_ORIGIN},
                      timeout=30)
    assert r.status_code == 204 and "Authorization" in r.headers["Access-Control-Allow-Headers"]
    # a campaign of another site, or none
    other_site = make_site(admin, domains=("127.0.0.1:18124",))["site"]
    other_dep = make_department(admin, other_site["id"], name="Other")
    theirs = admin.post("/api/v1/chat/campaigns",
                        json=campaign(other_site["id"], other_dep["id"])).json()["campaign"]
    assert v.post("/campaigns/%s/shown" % theirs["id"]).status_code == 404
    assert v.post("/campaigns/%s/shown" % ("A" * 22)).status_code == 404
    assert v.post("/campaigns/nope/shown").status_code == 404
    counts = {x["id"]: x for x in admin.get("/api/v1/chat/campaigns").json()["campaigns"]}
    assert counts[theirs["id"]]["shown"] == 0 and counts[c["id"]]["shown"] == 0


def test_outcomes_count_once_per_visitor(setup):
    server, admin, site, sales = setup["server"], setup["admin"], setup["site"], setup["sales"]
    c = admin.post("/api/v1/chat/campaigns", json=campaign(site["id"], sales["id"])).json()["campaign"]
    other = admin.post("/api/v1/chat/campaigns", json=campaign(site["id"], sales["id"], name="Other")).json()
    v1, v2 = Visitor(server, site["id"]), Visitor(server, site["id"])
    for _ in range(3):  # replays count nothing
        r = v1.post("/campaigns/%s/shown" % c["id"], data=b"ignored")
        assert r.status_code == 204, r.text
        assert r.headers["Access-Control-Allow-Origin"] == SITE_ORIGIN
        assert v1.post("/campaigns/%s/accepted" % c["id"], json={"any": "thing"}).status_code == 204
    assert v2.post("/campaigns/%s/shown" % c["id"]).status_code == 204
    assert v2.post("/campaigns/%s/declined" % c["id"]).status_code == 204
    assert v2.post("/campaigns/%s/declined" % c["id"]).status_code == 204
    # a visitor found again by its browser id is the same visitor
    again = Visitor(server, site["id"], browser_id="b" * 20)
    same = Visitor(server, site["id"], browser_id="b" * 20)
    assert again.id == same.id
    assert again.post("/campaigns/%s/shown" % c["id"]).status_code == 204
    assert same.post("/campaigns/%s/shown" % c["id"]).status_code == 204
    counts = {x["id"]: x for x in admin.get("/api/v1/chat/campaigns").json()["campaigns"]}
    assert (counts[c["id"]]["shown"], counts[c["id"]]["accepted"], counts[c["id"]]["declined"]) == (3, 1, 1)
    o = counts[other["campaign"]["id"]]
    assert (o["shown"], o["accepted"], o["declined"]) == (0, 0, 0)
    # the operator sees the counters too
    listed = {x["id"]: x for x in setup["ann"].get("/api/v1/chat/campaigns").json()["campaigns"]}
    assert listed[c["id"]]["shown"] == 3
    # counters survive an edit
    r = admin.patch("/api/v1/chat/campaigns/" + c["id"], json={"message": "Still here?"})
    assert (r.json()["campaign"]["shown"], r.json()["campaign"]["declined"]) == (3, 1)
