/*
 * Presence (presence.h): a hash table of screens heard from, and a list of
 * "delivered" marks, behind one mutex; the background step takes a copy of
 * what is pending, writes it outside the lock, and on failure puts it back.
 * The screens with a last_seen not written yet are also on a list of their
 * own, so a step looks at those only, not at the whole table.
 */
#include "presence.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../common/buf.h"
#include "../../common/codes.h"
#include "../../common/log.h"
#include "../store/db.h"
#include "screens.h"

#define BUCKETS 4096
#define IP_LEN  64

struct seen {
	struct seen *next;
	struct seen *next_dirty; /* on the dirty list when dirty */
	char id[CODES_ID_LEN + 1];
	char account[CODES_ID_LEN + 1];
	char ip[IP_LEN];
	int64_t last_seen;
	bool dirty;       /* last_seen not written yet */
	bool came_online; /* the console has not been told yet */
};

struct mark {
	char id[CODES_ID_LEN + 1];
	int64_t at;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct seen *table[BUCKETS];
static struct seen *dirty_list;
static size_t n_dirty;
static struct buf marks;
static bool marks_ready;
static size_t marks_dropped;

#define MARKS_MAX ((size_t)PRESENCE_MAX_MARKS * sizeof(struct mark))

/* Under the lock. */
static void marks_init(void)
{
	if (!marks_ready)
		buf_init(&marks, MARKS_MAX);
	marks_ready = true;
}

/* the background step */
static pthread_t thread;
static pthread_cond_t cond;
static bool running, stopping, kicked;

static unsigned bucket_of(const char *id)
{
	unsigned h = 2166136261u; /* FNV-1a */
	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 16777619u;
	return h % BUCKETS;
}

static struct seen *find(const char *id)
{
	for (struct seen *s = table[bucket_of(id)]; s; s = s->next)
		if (strcmp(s->id, id) == 0)
			return s;
	return NULL;
}

/* Under the lock. */
static void make_dirty(struct seen *s)
{
	if (s->dirty)
		return;
	s->dirty = true;
	s->next_dirty = dirty_list;
	dirty_list = s;
	n_dirty++;
}

static void kick(void)
{
	kicked = true;
	if (running)
		pthread_cond_signal(&cond);
}

bool presence_seen(const char *screen_id, const char *account_id, const char *ip, int64_t now, int64_t store_last_seen)
{
	pthread_mutex_lock(&lock);
	struct seen *s = find(screen_id);
	if (!s && (s = calloc(1, sizeof *s))) {
		snprintf(s->id, sizeof s->id, "%s", screen_id);
		unsigned b = bucket_of(screen_id);
		s->next = table[b];
		table[b] = s;
	}
	bool was_offline = true;
	if (s) {
		int64_t before = s->last_seen > store_last_seen ? s->last_seen : store_last_seen;
		was_offline = !before || now - before > SCREENS_ONLINE_GRACE_S;
		snprintf(s->account, sizeof s->account, "%s", account_id);
		snprintf(s->ip, sizeof s->ip, "%s", ip ? ip : "");
		if (now > s->last_seen)
			s->last_seen = now;
		make_dirty(s);
		if (was_offline) {
			s->came_online = true;
			kick();
		}
	} else {
		log_event(LOG_WARN, "out of memory: a screen's last_seen is not recorded", "screen", screen_id, NULL);
	}
	pthread_mutex_unlock(&lock);
	return was_offline;
}

bool presence_seen_again(const char *screen_id, const char *account_id, const char *ip, int64_t now)
{
	pthread_mutex_lock(&lock);
	struct seen *s = find(screen_id);
	bool recent =
	    s && s->last_seen && now - s->last_seen <= SCREENS_ONLINE_GRACE_S && strcmp(s->account, account_id) == 0;
	if (recent) {
		snprintf(s->ip, sizeof s->ip, "%s", ip ? ip : "");
		if (now > s->last_seen)
			s->last_seen = now;
		make_dirty(s);
	}
	pthread_mutex_unlock(&lock);
	return recent;
}

void presence_forget(const char *screen_id)
{
	pthread_mutex_lock(&lock);
	for (struct seen **at = &table[bucket_of(screen_id)]; *at; at = &(*at)->next)
		if (strcmp((*at)->id, screen_id) == 0) {
			struct seen *gone = *at;
			*at = gone->next;
			if (gone->dirty)
				for (struct seen **d = &dirty_list; *d; d = &(*d)->next_dirty)
					if (*d == gone) {
						*d = gone->next_dirty;
						n_dirty--;
						break;
					}
			free(gone);
			break;
		}
	pthread_mutex_unlock(&lock);
}

bool presence_last_seen(const char *screen_id, int64_t store_last_seen, int64_t *last_seen, char *ip, size_t ipsz)
{
	pthread_mutex_lock(&lock);
	struct seen *s = find(screen_id);
	bool newer = s && s->last_seen > store_last_seen;
	if (newer) {
		*last_seen = s->last_seen;
		snprintf(ip, ipsz, "%s", s->ip);
	}
	pthread_mutex_unlock(&lock);
	return newer;
}

void presence_mark_delivered(const char *instruction_id, int64_t at)
{
	struct mark m = {.at = at};
	snprintf(m.id, sizeof m.id, "%s", instruction_id);
	pthread_mutex_lock(&lock);
	marks_init();
	if (buf_add(&marks, &m, sizeof m) != BUF_OK)
		marks_dropped++; /* only a status shown in the console: the instruction is delivered again */
	else
		kick();
	pthread_mutex_unlock(&lock);
}

/* What one step writes: a copy taken under the lock. */
struct pending {
	struct seen *seen; /* copies, no links */
	size_t n_seen;
	struct buf marks;
};

static void take_pending(struct pending *p)
{
	memset(p, 0, sizeof *p);
	buf_init(&p->marks, MARKS_MAX);
	pthread_mutex_lock(&lock);
	marks_init();
	p->seen = n_dirty ? malloc(n_dirty * sizeof *p->seen) : NULL;
	if (p->seen) {
		for (struct seen *s = dirty_list; s; s = s->next_dirty) {
			p->seen[p->n_seen++] = *s;
			s->dirty = s->came_online = false;
		}
		dirty_list = NULL;
		n_dirty = 0;
	}
	if (buf_len(&marks) && buf_add(&p->marks, buf_str(&marks), buf_len(&marks)) == BUF_OK)
		buf_reset(&marks);
	if (marks_dropped) {
		char n_text[24];
		snprintf(n_text, sizeof n_text, "%zu", marks_dropped);
		log_event(LOG_WARN, "delivery marks dropped (too many waiting)", "count", n_text, NULL);
		marks_dropped = 0;
	}
	kicked = false;
	pthread_mutex_unlock(&lock);
}

/* The step failed: what it took is pending again (newer values kept). */
static void give_back(struct pending *p)
{
	pthread_mutex_lock(&lock);
	marks_init();
	for (size_t i = 0; i < p->n_seen; i++) {
		struct seen *s = find(p->seen[i].id);
		if (s) {
			make_dirty(s);
			s->came_online |= p->seen[i].came_online;
		}
	}
	if (buf_len(&p->marks) && buf_add(&marks, buf_str(&p->marks), buf_len(&p->marks)) != BUF_OK)
		marks_dropped += buf_len(&p->marks) / sizeof(struct mark);
	pthread_mutex_unlock(&lock);
}

static int write_pending(struct db *db, const struct pending *p)
{
	int rc = db_begin(db, true);
	if (rc != DB_DONE)
		return rc;
	for (size_t i = 0; i < p->n_seen && rc == DB_DONE; i++) {
		const struct seen *s = &p->seen[i];
		rc = db_exec(db,
		             "UPDATE screens SET last_seen = MAX(last_seen, ?), last_ip = ? WHERE id = ? AND "
		             "deleted_at IS NULL",
		             "iss", s->last_seen, s->ip, s->id);
		if (rc == DB_DONE && s->came_online && db_changes(db) > 0)
			screens_touch(db, s->account, s->id); /* the console hears it came online */
	}
	const struct mark *m = (const struct mark *)(const void *)buf_str(&p->marks);
	for (size_t i = 0; i < buf_len(&p->marks) / sizeof *m && rc == DB_DONE; i++)
		rc = db_exec(db,
		             "UPDATE instructions SET status = 'delivered', deliveries = deliveries + 1, "
		             "delivered_at = ? WHERE id = ? AND status IN ('pending','delivered')",
		             "is", m[i].at, m[i].id);
	if (rc != DB_DONE) {
		db_rollback(db);
		return rc;
	}
	return db_commit(db);
}

int presence_flush(struct db *db)
{
	struct pending p;
	take_pending(&p);
	int rc = DB_DONE;
	if (p.n_seen || buf_len(&p.marks))
		rc = write_pending(db, &p);
	if (rc != DB_DONE)
		give_back(&p);
	free(p.seen);
	buf_free(&p.marks);
	return rc;
}

static void *presence_main(void *arg)
{
	(void)arg;
	struct db *db = store_db();
	bool failing = false;
	pthread_mutex_lock(&lock);
	while (!stopping) {
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += PRESENCE_FLUSH_S;
		/* after a failure, kicks wait for the next period: no retry storm */
		while (!stopping && (failing || !kicked) && pthread_cond_timedwait(&cond, &lock, &until) == 0)
			;
		if (stopping)
			break;
		pthread_mutex_unlock(&lock);
		int rc = db ? presence_flush(db) : DB_ERROR;
		if (rc != DB_DONE && !failing)
			log_event(LOG_WARN,
			          "screens' last_seen and delivery marks wait in memory: the store refused them",
			          "cause",
			          rc == DB_FULL   ? "disk full"
			          : rc == DB_BUSY ? "busy"
			                          : "error",
			          NULL);
		else if (rc == DB_DONE && failing)
			log_event(LOG_INFO, "screens' last_seen and delivery marks written again", NULL);
		failing = rc != DB_DONE;
		db = db ? db : store_db();
		pthread_mutex_lock(&lock);
	}
	pthread_mutex_unlock(&lock);
	if (db && presence_flush(db) != DB_DONE)
		log_event(LOG_WARN, "at stop, screens' last_seen could not be written (kept: the older one)", NULL);
	return NULL;
}

int presence_start(void)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_lock(&lock);
	stopping = false;
	running = pthread_create(&thread, NULL, presence_main, NULL) == 0;
	pthread_mutex_unlock(&lock);
	if (!running)
		pthread_cond_destroy(&cond);
	return running ? 0 : -1;
}

void presence_stop(void)
{
	pthread_mutex_lock(&lock);
	bool was_running = running;
	stopping = true;
	if (running)
		pthread_cond_signal(&cond);
	pthread_mutex_unlock(&lock);
	if (!was_running)
		return;
	pthread_join(thread, NULL);
	pthread_mutex_lock(&lock);
	running = false;
	pthread_mutex_unlock(&lock);
	pthread_cond_destroy(&cond);
}
