/*
 * The store's life cycle (db.h): store_open() names the database file of
 * the data folder and brings its schema up to date, store_db() gives each
 * thread its own connection (opened on first use) and store_close() closes
 * them all. It sits above the SQLite backend (sqlite.c) and the migrations
 * (migrate.c), which do not call it back.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/log.h"
#include "db.h"

extern const struct migration store_migrations[];
extern const size_t store_migrations_count;

/* Every connection opened by store_db(), closed by store_close(). */
struct open_connection {
	struct db *db;
	struct open_connection *next;
};

static char db_path[4096];
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
	if (db_url && *db_url && strcmp(db_url, "sqlite:") != 0) {
		log_event(LOG_ERROR, "unsupported database URL (sqlite: or postgresql://...)", NULL);
		return -1;
	}
	int n = snprintf(db_path, sizeof db_path, "%s/vitrine.db", data_dir);
	if (n < 0 || (size_t)n >= sizeof db_path) {
		db_path[0] = '\0';
		log_event(LOG_ERROR, "the data folder's path is too long", "data", data_dir, NULL);
		return -1;
	}
	struct db *db = store_db();
	if (!db)
		return -1;
	return store_migrate(db, store_migrations, store_migrations_count);
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
	db = db_open_file(db_path);
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
