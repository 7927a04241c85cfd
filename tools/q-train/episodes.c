/* episodes.c: q-train --online --lambda — the pages of unfinished episodes, kept until each ends, then learned in order. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "diag.h"
#include "hash.h"
#include "jsonx.h"
#include "model.h"
#include "qnet.h"
#include "sig.h"
#include "stats.h"
#include "toolio.h"
#include "xalloc.h"
#include "qtrain.h"

struct episode *
ep_find(struct episodes *es, uint64_t key, int add)
{
	if (key == 0)
		key = 1;
	if (add && 2 * (es->n + 1) > es->cap) {
		struct episodes ne = *es;

		ne.cap = es->cap ? 2 * es->cap : 64;
		ne.slot = xcalloc(ne.cap, sizeof *ne.slot);
		ne.n = 0;
		for (size_t i = 0; i < es->cap; i++)
			if (es->slot[i].key) {
				size_t j = es->slot[i].key & (ne.cap - 1);
				while (ne.slot[j].key)
					j = (j + 1) & (ne.cap - 1);
				ne.slot[j] = es->slot[i];
				ne.n++;
			}
		free(es->slot);
		*es = ne;
	}
	if (es->cap == 0)
		return NULL;
	size_t j = key & (es->cap - 1);
	while (es->slot[j].key && es->slot[j].key != key)
		j = (j + 1) & (es->cap - 1);
	if (es->slot[j].key == key)
		return &es->slot[j];
	if (!add)
		return NULL;
	memset(&es->slot[j], 0, sizeof es->slot[j]);
	es->slot[j].key = key;
	es->n++;
	return &es->slot[j];
}

static void
ep_remove(struct episodes *es, struct episode *e)
{
	for (uint32_t i = 0; i < e->n; i++)
		free(e->lines[i]);
	es->pages -= e->n;
	free(e->lines);
	free(e->lens);
	free(e->at);
	size_t i = (size_t)(e - es->slot), j = i;
	memset(e, 0, sizeof *e);
	es->n--;
	for (;;) {
		j = (j + 1) & (es->cap - 1);
		if (!es->slot[j].key)
			return;
		size_t h = es->slot[j].key & (es->cap - 1);
		/* the entry at j may move to the hole at i when its home h is not in (i, j] */
		if ((j > i && (h <= i || h > j)) || (j < i && (h <= i && h > j))) {
			es->slot[i] = es->slot[j];
			memset(&es->slot[j], 0, sizeof es->slot[j]);
			i = j;
		}
	}
}

void
ep_push(struct episodes *es, struct episode *e, const struct line *ln, const struct positions *ps, int64_t ts)
{
	if (e->n == e->cap) {
		e->cap = e->cap ? 2 * e->cap : 8;
		e->lines = xreallocarray(e->lines, e->cap, sizeof *e->lines);
		e->lens = xreallocarray(e->lens, e->cap, sizeof *e->lens);
		e->at = xreallocarray(e->at, e->cap, sizeof *e->at);
	}
	e->lines[e->n] = xmalloc(ln->len + 1);
	memcpy(e->lines[e->n], ln->buf, ln->len);
	e->lines[e->n][ln->len] = 0;
	e->lens[e->n] = ln->len;
	e->at[e->n] = (struct model_input_pos){ .topic = NULL, .partition = ln->partition, .offset = ln->offset };
	for (size_t i = 0; ln->topic && i < ps->n; i++)
		if (ps->p[i].partition == ln->partition && strcmp(ps->p[i].topic, ln->topic) == 0)
			e->at[e->n].topic = ps->p[i].topic;
	e->n++;
	es->pages++;
	e->last_seen = es->seen++;
	if (e->n == 1)
		e->last_ts = -1;
	if (ts >= 0 && ts > e->last_ts)
		e->last_ts = ts;
}

/*
 * Keeps the table within --max-episodes and --episode-timeout: an episode
 * whose newest page is older in event time than the timeout before the
 * newest page kept, and, while more than the maximum are open, the ones
 * extended least recently, are learned as far as they go (their last page
 * bootstrapped, as at the end of the input) and dropped, each counted in
 * episodes_evicted. Ages are checked every 1024 pages kept. Returns how many
 * were evicted. pc->ds is overwritten.
 */
