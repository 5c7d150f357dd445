/* snprintf with a truncation check; see strfmt.h. */
#include "strfmt.h"

#include <stdarg.h>
#include <stdio.h>

int strfmt(char *out, size_t outsz, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(out, outsz, fmt, ap);
	va_end(ap);
	if (n < 0) {
		if (outsz)
			out[0] = '\0';
		return -1;
	}
	return (size_t)n < outsz ? 0 : -1;
}
