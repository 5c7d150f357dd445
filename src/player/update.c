/* Over-the-air updates of the player; see update.h. */
#include "update.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "actions.h"
#include "common/codes.h"
#include "common/log.h"
#include "common/release.h"
#include "common/strfmt.h"
#include "state.h"
#include "sync.h"
#include "timers.h"
#include "transport.h"

#define JOB_FILE         "update.json"
#define KEYS_FILE        "release_keys.json"
#define MAX_KEYS         32
#define MAX_STARTS       3 /* starts of a new version without a commit before it is given up */
#define DEFAULT_HEALTH_S 120
#define MAX_REPORTS      64
#define RETRY_MS         30000
#define PLAYER_RELEASE   "vitrine-player" /* the release name this updater installs */

struct update {
	struct transport *t;
	const struct player_config *cfg;
	struct player_state *st;
	struct sync *sync;
	const struct update_ops *ops;
	void *arg;
	json_t *job; /* DATA/update.json: the update under way, or NULL */
	struct transport_call sig_call, dl_call, report_call;
	int timer, report_timer;
	FILE *part;
	int64_t have; /* bytes of the partial download when it was started */
	bool answered, keep;
	bool heard_server;
	int64_t server_manifest_version;
};

static int64_t now_ms(void)
{
	return transport_mono_ms();
}

static struct timers *T(struct update *u)
{
	return transport_timers(u->t);
}

static const char *job_str(struct update *u, const char *key)
{
	const char *v = json_string_value(json_object_get(u->job, key));
	return v ? v : "";
}

static void save_job(struct update *u)
{
	char *text = u->job ? json_dumps(u->job, JSON_COMPACT) : NULL;
	if (!text || state_write_file(u->st->dir, JOB_FILE, text, strlen(text), 0600) != 0)
		log_event(LOG_ERROR, "cannot save the update state", "file", JOB_FILE, NULL);
	free(text);
}

/* Queues a step for the server (and the log); saved with the job. */
static void report(struct update *u, const char *step, const char *detail)
{
	log_event(strcmp(step, "failed") == 0 || strcmp(step, "rolled_back") == 0 ? LOG_WARN : LOG_INFO, "update",
	          "step", step, "version", job_str(u, "version"), "detail", detail ? detail : "", NULL);
	json_t *reports = json_object_get(u->job, "reports");
	if (!json_is_array(reports)) {
		reports = json_array();
		json_object_set_new(u->job, "reports", reports);
	}
	if (json_array_size(reports) >= MAX_REPORTS)
		json_array_remove(reports, 1); /* keep the first (accepted) and the newest */
	json_array_append_new(reports, json_pack("{s:s, s:s, s:I, s:s}", "step", step, "detail", detail ? detail : "",
	                                         "at", (json_int_t)time(NULL), "running", u->cfg->version));
	save_job(u);
	timers_set(T(u), u->report_timer, now_ms());
}

static void set_state(struct update *u, const char *state)
{
	json_object_set_new(u->job, "state", json_string(state));
	save_job(u);
	timers_set(T(u), u->timer, now_ms());
}

static void fail(struct update *u, const char *why)
{
	report(u, "failed", why);
	set_state(u, "done");
}

static int data_path(struct update *u, char *out, size_t outsz, const char *suffix)
{
	return strfmt(out, outsz, "%s/updates/%s%s", u->st->dir, job_str(u, "sha256"), suffix);
}

/* ---------- the trusted keys ---------- */

void update_save_keys(struct player_state *st, json_t *keys)
{
	if (!json_is_array(keys) || json_array_size(keys) == 0 || json_array_size(keys) > MAX_KEYS)
		return;
	char *text = json_dumps(keys, JSON_COMPACT);
	if (!text || state_write_file(st->dir, KEYS_FILE, text, strlen(text), 0600) != 0)
		log_event(LOG_ERROR, "cannot save the release keys", NULL);
	free(text);
}

