/* UTF-8 validation; see utf8.h. */
#include "utf8.h"

int utf8_sequence(const unsigned char *p)
{
	int extra;
	unsigned char lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
	if (*p < 0x80)
		return 1;
	if (*p >= 0xc2 && *p <= 0xdf)
		extra = 1;
	else if (*p >= 0xe0 && *p <= 0xef) {
		extra = 2;
		if (*p == 0xe0)
			lo = 0xa0;
		if (*p == 0xed)
			hi = 0x9f;
	} else if (*p >= 0xf0 && *p <= 0xf4) {
		extra = 3;
		if (*p == 0xf0)
			lo = 0x90;
		if (*p == 0xf4)
			hi = 0x8f;
	} else {
		return -1;
	}
	if (p[1] < lo || p[1] > hi)
		return -1;
	for (int i = 2; i <= extra; i++)
		if ((p[i] & 0xc0) != 0x80)
			return -1;
	return extra + 1;
}

long utf8_chars(const char *s)
{
	long n = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; n++) {
		int len = utf8_sequence(p);
		if (len < 0)
			return -1;
		p += len;
	}
	return n;
}
