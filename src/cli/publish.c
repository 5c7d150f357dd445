/*
 * `vitrine publish DIR`: checks DIR/channel.json and its files locally
 * (chfile.c), hashes the files, asks the server which objects it lacks
 * (HEAD /api/v1/media/{sha256}), uploads only those, streamed from disk
 * with a progress bar on a terminal, then creates the channel (POST) or
 * replaces the one with the same name (PUT, which says whether anything
 * changed) in one request, and optionally assigns it to a screen. With
 * --dry-run it stops after the questions and says what it would do.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chfile.h"
#include "cli.h"
#include "progress.h"

enum { OPT_DRY_RUN = CLI_OPT_FIRST_COMMAND, OPT_SCREEN, OPT_RATE_LIMIT };

/* One object to send: the first file with that hash. */
struct upload {
	const struct chfile_file *file;
	bool on_server;
};

struct publish {
	struct cli *cli;
	const char *dir;
	struct chfile cf;
	struct upload *uploads; /* distinct hashes of cf.files */
	size_t nuploads;
	int64_t rate_limit;
	bool dry_run, bar;
	json_t *existing; /* the channel with the same name, or NULL */
	json_t *screen;   /* --screen, resolved */
	json_t *uploaded; /* [{"file","sha256","size"}] */
	uint64_t uploaded_bytes;
};

static int parse_rate(const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || v < 1)
		return -1;
	if (*end == 'k' || *end == 'K')
		v *= 1024, end++;
	else if (*end == 'm' || *end == 'M')
		v *= 1024 * 1024, end++;
	else if (*end == 'g' || *end == 'G')
		v *= 1024.0 * 1024 * 1024, end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end || v > 1e15)
		return -1;
	*out = (int64_t)v;
	return 0;
}

static void print_errors(const struct publish *p)
{
	size_t i;
	json_t *e;
	if (p->cf.problem[0])
		cli_error("%s", p->cf.problem);
	json_array_foreach (p->cf.errors, i, e)
		cli_error("%s/%s: %s", p->dir, CHFILE_NAME, json_string_value(e));
	if (json_array_size(p->cf.errors) >= CHFILE_MAX_ERRORS)
		cli_error("(only the first %d faults are shown)", CHFILE_MAX_ERRORS);
}

/* HEAD /api/v1/media/{sha}: 1 the account has it, 0 it does not, or -1
 * after printing why (*rc set). */
static int server_has(struct publish *p, const char *sha, int *rc)
{
	char path[128];
	struct api_resp resp;
	snprintf(path, sizeof path, "/api/v1/media/%s", sha);
	int sent = api_call(&p->cli->api, "HEAD", path, NULL, API_DEFAULT_TIMEOUT_S, &resp);
	int has = -1;
	if (sent == 0 && resp.status == 200)
		has = 1;
	else if (sent == 0 && resp.status == 404)
		has = 0;
	else
		*rc = cli_fail(p->cli, &resp, "asking the server which media it has");
	api_resp_free(&resp);
	return has;
}

static int ask_server(struct publish *p)
{
	int rc = CLI_FAILED;
	p->uploads = calloc(p->cf.nfiles ? p->cf.nfiles : 1, sizeof *p->uploads);
	if (!p->uploads) {
		cli_error("out of memory");
		return CLI_FAILED;
	}
	for (size_t i = 0; i < p->cf.nfiles; i++) {
		bool seen = false;
		for (size_t k = 0; k < p->nuploads; k++)
			if (strcmp(p->uploads[k].file->sha256, p->cf.files[i].sha256) == 0)
				seen = true;
		if (seen)
			continue;
		int has = server_has(p, p->cf.files[i].sha256, &rc);
		if (has < 0)
			return rc;
		p->uploads[p->nuploads].file = &p->cf.files[i];
		p->uploads[p->nuploads].on_server = has == 1;
		p->nuploads++;
	}
	/* items that name a medium by hash: it must be in the library already */
	bool missing = false;
	for (size_t i = 0; i < p->cf.nmedia; i++) {
		int has = server_has(p, p->cf.media[i].sha256, &rc);
		if (has < 0)
			return rc;
		if (!has) {
			cli_error(
			    "%s/%s: %s: the server has no medium %.12s... (upload it, or name the file with \"file\")",
			    p->dir, CHFILE_NAME, p->cf.media[i].json_path, p->cf.media[i].sha256);
			missing = true;
		}
	}
	return missing ? CLI_FAILED : CLI_OK;
}

