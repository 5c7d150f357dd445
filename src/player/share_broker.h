/*
 * The brokered share code of a display outside the private address ranges
 * (vitrine-player --share --share-address A, A not private): once the
 * screen is paired it asks the server for a code (POST
 * /api/v1/device/share-code with A and the receiver's command port), gives
 * it to the receiver, prints `SHARE CODE: DDD-DDD-DDD`, and renews it every
 * few hours (the server keeps the same code for the screen). Runs on the
 * transport's loop.
 */
#ifndef VITRINE_PLAYER_SHARE_BROKER_H
#define VITRINE_PLAYER_SHARE_BROKER_H

struct transport;
struct share_receiver;
struct share_broker;

/* NULL when the receiver needs no brokered code (or out of memory). */
struct share_broker *share_broker_create(struct transport *t, struct share_receiver *r);
void share_broker_destroy(struct share_broker *b);

/* The screen is paired (at start, after pairing or recovery): ask now. */
void share_broker_paired(struct share_broker *b);

#endif
