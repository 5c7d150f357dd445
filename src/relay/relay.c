/*
 * vitrine-relay's core (see relay.h): connections ("sides"), the table of
 * seen tickets, pairing by session id, and forwarding with back-pressure.
 *
 * Each side owns a TCP handle and a timer. The timer is the side's one
 * deadline: the first frame (first_frame_timeout), then waiting for the
 * other side (pair_timeout), then inactivity of the pair (idle_timeout).
 * Forwarding hands each read buffer to a write on the other side; while
 * that side's queue holds more than queue_cap bytes, the reading side is
 * paused, so memory per session is at most about 2 * (queue_cap + one
 * read buffer) whatever the peers do.
 */
#include "relay.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/ticket.h"
#include "first_frame.h"

#define READ_CHUNK  (64 * 1024)
#define EARLY_MAX   (64 * 1024) /* bytes a waiting side may send before it is paired */
#define SEEN_MAX    (1u << 20)  /* tickets remembered at once (each lives at most 60 s) */
#define SHUTDOWN_MS 5000        /* time left to flush the other side once one has gone */

enum side_state { SIDE_FIRST_FRAME, SIDE_WAITING, SIDE_PAIRED, SIDE_CLOSING };

struct session;

struct side {
	uv_tcp_t tcp;
	uv_timer_t timer;
	struct relay *relay;
	struct session *session;
	enum ticket_role role;
	enum side_state state;
	int open_handles;
	bool reading;
	size_t queued; /* bytes written to this side and not yet sent */
	unsigned char head[FIRST_FRAME_MAX];
	size_t head_len;
	unsigned char *early; /* bytes after the first frame, before pairing */
	size_t early_len;
	struct side *prev, *next; /* every side of the relay */
};

struct session {
	char id[CODES_ID_LEN + 1];
	struct side *side[2]; /* [TICKET_GUEST], [TICKET_HOST] */
	bool paired;
	struct session *prev, *next;
};

struct seen {
	char session_id[CODES_ID_LEN + 1];
	int kind; /* TICKET_GUEST, TICKET_HOST, or SEEN_ENDED */
	unsigned char nonce[TICKET_NONCE_BYTES];
	int64_t expires_at;
};
#define SEEN_ENDED 2

struct relay {
	uv_loop_t *loop;
	uv_tcp_t listener;
	struct relay_options opt;
	struct relay_stats stats;
	struct side *sides;
	struct session *sessions;
	struct seen *seen;
	size_t seen_len, seen_cap;
	bool stopping;
};

struct forward {
	uv_write_t req;
	struct side *to;
	size_t len;
	char *data;
};

static const char *const REFUSAL_NAMES[REFUSAL_REASONS] = {
    [REFUSED_TICKET_INVALID] = "ticket_invalid",     [REFUSED_TICKET_EXPIRED] = "ticket_expired",
    [REFUSED_TICKET_REPLAYED] = "ticket_replayed",   [REFUSED_TICKET_WRONG_SESSION] = "ticket_wrong_session",
    [REFUSED_SESSION_ENDED] = "session_ended",       [REFUSED_FIRST_FRAME_TIMEOUT] = "first_frame_timeout",
    [REFUSED_CONNECTION_LIMIT] = "connection_limit",
};

const char *relay_refusal_name(enum relay_refusal why)
{
	return why < REFUSAL_REASONS ? REFUSAL_NAMES[why] : "unknown";
}

const struct relay_stats *relay_stats(const struct relay *r)
{
	return &r->stats;
}

static void side_close(struct side *s);
static void side_read_start(struct side *s);
static void on_idle_timeout(uv_timer_t *t);

/* --- the table of seen tickets ------------------------------------------ */

static void seen_prune(struct relay *r, int64_t now)
{
	size_t j = 0;
	for (size_t i = 0; i < r->seen_len; i++)
		if (r->seen[i].expires_at > now)
			r->seen[j++] = r->seen[i];
	r->seen_len = j;
}

static const struct seen *seen_find(const struct relay *r, const char *sid, int kind, const unsigned char *nonce)
{
	for (size_t i = 0; i < r->seen_len; i++) {
		const struct seen *e = &r->seen[i];
		if (e->kind == kind && strcmp(e->session_id, sid) == 0 &&
		    (!nonce || memcmp(e->nonce, nonce, TICKET_NONCE_BYTES) == 0))
			return e;
	}
	return NULL;
}

