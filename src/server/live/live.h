/*
 * The console's live stream: GET /api/v1/events (Server-Sent Events). One
 * stream per console tab carries what changes in the account as it
 * happens: "screen" events (status, heartbeats, instruction results) for
 * every user, and "audit" events for admins. It waits in the wake hub on
 * "account:<id>" and ends as soon as its session or token is revoked.
 * The event id is "<audit seq>.<screen change seq>", so a reconnecting
 * browser (Last-Event-ID) resumes exactly where it was.
 */
#ifndef VITRINE_LIVE_H
#define VITRINE_LIVE_H

struct http_req;

int live_handle_events(struct http_req *r);

#endif
