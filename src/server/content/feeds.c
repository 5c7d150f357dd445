/*
 * RSS/Atom feeds of channel items (SPEC section 3), the thread and the
 * cache: every feed_refresh_seconds a background thread fetches
 * (feed_fetch.c) each distinct feed URL the channels use, parses it
 * (feed_parse.c) into at most 50 plain-text items and caches them in the
 * feeds table. When a feed's items (or its error) change, it calls the
 * "changed" callback given to feeds_start for each account using the feed
 * (the server passes content_refresh_manifests, so screens get a
 * manifest_changed at once; feeds.c does not call manifest.c). A failed
 * fetch keeps the last good items and records why.
 */
#include <curl/curl.h>
#include <errno.h>
#include <libxml/parser.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../common/log.h"
#include "../http/server.h"
#include "../store/db.h"
#include "../store/tx.h"
#include "content.h"
#include "feed_fetch.h"
#include "feed_parse.h"

#define FEED_MAX_URLS 1000

static pthread_t feed_thread;
static pthread_mutex_t feed_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t feed_cond;
static bool feed_running, feed_kicked;
static atomic_bool feed_stopping;
static unsigned feed_every_s = 300;
static bool feed_allow_private;
static feeds_changed_fn feed_changed;

/* --- the cache --- */

struct store_ctx {
	const char *url;
	json_t *items; /* NULL: the fetch failed, keep the last good ones */
	const char *error;
	json_t *accounts; /* account id -> true */
};

static int store_feed(struct db *db, void *arg)
{
	struct store_ctx *x = arg;
	int rc;
	char *old_items = NULL, *old_error = NULL;
	int64_t items_at = 0, now = (int64_t)time(NULL);
	struct db_stmt *st = db_query(db, &rc, "SELECT items, error, items_at FROM feeds WHERE url = ?", "s", x->url);
	if (st) {
		old_items = strdup(db_col_text(st, 0));
		old_error = strdup(db_col_text(st, 1));
		items_at = db_col_int(st, 2);
		db_done(st);
	} else if (rc != DB_DONE) {
		return -1;
	}
	char *text = x->items ? json_dumps(x->items, JSON_COMPACT) : NULL;
	const char *items = text ? text : old_items ? old_items : "[]";
	bool items_changed = !old_items || strcmp(old_items, items) != 0;
	bool changed = items_changed || !old_error || strcmp(old_error, x->error) != 0;
	if (items_changed)
		items_at = now;
	int status = -1;
	if (db_exec(
	        db,
	        "INSERT INTO feeds(url, fetched_at, items_at, ok, error, items) VALUES(?,?,?,?,?,?) ON CONFLICT(url) "
	        "DO UPDATE SET fetched_at = excluded.fetched_at, items_at = excluded.items_at, ok = excluded.ok, "
	        "error = excluded.error, items = excluded.items",
	        "siiiss", x->url, now, items_at, (int64_t)(x->items != NULL), x->error, items) != DB_DONE)
		goto out;
	status = 0;
	if (changed) {
		const char *account;
		json_t *v;
		json_object_foreach (x->accounts, account, v)
			if (feed_changed && feed_changed(db, account, NULL) != 0)
				status = -1;
	}
out:
	free(text);
	free(old_items);
	free(old_error);
	return status;
}

/* url -> {account id: true} for every rss item of every channel; with
 * only_new, just the URLs never fetched. */
static json_t *used_feeds(bool only_new)
{
	struct db *db = store_db();
	if (!db || db_begin(db, false) != DB_DONE)
		return NULL;
	json_t *urls = json_object();
	struct db_stmt *st =
	    db_prepare(db, "SELECT account_id, body FROM channels WHERE body LIKE '%\"type\":\"rss\"%'");
	while (st && db_step(st) == DB_ROW) {
		json_error_t e;
		json_t *body = json_loads(db_col_text(st, 1), 0, &e);
		size_t zi, ii;
		json_t *zone, *item;
		json_array_foreach (json_object_get(body, "zones"), zi, zone) {
			json_array_foreach (json_object_get(zone, "items"), ii, item) {
				const char *url = json_string_value(json_object_get(item, "rss"));
				if (!url)
					continue;
				json_t *acc = json_object_get(urls, url);
				if (!acc && json_object_size(urls) < FEED_MAX_URLS)
					json_object_set_new(urls, url, acc = json_object());
				if (acc)
					json_object_set_new(acc, db_col_text(st, 0), json_true());
			}
		}
		json_decref(body);
	}
	db_done(st);
	if (only_new) {
		const char *url;
		json_t *v, *tmp;
		json_object_foreach_safe(urls, tmp, url, v)
		{
			int rc;
			struct db_stmt *q = db_query(db, &rc, "SELECT 1 FROM feeds WHERE url = ?", "s", url);
			db_done(q);
			if (q)
				json_object_del(urls, url);
		}
	}
	db_commit(db);
	return urls;
}