/* The channel named like ours, if any (GET /api/v1/channels). */
static int find_existing(struct publish *p)
{
	struct api_resp resp;
	const char *name = json_string_value(json_object_get(p->cf.doc, "name"));
	if (api_call(&p->cli->api, "GET", "/api/v1/channels", NULL, API_DEFAULT_TIMEOUT_S, &resp) != 0 ||
	    resp.status != 200) {
		int rc = cli_fail(p->cli, &resp, "listing the channels");
		api_resp_free(&resp);
		return rc;
	}
	json_t *ch, *same = json_array();
	size_t i;
	json_array_foreach (json_object_get(resp.json, "channels"), i, ch) {
		const char *n = json_string_value(json_object_get(ch, "name"));
		if (n && strcmp(n, name) == 0)
			json_array_append(same, ch);
	}
	api_resp_free(&resp);
	int rc = CLI_OK;
	if (json_array_size(same) == 1) {
		p->existing = json_incref(json_array_get(same, 0));
	} else if (json_array_size(same) > 1) {
		char shown[200];
		cli_error("%zu channels are called \"%s\"; rename one (or this one) so publish knows which to replace:",
		          json_array_size(same), cli_printable(name, shown, sizeof shown));
		json_array_foreach (same, i, ch)
			fprintf(stderr, "  %s\n", json_string_value(json_object_get(ch, "id")));
		rc = CLI_USAGE;
	}
	json_decref(same);
	return rc;
}

/* --- uploads --- */

static void on_progress(void *ud, uint64_t sent, uint64_t total)
{
	(void)total;
	progress_update(ud, sent);
}

static int upload_one(struct publish *p, const struct chfile_file *f, unsigned index, unsigned count)
{
	int rc = CLI_FAILED;
	char path[128], label[300], rel[300];
	struct api_resp resp = {0};
	struct progress bar;
	cli_printable(f->rel, rel, sizeof rel);
	snprintf(path, sizeof path, "/api/v1/media/%s", f->sha256);
	int fd = open(f->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		cli_error("%s/%s: %s: cannot read %s: %s", p->dir, CHFILE_NAME, f->json_path, f->path, strerror(errno));
		return CLI_FAILED;
	}
	const char *base = strrchr(f->rel, '/');
	base = base ? base + 1 : f->rel;
	snprintf(label, sizeof label, "%s", rel);
	double start = progress_now();
	if (p->bar)
		progress_begin(&bar, stdout, label, f->size, index, count);
	struct api_upload_req req = {.method = "PUT",
	                             .path = path,
	                             .fd = fd,
	                             .size = f->size,
	                             .filename = base,
	                             .max_send_speed = p->rate_limit,
	                             .progress = p->bar ? on_progress : NULL,
	                             .ud = &bar};
	int sent = api_upload(&p->cli->api, &req, &resp);
	double took = progress_now() - start;
	close(fd);
	if (p->bar)
		progress_end(&bar);
	const char *code = api_error_code(&resp);
	char msg[600];
	cli_printable(api_error_message(&resp), msg, sizeof msg);
	if ((resp.status == 507 || (sent != 0 && code)) && code && strcmp(code, "insufficient_storage") == 0) {
		json_t *avail = json_object_get(json_object_get(resp.json, "error"), "available");
		char room[64] = "";
		if (json_integer_value(avail) > 0)
			snprintf(room, sizeof room, ", %lld free", (long long)json_integer_value(avail));
		cli_error("%s/%s: %s: the server's disk is full: no room for %s (%llu bytes%s); delete unused media "
		          "or free space on the server, then publish again",
		          p->dir, CHFILE_NAME, f->json_path, rel, (unsigned long long)f->size, room);
	} else if (sent != 0 && code) {
		cli_error("%s/%s: %s: the server refused %s and closed the connection: %s (%s)", p->dir, CHFILE_NAME,
		          f->json_path, rel, msg, code);
	} else if (sent != 0 || resp.status == 401 || (resp.status != 200 && resp.status != 201 && !code)) {
		char doing[400];
		snprintf(doing, sizeof doing, "uploading %s", rel);
		rc = cli_fail(p->cli, &resp, doing);
	} else if (resp.status == 400 && strcmp(code, "hash_mismatch") == 0) {
		cli_error("%s/%s: %s: %s changed while it was being published; run publish again", p->dir, CHFILE_NAME,
		          f->json_path, rel);
	} else if (resp.status != 200 && resp.status != 201) {
		cli_error("%s/%s: %s: the server refused %s: %s (HTTP %ld, %s)", p->dir, CHFILE_NAME, f->json_path, rel,
		          msg, resp.status, code);
	} else {
		json_array_append_new(p->uploaded, json_pack("{s:s, s:s, s:I}", "file", f->rel, "sha256", f->sha256,
		                                             "size", (json_int_t)f->size));
		p->uploaded_bytes += f->size;
		if (p->bar) {
			char speed[32];
			cli_human_bytes(took > 0 ? (double)f->size / took : 0, speed);
			printf("uploaded %s (%llu bytes) in %.1f s, %s/s\n", rel, (unsigned long long)f->size, took,
			       speed);
		} else {
			cli_info(p->cli, "uploaded %s (%llu bytes)", rel, (unsigned long long)f->size);
		}
		rc = CLI_OK;
	}
	api_resp_free(&resp);
	return rc;
}

