"""Live chat retention: the server forgets chats ended more than
chat_retention_days ago (messages and events with them), visitors not seen
for as long who have no chat left, bans expired as long ago, and operators'
stream events after two days; open chats, recent chats and their visitors
stay, whatever their age."""
import time

from conftest import wait_for
from test_chat import Visitor, make_department, make_site, online, operator_client

DAY = 86400


def test_old_ended_chats_visitors_bans_and_operator_events_are_forgotten(make_server):
    server = make_server(env={"VITRINE_CHAT_RETENTION_DAYS": "30", "VITRINE_RETENTION_CHECK_SECONDS": "1"}).start()
    admin = server.client()
    assert admin.login().status_code == 200
    site = make_site(admin)["site"]
    op = operator_client(server, admin, "op1")
    dep = make_department(admin, site["id"], [op])
    online(op)
    old, recent, still_open, lone = (Visitor(server, site["id"]) for _ in range(4))
    chats = {}
    for name, v in (("old", old), ("recent", recent), ("open", still_open)):
        chats[name] = v.start_chat(dep["id"], text="from " + name)["id"]
        if name != "open":
            assert v.post("/chats/%s/end" % chats[name]).status_code == 200
    ban = admin.post("/api/v1/chat/bans", json={"ip": "192.0.2.7", "expires_at": int(time.time()) + 60})
    assert ban.status_code == 201, ban.text
    now = int(time.time())
    server.sql("UPDATE chat_chats SET created_at = ?, ended_at = ? WHERE id = ?",
               (now - 40 * DAY, now - 40 * DAY, chats["old"]))
    server.sql("UPDATE chat_chats SET created_at = ? WHERE id = ?", (now - 40 * DAY, chats["open"]))
    server.sql("UPDATE chat_visitors SET last_seen = ? WHERE id IN (?, ?, ?)",
               (now - 40 * DAY, old.id, lone.id, still_open.id))
    server.sql("UPDATE chat_bans SET expires_at = ? WHERE id = ?", (now - 40 * DAY, ban.json()["ban"]["id"]))
    server.sql("UPDATE chat_operator_events SET at = ?", (now - 3 * DAY,))

    def count(sql, *args):
        return int(server.sql(sql, args)[0][0])

    def forgotten():
        return (count("SELECT COUNT(*) FROM chat_chats WHERE id = ?", chats["old"]) == 0 and
                count("SELECT COUNT(*) FROM chat_visitors WHERE id IN (?, ?)", old.id, lone.id) == 0 and
                count("SELECT COUNT(*) FROM chat_bans") == 0 and
                count("SELECT COUNT(*) FROM chat_operator_events") == 0)
    wait_for(forgotten, timeout=20, what="the retention task")
    assert count("SELECT COUNT(*) FROM chat_events WHERE chat_id = ?", chats["old"]) == 0
    # what is recent or still open stays, with its visitor (even one not seen for long)
    for name in ("recent", "open"):
        assert count("SELECT COUNT(*) FROM chat_events WHERE chat_id = ?", chats[name]) >= 1
    assert count("SELECT COUNT(*) FROM chat_visitors WHERE id IN (?, ?)", recent.id, still_open.id) == 2
    listed = {c["id"] for c in admin.get("/api/v1/chat/chats").json()["chats"]}
    assert listed == {chats["recent"], chats["open"]}
