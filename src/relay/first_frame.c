/*
 * The relay's first-frame parser and status lines (see first_frame.h).
 * Pure functions: no I/O, no allocation.
 */
#include "first_frame.h"

#include <stdio.h>
#include <string.h>

enum first_frame_result first_frame_parse(const uint8_t *buf, size_t len, const char **ticket, size_t *ticket_len,
                                          size_t *frame_len)
{
	if (len < FIRST_FRAME_HEADER)
		return FIRST_FRAME_NEED_MORE;
	size_t n = ((size_t)buf[0] << 8) | buf[1];
	if (n == 0 || n > TICKET_TEXT_MAX)
		return FIRST_FRAME_BAD;
	if (len < FIRST_FRAME_HEADER + n)
		return FIRST_FRAME_NEED_MORE;
	*ticket = (const char *)buf + FIRST_FRAME_HEADER;
	*ticket_len = n;
	*frame_len = FIRST_FRAME_HEADER + n;
	return FIRST_FRAME_OK;
}

size_t first_frame_status(const char *code, char out[64])
{
	int n = code && code[0] ? snprintf(out, 64, "error %.40s\n", code) : snprintf(out, 64, "paired\n");
	return n > 0 ? (size_t)n : 0;
}
