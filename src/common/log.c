/*
 * logfmt writer. Lines are assembled in a stack buffer and written with one
 * write(2) so lines from different threads never interleave.
 */
#include "log.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static enum log_level min_level = LOG_INFO;
static const char *level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level level)
{
	min_level = level;
}

int log_level_parse(const char *name, enum log_level *out)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(name, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	return -1;
}

struct line {
	char buf[2048];
	size_t len;
};

static void put(struct line *l, const char *s, size_t n)
{
	if (l->len + n > sizeof(l->buf) - 2)
		n = sizeof(l->buf) - 2 - l->len;
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void put_value(struct line *l, const char *v)
{
	int quote = (*v == '\0');
	for (const char *p = v; *p && !quote; p++)
		if (*p == ' ' || *p == '"' || *p == '=' || (unsigned char)*p < 0x20 || *p == '\\')
			quote = 1;
	if (!quote) {
		put(l, v, strlen(v));
		return;
	}
	put(l, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		char esc[8];
		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			put(l, esc, 2);
		} else if (*p < 0x20 || *p == 0x7f) {
			int n = snprintf(esc, sizeof esc, "\\x%02x", *p);
			put(l, esc, (size_t)n);
		} else {
			put(l, (const char *)p, 1);
		}
	}
	put(l, "\"", 1);
}

static void begin(struct line *l, enum log_level level, const char *msg)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	l->len = 0;
	int n = snprintf(l->buf, sizeof l->buf,
	                 "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s msg=", tm.tm_year + 1900, tm.tm_mon + 1,
	                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, level_names[level]);
	l->len = (size_t)n;
	put_value(l, msg);
}

/* the file lines are also appended to (log_to_file), and its rotation */
static pthread_mutex_t file_lock = PTHREAD_MUTEX_INITIALIZER;
static int file_fd = -1;
static long file_max, file_size;
static char file_path[1024];

int log_to_file(const char *path, long max_bytes)
{
	if (strlen(path) >= sizeof file_path - 3)
		return -1;
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	struct stat sb;
	pthread_mutex_lock(&file_lock);
	if (file_fd >= 0)
		close(file_fd);
	file_fd = fd;
	file_max = max_bytes;
	file_size = fstat(fd, &sb) == 0 ? (long)sb.st_size : 0;
	snprintf(file_path, sizeof file_path, "%s", path);
	pthread_mutex_unlock(&file_lock);
	return 0;
}

static void append_to_file(const char *text, size_t len)
{
	pthread_mutex_lock(&file_lock);
	if (file_fd >= 0) {
		if (file_size + (long)len > file_max) {
			char old[sizeof file_path + 2];
			snprintf(old, sizeof old, "%s.1", file_path);
			rename(file_path, old);
			int fd = open(file_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
			close(file_fd);
			file_fd = fd;
			file_size = 0;
		}
		if (file_fd >= 0 && write(file_fd, text, len) == (ssize_t)len)
			file_size += (long)len;
	}
	pthread_mutex_unlock(&file_lock);
}

static void finish(struct line *l)
{
	l->buf[l->len++] = '\n';
	ssize_t w = write(STDERR_FILENO, l->buf, l->len);
	(void)w;
	append_to_file(l->buf, l->len);
}

void log_event(enum log_level level, const char *msg, ...)
{
	if (level < min_level)
		return;
	struct line l;
	begin(&l, level, msg);
	va_list ap;
	va_start(ap, msg);
	for (;;) {
		const char *k = va_arg(ap, const char *);
		if (!k)
			break;
		const char *v = va_arg(ap, const char *);
		put(&l, " ", 1);
		put(&l, k, strlen(k));
		put(&l, "=", 1);
		put_value(&l, v ? v : "");
	}
	va_end(ap);
	finish(&l);
}

void log_msgf(enum log_level level, const char *fmt, ...)
{
	if (level < min_level)
		return;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	struct line l;
	begin(&l, level, msg);
	finish(&l);
}
