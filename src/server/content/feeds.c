/*
 * RSS/Atom feeds of channel items (SPEC section 3): a background thread
 * fetches, every feed_refresh_seconds, each distinct feed URL the channels
 * use, parses it (RSS 2.0, RSS 1.0 and Atom) into at most 50 plain-text
 * items and caches them in the feeds table. When a feed's items (or its
 * error) change, the manifests of the accounts using it are recompiled, so
 * screens get a manifest_changed at once. A failed fetch keeps the last
 * good items and records why.
 *
 * Safety: only http(s), at most 3 redirects, 15 s and 2 MiB; no proxy; the
 * socket is refused for loopback, private, link-local, unique-local,
 * multicast and unspecified addresses (unless feed_allow_private), checked
 * on every connection, redirects included. The XML parser never loads the
 * network, never substitutes entities (no XXE, no entity expansion bombs)
 * and only text and CDATA nodes are read.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "../../common/cidr.h"
#include "../../common/log.h"
#include "../http/server.h"
#include "../store/db.h"
#include "../store/tx.h"
#include "content.h"

#define FEED_MAX_BYTES   ((size_t)2 << 20)
#define FEED_MAX_ITEMS   50
#define FEED_TITLE_MAX   300
#define FEED_SUMMARY_MAX 500
#define FEED_LINK_MAX    2048
#define FEED_MAX_URLS    1000

static pthread_t feed_thread;
static pthread_mutex_t feed_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t feed_cond;
static bool feed_running, feed_kicked;
static atomic_bool feed_stopping;
static unsigned feed_every_s = 300;
static bool feed_allow_private;

static const char *const private_blocks[] = {
    "0.0.0.0/8",     "10.0.0.0/8",     "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "172.16.0.0/12", "192.168.0.0/16", "224.0.0.0/4",   "240.0.0.0/4", "::/128",
    "::1/128",       "fe80::/10",      "fc00::/7",      "ff00::/8",    NULL};

static bool address_private(const struct sockaddr *sa)
{
	char text[INET6_ADDRSTRLEN];
	const void *a = sa->sa_family == AF_INET    ? (const void *)&((const struct sockaddr_in *)sa)->sin_addr
	                : sa->sa_family == AF_INET6 ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
	                                            : NULL;
	struct cidr addr;
	if (!a || !inet_ntop(sa->sa_family, a, text, sizeof text) || cidr_parse_addr(text, &addr) != 0)
		return true; /* not an IP address: refused */
	for (const char *const *b = private_blocks; *b; b++) {
		struct cidr block;
		if (cidr_parse(*b, &block) == 0 && cidr_contains(&block, &addr))
			return true;
	}
	return false;
}

struct fetch {
	char *buf;
	size_t len;
	bool too_big, refused;
};

static curl_socket_t open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct fetch *f = arg;
	(void)purpose;
	if (!feed_allow_private && address_private(&a->addr)) {
		f->refused = true;
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype, a->protocol);
}

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct fetch *f = arg;
	size_t add = size * n;
	if (add > FEED_MAX_BYTES - f->len) {
		f->too_big = true;
		return 0;
	}
	char *nb = realloc(f->buf, f->len + add + 1);
	if (!nb)
		return 0;
	memcpy(nb + f->len, p, add);
	f->buf = nb;
	f->len += add;
	f->buf[f->len] = '\0';
	return add;
}

static int on_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	(void)arg, (void)a, (void)b, (void)c, (void)d;
	return atomic_load(&feed_stopping) ? 1 : 0; /* shutting down: abort */
}

/* Fetches url into f; 0, or -1 with a sentence in err. */
static int fetch(const char *url, struct fetch *f, char *err, size_t errsz)
{
	int status = -1;
	CURL *c = curl_easy_init();
	if (!c) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 3L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 15L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "vitrine-server");
	curl_easy_setopt(c, CURLOPT_PROXY, ""); /* the address check must see the real peer */
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)FEED_MAX_BYTES);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, f);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, f);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	CURLcode rc = curl_easy_perform(c);
	long code = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (f->refused)
		snprintf(err, errsz, "refused: the feed's address is private (see feed_allow_private)");
	else if (f->too_big || rc == CURLE_FILESIZE_EXCEEDED)
		snprintf(err, errsz, "the feed is larger than 2 MiB");
	else if (rc != CURLE_OK)
		snprintf(err, errsz, "fetch failed: %s", curl_easy_strerror(rc));
	else if (code != 200)
		snprintf(err, errsz, "the feed answered HTTP %ld", code);
	else if (!f->buf || f->len == 0)
		snprintf(err, errsz, "the feed is empty");
	else
		status = 0;
	curl_easy_cleanup(c);
	return status;
}

/* --- parsing --- */

struct text {
	char *s;
	size_t len, cap;
};

static void text_add(struct text *t, const char *s)
{
	size_t n = strlen(s);
	if (n > t->cap - t->len)
		n = t->cap - t->len;
	memcpy(t->s + t->len, s, n);
	t->len += n;
	t->s[t->len] = '\0';
}

/* The text and CDATA under n; entity references are skipped, never read. */
static void collect(xmlNode *n, struct text *t, int depth)
{
	for (xmlNode *k = n->children; k && depth < 16; k = k->next) {
		if ((k->type == XML_TEXT_NODE || k->type == XML_CDATA_SECTION_NODE) && k->content)
			text_add(t, (const char *)k->content);
		else if (k->type == XML_ELEMENT_NODE)
			collect(k, t, depth + 1);
	}
}

static const struct {
	const char *name, *text;
} html_entities[] = {{"&amp;", "&"}, {"&lt;", "<"},   {"&gt;", ">"},  {"&quot;", "\""},
                     {"&#39;", "'"}, {"&apos;", "'"}, {"&nbsp;", " "}};