static int seen_add(struct relay *r, const char *sid, int kind, const unsigned char *nonce, int64_t expires_at)
{
	if (r->seen_len == r->seen_cap) {
		if (r->seen_cap >= SEEN_MAX)
			return -1;
		size_t cap = r->seen_cap ? r->seen_cap * 2 : 256;
		struct seen *n = realloc(r->seen, cap * sizeof *n);
		if (!n)
			return -1;
		r->seen = n;
		r->seen_cap = cap;
	}
	struct seen *e = &r->seen[r->seen_len++];
	memcpy(e->session_id, sid, CODES_ID_LEN + 1);
	e->kind = kind;
	if (nonce)
		memcpy(e->nonce, nonce, TICKET_NONCE_BYTES);
	else
		memset(e->nonce, 0, TICKET_NONCE_BYTES);
	e->expires_at = expires_at;
	return 0;
}

/* --- sessions ------------------------------------------------------------ */

static struct session *session_find(struct relay *r, const char *sid)
{
	for (struct session *s = r->sessions; s; s = s->next)
		if (strcmp(s->id, sid) == 0)
			return s;
	return NULL;
}

/* A side leaves its session; the last one out frees it. */
static void session_leave(struct side *s)
{
	struct session *sess = s->session;
	if (!sess)
		return;
	struct relay *r = s->relay;
	sess->side[s->role] = NULL;
	s->session = NULL;
	struct side *other = sess->side[!s->role];
	if (sess->paired && other) {
		side_close(other); /* one side gone: the session is over */
		return;
	}
	if (other)
		return;
	if (sess->paired) {
		r->stats.sessions_active--;
		seen_add(r, sess->id, SEEN_ENDED, NULL, (int64_t)time(NULL) + TICKET_LIFETIME_MAX);
	}
	if (sess->prev)
		sess->prev->next = sess->next;
	else
		r->sessions = sess->next;
	if (sess->next)
		sess->next->prev = sess->prev;
	free(sess);
}

/* --- closing -------------------------------------------------------------- */

static void on_handle_closed(uv_handle_t *h)
{
	struct side *s = h->data;
	if (--s->open_handles > 0)
		return;
	struct relay *r = s->relay;
	if (s->prev)
		s->prev->next = s->next;
	else
		r->sides = s->next;
	if (s->next)
		s->next->prev = s->prev;
	r->stats.connections--;
	free(s->early);
	free(s);
}

static void side_close_now(struct side *s)
{
	if (uv_is_closing((uv_handle_t *)&s->tcp))
		return;
	if (s->state == SIDE_WAITING)
		s->relay->stats.sides_waiting--;
	s->state = SIDE_CLOSING;
	uv_close((uv_handle_t *)&s->tcp, on_handle_closed);
	uv_close((uv_handle_t *)&s->timer, on_handle_closed);
	session_leave(s);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
	(void)status;
	struct side *s = req->data;
	free(req);
	side_close_now(s);
}

static void on_close_deadline(uv_timer_t *t)
{
	side_close_now(t->data);
}

/* Closes s once what is queued to it has been sent (or SHUTDOWN_MS
 * passed): a status line, or the last bytes of the other side. */
static void side_close(struct side *s)
{
	if (s->state == SIDE_CLOSING)
		return;
	if (s->state == SIDE_WAITING)
		s->relay->stats.sides_waiting--;
	s->state = SIDE_CLOSING; /* what it still sends is read and dropped, so no reset cuts the status line */
	session_leave(s);
	uv_timer_start(&s->timer, on_close_deadline, SHUTDOWN_MS, 0);
	uv_shutdown_t *req = malloc(sizeof *req);
	if (req) {
		req->data = s;
		if (uv_shutdown(req, (uv_stream_t *)&s->tcp, on_shutdown) == 0)
			return;
		free(req);
	}
	s->state = SIDE_CLOSING;
	uv_close((uv_handle_t *)&s->tcp, on_handle_closed);
	uv_close((uv_handle_t *)&s->timer, on_handle_closed);
}

