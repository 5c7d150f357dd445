/*
 * The small commands: the listings (screens, channels, media, releases: a
 * table for people, the server's own JSON with --json), assign, send (an instruction
 * and the wait for the screen's acknowledgement) and pair. (remote is in
 * remote.c.)
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "common/codes.h"
#include "common/strfmt.h"

/* --- tables --- */

/* Display width of UTF-8 text (code points; good enough for names). */
static size_t text_width(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

/* rows: array of arrays of strings; the first row is the header. */
static void print_table(json_t *rows)
{
	size_t widths[16] = {0}, cols = json_array_size(json_array_get(rows, 0));
	if (cols > 16)
		cols = 16;
	size_t r, c;
	json_t *row, *cell;
	json_array_foreach (rows, r, row)
		json_array_foreach (row, c, cell) {
			size_t w = text_width(json_string_value(cell));
			if (c < cols && w > widths[c])
				widths[c] = w;
		}
	json_array_foreach (rows, r, row) {
		for (c = 0; c < cols; c++) {
			char shown[400];
			cli_printable(json_string_value(json_array_get(row, c)), shown, sizeof shown);
			fputs(shown, stdout);
			if (c + 1 < cols)
				for (size_t pad = text_width(shown); pad < widths[c] + 2; pad++)
					putchar(' ');
		}
		putchar('\n');
	}
	fflush(stdout);
}

static json_t *row_of(const char *first, ...)
{
	json_t *row = json_array();
	va_list ap;
	va_start(ap, first);
	for (const char *s = first; s; s = va_arg(ap, const char *))
		json_array_append_new(row, json_string(s));
	va_end(ap);
	return row;
}

static const char *str_or(json_t *obj, const char *key, const char *fallback)
{
	const char *v = json_string_value(json_object_get(obj, key));
	return v && *v ? v : fallback;
}

/* Runs the option parsing of a command without options of its own and
 * GETs path. Returns true with *out filled, or false with *rc the exit code
 * (after --help, a usage error or a failed request). */
static bool simple_get(struct cli *cli, int argc, char **argv, const char *path, const char *doing,
                       struct api_resp *out, int *rc)
{
	int c;
	memset(out, 0, sizeof *out);
	while ((c = cli_getopt(cli, argc, argv, "", NULL, rc)) != -1)
		if (c == -2)
			return false;
	if (optind < argc) {
		*rc = cli_usage_error(cli, "unexpected argument \"%s\"", argv[optind]);
		return false;
	}
	if ((*rc = cli_connect(cli)) != CLI_OK)
		return false;
	if (api_call(&cli->api, "GET", path, NULL, API_DEFAULT_TIMEOUT_S, out) != 0 || out->status != 200) {
		*rc = cli_fail(cli, out, doing);
		api_resp_free(out);
		return false;
	}
	if (!out->json) {
		cli_error("%s: the server's answer is not JSON", doing);
		api_resp_free(out);
		*rc = CLI_FAILED;
		return false;
	}
	return true;
}

/* Channel names by id, for the screens table: {} when the caller may not
 * list channels (operators, support) or none is needed; ids are shown then. */
static json_t *channel_names(struct cli *cli, json_t *screens)
{
	json_t *names = json_object(), *s, *ch;
	size_t i;
	bool needed = false;
	json_array_foreach (screens, i, s)
		needed |= json_is_string(json_object_get(s, "channel_id"));
	struct api_resp resp;
	if (!needed || !names ||
	    api_call(&cli->api, "GET", "/api/v1/channels", NULL, API_DEFAULT_TIMEOUT_S, &resp) != 0) {
		if (needed)
			api_resp_free(&resp);
		return names;
	}
	json_array_foreach (json_object_get(resp.json, "channels"), i, ch) {
		const char *id = json_string_value(json_object_get(ch, "id"));
		if (id)
			json_object_set(names, id, json_object_get(ch, "name"));
	}
	api_resp_free(&resp);
	return names;
}

int cmd_screens(struct cli *cli, int argc, char **argv)
{
	struct api_resp resp;
	int rc;
	if (!simple_get(cli, argc, argv, "/api/v1/screens", "listing the screens", &resp, &rc))
		return rc;
	json_t *list = json_object_get(resp.json, "screens");
	if (cli->json) {
		cli_print_json(resp.json);
	} else if (json_array_size(list) == 0) {
		if (!cli->quiet)
			printf("no screens yet: pair one with `vitrine pair CODE --name NAME`\n");
	} else {
		json_t *rows = json_array(), *s, *names = channel_names(cli, list);
		json_array_append_new(rows, row_of("NAME", "ID", "STATUS", "LAST SEEN", "CHANNEL", "PLAYER", NULL));
		size_t i;
		json_array_foreach (list, i, s) {
			char age[32];
			const char *cid = json_string_value(json_object_get(s, "channel_id"));
			const char *channel = cid ? json_string_value(json_object_get(names, cid)) : NULL;
			cli_human_age((long long)json_integer_value(json_object_get(s, "last_seen")), age);
			json_array_append_new(
			    rows, row_of(str_or(s, "name", "-"), str_or(s, "id", "-"),
			                 json_is_true(json_object_get(s, "online")) ? "online" : "offline", age,
			                 channel ? channel
			                 : cid   ? cid
			                         : "-",
			                 str_or(s, "version", "-"), NULL));
		}
		print_table(rows);
		json_decref(rows);
		json_decref(names);
	}
	api_resp_free(&resp);
	return CLI_OK;
}

int cmd_channels(struct cli *cli, int argc, char **argv)
{
	struct api_resp resp;
	int rc;
	if (!simple_get(cli, argc, argv, "/api/v1/channels", "listing the channels", &resp, &rc))
		return rc;
	json_t *list = json_object_get(resp.json, "channels");
	if (cli->json) {
		cli_print_json(resp.json);
	} else if (json_array_size(list) == 0) {
		if (!cli->quiet)
			printf("no channels yet: publish one with `vitrine publish DIR`\n");
	} else {
		json_t *rows = json_array(), *ch, *z;
		json_array_append_new(rows, row_of("NAME", "ID", "SIZE", "ZONES", "ITEMS", "VERSION", "UPDATED", NULL));
		size_t i, k;
		json_array_foreach (list, i, ch) {
			char size[48], zones[24], items[24], version[24], age[32];
			size_t n = 0;
			json_array_foreach (json_object_get(ch, "zones"), k, z)
				n += json_array_size(json_object_get(z, "items"));
			snprintf(size, sizeof size, "%lldx%lld",
			         (long long)json_integer_value(json_object_get(ch, "width")),
			         (long long)json_integer_value(json_object_get(ch, "height")));
			snprintf(zones, sizeof zones, "%zu", json_array_size(json_object_get(ch, "zones")));
			snprintf(items, sizeof items, "%zu", n);
			snprintf(version, sizeof version, "%lld",
			         (long long)json_integer_value(json_object_get(ch, "version")));
			cli_human_age((long long)json_integer_value(json_object_get(ch, "updated_at")), age);
			json_array_append_new(rows, row_of(str_or(ch, "name", "-"), str_or(ch, "id", "-"), size, zones,
			                                   items, version, age, NULL));
		}
		print_table(rows);
		json_decref(rows);
	}
	api_resp_free(&resp);
	return CLI_OK;
}

int cmd_media(struct cli *cli, int argc, char **argv)
{
	struct api_resp resp;
	int rc;
	if (!simple_get(cli, argc, argv, "/api/v1/media", "listing the media", &resp, &rc))
		return rc;
	json_t *list = json_object_get(resp.json, "media");
	if (cli->json) {
		cli_print_json(resp.json);
	} else {
		if (json_array_size(list) > 0) {
			json_t *rows = json_array(), *m;
			json_array_append_new(rows, row_of("SHA256", "SIZE", "TYPE", "NAME", NULL));
			size_t i;
			json_array_foreach (list, i, m) {
				char sha[16], size[32];
				snprintf(sha, sizeof sha, "%.12s", str_or(m, "sha256", "-"));
				cli_human_bytes((double)json_integer_value(json_object_get(m, "size")), size);
				json_array_append_new(
				    rows, row_of(sha, size, str_or(m, "mime", "-"), str_or(m, "filename", "-"), NULL));
			}
			print_table(rows);
			json_decref(rows);
		}
		if (!cli->quiet) {
			char used[32], quota[32];
			cli_human_bytes((double)json_integer_value(json_object_get(resp.json, "used_bytes")), used);
			cli_human_bytes((double)json_integer_value(json_object_get(resp.json, "quota_bytes")), quota);
			printf("%zu media; %s used of %s\n", json_array_size(list), used, quota);
		}
	}
	api_resp_free(&resp);
	return CLI_OK;
}

int cmd_releases(struct cli *cli, int argc, char **argv)
{
	struct api_resp resp;
	int rc;
	if (!simple_get(cli, argc, argv, "/api/v1/releases", "listing the releases", &resp, &rc))
		return rc;
	json_t *list = json_object_get(resp.json, "releases");
	if (cli->json) {
		cli_print_json(resp.json);
	} else {
		if (json_array_size(list) > 0) {
			json_t *rows = json_array(), *rel;
			json_array_append_new(rows,
			                      row_of("NAME", "VERSION", "SIZE", "SIGNED BY", "ID", "UPLOADED", NULL));
			size_t i;
			json_array_foreach (list, i, rel) {
				char size[32], age[32], key[200];
				cli_human_bytes((double)json_integer_value(json_object_get(rel, "size")), size);
				cli_human_age((long long)json_integer_value(json_object_get(rel, "created_at")), age);
				snprintf(key, sizeof key, "%s%s", str_or(rel, "key_name", "-"),
				         json_is_true(json_object_get(rel, "trusted")) ? "" : " (no longer trusted)");
				json_array_append_new(rows,
				                      row_of(str_or(rel, "name", "-"), str_or(rel, "version", "-"),
				                             size, key, str_or(rel, "id", "-"), age, NULL));
			}
			print_table(rows);
			json_decref(rows);
		}
		if (!cli->quiet)
			printf("%lld release%s\n", (long long)json_integer_value(json_object_get(resp.json, "total")),
			       json_integer_value(json_object_get(resp.json, "total")) == 1 ? "" : "s");
	}
	api_resp_free(&resp);
	return CLI_OK;
}

/* --- assign --- */

int cmd_assign(struct cli *cli, int argc, char **argv)
{
	int c, rc = CLI_FAILED;
	json_t *screen = NULL, *channel = NULL, *body = NULL;
	struct api_resp resp = {0};
	while ((c = cli_getopt(cli, argc, argv, "", NULL, &rc)) != -1)
		if (c == -2)
			return rc;
	if (argc - optind != 2)
		return cli_usage_error(cli, "needs SCREEN and CHANNEL");
	const char *screen_arg = argv[optind], *channel_arg = argv[optind + 1];
	if ((rc = cli_connect(cli)) != CLI_OK)
		return rc;
	if (!(screen = resolve_named(cli, "screen", screen_arg, &rc)) ||
	    !(channel = resolve_named(cli, "channel", channel_arg, &rc)))
		goto out;
	char path[128];
	if (strfmt(path, sizeof path, "/api/v1/screens/%s/channel", str_or(screen, "id", "")) != 0) {
		cli_error("assigning the channel: the server gave the screen an id too long to be one");
		rc = CLI_FAILED;
		goto out;
	}
	body = json_pack("{s:O}", "channel_id", json_object_get(channel, "id"));
	if (api_call(&cli->api, "PUT", path, body, API_DEFAULT_TIMEOUT_S, &resp) != 0 || resp.status != 200) {
		rc = cli_fail(cli, &resp, "assigning the channel");
		goto out;
	}
	if (cli->json)
		cli_print_json(resp.json);
	char sname[200], cname[200];
	cli_info(cli, "%s now plays %s", cli_printable(str_or(screen, "name", "-"), sname, sizeof sname),
	         cli_printable(str_or(channel, "name", "-"), cname, sizeof cname));
	rc = CLI_OK;
out:
	api_resp_free(&resp);
	json_decref(body);
	json_decref(screen);
	json_decref(channel);
	return rc;
}

/* --- send --- */

enum { OPT_WAIT = CLI_OPT_FIRST_COMMAND };

/* "42" and "-7" are integers; "007", "+1", "1e3" and "" are not. */
static bool integer_text(const char *s, json_int_t *out)
{
	const char *p = s[0] == '-' ? s + 1 : s;
	if (!*p || strspn(p, "0123456789") != strlen(p) || (p[0] == '0' && p[1]) || strlen(p) > 18)
		return false;
	*out = (json_int_t)strtoll(s, NULL, 10);
	return true;
}

/* Builds the payload from KEY=VALUE and KEY:=JSON arguments. */
static json_t *payload_from_args(struct cli *cli, int n, char **args, int *rc)
{
	json_t *payload = json_object();
	for (int i = 0; payload && i < n; i++) {
		char *eq = strchr(args[i], '=');
		if (!eq || eq == args[i] || (eq == args[i] + 1 && args[i][0] == ':')) {
			*rc = cli_usage_error(cli, "\"%s\" is not KEY=VALUE", args[i]);
			goto fail;
		}
		bool raw = eq[-1] == ':';
		char key[128];
		size_t klen = (size_t)(eq - args[i]) - (raw ? 1 : 0);
		if (klen >= sizeof key) {
			*rc = cli_usage_error(cli, "the key of \"%.40s...\" is too long", args[i]);
			goto fail;
		}
		memcpy(key, args[i], klen);
		key[klen] = '\0';
		const char *value = eq + 1;
		json_t *v;
		json_int_t num;
		if (raw) {
			json_error_t jerr;
			v = json_loads(value, JSON_DECODE_ANY, &jerr);
			if (!v) {
				*rc = cli_usage_error(cli, "%s:= needs JSON: %s", key, jerr.text);
				goto fail;
			}
		} else if (integer_text(value, &num)) {
			v = json_integer(num);
		} else {
			v = json_string(value);
			if (!v) {
				*rc = cli_usage_error(cli, "the value of %s is not UTF-8", key);
				goto fail;
			}
		}
		json_object_set_new(payload, key, v);
	}
	if (!payload)
		cli_error("out of memory");
	return payload;
fail:
	json_decref(payload);
	return NULL;
}

static double mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int cmd_send(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"wait", required_argument, NULL, OPT_WAIT}, {NULL, 0, NULL, 0}};
	int c, rc = CLI_FAILED;
	long wait_s = 30;
	json_t *screen = NULL, *payload = NULL, *body = NULL, *done = NULL;
	struct api_resp resp = {0};
	while ((c = cli_getopt(cli, argc, argv, "", opts, &rc)) != -1) {
		if (c == -2)
			return rc;
		if (c == OPT_WAIT) {
			char *end;
			errno = 0;
			wait_s = strtol(optarg, &end, 10);
			if (!*optarg || *end || errno || wait_s < 0 || wait_s > 3600)
				return cli_usage_error(cli, "--wait needs 0 to 3600 seconds");
		}
	}
	if (argc - optind < 2)
		return cli_usage_error(cli, "needs SCREEN and TYPE");
	const char *screen_arg = argv[optind], *type = argv[optind + 1];
	if (!(payload = payload_from_args(cli, argc - optind - 2, argv + optind + 2, &rc)))
		return rc;
	if ((rc = cli_connect(cli)) != CLI_OK || !(screen = resolve_named(cli, "screen", screen_arg, &rc)))
		goto out;
	const char *sid = json_string_value(json_object_get(screen, "id"));
	char sname[200], tshown[64], path[160];
	cli_printable(str_or(screen, "name", sid), sname, sizeof sname);
	cli_printable(type, tshown, sizeof tshown);
	if (!sid || strfmt(path, sizeof path, "/api/v1/screens/%s/instructions", sid) != 0) {
		cli_error("sending the instruction: the server gave the screen no usable id");
		rc = CLI_FAILED;
		goto out;
	}
	body = json_pack("{s:s, s:O}", "type", type, "payload", payload);
	if (!body) {
		rc = cli_usage_error(cli, "TYPE is not UTF-8");
		goto out;
	}
	if (api_call(&cli->api, "POST", path, body, API_DEFAULT_TIMEOUT_S, &resp) != 0 || resp.status != 201) {
		rc = cli_fail(cli, &resp, "sending the instruction");
		goto out;
	}
	char iid[64];
	snprintf(iid, sizeof iid, "%s", str_or(resp.json, "id", ""));
	api_resp_free(&resp);
	if (!codes_is_id(iid)) {
		cli_error("sending the instruction: the server's answer has no id");
		rc = CLI_FAILED;
		goto out;
	}
	if (wait_s == 0) {
		if (cli->json) {
			json_t *j = json_pack("{s:s, s:s, s:s}", "id", iid, "type", type, "status", "pending");
			cli_print_json(j);
			json_decref(j);
		}
		cli_info(cli, "%s sent to %s (id %s); not waiting for the answer", tshown, sname, iid);
		rc = CLI_OK;
		goto out;
	}
	/* wait for the acknowledgement, 30 s per request at most */
	double deadline = mono_s() + (double)wait_s;
	const char *status = "pending";
	for (;;) {
		double left = deadline - mono_s();
		long w = left > 30 ? 30 : (long)(left + 0.5);
		if (w < 1)
			break;
		char wpath[256];
		if (strfmt(wpath, sizeof wpath, "/api/v1/screens/%s/instructions/%s?wait=%ld", sid, iid, w) != 0) {
			cli_error("waiting for the answer: the screen's id is too long to be one");
			rc = CLI_FAILED;
			goto out;
		}
		if (api_call(&cli->api, "GET", wpath, NULL, w + 30, &resp) != 0 || resp.status != 200) {
			rc = cli_fail(cli, &resp, "waiting for the answer");
			goto out;
		}
		json_decref(done);
		done = json_incref(json_object_get(resp.json, "instruction"));
		api_resp_free(&resp);
		status = str_or(done, "status", "pending");
		if (strcmp(status, "ok") == 0 || strcmp(status, "failed") == 0)
			break;
	}
	bool answered = strcmp(status, "ok") == 0 || strcmp(status, "failed") == 0;
	if (cli->json && done)
		cli_print_json(done);
	char *result = done ? json_dumps(json_object_get(done, "result"), JSON_COMPACT) : NULL;
	char rshown[1200];
	cli_printable(result ? result : "{}", rshown, sizeof rshown);
	api_json_free(result);
	if (!answered) {
		cli_error("%s: %s did not answer within %ld s (the instruction %s stays queued until it expires)",
		          tshown, sname, wait_s, iid);
		rc = CLI_FAILED;
	} else if (strcmp(status, "failed") == 0) {
		cli_error("%s on %s failed: %s", tshown, sname, rshown);
		rc = CLI_FAILED;
	} else {
		cli_info(cli, "%s on %s: ok %s", tshown, sname, rshown);
		rc = CLI_OK;
	}
