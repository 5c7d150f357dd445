/*
 * Live chat for web sites, the server's part (issue 11, the text core).
 * One file per concern, each below the ones that use it (no two files call
 * each other):
 *
 *   text.c         the checks of typed text (messages, other fields)
 *   sites.c        sites and their domains (admin), the Origin rule
 *   tokens.c       the visitor tokens (HMAC-SHA256 with the site's key)
 *   widget.c       what every widget request goes through: the site, the
 *                  Origin check, CORS, the visitor token; widget.js and the
 *                  chat frame page (CSP frame-ancestors)
 *   visitors.c     POST /api/v1/widget/{site}/visitor
 *   bans.c         bans of a visitor id or an IP address, with expiry
 *   events.c       the stored events: a chat's sequence, an operator's
 *                  sequence, typing marks (never sequenced); wake-ups
 *   presence.c     in memory: which operators hold a stream open
 *   dispatch.c     queue positions, auto-assignment (one dispatcher per
 *                  department: the store's write lock serialises it),
 *                  requeue, the sweeper (presence timeouts, reassign)
 *   departments.c  departments, their operators, capacity and status
 *   chats.c        what happens in a chat (messages, typing, read, end,
 *                  pickup, transfer, redirect) and the operator's routes
 *   widget_chats.c the visitor's chat routes
 *   canned.c       predefined texts (admin), the console's /shortcuts
 *   forms.c        forms (admin), pushed into a chat, answered by the visitor
 *   transcript.c   the e-mailed transcript a visitor asks for (mail/)
 *   offline.c      messages left while no operator is online (mailed to
 *                  the department's offline_email), their list
 *   calls.c        audio/video calls: WebRTC signalling through the chat,
 *                  the ICE servers (STUN, TURN with REST credentials)
 *   campaigns.c    proactive invitations (admin), the widget's list of
 *                  them and their outcomes
 *   reports.c      reports (volumes, waiting, handling, missed; by day,
 *                  department, operator; CSV) and the search of chats
 *   streams.c      the two SSE streams (visitor, operator) with resume
 *
 * Every change is stored first (inside the request's write transaction)
 * and then wakes the streams through the wake hub (db_notifyf after
 * commit): keys "chat:<chat id>" (the visitor's stream) and
 * "chatop:<user id>" (an operator's stream).
 */
#ifndef VITRINE_CHAT_H
#define VITRINE_CHAT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../common/codes.h"

struct http_req;
struct db;

#define CHAT_TEXT_MAX_CHARS     4000 /* characters of a message */
#define CHAT_FIELD_MAX_CHARS    2000 /* page_url, title, referrer */
#define CHAT_NAME_MAX_CHARS     100
#define CHAT_NOTE_MAX_CHARS     1000
#define CHAT_CAPACITY_DEFAULT   3
#define CHAT_PRESENCE_GRACE_S   60 /* no operator stream for longer: presence ends */
#define CHAT_MAX_DOMAINS        50
#define CHAT_MAX_OPEN_PER_VISIT 3 /* open chats of one visitor at once */
#define CHAT_STREAM_BATCH       200

/* codes_is_id that takes NULL (a missing JSON field) as "not an id". */
static inline bool chat_is_id(const char *s)
{
	return s && codes_is_id(s);
}

/* --- text.c --- */
/* Checks a message text: a string of 1..CHAT_TEXT_MAX_CHARS characters.
 * Returns NULL or the sentence of the 400. */
const char *chat_text_problem(json_t *text);
/* Checks a text field j: a string of valid UTF-8 of min_chars..max_chars
 * characters without control characters (lines: newlines and tabs
 * allowed). On failure why gets "<name> must be ..." for the 400. */
bool chat_field_ok(json_t *j, const char *name, long min_chars, long max_chars, bool lines, char *why, size_t whysz);

/* --- sites.c --- */
struct chat_site {
	char id[CODES_ID_LEN + 1];
	char account_id[CODES_ID_LEN + 1];
	char name[256];
	char key[65];    /* hex of the token key */
	json_t *domains; /* owned: array of strings */
};
/* Loads a site; false when there is none (or on a store error). Free
 * with chat_site_free. */
bool chat_site_load(struct db *db, const char *id, struct chat_site *out);
void chat_site_free(struct chat_site *s);
/* True when origin ("scheme://host[:port]") names one of the site's
 * domains ("host" matches any port, "host:port" that port only). */
