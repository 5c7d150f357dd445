/*
 * The archive a player uploads for a collect_logs instruction: a .tar.gz
 * (ustar, zlib) of its own log files (DATA/logs/player.log and the
 * rotated player.log.1), the output of the configured logs command (e.g.
 * the system journal), and its inventory. Each part is cut to its newest
 * bytes so the archive never holds more than max_bytes before compression.
 */
#ifndef VITRINE_PLAYER_LOGS_ARCHIVE_H
#define VITRINE_PLAYER_LOGS_ARCHIVE_H

#include <jansson.h>
#include <stddef.h>

/* Builds the archive into *out (malloc'd, *out_len bytes). 0, or -1 with a
 * sentence in err. */
int logs_archive_build(const char *data_dir, const char *logs_command, json_t *inventory, size_t max_bytes, char **out,
                       size_t *out_len, char *err, size_t errsz);

#endif
