/*
 * Backup and restore of a data folder (backup.h). A backup is a new folder
 * DEST holding vitrine.db (SQLite) or database.pgdump (PostgreSQL), the
 * files the database links (media/xx/<sha256>, their thumbnails
 * media/thumbs/<sha256>.png, releases/<sha256>, logs/<screen>/<id>.tar.gz,
 * the screens' last screenshots/<screen>.png) and keys/, and last
 * backup.json, the manifest: every file with its size, SHA-256 and mode,
 * the backend, the schema version and the time. A folder without
 * backup.json is no backup. The server may run meanwhile; the backup is
 * another process and never stops it. For SQLite the order is: (1) every
 * linkable file present in the data folder is hard-linked into a staging
 * folder DIR/.backup-<pid> (the same filesystem, so a link is cheap and
 * keeps the bytes even when the server unlinks its name); (2) the
 * snapshot: a second connection takes the write lock (BEGIN IMMEDIATE),
 * the backup's own connection opens a read transaction, which pins the
 * database at that instant, the rows that link files are read from it and
 * the few files added since (1) are linked too, then the write lock is
 * released: writers wait only for this (milliseconds: 45 ms with 20,000
 * media; the server's busy timeout is 5 s), readers never. Thumbnails and
 * screenshots, whose loss would cost only themselves, are linked after. With the lock held no deletion can
 * commit, and the server removes a file only after the deletion of its
 * last row committed (media.c, releases.c) or inside that transaction
 * (mdm/logs.c), while an upload renames its file into place before its row
 * commits: so every file a row of the snapshot links exists while the lock
 * is held, and once linked it cannot vanish. (3) The online backup API
 * (sqlite3_backup_step, STEP_PAGES pages a step) copies the snapshot into
 * DEST/vitrine.db: the read transaction stays open across the steps, so in
 * WAL mode the copy is that one snapshot and never restarts, while the
 * server goes on writing into the WAL (whose checkpoints wait for the end
 * of the backup). The copy is switched to journal_mode=DELETE (one
 * self-contained file) and checked with PRAGMA integrity_check. (4) The
 * linked files are copied into DEST, each to a temporary name, fsync'd and
 * renamed; media objects are checked against their name (content address).
 * Files present but linked by no row of the snapshot (an upload that has
 * not committed, garbage the sweeper will collect) are not copied. For
 * PostgreSQL, pg_dump (--format=custom, one REPEATABLE READ snapshot) takes
 * the place of (2) and (3) without a lock: the files are linked before and
 * after the dump, and the rows of the dump (read back with pg_restore) say
 * which must be there; a file uploaded and deleted while the dump ran is
 * missed, and then the whole backup is taken once more. DEST must not
 * exist or be empty; on a failure (a full disk is named as such) what was
 * written is removed. Restore reads backup.json, refuses a data folder that
 * is not empty (and for PostgreSQL a database with tables in its public
 * schema), checks every file's size and SHA-256 before it writes a byte,
 * then writes the marker restore.incomplete (the server refuses to start
 * on a folder that has it), the files, the keys with their modes, the
 * database last (vitrine.db to a temporary name then renamed, or
 * pg_restore --single-transaction), and removes the marker. Tools run
 * through posix_spawnp (no shell); the database URL's password is handed
 * to them as PGPASSWORD, never on a command line, and never printed.
 */
#include "backup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <spawn.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../common/codes.h"
#include "../../common/strfmt.h"
#include "../store/db.h"

extern char **environ;
extern const struct migration store_migrations[];
extern const size_t store_migrations_count;

#define MANIFEST        "backup.json"
#define FORMAT          "vitrine-backup"
#define FORMAT_VERSION  1
#define SQLITE_FILE     "vitrine.db"
#define PGDUMP_FILE     "database.pgdump"
#define STEP_PAGES      1024 /* 4 MiB of 4 KiB pages a step */
#define BUSY_TIMEOUT_MS 10000
#define TOOL_OUTPUT_MAX ((size_t)512 << 20)

enum backend { BACKEND_SQLITE, BACKEND_POSTGRESQL };

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void catch_signals(void)
{
	struct sigaction sa = {0};
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

/* --- what went wrong: the first failure is kept, with whether it was a full disk --- */

struct oops {
	char msg[2048];
	bool full;
};

static int fail(struct oops *o, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct oops *o, int err, const char *fmt, ...)
{
	if (o->msg[0])
		return -1;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(o->msg, sizeof o->msg, fmt, ap);
	va_end(ap);
	if (err) {
		size_t n = strlen(o->msg);
		snprintf(o->msg + n, sizeof o->msg - n, ": %s", strerror(err));
	}
	o->full = err == ENOSPC || err == EDQUOT;
	return -1;
}

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* --- paths --- */

static bool name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 100 || !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n &&
	       !strstr(s, ".tmp");
}

/* s is <id><suffix>, an id as codes_new_id makes them */
static bool id_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	char id[CODES_ID_LEN + 1];
	if (n != CODES_ID_LEN + k || strcmp(s + CODES_ID_LEN, suffix) != 0)
		return false;
	memcpy(id, s, CODES_ID_LEN);
	id[CODES_ID_LEN] = '\0';
	return codes_is_id(id);
}

static bool sha_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	char sha[65];
	if (n != 64 + k || strcmp(s + 64, suffix) != 0)
		return false;
	memcpy(sha, s, 64);
	sha[64] = '\0';
	return codes_is_sha256(sha);
}

/* The only paths a backup holds, relative to the data folder: anything
 * else in a manifest is refused, so restore never writes outside DIR. */
static bool path_ok(const char *rel)
{
	char buf[256], *part[4];
	int n = 0;
	if (strfmt(buf, sizeof buf, "%s", rel) != 0)
		return false;
	for (char *p = buf, *slash; n < 4; p = slash + 1) {
		part[n++] = p;
		if (!(slash = strchr(p, '/')))
			break;
		*slash = '\0';
	}
	if (n == 1)
		return strcmp(rel, SQLITE_FILE) == 0 || strcmp(rel, PGDUMP_FILE) == 0;
	if (n == 2 && strcmp(part[0], "keys") == 0)
		return name_ok(part[1]);
	if (n == 2 && strcmp(part[0], "releases") == 0)
		return codes_is_sha256(part[1]);
	if (n == 2 && strcmp(part[0], "screenshots") == 0)
		return id_with(part[1], ".png");
	if (n == 3 && strcmp(part[0], "media") == 0 && strcmp(part[1], "thumbs") == 0)
		return sha_with(part[2], ".png");
	if (n == 3 && strcmp(part[0], "media") == 0)
		return codes_is_sha256(part[2]) && strlen(part[1]) == 2 && strncmp(part[1], part[2], 2) == 0;
	if (n == 3 && strcmp(part[0], "logs") == 0)
		return codes_is_id(part[1]) && id_with(part[2], ".tar.gz");
	return false;
}

static int join(char *out, size_t outsz, const char *dir, const char *rel)
{
	return strfmt(out, outsz, "%s/%s", dir, rel);
}

/* Makes the folders (0700) of rel's parents under root. 0 or -1 (errno). */
static int make_parents(const char *root, const char *rel)
{
	char path[4096];
	if (join(path, sizeof path, root, rel) != 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		int rc = mkdir(path, 0700);
		*p = '/';
		if (rc != 0 && errno != EEXIST)
			return -1;
	}
	return 0;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	if (ftw->level > 0)
		remove(path);
	return 0;
}

static int remove_entry_and_root(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

/* Removes a folder we wrote (keep_root: only what is in it). */
static void remove_tree(const char *path, bool keep_root)
{
	nftw(path, keep_root ? remove_entry : remove_entry_and_root, 16, FTW_DEPTH | FTW_PHYS);
}

static int sync_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (flag != FTW_DP && flag != FTW_D)
		return 0;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = fd >= 0 && fsync(fd) == 0 ? 0 : -1;
	if (fd >= 0)
		close(fd);
	return rc;
}