/* The keys as raw bytes, one after the other; the count. */
static size_t load_keys(struct update *u, unsigned char out[MAX_KEYS * crypto_sign_PUBLICKEYBYTES])
{
	char path[1200];
	json_error_t e;
	json_t *keys =
	    strfmt(path, sizeof path, "%s/%s", u->st->dir, KEYS_FILE) == 0 ? json_load_file(path, 0, &e) : NULL;
	size_t n = 0, i;
	json_t *k;
	json_array_foreach (keys, i, k) {
		const char *b64 = json_string_value(k);
		size_t len = 0;
		if (n < MAX_KEYS && b64 &&
		    sodium_base642bin(out + n * crypto_sign_PUBLICKEYBYTES, crypto_sign_PUBLICKEYBYTES, b64,
		                      strlen(b64), NULL, &len, NULL, sodium_base64_VARIANT_ORIGINAL) == 0 &&
		    len == crypto_sign_PUBLICKEYBYTES)
			n++;
	}
	json_decref(keys);
	return n;
}

/* ---------- 1. the signature ---------- */

static void sig_answered(struct transport_call *c, long status)
{
	struct update *u = c->owner;
	/* the signature file's own bytes (the answer held in memory) */
	const char *text = status == 200 && c->resp.len ? c->resp.data : NULL;
	size_t len = text ? c->resp.len : 0;
	struct release_signature sig;
	char err[RELEASE_ERR_LEN];
	unsigned char keys[MAX_KEYS * crypto_sign_PUBLICKEYBYTES];
	size_t nkeys = load_keys(u, keys);
	if (status != 200 || !text) {
		if (status == 404 || status == 403)
			fail(u, "the server has no such release for this screen");
		else
			timers_set(T(u), u->timer,
			           now_ms() + transport_note_failure(u->t, "release signature", status));
	} else if (release_signature_parse(text, len, &sig, err, sizeof err) != 0) {
		char why[400];
		snprintf(why, sizeof why, "the release's signature file is not valid: %s", err);
		fail(u, why);
	} else if (nkeys == 0) {
		fail(u, "this player holds no release keys (they are given at pairing): pair it again to update it");
	} else if (release_signature_verify(&sig, keys, nkeys, NULL, err, sizeof err) != RELEASE_VALID) {
		char why[400];
		snprintf(why, sizeof why, "refused: %s", err);
		fail(u, why);
	} else if (strcmp(sig.name, PLAYER_RELEASE) != 0) {
		fail(u, "refused: the release is not of vitrine-player");
	} else if (strcmp(sig.sha256, job_str(u, "sha256")) != 0 ||
	           sig.size != (uint64_t)json_integer_value(json_object_get(u->job, "size")) ||
	           strcmp(sig.version, job_str(u, "version")) != 0) {
		fail(u, "refused: the signed version, hash or size differ from the update's");
	} else if (release_version_compare(sig.version, u->cfg->version) == 0) {
		report(u, "committed", "this version runs already");
		set_state(u, "done");
	} else if (release_version_compare(sig.version, u->cfg->version) < 0 &&
	           !json_is_true(json_object_get(u->job, "rollback"))) {
		char why[200];
		snprintf(why, sizeof why,
		         "refused: %s is older than the version running (%s) and the rollout is not a rollback",
		         sig.version, u->cfg->version);
		fail(u, why);
	} else {
		report(u, "verified", "signed by a trusted key");
		set_state(u, "download");
	}
}

static void retry_later(struct transport_call *c, const struct transport_failure *f)
{
	struct update *u = c->owner;
	timers_set(T(u), u->timer, now_ms() + (f->retry_ms > 1000 ? f->retry_ms : 1000));
}

static const struct transport_call_ops sig_ops = {.answered = sig_answered, .failed = retry_later};

/* ---------- 2. the download ---------- */

static size_t on_bytes(struct transport_call *c, const char *data, size_t len)
{
	struct update *u = c->owner;
	if (!u->answered) {
		u->answered = true;
		long status = transport_call_status(c);
		u->keep = status == 200 || status == 206;
		if (status == 200 && u->have > 0 && (fflush(u->part) != 0 || ftruncate(fileno(u->part), 0) != 0)) {
			c->local_errno = errno ? errno : EIO;
			return 0;
		}
	}
	if (!u->keep)
		return len;
	if (fwrite(data, 1, len, u->part) != len) {
		c->local_errno = errno ? errno : EIO;
		return 0;
	}
	return len;
}

static void close_part(struct update *u)
{
	if (u->part) {
		fflush(u->part);
		fsync(fileno(u->part));
		fclose(u->part);
		u->part = NULL;
	}
}

