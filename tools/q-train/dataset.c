/* dataset.c: how q-train maps item ids into a dataset (a vocabulary offline, the model's table online), the held-out split, the warm-up requests. */
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

int
is_holdout(const struct trans *t, double holdout)
{
	return holdout > 0 && (double)(t->key % 100000) < holdout * 100000;
}

/* Pages in episode order: by mdp_id's hash, then seq (qsort has no argument: the dataset is here). */
static const struct dataset *ep_ds;
static int
ep_cmp(const void *a, const void *b)
{
	const struct trans *x = &ep_ds->t[*(const size_t *)a], *y = &ep_ds->t[*(const size_t *)b];
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return *(const size_t *)a < *(const size_t *)b ? -1 : *(const size_t *)a > *(const size_t *)b;
}

/* Sorts the n indices ord of ds's pages into episode order. */
void
episode_sort(const struct dataset *ds, size_t *ord, size_t n)
{
	ep_ds = ds;
	qsort(ord, n, sizeof *ord, ep_cmp);
}

/* Builds the warm-up requests from a few transitions. malloc'd, *len set. */
char *
build_warmup(const struct dataset *ds, struct emb *dict, long warmup, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = xmalloc(cap);
	size_t step = ds->n / (size_t)(warmup ? warmup : 1) + 1;
	long made = 0;
	for (size_t k = 0; k < ds->n && made < warmup; k += step, made++) {
		const struct trans *t = &ds->t[k];
		json_t *o = json_object(), *h = json_array(), *cands = json_array();
		char rid[32];
		snprintf(rid, sizeof rid, "warmup-%ld", made);
		json_object_set_new(o, "request_id", json_string(rid));
		json_object_set_new(o, "user_id", json_string("warmup"));
		for (uint32_t i = 0; i < t->nhist; i++) {
			size_t l;
			const char *id = emb_id(dict, ds->ids[t->hist + i], &l);
			json_array_append_new(h, json_stringn(id, l));
		}
		json_object_set_new(o, "hist", h);
		json_object_set_new(o, "context", jsonx_floats(ds->fl + t->ctx, ds->C));
		for (uint32_t i = 0; i < t->nact; i++) {
			const struct item *it = &ds->it[t->act + i];
			json_t *c = json_object();
			size_t l;
			const char *id = emb_id(dict, it->id, &l);
			json_object_set_new(c, "item_id", json_stringn(id, l));
			json_object_set_new(c, "features", jsonx_floats(ds->X ? ds->fl + it->feat : NULL, ds->X));
			json_array_append_new(cands, c);
		}
		json_object_set_new(o, "candidates", cands);
		json_object_set_new(o, "k", json_integer(t->nact));
		size_t l;
		char *s = jsonx_dump(o, &l);
		json_decref(o);
		while (n + l + 2 > cap)
			cap *= 2;
		buf = xrealloc(buf, cap);
		memcpy(buf + n, s, l);
		n += l;
		buf[n++] = '\n';
		free(s);
	}
	*len = n;
	return buf;
}