/* fsyncs every folder of a tree (the renames into them). */
static int sync_tree(const char *path)
{
	return nftw(path, sync_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

static bool dir_is_empty(const char *path, char *first, size_t firstsz)
{
	DIR *d = opendir(path);
	if (!d)
		return false;
	struct dirent *e;
	bool empty = true;
	while (empty && (e = readdir(d)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
			empty = false;
			snprintf(first, firstsz, "%s", e->d_name);
		}
	closedir(d);
	return empty;
}

/* --- copying --- */

static unsigned char copy_buf[1 << 18];

/* Copies what is left of in into dst through dst.tmp (fsync, mode, rename),
 * hashing it into h. 0, or -1 with *err (errno). */
static int copy_into(int in, const char *dst, mode_t mode, crypto_hash_sha256_state *h, uint64_t *size, int *err)
{
	char tmp[4200];
	if (strfmt(tmp, sizeof tmp, "%s.tmp", dst) != 0) {
		*err = ENAMETOOLONG;
		return -1;
	}
	int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (out < 0) {
		*err = errno;
		return -1;
	}
	uint64_t total = 0;
	int e = 0;
	while (!e) {
		ssize_t n = read(in, copy_buf, sizeof copy_buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e = errno;
			break;
		}
		if (n == 0)
			break;
		if (interrupted) {
			e = EINTR;
			break;
		}
		if (h)
			crypto_hash_sha256_update(h, copy_buf, (unsigned long long)n);
		total += (uint64_t)n;
		for (ssize_t done = 0; !e && done < n;) {
			ssize_t w = write(out, copy_buf + done, (size_t)(n - done));
			if (w > 0)
				done += w;
			else if (w < 0 && errno != EINTR)
				e = errno;
			else if (w == 0)
				e = ENOSPC;
		}
	}
	if (!e && fchmod(out, mode) != 0)
		e = errno;
	if (!e && fsync(out) != 0)
		e = errno;
	if (close(out) != 0 && !e)
		e = errno;
	if (!e && rename(tmp, dst) != 0)
		e = errno;
	if (e) {
		unlink(tmp);
		*err = e;
		return -1;
	}
	if (size)
		*size = total;
	return 0;
}

static void digest_hex(crypto_hash_sha256_state *h, char hex[65])
{
	unsigned char d[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_final(h, d);
	codes_hex(d, sizeof d, hex);
}

/* SHA-256 and size of a file. 0 or -1 (errno). */
static int hash_file(const char *path, char hex[65], uint64_t *size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat sb;
	if (fd < 0)
		return -1;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		int e = S_ISREG(sb.st_mode) ? errno : EINVAL;
		close(fd);
		errno = e;
		return -1;
	}
	crypto_hash_sha256_state h;
	crypto_hash_sha256_init(&h);
	uint64_t total = 0;
	ssize_t n;
	while ((n = read(fd, copy_buf, sizeof copy_buf)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || interrupted) {
			int e = n < 0 ? errno : EINTR;
			close(fd);
			errno = e;
			return -1;
		}
		crypto_hash_sha256_update(&h, copy_buf, (unsigned long long)n);
		total += (uint64_t)n;
	}
	close(fd);
	digest_hex(&h, hex);
	*size = total;
	return 0;
}

/* Writes a small file through path.tmp (fsync, rename). 0, or -1 with *err. */
static int write_file(const char *path, const char *data, size_t len, int *err)
{
	char tmp[4200];
	if (strfmt(tmp, sizeof tmp, "%s.tmp", path) != 0) {
		*err = ENAMETOOLONG;
		return -1;
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		*err = errno;
		return -1;
	}
	int e = 0;
	for (size_t done = 0; !e && done < len;) {
		ssize_t n = write(fd, data + done, len - done);
		if (n > 0)
			done += (size_t)n;
		else if (n == 0 || errno != EINTR)
			e = n == 0 ? ENOSPC : errno;
	}
	if (!e && fsync(fd) != 0)
		e = errno;
	if (close(fd) != 0 && !e)
		e = errno;
	if (!e && rename(tmp, path) != 0)
		e = errno;
	if (e) {
		unlink(tmp);
		*err = e;
		return -1;
	}
	return 0;
}

/* --- running pg_dump, pg_restore, psql --- */

/* The URL without its password, and the password (percent-decoded), which
 * the tools get as PGPASSWORD: a command line is visible to every user. */
static int pg_split_url(const char *url, char *out, size_t outsz, char *pw, size_t pwsz)
{
	pw[0] = '\0';
	const char *scheme = strstr(url, "://");
	const char *auth = scheme ? scheme + 3 : NULL;
	size_t alen = auth ? strcspn(auth, "/?#") : 0;
	const char *at = NULL, *colon = NULL;
	for (size_t i = 0; auth && i < alen; i++)
		if (auth[i] == '@')
			at = auth + i;
	for (const char *p = auth; at && p < at && !colon; p++)
		if (*p == ':')
			colon = p;
	if (!colon)
		return strfmt(out, outsz, "%s", url);
	size_t o = 0;
	for (const char *p = colon + 1; p < at; p++) {
		char c = *p;
		unsigned v;
		if (c == '%' && p + 2 < at && sscanf(p + 1, "%2x", &v) == 1) {
			c = (char)v;
			p += 2;
		}
		if (o + 1 >= pwsz)
			return -1;
		pw[o++] = c;
	}
	pw[o] = '\0';
	return strfmt(out, outsz, "%.*s%s", (int)(colon - url), url, at);
}

struct capture {
	char *data;
	size_t len, cap;
};

static int capture_add(struct capture *c, const char *data, size_t len)
{
	if (c->len + len + 1 > c->cap) {
		size_t cap = c->cap ? c->cap : 65536;
		while (cap < c->len + len + 1)
			cap *= 2;
		if (cap > TOOL_OUTPUT_MAX)
			return -1;
		char *p = realloc(c->data, cap);
		if (!p)
			return -1;
		c->data = p;
		c->cap = cap;
	}
	memcpy(c->data + c->len, data, len);
	c->len += len;
	c->data[c->len] = '\0';
	return 0;
}

/* Prints a tool's error output, the password (if it shows) masked. */
static void print_tool_errors(const char *tool, const struct capture *err, const char *pw)
{
	if (!err->data || !err->len)
		return;
	for (char *line = err->data, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		char *hit;
		while (*pw && (hit = strstr(line, pw)))
			memset(hit, '*', strlen(pw));
		fprintf(stderr, "vitrine-server: %s said: %s\n", tool, line);
	}
}

/* Runs argv[0] (found in PATH, no shell) with stdin from /dev/null, pw as
 * PGPASSWORD, stdout into *out when out (else /dev/null), stderr into
 * *err. Returns its exit status, 127 when it could not be started, or -1
 * (interrupted: it was stopped). */
static int run_tool(char *const argv[], const char *pw, struct capture *out, struct capture *err)
{
	size_t n = 0;
	while (environ[n])
		n++;
	char **envp = calloc(n + 2, sizeof *envp), pgpass[1100];
	if (!envp)
		return 127;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) /* the URL's password wins over one of the environment */
		if (!*pw || strncmp(environ[i], "PGPASSWORD=", 11) != 0)
			envp[k++] = environ[i];
	if (*pw && strfmt(pgpass, sizeof pgpass, "PGPASSWORD=%s", pw) == 0)
		envp[k++] = pgpass;
	int po[2] = {-1, -1}, pe[2] = {-1, -1};
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	pid_t pid = -1;
	int rc = 127;
	if ((out && pipe2(po, O_CLOEXEC) != 0) || pipe2(pe, O_CLOEXEC) != 0)
		goto done;
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (out)
		posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	else
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
	int e = posix_spawnp(&pid, argv[0], &fa, NULL, argv, envp);
	if (out)
		close(po[1]);
	close(pe[1]);
	po[1] = pe[1] = -1;
	if (e != 0) {
		char msg[256];
		snprintf(msg, sizeof msg, "cannot run %s: %s (Debian: apt-get install postgresql-client)", argv[0],
		         strerror(e));
		capture_add(err, msg, strlen(msg));
		pid = -1;
		goto done;
	}
	struct pollfd p[2] = {{.fd = pe[0], .events = POLLIN}, {.fd = out ? po[0] : -1, .events = POLLIN}};
	bool stopped = false;
	while (p[0].fd >= 0 || p[1].fd >= 0) {
		if (interrupted && !stopped) {
			kill(pid, SIGTERM);
			stopped = true;
		}
		if (poll(p, 2, 200) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2; i++) {
			if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t got = read(p[i].fd, copy_buf, sizeof copy_buf);
			if (got > 0 && capture_add(i == 0 ? err : out, (const char *)copy_buf, (size_t)got) == 0)
				continue;
			if (got < 0 && errno == EINTR)
				continue;
			if (got > 0) { /* more than we keep: the tool is stopped */
				kill(pid, SIGTERM);
				stopped = true;
			}
			p[i].fd = -1;
		}
	}
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	rc = stopped             ? -1
	     : WIFEXITED(status) ? WEXITSTATUS(status)
	                         : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
done:
	posix_spawn_file_actions_destroy(&fa);
	for (int i = 0; i < 2; i++) {
		if (po[i] >= 0)
			close(po[i]);
		if (pe[i] >= 0)
			close(pe[i]);
	}
	sodium_memzero(pgpass, sizeof pgpass);
	free(envp);
	return rc;
}

/* --- the files a snapshot links --- */

struct ref {
	char *rel;
	bool required; /* a row links it (else: a thumbnail, a screenshot) */
	bool have;     /* staged */
};

struct refs {
	struct ref *v;
	size_t n, cap;
};

static int refs_add(struct refs *r, const char *rel, bool required)
{
	if (!path_ok(rel))
		return 0; /* not a name the server writes: nothing to copy */
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 256;
		struct ref *v = realloc(r->v, cap * sizeof *v);
		if (!v)
			return -1;
		r->v = v;
		r->cap = cap;
	}
	char *copy = strdup(rel);
	if (!copy)
		return -1;
	r->v[r->n++] = (struct ref){copy, required, false};
	return 0;
}

static void refs_clear(struct refs *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->v[i].rel);
	r->n = 0;
}

