/*
 * The mail queue and its sender (mail.h). mail_queue stores the finished
 * message in mail_outbox inside the caller's transaction; the sender thread
 * wakes every second (or at once after mail_queue), claims what is due by
 * moving its next_at two minutes ahead (so another server of the same
 * database, or a pass that crashed mid-way, leaves it alone until then),
 * sends outside any transaction, and records the outcome: sent_at, or one
 * more attempt with a doubled delay, failed_at after MAIL_TRIES. The log
 * names a mail by id and never holds an address or a body.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../common/codes.h"
#include "../../common/log.h"
#include "../../common/periodic.h"
#include "mail.h"

#define MAIL_TRIES       8
#define MAIL_FIRST_RETRY 30  /* seconds; doubled after each failure */
#define MAIL_LEASE       120 /* a claimed mail is left alone this long */
#define MAIL_BATCH       8
#define MAIL_MESSAGE_MAX (1u << 20)

struct mail_settings mail_settings = {.timeout_s = 30};

bool mail_enabled(void)
{
	return mail_settings.url[0] != 0;
}

int mail_configure(const char *url, const char *from, const char *user, const char *password, const char *tls,
                   char *err, size_t errsz)
{
	memset(&mail_settings, 0, sizeof mail_settings);
	mail_settings.timeout_s = 30;
	if (!url || !*url)
		return 0;
	if ((strncmp(url, "smtp://", 7) != 0 && strncmp(url, "smtps://", 8) != 0) ||
	    strlen(url) >= sizeof mail_settings.url) {
		snprintf(err, errsz,
		         "smtp_url must be smtp://HOST[:PORT] or smtps://HOST[:PORT] (at most 500 characters)");
		return -1;
	}
	if (!mail_address_ok(from)) {
		snprintf(err, errsz, "smtp_from must be the sender's address (local@domain) when smtp_url is set");
		return -1;
	}
	if (strlen(user) >= sizeof mail_settings.user || strlen(password) >= sizeof mail_settings.password) {
		snprintf(err, errsz, "smtp_user and smtp_password have at most 255 characters");
		return -1;
	}
	if (strcmp(tls, "try") == 0)
		mail_settings.tls = MAIL_TLS_TRY;
	else if (strcmp(tls, "require") == 0)
		mail_settings.tls = MAIL_TLS_REQUIRE;
	else if (strcmp(tls, "off") == 0)
		mail_settings.tls = MAIL_TLS_OFF;
	else {
		snprintf(err, errsz, "smtp_tls must be try, require or off");
		return -1;
	}
	snprintf(mail_settings.url, sizeof mail_settings.url, "%s", url);
	snprintf(mail_settings.from, sizeof mail_settings.from, "%s", from);
	snprintf(mail_settings.user, sizeof mail_settings.user, "%s", user);
	snprintf(mail_settings.password, sizeof mail_settings.password, "%s", password);
	return 0;
}

static void sender_pass(void *arg);
static struct periodic sender = PERIODIC_INIT(sender_pass, NULL, 1);

int mail_queue(struct db *db, const char *account_id, const char *kind, const char *ref, const char *to,
               const char *reply_to, const char *subject, const char *body, char id_out[MAIL_ID_LEN + 1])
{
	if (!mail_enabled() || !mail_address_ok(to) || (reply_to && *reply_to && !mail_address_ok(reply_to)) ||
	    strpbrk(subject, "\r\n"))
		return DB_ERROR;
	struct buf msg;
	buf_init(&msg, MAIL_MESSAGE_MAX);
	int64_t now = (int64_t)time(NULL);
	if (mail_message(&msg, mail_settings.from, to, reply_to, subject, body, now) != 0) {
		buf_free(&msg);
		return DB_ERROR;
	}
	char id[CODES_ID_LEN + 1];
	codes_new_id(id);
	int rc = db_exec(db,
	                 "INSERT INTO mail_outbox(id, account_id, kind, ref, to_addr, message, created_at, next_at) "
	                 "VALUES(?,?,?,?,?,?,?,?)",
	                 "ssssssii", id, account_id, kind, ref ? ref : "", to, buf_str(&msg), now, now);
	buf_free(&msg);
	if (rc == DB_DONE) {
		if (id_out)
			snprintf(id_out, MAIL_ID_LEN + 1, "%s", id);
		periodic_kick(&sender); /* a pass before the commit finds nothing; the next one a second later does */
	}
	return rc;
}

