/*
 * One SMTP delivery through libcurl (mail.h): MAIL FROM the configured
 * sender, RCPT TO one address, the message as DATA (libcurl escapes lines
 * that start with a dot). smtp:// upgrades with STARTTLS when the server
 * offers it (smtp_tls = try), insists on it (require) or never tries (off);
 * smtps:// is TLS from the first byte. Certificates are verified. Only the
 * smtp and smtps protocols are allowed, whatever the URL says.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include "mail.h"

struct reader {
	const char *data;
	size_t len, off;
};

static size_t read_message(char *dst, size_t size, size_t nmemb, void *arg)
{
	struct reader *rd = arg;
	size_t room = size * nmemb, left = rd->len - rd->off;
	size_t n = left < room ? left : room;
	memcpy(dst, rd->data + rd->off, n);
	rd->off += n;
	return n;
}

int mail_smtp_send(const struct mail_settings *s, const char *to, const char *message, size_t len, char *err,
                   size_t errsz)
{
	CURL *c = curl_easy_init();
	if (!c) {
		snprintf(err, errsz, "libcurl could not start");
		return -1;
	}
	char from[MAIL_ADDRESS_MAX + 3], rcpt[MAIL_ADDRESS_MAX + 3], curl_err[CURL_ERROR_SIZE] = "";
	snprintf(from, sizeof from, "<%s>", s->from);
	snprintf(rcpt, sizeof rcpt, "<%s>", to);
	struct curl_slist *rcpts = curl_slist_append(NULL, rcpt);
	struct reader rd = {.data = message, .len = len};
	curl_easy_setopt(c, CURLOPT_URL, s->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(c, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpts);
	curl_easy_setopt(c, CURLOPT_READFUNCTION, read_message);
	curl_easy_setopt(c, CURLOPT_READDATA, &rd);
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(c, CURLOPT_USE_SSL,
	                 s->tls == MAIL_TLS_REQUIRE ? (long)CURLUSESSL_ALL
	                 : s->tls == MAIL_TLS_OFF   ? (long)CURLUSESSL_NONE
	                                            : (long)CURLUSESSL_TRY);
	if (*s->user) {
		curl_easy_setopt(c, CURLOPT_USERNAME, s->user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, s->password);
	}
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)s->timeout_s);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
	CURLcode rc = curl_easy_perform(c);
	long code = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(rcpts);
	curl_easy_cleanup(c);
	if (rc == CURLE_OK)
		return 0;
	snprintf(err, errsz, "%s (SMTP %ld)", *curl_err ? curl_err : curl_easy_strerror(rc), code);
	return -1;
}
