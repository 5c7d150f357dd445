/*
 * The text of a mail (mail.h): RFC 5322 headers, one text/plain UTF-8 part
 * in base64 (so no line is ever longer than 76 octets, whatever a visitor
 * typed, and no line can start with a dot or look like a header), the
 * subject as an RFC 2047 encoded word when it is not plain ASCII.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mail.h"

bool mail_address_ok(const char *s)
{
	if (!s)
		return false;
	size_t n = strlen(s);
	const char *at = strchr(s, '@');
	if (n < 3 || n > MAIL_ADDRESS_MAX || !at || at == s || strchr(at + 1, '@') || !strchr(at + 1, '.') ||
	    at[1] == '.' || s[n - 1] == '.')
		return false;
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c <= ' ' || c >= 0x7f || strchr("<>()[]\\,;:\"", c))
			return false;
	}
	return true;
}

static bool ascii_printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < ' ' || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

/* base64 of len bytes, in lines of 76 characters each ending in CRLF when lines is set */
static int add_base64(struct buf *out, const unsigned char *data, size_t len, bool lines)
{
	char chunk[4 * 57 / 3 + 1];
	for (size_t off = 0; off < len; off += 57) {
		size_t n = len - off < 57 ? len - off : 57;
		sodium_bin2base64(chunk, sizeof chunk, data + off, n, sodium_base64_VARIANT_ORIGINAL);
		if (buf_addstr(out, chunk) != BUF_OK || (lines && buf_addstr(out, "\r\n") != BUF_OK))
			return -1;
	}
	return 0;
}

/* RFC 2047: encoded words of at most 45 bytes of text each (75 characters), never splitting a UTF-8 sequence */
static int add_subject(struct buf *out, const char *subject)
{
	if (ascii_printable(subject) && strlen(subject) <= 900)
		return buf_printf(out, "Subject: %s\r\n", subject) == BUF_OK ? 0 : -1;
	if (buf_addstr(out, "Subject:") != BUF_OK)
		return -1;
	size_t len = strlen(subject), off = 0;
	while (off < len) {
		size_t n = len - off < 45 ? len - off : 45;
		while (off + n < len && n > 0 && ((unsigned char)subject[off + n] & 0xc0) == 0x80)
			n--; /* end before a continuation byte */
		if (buf_addstr(out, " =?UTF-8?B?") != BUF_OK ||
		    add_base64(out, (const unsigned char *)subject + off, n, false) != 0 ||
		    buf_addstr(out, "?=\r\n") != BUF_OK)
			return -1;
		off += n;
	}
	return 0;
}

int mail_message(struct buf *out, const char *from, const char *to, const char *reply_to, const char *subject,
                 const char *body, int64_t now)
{
	time_t t = (time_t)now;
	struct tm tm;
	char date[64];
	gmtime_r(&t, &tm);
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	snprintf(date, sizeof date, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
	         months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
	unsigned char rnd[12];
	char mid[32];
	randombytes_buf(rnd, sizeof rnd);
	sodium_bin2hex(mid, sizeof mid, rnd, sizeof rnd);
	const char *domain = strchr(from, '@');
	if (buf_printf(out, "From: %s\r\nTo: %s\r\n", from, to) != BUF_OK ||
	    (reply_to && *reply_to && buf_printf(out, "Reply-To: %s\r\n", reply_to) != BUF_OK) ||
	    add_subject(out, subject) != 0 ||
	    buf_printf(out,
	               "Date: %s\r\nMessage-ID: <%s@%s>\r\nMIME-Version: 1.0\r\n"
	               "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n"
	               "Auto-Submitted: auto-generated\r\n\r\n",
	               date, mid, domain ? domain + 1 : "vitrine.invalid") != BUF_OK ||
	    add_base64(out, (const unsigned char *)body, strlen(body), true) != 0)
		return -1;
	return 0;
}
