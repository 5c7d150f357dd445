/*
 * snprintf for text that names something -- a file path, a URL, a header,
 * a wake-up key: there a text cut short by a small buffer names something
 * else (another file, another route), so truncation must be an error, not
 * a silent cut. strfmt() says whether the whole text fit.
 */
#ifndef VITRINE_STRFMT_H
#define VITRINE_STRFMT_H

#include <stddef.h>

/* Formats into out[outsz] like snprintf (out is always NUL-terminated when
 * outsz > 0). Returns 0 when the whole text fit, -1 when it was cut or the
 * format failed. */
int strfmt(char *out, size_t outsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
