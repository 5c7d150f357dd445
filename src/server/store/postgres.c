/*
 * PostgreSQL backend of the store (db.h), on libpq: what the areas expect
 * of SQLite, kept on a server several Vitrine servers share.
 *
 * - SQL: the portable text is rewritten once per statement
 *   (postgres_sql.c) and prepared on first use with the types its
 *   bindings have (integers as bigint, text left for the server to infer;
 *   where nothing gives a parameter a type, text is retried as text). The
 *   functions SQLite has and PostgreSQL lacks are created by store_open
 *   (COMPAT_SQL below).
 * - Transactions: a writer takes one advisory lock of the database first,
 *   so writers run one at a time across every server, as SQLite's
 *   BEGIN IMMEDIATE makes them within one; a reader gets a read-only
 *   REPEATABLE READ snapshot, as a SQLite read transaction does.
 * - A failed insert inside a transaction does not spoil it: each runs
 *   after a savepoint it returns to on failure, so a caller can handle a
 *   constraint error and carry on, as with SQLite (a failed update or
 *   delete ends the transaction: its callers answer with an error and roll
 *   back). A write outside a transaction takes the writers' lock in a
 *   transaction of its own.
 * - Failures by cause: constraint violations are DB_CONSTRAINT, a lost or
 *   refused connection, a serialization failure or a server shutting down
 *   DB_BUSY (the caller answers 503 and the client retries), a full disk
 *   DB_FULL, anything else DB_ERROR. A lost connection is re-established
 *   at the next transaction (at most every RESET_EVERY_MS), and its
 *   prepared statements prepared again.
 * - Wake-ups: the keys a transaction queued are sent with pg_notify inside
 *   it (postgres_publish), so other servers hear of them exactly when it
 *   commits; postgres_listen.c receives them.
 */
#include "postgres.h"

#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../common/buf.h"
#include "../../common/log.h"
#include "../../common/monotonic.h"
#include "backend.h"
#include "postgres_sql.h"

#define STMT_CACHE       256
#define RESET_EVERY_MS   250
#define WRITE_LOCK_KEY   "7302174" /* pg_advisory_xact_lock key of the writers */
#define FULL_LOG_EVERY_S 10
#define INT8OID          20
#define TEXTOID          25
#define MAX_OWN_PIDS     256
#define WRITE_BEGIN      "BEGIN ISOLATION LEVEL READ COMMITTED; SELECT pg_advisory_xact_lock(" WRITE_LOCK_KEY ")"

struct pg_stmt {
	struct db_stmt base;
	const char *sql; /* cache key: the caller's string (usually a literal) */
	char *source;    /* a copy of it */
	char *text;      /* rewritten for PostgreSQL */
	int nparams;
	char **values; /* bound values (owned); NULL binds NULL */
	char *kinds;   /* per parameter: 'i' integer, 't' text, 'n' NULL */
	char *prepared_kinds;
	bool prepared, text_typed, write, insert;
	char name[16];
	PGresult *res;
	int row, nrows;
	bool executed;
};

struct pg_db {
	struct db base;
	PGconn *h;
	struct pg_stmt *cache[STMT_CACHE];
	size_t ncache;
	unsigned next_name;
	int64_t changes;
	int64_t reset_tried_ms;
};

static const struct db_backend postgres_backend;

/* --- the backend PIDs of this process's connections (postgres_listen.c
 * ignores the wake-ups they send: they were delivered locally) --- */

static pthread_mutex_t pids_lock = PTHREAD_MUTEX_INITIALIZER;
static int own_pids[MAX_OWN_PIDS];

static void pid_set(int old, int new)
{
	pthread_mutex_lock(&pids_lock);
	for (int i = 0; i < MAX_OWN_PIDS; i++)
		if (own_pids[i] == old) {
			own_pids[i] = new;
			break;
		}
	pthread_mutex_unlock(&pids_lock);
}

bool postgres_own_pid(int pid)
{
	bool yes = false;
	pthread_mutex_lock(&pids_lock);
	for (int i = 0; i < MAX_OWN_PIDS && !yes; i++)
		yes = pid != 0 && own_pids[i] == pid;
	pthread_mutex_unlock(&pids_lock);
	return yes;
}