/* --- writing -------------------------------------------------------------- */

static void on_written(uv_write_t *req, int status)
{
	(void)status;
	struct forward *f = (struct forward *)req;
	struct side *to = f->to;
	to->queued -= f->len;
	free(f->data);
	free(f);
	/* the other side may read again once this one has drained */
	struct side *from = to->session ? to->session->side[!to->role] : NULL;
	if (!from || from->state != SIDE_PAIRED || to->state != SIDE_PAIRED)
		return;
	/* a slow reader that drains is activity too */
	uv_timer_start(&to->timer, on_idle_timeout, to->relay->opt.idle_timeout_ms, 0);
	uv_timer_start(&from->timer, on_idle_timeout, to->relay->opt.idle_timeout_ms, 0);
	if (!from->reading && to->queued <= to->relay->opt.queue_cap / 2)
		side_read_start(from);
}

/* Queues len bytes of data (taken over: freed when written) to s. */
static int side_write(struct side *s, char *data, size_t len)
{
	struct forward *f = malloc(sizeof *f);
	if (!f) {
		free(data);
		return -1;
	}
	f->to = s;
	f->len = len;
	f->data = data;
	uv_buf_t b = uv_buf_init(data, (unsigned)len);
	if (uv_write(&f->req, (uv_stream_t *)&s->tcp, &b, 1, on_written) != 0) {
		free(data);
		free(f);
		return -1;
	}
	s->queued += len;
	return 0;
}

static int side_write_copy(struct side *s, const void *data, size_t len)
{
	char *copy = malloc(len ? len : 1);
	if (!copy)
		return -1;
	memcpy(copy, data, len);
	return side_write(s, copy, len);
}

/* Sends "error CODE" and closes s. */
static void side_refuse(struct side *s, enum relay_refusal why)
{
	char line[64];
	size_t n = first_frame_status(REFUSAL_NAMES[why], line);
	s->relay->stats.refusals[why]++;
	side_write_copy(s, line, n);
	side_close(s);
}

/* --- timers ----------------------------------------------------------------- */

static void on_first_frame_timeout(uv_timer_t *t)
{
	struct side *s = t->data;
	s->relay->stats.refusals[REFUSED_FIRST_FRAME_TIMEOUT]++;
	side_close_now(s); /* a client that says nothing gets nothing */
}

static void on_pair_timeout(uv_timer_t *t)
{
	side_refuse(t->data, REFUSED_SESSION_ENDED);
}

static void on_idle_timeout(uv_timer_t *t)
{
	struct side *s = t->data;
	struct side *other = s->session ? s->session->side[!s->role] : NULL;
	char line[64];
	size_t n = first_frame_status(REFUSAL_NAMES[REFUSED_SESSION_ENDED], line);
	s->relay->stats.refusals[REFUSED_SESSION_ENDED]++;
	side_write_copy(s, line, n); /* both told before either is shut */
	if (other)
		side_write_copy(other, line, n);
	side_close(s);
}

/* --- pairing ---------------------------------------------------------------- */

static void pair(struct session *sess)
{
	struct relay *r = sess->side[0]->relay;
	char line[64];
	size_t n = first_frame_status("", line);
	sess->paired = true;
	r->stats.sessions_active++;
	r->stats.sessions_total++;
	for (int i = 0; i < 2; i++) {
		struct side *s = sess->side[i];
		r->stats.sides_waiting--;
		s->state = SIDE_PAIRED;
		side_write_copy(s, line, n);
		uv_timer_start(&s->timer, on_idle_timeout, r->opt.idle_timeout_ms, 0);
	}
	for (int i = 0; i < 2; i++) {
		struct side *s = sess->side[i], *other = sess->side[!i];
		if (s->early_len) {
			if (i == TICKET_GUEST)
				r->stats.bytes_guest_to_host += s->early_len;
			else
				r->stats.bytes_host_to_guest += s->early_len;
			side_write(other, (char *)s->early, s->early_len);
			s->early = NULL;
			s->early_len = 0;
		}
	}
	for (int i = 0; i < 2; i++)
		if (!sess->side[i]->reading)
			side_read_start(sess->side[i]);
}

