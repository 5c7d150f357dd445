/* A publishing folder's channel.json and files; see chfile.h. The rules
 * are the server's own code (src/common/channel_schema.c) with the folder
 * as the resolver of "file" and "media": checking them here lets the CLI
 * name every fault at once, before uploading anything. */
#include "chfile.h"
#include "common/buf.h"
#include "common/channel_schema.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/sha256_file.h"

/* The folder as the schema's resolver; the arrays of cf grow in bufs
 * (at most one entry per item of a channel) and are handed over at the
 * end of the check. */
struct folder {
	struct chfile *cf;
	const char *dir;
	struct buf files, media;
};

#define CHFILE_MAX_REFS ((size_t)CHANNEL_MAX_ZONES * CHANNEL_MAX_ITEMS)

/* The kind of a file of the folder, guessed from its name (the server
 * sniffs the bytes; this only decides whether duration 0 may be meant). */
static const char *kind_by_name(const char *name)
{
	const char *dot = strrchr(name, '.');
	if (dot && (strcasecmp(dot, ".mp4") == 0 || strcasecmp(dot, ".webm") == 0 || strcasecmp(dot, ".m4v") == 0))
		return "video";
	if (dot && (strcasecmp(dot, ".html") == 0 || strcasecmp(dot, ".htm") == 0))
		return "html";
	return "image";
}

const struct chfile_file *chfile_find(const struct chfile *cf, const char *rel)
{
	for (size_t i = 0; rel && i < cf->nfiles; i++)
		if (strcmp(cf->files[i].rel, rel) == 0)
			return &cf->files[i];
	return NULL;
}

/* "media": hash; whether the server has it is asked later (publish.c). */
static int resolve_media_ref(void *ctx, const char *sha256, const char *json_path, struct channel_medium *out,
                             char *msg, size_t msgsz)
{
	struct folder *fo = ctx;
	(void)out; /* the kind stays unknown until the server is asked */
	struct chfile_media_ref ref;
	memset(&ref, 0, sizeof ref);
	snprintf(ref.sha256, sizeof ref.sha256, "%s", sha256);
	snprintf(ref.json_path, sizeof ref.json_path, "%s", json_path);
	if (buf_add(&fo->media, &ref, sizeof ref) != BUF_OK) {
		snprintf(msg, msgsz, "out of memory");
		return -1;
	}
	fo->cf->media = (struct chfile_media_ref *)buf_ptr(&fo->media);
	fo->cf->nmedia++;
	return 0;
}