/* --- connections --- */

static struct pg_db *conn(struct db *db)
{
	return (struct pg_db *)db;
}

static struct pg_stmt *stmt(struct db_stmt *st)
{
	return (struct pg_stmt *)st;
}

bool postgres_url(const char *url)
{
	return url && (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0);
}

static void quiet_notices(void *arg, const char *message)
{
	(void)arg;
	(void)message; /* NOTICEs (e.g. "no transaction in progress") are not errors */
}

PGconn *postgres_connect(const char *url, bool quiet)
{
	const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
	const char *values[] = {url, "5", "vitrine-server", NULL};
	PGconn *h = PQconnectdbParams(keys, values, 1);
	if (!h)
		return NULL;
	if (PQstatus(h) != CONNECTION_OK) {
		if (!quiet) {
			/* libpq's message names the host and port, never the password */
			char *msg = PQerrorMessage(h), *nl = strchr(msg, '\n');
			if (nl && nl[1] == '\0')
				*nl = '\0';
			log_event(LOG_ERROR, "cannot connect to PostgreSQL", "error", msg, NULL);
		}
		PQfinish(h);
		return NULL;
	}
	PQsetNoticeProcessor(h, quiet_notices, NULL);
	return h;
}

struct db *postgres_open(const char *url)
{
	struct pg_db *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	if (!(c->h = postgres_connect(url, false))) {
		free(c);
		return NULL;
	}
	db_base_init(&c->base, &postgres_backend);
	pid_set(0, PQbackendPID(c->h));
	return &c->base;
}

static void stmt_clear_result(struct pg_stmt *s)
{
	PQclear(s->res);
	s->res = NULL;
	s->executed = false;
	s->row = s->nrows = 0;
}

static void stmt_free(struct pg_stmt *s)
{
	if (!s)
		return;
	stmt_clear_result(s);
	for (int i = 0; i < s->nparams; i++)
		free(s->values[i]);
	free(s->values);
	free(s->kinds);
	free(s->prepared_kinds);
	free(s->text);
	free(s->source);
	free(s);
}

/* Drops s and its prepared statement on the server. */
static void stmt_forget(struct pg_db *c, struct pg_stmt *s)
{
	if (s && s->prepared && PQstatus(c->h) == CONNECTION_OK) {
		char dealloc[32];
		snprintf(dealloc, sizeof dealloc, "DEALLOCATE %s", s->name);
		PQclear(PQexec(c->h, dealloc));
	}
	stmt_free(s);
}

static void pg_close(struct db *db)
{
	struct pg_db *c = conn(db);
	for (size_t i = 0; i < c->ncache; i++)
		stmt_free(c->cache[i]);
	pid_set(PQbackendPID(c->h), 0);
	PQfinish(c->h);
	db_base_free(db);
	free(c);
}

/* After the connection was lost: a new session, nothing prepared in it.
 * A connection the server closed while idle (a restart: it says goodbye
 * first) is noticed here, by reading what waits on its socket, rather than
 * by the request that would use it. */
static bool reconnect(struct pg_db *c)
{
	/* between statements the server has nothing to say, unless it is
	 * closing the session (a restart, pg_terminate_backend) */
	struct pollfd idle = {.fd = PQsocket(c->h), .events = POLLIN};
	bool closing = idle.fd >= 0 && poll(&idle, 1, 0) == 1;
	if (PQstatus(c->h) == CONNECTION_OK && !closing)
		return true;
	int64_t now = monotonic_ms();
	if (!closing && c->reset_tried_ms && now - c->reset_tried_ms < RESET_EVERY_MS)
		return false;
	c->reset_tried_ms = now;
	int old = PQbackendPID(c->h);
	PQreset(c->h);
	if (PQstatus(c->h) != CONNECTION_OK)
		return false;
	pid_set(old, PQbackendPID(c->h));
	for (size_t i = 0; i < c->ncache; i++) {
		c->cache[i]->prepared = false;
		stmt_clear_result(c->cache[i]);
	}
	c->reset_tried_ms = 0;
	log_event(LOG_INFO, "reconnected to PostgreSQL", NULL);
	return true;
}

