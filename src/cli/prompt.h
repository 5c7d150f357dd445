/*
 * Questions to the person at the terminal: the login name, the password
 * (without echo) and the authenticator code are read from /dev/tty, so
 * they work when stdin and stdout are redirected. A script passes the
 * password on stdin instead (--password-stdin). Secrets are read into the
 * caller's buffer only; the caller wipes it.
 */
#ifndef VITRINE_CLI_PROMPT_H
#define VITRINE_CLI_PROMPT_H

#include <stdbool.h>
#include <stddef.h>

enum prompt_result {
	PROMPT_OK = 0,
	PROMPT_NO_TTY = -1,   /* no controlling terminal to ask on */
	PROMPT_EOF = -2,      /* end of input or interrupted */
	PROMPT_TOO_LONG = -3, /* the line does not fit in out */
};

/* Writes prompt on the terminal and reads one line into out (without the
 * newline). With secret, echo is off while typing; Ctrl-C then restores
 * the terminal before the program stops. */
enum prompt_result prompt_tty(const char *prompt, bool secret, char *out, size_t outsz);

/* Reads one line from stdin into out (without "\n" or "\r\n"). */
enum prompt_result prompt_stdin_line(char *out, size_t outsz);

#endif
