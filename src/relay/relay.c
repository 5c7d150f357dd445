/*
 * vitrine-relay's core (see relay.h): connections ("sides"), the table of
 * seen tickets, pairing by session id, and forwarding with back-pressure.
 *
 * Each side owns a TCP handle and a timer; a WebSocket side also owns a
 * ws_conn (ws.h) that turns socket bytes into the same byte stream a TCP
 * side reads. The timer is the side's one deadline: the first frame
 * (first_frame_timeout, which also bounds the TLS and WebSocket
 * handshakes), then waiting for the other side (pair_timeout), then
 * inactivity of the pair (idle_timeout). Forwarding hands each read buffer
 * to a write on the other side; while that side's queue holds more than
 * queue_cap bytes, the reading side is paused. Rate limits (token buckets
 * per side and for the whole relay) pause reads too, never drop bytes.
 *
 * Memory per session is bounded whatever the peers do: per direction the
 * write queue (queue_cap, plus one read of READ_CHUNK that may land on
 * top, plus WebSocket framing), the early bytes before pairing (EARLY_MAX),
 * and for a WebSocket side a message being assembled (WS_MESSAGE_MAX) and
 * a TLS record. With the defaults: about 2 x (256 + 64 + 64) KiB = 768 KiB
 * for a TCP pair, plus about 100 KiB per WebSocket side (docs/PROTOCOL.md).
 *
 * Seen tickets and sessions live in hash tables (SipHash with a key drawn
 * at start), so admitting a side costs the same at 5 sessions or 50,000.
 *
 * A connection that has not shown a valid ticket yet costs the relay a
 * descriptor and a first-frame timeout without proving anything, so one
 * address (IPv4 /32, IPv6 /64) may hold at most per_address_limit of them
 * at once (a third table, counted from accept to the first frame's
 * verdict); paired sessions are not counted, as each needs a ticket.
 */
#include "relay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "first_frame.h"
#include "ws.h"

#define READ_CHUNK    (64 * 1024)
#define EARLY_MAX     (64 * 1024) /* bytes a waiting side may send before it is paired */
#define SEEN_MAX      (1u << 20)  /* tickets remembered at once (each lives at most 60 s) */
#define SHUTDOWN_MS   5000        /* time left to flush the other side once one has gone */
#define SWEEP_EVERY_S 10          /* expired seen tickets are swept at most this often */
#define RATE_TICK_MS  10
#define MAX_LISTENERS 4
#define ADDR_BUCKETS  4096
#define ADDR_KEY_LEN  9 /* a family tag and up to 8 address bytes */

enum side_state { SIDE_FIRST_FRAME, SIDE_WAITING, SIDE_PAIRED, SIDE_CLOSING };

struct session;

/* Connections of one address still before their ticket's verdict. */
struct addr_count {
	unsigned char key[ADDR_KEY_LEN];
	unsigned n;
	struct addr_count *hnext;
};

struct bucket {
	double tokens;
	uint64_t last_ms;
};

struct side {
	uv_tcp_t tcp;
	uv_timer_t timer;
	struct relay *relay;
	struct session *session;
	struct ws_conn *ws; /* NULL for raw TCP */
	enum relay_transport transport;
	enum ticket_role role;
	enum side_state state;
	int open_handles;
	bool reading;
	bool rate_paused;
	bool writing_control; /* a ping is being written: its drain is no activity */
	size_t queued;        /* bytes written to this side and not yet sent */
	struct bucket bucket;
	unsigned char head[FIRST_FRAME_MAX];
	size_t head_len;
	unsigned char *early; /* bytes after the first frame, before pairing */
	size_t early_len;
	struct side *prev, *next;           /* every side of the relay */
	struct side *rate_prev, *rate_next; /* sides paused by a rate limit */
	struct addr_count *addr;            /* counted against its address until admitted or closed */
};

struct session {
	char id[CODES_ID_LEN + 1];
	struct side *side[2]; /* [TICKET_GUEST], [TICKET_HOST] */
	bool paired;
	const char *end_reason; /* the first cause of the end */
	uint64_t bytes[2];      /* sent by [TICKET_GUEST], by [TICKET_HOST] */
	struct session *hnext;  /* hash chain */
};

struct seen {
	char session_id[CODES_ID_LEN + 1];
	int kind; /* TICKET_GUEST, TICKET_HOST, or SEEN_ENDED */
	unsigned char nonce[TICKET_NONCE_BYTES];
	int64_t expires_at;
	struct seen *hnext;
};
#define SEEN_ENDED 2

