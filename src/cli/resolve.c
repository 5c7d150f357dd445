/*
 * SCREEN and CHANNEL arguments: an id, or a name that only one screen (or
 * channel) of the account has. An exact name wins over a name that only
 * matches ignoring case; two matches are an error that lists them, so a
 * command never acts on a guess.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

json_t *resolve_named(struct cli *cli, const char *kind, const char *what, int *exit_code)
{
	bool screen = strcmp(kind, "screen") == 0;
	const char *path = screen ? "/api/v1/screens" : "/api/v1/channels";
	const char *key = screen ? "screens" : "channels";
	json_t *found = NULL, *exact = json_array(), *loose = json_array();
	struct api_resp resp;
	char what_shown[200];
	cli_printable(what, what_shown, sizeof what_shown);
	*exit_code = CLI_FAILED;
	if (!exact || !loose) {
		cli_error("out of memory");
		goto out_noresp;
	}
	if (api_call(&cli->api, "GET", path, NULL, API_DEFAULT_TIMEOUT_S, &resp) != 0 || resp.status != 200) {
		char doing[64];
		snprintf(doing, sizeof doing, "listing the %s", key);
		*exit_code = cli_fail(cli, &resp, doing);
		goto out;
	}
	json_t *list = json_object_get(resp.json, key), *item;
	size_t i;
	json_array_foreach (list, i, item) {
		const char *id = json_string_value(json_object_get(item, "id"));
		const char *name = json_string_value(json_object_get(item, "name"));
		if (id && strcmp(id, what) == 0) {
			found = json_incref(item);
			goto done;
		}
		if (name && strcmp(name, what) == 0)
			json_array_append(exact, item);
		else if (name && strcasecmp(name, what) == 0)
			json_array_append(loose, item);
	}
	json_t *matches = json_array_size(exact) ? exact : loose;
	if (json_array_size(matches) == 1) {
		found = json_incref(json_array_get(matches, 0));
		goto done;
	}
	if (json_array_size(matches) == 0) {
		cli_error("no %s is called \"%s\" (see `vitrine %s`)", kind, what_shown, key);
		goto out;
	}
	cli_error("%zu %s are called \"%s\"; name one by its id:", json_array_size(matches), key, what_shown);
	json_array_foreach (matches, i, item) {
		char id[64], name[200];
		cli_printable(json_string_value(json_object_get(item, "id")), id, sizeof id);
		cli_printable(json_string_value(json_object_get(item, "name")), name, sizeof name);
		if (screen)
			fprintf(stderr, "  %s  %s (%s)\n", id, name,
			        json_is_true(json_object_get(item, "online")) ? "online" : "offline");
		else
			fprintf(stderr, "  %s  %s (version %lld)\n", id, name,
			        (long long)json_integer_value(json_object_get(item, "version")));
	}
	*exit_code = CLI_USAGE;
	goto out;
done:
	if (!json_string_value(json_object_get(found, "id"))) {
		cli_error("the server listed a %s without an id", kind);
		json_decref(found);
		found = NULL;
		goto out;
	}
	*exit_code = CLI_OK;
out:
	api_resp_free(&resp);
out_noresp:
	json_decref(exact);
	json_decref(loose);
	return found;
}