bool chat_site_origin_allowed(const struct chat_site *s, const char *origin);
int chat_handle_sites_list(struct http_req *r);
int chat_handle_site_create(struct http_req *r);
int chat_handle_site_get(struct http_req *r);
int chat_handle_site_update(struct http_req *r);
int chat_handle_site_delete(struct http_req *r);

/* --- tokens.c --- */
#define CHAT_TOKEN_LEN 128

/* "vv_<site id>.<visitor id>.<hex HMAC>" */
int chat_token_make(const struct chat_site *s, const char *visitor_id, char out[CHAT_TOKEN_LEN]);
/* True when token is a token of site s; visitor_out gets its visitor id. */
bool chat_token_check(const struct chat_site *s, const char *token, char visitor_out[CODES_ID_LEN + 1]);
/* A fresh token key (hex of 32 random bytes). */
void chat_token_new_key(char out[65]);

/* --- widget.c --- */
struct chat_widget {
	struct chat_site site;
	char origin[256];
	char visitor_id[CODES_ID_LEN + 1]; /* "" until chat_widget_visitor */
};
/* Loads the site of the path's {site}, checks Origin (403
 * origin_not_allowed) and, when need_token, the visitor token (401). On
 * failure it has replied (with CORS headers when the origin is allowed) and
 * returns false; on success w must be released with chat_widget_done,
 * which also adds the CORS headers to whatever reply was set. */
bool chat_widget_begin(struct http_req *r, struct chat_widget *w, bool need_token);
void chat_widget_done(struct http_req *r, struct chat_widget *w);
int chat_handle_widget_preflight(struct http_req *r);
int chat_handle_widget_js(struct http_req *r);
int chat_handle_frame(struct http_req *r);
int chat_handle_frame_asset(struct http_req *r);

/* --- visitors.c --- */
int chat_handle_visitor(struct http_req *r);
/* The visitor as operators see it: page, title, referrer, first seen, ip,
 * previous chats. NULL when unknown. */
json_t *chat_visitor_json(struct db *db, const char *visitor_id, const char *except_chat);

/* --- bans.c --- */
/* True when visitor_id or ip is banned in account_id at now. */
bool chat_banned(struct db *db, const char *account_id, const char *visitor_id, const char *ip, int64_t now);
int chat_handle_bans_list(struct http_req *r);
int chat_handle_ban_create(struct http_req *r);
int chat_handle_ban_delete(struct http_req *r);

/* --- events.c --- */
/* The event types shown in the conversation (their data carry "seq"):
 * message, form, form_answer, redirect. */
bool chat_in_conversation(const char *type);
/* Appends an event to a chat's sequence (data stolen); *seq_out gets its
 * seq. client_id (or NULL) with sender makes it idempotent: a second
 * append with the same pair returns the first's seq and *dup = true. */
int chat_event_append(struct db *db, const char *chat_id, const char *type, json_t *data, const char *sender,
                      const char *client_id, int64_t *seq_out, bool *dup);
/* Appends an event to an operator's stream (data stolen). */
int chat_op_event(struct db *db, const char *user_id, const char *type, json_t *data);
/* A typing mark for target "chat:<id>" or "op:<user id>" (data stolen). */
int chat_typing_mark(struct db *db, const char *target, json_t *data);
/* The display name of a user (name, else login). */
void chat_user_name(struct db *db, const char *user_id, char *out, size_t outsz);
/* The chat as operators see it (no messages). NULL when unknown. */
json_t *chat_chat_json(struct db *db, const char *chat_id);
/* Makes sure user_id has a chat_operators row. */
int chat_operator_row(struct db *db, const char *user_id);

/* --- presence.c --- */
void chat_presence_open(const char *user_id);
void chat_presence_close(const char *user_id);
/* Counts as "seen now" (status set online, a pickup). */
void chat_presence_touch(const char *user_id);
/* A stream is open, or one was open (or touched) within the grace. */
bool chat_presence_here(const char *user_id, int64_t now_ms);

/* --- dispatch.c --- */
/* Recomputes the queue positions of department_id (position events to the
 * visitors whose position changed, queue events to its operators) and,
 * when the department auto-assigns, assigns its oldest queued chats to
 * the online, present operator with the fewest active chats below their
 * capacity, until no chat or no operator is left. */
