/* chain.h: experience-collect's chaining — sessions progress as the watermark decides, or are closed early. */
#ifndef EC_CHAIN_H
#define EC_CHAIN_H

#include "ec.h"

/*
 * Emits every transition of s that the watermark decides (all of them when
 * force names the end of an early close), then frees s when no page is left.
 */
void session_progress(struct session *s, enum chain_end force);
/* Runs every session whose wake-up time its watermark has reached. */
void advance(void);
/* Closes the least recently fed session early, emitting what it holds. */
void evict_one(void);
/*
 * Writes the first open page of s early, chained to the next one (or, with
 * none, ended "evicted"), to honour --max-pages; counts it.
 */
void evict_page(struct session *s);
/*
 * On a silent Kafka input: once no sample has come for idle_close ms (wall
 * clock), closes every open session (end "idle") but those a replay still
 * rebuilds, and counts it; 0 never closes.
 */
void close_quiet(int64_t idle_close);
/* Closes every open session at the end of input. */
void flush_all(void);

#endif
