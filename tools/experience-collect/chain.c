/* chain.c: experience-collect's chaining — what the watermark decides, session by session, and early closes. */
#include "diag.h"
#include "heap.h"
#include "stats.h"

#include "chain.h"
#include "ec.h"
#include "emit.h"
#include "session.h"

/*
 * Emits every transition of s that the watermark decides (all of them when
 * force names the end of an early close), then frees s when no page is left.
 */
void
session_progress(struct session *s, enum chain_end force)
{
	struct page *p0, *p1;
	int64_t w = wm_of(s);

	while ((p0 = session_first(s)) != NULL) {
		p1 = session_second(s);
		if (force == END_NONE) {
			if (w < sat_add(p0->ts, C.grace))
				break;
			if (!(p1 && w >= sat_add(p1->ts, C.grace)) &&
			    w < sat_add(sat_add(p0->ts, C.gap), C.grace))
				break;
		}
		emit_first(s, force == END_NONE ? END_SESSION_GAP : force);
	}
	if (s->pages.n == 0)
		session_free(s);
	else
		session_rewake(s);
}

/* Runs the sessions of h whose wake-up time its watermark *now, set to w, has reached. */
static void
advance_heap(struct heap *h, int64_t *now, int64_t w)
{
	struct session *s;

	if (w < *now)
		w = *now;
	if (w == *now && ((s = heap_top(h)) == NULL || s->wake > w))
		return;
	*now = w;
	while ((s = heap_top(h)) != NULL && s->wake <= w)
		session_progress(s, END_NONE);
}

/*
 * Runs every session whose wake-up time its watermark has reached. The
 * sessions of a Kafka partition go by the event time of that partition
 * alone (once it is idle, by that of all), so that what a partition yields
 * does not depend on which other partitions its reader holds.
 */
void
advance(void)
{
	size_t i;

	advance_heap(&C.heap, &C.wm_now, watermark_get(C.wm));
	for (i = 0; i < C.nparts; i++)
		if (C.parts[i].active)
			advance_heap(&C.parts[i].heap, &C.parts[i].wm_now,
			    watermark_get_part(C.wm, C.parts[i].partition));
}

/* Writes the first open page of s early, chained to the next, to honour --max-pages. */
void
evict_page(struct session *s)
{
	(*C.n_evicted_pages)++;
	emit_first(s, END_EVICTED);
}

/* Closes the least recently fed session early, emitting what it holds. */
void
evict_one(void)
{
	struct session *s = C.lru_head;

	diag_info(2, "evicting session %s/%s", session_user(s), session_id(s));
	(*C.n_evicted)++;
	session_progress(s, END_EVICTED);
}

/*
 * On a silent Kafka input: once no sample has come for idle_close ms (wall
 * clock) while sessions are open, closes every one, its pages written with
 * the end "idle", and counts it; the watermark stays. Sessions rebuilt from
 * a replay not read to its end wait. 0 never closes.
 */
void
close_quiet(int64_t idle_close)
{
	struct session *s, *nx;
	int closed = 0;

	if (idle_close <= 0 || C.lru_head == NULL || watermark_quiet_ms(C.wm) < idle_close)
		return;
	for (s = C.lru_head; s; s = nx) {
		nx = s->lru_next;
		if (s->frozen)
			continue;
		session_progress(s, END_IDLE);
		closed = 1;
	}
	if (closed)
		(*C.n_idle_close)++;
}

/* Closes every open session at the end of input. */
void
flush_all(void)
{
	while (C.lru_head)
		session_progress(C.lru_head, END_EOF);
}