size_t
ep_evict(struct learner *lr, struct parse_ctx *pc, struct episodes *es, long sync)
{
	const struct qt_opts *o = lr->o;
	size_t evicted = 0, i;
	double l;

	if (o->episode_timeout_ms > 0 && es->newest_ts >= 0 && es->seen % 1024 == 0)
		for (i = 0; i < es->cap;) {
			struct episode *e = &es->slot[i];
			if (e->key && e->last_ts >= 0 && e->last_ts < es->newest_ts - o->episode_timeout_ms) {
				ep_learn(lr, pc, es, e, sync, &l);	/* slot i may now hold another: look again */
				evicted++;
			} else {
				i++;
			}
		}
	while (o->max_episodes > 0 && es->n > (size_t)o->max_episodes) {
		/* the oldest eighth of the recency range goes, so that this runs once in many pages */
		uint64_t oldest = UINT64_MAX, cut;
		for (i = 0; i < es->cap; i++)
			if (es->slot[i].key && es->slot[i].last_seen < oldest)
				oldest = es->slot[i].last_seen;
		cut = oldest + (es->seen - oldest) / 8;
		for (i = 0; i < es->cap;) {
			struct episode *e = &es->slot[i];
			if (e->key && e->last_seen <= cut) {
				ep_learn(lr, pc, es, e, sync, &l);
				evicted++;
			} else {
				i++;
			}
		}
	}
	*n_evicted += evicted;
	return evicted;
}

/*
 * The input a version covers while pages are kept: for each partition, the
 * position read so far, or the first kept page's when one is kept (a restart
 * reads the kept pages again; the learned ones after them are learned twice,
 * none is skipped).
 */
void
positions_kept(struct positions *dst, const struct positions *read, const struct episodes *es)
{
	positions_copy(dst, read);
	for (size_t k = 0; k < es->cap; k++)
		for (uint32_t j = 0; j < es->slot[k].n; j++) {
			const struct model_input_pos *a = &es->slot[k].at[j];
			for (size_t i = 0; a->topic && i < dst->n; i++)
				if (dst->p[i].partition == a->partition && strcmp(dst->p[i].topic, a->topic) == 0 &&
				    a->offset < dst->p[i].offset)
					dst->p[i].offset = a->offset;
		}
}

/*
 * Learns the buffered pages of e (then dropped from es): reads them again
 * into ds, orders them by seq, computes each page's future backwards (the
 * target heads' value of the next page mixed with the return observed after
 * it; the last page's future is bootstrapped unless it is done) and takes
 * one AdaGrad step per page, in order. Returns the pages learned; *loss
 * gets their loss sum.
 */
size_t
ep_learn(struct learner *lr, struct parse_ctx *pc, struct episodes *es, struct episode *e,
    long sync, double *loss)
{
	struct dataset *ds = pc->ds;
	size_t n = 0;
	ds->n = ds->nids = ds->nfl = ds->nit = 0;
	/* counted when first read */
	struct parse_ctx again = *pc;
	again.unknown = again.feature_rows = NULL;
	for (uint32_t i = 0; i < e->n; i++)
		(void)parse_transition(&again, e->lines[i], e->lens[i]);
	ep_remove(es, e);
	if (ds->n == 0)
		return 0;
	size_t *ord = xcalloc(ds->n, sizeof *ord), maxact = 0;
	float *F = xcalloc(ds->n, sizeof *F);
	for (size_t k = 0; k < ds->n; k++) {
		ord[k] = k;
		if (ds->t[k].nact > maxact)
			maxact = ds->t[k].nact;
		if (ds->t[k].nact2 > maxact)
			maxact = ds->t[k].nact2;
	}
	learner_scratch(lr, maxact);
	episode_sort(ds, ord, ds->n);
	float G = 0;
	for (size_t j = ds->n; j-- > 0;) {
		const struct trans *t = &ds->t[ord[j]];
		float f = 0, R = 0;
		if (!t->done && t->ctx2 != NO_NEXT) {
			f = next_value(lr, ds, t, NULL);
			if (j + 1 < ds->n && ds->t[ord[j + 1]].seq == t->seq + 1 && !ds->t[ord[j + 1]].truncated)
				f = (float)((1 - lr->o->lambda) * f + lr->o->lambda * G);
		}
		F[ord[j]] = f;
		for (uint32_t i = 0; i < t->nact; i++)
			R += ds->it[t->act + i].r;
		G = R + (float)lr->o->gamma * f;
	}
	*loss = 0;
	for (size_t j = 0; j < ds->n; j++) {
		const struct trans *t = &ds->t[ord[j]];
		if (t->truncated)
			continue;
		forward_state(lr, ds, t, 0);
		double l = online_page(lr, ds, t, F[ord[j]]);
		if (l >= 0) {
			*loss += l;
			n++;
		}
		(*n_updates)++;
		if (++lr->steps % (uint64_t)sync == 0)
			qnet_copy_params(lr->tgt, lr->net, QNET_RANGE_HEADS);
	}
	free(ord);
	free(F);
	return n;
}