struct listener {
	uv_tcp_t tcp;
	struct relay *relay;
	enum relay_transport transport;
	gnutls_certificate_credentials_t cred;
	gnutls_priority_t prio;
};

struct relay {
	uv_loop_t *loop;
	struct listener listeners[MAX_LISTENERS];
	size_t n_listeners;
	struct relay_options opt;
	struct relay_stats stats;
	struct side *sides;
	unsigned char hash_key[crypto_shorthash_KEYBYTES];
	struct seen **seen;
	size_t seen_buckets, seen_len;
	int64_t seen_swept;
	struct session **sessions;
	size_t session_buckets, session_len;
	struct addr_count *addrs[ADDR_BUCKETS];
	struct side *rate_waiting;
	uv_timer_t rate_timer, ping_timer;
	struct bucket total;
	relay_event_fn on_event;
	void *event_arg;
	bool stopping;
};

struct forward {
	uv_write_t req;
	struct side *to;
	bool control;
	size_t len;
	char *data;
};

static const char *const REFUSAL_NAMES[REFUSAL_REASONS] = {
    [REFUSED_TICKET_INVALID] = "ticket_invalid",     [REFUSED_TICKET_EXPIRED] = "ticket_expired",
    [REFUSED_TICKET_REPLAYED] = "ticket_replayed",   [REFUSED_TICKET_WRONG_SESSION] = "ticket_wrong_session",
    [REFUSED_SESSION_ENDED] = "session_ended",       [REFUSED_FIRST_FRAME_TIMEOUT] = "first_frame_timeout",
    [REFUSED_CONNECTION_LIMIT] = "connection_limit", [REFUSED_WS_HANDSHAKE] = "ws_handshake",
    [REFUSED_TLS_HANDSHAKE] = "tls_handshake",       [REFUSED_WS_PROTOCOL] = "ws_protocol",
    [REFUSED_ADDRESS_LIMIT] = "address_limit",
};

static const char *const TRANSPORT_NAMES[RELAY_TRANSPORTS] = {"tcp", "ws", "wss"};

const char *relay_refusal_name(enum relay_refusal why)
{
	return why < REFUSAL_REASONS ? REFUSAL_NAMES[why] : "unknown";
}

const char *relay_transport_name(enum relay_transport t)
{
	return t < RELAY_TRANSPORTS ? TRANSPORT_NAMES[t] : "unknown";
}

const struct relay_stats *relay_stats(const struct relay *r)
{
	return &r->stats;
}

void relay_set_event_hook(struct relay *r, relay_event_fn fn, void *arg)
{
	r->on_event = fn;
	r->event_arg = arg;
}

static void side_close(struct side *s);
static void side_read_start(struct side *s);
static void side_maybe_resume(struct side *s);
static void on_idle_timeout(uv_timer_t *t);

static uint64_t hash_of(const struct relay *r, const void *data, size_t len)
{
	unsigned char out[crypto_shorthash_BYTES];
	crypto_shorthash(out, data, len, r->hash_key);
	uint64_t h;
	memcpy(&h, out, sizeof h);
	return h;
}

/* --- connections per address before their ticket ------------------------ */

/* The peer's key: IPv4 /32 or IPv6 /64 (one subscriber usually has a whole
 * /64); an address that cannot be read shares one key with its kind. */
static void addr_key_of(uv_tcp_t *tcp, unsigned char key[ADDR_KEY_LEN])
{
	struct sockaddr_storage ss;
	int len = sizeof ss;
	memset(key, 0, ADDR_KEY_LEN);
	if (uv_tcp_getpeername(tcp, (struct sockaddr *)&ss, &len) != 0)
		return;
	if (ss.ss_family == AF_INET) {
		key[0] = 4;
		memcpy(key + 1, &((struct sockaddr_in *)&ss)->sin_addr, 4);
	} else if (ss.ss_family == AF_INET6) {
		const unsigned char *a = ((struct sockaddr_in6 *)&ss)->sin6_addr.s6_addr;
		static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		if (memcmp(a, mapped, sizeof mapped) == 0) {
			key[0] = 4;
			memcpy(key + 1, a + 12, 4);
		} else {
			key[0] = 6;
			memcpy(key + 1, a, 8);
		}
	}
}

