/* fuzz_transition.c: libFuzzer target — transition lines through q-train's parser into a dataset (online, with feature rows or not), then the warm-up requests built from it. */
/* fuzz-dict: records.dict */
/* fuzz-sources: tools/q-train/transition.c tools/q-train/dataset.c */
/* fuzz-cflags: -Itools/q-train */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "fuzz.h"

#include "model.h"
#include "qtrain.h"

static struct emb *known;	/* the embeddings of online mode */
static uint64_t unknown, feature_rows;
static unsigned long long n_read, n_refused;

/* Every offset of t lies within ds's pools (a row built from features, frow_d floats). */
static void
check_trans(const struct dataset *ds, const struct trans *t, uint32_t rows, uint32_t frow_d)
{
	uint32_t i;

	if ((size_t)t->hist + t->nhist > ds->nids || (size_t)t->ctx + ds->C > ds->nfl ||
	    (size_t)t->act + t->nact > ds->nit || t->nact == 0)
		abort();
	if (t->ctx2 != NO_NEXT && ((size_t)t->hist2 + t->nhist2 > ds->nids || (size_t)t->ctx2 + ds->C > ds->nfl ||
	    (size_t)t->act2 + t->nact2 > ds->nit))
		abort();
	if (t->done != (t->terminal || t->truncated) || (t->terminal && t->truncated))
		abort();
	for (i = 0; i < t->nhist; i++)
		if (ds->ids[t->hist + i] >= rows)
			abort();
	for (i = 0; i < t->nact; i++) {
		const struct item *it = &ds->it[t->act + i];

		if (it->id >= rows || it->pos >= MAX_POS || (size_t)it->feat + ds->X > ds->nfl)
			abort();
		if (it->frow != NO_NEXT && (frow_d == 0 || it->id != 0 || (size_t)it->frow + frow_d > ds->nfl))
			abort();	/* only an item on the unknown row gets a row of its features */
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dataset ds = { 0 };
	struct vocab v = { 0 };
	struct parse_ctx pc = { 0 };
	const uint8_t *p = data;
	size_t left = size, i, len;
	struct line ln;
	char err[256], *warm, *s, *e;
	int online = size & 1;

	diag_verbosity = 0;
	if (known == NULL) {
		known = emb_new(2);
		emb_add(known, "i1", 2);
		emb_add(known, "i2", 2);
	}
	v.dict = emb_new(1);
	pc.ds = &ds;
	pc.map = online ? model_map : vocab_map;
	pc.arg = online ? (void *)known : (void *)&v;
	/* online against feature rows of width 2: items of two features get rows of them */
	pc.frow_d = online && (size & 2) ? 2 : 0;
	pc.unknown = online ? &unknown : NULL;
	pc.feature_rows = online ? &feature_rows : NULL;
	pc.seed = 1;
	pc.w_click = 1;
	pc.w_pay = 2;
	pc.err = err;
	pc.errlen = sizeof err;
	while (fuzz_next_line(&p, &left, &ln, -1)) {
		size_t nids = ds.nids, nfl = ds.nfl, nit = ds.nit, n = ds.n;

		err[0] = '\0';
		if (parse_transition(&pc, ln.buf, ln.len) == 0) {
			if (ds.n != n + 1)
				abort();
			n_read++;
			check_trans(&ds, &ds.t[n], emb_rows(online ? known : v.dict), pc.frow_d);
		} else if (n_refused++, err[0] == '\0' || ds.n != n || ds.nids != nids || ds.nfl != nfl || ds.nit != nit)
			abort();	/* a refusal says why and leaves the dataset as it was */
		free(ln.buf);
	}
	/* The warm-up requests q-train writes for q-score: JSON, one a line. */
	if (!online && ds.n > 0) {
		warm = build_warmup(&ds, v.dict, 4, &len);
		for (s = warm; s < warm + len; s = e + 1) {
			if ((e = memchr(s, '\n', (size_t)(warm + len - s))) == NULL)
				abort();
			fuzz_want_json(s, (size_t)(e - s), "a warm-up request");
		}
		free(warm);
	}
	for (i = 0; i < ds.n; i++)
		check_trans(&ds, &ds.t[i], emb_rows(online ? known : v.dict), pc.frow_d);
	dataset_free(&ds);
	emb_free(v.dict);
	free(v.count);
	if (getenv("FUZZ_VERBOSE") != NULL)
		fprintf(stderr, "%llu transitions read, %llu refused so far\n", n_read, n_refused);
	return 0;
}
