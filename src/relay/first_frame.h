/*
 * The relay's first frame: what a guest or a host sends before anything
 * else -- a 2-byte big-endian length N (1..TICKET_TEXT_MAX) followed by N
 * bytes of ticket text (docs/PROTOCOL.md "Remote control: the relay",
 * "First frame and status line"). A pure parser, so the fuzz target and the relay share it,
 * plus the status lines the relay answers with.
 */
#ifndef VITRINE_RELAY_FIRST_FRAME_H
#define VITRINE_RELAY_FIRST_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "common/ticket.h"

#define FIRST_FRAME_HEADER 2
#define FIRST_FRAME_MAX    (FIRST_FRAME_HEADER + TICKET_TEXT_MAX)

enum first_frame_result {
	FIRST_FRAME_NEED_MORE, /* not all of the frame is there yet */
	FIRST_FRAME_OK,        /* *ticket, *ticket_len and *frame_len are set */
	FIRST_FRAME_BAD,       /* a length of 0 or over TICKET_TEXT_MAX: refuse */
};

/* Looks at the first len bytes a client sent. On FIRST_FRAME_OK the
 * ticket text is buf[FIRST_FRAME_HEADER .. +*ticket_len) and the frame
 * takes *frame_len bytes; what follows belongs to the session. */
enum first_frame_result first_frame_parse(const uint8_t *buf, size_t len, const char **ticket, size_t *ticket_len,
                                          size_t *frame_len);

/* The status line the relay sends once: "paired\n", or "error CODE\n"
 * written into out (at most 64 bytes). Returns its length. */
size_t first_frame_status(const char *code, char out[64]);

#endif