/* Counts s against its address; false when the address is at its limit. */
static bool addr_admit(struct side *s)
{
	struct relay *r = s->relay;
	unsigned char key[ADDR_KEY_LEN];
	addr_key_of(&s->tcp, key);
	size_t b = hash_of(r, key, sizeof key) % ADDR_BUCKETS;
	struct addr_count *a = r->addrs[b];
	while (a && memcmp(a->key, key, sizeof key) != 0)
		a = a->hnext;
	if (!a) {
		if (!(a = calloc(1, sizeof *a)))
			return false;
		memcpy(a->key, key, sizeof key);
		a->hnext = r->addrs[b];
		r->addrs[b] = a;
	}
	if (a->n >= r->opt.per_address_limit) {
		if (a->n == 0) {
			r->addrs[b] = a->hnext;
			free(a);
		}
		return false;
	}
	a->n++;
	s->addr = a;
	return true;
}

/* s showed its ticket (or goes): it no longer counts against its address. */
static void addr_release(struct side *s)
{
	struct addr_count *a = s->addr;
	if (!a)
		return;
	s->addr = NULL;
	if (--a->n > 0)
		return;
	struct relay *r = s->relay;
	size_t b = hash_of(r, a->key, sizeof a->key) % ADDR_BUCKETS;
	for (struct addr_count **p = &r->addrs[b]; *p; p = &(*p)->hnext)
		if (*p == a) {
			*p = a->hnext;
			free(a);
			return;
		}
}

/* --- the table of seen tickets ------------------------------------------ */

static size_t seen_bucket(const struct relay *r, const char *sid, int kind, const unsigned char *nonce)
{
	unsigned char key[CODES_ID_LEN + 1 + TICKET_NONCE_BYTES] = {0};
	memcpy(key, sid, CODES_ID_LEN);
	key[CODES_ID_LEN] = (unsigned char)kind;
	if (nonce)
		memcpy(key + CODES_ID_LEN + 1, nonce, TICKET_NONCE_BYTES);
	return (size_t)(hash_of(r, key, sizeof key) & (r->seen_buckets - 1));
}

static void seen_sweep(struct relay *r, int64_t now)
{
	for (size_t b = 0; b < r->seen_buckets; b++)
		for (struct seen **p = &r->seen[b]; *p;) {
			if ((*p)->expires_at <= now) {
				struct seen *gone = *p;
				*p = gone->hnext;
				free(gone);
				r->seen_len--;
			} else {
				p = &(*p)->hnext;
			}
		}
	r->seen_swept = now;
}

static int seen_grow(struct relay *r)
{
	size_t nb = r->seen_buckets ? r->seen_buckets * 2 : 1024;
	struct seen **table = calloc(nb, sizeof *table);
	if (!table)
		return -1;
	size_t old = r->seen_buckets;
	struct seen **old_table = r->seen;
	r->seen = table;
	r->seen_buckets = nb;
	for (size_t b = 0; b < old; b++)
		for (struct seen *e = old_table[b], *next; e; e = next) {
			next = e->hnext;
			size_t i = seen_bucket(r, e->session_id, e->kind, e->kind == SEEN_ENDED ? NULL : e->nonce);
			e->hnext = table[i];
			table[i] = e;
		}
	free(old_table);
	return 0;
}

/* nonce NULL: an "ended" mark, which has none. */
static bool seen_has(const struct relay *r, const char *sid, int kind, const unsigned char *nonce, int64_t now)
{
	if (!r->seen_buckets)
		return false;
	for (const struct seen *e = r->seen[seen_bucket(r, sid, kind, nonce)]; e; e = e->hnext)
		if (e->kind == kind && e->expires_at > now && strcmp(e->session_id, sid) == 0 &&
		    (!nonce || memcmp(e->nonce, nonce, TICKET_NONCE_BYTES) == 0))
			return true;
	return false;
}

static int seen_add(struct relay *r, const char *sid, int kind, const unsigned char *nonce, int64_t expires_at)
{
	int64_t now = (int64_t)time(NULL);
	if (r->seen_len && (now - r->seen_swept >= SWEEP_EVERY_S || r->seen_len >= SEEN_MAX))
		seen_sweep(r, now);
	if (r->seen_len >= SEEN_MAX)
		return -1;
	if (r->seen_len >= r->seen_buckets && seen_grow(r) != 0 && !r->seen_buckets)
		return -1;
	struct seen *e = calloc(1, sizeof *e);
	if (!e)
		return -1;
	memcpy(e->session_id, sid, CODES_ID_LEN + 1);
	e->kind = kind;
	if (nonce)
		memcpy(e->nonce, nonce, TICKET_NONCE_BYTES);
	e->expires_at = expires_at;
	size_t i = seen_bucket(r, sid, kind, nonce);
	e->hnext = r->seen[i];
	r->seen[i] = e;
	r->seen_len++;
	return 0;
}

