/* Terminal prompts of the CLI; see prompt.h. */
#include "prompt.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

/* The terminal settings to restore if a signal arrives while echo is off. */
static int saved_fd = -1;
static struct termios saved_termios;
static const int restore_signals[] = {SIGINT, SIGTERM, SIGQUIT, SIGHUP};
static struct sigaction saved_actions[sizeof restore_signals / sizeof restore_signals[0]];

static void restore_and_die(int sig)
{
	/* async-signal-safe: tcsetattr, write, sigaction, raise */
	if (saved_fd >= 0) {
		tcsetattr(saved_fd, TCSAFLUSH, &saved_termios);
		(void)!write(saved_fd, "\n", 1);
	}
	struct sigaction dfl;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	sigaction(sig, &dfl, NULL);
	raise(sig);
}

static void write_all(int fd, const char *s)
{
	size_t len = strlen(s);
	while (len > 0) {
		ssize_t w = write(fd, s, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		len -= (size_t)w;
	}
}

/* Reads one line from fd byte by byte (no buffering past the newline). */
static enum prompt_result read_line(int fd, char *out, size_t outsz)
{
	size_t n = 0;
	bool too_long = false;
	for (;;) {
		char c;
		ssize_t r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return PROMPT_EOF;
		if (r == 0) {
			if (n == 0 && !too_long)
				return PROMPT_EOF;
			break;
		}
		if (c == '\n')
			break;
		if (n + 1 < outsz)
			out[n++] = c;
		else
			too_long = true;
	}
	if (n > 0 && out[n - 1] == '\r')
		n--;
	out[n] = '\0';
	return too_long ? PROMPT_TOO_LONG : PROMPT_OK;
}

enum prompt_result prompt_tty(const char *prompt, bool secret, char *out, size_t outsz)
{
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return PROMPT_NO_TTY;
	enum prompt_result rc;
	struct termios t;
	bool echo_off = false;
	if (secret && tcgetattr(fd, &t) == 0) {
		saved_termios = t;
		saved_fd = fd;
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = restore_and_die;
		sigemptyset(&sa.sa_mask);
		for (size_t i = 0; i < sizeof restore_signals / sizeof restore_signals[0]; i++)
			sigaction(restore_signals[i], &sa, &saved_actions[i]);
		t.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK);
		t.c_lflag |= ECHONL | ICANON; /* the newline still shows; line editing works */
		echo_off = tcsetattr(fd, TCSAFLUSH, &t) == 0;
	}
	write_all(fd, prompt);
	rc = read_line(fd, out, outsz);
	if (secret && saved_fd >= 0) {
		if (echo_off)
			tcsetattr(fd, TCSAFLUSH, &saved_termios);
		if (echo_off && rc != PROMPT_OK) /* Ctrl-D: no newline was echoed */
			write_all(fd, "\n");
		saved_fd = -1;
		for (size_t i = 0; i < sizeof restore_signals / sizeof restore_signals[0]; i++)
			sigaction(restore_signals[i], &saved_actions[i], NULL);
	}
	close(fd);
	return rc;
}

enum prompt_result prompt_stdin_line(char *out, size_t outsz)
{
	return read_line(STDIN_FILENO, out, outsz);
}