/* --- dry run: would the channel change? --- */

/* Our body as the server would store it (defaults filled in, ids and
 * server-added members left out), to compare with the stored one. */
static json_t *comparable(json_t *body, json_t *stored)
{
	json_t *out = json_pack("{s:O, s:O, s:O, s:[]}", "name", json_object_get(body, "name"), "width",
	                        json_object_get(body, "width"), "height", json_object_get(body, "height"), "zones");
	json_t *zones = json_object_get(out, "zones"), *z, *it;
	size_t zi, ii;
	json_array_foreach (json_object_get(body, "zones"), zi, z) {
		json_t *oz = json_pack(
		    "{s:O, s:O, s:O, s:O, s:O, s:I, s:[]}", "name", json_object_get(z, "name"), "x",
		    json_object_get(z, "x"), "y", json_object_get(z, "y"), "w", json_object_get(z, "w"), "h",
		    json_object_get(z, "h"), "z",
		    json_object_get(z, "z") ? json_integer_value(json_object_get(z, "z")) : (json_int_t)zi, "items");
		json_t *stored_items = json_object_get(json_array_get(json_object_get(stored, "zones"), zi), "items");
		json_array_foreach (json_object_get(z, "items"), ii, it) {
			json_t *oi = json_object();
			static const char *const kinds[] = {"media", "url", "text", "rss", "valid", NULL};
			for (const char *const *k = kinds; *k; k++)
				if (json_object_get(it, *k))
					json_object_set(oi, *k, json_object_get(it, *k));
			if (json_object_get(it, "rss")) {
				json_t *max = json_object_get(it, "max_items");
				json_object_set_new(oi, "max_items", max ? json_incref(max) : json_integer(10));
			}
			json_t *was = json_array_get(stored_items, ii);
			const char *was_type = json_string_value(json_object_get(was, "type"));
			bool video = json_equal(json_object_get(was, "media"), json_object_get(it, "media")) &&
			             was_type && strcmp(was_type, "video") == 0;
			json_t *d = json_object_get(it, "duration");
			json_object_set_new(oi, "duration", d ? json_incref(d) : json_integer(video ? 0 : 10));
			json_t *t = json_object_get(it, "transition");
			json_object_set_new(oi, "transition", t ? json_incref(t) : json_string("fade"));
			json_array_append_new(json_object_get(oz, "items"), oi);
		}
		json_array_append_new(zones, oz);
	}
	return out;
}

static json_t *stored_comparable(json_t *stored)
{
	json_t *out = json_deep_copy(stored), *z, *it;
	static const char *const meta[] = {"id",         "version",        "created_at", "updated_at",
	                                   "updated_by", "editable_zones", NULL};
	for (const char *const *k = meta; *k; k++)
		json_object_del(out, *k);
	size_t zi, ii;
	json_array_foreach (json_object_get(out, "zones"), zi, z) {
		json_object_del(z, "id");
		json_array_foreach (json_object_get(z, "items"), ii, it) {
			static const char *const added[] = {"id", "type", "mime", "size", NULL};
			for (const char *const *k = added; *k; k++)
				json_object_del(it, *k);
		}
	}
	return out;
}