/* Plain text in place: markup stripped (strip), whitespace collapsed,
 * control characters dropped, cut to max bytes on a UTF-8 boundary. */
static void clean(char *s, bool strip, size_t max)
{
	char *w = s;
	bool space = true, in_tag = false;
	for (const char *r = s; *r;) {
		unsigned char ch = (unsigned char)*r;
		if (strip && in_tag) {
			in_tag = ch != '>';
			r++;
			continue;
		}
		if (strip && ch == '<') {
			in_tag = true;
			r++;
			ch = ' ';
		} else if (strip && ch == '&') {
			bool done = false;
			for (size_t i = 0; i < sizeof html_entities / sizeof html_entities[0] && !done; i++) {
				size_t n = strlen(html_entities[i].name);
				if (strncmp(r, html_entities[i].name, n) == 0) {
					r += n;
					ch = (unsigned char)html_entities[i].text[0];
					done = true;
				}
			}
			if (!done)
				r++;
		} else {
			r++;
		}
		if (ch <= 0x20 || ch == 0x7f) {
			if (!space)
				*w++ = ' ';
			space = true;
			continue;
		}
		*w++ = (char)ch;
		space = false;
	}
	while (w > s && w[-1] == ' ')
		w--;
	*w = '\0';
	size_t len = (size_t)(w - s);
	if (len > max) {
		len = max;
		while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
			len--;
		s[len] = '\0';
	}
}

static bool named(xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && n->name && strcmp((const char *)n->name, name) == 0;
}

static char *field(xmlNode *item, const char *const *names, size_t cap, bool strip, size_t max)
{
	for (const char *const *nm = names; *nm; nm++)
		for (xmlNode *k = item->children; k; k = k->next)
			if (named(k, *nm)) {
				struct text t = {malloc(cap + 1), 0, cap};
				if (!t.s)
					return NULL;
				t.s[0] = '\0';
				collect(k, &t, 0);
				clean(t.s, strip, max);
				if (*t.s)
					return t.s;
				free(t.s);
			}
	return NULL;
}

static char *item_link(xmlNode *item)
{
	char *link = NULL;
	for (xmlNode *k = item->children; k && !link; k = k->next) {
		if (!named(k, "link"))
			continue;
		xmlChar *href = xmlGetProp(k, (const xmlChar *)"href");
		xmlChar *rel = xmlGetProp(k, (const xmlChar *)"rel");
		if (href && (!rel || strcmp((const char *)rel, "alternate") == 0))
			link = strdup((const char *)href);
		xmlFree(href);
		xmlFree(rel);
	}
	if (!link) {
		static const char *const names[] = {"link", NULL};
		link = field(item, names, FEED_LINK_MAX, false, FEED_LINK_MAX);
	}
	if (link && strncmp(link, "https://", 8) != 0 && strncmp(link, "http://", 7) != 0) {
		free(link);
		link = NULL;
	}
	return link;
}

static void add_item(json_t *items, xmlNode *item)
{
	static const char *const titles[] = {"title", NULL};
	static const char *const summaries[] = {"description", "summary", "content", "encoded", NULL};
	static const char *const dates[] = {"pubDate", "published", "updated", "date", NULL};
	char *title = field(item, titles, 4096, false, FEED_TITLE_MAX);
	char *summary = field(item, summaries, 16384, true, FEED_SUMMARY_MAX);
	char *date = field(item, dates, 100, false, 100);
	char *link = item_link(item);
	if (title || summary) {
		json_t *t = json_string(title ? title : ""), *s = json_string(summary ? summary : "");
		json_t *l = json_string(link ? link : ""), *d = json_string(date ? date : "");
		json_array_append_new(items, json_pack("{s:o, s:o, s:o, s:o}", "title", t ? t : json_string(""),
		                                       "summary", s ? s : json_string(""), "link",
		                                       l ? l : json_string(""), "published", d ? d : json_string("")));
	}
	free(title);
	free(summary);
	free(date);
	free(link);
}

/* Parses an RSS or Atom document; the items (new reference) or NULL with a
 * sentence in err. */
static json_t *parse(const char *buf, size_t len, char *err, size_t errsz)
{
	json_t *items = NULL;
	xmlDoc *doc =
	    xmlReadMemory(buf, (int)len, NULL, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
	if (!root) {
		snprintf(err, errsz, "the feed is not well-formed XML");
		goto out;
	}
	if (!named(root, "rss") && !named(root, "feed") && !named(root, "RDF")) {
		snprintf(err, errsz, "the document is not an RSS or Atom feed");
		goto out;
	}
	items = json_array();
	/* RSS 2.0: rss/channel/item; RSS 1.0: RDF/item; Atom: feed/entry */
	for (xmlNode *n = root->children; n && json_array_size(items) < FEED_MAX_ITEMS; n = n->next) {
		if (named(n, "item") || named(n, "entry"))
			add_item(items, n);
		else if (named(n, "channel"))
			for (xmlNode *k = n->children; k && json_array_size(items) < FEED_MAX_ITEMS; k = k->next)
				if (named(k, "item"))
					add_item(items, k);
	}
out:
	xmlFreeDoc(doc);
	return items;
}

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
			if (content_refresh_manifests(db, account, NULL) != 0)
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
		char err[256] = "";
		struct fetch f = {0};
		json_t *items = fetch(url, &f, err, sizeof err) == 0 ? parse(f.buf, f.len, err, sizeof err) : NULL;
		free(f.buf);
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

int feeds_start(unsigned refresh_s, bool allow_private)
{
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
