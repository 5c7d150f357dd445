/*
 * Content-addressed files on the server's disk, the machinery shared by the
 * media library (data/media/ab/<sha256>) and releases
 * (data/releases/<sha256>): how a streamed upload reaches its place, and
 * how a stored file is served.
 *
 * An upload is written to a temporary file (<id>.part in a folder of the
 * caller's) while it is hashed; it is refused with 507 from its headers
 * when the disk has no room for the size announced, and while it arrives
 * when a write fails. The caller compares the hash with what it expects,
 * then object_upload_sync (fsync, outside any transaction) and, holding
 * objects_lock, object_upload_move (rename: atomic) and the commit of the
 * row that links the file. Removals check that no row links a file and
 * unlink it under the same lock, so a file is never removed between an
 * upload's rename and its commit. A request that ends any other way (a
 * refusal, a client that closes early) discards the temporary file in its
 * cleanup: nothing is half-stored.
 *
 * Files are served with sendfile, a strong ETag "<sha256>" and Range.
 */
#ifndef VITRINE_CONTENT_OBJECTS_H
#define VITRINE_CONTENT_OBJECTS_H

#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct http_req;

struct object_upload {
	int fd; /* the temporary file, -1 when none is open */
	char tmp[4096];
	crypto_hash_sha256_state hash;
	uint64_t size;      /* bytes received */
	bool failed;        /* refused while the body arrived: the rest is dropped */
	int failed_errno;   /* why: ENOSPC/EDQUOT (no room), another errno, or the caller's own (EFBIG) */
	uint64_t failed_at; /* bytes when it failed */
};

/* Makes a folder (0700) if it is missing. Returns 0 or -1 (errno). */
int objects_make_dir(const char *path);

/* Bytes free for the server in dir, or UINT64_MAX when unknown. */
uint64_t objects_free_bytes(const char *dir);

/* Held across an upload's move and the commit of its row, and across the
 * check that no row links a file and its removal. */
void objects_lock(void);
void objects_unlock(void);

/* Starts an empty upload (no file yet). */
void object_upload_init(struct object_upload *up);

/* Opens the temporary file of an upload in tmp_dir (an existing folder),
 * after removing the stale temporary files there and checking that
 * announced bytes (when known) fit on the disk. Returns 0, or -1 after
 * replying (507 no room, 500 no file). */
int object_upload_open(struct http_req *r, struct object_upload *up, const char *tmp_dir, bool announced_known,
                       uint64_t announced);

/* Hashes and writes a piece of body. Returns 0, or -1 when the write
 * failed: the upload is failed and its file gone (object_reply_failed). */
int object_upload_write(struct object_upload *up, const char *data, size_t len);

/* Fails the upload with err (the caller's reason, such as EFBIG for a
 * quota): the temporary file goes at once, the rest of the body is dropped. */
void object_upload_fail(struct object_upload *up, int err);

/* The SHA-256 of what was written, in lower-case hex. Once per upload. */
void object_upload_digest(struct object_upload *up, char hex[65]);

/* Flushes and closes the file (no transaction may be open: a large fsync
 * must not hold the write lock). Returns 0, or -1 after replying 507. */
int object_upload_sync(struct http_req *r, struct object_upload *up, const char *data_dir);

/* Renames the synced file to dest (under objects_lock). Returns 0 or -1. */
int object_upload_move(struct object_upload *up, const char *dest);

/* Closes and removes the temporary file, if any (a no-op once moved). */
void object_upload_discard(struct object_upload *up);

/* 507 insufficient_storage for size bytes (available: objects_free_bytes). */
int object_reply_no_space(struct http_req *r, uint64_t size, uint64_t available);

/* The 507 of an upload failed by a write (failed_errno). */
int object_reply_failed(struct http_req *r, const struct object_upload *up, const char *data_dir);

/* Removes the temporary files (*.part, *.thumb) of dir: at start every one
 * (no upload is live yet), later those untouched for 15 minutes. Returns
 * how many went. */
unsigned objects_sweep_temp_files(const char *dir, bool at_start);

/* A file name from a header or a form, made safe to store and show: valid
 * UTF-8, no control characters or slashes, never cut inside a character;
 * fallback (its first 12 bytes) when nothing is left. */
void objects_sanitize_filename(const char *in, const char *fallback, char *out, size_t outsz);

/* Serves the stored file at path (Range, ETag "<sha256>", If-None-Match)
 * as content_type, with Cache-Control cache on a success. A missing file
 * is logged and answered 500. Returns 0. */
int objects_serve(struct http_req *r, const char *path, const char *sha256, const char *content_type,
                  const char *cache);

#endif
