/* HTTP byte ranges; see range.h. */
#include "range.h"

#include <stdlib.h>
#include <string.h>

int range_parse(const char *h, uint64_t size, uint64_t *from, uint64_t *to)
{
	if (!h || strncmp(h, "bytes=", 6) != 0 || strchr(h, ','))
		return 0; /* absent, or several ranges: send it all */
	const char *p = h + 6;
	char *end;
	if (*p == '-') {
		unsigned long long n = strtoull(p + 1, &end, 10);
		if (end == p + 1 || *end || n == 0)
			return 0;
		if (size == 0)
			return -1;
		*from = n >= size ? 0 : size - n;
		*to = size - 1;
		return 1;
	}
	if (*p < '0' || *p > '9')
		return 0;
	unsigned long long a = strtoull(p, &end, 10);
	if (*end != '-')
		return 0;
	const char *q = end + 1;
	unsigned long long b = size ? size - 1 : 0;
	if (*q) {
		if (*q < '0' || *q > '9')
			return 0;
		b = strtoull(q, &end, 10);
		if (*end || b < a)
			return 0;
		if (b >= size)
			b = size - 1;
	}
	if (a >= size)
		return -1;
	*from = a;
	*to = b;
	return 1;
}