static void dl_answered(struct transport_call *c, long status)
{
	struct update *u = c->owner;
	close_part(u);
	if (status != 200 && status != 206) {
		if (status == 404 || status == 403 || status == 416) {
			char part[1200];
			if (data_path(u, part, sizeof part, ".part") == 0)
				unlink(part);
			if (status == 416) { /* the part is longer than the release: start again */
				timers_set(T(u), u->timer, now_ms());
				return;
			}
			fail(u, "the server has no such release for this screen");
		} else {
			timers_set(T(u), u->timer, now_ms() + transport_note_failure(u->t, "release download", status));
		}
		return;
	}
	char part[1200], done[1200], sha[65], err[RELEASE_ERR_LEN];
	uint64_t size = 0;
	if (data_path(u, part, sizeof part, ".part") != 0 || data_path(u, done, sizeof done, ".tar.gz") != 0) {
		fail(u, "the data folder path is too long");
		return;
	}
	if (release_hash_file(part, sha, &size, err, sizeof err) != 0) {
		fail(u, err);
		return;
	}
	if (strcmp(sha, job_str(u, "sha256")) != 0 ||
	    size != (uint64_t)json_integer_value(json_object_get(u->job, "size"))) {
		unlink(part); /* a later update starts from zero */
		{
			fail(u,
			     "refused: the downloaded release does not match its signed SHA-256 (tampered or damaged)");
			return;
		}
	}
	if (rename(part, done) != 0) {
		fail(u, "cannot keep the downloaded release");
		return;
	}
	report(u, "downloaded", "SHA-256 verified");
	set_state(u, "install");
}

static void dl_failed(struct transport_call *c, const struct transport_failure *f)
{
	struct update *u = c->owner;
	close_part(u);
	if (f->local) {
		char why[300];
		snprintf(why, sizeof why, "the download could not be written: %s",
		         f->detail ? f->detail : "disk error");
		{
			fail(u, why);
			return;
		}
	}
	timers_set(T(u), u->timer, now_ms() + f->retry_ms);
}

static const struct transport_call_ops dl_ops = {.answered = dl_answered, .failed = dl_failed};

static void start_download(struct update *u)
{
	char dir[1200], part[1200], done[1200], path[160], range[64];
	if (strfmt(dir, sizeof dir, "%s/updates", u->st->dir) != 0 || (mkdir(dir, 0700) != 0 && errno != EEXIST) ||
	    data_path(u, part, sizeof part, ".part") != 0 || data_path(u, done, sizeof done, ".tar.gz") != 0) {
		fail(u, "cannot create the updates folder");
		return;
	}
	if (access(done, F_OK) == 0) { /* downloaded before a restart */
		set_state(u, "install");
		return;
	}
	int64_t size = json_integer_value(json_object_get(u->job, "size"));
	struct stat sb;
	u->have = stat(part, &sb) == 0 ? (int64_t)sb.st_size : 0;
	struct statvfs vfs;
	/* the download, and its unpacked copy beside it */
	if (statvfs(dir, &vfs) == 0 &&
	    (int64_t)vfs.f_bavail * (int64_t)vfs.f_frsize < 2 * (size - u->have) + (16 << 20)) {
		char why[200];
		snprintf(why, sizeof why, "not enough free space: the release needs %lld MiB, %lld MiB are free",
		         (long long)((2 * size >> 20) + 16), (long long)((int64_t)vfs.f_bavail * vfs.f_frsize >> 20));
		{
			fail(u, why);
			return;
		}
	}
	u->part = fopen(part, "ab");
	if (!u->part) {
		fail(u, "cannot write the download");
		return;
	}
	struct transport_request req = {.what = "release download",
	                                .method = "GET",
	                                .path = path,
	                                .timeout_s = 24 * 3600,
	                                .with_token = true,
	                                .sink = on_bytes,
	                                .low_speed_time_s = 60,
	                                .max_recv_speed = u->cfg->download_rate};
	if (strfmt(path, sizeof path, "/api/v1/device/releases/%s", job_str(u, "release_id")) != 0) {
		close_part(u);
		{
			fail(u, "bad release id");
			return;
		}
	}
	if (u->have > 0) {
		if (strfmt(range, sizeof range, "Range: bytes=%lld-", (long long)u->have) != 0) {
			close_part(u);
			{
				fail(u, "bad offset");
				return;
			}
		}
		req.headers[0] = range;
		char at[32];
		snprintf(at, sizeof at, "%lld", (long long)u->have);
		log_event(LOG_INFO, "resuming the release download", "offset", at, NULL);
		char detail[64];
		snprintf(detail, sizeof detail, "resumed at byte %lld", (long long)u->have);
		report(u, "downloading", detail);
	} else {
		report(u, "downloading", "from the start");
	}
	u->answered = u->keep = false;
	if (transport_start(u->t, &u->dl_call, &req) != 0) {
		close_part(u);
		timers_set(T(u), u->timer, now_ms() + RETRY_MS);
	}
}

