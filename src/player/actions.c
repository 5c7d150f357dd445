/* Running configured commands with a time limit; see actions.h. */
#include "actions.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"

/* command with {level} replaced by level (when >= 0); caller frees. */
static char *substitute(const char *command, int level)
{
	struct buf out;
	buf_init(&out, strlen(command) * 4 + 64); /* {level} is 7 bytes, a level at most 3 */
	int rc = BUF_OK;
	for (const char *p = command; *p && rc == BUF_OK;) {
		if (level >= 0 && strncmp(p, "{level}", 7) == 0) {
			rc = buf_printf(&out, "%d", level);
			p += 7;
			continue;
		}
		rc = buf_add(&out, p++, 1);
	}
	if (rc != BUF_OK) {
		buf_free(&out);
		return NULL;
	}
	return buf_take(&out, NULL);
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs cmd with /bin/sh, or argv (when cmd is NULL) without a shell; takes cmd. */
static int run(char *cmd, const char *const argv[], unsigned timeout_s, size_t max_out, struct action_output *res)
{
	memset(res, 0, sizeof *res);
	res->exit_status = -1;
	int outp[2] = {-1, -1}, errp[2] = {-1, -1};
	if ((!cmd && !argv) || pipe2(outp, O_CLOEXEC) != 0 || pipe2(errp, O_CLOEXEC) != 0) {
		snprintf(res->err, sizeof res->err, "cannot start the command: %s", strerror(errno));
		goto fail;
	}
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(res->err, sizeof res->err, "cannot start the command: %s", strerror(errno));
		goto fail;
	}
	if (pid == 0) {
		dup2(outp[1], 1);
		dup2(errp[1], 2);
		int devnull = open("/dev/null", O_RDONLY);
		if (devnull >= 0)
			dup2(devnull, 0);
		setpgid(0, 0);
		if (cmd)
			execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		else
			execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(outp[1]);
	close(errp[1]);
	outp[1] = errp[1] = -1;
	struct buf output;
	buf_init(&output, max_out);
	char errbuf[4096];
	size_t errlen = 0;
	long long deadline = now_ms() + (long long)timeout_s * 1000;
	bool out_open = true, err_open = true, timed_out = false, output_full = false;
	while (out_open || err_open) {
		long long left = deadline - now_ms();
		if (left <= 0) {
			timed_out = true;
			break;
		}
		struct pollfd pf[2] = {{out_open ? outp[0] : -1, POLLIN, 0}, {err_open ? errp[0] : -1, POLLIN, 0}};
		if (poll(pf, 2, (int)left) < 0 && errno != EINTR)
			break;
		if (pf[0].revents) {
			char buf[16384];
			ssize_t n = read(outp[0], buf, sizeof buf);
			if (n <= 0) {
				out_open = false;
			} else if (!output_full && buf_add(&output, buf, (size_t)n) == BUF_NOMEM) {
				output_full = true; /* past max_out: the rest is read and dropped */
			}
		}
		if (pf[1].revents) {
			char buf[1024];
			ssize_t n = read(errp[0], buf, sizeof buf);
			if (n <= 0) {
				err_open = false;
			} else {
				if (errlen + (size_t)n > sizeof errbuf) { /* keep the end */
					size_t drop = errlen + (size_t)n - sizeof errbuf;
					memmove(errbuf, errbuf + drop, errlen - drop);
					errlen -= drop;
				}
				memcpy(errbuf + errlen, buf, (size_t)n);
				errlen += (size_t)n;
			}
		}
	}
	if (timed_out)
		kill(-pid, SIGKILL);
	int status = 0;
	waitpid(pid, &status, 0);
	size_t keep = errlen < sizeof res->err - 1 ? errlen : sizeof res->err - 1;
	memcpy(res->err, errbuf + errlen - keep, keep);
	res->err[keep] = '\0';
	while (keep && (res->err[keep - 1] == '\n'))
		res->err[--keep] = '\0';
	if (timed_out)
		snprintf(res->err, sizeof res->err, "the command took longer than %u s and was stopped", timeout_s);
	else if (WIFEXITED(status))
		res->exit_status = WEXITSTATUS(status);
	res->out = buf_take(&output, &res->out_len);
	close(outp[0]);
	close(errp[0]);
	free(cmd);
	return res->exit_status == 0 ? 0 : -1;
fail:
	for (int i = 0; i < 2; i++) {
		if (outp[i] >= 0)
			close(outp[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	free(cmd);
	return -1;
}

int action_run(const char *command, int level, unsigned timeout_s, size_t max_out, struct action_output *res)
{
	return run(substitute(command, level), NULL, timeout_s, max_out, res);
}

int action_run_argv(const char *const argv[], unsigned timeout_s, size_t max_out, struct action_output *res)
{
	return run(NULL, argv, timeout_s, max_out, res);
}

void action_output_free(struct action_output *res)
{
	free(res->out);
	res->out = NULL;
}
