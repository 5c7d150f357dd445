/*
 * The store's life cycle (db.h): store_open() picks the backend from the
 * database URL (the data folder's vitrine.db, or a PostgreSQL server) and
 * brings its schema up to date, store_db() gives each thread its own
 * connection (opened on first use) and store_close() closes them all. On
 * PostgreSQL it also installs the compatibility functions and runs the
 * listener that wakes local waiters for other servers' commits. It sits
 * above the backends (sqlite.c, postgres.c) and the migrations (migrate.c),
 * which do not call it back.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/log.h"
#include "backend.h"
#include "db.h"
#include "postgres.h"

extern const struct migration store_migrations[];
extern const size_t store_migrations_count;

/* Every connection opened by store_db(), closed by store_close(). */
struct open_connection {
	struct db *db;
	struct open_connection *next;
};

/* the SQLite file or the PostgreSQL URL every connection opens */
static char db_path[4096];
static bool db_postgres;
static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static struct open_connection *open_list;

static void tls_init(void)
{
	pthread_key_create(&tls_key, NULL);
}

int store_open(const char *data_dir, const char *db_url)
{
	pthread_once(&tls_once, tls_init);
	db_postgres = postgres_url(db_url);
	if (db_url && *db_url && strcmp(db_url, "sqlite:") != 0 && !db_postgres) {
		log_event(LOG_ERROR, "unsupported database URL: use sqlite: or postgresql://...", NULL);
		return -1;
	}
	int n = db_postgres ? snprintf(db_path, sizeof db_path, "%s", db_url)
	                    : snprintf(db_path, sizeof db_path, "%s/vitrine.db", data_dir);
	if (n < 0 || (size_t)n >= sizeof db_path) {
		db_path[0] = '\0';
		log_event(LOG_ERROR,
		          db_postgres ? "the database URL is too long" : "the data folder's path is too long", NULL);
		return -1;
	}
	struct db *db = store_db();
	if (!db)
		return -1;
	if (db_postgres && postgres_install_compat(db) != 0)
		return -1;
	if (store_migrate(db, store_migrations, store_migrations_count) != 0)
		return -1;
	return db_postgres ? postgres_listen_start(db_path) : 0;
}

struct db *store_open_connection(void)
{
	if (!db_path[0])
		return NULL;
	return db_postgres ? postgres_open(db_path) : sqlite_open(db_path);
}

struct db *store_db(void)
{
	pthread_once(&tls_once, tls_init);
	struct db *db = pthread_getspecific(tls_key);
	if (db)
		return db;
	if (!db_path[0])
		return NULL; /* store_open() was not called or failed */
	struct open_connection *c = malloc(sizeof *c);
	if (!c)
		return NULL;
	db = store_open_connection();
	if (!db) {
		free(c);
		return NULL;
	}
	c->db = db;
	pthread_mutex_lock(&open_lock);
	c->next = open_list;
	open_list = c;
	pthread_mutex_unlock(&open_lock);
	pthread_setspecific(tls_key, db);
	return db;
}

void store_close(void)
{
	postgres_listen_stop();
	pthread_mutex_lock(&open_lock);
	struct open_connection *c = open_list;
	open_list = NULL;
	pthread_mutex_unlock(&open_lock);
	while (c) {
		struct open_connection *next = c->next;
		db_close(c->db);
		free(c);
		c = next;
	}
	/* other threads' TLS slots now dangle; only the main thread calls this,
	 * after every worker has stopped */
	pthread_setspecific(tls_key, NULL);
}
