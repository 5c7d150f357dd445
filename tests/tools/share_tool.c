/*
 * Test-only helper: a share sender that knows the key but misbehaves after
 * the handshake, for tests/integration/test_share.py. It connects to a
 * display's command port, runs the handshake with the code and key, then
 * sends what --send says instead of an honest share:
 *
 *   share_tool --to ADDR:PORT --code DIGITS --key KEY --send WHAT
 *     offer:TEXT    TEXT as the offer record (any bytes, JSON or not);
 *                   prints the display's answer record
 *     junk:N        an honest offer, then N records of random bytes as
 *                   VP8 frames on the stream port; waits for the display
 *                   to close the stream
 *     huge          an honest offer, then a record header announcing
 *                   4 GiB on the stream port; waits for the close
 *
 * Prints "share_tool: answer JSON" and "share_tool: sent N records; the
 * display closed|kept the stream" (exit 0), "share_tool: failed SENTENCE"
 * (exit 1); 2 on bad use.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <sodium.h>

#include "share/session.h"

static int fail(const char *what)
{
	printf("share_tool: failed %s: %s\n", what, strerror(errno));
	return 1;
}

static int dial(const char *addr, unsigned port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	struct timeval tv = {.tv_sec = 15};
	if (fd < 0 || inet_pton(AF_INET, addr, &a.sin_addr) != 1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	const char *to = NULL, *code = NULL, *key = NULL, *send = NULL;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--to") == 0)
			to = argv[i + 1];
		else if (strcmp(argv[i], "--code") == 0)
			code = argv[i + 1];
		else if (strcmp(argv[i], "--key") == 0)
			key = argv[i + 1];
		else if (strcmp(argv[i], "--send") == 0)
			send = argv[i + 1];
	}
	char addr[64];
	unsigned port;
	if (!to || !code || !key || !send || sscanf(to, "%63[^:]:%u", addr, &port) != 2 || sodium_init() < 0) {
		fprintf(stderr,
		        "usage: share_tool --to ADDR:PORT --code DIGITS --key KEY --send offer:TEXT|junk:N|huge\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	uint8_t auth[SHARE_AUTH_SIZE], greeting[SHARE_GREETING_SIZE], hello[SHARE_HELLO_SIZE],
	    welcome[SHARE_WELCOME_SIZE];
	struct share_sender_handshake hs;
	struct share_keys keys;
	int fd = dial(addr, port);
	if (share_auth_key(code, key, auth) != 0 || fd < 0)
		return fail("connecting");
	if (share_read_all(fd, greeting, sizeof greeting) != 0 || !share_sender_hello(&hs, auth, greeting, hello) ||
	    share_write_all(fd, hello, sizeof hello) != 0 || share_read_all(fd, welcome, sizeof welcome) != 0 ||
	    share_sender_finish(&hs, welcome, &keys) != SHARE_WELCOME_OK)
		return fail("the handshake");
	struct share_channel cmd;
	share_channel_init(&cmd, fd, keys.command_to_display, keys.command_to_sender);
	const char *offer = strncmp(send, "offer:", 6) == 0 ? send + 6
	                                                    : "{\"type\":\"offer\",\"name\":\"tool\",\"width\":640,"
	                                                      "\"height\":360,\"codec\":\"vp8\",\"input\":false,"
	                                                      "\"input_port\":0}";
	uint8_t answer[4096];
	ssize_t n;
	if (share_channel_send(&cmd, offer, strlen(offer)) != 0 ||
	    (n = share_channel_recv(&cmd, answer, sizeof answer - 1)) <= 0)
		return fail("the offer");
	answer[n] = '\0';
	printf("share_tool: answer %s\n", (char *)answer);
	fflush(stdout);
	if (strncmp(send, "offer:", 6) == 0)
		return 0;
	const char *sp = strstr((char *)answer, "\"stream_port\":");
	int sfd = sp ? dial(addr, (unsigned)atoi(sp + 14)) : -1;
	if (sfd < 0)
		return fail("the stream port");
	struct share_channel stream;
	share_channel_init(&stream, sfd, keys.stream_to_display, NULL);
	if (share_channel_send(&stream, "stream", 6) != 0)
		return fail("the stream");
	unsigned long sent = 0;
	if (strcmp(send, "huge") == 0) {
		static const uint8_t huge[4] = {0xff, 0xff, 0xff, 0xff};
		if (share_write_all(sfd, huge, sizeof huge) != 0)
			return fail("the huge record");
	} else {
		unsigned long count = strtoul(send + 5, NULL, 10);
		uint8_t junk[2000];
		for (; sent < count; sent++) {
			randombytes_buf(junk, sizeof junk);
			if (share_channel_send(&stream, junk, 1 + randombytes_uniform(sizeof junk)) != 0)
				break; /* the display closed the stream */
			usleep(10000);
		}
	}
	/* did the display end the stream? (a read sees its end or a reset) */
	struct timeval tv = {.tv_sec = 3};
	setsockopt(sfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	uint8_t byte;
	while ((n = recv(sfd, &byte, 1, 0)) > 0)
		;
	bool closed = n == 0 || errno == ECONNRESET || errno == EPIPE;
	printf("share_tool: sent %lu records; the display %s the stream\n", sent, closed ? "closed" : "kept");
	return 0;
}
