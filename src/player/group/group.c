/*
 * The sync-group thread (group.h): sockets, HELLO/BEACON/delay exchanges,
 * the table of members heard, the election, and the group clock. Everything
 * the thread owns is touched by it alone, except the configuration handed
 * over by group_configure() and the clock and status read by group_read(),
 * which sit under the lock.
 */
#include "group.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "common/log.h"

#define MAX_MEMBERS     64
#define TICK_NS         (250 * INT64_C(1000000))  /* HELLO, BEACON and delay requests */
#define PEER_TIMEOUT_NS (2000 * INT64_C(1000000)) /* not heard this long: gone */
#define RETRY_NS        (5000 * INT64_C(1000000)) /* sockets that could not be opened */
#define REPLAY_GAP_NS   (2000 * INT64_C(1000000)) /* a synced clock further off: a recording */
#define PENDING         8                         /* delay requests awaiting an answer */

struct group_config {
	char id[64];
	uint8_t key[GROUP_KEY_SIZE];
	uint8_t tag[GROUP_TAG_SIZE];
	uint32_t member;
	uint32_t members[MAX_MEMBERS];
	unsigned n_members;
	int64_t epoch_ms;
};

struct peer {
	uint32_t number;
	int64_t heard_ns; /* 0: never */
	uint8_t role, flags;
	uint64_t session, seq; /* the highest seq of the session seen */
	uint64_t window;       /* bit i: seq - i seen (datagrams may come out of order) */
};

struct group {
	pthread_t thread;
	pthread_mutex_t lock;
	int wake[2];
	/* under the lock */
	bool stop, have_next;
	struct group_config next; /* id "" = no group */
	struct group_config cfg;
	struct group_clock clock;
	enum group_role role;
	uint32_t leader;
	unsigned peers_alive;
	/* the thread's own */
	struct ip_mreqn ifreq;
	int disc_fd, clock_fd;
	int64_t open_again_ns;
	struct peer peers[MAX_MEMBERS];
	uint64_t session, seq;
	int64_t pending_t1[PENDING];
	unsigned pending_next;
	int64_t next_tick_ns, warned_dup_ns;
};

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

const char *group_role_name(enum group_role role)
{
	switch (role) {
	case GROUP_LEADER:
		return "leader";
	case GROUP_MEMBER:
		return "member";
	case GROUP_LOCKING:
		return "locking";
	default:
		return "alone";
	}
}

/* ---------- configuration from the manifest ---------- */

static bool parse_config(const json_t *sync, struct group_config *c, char *why, size_t whysz)
{
	memset(c, 0, sizeof *c);
	const char *id = json_string_value(json_object_get(sync, "group"));
	const char *key = json_string_value(json_object_get(sync, "key"));
	json_t *member = json_object_get(sync, "member"), *members = json_object_get(sync, "members");
	json_t *epoch = json_object_get(sync, "epoch_ms");
	size_t bin = 0;
	if (!id || !*id || strlen(id) >= sizeof c->id)
		return snprintf(why, whysz, "no valid group id"), false;
	if (!key || strlen(key) != 2 * GROUP_KEY_SIZE ||
	    sodium_hex2bin(c->key, sizeof c->key, key, strlen(key), NULL, &bin, NULL) != 0 || bin != GROUP_KEY_SIZE)
		return snprintf(why, whysz, "the key is not 64 hex digits"), false;
	if (!json_is_integer(member) || json_integer_value(member) < 1 || json_integer_value(member) > UINT32_MAX)
		return snprintf(why, whysz, "no valid member number"), false;
	if (!json_is_array(members) || json_array_size(members) > MAX_MEMBERS)
		return snprintf(why, whysz, "no list of at most %d members", MAX_MEMBERS), false;
	snprintf(c->id, sizeof c->id, "%s", id);
	group_wire_tag(c->id, c->tag);
	c->member = (uint32_t)json_integer_value(member);
	c->epoch_ms = json_is_integer(epoch) ? json_integer_value(epoch) : 0;
	size_t i;
	json_t *m;
	json_array_foreach (members, i, m) {
		json_t *n = json_object_get(m, "member");
		if (!json_is_integer(n) || json_integer_value(n) < 1 || json_integer_value(n) > UINT32_MAX)
			return snprintf(why, whysz, "members[%zu] has no valid member number", i), false;
		c->members[c->n_members++] = (uint32_t)json_integer_value(n);
	}
	return true;
}