static int dry_run(struct publish *p, json_t *body)
{
	json_t *would = json_array();
	uint64_t bytes = 0;
	size_t have = 0;
	for (size_t i = 0; i < p->nuploads; i++) {
		const struct chfile_file *f = p->uploads[i].file;
		if (p->uploads[i].on_server) {
			have++;
			continue;
		}
		char rel[300];
		cli_info(p->cli, "would upload %s (%llu bytes)", cli_printable(f->rel, rel, sizeof rel),
		         (unsigned long long)f->size);
		json_array_append_new(would, json_pack("{s:s, s:s, s:I}", "file", f->rel, "sha256", f->sha256, "size",
		                                       (json_int_t)f->size));
		bytes += f->size;
	}
	char name[200];
	cli_printable(json_string_value(json_object_get(body, "name")), name, sizeof name);
	bool unchanged = false;
	if (p->existing) {
		json_t *a = comparable(body, p->existing), *b = stored_comparable(p->existing);
		unchanged = json_equal(a, b);
		json_decref(a);
		json_decref(b);
	}
	if (have)
		cli_info(p->cli, "%zu file%s already on the server", have, have == 1 ? "" : "s");
	if (json_array_size(would) == 0 && unchanged)
		cli_info(p->cli, "nothing to upload; channel unchanged (dry run: nothing was sent)");
	else if (p->existing)
		cli_info(p->cli, "would %s channel \"%s\" (%s)%s", unchanged ? "keep" : "replace", name,
		         json_string_value(json_object_get(p->existing, "id")),
		         unchanged ? ", which is unchanged" : "");
	else
		cli_info(p->cli, "would create channel \"%s\"", name);
	char sname[200];
	if (p->screen)
		cli_info(p->cli, "would make it the channel of the screen %s",
		         cli_printable(json_string_value(json_object_get(p->screen, "name")), sname, sizeof sname));
	if (p->cli->json) {
		json_t *j = json_pack("{s:b, s:o, s:I, s:I, s:s, s:s?, s:b, s:O?}", "dry_run", 1, "would_upload", would,
		                      "would_upload_bytes", (json_int_t)bytes, "already_on_server", (json_int_t)have,
		                      "action", p->existing ? "replace" : "create", "channel_id",
		                      json_string_value(json_object_get(p->existing, "id")), "unchanged", unchanged,
		                      "screen", p->screen);
		cli_print_json(j);
		json_decref(j);
	} else {
		json_decref(would);
	}
	return CLI_OK;
}

/* --- publishing --- */

static int send_channel(struct publish *p, json_t *body)
{
	int rc = CLI_FAILED;
	struct api_resp resp;
	char path[128] = "/api/v1/channels";
	const char *id = json_string_value(json_object_get(p->existing, "id"));
	if (id)
		snprintf(path, sizeof path, "/api/v1/channels/%.64s", id);
	int sent = api_call(&p->cli->api, id ? "PUT" : "POST", path, body, API_DEFAULT_TIMEOUT_S, &resp);
	if (sent != 0 || resp.status != (id ? 200 : 201)) {
		const char *code = api_error_code(&resp);
		if (sent == 0 && resp.status == 400 && code && strcmp(code, "invalid_channel") == 0) {
			char msg[600];
			cli_error("%s/%s: the server refused it: %s", p->dir, CHFILE_NAME,
			          cli_printable(api_error_message(&resp), msg, sizeof msg));
			rc = CLI_FAILED;
		} else {
			rc = cli_fail(p->cli, &resp, id ? "replacing the channel" : "creating the channel");
		}
		api_resp_free(&resp);
		return rc;
	}
	json_t *channel = json_object_get(resp.json, "channel");
	bool created = !id, changed = created || json_is_true(json_object_get(resp.json, "changed"));
	const char *cid = json_string_value(json_object_get(channel, "id"));
	char name[200];
	cli_printable(json_string_value(json_object_get(channel, "name")), name, sizeof name);
	long long version = (long long)json_integer_value(json_object_get(channel, "version"));
	size_t n = json_array_size(p->uploaded);
	char what[400];
	if (created)
		snprintf(what, sizeof what, "channel \"%s\" created (id %s)", name, cid ? cid : "?");
	else if (changed)
		snprintf(what, sizeof what, "channel \"%s\" updated (version %lld)", name, version);
	else
		snprintf(what, sizeof what, "channel unchanged (\"%s\", version %lld)", name, version);
	if (n == 0)
		cli_info(p->cli, "nothing to upload; %s", what);
	else
		cli_info(p->cli, "uploaded %zu file%s (%llu bytes); %s", n, n == 1 ? "" : "s",
		         (unsigned long long)p->uploaded_bytes, what);

	/* then the screen */
	json_t *assigned = NULL;
	if (p->screen && cid) {
		struct api_resp aresp;
		char spath[160];
		snprintf(spath, sizeof spath, "/api/v1/screens/%.64s/channel",
		         json_string_value(json_object_get(p->screen, "id")));
		json_t *abody = json_pack("{s:s}", "channel_id", cid);
		int asent = api_call(&p->cli->api, "PUT", spath, abody, API_DEFAULT_TIMEOUT_S, &aresp);
		json_decref(abody);
		if (asent != 0 || aresp.status != 200) {
			rc = cli_fail(p->cli, &aresp, "assigning the channel to the screen");
			api_resp_free(&aresp);
			api_resp_free(&resp);
			return rc;
		}
		api_resp_free(&aresp);
		assigned = p->screen;
		char sname[200];
		cli_info(p->cli, "%s now plays \"%s\"",
		         cli_printable(json_string_value(json_object_get(p->screen, "name")), sname, sizeof sname),
		         name);
	}
	if (p->cli->json) {
		json_t *j = json_pack("{s:O, s:b, s:b, s:O, s:I, s:I, s:O?}", "channel", channel, "created", created,
		                      "changed", changed, "uploaded", p->uploaded, "uploaded_bytes",
		                      (json_int_t)p->uploaded_bytes, "already_on_server",
		                      (json_int_t)(p->nuploads - json_array_size(p->uploaded)), "screen", assigned);
		cli_print_json(j);
		json_decref(j);
	}
	api_resp_free(&resp);
	return CLI_OK;
}