int64_t mail_count(struct db *db, const char *kind, const char *ref, int64_t since)
{
	struct db_stmt *st =
	    db_query(db, NULL, "SELECT COUNT(*) FROM mail_outbox WHERE kind = ? AND ref = ? AND created_at >= ?", "ssi",
	             kind, ref, since);
	int64_t n = st ? db_col_int(st, 0) : 0;
	db_done(st);
	return n;
}

struct claimed {
	char id[CODES_ID_LEN + 1];
	char to[MAIL_ADDRESS_MAX + 1];
	char *message;
	int64_t attempts;
};

static size_t claim(struct db *db, int64_t now, struct claimed *out)
{
	size_t n = 0;
	if (db_begin(db, true) != DB_DONE)
		return 0;
	struct db_stmt *st = db_prepare(db, "SELECT id, to_addr, message, attempts FROM mail_outbox WHERE sent_at = 0 "
	                                    "AND failed_at = 0 AND next_at <= ? ORDER BY next_at LIMIT ?");
	if (st) {
		db_bind_int(st, 1, now);
		db_bind_int(st, 2, MAIL_BATCH);
		while (n < MAIL_BATCH && db_step(st) == DB_ROW) {
			snprintf(out[n].id, sizeof out[n].id, "%s", db_col_text(st, 0));
			snprintf(out[n].to, sizeof out[n].to, "%s", db_col_text(st, 1));
			out[n].message = strdup(db_col_text(st, 2));
			out[n].attempts = db_col_int(st, 3);
			if (out[n].message)
				n++;
		}
		db_done(st);
	}
	int rc = DB_DONE;
	for (size_t i = 0; rc == DB_DONE && i < n; i++)
		rc = db_exec(db, "UPDATE mail_outbox SET next_at = ? WHERE id = ?", "is", now + MAIL_LEASE, out[i].id);
	if (rc == DB_DONE && db_commit(db) == DB_DONE)
		return n;
	db_rollback(db);
	for (size_t i = 0; i < n; i++)
		free(out[i].message);
	return 0;
}

int mail_send_due(struct db *db, int64_t now)
{
	if (!mail_enabled())
		return 0;
	struct claimed batch[MAIL_BATCH];
	size_t n = claim(db, now, batch);
	int sent = 0;
	for (size_t i = 0; i < n; i++) {
		char err[300] = "";
		bool ok = mail_smtp_send(&mail_settings, batch[i].to, batch[i].message, strlen(batch[i].message), err,
		                         sizeof err) == 0;
		free(batch[i].message);
		int64_t tries = batch[i].attempts + 1, at = (int64_t)time(NULL);
		int rc;
		if (ok) {
			rc = db_exec(db,
			             "UPDATE mail_outbox SET sent_at = ?, attempts = ?, last_error = '' WHERE id = ?",
			             "iis", at, tries, batch[i].id);
			sent++;
		} else {
			bool last = tries >= MAIL_TRIES;
			int64_t delay = (int64_t)MAIL_FIRST_RETRY << (tries - 1 < 12 ? tries - 1 : 12);
			rc = db_exec(db,
			             "UPDATE mail_outbox SET attempts = ?, next_at = ?, failed_at = ?, last_error = ? "
			             "WHERE id = ?",
			             "iiiss", tries, at + delay, last ? at : 0, err, batch[i].id);
			char tries_s[24];
			snprintf(tries_s, sizeof tries_s, "%lld", (long long)tries);
			log_event(last ? LOG_ERROR : LOG_WARN, last ? "mail not sent: giving up" : "mail not sent yet",
			          "mail", batch[i].id, "attempt", tries_s, "reason", err, NULL);
		}
		if (rc != DB_DONE)
			log_event(LOG_WARN, "mail outcome not recorded: it may be sent again", "mail", batch[i].id,
			          NULL);
	}
	return sent;
}

static void sender_pass(void *arg)
{
	(void)arg;
	struct db *db = store_db();
	if (db)
		while (mail_send_due(db, (int64_t)time(NULL)) == MAIL_BATCH) {
		}
}

int mail_start(void)
{
	return mail_enabled() ? periodic_start(&sender) : 0;
}

void mail_stop(void)
{
	periodic_stop(&sender);
}
