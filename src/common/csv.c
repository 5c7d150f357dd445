/* CSV export fields; see csv.h. */
#include "csv.h"

#include <string.h>

int csv_field(struct buf *b, const char *s, bool last)
{
	int rc = buf_addstr(b, "\"");
	if (rc == BUF_OK && (*s == '=' || *s == '+' || *s == '-' || *s == '@' || *s == '\t' || *s == '\r'))
		rc = buf_addstr(b, "'");
	for (const char *q; rc == BUF_OK && (q = strchr(s, '"')); s = q + 1) /* quotes doubled */
		rc = buf_add(b, s, (size_t)(q - s) + 1) == BUF_OK ? buf_addstr(b, "\"") : BUF_TOO_BIG;
	if (rc == BUF_OK)
		rc = buf_addstr(b, s);
	return rc == BUF_OK ? buf_addstr(b, last ? "\"\r\n" : "\",") : rc;
}