void group_configure(struct group *g, const json_t *sync)
{
	struct group_config c;
	char why[128];
	if (!json_is_object(sync)) {
		memset(&c, 0, sizeof c);
	} else if (!parse_config(sync, &c, why, sizeof why)) {
		log_event(LOG_WARN, "the manifest's sync group is malformed; playing alone", "reason", why, NULL);
		memset(&c, 0, sizeof c);
	}
	pthread_mutex_lock(&g->lock);
	bool same = memcmp(&c, g->have_next ? &g->next : &g->cfg, sizeof c) == 0;
	if (!same) {
		g->next = c;
		g->have_next = true;
	}
	pthread_mutex_unlock(&g->lock);
	sodium_memzero(&c, sizeof c);
	if (!same && write(g->wake[1], "c", 1) < 0 && errno != EAGAIN)
		log_event(LOG_WARN, "cannot wake the sync-group thread", "error", strerror(errno), NULL);
}

/* ---------- sockets ---------- */

static void close_sockets(struct group *g)
{
	if (g->disc_fd >= 0)
		close(g->disc_fd);
	if (g->clock_fd >= 0)
		close(g->clock_fd);
	g->disc_fd = g->clock_fd = -1;
}

static int open_socket(struct group *g, const char *addr, uint16_t port, char *why, size_t whysz)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	unsigned char ttl = 1, loop = 1;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY)};
	struct ip_mreqn mr = g->ifreq;
	inet_pton(AF_INET, addr, &mr.imr_multiaddr);
	const char *step = "socket";
	if (fd < 0)
		goto fail;
	step = "SO_REUSEADDR";
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
		goto fail;
	step = "bind";
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
		goto fail;
	step = "IP_ADD_MEMBERSHIP";
	if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof mr) != 0)
		goto fail;
	step = "IP_MULTICAST_IF";
	if ((g->ifreq.imr_ifindex || g->ifreq.imr_address.s_addr) &&
	    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &g->ifreq, sizeof g->ifreq) != 0)
		goto fail;
	step = "IP_MULTICAST_TTL";
	if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl) != 0 ||
	    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof loop) != 0)
		goto fail;
	return fd;
