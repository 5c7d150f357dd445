/*
 * libFuzzer target: the Range header parser (src/common/range.c). The first
 * eight bytes are the resource size, the rest the header. A satisfiable
 * range must lie inside the resource and be in order.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/range.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 8)
		return 0;
	uint64_t total;
	memcpy(&total, data, 8);
	total >>= data[0] % 64; /* small sizes too */
	char *header = malloc(size - 8 + 1);
	if (!header)
		return 0;
	memcpy(header, data + 8, size - 8);
	header[size - 8] = '\0';
	uint64_t from = 0, to = 0;
	int rc = range_parse(header, total, &from, &to);
	if (rc == 1 && (from > to || to >= total))
		abort();
	if (rc < -1 || rc > 1)
		abort();
	free(header);
	return 0;
}