static int ref_cmp(const void *a, const void *b)
{
	return strcmp(((const struct ref *)a)->rel, ((const struct ref *)b)->rel);
}

/* Sorts and drops repeats (a medium of two accounts). */
static void refs_unique(struct refs *r)
{
	qsort(r->v, r->n, sizeof *r->v, ref_cmp);
	size_t k = 0;
	for (size_t i = 0; i < r->n; i++) {
		if (k && strcmp(r->v[k - 1].rel, r->v[i].rel) == 0) {
			r->v[k - 1].required |= r->v[i].required;
			free(r->v[i].rel);
			continue;
		}
		r->v[k++] = r->v[i];
	}
	r->n = k;
}

/* The references of one row: kind is the table. */
static int refs_of_row(struct refs *r, const char *table, const char *a, const char *b)
{
	char rel[256];
	if (strcmp(table, "media") == 0 && codes_is_sha256(a)) {
		snprintf(rel, sizeof rel, "media/%.2s/%s", a, a);
		if (refs_add(r, rel, true) != 0)
			return -1;
		snprintf(rel, sizeof rel, "media/thumbs/%s.png", a);
		return refs_add(r, rel, false);
	}
	if (strcmp(table, "releases") == 0 && codes_is_sha256(a)) {
		snprintf(rel, sizeof rel, "releases/%s", a);
		return refs_add(r, rel, true);
	}
	if (strcmp(table, "screen_logs") == 0 && codes_is_id(a) && codes_is_id(b)) {
		snprintf(rel, sizeof rel, "logs/%s/%s.tar.gz", b, a);
		return refs_add(r, rel, true);
	}
	if (strcmp(table, "screens") == 0 && codes_is_id(a)) {
		snprintf(rel, sizeof rel, "screenshots/%s.png", a);
		return refs_add(r, rel, false);
	}
	return 0;
}

/* The tables whose rows link files, and the columns that name them. */
static const struct linking_table {
	const char *table, *a, *b;
} linking_tables[] = {
    {"media", "sha256", NULL},
    {"releases", "sha256", NULL},
    {"screen_logs", "id", "screen_id"},
    {"screens", "id", NULL},
};

/* --- the backup --- */

struct backup {
	const char *data, *dest;
	bool dest_made;
	char staging[4096];
	bool staging_made;
	struct refs refs;
	json_t *files, *missing;
	uint64_t bytes;
	size_t count;
	int schema_version;
	int64_t window_us;
	struct oops oops;
};

/* Links (else copies) DATA/rel to the staging folder. 0, 1 when DATA/rel
 * is not there, -1 on a failure (b->oops). */