/* The first frame of s is complete: verify, remember, pair or wait. */
static void side_admit(struct side *s, const char *text, size_t len)
{
	struct relay *r = s->relay;
	struct ticket t;
	int64_t now = (int64_t)time(NULL);
	enum ticket_result tr = ticket_verify(text, len, r->opt.server_pk, now, &t);
	if (tr != TICKET_OK) {
		side_refuse(s, tr == TICKET_EXPIRED ? REFUSED_TICKET_EXPIRED : REFUSED_TICKET_INVALID);
		return;
	}
	seen_prune(r, now);
	if (seen_find(r, t.session_id, (int)t.role, t.nonce)) {
		side_refuse(s, REFUSED_TICKET_REPLAYED);
		return;
	}
	if (seen_find(r, t.session_id, SEEN_ENDED, NULL)) {
		side_refuse(s, REFUSED_SESSION_ENDED);
		return;
	}
	struct session *sess = session_find(r, t.session_id);
	if (sess && (sess->side[t.role] || sess->paired)) {
		/* another ticket for a side this session already has */
		side_refuse(s, REFUSED_TICKET_WRONG_SESSION);
		return;
	}
	if (seen_add(r, t.session_id, (int)t.role, t.nonce, t.expires_at) != 0) {
		side_refuse(s, REFUSED_TICKET_INVALID); /* the table is full: refuse rather than forget */
		return;
	}
	if (!sess) {
		sess = calloc(1, sizeof *sess);
		if (!sess) {
			side_close_now(s);
			return;
		}
		memcpy(sess->id, t.session_id, sizeof sess->id);
		sess->next = r->sessions;
		if (r->sessions)
			r->sessions->prev = sess;
		r->sessions = sess;
	}
	sess->side[t.role] = s;
	s->session = sess;
	s->role = t.role;
	s->state = SIDE_WAITING;
	r->stats.sides_waiting++;
	if (sess->side[!t.role])
		pair(sess);
	else
		uv_timer_start(&s->timer, on_pair_timeout, r->opt.pair_timeout_ms, 0);
}

/* --- reading ---------------------------------------------------------------- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)h;
	(void)suggested;
	buf->base = malloc(READ_CHUNK);
	buf->len = buf->base ? READ_CHUNK : 0;
}

/* Bytes before pairing: the rest of the first frame, then early bytes. */
static void side_take_unpaired(struct side *s, const unsigned char *data, size_t n)
{
	while (n && s->state == SIDE_FIRST_FRAME) {
		size_t take = sizeof s->head - s->head_len;
		if (take > n)
			take = n;
		memcpy(s->head + s->head_len, data, take);
		s->head_len += take;
		const char *text;
		size_t tlen, flen;
		enum first_frame_result fr = first_frame_parse(s->head, s->head_len, &text, &tlen, &flen);
		if (fr == FIRST_FRAME_BAD) {
			side_refuse(s, REFUSED_TICKET_INVALID);
			return;
		}
		if (fr == FIRST_FRAME_NEED_MORE) {
			data += take;
			n -= take;
			continue;
		}
		/* what came after the frame in this read is the session's */
		size_t extra = s->head_len - flen;
		data += take - extra;
		n -= take - extra;
		side_admit(s, text, tlen);
	}
	if (!n || s->state == SIDE_CLOSING)
		return;
	if (s->state == SIDE_PAIRED) { /* the admission paired it: forward */
		struct side *other = s->session->side[!s->role];
		if (s->role == TICKET_GUEST)
			s->relay->stats.bytes_guest_to_host += n;
		else
			s->relay->stats.bytes_host_to_guest += n;
		side_write_copy(other, data, n);
		return;
	}
	if (s->early_len + n > EARLY_MAX) {
		side_refuse(s, REFUSED_SESSION_ENDED);
		return;
	}
	unsigned char *grown = realloc(s->early, s->early_len + n);
	if (!grown) {
		side_close_now(s);
		return;
	}
	memcpy(grown + s->early_len, data, n);
	s->early = grown;
	s->early_len += n;
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	struct side *s = stream->data;
	if (nread < 0) {
		free(buf->base);
		if (s->state == SIDE_CLOSING) {
			if (nread != UV_EOF)
				side_close_now(s); /* a reset: nothing more can reach it */
			return;
		}
		if (nread != UV_EOF || s->state != SIDE_PAIRED) {
			side_close_now(s);
			return;
		}
		side_close(s); /* flush what this side still has to receive, then close both */
		return;
	}
	if (nread == 0 || s->state == SIDE_CLOSING) {
		free(buf->base);
		return;
	}
	if (s->state != SIDE_PAIRED) {
		side_take_unpaired(s, (const unsigned char *)buf->base, (size_t)nread);
		free(buf->base);
		return;
	}
	struct relay *r = s->relay;
	struct side *other = s->session->side[!s->role];
	if (s->role == TICKET_GUEST)
		r->stats.bytes_guest_to_host += (uint64_t)nread;
	else
		r->stats.bytes_host_to_guest += (uint64_t)nread;
	uv_timer_start(&s->timer, on_idle_timeout, r->opt.idle_timeout_ms, 0);
	uv_timer_start(&other->timer, on_idle_timeout, r->opt.idle_timeout_ms, 0);
	side_write(other, buf->base, (size_t)nread); /* the buffer goes with the write */
	if (other->queued > r->opt.queue_cap) {
		uv_read_stop(stream); /* back-pressure: wait for the other side to drain */
		s->reading = false;
	}
}

