/*
 * Structured logging for every Vitrine binary: one logfmt line per event on
 * stderr ("ts=... level=info msg=... key=value ..."). Values are quoted and
 * escaped so a hostile string cannot forge a second line. Callers must never
 * pass secrets (passwords, tokens, keys) as values: this module cannot tell.
 */
#ifndef VITRINE_LOG_H
#define VITRINE_LOG_H

#include <stdarg.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level level);
/* Also appends every line to path, which is rotated to path.1 when it
 * passes max_bytes (so the two hold at most about 2 * max_bytes). 0 or -1. */
int log_to_file(const char *path, long max_bytes);
int log_level_parse(const char *name, enum log_level *out);

/* fields: pairs of (const char *key, const char *value), ended by NULL. */
void log_event(enum log_level level, const char *msg, ...);

/* printf-style message with no extra fields. */
void log_msgf(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_info(...)  log_msgf(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msgf(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msgf(LOG_ERROR, __VA_ARGS__)
#define log_debug(...) log_msgf(LOG_DEBUG, __VA_ARGS__)

#endif