int cmd_publish(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"dry-run", no_argument, NULL, OPT_DRY_RUN},
	                                     {"screen", required_argument, NULL, OPT_SCREEN},
	                                     {"rate-limit", required_argument, NULL, OPT_RATE_LIMIT},
	                                     {NULL, 0, NULL, 0}};
	struct publish p = {.cli = cli};
	const char *screen_arg = NULL;
	json_t *body = NULL;
	int c, rc = CLI_FAILED;
	while ((c = cli_getopt(cli, argc, argv, "", opts, &rc)) != -1) {
		if (c == -2)
			return rc;
		if (c == OPT_DRY_RUN)
			p.dry_run = true;
		else if (c == OPT_SCREEN)
			screen_arg = optarg;
		else if (c == OPT_RATE_LIMIT && parse_rate(optarg, &p.rate_limit) != 0)
			return cli_usage_error(cli, "--rate-limit needs bytes per second, like 500000, 500k or 2M");
	}
	if (argc - optind != 1)
		return cli_usage_error(cli, "needs the folder DIR that holds channel.json");
	p.dir = argv[optind];
	p.bar = isatty(STDOUT_FILENO) && !cli->json && !cli->quiet;
	p.uploaded = json_array();

	/* everything local first: a typo is reported before any request */
	if (chfile_load(p.dir, &p.cf) != 0 || chfile_hash(&p.cf) != 0) {
		print_errors(&p);
		rc = CLI_FAILED;
		goto out;
	}
	if ((rc = cli_connect(cli)) != CLI_OK)
		goto out;
	if (screen_arg && !(p.screen = resolve_named(cli, "screen", screen_arg, &rc)))
		goto out;
	if ((rc = ask_server(&p)) != CLI_OK || (rc = find_existing(&p)) != CLI_OK)
		goto out;
	body = chfile_server_body(&p.cf);
	if (!body || !p.uploaded) {
		cli_error("out of memory");
		rc = CLI_FAILED;
		goto out;
	}
	if (p.dry_run) {
		rc = dry_run(&p, body);
		goto out;
	}
	unsigned count = 0, index = 0;
	for (size_t i = 0; i < p.nuploads; i++)
		count += !p.uploads[i].on_server;
	for (size_t i = 0; i < p.nuploads; i++) {
		if (p.uploads[i].on_server)
			continue;
		if ((rc = upload_one(&p, p.uploads[i].file, ++index, count)) != CLI_OK)
			goto out;
	}
	rc = send_channel(&p, body);
out:
	json_decref(body);
	json_decref(p.existing);
	json_decref(p.screen);
	json_decref(p.uploaded);
	free(p.uploads);
	chfile_free(&p.cf);
	return rc;
}
