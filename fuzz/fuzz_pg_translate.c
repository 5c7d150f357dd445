/*
 * libFuzzer target: the SQL rewriting of the PostgreSQL backend
 * (store/postgres_sql.c) walks quotes, comments and placeholders by hand.
 * Whatever the text — unterminated quotes, runs of '?', digits past any
 * number — it must not read past the end, and a rewriting of text without
 * any placeholder must report none.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/store/postgres_sql.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	for (int script = 0; script < 2; script++) {
		int n = -1;
		char *out = pg_translate(text, script, &n);
		if (!out || n < 0)
			abort();
		if (!strchr(text, '?') && n != 0)
			abort();
		free(out);
	}
	free(text);
	return 0;
}