static void refresh_feeds(bool only_new)
{
	json_t *urls = used_feeds(only_new);
	const char *url;
	json_t *accounts;
	json_object_foreach (urls, url, accounts) {
		if (atomic_load(&feed_stopping))
			break;
		char err[256] = "", *doc = NULL;
		size_t len = 0;
		json_t *items = feed_fetch(url, feed_allow_private, &feed_stopping, &doc, &len, err, sizeof err) == 0
		                    ? feed_parse(doc, len, err, sizeof err)
		                    : NULL;
		free(doc);
		if (!items)
			log_event(LOG_WARN, "feed not refreshed", "error", err, NULL);
		struct store_ctx x = {url, items, items ? "" : err, accounts};
		if (store_with_tx(store_feed, &x) < 0)
			log_event(LOG_WARN, "feed not stored", NULL);
		json_decref(items);
	}
	json_decref(urls);
}

static void *feed_main(void *arg)
{
	(void)arg;
	bool only_new = false;
	pthread_mutex_lock(&feed_lock);
	while (!atomic_load(&feed_stopping)) {
		pthread_mutex_unlock(&feed_lock);
		refresh_feeds(only_new);
		pthread_mutex_lock(&feed_lock);
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += feed_every_s;
		int rc = 0;
		while (!atomic_load(&feed_stopping) && !feed_kicked && rc != ETIMEDOUT)
			rc = pthread_cond_timedwait(&feed_cond, &feed_lock, &until);
		only_new = feed_kicked && rc != ETIMEDOUT;
		feed_kicked = false;
	}
	pthread_mutex_unlock(&feed_lock);
	return NULL;
}

int feeds_start(unsigned refresh_s, bool allow_private, feeds_changed_fn changed)
{
	feed_changed = changed;
	feed_every_s = refresh_s;
	feed_allow_private = allow_private;
	atomic_store(&feed_stopping, false);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		return -1;
	xmlInitParser();
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&feed_cond, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&feed_thread, NULL, feed_main, NULL) != 0) {
		pthread_cond_destroy(&feed_cond);
		return -1;
	}
	pthread_mutex_lock(&feed_lock);
	feed_running = true;
	pthread_mutex_unlock(&feed_lock);
	return 0;
}

void feeds_stop(void)
{
	pthread_mutex_lock(&feed_lock);
	bool running = feed_running;
	feed_running = false;
	atomic_store(&feed_stopping, true);
	if (running)
		pthread_cond_signal(&feed_cond);
	pthread_mutex_unlock(&feed_lock);
	if (!running)
		return;
	pthread_join(feed_thread, NULL);
	pthread_cond_destroy(&feed_cond);
	curl_global_cleanup();
}

void feeds_kick(void)
{
	pthread_mutex_lock(&feed_lock);
	if (feed_running) {
		feed_kicked = true;
		pthread_cond_signal(&feed_cond);
	}
	pthread_mutex_unlock(&feed_lock);
}

json_t *feeds_manifest_json(struct db *db, const char *url, json_int_t max_items)
{
	int rc;
	struct db_stmt *st = db_query(db, &rc, "SELECT items, items_at, error FROM feeds WHERE url = ?", "s", url);
	if (!st)
		return json_pack("{s:[], s:i}", "items", "fetched_at", 0);
	json_error_t e;
	json_t *all = json_loads(db_col_text(st, 0), 0, &e), *items = json_array();
	for (size_t i = 0; i < json_array_size(all) && (json_int_t)i < max_items; i++)
		json_array_append(items, json_array_get(all, i));
	json_decref(all);
	json_t *out = json_pack("{s:o, s:I}", "items", items, "fetched_at", (json_int_t)db_col_int(st, 1));
	if (*db_col_text(st, 2))
		json_object_set_new(out, "error", json_string(db_col_text(st, 2)));
	db_done(st);
	return out;
}