/* Maps a failed result (or a lost connection: res NULL) to DB_*. */
static int failure(struct pg_db *c, const PGresult *res, const char *what)
{
	static _Atomic int64_t full_logged_at;
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(c->h);
	char line[512];
	snprintf(line, sizeof line, "%s", msg && *msg ? msg : "?");
	line[strcspn(line, "\n")] = '\0';
	if (PQstatus(c->h) != CONNECTION_OK || !state || strncmp(state, "08", 2) == 0 ||
	    strncmp(state, "57P", 3) == 0) {
		log_event(LOG_WARN, "PostgreSQL unavailable", "error", line, NULL);
		return db_failed(&c->base, DB_BUSY);
	}
	if (strncmp(state, "23", 2) == 0)
		return db_failed(&c->base, DB_CONSTRAINT);
	if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 || strcmp(state, "55P03") == 0 ||
	    (strncmp(state, "53", 2) == 0 && strcmp(state, "53100") != 0)) {
		log_event(LOG_WARN, "database busy", "error", line, NULL);
		return db_failed(&c->base, DB_BUSY);
	}
	if (strcmp(state, "53100") == 0) {
		int64_t now = (int64_t)time(NULL), last = atomic_load(&full_logged_at);
		if (now - last >= FULL_LOG_EVERY_S && atomic_compare_exchange_strong(&full_logged_at, &last, now))
			log_event(LOG_ERROR, "the database's disk is full: writes are refused until space is freed",
			          "error", line, NULL);
		return db_failed(&c->base, DB_FULL);
	}
	log_event(LOG_ERROR, "database error", "error", line, "sqlstate", state, "in", what, NULL);
	return db_failed(&c->base, DB_ERROR);
}

/* Runs a command with no result rows; DB_DONE or the failure. */
static int command(struct pg_db *c, const char *sql)
{
	PGresult *res = PQexec(c->h, sql);
	ExecStatusType s = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	int rc = s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK ? DB_DONE : failure(c, res, sql);
	PQclear(res);
	return rc;
}

static int pg_exec_native(struct db *db, const char *sql)
{
	return command(conn(db), sql) == DB_DONE ? 0 : -1;
}

static int pg_exec_script(struct db *db, const char *sql)
{
	char *text = pg_translate(sql, true, NULL);
	if (!text)
		return -1;
	int rc = pg_exec_native(db, text);
	free(text);
	return rc;
}