static int stage(struct backup *b, const char *rel)
{
	char from[4096], to[4096];
	if (join(from, sizeof from, b->data, rel) != 0 || join(to, sizeof to, b->staging, rel) != 0)
		return fail(&b->oops, ENAMETOOLONG, "cannot stage %s", rel);
	if (make_parents(b->staging, rel) != 0)
		return fail(&b->oops, errno, "cannot create the folders of %s", to);
	if (link(from, to) == 0 || errno == EEXIST)
		return 0;
	if (errno == ENOENT)
		return 1;
	/* no hard link here (a file of another owner, a filesystem without
	 * them): a copy, which holds the bytes as well */
	int in = open(from, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (in < 0)
		return errno == ENOENT ? 1 : fail(&b->oops, errno, "cannot read %s", from);
	int e = 0, rc = copy_into(in, to, 0600, NULL, NULL, &e);
	close(in);
	return rc == 0 ? 0 : fail(&b->oops, e, "cannot copy %s to %s", from, to);
}

static bool staged(const struct backup *b, const char *rel)
{
	char path[4096];
	struct stat sb;
	return join(path, sizeof path, b->staging, rel) == 0 && lstat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Stages every file of DATA/rel_dir (depth more levels of folders) that
 * has a name the server writes. */
static int stage_present(struct backup *b, const char *rel_dir, int depth)
{
	char path[4096];
	if (join(path, sizeof path, b->data, rel_dir) != 0)
		return fail(&b->oops, ENAMETOOLONG, "cannot read %s/%s", b->data, rel_dir);
	DIR *d = opendir(path);
	if (!d)
		return errno == ENOENT || errno == ENOTDIR ? 0 : fail(&b->oops, errno, "cannot read %s", path);
	struct dirent *e;
	int rc = 0;
	while (rc == 0 && !interrupted && (e = readdir(d))) {
		char rel[512];
		struct stat sb;
		if (e->d_name[0] == '.' || strfmt(rel, sizeof rel, "%s/%s", rel_dir, e->d_name) != 0 ||
		    fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		if (S_ISDIR(sb.st_mode) && depth > 0)
			rc = stage_present(b, rel, depth - 1);
		else if (S_ISREG(sb.st_mode) && path_ok(rel) && !staged(b, rel))
			rc = stage(b, rel) < 0 ? -1 : 0;
	}
	closedir(d);
	return interrupted ? fail(&b->oops, 0, "interrupted") : rc;
}

static int stage_everything_present(struct backup *b)
{
	return stage_present(b, "media", 1) == 0 && stage_present(b, "releases", 0) == 0 &&
	               stage_present(b, "logs", 1) == 0 && stage_present(b, "screenshots", 0) == 0
	           ? 0
	           : -1;
}

/* Stages what the refs name (the required ones only, or the others) and
 * is not staged yet. A required file that is not in the data folder counts
 * in *absent (and is remembered). */
static int stage_refs(struct backup *b, bool required, size_t *absent)
{
	*absent = 0;
	for (size_t i = 0; i < b->refs.n; i++) {
		struct ref *r = &b->refs.v[i];
		if (r->required != required)
			continue;
		if (staged(b, r->rel)) {
			r->have = true;
			continue;
		}
		int rc = stage(b, r->rel);
		if (rc < 0)
			return -1;
		r->have = rc == 0;
		if (!r->have && r->required)
			(*absent)++;
	}
	return 0;
}

/* Removes the staging folders of backups that are no longer running. */
static void remove_stale_staging(const char *data)
{
	DIR *d = opendir(data);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		char path[4096];
		long pid;
		if (sscanf(e->d_name, ".backup-%ld", &pid) != 1 || pid <= 0 || pid == (long)getpid() ||
		    kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue; /* not a staging folder, or its backup still runs */
		if (join(path, sizeof path, data, e->d_name) == 0)
			remove_tree(path, false);
	}
	closedir(d);
}

static int add_entry(struct backup *b, const char *rel, uint64_t size, const char *sha, mode_t mode)
{
	char m[8];
	snprintf(m, sizeof m, "%04o", (unsigned)(mode & 07777));
	if (json_array_append_new(b->files, json_pack("{s:s, s:I, s:s, s:s}", "path", rel, "size", (json_int_t)size,
	                                              "sha256", sha, "mode", m)) != 0)
		return fail(&b->oops, ENOMEM, "cannot list %s", rel);
	b->bytes += size;
	b->count++;
	return 0;
}

/* Copies the file from (opened here) to DEST/rel and lists it. */
static int copy_to_dest(struct backup *b, const char *from, const char *rel, mode_t *mode_out, char sha[65])
{
	char to[4096];
	if (join(to, sizeof to, b->dest, rel) != 0)
		return fail(&b->oops, ENAMETOOLONG, "cannot write %s/%s", b->dest, rel);
	int in = open(from, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat sb;
	if (in < 0 || fstat(in, &sb) != 0) {
		int e = errno;
		if (in >= 0)
			close(in);
		return fail(&b->oops, e, "cannot read %s", from);
	}
	if (make_parents(b->dest, rel) != 0) {
		int e = errno;
		close(in);
		return fail(&b->oops, e, "cannot create the folders of %s", to);
	}
	crypto_hash_sha256_state h;
	crypto_hash_sha256_init(&h);
	uint64_t size = 0;
	int e = 0, rc = copy_into(in, to, 0600, &h, &size, &e);
	close(in);
	if (rc != 0)
		return fail(&b->oops, e, e == ENOSPC || e == EDQUOT ? "the disk of %s is full" : "cannot write %s",
		            e == ENOSPC || e == EDQUOT ? b->dest : to);
	digest_hex(&h, sha);
	*mode_out = sb.st_mode;
	return add_entry(b, rel, size, sha, sb.st_mode);
}

/* The staged files the snapshot links, into DEST. */
static int copy_refs(struct backup *b)
{
	for (size_t i = 0; i < b->refs.n; i++) {
		struct ref *r = &b->refs.v[i];
		char from[4096], sha[65];
		mode_t mode;
		if (!r->have) {
			if (r->required) {
				fprintf(stderr,
				        "vitrine-server: warning: %s/%s is linked by the database but not in the data "
				        "folder: the backup lacks it too\n",
				        b->data, r->rel);
				json_array_append_new(b->missing, json_string(r->rel));
			}
			continue;
		}
		if (join(from, sizeof from, b->staging, r->rel) != 0 || copy_to_dest(b, from, r->rel, &mode, sha) != 0)
			return fail(&b->oops, ENAMETOOLONG, "cannot copy %s", r->rel);
		const char *name = strrchr(r->rel, '/') + 1;
		if ((strncmp(r->rel, "media/", 6) == 0 && strncmp(r->rel, "media/thumbs/", 13) != 0) ||
		    strncmp(r->rel, "releases/", 9) == 0)
			if (strcmp(name, sha) != 0)
				fprintf(stderr,
				        "vitrine-server: warning: %s/%s is damaged: its SHA-256 is %s (copied as it "
				        "is)\n",
				        b->data, r->rel, sha);
	}
	return 0;
}

static int copy_keys(struct backup *b)
{
	char dir[4096];
	if (join(dir, sizeof dir, b->data, "keys") != 0)
		return fail(&b->oops, ENAMETOOLONG, "cannot read the keys");
	DIR *d = opendir(dir);
	if (!d)
		return fail(&b->oops, errno, "cannot read %s", dir);
	struct dirent *e;
	int rc = 0;
	while (rc == 0 && (e = readdir(d))) {
		char rel[256], from[4200], sha[65];
		struct stat sb;
		mode_t mode;
		if (!name_ok(e->d_name) || fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
		    !S_ISREG(sb.st_mode) || strfmt(rel, sizeof rel, "keys/%s", e->d_name) != 0 ||
		    join(from, sizeof from, b->data, rel) != 0)
			continue;
		rc = copy_to_dest(b, from, rel, &mode, sha);
	}
	closedir(d);
	char keys[4096];
	if (rc == 0 && join(keys, sizeof keys, b->dest, "keys") == 0)
		chmod(keys, 0700);
	return rc;
}

static int sqlite_exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

static bool sqlite_full(sqlite3 *db, int rc)
{
	int e = sqlite3_system_errno(db);
	return (rc & 0xff) == SQLITE_FULL || ((rc & 0xff) == SQLITE_IOERR && (e == ENOSPC || e == EDQUOT));
}

static bool sqlite_has_table(sqlite3 *db, const char *table)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", -1, &st, NULL) !=
	    SQLITE_OK)
		return false;
	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	bool has = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return has;
}

/* The refs of the rows the snapshot (src's read transaction) holds. */
static int sqlite_refs(struct backup *b, sqlite3 *src)
{
	for (size_t t = 0; t < sizeof linking_tables / sizeof linking_tables[0]; t++) {
		const struct linking_table *lt = &linking_tables[t];
		if (!sqlite_has_table(src, lt->table))
			continue;
		char sql[256];
		snprintf(sql, sizeof sql, "SELECT DISTINCT %s, %s FROM %s", lt->a, lt->b ? lt->b : "''", lt->table);
		sqlite3_stmt *st;
		if (sqlite3_prepare_v2(src, sql, -1, &st, NULL) != SQLITE_OK)
			return fail(&b->oops, 0, "cannot read the table %s: %s", lt->table, sqlite3_errmsg(src));
		int rc;
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			const char *a = (const char *)sqlite3_column_text(st, 0),
			           *bb = (const char *)sqlite3_column_text(st, 1);
			if (refs_of_row(&b->refs, lt->table, a ? a : "", bb ? bb : "") != 0) {
				sqlite3_finalize(st);
				return fail(&b->oops, ENOMEM, "cannot list the files of %s", lt->table);
			}
		}
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE)
			return fail(&b->oops, 0, "cannot read the table %s: %s", lt->table, sqlite3_errmsg(src));
	}
	refs_unique(&b->refs);
	return 0;
}

/* VITRINE_BACKUP_PAUSE_MS: a pause after the snapshot, for the tests
 * (writes and deletions go on meanwhile); 0 otherwise. */
static void test_pause(void)
{
	const char *v = getenv("VITRINE_BACKUP_PAUSE_MS");
	long ms = v ? strtol(v, NULL, 10) : 0;
	for (long i = 0; i < ms / 10 && !interrupted; i++)
		usleep(10000);
}

/* (2): the snapshot and the files it links, under a brief write lock. */
static int sqlite_snapshot(struct backup *b, const char *path, sqlite3 **src_out)
{
	sqlite3 *src = NULL, *w = NULL;
	int rc = sqlite3_open_v2(path, &src, SQLITE_OPEN_READWRITE, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_open_v2(path, &w, SQLITE_OPEN_READWRITE, NULL);
	if (rc != SQLITE_OK) {
		fail(&b->oops, 0, "cannot open %s: %s", path, sqlite3_errstr(rc));
		goto failed;
	}
	sqlite3_busy_timeout(src, BUSY_TIMEOUT_MS);
	sqlite3_busy_timeout(w, BUSY_TIMEOUT_MS);
	/* as the server opens it: readers never wait for writers, nor these */
	if (sqlite_exec(src, "PRAGMA journal_mode=WAL") != SQLITE_OK) {
		fail(&b->oops, 0, "cannot read %s: %s", path, sqlite3_errmsg(src));
		goto failed;
	}
	int64_t t0 = now_us();
	if ((rc = sqlite_exec(w, "BEGIN IMMEDIATE")) != SQLITE_OK) {
		fail(&b->oops, 0, "the database stayed locked for %d s: %s", BUSY_TIMEOUT_MS / 1000, sqlite3_errmsg(w));
		goto failed;
	}
	if (sqlite_exec(src, "BEGIN; SELECT COUNT(*) FROM sqlite_master") != SQLITE_OK) {
		fail(&b->oops, 0, "cannot read %s: %s", path, sqlite3_errmsg(src));
		goto failed;
	}
	size_t absent = 0;
	rc = sqlite_refs(b, src) == 0 && stage_refs(b, true, &absent) == 0 ? 0 : -1;
	sqlite_exec(w, "ROLLBACK");
	sqlite3_close(w);
	w = NULL;
	b->window_us = now_us() - t0;
	/* thumbnails and screenshots: a miss costs only them, so not under the lock */
	if (rc != 0 || stage_refs(b, false, &absent) != 0)
		goto failed;
	*src_out = src;
	return 0;
failed:
	sqlite3_close(w);
	sqlite3_close(src);
	return -1;
}

static int fsync_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rc = fd >= 0 && fsync(fd) == 0 ? 0 : -1;
	int e = errno;
	if (fd >= 0)
		close(fd);
	errno = e;
	return rc;
}

