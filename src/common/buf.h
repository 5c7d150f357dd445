/*
 * A capped growable byte buffer, modelled on curl's dynbuf: every place
 * that collects bytes of unknown length (an HTTP body, a curl reply, a file,
 * a line of text being built) uses one of these instead of its own realloc
 * loop. A buffer is created with the largest length it may reach; adding
 * past it fails with BUF_TOO_BIG and leaves the contents as they were, so a
 * hostile peer cannot make it grow without bound. The contents are always
 * NUL-terminated (the NUL is not counted in the length), so text can be
 * read as a C string. All size arithmetic is checked: nothing wraps.
 *
 *   struct buf b;
 *   buf_init(&b, 1 << 20);
 *   if (buf_add(&b, data, n) != BUF_OK || buf_printf(&b, "%d", x) != BUF_OK)
 *           ...;
 *   use(buf_str(&b), buf_len(&b));
 *   buf_free(&b);
 */
#ifndef VITRINE_BUF_H
#define VITRINE_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

enum buf_result {
	BUF_OK = 0,
	BUF_NOMEM = -1,   /* the allocator refused */
	BUF_TOO_BIG = -2, /* the addition would pass the buffer's max */
};

/* Fields are private: read them through the functions below. A zeroed
 * struct is not ready for use: call buf_init. */
struct buf {
	char *data;   /* NULL until the first byte is added */
	size_t len;   /* bytes held, excluding the NUL */
	size_t alloc; /* bytes allocated, including the NUL */
	size_t max;   /* largest len allowed */
	bool secret;  /* wipe memory before it is moved or released */
};

/* Largest max accepted by buf_init (larger values are clamped to it). */
#define BUF_MAX_LIMIT ((size_t)-1 / 2)

/* An empty buffer that may grow to max bytes. Allocates nothing. */
void buf_init(struct buf *b, size_t max);

/* The same for contents that may hold a secret (a token, a password): the
 * bytes are wiped (sodium_memzero) whenever memory is released, reset or
 * left behind by growth, which then copies instead of realloc(). What
 * buf_take hands over is the caller's to wipe. */
void buf_init_secret(struct buf *b, size_t max);

/* Appends len bytes (mem may be NULL when len is 0). */
int buf_add(struct buf *b, const void *mem, size_t len);

/* Appends a C string (without its NUL). */
int buf_addstr(struct buf *b, const char *s);

/* Appends printf-formatted text. On failure the contents are unchanged. */
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* Shortens the contents to len bytes (len larger than the length: no-op). */
void buf_truncate(struct buf *b, size_t len);

/* Empties the buffer and keeps its memory for reuse (wiped if secret). */
void buf_reset(struct buf *b);

/* Releases the memory; the buffer is empty again and may be reused with
 * the same max. */
void buf_free(struct buf *b);

/* Hands the contents over to the caller (free() them): a NUL-terminated
 * block, an empty string when nothing was added. *len (if not NULL) gets
 * the length. The buffer is left empty. Returns NULL when out of memory
 * (only possible for an empty buffer). */
char *buf_take(struct buf *b, size_t *len);

/* The contents as a C string: "" when empty, never NULL. Valid until the
 * next change to the buffer. */
const char *buf_str(const struct buf *b);

/* The contents for writing in place (len bytes + NUL); NULL while nothing
 * has been allocated. */
char *buf_ptr(struct buf *b);

size_t buf_len(const struct buf *b);

#endif