/* ---------- 3. install, 4. restart ---------- */

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void remove_tree(const char *path)
{
	nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The version INSTALL/current points at ("" when it is not a link). */
static void current_version(struct update *u, char *out, size_t outsz)
{
	char link[1200], target[PATH_MAX];
	out[0] = '\0';
	if (strfmt(link, sizeof link, "%s/current", u->cfg->install_dir) != 0)
		return;
	ssize_t n = readlink(link, target, sizeof target - 1);
	if (n <= 0)
		return;
	target[n] = '\0';
	const char *slash = strrchr(target, '/');
	const char *name = slash ? slash + 1 : target;
	if (strlen(name) < outsz)
		memcpy(out, name, strlen(name) + 1);
}

/* Points INSTALL/current at releases/<version> with one rename. */
static int switch_to(struct update *u, const char *version)
{
	char link[1200], tmp[1210], target[300];
	if (strfmt(link, sizeof link, "%s/current", u->cfg->install_dir) != 0 ||
	    strfmt(tmp, sizeof tmp, "%s.new", link) != 0 || strfmt(target, sizeof target, "releases/%s", version) != 0)
		return -1;
	unlink(tmp);
	if (symlink(target, tmp) != 0 || rename(tmp, link) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* Starts INSTALL/current/bin/vitrine-player in this process, with the
 * arguments the version that installed the update was started with (kept
 * in the job: a new version is never trusted to say how to start the old
 * one). */
static void restart(struct update *u)
{
	char bin[1200];
	json_t *saved = json_object_get(u->job, "argv");
	size_t n = json_array_size(saved);
	if (strfmt(bin, sizeof bin, "%s/current/bin/vitrine-player", u->cfg->install_dir) != 0 || n == 0 || n > 256)
		return;
	char **argv = calloc(n + 1, sizeof *argv);
	if (!argv)
		return;
	for (size_t i = 0; i < n; i++)
		argv[i] = (char *)json_string_value(json_array_get(saved, i));
	log_event(LOG_INFO, "restarting into the installed version", "binary", bin, NULL);
	execv(bin, argv);
	log_event(LOG_ERROR, "cannot start the installed version", "error", strerror(errno), NULL);
	free(argv);
}

static void install(struct update *u)
{
	const char *version = job_str(u, "version");
	char releases[1200], dir[1300], tmp[1310], done[1200], bin[1400];
	if (strfmt(releases, sizeof releases, "%s/releases", u->cfg->install_dir) != 0 ||
	    strfmt(dir, sizeof dir, "%s/%s", releases, version) != 0 ||
	    strfmt(tmp, sizeof tmp, "%s.unpacking", dir) != 0 || data_path(u, done, sizeof done, ".tar.gz") != 0 ||
	    strfmt(bin, sizeof bin, "%s/bin/vitrine-player", tmp) != 0) {
		fail(u, "the install folder path is too long");
		return;
	}
	if ((mkdir(u->cfg->install_dir, 0755) != 0 && errno != EEXIST) ||
	    (mkdir(releases, 0755) != 0 && errno != EEXIST)) {
		fail(u, "cannot create the install folder");
		return;
	}
	remove_tree(tmp);
	if (mkdir(tmp, 0755) != 0) {
		fail(u, "cannot create the folder of the new version");
		return;
	}
	const char *argv[] = {"tar", "-xzf", done, "-C", tmp, "--no-same-owner", NULL};
	struct action_output out;
	int rc = action_run_argv(argv, 300, 4096, &out);
	char err[300];
	snprintf(err, sizeof err, "the release could not be unpacked: %s", out.err[0] ? out.err : "tar failed");
	action_output_free(&out);
	if (rc != 0) {
		remove_tree(tmp);
		{
			fail(u, err);
			return;
		}
	}
	if (access(bin, X_OK) != 0) {
		remove_tree(tmp);
		{
			fail(u, "the release holds no bin/vitrine-player program");
			return;
		}
	}
	char previous[128];
	current_version(u, previous, sizeof previous);
	if (strcmp(previous, version) == 0) {
		fail(u, "this version is the one installed");
		return;
	}
	remove_tree(dir); /* an earlier, interrupted install of the same version */
	if (rename(tmp, dir) != 0) {
		fail(u, "cannot move the new version into place");
		return;
	}
	json_object_set_new(u->job, "previous", json_string(previous));
	json_t *args = json_array();
	for (char *const *a = u->cfg->argv; a && *a && json_array_size(args) < 256; a++)
		json_array_append_new(args, json_string(*a));
	json_object_set_new(u->job, "argv", args);
	json_object_set_new(u->job, "started", json_integer(0));
	json_int_t health = json_integer_value(json_object_get(u->job, "health_s"));
	json_object_set_new(u->job, "deadline",
	                    json_integer((json_int_t)time(NULL) + (health > 0 ? health : DEFAULT_HEALTH_S)));
	if (switch_to(u, version) != 0) {
		fail(u, "cannot switch to the new version");
		return;
	}
	report(u, "installed", previous[0] ? previous : "no previous version");
	json_object_set_new(u->job, "state", json_string("health"));
	report(u, "restarting", "into the new version");
	restart(u);
	/* still here: the new program does not start */
	if (previous[0])
		switch_to(u, previous);
	fail(u, "the new version could not be started; the previous one stays");
}

/* ---------- 5. the health check ---------- */

static void rollback(struct update *u, const char *why)
{
	const char *previous = job_str(u, "previous");
	if (!*previous || switch_to(u, previous) != 0) {
		report(u, "failed", "the health check failed and there is no previous version to go back to");
		set_state(u, "done");
		return;
	}
	char detail[400];
	snprintf(detail, sizeof detail, "%s; back to %s", why, previous);
	json_object_set_new(u->job, "state", json_string("done"));
	report(u, "rolled_back", detail);
	restart(u);
}

static void commit(struct update *u)
{
	report(u, "committed", "healthy: it reached the server and plays its manifest");
	set_state(u, "done");
	/* the new version and the previous one stay; older ones and the download go */
	char releases[1200], dir[1400], done[1200];
	const char *keep[] = {job_str(u, "version"), job_str(u, "previous")};
	if (strfmt(releases, sizeof releases, "%s/releases", u->cfg->install_dir) == 0) {
		struct dirent **names = NULL;
		int n = scandir(releases, &names, NULL, alphasort);
		for (int i = 0; i < n; i++) {
			const char *name = names[i]->d_name;
			if (name[0] != '.' && strcmp(name, keep[0]) != 0 && strcmp(name, keep[1]) != 0 &&
			    strfmt(dir, sizeof dir, "%s/%s", releases, name) == 0)
				remove_tree(dir);
			free(names[i]);
		}
		free(names);
	}
	if (data_path(u, done, sizeof done, ".tar.gz") == 0)
		unlink(done);
}

static void health_tick(struct update *u)
{
	if (strcmp(job_str(u, "version"), u->cfg->version) != 0) {
		char why[160];
		snprintf(why, sizeof why, "the new program reports version %s, not %s", u->cfg->version,
		         job_str(u, "version"));
		{
			rollback(u, why);
			return;
		}
	}
	/* it plays the manifest the server has for it (or the server has none) */
	bool plays = u->server_manifest_version <= 0 || sync_active_version(u->sync) >= u->server_manifest_version;
	if (u->heard_server && plays) {
		commit(u);
		return;
	}
	if ((json_int_t)time(NULL) > json_integer_value(json_object_get(u->job, "deadline"))) {
		rollback(u, u->heard_server ? "the health check failed: it does not play its manifest"
		                            : "the health check failed: it did not reach the server");
		return;
	}
	timers_set(T(u), u->timer, now_ms() + 1000);
}

/* ---------- the steps ---------- */

static int64_t update_tick(void *arg, int64_t now)
{
	(void)now;
	struct update *u = arg;
	if (!u->job || !transport_paired(u->t))
		return TIMER_PARK; /* update_paired sets it again */
	const char *state = job_str(u, "state");
	if (strcmp(state, "signature") == 0 && !u->sig_call.busy) {
		char path[160];
		if (strfmt(path, sizeof path, "/api/v1/device/releases/%s/signature", job_str(u, "release_id")) != 0) {
			fail(u, "bad release id");
			return TIMER_PARK;
		}
		struct transport_request req = {
		    .what = "release signature", .method = "GET", .path = path, .timeout_s = 30, .with_token = true};
		transport_start(u->t, &u->sig_call, &req);
	} else if (strcmp(state, "download") == 0 && !u->dl_call.busy) {
		start_download(u);
	} else if (strcmp(state, "install") == 0) {
		install(u);
	} else if (strcmp(state, "health") == 0) {
		health_tick(u);
	}
	return TIMER_PARK;
}

/* ---------- reports ---------- */

static void report_answered(struct transport_call *c, long status)
{
	struct update *u = c->owner;
	json_t *reports = json_object_get(u->job, "reports");
	if (status / 100 == 2 || status / 100 == 4) { /* taken, or refused for good */
		json_array_remove(reports, 0);
		if (json_array_size(reports) == 0 && strcmp(job_str(u, "state"), "done") == 0) {
			char path[1200];
			if (strfmt(path, sizeof path, "%s/%s", u->st->dir, JOB_FILE) == 0)
				unlink(path);
			json_decref(u->job);
			u->job = NULL;
			return;
		}
		save_job(u);
		timers_set(T(u), u->report_timer, now_ms());
	} else {
		timers_set(T(u), u->report_timer, now_ms() + transport_note_failure(u->t, "update report", status));
	}
}

static void report_failed(struct transport_call *c, const struct transport_failure *f)
{
	struct update *u = c->owner;
	timers_set(T(u), u->report_timer, now_ms() + f->retry_ms);
}

static const struct transport_call_ops report_ops = {.answered = report_answered, .failed = report_failed};

static int64_t report_tick(void *arg, int64_t now)
{
	(void)now;
	struct update *u = arg;
	json_t *first = json_array_get(json_object_get(u->job, "reports"), 0);
	if (!first || !transport_paired(u->t) || u->report_call.busy)
		return TIMER_PARK;
	json_t *body = json_pack("{s:O?, s:O?, s:O?, s:O, s:O, s:O, s:O}", "rollout_id",
	                         json_object_get(u->job, "rollout_id"), "release_id",
	                         json_object_get(u->job, "release_id"), "version", json_object_get(u->job, "version"),
	                         "step", json_object_get(first, "step"), "detail", json_object_get(first, "detail"),
	                         "at", json_object_get(first, "at"), "running", json_object_get(first, "running"));
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	struct transport_request req = {.what = "update report",
	                                .method = "POST",
	                                .path = "/api/v1/device/update-status",
	                                .body = text,
	                                .body_len = text ? strlen(text) : 0,
	                                .content_type = "application/json",
	                                .timeout_s = 30,
	                                .with_token = true};
	if (text)
		transport_start(u->t, &u->report_call, &req);
	free(text);
	return TIMER_PARK;
}

/* ---------- the agent's side ---------- */

struct update *update_create(struct transport *t, const struct player_config *cfg, struct player_state *st,
                             struct sync *sync, const struct update_ops *ops, void *arg)
{
	struct update *u = calloc(1, sizeof *u);
	if (!u)
		return NULL;
	*u = (struct update){
	    .t = t, .cfg = cfg, .st = st, .sync = sync, .ops = ops, .arg = arg, .server_manifest_version = -1};
	struct transport_call *calls[] = {&u->sig_call, &u->dl_call, &u->report_call};
	for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++)
		calls[i]->owner = u;
	u->sig_call.ops = &sig_ops;
	u->dl_call.ops = &dl_ops;
	u->report_call.ops = &report_ops;
	char path[1200];
	json_error_t e;
	bool present = strfmt(path, sizeof path, "%s/%s", st->dir, JOB_FILE) == 0 && access(path, F_OK) == 0;
	u->job = present ? json_load_file(path, 0, &e) : NULL;
	if (present && (!json_is_object(u->job) || !json_is_string(json_object_get(u->job, "state")))) {
		json_decref(u->job);
		u->job = NULL;
		char aside[1220];
		if (strfmt(aside, sizeof aside, "%s.damaged", path) == 0)
			rename(path, aside);
		state_note_restored(st, JOB_FILE, "damaged", "the update under way was given up");
	}
	u->timer = timers_add(T(u), TIMER_NEVER, update_tick, u);
	u->report_timer = timers_add(T(u), TIMER_NEVER, report_tick, u);
	if (u->timer < 0 || u->report_timer < 0) {
		update_destroy(u);
		return NULL;
	}
	if (u->job && strcmp(job_str(u, "state"), "health") == 0) {
		json_int_t started = json_integer_value(json_object_get(u->job, "started")) + 1;
		json_object_set_new(u->job, "started", json_integer(started));
		save_job(u);
		if (started == 1)
			report(u, "started", u->cfg->version);
		else if (started > MAX_STARTS)
			rollback(u, "the new version was started three times without passing its health check");
	}
	return u;
}

void update_destroy(struct update *u)
{
	if (!u)
		return;
	struct transport_call *calls[] = {&u->sig_call, &u->dl_call, &u->report_call};
	for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++)
		if (calls[i]->t)
			transport_call_free(calls[i]);
	close_part(u);
	json_decref(u->job);
	free(u);
}

void update_paired(struct update *u)
{
	timers_set(T(u), u->timer, now_ms());
	timers_set(T(u), u->report_timer, now_ms());
}

static json_t *reason(const char *text)
{
	return json_pack("{s:s}", "reason", text);
}

bool update_execute(struct update *u, const char *id, const char *type, json_t *payload)
{
	if (strcmp(type, "update") != 0)
		return false;
	const char *release = json_string_value(json_object_get(payload, "release_id"));
	const char *version = json_string_value(json_object_get(payload, "version"));
	const char *sha = json_string_value(json_object_get(payload, "sha256"));
	json_t *size = json_object_get(payload, "size");
	if (!release || !codes_is_id(release) || !version || release_version_problem(version) || !sha ||
	    strlen(sha) != 64 || strspn(sha, "0123456789abcdef") != 64 || !json_is_integer(size) ||
	    json_integer_value(size) < 1) {
		u->ops->acknowledge(u->arg, id, false,
		                    reason("payload must be {release_id, version, sha256, size, ...}"));
		return true;
	}
	const char *state = job_str(u, "state");
	if (u->job && strcmp(state, "done") != 0) {
		if (strcmp(job_str(u, "release_id"), release) == 0) {
			u->ops->acknowledge(u->arg, id, true, json_pack("{s:s}", "note", "this update is under way"));
			return true;
		}
		if (strcmp(state, "health") == 0) {
			u->ops->acknowledge(u->arg, id, false,
			                    reason("another update is in its health check; try later"));
			return true;
		}
		close_part(u); /* a newer update replaces one still downloading */
		if (u->dl_call.t)
			transport_call_free(&u->dl_call);
	}
	json_t *reports = u->job ? json_incref(json_object_get(u->job, "reports")) : NULL;
	json_decref(u->job);
	u->job = json_pack("{s:s, s:O?, s:s, s:s, s:s, s:O, s:b, s:O?, s:s, s:o}", "instruction", id, "rollout_id",
	                   json_object_get(payload, "rollout_id"), "release_id", release, "version", version, "sha256",
	                   sha, "size", size, "rollback", json_is_true(json_object_get(payload, "rollback")),
	                   "health_s", json_object_get(payload, "health_s"), "state", "signature", "reports",
	                   json_is_array(reports) ? json_incref(reports) : json_array());
	json_decref(reports);
	report(u, "accepted", version);
	u->ops->acknowledge(u->arg, id, true, json_pack("{s:s}", "note", "the update is under way"));
	timers_set(T(u), u->timer, now_ms());
	return true;
}

void update_note_heartbeat(struct update *u, int64_t manifest_version)
{
	u->heard_server = true;
	u->server_manifest_version = manifest_version;
}

void update_heartbeat(struct update *u, json_t *body)
{
	if (u->job && strcmp(job_str(u, "state"), "done") != 0)
		json_object_set_new(
		    body, "update",
		    json_pack("{s:s, s:s}", "version", job_str(u, "version"), "state", job_str(u, "state")));
}
