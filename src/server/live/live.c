/* The console's live stream; see live.h. */
#include "live.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../common/codes.h"
#include "../../common/strfmt.h"
#include "../audit/audit.h"
#include "../auth/auth.h"
#include "../http/server.h"
#include "../screens/screens.h"
#include "../store/db.h"

struct live_stream {
	char account_id[CODES_ID_LEN + 1];
	char credential_id[CODES_ID_LEN + 1]; /* session or API token id */
	bool via_session;
	bool admin;
	int64_t audit_cursor;
	int64_t screen_cursor;
};

static int live_pull(void *state, struct db *db, struct sse_out *out)
{
	struct live_stream *s = state;
	/* the stream ends as soon as its session or token is revoked or the
	 * session expires; a role change applies at once */
	char role[16];
	if (auth_credential_role(db, s->via_session, s->credential_id, role, sizeof role) != 1)
		return -1;
	s->admin = strcmp(role, "admin") == 0;
	size_t before = out->len;
	if (s->admin && audit_stream_pull(db, s->account_id, &s->audit_cursor, out) != 0)
		return -1;
	if (screens_stream_pull(db, s->account_id, &s->screen_cursor, out) != 0)
		return -1;
	if (out->len > before) {
		/* one id line for the whole batch: where to resume */
		char id[64];
		snprintf(id, sizeof id, "%" PRId64 ".%" PRId64, s->audit_cursor, s->screen_cursor);
		sse_append(out, "cursor", id, "{}");
	}
	return 0;
}

int live_handle_events(struct http_req *r)
{
	struct live_stream *s = calloc(1, sizeof *s);
	if (!s)
		return http_reply_error(r, 503, "unavailable", "out of memory");
	char key[WAKE_KEY_LEN];
	if (strfmt(s->account_id, sizeof s->account_id, "%s", r->auth.account_id) != 0 ||
	    strfmt(s->credential_id, sizeof s->credential_id, "%s", r->auth.session_id) != 0 ||
	    strfmt(key, sizeof key, "account:%s", r->auth.account_id) != 0) {
		free(s);
		return http_reply_error(r, 500, "internal", "an id does not fit the live stream's key");
	}
	s->via_session = r->auth.via_session;
	s->admin = (r->auth.role_bit & ROLE_ADMIN) != 0;
	const char *last = http_header(r, "Last-Event-ID");
	long long a = 0, b = 0;
	if (last && sscanf(last, "%lld.%lld", &a, &b) == 2 && a >= 0 && b >= 0) {
		s->audit_cursor = a;
		s->screen_cursor = b;
	} else {
		/* a new stream starts from now: the page loaded the lists itself */
		s->audit_cursor = audit_last_seq(r->db, r->auth.account_id);
		s->screen_cursor = screens_change_seq(r->db, r->auth.account_id);
	}
	http_stream(r, key, live_pull, s, free);
	return 0;
}