fail:
	snprintf(why, whysz, "%s on %s:%u: %s", step, addr, port, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

static void open_sockets(struct group *g, int64_t now)
{
	char why[200];
	g->disc_fd = open_socket(g, GROUP_DISCOVERY_ADDR, GROUP_DISCOVERY_PORT, why, sizeof why);
	g->clock_fd = g->disc_fd >= 0 ? open_socket(g, GROUP_CLOCK_ADDR, GROUP_CLOCK_PORT, why, sizeof why) : -1;
	if (g->clock_fd < 0) {
		close_sockets(g);
		g->open_again_ns = now + RETRY_NS;
		log_event(LOG_WARN, "cannot join the sync group's multicast; playing alone, trying again", "error", why,
		          NULL);
	}
}

static void send_msg(struct group *g, struct group_msg *m)
{
	bool clock = m->type != GROUP_HELLO;
	int fd = clock ? g->clock_fd : g->disc_fd;
	if (fd < 0)
		return;
	memcpy(m->tag, g->cfg.tag, GROUP_TAG_SIZE);
	m->sender = g->cfg.member;
	m->session = g->session;
	m->seq = ++g->seq;
	uint8_t out[GROUP_WIRE_SIZE];
	group_wire_encode(m, g->cfg.key, out);
	struct sockaddr_in to = {.sin_family = AF_INET,
	                         .sin_port = htons(clock ? GROUP_CLOCK_PORT : GROUP_DISCOVERY_PORT)};
	inet_pton(AF_INET, clock ? GROUP_CLOCK_ADDR : GROUP_DISCOVERY_ADDR, &to.sin_addr);
	/* a lost datagram is one of many: the next tick sends again */
	(void)sendto(fd, out, sizeof out, 0, (struct sockaddr *)&to, sizeof to);
}

/* ---------- members heard, the election ---------- */

static struct peer *peer_of(struct group *g, uint32_t number)
{
	for (unsigned i = 0; i < g->cfg.n_members; i++)
		if (g->peers[i].number == number)
			return &g->peers[i];
	return NULL;
}

static bool alive(const struct peer *p, int64_t now)
{
	return p->heard_ns && now - p->heard_ns <= PEER_TIMEOUT_NS;
}

/* The lowest number alive whose clock is the group's; when nobody's is yet
 * (all just started), the lowest alive. A fresh member so never pulls the
 * group to its own guess of the time: it locks first, then may lead. */
static uint32_t elect(struct group *g, int64_t now, unsigned *n_alive)
{
	bool self_synced = g->clock.synced;
	bool any_synced = self_synced;
	*n_alive = 0;
	for (unsigned i = 0; i < g->cfg.n_members; i++) {
		const struct peer *p = &g->peers[i];
		if (p->number != g->cfg.member && alive(p, now)) {
			++*n_alive;
			any_synced = any_synced || (p->flags & GROUP_FLAG_SYNCED);
		}
	}
	uint32_t best = !any_synced || self_synced ? g->cfg.member : UINT32_MAX;
	for (unsigned i = 0; i < g->cfg.n_members; i++) {
		const struct peer *p = &g->peers[i];
		if (p->number != g->cfg.member && alive(p, now) && (!any_synced || (p->flags & GROUP_FLAG_SYNCED)) &&
		    p->number < best)
			best = p->number;
	}
	return best;
}

/* Under the lock: who leads, what we are. */
static void run_election(struct group *g, int64_t now)
{
	unsigned n_alive;
	uint32_t leader = elect(g, now, &n_alive);
	g->peers_alive = n_alive;
	if (leader == g->cfg.member) {
		if (g->clock.following)
			group_clock_free_run(&g->clock, now);
		g->role = n_alive ? GROUP_LEADER : GROUP_ALONE;
		g->leader = n_alive ? leader : 0;
		if (n_alive)
			g->clock.synced = true; /* others follow this clock now */
	} else {
		if (!g->clock.following || leader != g->leader)
			group_clock_follow(&g->clock, now);
		g->leader = leader;
		g->role = g->clock.locked ? GROUP_MEMBER : GROUP_LOCKING;
	}
}

static void tick(struct group *g, int64_t now)
{
	pthread_mutex_lock(&g->lock);
	run_election(g, now);
	struct group_msg hello = {.type = GROUP_HELLO,
	                          .role = (uint8_t)g->role,
	                          .flags = g->clock.synced ? GROUP_FLAG_SYNCED : 0,
	                          .leader = g->leader,
	                          .t1 = group_clock_now(&g->clock, now)};
	struct group_msg clk = hello;
	bool leading = g->role == GROUP_LEADER, following = g->leader && !leading;
	pthread_mutex_unlock(&g->lock);
	send_msg(g, &hello);
	if (leading) {
		clk.type = GROUP_BEACON;
		send_msg(g, &clk);
	} else if (following) {
		clk.type = GROUP_DELAY_REQ;
		clk.target = clk.leader;
		clk.t1 = mono_ns();
		g->pending_t1[g->pending_next++ % PENDING] = clk.t1;
		send_msg(g, &clk);
	}
}

/* ---------- what arrives ---------- */

static void answer_delay(struct group *g, const struct group_msg *req, int64_t received)
{
	pthread_mutex_lock(&g->lock);
	bool leading = g->leader == g->cfg.member || g->role == GROUP_ALONE;
	int64_t t2 = group_clock_now(&g->clock, received);
	pthread_mutex_unlock(&g->lock);
	if (!leading)
		return;
	struct group_msg resp = {.type = GROUP_DELAY_RESP,
	                         .role = GROUP_LEADER,
	                         .flags = GROUP_FLAG_SYNCED,
	                         .leader = g->cfg.member,
	                         .target = req->sender,
	                         .t1 = req->t1,
	                         .t2 = t2};
	pthread_mutex_lock(&g->lock);
	resp.t3 = group_clock_now(&g->clock, mono_ns());
	pthread_mutex_unlock(&g->lock);
	send_msg(g, &resp);
}

static void take_delay(struct group *g, const struct group_msg *resp, int64_t received)
{
	bool asked = false;
	for (unsigned i = 0; i < PENDING; i++)
		if (g->pending_t1[i] && g->pending_t1[i] == resp->t1) {
			g->pending_t1[i] = 0; /* each answer counts once */
			asked = true;
		}
	if (!asked)
		return;
	pthread_mutex_lock(&g->lock);
	if (resp->sender == g->leader && g->clock.following) {
		group_clock_sample(&g->clock, resp->t1, resp->t2, resp->t3, received);
		g->role = g->clock.locked ? GROUP_MEMBER : GROUP_LOCKING;
	}
	pthread_mutex_unlock(&g->lock);
}

/* Each (session, seq) is taken once: a replay window of 64 like IPsec's. A
 * new session (the member started again) replaces one not heard for the
 * timeout, so recorded messages of an old session cannot talk over it. */
static bool fresh(struct peer *p, const struct group_msg *m, int64_t now)
{
	if (m->session != p->session || !p->seq) {
		if (p->seq && alive(p, now))
			return false;
		p->session = m->session;
		p->seq = m->seq;
		p->window = 1;
		return true;
	}
	if (m->seq > p->seq) {
		uint64_t shift = m->seq - p->seq;
		p->window = shift >= 64 ? 1 : p->window << shift | 1;
		p->seq = m->seq;
		return true;
	}
	uint64_t back = p->seq - m->seq;
	if (back >= 64 || (p->window >> back & 1))
		return false;
	p->window |= UINT64_C(1) << back;
	return true;
}

/* A HELLO or BEACON carries the sender's group time: one far from ours,
 * once ours is the group's, is a recording played back (a live member's
 * clock is within milliseconds of ours). */
static bool plausible(struct group *g, const struct group_msg *m, int64_t now)
{
	pthread_mutex_lock(&g->lock);
	bool synced = g->clock.synced;
	int64_t ours = group_clock_now(&g->clock, now);
	pthread_mutex_unlock(&g->lock);
	int64_t gap = m->t1 - ours;
	return !synced || !(m->flags & GROUP_FLAG_SYNCED) || (gap < REPLAY_GAP_NS && gap > -REPLAY_GAP_NS);
}

static void receive(struct group *g, int fd)
{
	for (int burst = 0; burst < 64; burst++) {
		uint8_t buf[GROUP_WIRE_SIZE + 1];
		ssize_t n = recv(fd, buf, sizeof buf, 0);
		if (n < 0)
			return; /* EAGAIN, or an ICMP error: nothing more now */
		int64_t now = mono_ns();
		struct group_msg m;
		if (!group_wire_decode(buf, (size_t)n, g->cfg.tag, g->cfg.key, &m))
			continue; /* another group, a stranger, a forgery: not a word */
		if (m.sender == g->cfg.member) {
			if (m.session != g->session && now - g->warned_dup_ns > 60 * INT64_C(1000000000)) {
				g->warned_dup_ns = now;
				log_event(LOG_WARN, "another screen uses this screen's member number in the sync group",
				          "group", g->cfg.id, NULL);
			}
			continue;
		}
		struct peer *p = peer_of(g, m.sender);
		if (!p)
			continue; /* not a member of the group as the manifest says */
		if (!fresh(p, &m, now))
			continue; /* a replay or a duplicate */
		if ((m.type == GROUP_HELLO || m.type == GROUP_BEACON) && !plausible(g, &m, now))
			continue;
		p->heard_ns = now;
		if (m.type == GROUP_HELLO || m.type == GROUP_BEACON) {
			p->role = m.role;
			p->flags = m.flags;
		} else if (m.type == GROUP_DELAY_REQ && m.target == g->cfg.member) {
			answer_delay(g, &m, now);
		} else if (m.type == GROUP_DELAY_RESP && m.target == g->cfg.member) {
			take_delay(g, &m, now);
		}
	}
}

/* ---------- the thread ---------- */

static void apply_config(struct group *g, const struct group_config *c, int64_t now)
{
	bool same_seat = strcmp(c->id, g->cfg.id) == 0 && c->member == g->cfg.member && c->id[0];
	close_sockets(g);
	pthread_mutex_lock(&g->lock);
	g->cfg = *c;
	if (!same_seat)
		group_clock_init(&g->clock, now, wall_ns()); /* a new group: start from the wall clock */
	g->role = GROUP_ALONE;
	g->leader = 0;
	g->peers_alive = 0;
	pthread_mutex_unlock(&g->lock);
	memset(g->peers, 0, sizeof g->peers);
	for (unsigned i = 0; i < c->n_members; i++)
		g->peers[i].number = c->members[i];
	memset(g->pending_t1, 0, sizeof g->pending_t1);
	randombytes_buf(&g->session, sizeof g->session);
	g->seq = 0;
	if (c->id[0]) {
		open_sockets(g, now);
		log_event(LOG_INFO, "in a sync group", "group", c->id, NULL);
	}
	g->next_tick_ns = now;
}

static void *run(void *arg)
{
	struct group *g = arg;
	for (;;) {
		pthread_mutex_lock(&g->lock);
		bool stop = g->stop, changed = g->have_next;
		struct group_config c = g->next;
		g->have_next = false;
		pthread_mutex_unlock(&g->lock);
		if (stop)
			break;
		int64_t now = mono_ns();
		if (changed)
			apply_config(g, &c, now);
		sodium_memzero(&c, sizeof c);
		bool in_group = g->cfg.id[0];
		if (in_group && g->disc_fd < 0 && now >= g->open_again_ns)
			open_sockets(g, now);
		if (in_group && now >= g->next_tick_ns) {
			tick(g, now);
			g->next_tick_ns += TICK_NS;
			if (g->next_tick_ns <= now)
				g->next_tick_ns = now + TICK_NS;
		}
		struct pollfd pf[3] = {{.fd = g->wake[0], .events = POLLIN},
		                       {.fd = g->disc_fd, .events = POLLIN},
		                       {.fd = g->clock_fd, .events = POLLIN}};
		int64_t until = in_group ? g->next_tick_ns : now + 60 * INT64_C(1000000000);
		if (in_group && g->disc_fd < 0 && g->open_again_ns < until)
			until = g->open_again_ns;
		int timeout = until > now ? (int)((until - now + 999999) / 1000000) : 0;
		if (poll(pf, 3, timeout) < 0 && errno != EINTR)
			break;
		if (pf[0].revents & POLLIN) {
			char drain[16];
			while (read(g->wake[0], drain, sizeof drain) > 0) {
			}
		}
		if (pf[2].revents & POLLIN)
			receive(g, g->clock_fd);
		if (pf[1].revents & POLLIN)
			receive(g, g->disc_fd);
	}
	close_sockets(g);
	return NULL;
}

struct group *group_create(const char *interface, char *err, size_t errsz)
{
	struct group *g = calloc(1, sizeof *g);
	if (!g) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	g->disc_fd = g->clock_fd = -1;
	if (interface && *interface) {
		if (inet_pton(AF_INET, interface, &g->ifreq.imr_address) != 1) {
			unsigned index = if_nametoindex(interface);
			if (!index) {
				snprintf(err, errsz, "--sync-interface: no interface or IPv4 address \"%s\"",
				         interface);
				free(g);
				return NULL;
			}
			g->ifreq.imr_ifindex = (int)index;
		}
	}
	group_clock_init(&g->clock, mono_ns(), wall_ns());
	pthread_mutex_init(&g->lock, NULL);
	if (pipe2(g->wake, O_NONBLOCK | O_CLOEXEC) != 0 || pthread_create(&g->thread, NULL, run, g) != 0) {
		snprintf(err, errsz, "cannot start the sync-group thread: %s", strerror(errno));
		pthread_mutex_destroy(&g->lock);
		free(g);
		return NULL;
	}
	return g;
}

void group_destroy(struct group *g)
{
	if (!g)
		return;
	pthread_mutex_lock(&g->lock);
	g->stop = true;
	pthread_mutex_unlock(&g->lock);
	if (write(g->wake[1], "s", 1) < 0)
		log_event(LOG_WARN, "cannot wake the sync-group thread", "error", strerror(errno), NULL);
	pthread_join(g->thread, NULL);
	close(g->wake[0]);
	close(g->wake[1]);
	pthread_mutex_destroy(&g->lock);
	sodium_memzero(g, sizeof *g);
	free(g);
}

void group_read(struct group *g, struct group_view *v)
{
	memset(v, 0, sizeof *v);
	pthread_mutex_lock(&g->lock);
	v->configured = g->cfg.id[0] != '\0';
	snprintf(v->group_id, sizeof v->group_id, "%s", g->cfg.id);
	v->member = g->cfg.member;
	v->leader = g->leader;
	v->role = g->role;
	v->local_ns = mono_ns();
	v->group_ns = group_clock_now(&g->clock, v->local_ns);
	v->error_ms = group_clock_error_ns(&g->clock) / 1e6;
	v->delay_ms = g->clock.following && g->clock.have_target ? (double)g->clock.delay_ns / 1e6 : 0;
	v->peers = g->peers_alive;
	v->steps = g->clock.steps;
	v->epoch_ms = g->cfg.epoch_ms;
	pthread_mutex_unlock(&g->lock);
}

void group_heartbeat(struct group *g, json_t *body)
{
	struct group_view v;
	group_read(g, &v);
	if (!v.configured)
		return;
	json_t *s = json_pack("{s:s, s:s, s:o, s:f, s:f, s:i}", "group", v.group_id, "state", group_role_name(v.role),
	                      "leader", v.leader ? json_integer(v.leader) : json_null(), "offset_ms",
	                      (double)llround(v.error_ms * 1000) / 1000, "delay_ms",
	                      (double)llround(v.delay_ms * 1000) / 1000, "peers", (int)v.peers);
	if (s)
		json_object_set_new(body, "sync", s);
}
