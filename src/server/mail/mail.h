/*
 * Outgoing e-mail of the server (live chat transcripts, messages visitors
 * leave while no operator is online). A mail is queued in mail_outbox in
 * the caller's transaction, so it exists exactly when what caused it was
 * stored; a sender thread then hands it to the configured SMTP server
 * (libcurl: smtp:// with STARTTLS when offered or required, or smtps://)
 * outside any transaction, and retries with a growing delay (30 s, 1 min,
 * 2 min, ... 8 tries in about two hours) before marking it failed. Nothing
 * is sent when smtp_url is empty: the features that need mail say so.
 *
 *   message.c  the RFC 5322 text: headers checked for CR/LF, the subject
 *              RFC 2047-encoded when it is not ASCII, the body base64
 *   smtp.c     one delivery through libcurl
 *   outbox.c   the queue, the sender thread, its settings
 */
#ifndef VITRINE_MAIL_H
#define VITRINE_MAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../common/buf.h"
#include "../store/db.h"

#define MAIL_ADDRESS_MAX 254
#define MAIL_ID_LEN      22

enum mail_tls { MAIL_TLS_TRY, MAIL_TLS_REQUIRE, MAIL_TLS_OFF };

struct mail_settings {
	char url[512]; /* smtp://host:port or smtps://host:port; "" = no mail */
	char from[MAIL_ADDRESS_MAX + 1];
	char user[256];
	char password[256];
	enum mail_tls tls;
	unsigned timeout_s;
};
extern struct mail_settings mail_settings;

/* Checks and takes the smtp_* settings; -1 with a sentence in err. */
int mail_configure(const char *url, const char *from, const char *user, const char *password, const char *tls,
                   char *err, size_t errsz);
bool mail_enabled(void);

/* A bare address (local@domain.tld): printable ASCII, no spaces, no
 * display name, nothing a header could be split with. */
bool mail_address_ok(const char *s);

/* Builds the whole message into out (CRLF lines). Every header value must
 * be free of CR and LF (the caller checked); subject and body are UTF-8. */
int mail_message(struct buf *out, const char *from, const char *to, const char *reply_to, const char *subject,
                 const char *body, int64_t now);

/* One delivery. 0, or -1 with the server's or libcurl's reason in err. */
int mail_smtp_send(const struct mail_settings *s, const char *to, const char *message, size_t len, char *err,
                   size_t errsz);

/* Queues a mail in the caller's transaction. kind and ref (e.g.
 * "chat_transcript" and a chat id) are for limits and the console; to and
 * reply_to (or NULL) must pass mail_address_ok. DB_DONE, DB_ERROR when mail
 * is not configured or the message cannot be built, or a store code. */
int mail_queue(struct db *db, const char *account_id, const char *kind, const char *ref, const char *to,
               const char *reply_to, const char *subject, const char *body, char id_out[MAIL_ID_LEN + 1]);
/* Mails of kind about ref queued since `since` (for per-ref limits). */
int64_t mail_count(struct db *db, const char *kind, const char *ref, int64_t since);

/* One pass of the sender: claims due mails, sends them, records each
 * outcome. Returns how many were sent (tests), -1 on a store error. */
int mail_send_due(struct db *db, int64_t now);
/* The sender thread (started when mail is configured) and its stop. */
int mail_start(void);
void mail_stop(void);

#endif