/* --- sessions ------------------------------------------------------------ */

static size_t session_bucket(const struct relay *r, const char *sid)
{
	return (size_t)(hash_of(r, sid, strlen(sid)) & (r->session_buckets - 1));
}

static struct session *session_find(struct relay *r, const char *sid)
{
	if (!r->session_buckets)
		return NULL;
	for (struct session *s = r->sessions[session_bucket(r, sid)]; s; s = s->hnext)
		if (strcmp(s->id, sid) == 0)
			return s;
	return NULL;
}

static int session_insert(struct relay *r, struct session *sess)
{
	if (r->session_len >= r->session_buckets) {
		size_t nb = r->session_buckets ? r->session_buckets * 2 : 256;
		struct session **table = calloc(nb, sizeof *table);
		if (!table) {
			if (!r->session_buckets)
				return -1;
		} else {
			size_t old = r->session_buckets;
			struct session **old_table = r->sessions;
			r->sessions = table;
			r->session_buckets = nb;
			for (size_t b = 0; b < old; b++)
				for (struct session *s = old_table[b], *next; s; s = next) {
					next = s->hnext;
					size_t i = session_bucket(r, s->id);
					s->hnext = table[i];
					table[i] = s;
				}
			free(old_table);
		}
	}
	size_t i = session_bucket(r, sess->id);
	sess->hnext = r->sessions[i];
	r->sessions[i] = sess;
	r->session_len++;
	return 0;
}

static void session_remove(struct relay *r, struct session *sess)
{
	for (struct session **p = &r->sessions[session_bucket(r, sess->id)]; *p; p = &(*p)->hnext)
		if (*p == sess) {
			*p = sess->hnext;
			r->session_len--;
			return;
		}
}

static void session_event(struct relay *r, const struct session *sess, bool ended)
{
	if (!r->on_event)
		return;
	struct relay_event ev = {.ended = ended,
	                         .at = (int64_t)time(NULL),
	                         .bytes_guest_to_host = sess->bytes[TICKET_GUEST],
	                         .bytes_host_to_guest = sess->bytes[TICKET_HOST],
	                         .reason = ended ? (sess->end_reason ? sess->end_reason : "closed") : NULL};
	memcpy(ev.session_id, sess->id, sizeof ev.session_id);
	r->on_event(r->event_arg, &ev);
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
		if (!sess->end_reason)
			sess->end_reason = r->stopping ? "relay_stopped" : "closed";
		side_close(other); /* one side gone: the session is over */
		return;
	}
	if (other)
		return;
	if (sess->paired) {
		r->stats.sessions_active--;
		seen_add(r, sess->id, SEEN_ENDED, NULL, (int64_t)time(NULL) + TICKET_LIFETIME_MAX);
	}
	if (sess->paired || sess->end_reason)
		session_event(r, sess, true);
	session_remove(r, sess);
	free(sess);
}

/* --- closing -------------------------------------------------------------- */

static void rate_unlist(struct side *s)
{
	if (!s->rate_paused)
		return;
	struct relay *r = s->relay;
	if (s->rate_prev)
		s->rate_prev->rate_next = s->rate_next;
	else
		r->rate_waiting = s->rate_next;
	if (s->rate_next)
		s->rate_next->rate_prev = s->rate_prev;
	s->rate_prev = s->rate_next = NULL;
	s->rate_paused = false;
}

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
	r->stats.connections_open[s->transport]--;
	addr_release(s);
	ws_conn_free(s->ws);
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
	rate_unlist(s);
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
	rate_unlist(s);
	if (!s->reading && !uv_is_closing((uv_handle_t *)&s->tcp))
		side_read_start(s); /* read (and drop) until the peer closes, so the kernel does not reset */
	if (s->ws)
		ws_conn_close(s->ws, 0);
	session_leave(s);
	uv_timer_start(&s->timer, on_close_deadline, SHUTDOWN_MS, 0);
	uv_shutdown_t *req = malloc(sizeof *req);
	if (req) {
		req->data = s;
		if (uv_shutdown(req, (uv_stream_t *)&s->tcp, on_shutdown) == 0)
			return;
		free(req);
	}
	uv_close((uv_handle_t *)&s->tcp, on_handle_closed);
	uv_close((uv_handle_t *)&s->timer, on_handle_closed);
}

