"""Live chat reports and search (issue 11): counts, waiting and handling
times by day, department and operator, the CSV export (safe to open in a
spreadsheet), and the search of chats by what was written, the visitor's
name or page. The times are set in the database by the test so that the
figures are exact; everything else goes through the API."""
import csv
import io

from test_chat import Visitor, make_department, make_site, online, operator_client

DAY = 86400
T0 = 1_780_000_000 - (1_780_000_000 % DAY) + 10 * 3600  # 10:00 UTC on some day


def set_times(server, chat_id, created, assigned=None, ended=None):
    server.sql("UPDATE chat_chats SET created_at = ?, ended_at = CASE WHEN ended_at > 0 THEN ? ELSE 0 END "
               "WHERE id = ?", (created, ended or 0, chat_id))
    if assigned is not None:
        server.sql("UPDATE chat_events SET at = ? WHERE chat_id = ? AND type = 'assigned'", (assigned, chat_id))


def build(server, admin):
    site = make_site(admin)["site"]
    ann = operator_client(server, admin, "ann", "Ann")
    bob = operator_client(server, admin, "bob", "Bob")
    sales = make_department(admin, site["id"], [ann], name="Sales")
    support = make_department(admin, site["id"], [bob], name="=HYPERLINK(\"x\")")
    online(ann)
    online(bob)
    v = Visitor(server, site["id"], page_url="http://shop/orders/777")

    def chat(dep, text, op=None, end=True, name="Vera"):
        c = v.start_chat(dep["id"], text, name=name)
        if op:
            assert op.post("/api/v1/chat/chats/%s/pickup" % c["id"], json={}).status_code == 200
            assert op.post("/api/v1/chat/chats/%s/messages" % c["id"], json={"text": "On it"}).status_code == 201
        if end:
            assert v.post("/chats/%s/end" % c["id"], json={}).status_code == 200
        return c["id"]

    a = chat(sales, "Where is my order 12345?", ann)
    set_times(server, a, T0, T0 + 30, T0 + 330)
    b = chat(sales, "hello? 100% lost", name="Walter")
    set_times(server, b, T0 + 60, None, T0 + 120)
    c = chat(support, "Broken screen", bob)
    set_times(server, c, T0 + DAY, T0 + DAY + 90, T0 + DAY + 690)
    d = chat(support, "Still waiting", end=False)
    set_times(server, d, T0 + DAY + 100)
    return dict(a=a, b=b, c=c, d=d, ann=ann, sales=sales, support=support)


def test_reports_by_department_day_operator_and_csv(server, admin):
    w = build(server, admin)
    q = {"from": T0 - 3600, "to": T0 + 2 * DAY}
    r = admin.get("/api/v1/chat/reports", params=dict(q, by="department"))
    assert r.status_code == 200, r.text
    rows = {row["label"]: row for row in r.json()["rows"]}
    s = rows["Sales"]
    assert (s["chats"], s["answered"], s["missed"], s["avg_wait_s"], s["avg_handle_s"]) == (2, 1, 1, 30, 300)
    assert s["messages"] == 3  # the visitor's two first messages, Ann's answer
    p = rows['=HYPERLINK("x")']
    assert (p["chats"], p["answered"], p["missed"], p["avg_wait_s"], p["avg_handle_s"]) == (2, 1, 0, 90, 600)
    t = r.json()["total"]
    assert (t["chats"], t["answered"], t["missed"], t["avg_wait_s"], t["p90_wait_s"], t["max_wait_s"],
            t["avg_handle_s"]) == (4, 2, 1, 60, 90, 90, 450)
    # by day, at a visitor's UTC offset that moves nothing across midnight
    r = admin.get("/api/v1/chat/reports", params=dict(q, by="day", tz_offset_min=60))
    days = [(row["key"], row["chats"]) for row in r.json()["rows"]]
    assert [n for _, n in days] == [2, 2] and days[0][0] < days[1][0]
    # by operator: the one who had the chat last; the missed and the waiting have none
    r = admin.get("/api/v1/chat/reports", params=dict(q, by="operator"))
    ops = {row["label"]: row["chats"] for row in r.json()["rows"]}
    assert ops == {"Ann": 1, "Bob": 1, "(no operator)": 2}
    # the period counts: only the first day
    r = admin.get("/api/v1/chat/reports", params={"from": T0 - 3600, "to": T0 + DAY - 3600})
    assert r.json()["total"]["chats"] == 2
    # CSV: a header, a row per group, the total; a field that looks like a formula is defused
    r = admin.get("/api/v1/chat/reports", params=dict(q, by="department", format="csv"))
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in r.headers["Content-Disposition"]
    table = list(csv.reader(io.StringIO(r.text)))
    assert table[0] == ["department", "chats", "answered", "missed", "avg_wait_s", "p90_wait_s", "max_wait_s",
                        "avg_handle_s", "messages"]
    assert ["'=HYPERLINK(\"x\")", "2", "1", "0", "90", "90", "90", "600", "3"] in table
    assert table[-1][:4] == ["Total", "4", "2", "1"]
    # bad parameters, and operators do not see reports
    for bad in [{"by": "week"}, {"from": "yesterday"}, {"from": T0, "to": T0}, {"from": 0, "to": 400 * DAY},
                {"tz_offset_min": 900}, {"format": "xml"}]:
        r = admin.get("/api/v1/chat/reports", params=bad)
        assert r.status_code == 400, (bad, r.text)
    assert w["ann"].get("/api/v1/chat/reports").status_code == 403


def test_search_by_text_name_and_page(server, admin):
    w = build(server, admin)
    r = admin.get("/api/v1/chat/search", params={"q": "12345"})
    assert r.status_code == 200, r.text
    hits = r.json()["chats"]
    assert [c["id"] for c in hits] == [w["a"]] and hits[0]["match"] == "Where is my order 12345?"
    assert {c["id"] for c in admin.get("/api/v1/chat/search", params={"q": "walter"}).json()["chats"]} == {w["b"]}
    by_page = admin.get("/api/v1/chat/search", params={"q": "orders/777"}).json()["chats"]
    assert len(by_page) == 4 and by_page[0]["id"] == w["d"]  # newest first
    # LIKE's wildcards are searched as text
    assert [c["id"] for c in admin.get("/api/v1/chat/search", params={"q": "100%"}).json()["chats"]] == [w["b"]]
    assert admin.get("/api/v1/chat/search", params={"q": "_"}).status_code == 400
    assert admin.get("/api/v1/chat/search", params={"q": "x" * 201}).status_code == 400
    assert admin.get("/api/v1/chat/search", params={"q": "nothing like it"}).json()["chats"] == []
    assert w["ann"].get("/api/v1/chat/search", params={"q": "12345"}).status_code == 403