static void side_read_start(struct side *s)
{
	if (uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read) == 0)
		s->reading = true;
}

/* --- accepting -------------------------------------------------------------- */

static void on_connection(uv_stream_t *listener, int status)
{
	struct relay *r = listener->data;
	if (status < 0 || r->stopping)
		return;
	struct side *s = calloc(1, sizeof *s);
	if (!s)
		return;
	s->relay = r;
	uv_tcp_init(r->loop, &s->tcp);
	uv_timer_init(r->loop, &s->timer);
	s->tcp.data = s->timer.data = s;
	s->open_handles = 2;
	s->next = r->sides;
	if (r->sides)
		r->sides->prev = s;
	r->sides = s;
	r->stats.connections++;
	if (uv_accept(listener, (uv_stream_t *)&s->tcp) != 0) {
		side_close_now(s);
		return;
	}
	if (r->stats.connections > r->opt.max_connections) {
		r->stats.refusals[REFUSED_CONNECTION_LIMIT]++;
		side_close_now(s);
		return;
	}
	uv_tcp_nodelay(&s->tcp, 1);
	uv_timer_start(&s->timer, on_first_frame_timeout, r->opt.first_frame_timeout_ms, 0);
	side_read_start(s);
}

struct relay *relay_start(uv_loop_t *loop, const char *host, int port, const struct relay_options *opt, char *err,
                          size_t errsz)
{
	struct relay *r = calloc(1, sizeof *r);
	if (!r) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	r->loop = loop;
	r->opt = *opt;
	struct sockaddr_storage addr;
	int rc = uv_ip4_addr(host, port, (struct sockaddr_in *)&addr);
	if (rc != 0)
		rc = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&addr);
	if (rc != 0) {
		snprintf(err, errsz, "--listen: %s is not an IP address", host);
		free(r);
		return NULL;
	}
	uv_tcp_init(loop, &r->listener);
	r->listener.data = r;
	if ((rc = uv_tcp_bind(&r->listener, (const struct sockaddr *)&addr, 0)) != 0 ||
	    (rc = uv_listen((uv_stream_t *)&r->listener, 1024, on_connection)) != 0) {
		snprintf(err, errsz, "--listen %s:%d: %s", host, port, uv_strerror(rc));
		uv_close((uv_handle_t *)&r->listener, NULL);
		uv_run(loop, UV_RUN_NOWAIT);
		free(r);
		return NULL;
	}
	return r;
}

void relay_stop(struct relay *r)
{
	r->stopping = true;
	if (!uv_is_closing((uv_handle_t *)&r->listener))
		uv_close((uv_handle_t *)&r->listener, NULL);
	for (struct side *s = r->sides; s; s = s->next)
		side_close_now(s);
}

void relay_free(struct relay *r)
{
	free(r->seen);
	free(r);
}