/* --- writing -------------------------------------------------------------- */

static void on_written(uv_write_t *req, int status)
{
	(void)status;
	struct forward *f = (struct forward *)req;
	struct side *to = f->to;
	bool control = f->control;
	to->queued -= f->len;
	free(f->data);
	free(f);
	/* the other side may read again once this one has drained */
	struct side *from = to->session ? to->session->side[!to->role] : NULL;
	if (!from || from->state != SIDE_PAIRED || to->state != SIDE_PAIRED)
		return;
	/* a slow reader that drains is activity too (a ping is not) */
	if (!control) {
		uv_timer_start(&to->timer, on_idle_timeout, to->relay->opt.idle_timeout_ms, 0);
		uv_timer_start(&from->timer, on_idle_timeout, to->relay->opt.idle_timeout_ms, 0);
	}
	side_maybe_resume(from);
}

/* Puts len bytes of data (taken over: freed when written) on s's socket. */
static int side_wire_write(struct side *s, char *data, size_t len)
{
	struct forward *f = malloc(sizeof *f);
	if (!f) {
		free(data);
		return -1;
	}
	f->to = s;
	f->control = s->writing_control;
	f->len = len;
	f->data = data;
	uv_buf_t b = uv_buf_init(data, (unsigned)len);
	if (uv_is_closing((uv_handle_t *)&s->tcp) ||
	    uv_write(&f->req, (uv_stream_t *)&s->tcp, &b, 1, on_written) != 0) {
		free(data);
		free(f);
		return -1;
	}
	s->queued += len;
	return 0;
}

static int ws_wire_write(void *user, char *data, size_t len)
{
	return side_wire_write(user, data, len);
}

/* Sends stream bytes to s (taken over), framed when s is a WebSocket. */
static int side_send(struct side *s, char *data, size_t len)
{
	if (!s->ws)
		return side_wire_write(s, data, len);
	int rc = ws_conn_send(s->ws, (const uint8_t *)data, len);
	free(data);
	return rc;
}

static int side_send_copy(struct side *s, const void *data, size_t len)
{
	if (s->ws)
		return ws_conn_send(s->ws, data, len);
	char *copy = malloc(len ? len : 1);
	if (!copy)
		return -1;
	memcpy(copy, data, len);
	return side_wire_write(s, copy, len);
}

/* Sends "error CODE" and closes s. */
static void side_refuse(struct side *s, enum relay_refusal why)
{
	char line[64];
	size_t n = first_frame_status(REFUSAL_NAMES[why], line);
	s->relay->stats.refusals[why]++;
	side_send_copy(s, line, n);
	side_close(s);
}

/* --- rate limits ------------------------------------------------------------ */

static uint64_t now_ms(const struct relay *r)
{
	return uv_now(r->loop);
}

static void bucket_refill(struct bucket *b, uint64_t rate, uint64_t now)
{
	double burst = rate / 4.0 > 16384 ? rate / 4.0 : 16384;
	if (b->last_ms == 0) {
		b->tokens = burst;
	} else if (now > b->last_ms) {
		b->tokens += (double)rate * (double)(now - b->last_ms) / 1000.0;
		if (b->tokens > burst)
			b->tokens = burst;
	}
	b->last_ms = now;
}

/* Does s have the tokens to read now (refilling first)? */
static bool rate_allows(struct side *s)
{
	struct relay *r = s->relay;
	uint64_t now = now_ms(r);
	bool ok = true;
	if (r->opt.session_rate) {
		bucket_refill(&s->bucket, r->opt.session_rate, now);
		ok = ok && s->bucket.tokens >= 0;
	}
	if (r->opt.total_rate) {
		bucket_refill(&r->total, r->opt.total_rate, now);
		ok = ok && r->total.tokens >= 0;
	}
	return ok;
}

static void on_rate_tick(uv_timer_t *t)
{
	struct relay *r = t->data;
	for (struct side *s = r->rate_waiting, *next; s; s = next) {
		next = s->rate_next;
		if (rate_allows(s)) {
			rate_unlist(s);
			side_maybe_resume(s);
		}
	}
	if (!r->rate_waiting)
		uv_timer_stop(&r->rate_timer);
}