/* (3): the snapshot into DEST/vitrine.db, checked. */
static int sqlite_copy(struct backup *b, sqlite3 *src, const char *live)
{
	char tmp[4096], dst_path[4096], journal[4200];
	if (join(tmp, sizeof tmp, b->dest, SQLITE_FILE ".tmp") != 0 ||
	    join(dst_path, sizeof dst_path, b->dest, SQLITE_FILE) != 0 ||
	    strfmt(journal, sizeof journal, "%s-journal", tmp) != 0)
		return fail(&b->oops, ENAMETOOLONG, "cannot write into %s", b->dest);
	/* made here, 0600, before SQLite opens it: a backup holds every secret */
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return fail(&b->oops, errno, "cannot create %s", tmp);
	close(fd);
	sqlite3 *dst = NULL;
	int rc = sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE, NULL);
	sqlite3_backup *bk = rc == SQLITE_OK ? sqlite3_backup_init(dst, "main", src, "main") : NULL;
	if (!bk) {
		fail(&b->oops, 0, "cannot start the copy of the database into %s: %s", tmp,
		     dst ? sqlite3_errmsg(dst) : sqlite3_errstr(rc));
		sqlite3_close(dst);
		return -1;
	}
	int restarts = 0, last = -1;
	do {
		rc = sqlite3_backup_step(bk, STEP_PAGES);
		int remaining = sqlite3_backup_remaining(bk);
		if (last >= 0 && remaining > last)
			restarts++;
		last = remaining;
		if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
			sqlite3_sleep(20);
	} while ((rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED) && !interrupted);
	int full = rc != SQLITE_DONE && sqlite_full(dst, rc);
	sqlite3_backup_finish(bk);
	if (rc != SQLITE_DONE) {
		if (interrupted)
			fail(&b->oops, 0, "interrupted");
		else if (full)
			fail(&b->oops, ENOSPC, "the disk of %s is full", b->dest);
		else
			fail(&b->oops, 0, "the copy of the database failed: %s", sqlite3_errstr(rc));
		sqlite3_close(dst);
		return -1;
	}
	if (restarts) /* cannot happen with the read transaction held: said if it does */
		fprintf(stderr, "vitrine-server: warning: the copy of the database restarted %d times\n", restarts);
	/* one self-contained file (the server turns WAL on again when it opens it) */
	sqlite3_stmt *st = NULL;
	rc = sqlite_exec(dst, "PRAGMA journal_mode=DELETE");
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(dst, "PRAGMA integrity_check", -1, &st, NULL);
	bool ok = rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW &&
	          strcmp((const char *)sqlite3_column_text(st, 0), "ok") == 0 && sqlite3_step(st) == SQLITE_DONE;
	char problem[512];
	snprintf(problem, sizeof problem, "%s",
	         st && sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0) : sqlite3_errmsg(dst));
	sqlite3_finalize(st);
	full = !ok && sqlite_full(dst, sqlite3_extended_errcode(dst));
	if (ok && sqlite3_prepare_v2(dst, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", -1, &st, NULL) ==
	              SQLITE_OK) {
		b->schema_version = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
		sqlite3_finalize(st);
	}
	if (sqlite3_close(dst) != SQLITE_OK && ok) {
		ok = false;
		snprintf(problem, sizeof problem, "it could not be closed");
	}
	if (!ok)
		return full ? fail(&b->oops, ENOSPC, "the disk of %s is full", b->dest)
		            : fail(&b->oops, 0, "the copy of the database is not sound (integrity_check: %s)", problem);
	unlink(journal);
	if (fsync_path(tmp) != 0 || rename(tmp, dst_path) != 0)
		return fail(&b->oops, errno, "cannot write %s", dst_path);
	char sha[65];
	uint64_t size;
	struct stat sb;
	if (hash_file(dst_path, sha, &size) != 0)
		return fail(&b->oops, errno, "cannot read %s", dst_path);
	return add_entry(b, SQLITE_FILE, size, sha, stat(live, &sb) == 0 ? sb.st_mode : 0600);
}

/* Bytes the files to copy and the database take, against DEST's room. */
static int check_room(struct backup *b, uint64_t database_bytes)
{
	uint64_t need = database_bytes;
	for (size_t i = 0; i < b->refs.n; i++) {
		char path[4096];
		struct stat sb;
		if (b->refs.v[i].have && join(path, sizeof path, b->staging, b->refs.v[i].rel) == 0 &&
		    stat(path, &sb) == 0)
			need += (uint64_t)sb.st_size;
	}
	struct statvfs sv;
	if (statvfs(b->dest, &sv) != 0)
		return 0;
	uint64_t room = (uint64_t)sv.f_bavail * sv.f_frsize;
	if (need + ((uint64_t)1 << 20) > room)
		return fail(&b->oops, ENOSPC,
		            "the disk of %s is full: the backup needs about %llu MiB, it has %llu MiB free", b->dest,
		            (unsigned long long)(need >> 20) + 1, (unsigned long long)(room >> 20));
	return 0;
}