static int pg_begin(struct db *db, bool write)
{
	struct pg_db *c = conn(db);
	for (int attempt = 0;; attempt++) {
		if (!reconnect(c)) {
			log_event(LOG_WARN, "PostgreSQL unavailable", "error", "not connected", NULL);
			return db_failed(db, DB_BUSY);
		}
		int rc = command(c, write ? WRITE_BEGIN : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
		/* a connection the server closed (it restarted) shows only when
		 * used: open it again at once and begin once more */
		if (rc == DB_BUSY && PQstatus(c->h) != CONNECTION_OK && attempt == 0) {
			c->reset_tried_ms = 0;
			continue;
		}
		return rc;
	}
}

static int pg_commit(struct db *db)
{
	struct pg_db *c = conn(db);
	PGresult *res = PQexec(c->h, "COMMIT");
	int rc;
	if (res && PQresultStatus(res) == PGRES_COMMAND_OK && strcmp(PQcmdStatus(res), "COMMIT") == 0)
		rc = DB_DONE;
	else if (res && PQresultStatus(res) == PGRES_COMMAND_OK) /* "ROLLBACK": a statement had failed */
		rc = db_failed(db, DB_ERROR);
	else
		rc = failure(c, res, "COMMIT");
	PQclear(res);
	return rc;
}

static void pg_rollback(struct db *db)
{
	PQclear(PQexec(conn(db)->h, "ROLLBACK"));
}

static int pg_publish(struct db *db, const char *keys, size_t nkeys)
{
	struct buf array;
	buf_init(&array, nkeys * (DB_NOTIFY_KEY_LEN * 2 + 3) + 3);
	bool ok = buf_addstr(&array, "{") == BUF_OK;
	for (size_t i = 0; ok && i < nkeys; i++) {
		const char *k = keys + i * DB_NOTIFY_KEY_LEN;
		ok = buf_addstr(&array, i ? ",\"" : "\"") == BUF_OK;
		for (; ok && *k; k++)
			ok = (*k == '"' || *k == '\\' ? buf_add(&array, "\\", 1) : BUF_OK) == BUF_OK &&
			     buf_add(&array, k, 1) == BUF_OK;
		ok = ok && buf_addstr(&array, "\"") == BUF_OK;
	}
	ok = ok && buf_addstr(&array, "}") == BUF_OK;
	if (!ok) {
		buf_free(&array);
		return db_failed(db, DB_ERROR);
	}
	const char *values[1] = {buf_str(&array)};
	struct pg_db *c = conn(db);
	PGresult *res = PQexecParams(c->h, "SELECT pg_notify('" POSTGRES_CHANNEL "', k) FROM unnest($1::text[]) k", 1,
	                             NULL, values, NULL, NULL, 0);
	int rc = res && PQresultStatus(res) == PGRES_TUPLES_OK ? DB_DONE : failure(c, res, "pg_notify");
	PQclear(res);
	buf_free(&array);
	return rc;
}

/* --- statements --- */

static bool is_write(const char *text)
{
	while (*text == ' ' || *text == '\n' || *text == '\t' || *text == '(')
		text++;
	return strncasecmp(text, "INSERT", 6) == 0 || strncasecmp(text, "UPDATE", 6) == 0 ||
	       strncasecmp(text, "DELETE", 6) == 0 || strncasecmp(text, "WITH", 4) == 0;
}

static struct pg_stmt *stmt_new(struct db *db, const char *sql)
{
	struct pg_stmt *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->base.db = db;
	s->sql = sql;
	if (!(s->source = strdup(sql)) || !(s->text = pg_translate(sql, false, &s->nparams))) {
		free(s->source);
		free(s);
		return NULL;
	}
	int n = s->nparams ? s->nparams : 1;
	s->values = calloc((size_t)n, sizeof *s->values);
	s->kinds = calloc((size_t)n + 1, 1);
	s->prepared_kinds = calloc((size_t)n + 1, 1);
	if (!s->values || !s->kinds || !s->prepared_kinds) {
		stmt_free(s);
		return NULL;
	}
	memset(s->kinds, 'n', (size_t)s->nparams);
	s->write = is_write(s->text);
	s->insert = strncasecmp(s->text + strspn(s->text, " \n\t"), "INSERT", 6) == 0;
	return s;
}

static void stmt_unbind(struct pg_stmt *s)
{
	for (int i = 0; i < s->nparams; i++) {
		free(s->values[i]);
		s->values[i] = NULL;
		s->kinds[i] = 'n';
	}
}

static struct db_stmt *pg_prepare(struct db *db, const char *sql)
{
	struct pg_db *c = conn(db);
	/* the key is the caller's pointer, the text compared too (see sqlite.c) */
	for (size_t i = 0; i < c->ncache; i++)
		if (c->cache[i]->sql == sql) {
			if (strcmp(c->cache[i]->source, sql) != 0) {
				stmt_forget(c, c->cache[i]);
				c->cache[i] = c->cache[--c->ncache];
				c->cache[c->ncache] = NULL;
				break;
			}
			stmt_clear_result(c->cache[i]);
			stmt_unbind(c->cache[i]);
			return &c->cache[i]->base;
		}
	struct pg_stmt *s = stmt_new(db, sql);
	if (!s) {
		log_event(LOG_ERROR, "sql prepare failed", "error", "out of memory", NULL);
		return NULL;
	}
	size_t slot = c->ncache < STMT_CACHE ? c->ncache++ : (size_t)(((uintptr_t)sql >> 4) % STMT_CACHE);
	stmt_forget(c, c->cache[slot]);
	c->cache[slot] = s;
	return &s->base;
}

static void bind_value(struct db_stmt *st, int idx, char *value, char kind)
{
	struct pg_stmt *s = stmt(st);
	if (idx < 1 || idx > s->nparams) {
		free(value);
		return;
	}
	free(s->values[idx - 1]);
	s->values[idx - 1] = value;
	s->kinds[idx - 1] = value ? kind : 'n';
}

static void pg_bind_text(struct db_stmt *st, int idx, const char *text)
{
	bind_value(st, idx, text ? strdup(text) : NULL, 't');
}

static void pg_bind_int(struct db_stmt *st, int idx, int64_t v)
{
	char num[24];
	snprintf(num, sizeof num, "%lld", (long long)v);
	bind_value(st, idx, strdup(num), 'i');
}

/* Prepares s on the server for the kinds bound now: integers as bigint,
 * text untyped (the server infers it from the context); where that leaves
 * a parameter without a type, once more with text (and a parameter the
 * statement never binds or uses) as text. Inside a
 * transaction the attempts run under a savepoint, so a refused one leaves
 * the transaction usable. */
static int server_prepare(struct pg_db *c, struct pg_stmt *s)
{
	bool in_tx = c->base.in_tx;
	Oid *types = calloc((size_t)(s->nparams ? s->nparams : 1), sizeof *types);
	if (!types)
		return db_failed(&c->base, DB_ERROR);
	if (s->prepared) {
		char dealloc[32];
		snprintf(dealloc, sizeof dealloc, "DEALLOCATE %s", s->name);
		PQclear(PQexec(c->h, dealloc));
		s->prepared = false;
	}
	snprintf(s->name, sizeof s->name, "v%u", ++c->next_name);
	int rc = DB_ERROR;
	for (int attempt = 0; attempt < 2; attempt++) {
		bool text_typed = attempt == 1;
		for (int i = 0; i < s->nparams; i++)
			types[i] = s->kinds[i] == 'i' ? INT8OID : text_typed ? TEXTOID : 0;
		if (in_tx && (rc = command(c, "SAVEPOINT vitrine_prepare")) != DB_DONE)
			break;
		PGresult *res = PQprepare(c->h, s->name, s->text, s->nparams, types);
		ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
		const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
		bool untyped = state && (strcmp(state, "42P18") == 0 || strcmp(state, "42725") == 0 ||
		                         strcmp(state, "42804") == 0 || strcmp(state, "42883") == 0);
		if (st == PGRES_COMMAND_OK) {
			rc = in_tx ? command(c, "RELEASE SAVEPOINT vitrine_prepare") : DB_DONE;
			PQclear(res);
			if (rc == DB_DONE) {
				s->prepared = true;
				s->text_typed = text_typed;
				memcpy(s->prepared_kinds, s->kinds, (size_t)s->nparams);
			}
			break;
		}
		if (in_tx)
			PQclear(PQexec(c->h, "ROLLBACK TO SAVEPOINT vitrine_prepare"));
		if (!untyped || text_typed) {
			rc = failure(c, res, s->text);
			PQclear(res);
			break;
		}
		PQclear(res);
	}
	free(types);
	return rc;
}

/* Reads the result of one query sent in pipeline mode (and the NULL that
 * ends it). */
static PGresult *pipeline_result(PGconn *h)
{
	PGresult *r = PQgetResult(h);
	if (r)
		for (PGresult *more; (more = PQgetResult(h));)
			PQclear(more);
	return r;
}

/* Sends the commands of before, s, the commands of after and a sync in
 * one round trip (libpq's pipeline mode). Returns s's result (NULL if the
 * connection failed); *failed receives the first command that failed other
 * than s (the caller clears it), else NULL. A command after a failure is
 * not run (PGRES_PIPELINE_ABORTED). */
static PGresult *exec_pipelined(struct pg_db *c, struct pg_stmt *s, const char *const *before, int nbefore,
                                const char *const *after, int nafter, PGresult **failed)
{
	*failed = NULL;
	PGconn *h = c->h;
	if (!PQenterPipelineMode(h))
		return NULL;
	bool sent = true;
	for (int i = 0; sent && i < nbefore; i++)
		sent = PQsendQueryParams(h, before[i], 0, NULL, NULL, NULL, NULL, 0);
	sent = sent && PQsendQueryPrepared(h, s->name, s->nparams, (const char *const *)s->values, NULL, NULL, 0);
	for (int i = 0; sent && i < nafter; i++)
		sent = PQsendQueryParams(h, after[i], 0, NULL, NULL, NULL, NULL, 0);
	sent = sent && PQpipelineSync(h);
	PGresult *res = NULL;
	for (int i = 0; sent && i < nbefore + 1 + nafter; i++) {
		PGresult *r = pipeline_result(h);
		if (i == nbefore) {
			res = r;
			continue;
		}
		ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
		bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_PIPELINE_ABORTED;
		if (!ok && !*failed && r)
			*failed = r;
		else
			PQclear(r);
	}
	if (sent) {
		PGresult *sync;
		while ((sync = PQgetResult(h)) && PQresultStatus(sync) != PGRES_PIPELINE_SYNC)
			PQclear(sync);
		PQclear(sync);
	}
	PQexitPipelineMode(h);
	return res;
}

static int pg_step(struct db_stmt *st)
{
	struct pg_stmt *s = stmt(st);
	struct pg_db *c = conn(st->db);
	if (!s->executed) {
		bool retried = false;
	again:
		if (c->base.in_tx ? PQstatus(c->h) != CONNECTION_OK : !reconnect(c))
			return failure(c, NULL, s->text);
		if (!s->prepared || memcmp(s->kinds, s->prepared_kinds, (size_t)s->nparams) != 0) {
			int rc = server_prepare(c, s);
			if (rc != DB_DONE)
				return rc;
		}
		/* an insert inside a transaction goes behind a savepoint (callers
		 * handle a constraint error there and carry on: a code that
		 * collides, a duplicate that collapses); a write on its own takes
		 * the writers' lock in a transaction of its own, as a SQLite
		 * statement outside a transaction takes the write lock; either way
		 * in one round trip. Updates and deletes go without: a savepoint
		 * per statement makes a subtransaction each, and a transaction
		 * with thousands of them (a batch of updates) slows every other
		 * snapshot in the database. */
		static const char *const savepoint[] = {"SAVEPOINT vitrine_write"};
		static const char *const lock[] = {"BEGIN ISOLATION LEVEL READ COMMITTED",
		                                   "SELECT pg_advisory_xact_lock(" WRITE_LOCK_KEY ")"};
		static const char *const commit[] = {"COMMIT"};
		bool guarded = s->insert && c->base.in_tx, alone = s->write && !c->base.in_tx;
		PGresult *failed = NULL;
		if (guarded)
			s->res = exec_pipelined(c, s, savepoint, 1, NULL, 0, &failed);
		else if (alone)
			s->res = exec_pipelined(c, s, lock, 2, commit, 1, &failed);
		else
			s->res =
			    PQexecPrepared(c->h, s->name, s->nparams, (const char *const *)s->values, NULL, NULL, 0);
		s->executed = true;
		ExecStatusType status = s->res ? PQresultStatus(s->res) : PGRES_FATAL_ERROR;
		if (status == PGRES_FATAL_ERROR && !s->write && !c->base.in_tx && !retried &&
		    PQstatus(c->h) != CONNECTION_OK) {
			/* a read on its own over a connection the server closed: once
			 * more over a new one */
			retried = true;
			stmt_clear_result(s);
			c->reset_tried_ms = 0;
			goto again;
		}
		if ((status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) || failed) {
			int rc = failure(c, failed && status != PGRES_FATAL_ERROR ? failed : s->res, s->text);
			PQclear(failed);
			if ((guarded || alone) && PQstatus(c->h) == CONNECTION_OK)
				PQclear(PQexec(c->h, guarded ? "ROLLBACK TO SAVEPOINT vitrine_write" : "ROLLBACK"));
			stmt_clear_result(s);
			s->executed = true;
			return rc;
		}
		const char *tuples = PQcmdTuples(s->res);
		c->changes = *tuples ? strtoll(tuples, NULL, 10) : 0;
		s->nrows = status == PGRES_TUPLES_OK ? PQntuples(s->res) : 0;
		s->row = -1;
	}
	if (s->row + 1 < s->nrows) {
		s->row++;
		return DB_ROW;
	}
	return DB_DONE;
}

static bool has_cell(const struct pg_stmt *s, int col)
{
	return s->res && s->row >= 0 && s->row < s->nrows && col >= 0 && col < PQnfields(s->res);
}

static const char *pg_col_text(struct db_stmt *st, int col)
{
	struct pg_stmt *s = stmt(st);
	return has_cell(s, col) ? PQgetvalue(s->res, s->row, col) : "";
}

static bool pg_col_is_null(struct db_stmt *st, int col)
{
	struct pg_stmt *s = stmt(st);
	return !has_cell(s, col) || PQgetisnull(s->res, s->row, col);
}

static int64_t pg_col_int(struct db_stmt *st, int col)
{
	const char *v = pg_col_text(st, col);
	if (strcmp(v, "t") == 0) /* a boolean expression */
		return 1;
	return strtoll(v, NULL, 10);
}

static void pg_done(struct db_stmt *st)
{
	stmt_clear_result(stmt(st));
}

static int64_t pg_changes(struct db *db)
{
	return conn(db)->changes;
}

static const struct db_backend postgres_backend = {
    .name = "postgresql",
    .close = pg_close,
    .exec_script = pg_exec_script,
    .exec_native = pg_exec_native,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .prepare = pg_prepare,
    .bind_text = pg_bind_text,
    .bind_int = pg_bind_int,
    .step = pg_step,
    .col_text = pg_col_text,
    .col_is_null = pg_col_is_null,
    .col_int = pg_col_int,
    .done = pg_done,
    .changes = pg_changes,
    .publish = pg_publish,
};

/* --- what the portable SQL expects of PostgreSQL --- */

static const char COMPAT_SQL[] =
    "CREATE COLLATION IF NOT EXISTS nocase (provider = icu, locale = 'und-u-ks-level2', deterministic = false);"
    "CREATE OR REPLACE FUNCTION json_valid(t text) RETURNS boolean LANGUAGE plpgsql IMMUTABLE STRICT AS $$"
    " BEGIN PERFORM t::json; RETURN true; EXCEPTION WHEN others THEN RETURN false; END $$;"
    "CREATE OR REPLACE FUNCTION json_extract(t text, path text) RETURNS text LANGUAGE sql IMMUTABLE STRICT AS $$"
    " SELECT (t::jsonb) #>> CASE WHEN path = '$' THEN '{}'::text[] ELSE string_to_array(substr(path, 3), '.') END"
    " $$;"
    "CREATE OR REPLACE FUNCTION json_each(t text) RETURNS TABLE(key text, value text, type text)"
    " LANGUAGE sql IMMUTABLE STRICT AS $$"
    " SELECT k, v #>> '{}', json_typeof(v) FROM json_each(CASE WHEN json_typeof(t::json) = 'object'"
    "  THEN t::json ELSE '{}'::json END) AS e(k, v)"
    " UNION ALL SELECT (o - 1)::text, v #>> '{}', json_typeof(v) FROM json_array_elements(CASE WHEN"
    "  json_typeof(t::json) = 'array' THEN t::json ELSE '[]'::json END) WITH ORDINALITY AS a(v, o) $$;"
    "CREATE OR REPLACE FUNCTION vitrine_count_true(n bigint, b boolean) RETURNS bigint LANGUAGE sql IMMUTABLE"
    " AS $$ SELECT n + CASE WHEN b THEN 1 ELSE 0 END $$;"
    "CREATE OR REPLACE AGGREGATE sum(boolean) (sfunc = vitrine_count_true, stype = bigint, initcond = '0');"
    "CREATE OR REPLACE FUNCTION max(a bigint, b bigint) RETURNS bigint LANGUAGE sql IMMUTABLE STRICT AS $$"
    " SELECT greatest(a, b) $$;"
    "CREATE OR REPLACE FUNCTION min(a bigint, b bigint) RETURNS bigint LANGUAGE sql IMMUTABLE STRICT AS $$"
    " SELECT least(a, b) $$;";

int postgres_install_compat(struct db *db)
{
	if (db_begin(db, true) != DB_DONE)
		return -1;
	if (pg_exec_native(db, COMPAT_SQL) != 0 || db_commit(db) != DB_DONE) {
		db_rollback(db);
		log_event(LOG_ERROR, "cannot create the compatibility functions in PostgreSQL", NULL);
		return -1;
	}
	return 0;
}