/* n bytes were read from s: take them from its buckets, pause when short. */
static void rate_take(struct side *s, size_t n)
{
	struct relay *r = s->relay;
	if (!r->opt.session_rate && !r->opt.total_rate)
		return;
	rate_allows(s); /* refill */
	s->bucket.tokens -= (double)n;
	r->total.tokens -= (double)n;
	if ((r->opt.session_rate && s->bucket.tokens < 0) || (r->opt.total_rate && r->total.tokens < 0)) {
		if (s->reading) {
			uv_read_stop((uv_stream_t *)&s->tcp);
			s->reading = false;
		}
		if (!s->rate_paused) {
			s->rate_paused = true;
			r->stats.rate_pauses++;
			s->rate_next = r->rate_waiting;
			if (r->rate_waiting)
				r->rate_waiting->rate_prev = s;
			r->rate_waiting = s;
			if (!uv_is_active((uv_handle_t *)&r->rate_timer))
				uv_timer_start(&r->rate_timer, on_rate_tick, RATE_TICK_MS, RATE_TICK_MS);
		}
	}
}

/* A paired side reads again when nothing holds it back. */
static void side_maybe_resume(struct side *s)
{
	if (s->reading || s->rate_paused || s->state != SIDE_PAIRED || !s->session)
		return;
	struct side *to = s->session->side[!s->role];
	if (to && to->queued <= s->relay->opt.queue_cap / 2)
		side_read_start(s);
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
	struct side *s = t->data;
	if (s->session && !s->session->end_reason)
		s->session->end_reason = "session_ended";
	side_refuse(s, REFUSED_SESSION_ENDED);
}

/* Both sides told "error CODE" before either is shut. */
static void session_end_with(struct session *sess, const char *reason, enum relay_refusal why)
{
	char line[64];
	size_t n = first_frame_status(REFUSAL_NAMES[why], line);
	if (!sess->end_reason)
		sess->end_reason = reason;
	struct side *a = sess->side[0], *b = sess->side[1];
	struct relay *r = (a ? a : b)->relay;
	r->stats.refusals[why]++;
	if (a && a->state != SIDE_CLOSING)
		side_send_copy(a, line, n);
	if (b && b->state != SIDE_CLOSING)
		side_send_copy(b, line, n);
	if (a)
		side_close(a);
	if (b)
		side_close(b);
}

static void on_idle_timeout(uv_timer_t *t)
{
	struct side *s = t->data;
	if (!s->session) {
		side_close(s);
		return;
	}
	session_end_with(s->session, "session_ended", REFUSED_SESSION_ENDED);
}

