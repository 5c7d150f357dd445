/*
 * Rate limits of the public widget routes. Anybody may call them, so
 * whatever they store must be bounded by something a client cannot mint
 * for free: new visitors and new chats by the address they come from
 * (settings chat_visitors_per_ip and chat_chats_per_ip, per 10 minutes),
 * messages and marks (typing, read) by the visitor (fixed: a person types
 * nowhere near them), transcripts and offline messages, which send mail,
 * by address (CHAT_MAILS_PER_HOUR). The counters are the store's fixed windows
 * (store/ratelimit.c), so they hold across the server's threads and
 * restarts. A refusal is 429 too_many_requests with Retry-After.
 */
#include <stdio.h>
#include <time.h>

#include "../http/server.h"
#include "../store/ratelimit.h"
#include "chat.h"

static bool limited(struct http_req *r, const char *kind, const char *subject, int64_t limit, int64_t window_s,
                    const char *what)
{
	int64_t now = (int64_t)time(NULL);
	if (ratelimit_hit(r->db, kind, subject, window_s, now) <= limit)
		return false;
	char after[24];
	snprintf(after, sizeof after, "%lld", (long long)ratelimit_retry_after(r->db, kind, subject, window_s, now));
	http_reply_error(r, 429, "too_many_requests", "too many %s; try again in %s s", what, after);
	http_reply_header(r, "Retry-After", after);
	return true;
}

unsigned chat_visitors_per_ip = 100, chat_chats_per_ip = 30;

bool chat_limit_new_visitor(struct http_req *r)
{
	return limited(r, "chat_visitor_ip", r->ip, chat_visitors_per_ip, CHAT_LIMIT_WINDOW_S,
	               "new visitors from this address");
}

bool chat_limit_new_chat(struct http_req *r)
{
	return limited(r, "chat_chat_ip", r->ip, chat_chats_per_ip, CHAT_LIMIT_WINDOW_S, "new chats from this address");
}

bool chat_limit_message(struct http_req *r, const char *visitor_id)
{
	return limited(r, "chat_message_visitor", visitor_id, CHAT_MESSAGES_PER_MINUTE, 60, "messages");
}

bool chat_limit_mail(struct http_req *r)
{
	return limited(r, "chat_mail_ip", r->ip, CHAT_MAILS_PER_HOUR, 3600, "e-mails from this address");
}

bool chat_limit_mark(struct http_req *r, const char *visitor_id)
{
	return limited(r, "chat_mark_visitor", visitor_id, CHAT_MARKS_PER_MINUTE, 60, "typing and read marks");
}