int chat_dispatch(struct db *db, const char *department_id);
/* Assigns a queued chat to user_id (pickup, transfer): false when it is
 * not queued any more (already_assigned). */
bool chat_assign(struct db *db, const char *chat_id, const char *user_id, const char *how);
/* Puts a chat back at the head of its department's queue (reason:
 * "offline", "no_reply"), telling the operator it was taken from. */
int chat_requeue(struct db *db, const char *chat_id, const char *reason);
/* Requeues every active chat of user_id (their presence ended). */
int chat_requeue_operator(struct db *db, const char *user_id, const char *reason);
/* A "queue" event with the chat as it is now to every operator of
 * department_id (a chat left the queue, or came into it). */
int chat_tell_department(struct db *db, const char *department_id, const char *chat_id);
/* Dispatches every department of user_id. */
int chat_dispatch_operator(struct db *db, const char *user_id);
/* Starts the sweeper (once; later calls do nothing) on the store of
 * data_dir: every second it requeues the chats of operators whose presence
 * ended and the chats waiting longer than their department's
 * reassign_after_s, and dispatches auto-assigning queues. The chat routes
 * start it; chat_sweeper_stop (for the server's shutdown) ends it. */
void chat_sweeper_start(const char *data_dir);
void chat_sweeper_stop(void);
/* One sweep at now (tests, the sweeper). */
int chat_sweep_once(struct db *db, int64_t now);

/* --- departments.c --- */
int chat_handle_departments_list(struct http_req *r);
int chat_handle_department_create(struct http_req *r);
int chat_handle_department_update(struct http_req *r);
int chat_handle_department_delete(struct http_req *r);
int chat_handle_department_operators(struct http_req *r);
int chat_handle_operator_update(struct http_req *r);
int chat_handle_my_status(struct http_req *r);
/* The departments of a site for its visitors: id, name, online. */
json_t *chat_site_departments(struct db *db, const char *site_id);

/* --- chats.c --- */
enum chat_side { CHAT_VISITOR, CHAT_OPERATOR };
/* A message from side (user_id for the operator) into chat_id: stored
 * (idempotent by client_id), delivered to the other side. Replies 201
 * {"seq"} or an error. */
int chat_post_message(struct http_req *r, const char *chat_id, enum chat_side side, const char *user_id);
int chat_post_typing(struct http_req *r, const char *chat_id, enum chat_side side);
int chat_post_read(struct http_req *r, const char *chat_id, enum chat_side side);
/* Ends a chat (by "visitor", "operator" or "ban"); false when it had
 * already ended. */
bool chat_end(struct db *db, const char *chat_id, const char *by);
int chat_handle_list(struct http_req *r);
int chat_handle_get(struct http_req *r);
int chat_handle_pickup(struct http_req *r);
int chat_handle_op_message(struct http_req *r);
int chat_handle_op_typing(struct http_req *r);
int chat_handle_op_read(struct http_req *r);
int chat_handle_transfer(struct http_req *r);
int chat_handle_op_end(struct http_req *r);
int chat_handle_op_form(struct http_req *r);
int chat_handle_op_redirect(struct http_req *r);

/* --- widget_chats.c --- */
int chat_handle_widget_chat_create(struct http_req *r);
int chat_handle_widget_message(struct http_req *r);
int chat_handle_widget_typing(struct http_req *r);
int chat_handle_widget_read(struct http_req *r);
int chat_handle_widget_end(struct http_req *r);
int chat_handle_widget_form_answer(struct http_req *r);

/* --- canned.c --- */
int chat_handle_canned_list(struct http_req *r);
int chat_handle_canned_create(struct http_req *r);
int chat_handle_canned_update(struct http_req *r);
int chat_handle_canned_delete(struct http_req *r);

/* --- forms.c --- */
int chat_handle_forms_list(struct http_req *r);
int chat_handle_form_create(struct http_req *r);
int chat_handle_form_update(struct http_req *r);
int chat_handle_form_delete(struct http_req *r);
/* Pushes the body's form_id into chat_id (an active chat of the caller's):
 * a "form" event; replies 201 {"form"} or an error. */
int chat_push_form(struct http_req *r, const char *chat_id);
/* The visitor's answers to push_id of chat_id: checked, stored, a
 * "form_answer" event (and one to operator_id's stream); replies. */