out:
	api_resp_free(&resp);
	json_decref(done);
	json_decref(body);
	json_decref(payload);
	json_decref(screen);
	return rc;
}

/* --- pair --- */

enum { OPT_NAME = CLI_OPT_FIRST_COMMAND };

int cmd_pair(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {{"name", required_argument, NULL, OPT_NAME}, {NULL, 0, NULL, 0}};
	int c, rc = CLI_FAILED;
	const char *name = NULL;
	while ((c = cli_getopt(cli, argc, argv, "", opts, &rc)) != -1) {
		if (c == -2)
			return rc;
		if (c == OPT_NAME)
			name = optarg;
	}
	if (argc - optind != 1)
		return cli_usage_error(cli, "needs the CODE shown on the screen");
	if (!name || !*name)
		return cli_usage_error(cli, "--name NAME is required (the name the screen gets)");
	char code[CODES_USER_CODE_LEN + 1];
	if (!codes_normalize_user_code(argv[optind], code))
		return cli_usage_error(cli, "\"%s\" is not a pairing code (8 characters, XXXX-XXXX)", argv[optind]);
	if ((rc = cli_connect(cli)) != CLI_OK)
		return rc;
	json_t *body = json_pack("{s:s, s:s}", "user_code", code, "name", name);
	struct api_resp resp;
	if (!body)
		return cli_usage_error(cli, "the name is not UTF-8");
	if (api_call(&cli->api, "POST", "/api/v1/pairings", body, API_DEFAULT_TIMEOUT_S, &resp) != 0 ||
	    resp.status != 201) {
		rc = cli_fail(cli, &resp, "pairing");
	} else {
		json_t *screen = json_object_get(resp.json, "screen");
		if (cli->json)
			cli_print_json(resp.json);
		char shown[200];
		cli_info(cli, "paired the screen %s (id %s)",
		         cli_printable(str_or(screen, "name", name), shown, sizeof shown), str_or(screen, "id", "?"));
		rc = CLI_OK;
	}
	api_resp_free(&resp);
	json_decref(body);
	return rc;
}