int relay_cut(struct relay *r, const char *session_id)
{
	if (!codes_is_id(session_id))
		return 0;
	int64_t now = (int64_t)time(NULL);
	if (!seen_has(r, session_id, SEEN_ENDED, NULL, now))
		seen_add(r, session_id, SEEN_ENDED, NULL, now + TICKET_LIFETIME_MAX);
	struct session *sess = session_find(r, session_id);
	if (!sess || (!sess->side[0] && !sess->side[1]))
		return 0;
	session_end_with(sess, "ended_by_admin", REFUSED_SESSION_ENDED);
	return 1;
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
	session_event(r, sess, false);
	for (int i = 0; i < 2; i++) {
		struct side *s = sess->side[i];
		r->stats.sides_waiting--;
		s->state = SIDE_PAIRED;
		side_send_copy(s, line, n);
		uv_timer_start(&s->timer, on_idle_timeout, r->opt.idle_timeout_ms, 0);
	}
	for (int i = 0; i < 2; i++) {
		struct side *s = sess->side[i], *other = sess->side[!i];
		if (s->early_len) {
			if (i == TICKET_GUEST)
				r->stats.bytes_guest_to_host += s->early_len;
			else
				r->stats.bytes_host_to_guest += s->early_len;
			sess->bytes[i] += s->early_len;
			side_send(other, (char *)s->early, s->early_len);
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
	if (r->opt.public_address[0] && strcmp(t.relay, r->opt.public_address) != 0) {
		side_refuse(s, REFUSED_TICKET_INVALID); /* a ticket for another relay */
		return;
	}
	if (seen_has(r, t.session_id, (int)t.role, t.nonce, now)) {
		side_refuse(s, REFUSED_TICKET_REPLAYED);
		return;
	}
	if (seen_has(r, t.session_id, SEEN_ENDED, NULL, now)) {
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
		if (!sess || (memcpy(sess->id, t.session_id, sizeof sess->id), session_insert(r, sess) != 0)) {
			free(sess);
			side_close_now(s);
			return;
		}
	}
	sess->side[t.role] = s;
	s->session = sess;
	s->role = t.role;
	s->state = SIDE_WAITING;
	addr_release(s);
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

/* n bytes s read while paired go to the other side. data is taken over
 * when owned (it becomes the write's buffer), else copied. */
static void side_forward(struct side *s, char *data, size_t n, bool owned)
{
	struct relay *r = s->relay;
	struct side *other = s->session ? s->session->side[!s->role] : NULL;
	if (!other || other->state == SIDE_CLOSING) {
		if (owned)
			free(data);
		return;
	}
	if (s->role == TICKET_GUEST)
		r->stats.bytes_guest_to_host += n;
	else
		r->stats.bytes_host_to_guest += n;
	s->session->bytes[s->role] += n;
	uv_timer_start(&s->timer, on_idle_timeout, r->opt.idle_timeout_ms, 0);
	uv_timer_start(&other->timer, on_idle_timeout, r->opt.idle_timeout_ms, 0);
	if (owned)
		side_send(other, data, n);
	else
		side_send_copy(other, data, n);
	if (other->queued > r->opt.queue_cap && s->reading) {
		uv_read_stop((uv_stream_t *)&s->tcp); /* back-pressure: wait for the other side to drain */
		s->reading = false;
	}
	rate_take(s, n);
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
		side_forward(s, (char *)data, n, false);
		return;
	}
	if (s->early_len + n > EARLY_MAX) {
		if (s->session && !s->session->end_reason)
			s->session->end_reason = "session_ended";
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

static void on_ws_payload(void *user, const uint8_t *data, size_t len)
{
	struct side *s = user;
	if (s->state == SIDE_CLOSING)
		return;
	if (s->state != SIDE_PAIRED)
		side_take_unpaired(s, data, len);
	else
		side_forward(s, (char *)data, len, false);
}

static const struct ws_io WS_IO = {.wire_write = ws_wire_write, .on_payload = on_ws_payload};

static void side_ws_input(struct side *s, const uint8_t *data, size_t n)
{
	enum ws_status st = ws_conn_input(s->ws, data, n);
	if (s->state == SIDE_CLOSING)
		return; /* refused or ended while its messages were read */
	switch (st) {
	case WS_GOING:
		return;
	case WS_BAD_HANDSHAKE:
		s->relay->stats.refusals[REFUSED_WS_HANDSHAKE]++;
		side_close(s); /* after the 4xx answer */
		return;
	case WS_BAD_TLS:
		s->relay->stats.refusals[REFUSED_TLS_HANDSHAKE]++;
		side_close_now(s);
		return;
	case WS_CLOSED:
		if (ws_conn_protocol_error(s->ws))
			s->relay->stats.refusals[REFUSED_WS_PROTOCOL]++;
		side_close(s);
		return;
	}
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
	struct side *s = stream->data;
	if (nread < 0) {
		free(buf->base);
		if (s->state == SIDE_CLOSING) {
			if (nread != UV_EOF)
				side_close_now(s); /* a reset: nothing more can reach it */
			else
				uv_read_stop(stream);
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
	if (s->ws) {
		side_ws_input(s, (const uint8_t *)buf->base, (size_t)nread);
		free(buf->base);
		return;
	}
	if (s->state != SIDE_PAIRED) {
		side_take_unpaired(s, (const unsigned char *)buf->base, (size_t)nread);
		free(buf->base);
		return;
	}
	side_forward(s, buf->base, (size_t)nread, true); /* the buffer goes with the write */
}

static void side_read_start(struct side *s)
{
	if (uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_read) == 0)
		s->reading = true;
}

/* --- accepting -------------------------------------------------------------- */

static void on_connection(uv_stream_t *stream, int status)
{
	struct listener *l = stream->data;
	struct relay *r = l->relay;
	if (status < 0 || r->stopping)
		return;
	struct side *s = calloc(1, sizeof *s);
	if (!s)
		return;
	s->relay = r;
	s->transport = l->transport;
	uv_tcp_init(r->loop, &s->tcp);
	uv_timer_init(r->loop, &s->timer);
	s->tcp.data = s->timer.data = s;
	s->open_handles = 2;
	s->next = r->sides;
	if (r->sides)
		r->sides->prev = s;
	r->sides = s;
	r->stats.connections++;
	r->stats.connections_open[s->transport]++;
	r->stats.connections_total[s->transport]++;
	if (uv_accept(stream, (uv_stream_t *)&s->tcp) != 0) {
		side_close_now(s);
		return;
	}
	if (r->stats.connections > r->opt.max_connections) {
		r->stats.refusals[REFUSED_CONNECTION_LIMIT]++;
		side_close_now(s);
		return;
	}
	if (!addr_admit(s)) {
		r->stats.refusals[REFUSED_ADDRESS_LIMIT]++;
		side_close_now(s);
		return;
	}
	if (l->transport != RELAY_TCP) {
		s->ws = ws_conn_new(&WS_IO, s, l->transport == RELAY_WSS ? l->cred : NULL, l->prio);
		if (!s->ws) {
			side_close_now(s);
			return;
		}
	}
	uv_tcp_nodelay(&s->tcp, 1);
	uv_timer_start(&s->timer, on_first_frame_timeout, r->opt.first_frame_timeout_ms, 0);
	side_read_start(s);
}

static void on_ping_timer(uv_timer_t *t)
{
	struct relay *r = t->data;
	for (struct side *s = r->sides; s; s = s->next)
		if (s->ws && s->state != SIDE_CLOSING && ws_conn_upgraded(s->ws)) {
			s->writing_control = true;
			ws_conn_ping(s->ws);
			s->writing_control = false;
		}
}

struct relay *relay_create(uv_loop_t *loop, const struct relay_options *opt)
{
	struct relay *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->loop = loop;
	r->opt = *opt;
	crypto_shorthash_keygen(r->hash_key);
	uv_timer_init(loop, &r->rate_timer);
	r->rate_timer.data = r;
	uv_timer_init(loop, &r->ping_timer);
	r->ping_timer.data = r;
	return r;
}

int relay_listen(struct relay *r, enum relay_transport t, const char *host, int port,
                 gnutls_certificate_credentials_t cred, gnutls_priority_t prio, char *err, size_t errsz)
{
	static const char *const FLAGS[RELAY_TRANSPORTS] = {"--listen", "--ws-listen", "--ws-listen"};
	if (r->n_listeners == MAX_LISTENERS) {
		snprintf(err, errsz, "too many listeners");
		return -1;
	}
	struct sockaddr_storage addr;
	int rc = uv_ip4_addr(host, port, (struct sockaddr_in *)&addr);
	if (rc != 0)
		rc = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&addr);
	if (rc != 0) {
		snprintf(err, errsz, "%s: %s is not an IP address", FLAGS[t], host);
		return -1;
	}
	struct listener *l = &r->listeners[r->n_listeners];
	l->relay = r;
	l->transport = t;
	l->cred = cred;
	l->prio = prio;
	uv_tcp_init(r->loop, &l->tcp);
	l->tcp.data = l;
	if ((rc = uv_tcp_bind(&l->tcp, (const struct sockaddr *)&addr, 0)) != 0 ||
	    (rc = uv_listen((uv_stream_t *)&l->tcp, 1024, on_connection)) != 0) {
		snprintf(err, errsz, "%s %s:%d: %s", FLAGS[t], host, port, uv_strerror(rc));
		uv_close((uv_handle_t *)&l->tcp, NULL);
		uv_run(r->loop, UV_RUN_NOWAIT);
		return -1;
	}
	r->n_listeners++;
	if (t != RELAY_TCP && r->opt.ws_ping_ms && !uv_is_active((uv_handle_t *)&r->ping_timer))
		uv_timer_start(&r->ping_timer, on_ping_timer, r->opt.ws_ping_ms, r->opt.ws_ping_ms);
	return 0;
}

void relay_stop(struct relay *r)
{
	r->stopping = true;
	for (size_t i = 0; i < r->n_listeners; i++)
		if (!uv_is_closing((uv_handle_t *)&r->listeners[i].tcp))
			uv_close((uv_handle_t *)&r->listeners[i].tcp, NULL);
	if (!uv_is_closing((uv_handle_t *)&r->rate_timer))
		uv_close((uv_handle_t *)&r->rate_timer, NULL);
	if (!uv_is_closing((uv_handle_t *)&r->ping_timer))
		uv_close((uv_handle_t *)&r->ping_timer, NULL);
	for (struct side *s = r->sides; s; s = s->next)
		side_close_now(s);
}

void relay_free(struct relay *r)
{
	for (size_t b = 0; b < r->seen_buckets; b++)
		for (struct seen *e = r->seen[b], *next; e; e = next) {
			next = e->hnext;
			free(e);
		}
	free(r->seen);
	free(r->sessions);
	for (size_t b = 0; b < ADDR_BUCKETS; b++) /* empty once every side has closed */
		for (struct addr_count *a = r->addrs[b], *next; a; a = next) {
			next = a->hnext;
			free(a);
		}
	free(r);
}