int chat_answer_form(struct http_req *r, const char *chat_id, const char *push_id, const char *operator_id);

/* --- streams.c --- */
int chat_handle_widget_events(struct http_req *r);
int chat_handle_operator_stream(struct http_req *r);

/* --- limits.c --- */
/* Rate limits of the widget routes: each returns true when the request is
 * over its limit and has been answered 429 too_many_requests. */
#define CHAT_LIMIT_WINDOW_S      600                     /* new visitors and new chats per address */
#define CHAT_MESSAGES_PER_MINUTE 60                      /* per visitor */
#define CHAT_MARKS_PER_MINUTE    240                     /* typing and read marks per visitor */
#define CHAT_MAILS_PER_HOUR      10                      /* transcripts and offline messages per address */
extern unsigned chat_visitors_per_ip, chat_chats_per_ip; /* settings, per CHAT_LIMIT_WINDOW_S */
bool chat_limit_new_visitor(struct http_req *r);
bool chat_limit_new_chat(struct http_req *r);
bool chat_limit_message(struct http_req *r, const char *visitor_id);
bool chat_limit_mark(struct http_req *r, const char *visitor_id);
bool chat_limit_mail(struct http_req *r);

/* --- calls.c --- */
struct chat_call_settings {
	char stun_urls[1024];  /* "stun:host:port, ..." */
	char turn_urls[1024];  /* "turn:host:port?transport=udp, ..." */
	char turn_secret[256]; /* coturn's static-auth-secret */
	unsigned turn_ttl_s;   /* lifetime of a TURN credential */
	bool relay_only;       /* browsers use TURN relays only */
};
extern struct chat_call_settings chat_call_settings;
/* Checks and takes the webrtc_* settings; -1 with a sentence in err. */
int chat_calls_configure(const char *stun, const char *turn, const char *secret, unsigned ttl_s, bool relay_only,
                         char *err, size_t errsz);
/* The TURN REST credential of username: base64(HMAC-SHA1(secret, username)). */
void chat_call_turn_credential(const char *secret, const char *username, char *out, size_t outsz);
/* POST .../call of side in chat_id (the caller checked it is theirs): one
 * signalling step, stored and delivered to both streams; replies. */
int chat_call_signal(struct http_req *r, const char *chat_id, enum chat_side side);
/* Ends the chat's call in progress, if any, telling both sides why. */
int chat_calls_end(struct db *db, const char *chat_id, const char *operator_id, const char *reason);
/* {"calls": "off"|"audio"|"video", "calls_off": bool} of a chat. */
json_t *chat_call_state(struct db *db, const char *chat_id);
int chat_handle_widget_call(struct http_req *r);
int chat_handle_op_call(struct http_req *r);

/* --- campaigns.c --- */
int chat_handle_campaigns_list(struct http_req *r);
int chat_handle_campaign_create(struct http_req *r);
int chat_handle_campaign_update(struct http_req *r);
int chat_handle_campaign_delete(struct http_req *r);
/* The widget's GET .../campaigns and POST .../campaigns/{id}/{outcome}. */
int chat_campaigns_for_site(struct http_req *r, const struct chat_widget *w);
int chat_campaign_outcome(struct http_req *r, const struct chat_widget *w);
int chat_handle_widget_campaigns(struct http_req *r);
int chat_handle_widget_campaign_outcome(struct http_req *r);

/* --- reports.c --- */
int chat_handle_reports(struct http_req *r);
int chat_handle_search(struct http_req *r);

/* --- transcript.c --- */
struct buf;
/* The conversation as plain text, times at tz_min minutes from UTC. */
int chat_transcript_text(struct db *db, const char *chat_id, const char *site_name, int tz_min, struct buf *b);
/* Queues the transcript of the widget's chat chat_id to the body's email;
 * replies 202, or the error. */
int chat_send_transcript(struct http_req *r, const struct chat_widget *w, const char *chat_id);
int chat_handle_widget_transcript(struct http_req *r);

/* --- offline.c --- */
/* The widget's offline form: stores (and mails) the message; replies. */
int chat_leave_offline_message(struct http_req *r, const struct chat_widget *w);
int chat_handle_widget_offline(struct http_req *r);
int chat_handle_offline_list(struct http_req *r);
int chat_handle_offline_update(struct http_req *r);

#endif
