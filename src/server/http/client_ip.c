/*
 * The X-Forwarded-For walk against the trusted proxies (see client_ip.h).
 */
#include "client_ip.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static bool is_trusted(const struct cidr *trusted, size_t n, const struct cidr *addr)
{
	for (size_t i = 0; i < n; i++)
		if (cidr_contains(&trusted[i], addr))
			return true;
	return false;
}

static void set_unknown(struct client_ip *out)
{
	snprintf(out->text, sizeof out->text, "unknown");
	memset(&out->addr, 0, sizeof out->addr);
	out->addr.v6 = true;
	out->addr.prefix = 128; /* "::": in no allowlist, in no trusted network */
}

void client_ip_resolve(const char *peer, const char *xff, size_t xff_len, const struct cidr *trusted, size_t n_trusted,
                       struct client_ip *out)
{
	memset(out, 0, sizeof *out);
	snprintf(out->text, sizeof out->text, "%s", peer ? peer : "");
	if (cidr_parse_addr(out->text, &out->addr) != 0)
		return;
	/* v4-mapped addresses are shown as plain IPv4 */
	if (!out->addr.v6 && strchr(out->text, ':'))
		inet_ntop(AF_INET, out->addr.addr, out->text, sizeof out->text);
	if (n_trusted == 0 || !is_trusted(trusted, n_trusted, &out->addr) || !xff || xff_len == 0)
		return;
	if (xff_len > CLIENT_IP_XFF_MAX) {
		set_unknown(out);
		return;
	}
	size_t end = xff_len;
	for (;;) {
		size_t start = end;
		while (start > 0 && xff[start - 1] != ',')
			start--;
		char item[64];
		size_t a = start, b = end;
		while (a < b && (xff[a] == ' ' || xff[a] == '\t'))
			a++;
		while (b > a && (xff[b - 1] == ' ' || xff[b - 1] == '\t'))
			b--;
		struct cidr next;
		if (b - a == 0 || b - a >= sizeof item || memchr(xff + a, '\0', b - a)) {
			set_unknown(out);
			return;
		}
		memcpy(item, xff + a, b - a);
		item[b - a] = '\0';
		if (cidr_parse_addr(item, &next) != 0) {
			set_unknown(out);
			return;
		}
		out->addr = next;
		inet_ntop(next.v6 ? AF_INET6 : AF_INET, next.addr, out->text, sizeof out->text);
		if (!is_trusted(trusted, n_trusted, &next) || start == 0)
			return;
		end = start - 1;
	}
}