static int backup_sqlite(struct backup *b)
{
	char live[4096];
	if (join(live, sizeof live, b->data, SQLITE_FILE) != 0)
		return fail(&b->oops, ENAMETOOLONG, "cannot read the database");
	if (access(live, F_OK) != 0)
		return fail(&b->oops, errno, "%s has no database", b->data);
	if (stage_everything_present(b) != 0)
		return -1;
	sqlite3 *src = NULL;
	if (sqlite_snapshot(b, live, &src) != 0)
		return -1;
	int64_t bytes = 0;
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(src, "SELECT page_count * page_size FROM pragma_page_count, pragma_page_size", -1, &st,
	                       NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			bytes = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	int rc = check_room(b, (uint64_t)bytes);
	if (rc == 0) {
		test_pause();
		rc = sqlite_copy(b, src, live);
	}
	sqlite_exec(src, "COMMIT");
	sqlite3_close(src);
	return rc == 0 ? copy_refs(b) : -1;
}

/* --- PostgreSQL --- */

/* Reads the COPY blocks pg_restore prints of the linking tables and of
 * schema_migrations into refs and the schema version. */
static int pg_parse_rows(struct backup *b, char *text)
{
	const struct linking_table *lt = NULL;
	int ca = -1, cb = -1, cv = -1;
	bool migrations = false;
	for (char *line = text, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (strncmp(line, "COPY ", 5) == 0) {
			char *open = strchr(line, '('), *close = open ? strchr(open, ')') : NULL;
			char name[128];
			if (!open || !close)
				continue;
			size_t n = (size_t)(open - line - 6 > 0 ? open - line - 6 : 0);
			snprintf(name, sizeof name, "%.*s", (int)n, line + 5);
			char *dot = strrchr(name, '.');
			const char *table = dot ? dot + 1 : name;
			lt = NULL;
			migrations = strcmp(table, "schema_migrations") == 0;
			for (size_t t = 0; t < sizeof linking_tables / sizeof linking_tables[0]; t++)
				if (strcmp(table, linking_tables[t].table) == 0)
					lt = &linking_tables[t];
			ca = cb = cv = -1;
			*close = '\0';
			int col = 0;
			for (char *save = NULL, *c = strtok_r(open + 1, ", ", &save); c;
			     c = strtok_r(NULL, ", ", &save), col++) {
				if (lt && strcmp(c, lt->a) == 0)
					ca = col;
				if (lt && lt->b && strcmp(c, lt->b) == 0)
					cb = col;
				if (strcmp(c, "version") == 0)
					cv = col;
			}
			continue;
		}
		if (strcmp(line, "\\.") == 0) {
			lt = NULL;
			migrations = false;
			continue;
		}
		if (!lt && !migrations)
			continue;
		char *field[16];
		int nf = 0;
		for (char *p = line; nf < 16; p++) {
			field[nf++] = p;
			if (!(p = strchr(p, '\t')))
				break;
			*p = '\0';
		}
		if (migrations && cv >= 0 && cv < nf && atoi(field[cv]) > b->schema_version)
			b->schema_version = atoi(field[cv]);
		if (lt && ca >= 0 && ca < nf &&
		    refs_of_row(&b->refs, lt->table, field[ca], cb >= 0 && cb < nf ? field[cb] : "") != 0)
			return fail(&b->oops, ENOMEM, "cannot list the files of %s", lt->table);
	}
	refs_unique(&b->refs);
	return 0;
}

static int backup_postgresql(struct backup *b, const char *url)
{
	char plain[4096], pw[1024], tmp[4096], dump[4096], file_arg[4200], db_arg[4200];
	if (pg_split_url(url, plain, sizeof plain, pw, sizeof pw) != 0)
		return fail(&b->oops, 0, "the --db URL is too long");
	if (join(tmp, sizeof tmp, b->dest, PGDUMP_FILE ".tmp") != 0 ||
	    join(dump, sizeof dump, b->dest, PGDUMP_FILE) != 0 ||
	    strfmt(file_arg, sizeof file_arg, "--file=%s", tmp) != 0 ||
	    strfmt(db_arg, sizeof db_arg, "--dbname=%s", plain) != 0) {
		sodium_memzero(pw, sizeof pw);
		return fail(&b->oops, ENAMETOOLONG, "cannot write into %s", b->dest);
	}
	int rc = -1;
	for (int attempt = 1; attempt <= 2; attempt++) {
		refs_clear(&b->refs);
		b->schema_version = 0;
		if (stage_everything_present(b) != 0)
			break;
		char *dump_argv[] = {"pg_dump", "--format=custom", "--no-password", db_arg, file_arg, NULL};
		struct capture out = {0}, err = {0};
		int status = run_tool(dump_argv, pw, NULL, &err);
		if (status != 0) {
			print_tool_errors("pg_dump", &err, pw);
			bool full = err.data && strstr(err.data, "No space left");
			free(err.data);
			if (full)
				fail(&b->oops, ENOSPC, "the disk of %s is full", b->dest);
			else
				fail(&b->oops, 0, status < 0 ? "interrupted" : "pg_dump failed (exit status %d)",
				     status);
			break;
		}
		free(err.data);
		err = (struct capture){0};
		char *list_argv[] = {"pg_restore",
		                     "--data-only",
		                     "--table=media",
		                     "--table=releases",
		                     "--table=screens",
		                     "--table=screen_logs",
		                     "--table=schema_migrations",
		                     "--file=-",
		                     tmp,
		                     NULL};
		status = run_tool(list_argv, "", &out, &err);
		if (status != 0) {
			print_tool_errors("pg_restore", &err, pw);
			fail(&b->oops, 0, "the dump cannot be read back (pg_restore exit status %d)", status);
		}
		free(err.data);
		size_t absent = 0;
		int parsed = status == 0 && out.data ? pg_parse_rows(b, out.data) : status == 0 ? 0 : -1;
		free(out.data);
		size_t optional;
		if (parsed != 0 || stage_refs(b, true, &absent) != 0 || stage_refs(b, false, &optional) != 0)
			break;
		if (absent == 0 || attempt == 2) {
			rc = 0;
			break;
		}
		fprintf(stderr,
		        "vitrine-server: %zu file%s the dump links %s not in the data folder (changed while it was "
		        "dumped?): once more\n",
		        absent, absent == 1 ? "" : "s", absent == 1 ? "is" : "are");
		unlink(tmp);
	}
	sodium_memzero(pw, sizeof pw);
	if (rc != 0)
		return -1;
	test_pause();
	char sha[65];
	uint64_t size;
	if (fsync_path(tmp) != 0 || rename(tmp, dump) != 0 || hash_file(dump, sha, &size) != 0)
		return fail(&b->oops, errno, "cannot write %s", dump);
	if (check_room(b, 0) != 0 || add_entry(b, PGDUMP_FILE, size, sha, 0600) != 0)
		return -1;
	return copy_refs(b);
}

/* --- the commands --- */

static int backend_of(const char *url, enum backend *out)
{
	if (!url || !*url || strcmp(url, "sqlite:") == 0) {
		*out = BACKEND_SQLITE;
		return 0;
	}
	if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0) {
		*out = BACKEND_POSTGRESQL;
		return 0;
	}
	fprintf(stderr, "vitrine-server: --db must be sqlite: or a postgresql:// URI\n");
	return -1;
}

static const char *backend_name(enum backend be)
{
	return be == BACKEND_SQLITE ? "sqlite" : "postgresql";
}