/* "file": the path is relative and names a readable regular file of DIR. */
static int resolve_file(void *ctx, const char *rel, const char *json_path, struct channel_medium *out, char *msg,
                        size_t msgsz)
{
	struct folder *fo = ctx;
	snprintf(out->kind, sizeof out->kind, "%s", kind_by_name(rel));
	if (rel[0] == '/' || strlen(rel) > 1024) {
		snprintf(msg, msgsz, "must be a path relative to %s (not empty, not absolute)", fo->dir);
		return -1;
	}
	if (chfile_find(fo->cf, rel))
		return 0;
	char *path = NULL;
	if (asprintf(&path, "%s/%s", fo->dir, rel) < 0) {
		snprintf(msg, msgsz, "out of memory");
		return -1;
	}
	struct stat sb;
	if (stat(path, &sb) != 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			snprintf(msg, msgsz, "no such file %s in %s", rel, fo->dir);
		else
			snprintf(msg, msgsz, "cannot read %s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	if (!S_ISREG(sb.st_mode) || access(path, R_OK) != 0) {
		if (!S_ISREG(sb.st_mode))
			snprintf(msg, msgsz, "%s is not a regular file", path);
		else
			snprintf(msg, msgsz, "cannot read %s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	struct chfile_file f;
	memset(&f, 0, sizeof f);
	f.rel = strdup(rel);
	f.path = path;
	f.size = (uint64_t)sb.st_size;
	f.json_path = strdup(json_path);
	if (!f.rel || !f.json_path || buf_add(&fo->files, &f, sizeof f) != BUF_OK) {
		free(f.rel);
		free(f.path);
		free(f.json_path);
		snprintf(msg, msgsz, "out of memory");
		return -1;
	}
	fo->cf->files = (struct chfile_file *)buf_ptr(&fo->files);
	out->size = (json_int_t)sb.st_size;
	fo->cf->nfiles++;
	return 0;
}

/* Checks the document read from path (cf->doc) with the folder dir. */
static int check_doc(const char *dir, const char *path, struct chfile *cf)
{
	if (!json_is_object(cf->doc)) {
		snprintf(cf->problem, sizeof cf->problem, "%s must hold a JSON object (the channel), not %s", path,
		         channel_schema_type_name(cf->doc));
		return -1;
	}
	/* the server's rules, the same code (src/common/channel_schema.c) */
	struct folder fo = {.cf = cf, .dir = dir};
	buf_init(&fo.files, CHFILE_MAX_REFS * sizeof(struct chfile_file));
	buf_init(&fo.media, CHFILE_MAX_REFS * sizeof(struct chfile_media_ref));
	const struct channel_resolver folder = {resolve_media_ref, resolve_file, &fo};
	json_t *faults = json_array();
	json_t *norm = faults ? channel_schema_check(cf->doc, &folder, faults, CHFILE_MAX_ERRORS) : NULL;
	/* the arrays are cf's now (chfile_free releases them) */
	cf->files = cf->nfiles ? (struct chfile_file *)buf_take(&fo.files, NULL) : NULL;
	cf->media = cf->nmedia ? (struct chfile_media_ref *)buf_take(&fo.media, NULL) : NULL;
	buf_free(&fo.files);
	buf_free(&fo.media);
	size_t i;
	json_t *f;
	json_array_foreach (faults, i, f) {
		char line[800];
		channel_schema_fault_text(f, line, sizeof line);
		json_array_append_new(cf->errors, json_string(line));
	}
	if (!faults)
		json_array_append_new(cf->errors, json_string("out of memory"));
	json_decref(faults);
	json_decref(norm);
	return norm ? 0 : -1;
}

static int begin(const char *dir, struct chfile *cf, char *path, size_t pathsz)
{
	memset(cf, 0, sizeof *cf);
	cf->errors = json_array();
	if (!cf->errors)
		return -1;
	int n = snprintf(path, pathsz, "%s/%s", dir, CHFILE_NAME);
	if (n < 0 || (size_t)n >= pathsz) {
		snprintf(cf->problem, sizeof cf->problem, "the folder's name is too long");
		return -1;
	}
	struct stat sb;
	if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		snprintf(cf->problem, sizeof cf->problem, "%s is not a folder", dir);
		return -1;
	}
	return 0;
}

int chfile_load(const char *dir, struct chfile *cf)
{
	char path[4200];
	if (begin(dir, cf, path, sizeof path) != 0)
		return -1;
	json_error_t jerr;
	cf->doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!cf->doc) {
		if (access(path, F_OK) != 0)
			snprintf(cf->problem, sizeof cf->problem, "no %s in %s (the channel's description goes there)",
			         CHFILE_NAME, dir);
		else
			snprintf(cf->problem, sizeof cf->problem, "%s: line %d, column %d: %s", path, jerr.line,
			         jerr.column, jerr.text);
		return -1;
	}
	return check_doc(dir, path, cf);
}

int chfile_parse(const char *dir, const char *text, size_t len, struct chfile *cf)
{
	char path[4200];
	if (begin(dir, cf, path, sizeof path) != 0)
		return -1;
	json_error_t jerr;
	cf->doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!cf->doc) {
		snprintf(cf->problem, sizeof cf->problem, "%s: line %d, column %d: %s", path, jerr.line, jerr.column,
		         jerr.text);
		return -1;
	}
	return check_doc(dir, path, cf);
}

int chfile_hash(struct chfile *cf)
{
	for (size_t i = 0; i < cf->nfiles; i++) {
		struct chfile_file *f = &cf->files[i];
		int fd = open(f->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || sha256_file_fd(fd, f->sha256, &f->size) != 0) {
			char msg[600];
			snprintf(msg, sizeof msg, "%s: cannot read %s: %s", f->json_path, f->path, strerror(errno));
			json_array_append_new(cf->errors, json_string(msg));
			if (fd >= 0)
				close(fd);
			return -1;
		}
		close(fd);
	}
	return 0;
}

json_t *chfile_server_body(const struct chfile *cf)
{
	json_t *body = json_deep_copy(cf->doc), *zone, *item;
	size_t zi, ii;
	json_array_foreach (json_object_get(body, "zones"), zi, zone) {
		json_array_foreach (json_object_get(zone, "items"), ii, item) {
			const struct chfile_file *f = chfile_find(cf, json_string_value(json_object_get(item, "file")));
			if (!f)
				continue;
			json_object_set_new(item, "media", json_string(f->sha256));
			json_object_del(item, "file");
		}
	}
	return body;
}

void chfile_free(struct chfile *cf)
{
	for (size_t i = 0; i < cf->nfiles; i++) {
		free(cf->files[i].rel);
		free(cf->files[i].path);
		free(cf->files[i].json_path);
	}
	free(cf->files);
	free(cf->media);
	json_decref(cf->doc);
	json_decref(cf->errors);
	memset(cf, 0, sizeof *cf);
}
