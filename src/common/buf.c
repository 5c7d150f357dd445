/* The capped growable byte buffer; see buf.h. */
#include "buf.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUF_FIRST_ALLOC 64

void buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
	b->max = max > BUF_MAX_LIMIT ? BUF_MAX_LIMIT : max;
	b->secret = false;
}

void buf_init_secret(struct buf *b, size_t max)
{
	buf_init(b, max);
	b->secret = true;
}

/* realloc, except that a secret buffer's old block is wiped, not left to
 * the allocator with its contents */
static char *buf_grow(struct buf *b, size_t size)
{
	if (!b->secret)
		return realloc(b->data, size);
	char *p = malloc(size);
	if (!p)
		return NULL;
	if (b->data) {
		memcpy(p, b->data, b->len + 1);
		sodium_memzero(b->data, b->alloc);
		free(b->data);
	}
	return p;
}

/* Makes room for extra more bytes plus the NUL. */
static int buf_reserve(struct buf *b, size_t extra)
{
	if (extra > b->max - b->len)
		return BUF_TOO_BIG;
	size_t need = b->len + extra + 1; /* len + extra <= max <= SIZE_MAX / 2 */
	if (need <= b->alloc)
		return BUF_OK;
	size_t grown = b->alloc ? b->alloc : BUF_FIRST_ALLOC;
	while (grown < need)
		grown *= 2; /* grown < need <= SIZE_MAX / 2 + 1: cannot wrap */
	if (grown > b->max + 1)
		grown = b->max + 1;
	char *p = buf_grow(b, grown);
	if (!p)
		return BUF_NOMEM;
	b->data = p;
	b->alloc = grown;
	return BUF_OK;
}

int buf_add(struct buf *b, const void *mem, size_t len)
{
	int rc = buf_reserve(b, len);
	if (rc != BUF_OK)
		return rc;
	if (len)
		memcpy(b->data + b->len, mem, len);
	b->len += len;
	b->data[b->len] = '\0';
	return BUF_OK;
}

int buf_addstr(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	char small[256];
	va_list again;
	va_copy(again, ap);
	int n = vsnprintf(small, sizeof small, fmt, ap);
	if (n < 0) {
		va_end(again);
		return BUF_NOMEM; /* an encoding error: nothing sensible to add */
	}
	if ((size_t)n < sizeof small) {
		va_end(again);
		return buf_add(b, small, (size_t)n);
	}
	int rc = buf_reserve(b, (size_t)n);
	if (rc == BUF_OK) {
		vsnprintf(b->data + b->len, (size_t)n + 1, fmt, again);
		b->len += (size_t)n;
	}
	va_end(again);
	return rc;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

void buf_truncate(struct buf *b, size_t len)
{
	if (len >= b->len)
		return;
	if (b->secret)
		sodium_memzero(b->data + len, b->len - len);
	b->len = len;
	b->data[len] = '\0';
}

void buf_reset(struct buf *b)
{
	if (b->secret && b->data)
		sodium_memzero(b->data, b->alloc);
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void buf_free(struct buf *b)
{
	if (b->secret && b->data)
		sodium_memzero(b->data, b->alloc);
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
}

char *buf_take(struct buf *b, size_t *len)
{
	char *out = b->data;
	if (!out)
		out = calloc(1, 1);
	if (!out)
		return NULL;
	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
	return out;
}

const char *buf_str(const struct buf *b)
{
	return b->data ? b->data : "";
}

char *buf_ptr(struct buf *b)
{
	return b->data;
}

size_t buf_len(const struct buf *b)
{
	return b->len;
}