static int write_manifest(struct backup *b, enum backend be, const char *version)
{
	time_t now = time(NULL);
	struct tm tm;
	char when[32], path[4096];
	gmtime_r(&now, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_t *m = json_pack("{s:s, s:i, s:s, s:s, s:I, s:s, s:s, s:i, s:O, s:O}", "format", FORMAT, "version",
	                      FORMAT_VERSION, "server_version", version, "created", when, "created_at", (json_int_t)now,
	                      "backend", backend_name(be), "database", be == BACKEND_SQLITE ? SQLITE_FILE : PGDUMP_FILE,
	                      "schema_version", b->schema_version, "files", b->files, "missing", b->missing);
	char *text = m ? json_dumps(m, JSON_INDENT(1) | JSON_ENSURE_ASCII) : NULL;
	json_decref(m);
	int e = 0, rc = -1;
	if (!text)
		fail(&b->oops, ENOMEM, "cannot write the manifest");
	else if (join(path, sizeof path, b->dest, MANIFEST) != 0)
		fail(&b->oops, ENAMETOOLONG, "cannot write the manifest");
	else if ((rc = write_file(path, text, strlen(text), &e)) != 0)
		fail(&b->oops, e, e == ENOSPC || e == EDQUOT ? "the disk of %s is full" : "cannot write %s",
		     e == ENOSPC || e == EDQUOT ? b->dest : path);
	free(text);
	return rc;
}

static void print_size(char *out, size_t outsz, uint64_t bytes)
{
	if (bytes < 10240)
		snprintf(out, outsz, "%llu bytes", (unsigned long long)bytes);
	else if (bytes < (uint64_t)10 << 20)
		snprintf(out, outsz, "%.1f KiB", bytes / 1024.0);
	else
		snprintf(out, outsz, "%.1f MiB", bytes / 1048576.0);
}

int backup_run(const char *data, const char *db_url, const char *dest, const char *version)
{
	enum backend be;
	if (backend_of(db_url, &be) != 0)
		return 2;
	struct stat sb;
	char first[256] = "";
	if (stat(dest, &sb) == 0 && (!S_ISDIR(sb.st_mode) || !dir_is_empty(dest, first, sizeof first))) {
		if (S_ISDIR(sb.st_mode))
			fprintf(stderr,
			        "vitrine-server: %s is not empty (it has %s): a backup goes into a new or empty "
			        "folder\n",
			        dest, first);
		else
			fprintf(stderr,
			        "vitrine-server: %s exists and is not a folder: a backup goes into a new folder\n",
			        dest);
		return 2;
	}
	if (backup_restore_unfinished(data)) {
		fprintf(stderr,
		        "vitrine-server: %s holds a restore that did not finish (" BACKUP_RESTORE_MARKER
		        "): there is nothing whole to back up\n",
		        data);
		return 1;
	}
	struct backup b = {.data = data, .dest = dest};
	bool made = false;
	if (stat(dest, &sb) != 0) {
		if (mkdir(dest, 0700) != 0) {
			fprintf(stderr, "vitrine-server: cannot create %s: %s\n", dest, strerror(errno));
			return 1;
		}
		made = true;
	}
	b.dest_made = made;
	catch_signals();
	remove_stale_staging(data);
	int rc = -1;
	b.files = json_array();
	b.missing = json_array();
	if (strfmt(b.staging, sizeof b.staging, "%s/.backup-%ld", data, (long)getpid()) != 0 ||
	    mkdir(b.staging, 0700) != 0)
		fail(&b.oops, errno ? errno : ENAMETOOLONG, "cannot create the staging folder %s", b.staging);
	else
		b.staging_made = true;
	if (b.staging_made && b.files && b.missing)
		rc = be == BACKEND_SQLITE ? backup_sqlite(&b) : backup_postgresql(&b, db_url);
	/* the manifest last, once everything it lists is on the disk */
	if (rc == 0 && copy_keys(&b) == 0) {
		if (sync_tree(dest) != 0)
			fail(&b.oops, errno, "cannot write %s", dest);
		else if (write_manifest(&b, be, version) == 0 && sync_tree(dest) != 0)
			fail(&b.oops, errno, "cannot write %s", dest);
	}
	if (b.staging_made)
		remove_tree(b.staging, false);
	if (interrupted && !b.oops.msg[0])
		fail(&b.oops, 0, "interrupted");
	if (b.oops.msg[0]) {
		remove_tree(dest, !made);
		fprintf(stderr, "vitrine-server: %s (the partial backup %s was removed)\n", b.oops.msg, dest);
	} else {
		char total[32];
		print_size(total, sizeof total, b.bytes);
		printf("backed up %s into %s: the %s database (schema version %d) and %zu file%s, %s in all", data,
		       dest, backend_name(be), b.schema_version, b.count - 1, b.count == 2 ? "" : "s", total);
		if (be == BACKEND_SQLITE)
			printf("; writes waited %.1f ms for the snapshot", b.window_us / 1000.0);
		printf("\n");
		if (json_array_size(b.missing))
			printf("warning: %zu files the database links were not in %s (listed as \"missing\" in "
			       "%s/" MANIFEST ")\n",
			       json_array_size(b.missing), data, dest);
	}
	refs_clear(&b.refs);
	free(b.refs.v);
	json_decref(b.files);
	json_decref(b.missing);
	return b.oops.msg[0] ? 1 : fflush(stdout) == 0 ? 0 : 1;
}

/* --- restore --- */

struct entry {
	const char *path, *sha;
	uint64_t size;
	mode_t mode;
};

static int copy_checked(const char *src, const char *data, const struct entry *e, struct oops *o)
{
	char from[4096], to[4096];
	if (join(from, sizeof from, src, e->path) != 0 || join(to, sizeof to, data, e->path) != 0)
		return fail(o, ENAMETOOLONG, "cannot restore %s", e->path);
	int in = open(from, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (in < 0)
		return fail(o, errno, "cannot read %s", from);
	if (make_parents(data, e->path) != 0) {
		int err = errno;
		close(in);
		return fail(o, err, "cannot create the folders of %s", to);
	}
	crypto_hash_sha256_state h;
	crypto_hash_sha256_init(&h);
	uint64_t size = 0;
	int err = 0, rc = copy_into(in, to, e->mode, &h, &size, &err);
	close(in);
	if (rc != 0)
		return fail(o, err, err == ENOSPC || err == EDQUOT ? "the disk of %s is full" : "cannot write %s",
		            err == ENOSPC || err == EDQUOT ? data : to);
	char sha[65];
	digest_hex(&h, sha);
	if (size != e->size || strcmp(sha, e->sha) != 0) /* changed since it was checked */
		return fail(o, 0, "%s changed while it was restored", from);
	return 0;
}

/* The number of tables in the public schema of url's database, or -1. */
static long pg_public_tables(const char *plain, const char *pw)
{
	char db_arg[4200];
	if (strfmt(db_arg, sizeof db_arg, "--dbname=%s", plain) != 0)
		return -1;
	char *argv[] = {"psql",
	                "--no-psqlrc",
	                "--no-password",
	                "--quiet",
	                "--tuples-only",
	                "--no-align",
	                db_arg,
	                "--command=SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = 'public'",
	                NULL};
	struct capture out = {0}, err = {0};
	int status = run_tool(argv, pw, &out, &err);
	long n = -1;
	if (status == 0 && out.data)
		n = strtol(out.data, NULL, 10);
	else
		print_tool_errors("psql", &err, pw);
	free(out.data);
	free(err.data);
	return n;
}

bool backup_restore_unfinished(const char *data)
{
	char path[4096];
	return join(path, sizeof path, data, BACKUP_RESTORE_MARKER) == 0 && access(path, F_OK) == 0;
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->path, ((const struct entry *)b)->path);
}

/* True, after saying so, when the manifest lists a path twice (or when
 * that cannot be checked). */
static bool listed_twice(const struct entry *v, size_t n, const char *manifest)
{
	if (n < 2)
		return false;
	struct entry *sorted = malloc(n * sizeof *sorted);
	if (!sorted) {
		fprintf(stderr, "vitrine-server: out of memory\n");
		return true;
	}
	memcpy(sorted, v, n * sizeof *sorted);
	qsort(sorted, n, sizeof *sorted, entry_cmp);
	bool twice = false;
	for (size_t i = 1; !twice && i < n; i++)
		if (strcmp(sorted[i - 1].path, sorted[i].path) == 0) {
			fprintf(stderr, "vitrine-server: %s lists %s twice\n", manifest, sorted[i].path);
			twice = true;
		}
	free(sorted);
	return twice;
}

/* Reads and checks SRC/backup.json into entries. 0, or the exit status. */
static int read_manifest(const char *src, enum backend be, json_t **out, struct entry **entries, size_t *count,
                         int *schema)
{
	char path[4096];
	struct stat sb;
	if (join(path, sizeof path, src, MANIFEST) != 0 || stat(src, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		fprintf(stderr, "vitrine-server: %s is not a folder: restore reads a backup folder\n", src);
		return 2;
	}
	if (stat(path, &sb) != 0) {
		fprintf(stderr,
		        "vitrine-server: %s is not a Vitrine backup (it has no " MANIFEST
		        "; an interrupted backup has none either)\n",
		        src);
		return 2;
	}
	json_error_t je;
	json_t *m = json_load_file(path, 0, &je);
	const char *format = NULL, *backend = NULL, *database = NULL;
	int version = 0;
	json_t *files = NULL;
	if (!m ||
	    json_unpack(m, "{s:s, s:i, s:s, s:s, s:i, s:o}", "format", &format, "version", &version, "backend",
	                &backend, "database", &database, "schema_version", schema, "files", &files) != 0 ||
	    strcmp(format, FORMAT) != 0 || !json_is_array(files)) {
		fprintf(stderr, "vitrine-server: %s is not a Vitrine backup manifest%s%s\n", path, m ? "" : ": ",
		        m ? "" : je.text);
		json_decref(m);
		return 1;
	}
	if (version != FORMAT_VERSION) {
		fprintf(stderr, "vitrine-server: %s is a backup of format %d; this vitrine-server reads format %d\n",
		        src, version, FORMAT_VERSION);
		json_decref(m);
		return 1;
	}
	if (strcmp(backend, backend_name(be)) != 0) {
		fprintf(stderr,
		        "vitrine-server: %s holds a %s database; restore it with %s (the --db setting says %s)\n", src,
		        backend, strcmp(backend, "sqlite") == 0 ? "--db sqlite:" : "--db postgresql://...",
		        backend_name(be));
		json_decref(m);
		return 2;
	}
	int newest = 0;
	for (size_t i = 0; i < store_migrations_count; i++)
		if (store_migrations[i].version > newest)
			newest = store_migrations[i].version;
	if (*schema > newest) {
		fprintf(stderr,
		        "vitrine-server: %s was made by a newer vitrine-server (schema version %d; this one knows up "
		        "to %d): restore it with that version\n",
		        src, *schema, newest);
		json_decref(m);
		return 1;
	}
	size_t n = json_array_size(files);
	struct entry *v = calloc(n ? n : 1, sizeof *v);
	bool has_db = false, has_secret = false;
	for (size_t i = 0; v && i < n; i++) {
		const char *p = NULL, *sha = NULL, *mode = "0600";
		json_int_t size = -1;
		char *end;
		if (json_unpack(json_array_get(files, i), "{s:s, s:I, s:s, s?:s}", "path", &p, "size", &size, "sha256",
		                &sha, "mode", &mode) != 0 ||
		    !path_ok(p) || size < 0 || !codes_is_sha256(sha)) {
			fprintf(stderr, "vitrine-server: %s: entry %zu is not a file of a backup (%s)\n", path, i + 1,
			        p ? p : "no path");
			free(v);
			json_decref(m);
			return 1;
		}
		long md = strtol(mode, &end, 8);
		if (*end || md < 0 || md > 0777) {
			fprintf(stderr, "vitrine-server: %s: %s has a wrong mode (%s)\n", path, p, mode);
			free(v);
			json_decref(m);
			return 1;
		}
		v[i] = (struct entry){p, sha, (uint64_t)size, (mode_t)md};
		has_db |= strcmp(p, database) == 0;
		has_secret |= strcmp(p, "keys/server.secret") == 0;
	}
	if (v && listed_twice(v, n, path)) {
		free(v);
		json_decref(m);
		return 1;
	}
	if (v && (!has_db || !has_secret || strcmp(database, be == BACKEND_SQLITE ? SQLITE_FILE : PGDUMP_FILE) != 0)) {
		fprintf(stderr, "vitrine-server: %s lists no %s: it is not a whole backup\n", path,
		        has_db ? "keys/server.secret" : database);
		free(v);
		json_decref(m);
		return 1;
	}
	if (!v) {
		json_decref(m);
		return 1;
	}
	*out = m;
	*entries = v;
	*count = n;
	return 0;
}

int backup_restore(const char *data, const char *db_url, const char *src)
{
	enum backend be;
	if (backend_of(db_url, &be) != 0)
		return 2;
	json_t *m = NULL;
	struct entry *v = NULL;
	size_t n = 0;
	int schema = 0;
	struct stat sb;
	char first[256] = "";
	bool made = stat(data, &sb) != 0;
	if (!made && (!S_ISDIR(sb.st_mode) || !dir_is_empty(data, first, sizeof first))) {
		if (S_ISDIR(sb.st_mode))
			fprintf(stderr,
			        "vitrine-server: %s is not empty (it has %s): restore writes only into an empty or new "
			        "folder, so that nothing of another server is mixed in\n",
			        data, first);
		else
			fprintf(stderr, "vitrine-server: %s exists and is not a folder\n", data);
		return 2;
	}
	int status = read_manifest(src, be, &m, &v, &n, &schema);
	if (status != 0)
		return status;
	catch_signals();
	char plain[4096] = "", pw[1024] = "";
	status = 1;
	if (be == BACKEND_POSTGRESQL) {
		if (pg_split_url(db_url, plain, sizeof plain, pw, sizeof pw) != 0) {
			fprintf(stderr, "vitrine-server: the --db URL is too long\n");
			goto out;
		}
		long tables = pg_public_tables(plain, pw);
		if (tables < 0) {
			fprintf(stderr, "vitrine-server: cannot reach the --db database to check that it is empty\n");
			goto out;
		}
		if (tables > 0) {
			fprintf(stderr,
			        "vitrine-server: the --db database has %ld tables in its public schema: restore goes "
			        "into an empty database (createdb a new one)\n",
			        tables);
			status = 2;
			goto out;
		}
	}
	/* every hash before a byte is written */
	for (size_t i = 0; i < n; i++) {
		char path[4096], sha[65];
		uint64_t size = 0;
		if (join(path, sizeof path, src, v[i].path) != 0 || hash_file(path, sha, &size) != 0) {
			fprintf(stderr,
			        "vitrine-server: %s/%s cannot be read (%s): the backup is incomplete; nothing was "
			        "restored\n",
			        src, v[i].path, interrupted ? "interrupted" : strerror(errno));
			goto out;
		}
		if (size != v[i].size || strcmp(sha, v[i].sha) != 0) {
			fprintf(stderr,
			        "vitrine-server: %s does not match " MANIFEST
			        " (%llu bytes, SHA-256 %s; the manifest says %llu bytes, %s): the backup is damaged or "
			        "was changed; nothing was restored\n",
			        path, (unsigned long long)size, sha, (unsigned long long)v[i].size, v[i].sha);
			goto out;
		}
	}
	if (made && mkdir(data, 0700) != 0) {
		fprintf(stderr, "vitrine-server: cannot create %s: %s\n", data, strerror(errno));
		goto out;
	}
	struct oops o = {0};
	char marker[4096], keys[4096];
	int e = 0;
	const char *note = "a restore is under way, or it stopped half-way: remove this folder and restore again\n";
	if (join(marker, sizeof marker, data, BACKUP_RESTORE_MARKER) != 0 ||
	    join(keys, sizeof keys, data, "keys") != 0 || write_file(marker, note, strlen(note), &e) != 0)
		fail(&o, e ? e : ENAMETOOLONG, "cannot write into %s", data);
	const char *database = be == BACKEND_SQLITE ? SQLITE_FILE : PGDUMP_FILE;
	for (size_t i = 0; !o.msg[0] && i < n; i++)
		if (strcmp(v[i].path, database) != 0 && strcmp(v[i].path, PGDUMP_FILE) != 0)
			copy_checked(src, data, &v[i], &o);
	if (!o.msg[0])
		chmod(keys, 0700);
	for (size_t i = 0; !o.msg[0] && i < n; i++) {
		if (strcmp(v[i].path, database) != 0)
			continue;
		if (be == BACKEND_SQLITE) {
			copy_checked(src, data, &v[i], &o); /* last: vitrine.db.tmp renamed into place */
			continue;
		}
		char dump[4096], db_arg[4200];
		if (join(dump, sizeof dump, src, PGDUMP_FILE) != 0 ||
		    strfmt(db_arg, sizeof db_arg, "--dbname=%s", plain) != 0) {
			fail(&o, ENAMETOOLONG, "cannot restore the database");
			continue;
		}
		char *argv[] = {
		    "pg_restore", "--no-owner", "--exit-on-error", "--single-transaction", "--no-password", db_arg,
		    dump,         NULL};
		struct capture out = {0}, err = {0};
		int rc = run_tool(argv, pw, &out, &err);
		if (rc != 0) {
			print_tool_errors("pg_restore", &err, pw);
			fail(&o, 0,
			     rc < 0 ? "interrupted" : "pg_restore failed (exit status %d): the database is left empty",
			     rc);
		}
		free(out.data);
		free(err.data);
	}
	if (!o.msg[0] && (unlink(marker) != 0 || sync_tree(data) != 0))
		fail(&o, errno, "cannot finish %s", data);
	if (interrupted && !o.msg[0])
		fail(&o, 0, "interrupted");
	if (o.msg[0]) {
		remove_tree(data, !made);
		fprintf(stderr, "vitrine-server: %s (what was restored into %s was removed)\n", o.msg, data);
		goto out;
	}
	uint64_t bytes = 0;
	for (size_t i = 0; i < n; i++)
		bytes += v[i].size;
	char total[32];
	print_size(total, sizeof total, bytes);
	printf("restored %s into %s: the %s database (schema version %d, backed up %s) and %zu file%s, %s in all\n",
	       src, data, backend_name(be), schema, json_string_value(json_object_get(m, "created")), n - 1,
	       n == 2 ? "" : "s", total);
	status = fflush(stdout) == 0 ? 0 : 1;
out:
	sodium_memzero(pw, sizeof pw);
	free(v);
	json_decref(m);
	return status;
}
