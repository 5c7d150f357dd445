/* The upload progress bar; see progress.h. */
#include "progress.h"

#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

double progress_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double progress_elapsed(const struct progress *p)
{
	return progress_now() - p->start;
}

static unsigned terminal_width(FILE *out)
{
	struct winsize ws;
	if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
		return ws.ws_col;
	return 80;
}

static void format_eta(double seconds, char out[16])
{
	if (seconds < 0 || seconds > 359999) {
		snprintf(out, 16, "--:--");
		return;
	}
	unsigned s = (unsigned)(seconds + 0.5);
	if (s >= 3600)
		snprintf(out, 16, "%u:%02u:%02u", s / 3600, s / 60 % 60, s % 60);
	else
		snprintf(out, 16, "%u:%02u", s / 60, s % 60);
}

static void draw(struct progress *p)
{
	double elapsed = progress_elapsed(p);
	double rate = elapsed > 0.05 ? (double)p->done / elapsed : 0;
	char done[32], total[32], speed[32], eta[16], tail[160], head[300];
	cli_human_bytes((double)p->done, done);
	cli_human_bytes((double)p->total, total);
	cli_human_bytes(rate, speed);
	format_eta(rate > 0 ? (double)(p->total - p->done) / rate : -1, eta);
	unsigned pct = p->total ? (unsigned)(p->done * 100 / p->total) : 100;
	snprintf(tail, sizeof tail, "  %3u%%  %s/%s  %s/s  ETA %s", pct, done, total, speed, eta);
	unsigned width = terminal_width(p->out) - 1; /* never touch the last column: no wrap */
	size_t tail_len = strlen(tail);
	/* the bar takes what is left after the label, at least 10 columns */
	snprintf(head, sizeof head, "[%u/%u] %s", p->index, p->count, p->label);
	size_t head_len = strlen(head);
	size_t room = width > tail_len + 4 ? width - tail_len - 4 : 0;
	if (head_len + 12 > room) /* shorten the label, keep the bar */
		head_len = room > 12 ? room - 12 : 0;
	size_t bar = room > head_len + 2 ? room - head_len - 2 : 0;
	if (bar > 40)
		bar = 40;
	char line[512];
	size_t n = 0;
	n += (size_t)snprintf(line + n, sizeof line - n, "\r%.*s  ", (int)head_len, head);
	if (bar >= 4 && n + bar + 3 < sizeof line) {
		size_t fill = p->total ? (size_t)((double)bar * (double)p->done / (double)p->total) : bar;
		line[n++] = '[';
		for (size_t i = 0; i < bar; i++)
			line[n++] = i < fill ? '#' : '.';
		line[n++] = ']';
	}
	snprintf(line + n, sizeof line - n, "%s\033[K", tail);
	fputs(line, p->out);
	fflush(p->out);
	p->last_draw = progress_now();
}

void progress_begin(struct progress *p, FILE *out, const char *label, uint64_t total, unsigned index, unsigned count)
{
	memset(p, 0, sizeof *p);
	p->out = out;
	cli_printable(label, p->label, sizeof p->label);
	p->total = total;
	p->index = index;
	p->count = count;
	p->start = progress_now();
	draw(p);
}

void progress_update(struct progress *p, uint64_t done)
{
	p->done = done > p->total ? p->total : done;
	if (progress_now() - p->last_draw >= 0.1)
		draw(p);
}

void progress_end(struct progress *p)
{
	fputs("\r\033[K", p->out);
	fflush(p->out);
}
