/* evaluate.c: q-train --evaluate — a version's losses and ranking quality on transitions. */
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

/* AUC of scores s against labels y among n items; -1 when one class is missing. */
double
auc(const float *s, const uint8_t *y, size_t n)
{
	double pairs = 0, good = 0;
	for (size_t i = 0; i < n; i++) {
		if (!y[i])
			continue;
		for (size_t j = 0; j < n; j++) {
			if (y[j])
				continue;
			pairs++;
			good += s[i] > s[j] ? 1 : s[i] == s[j] ? 0.5 : 0;
		}
	}
	return pairs ? good / pairs : -1;
}

int
run_evaluate(const struct qt_opts *opt)
{
	char err[512];
	struct model *m = load_newest(opt->modeldir);
	if (!m)
		return 1;
	struct learner lr;
	memset(&lr, 0, sizeof lr);
	learner_init(&lr, m->net, opt);
	lr.emb = m->emb;
	struct dataset ds;
	memset(&ds, 0, sizeof ds);
	ds.C = m->net->dm.C;
	ds.X = m->net->dm.X;
	ds.C_set = ds.X_set = 1;
	struct parse_ctx pc = model_parse_ctx(opt, &ds, m, err, sizeof err);
	struct line ln;
	int rv;
	double gs = 0;
	uint64_t np = 0, n = 0;
	float *sc = NULL;
	uint8_t *yl = NULL;
	while ((rv = tool_io_next(io, &ln)) != 0) {
		if (rv != 1)
			continue;
		ds.n = ds.nids = ds.nfl = ds.nit = 0;
		if (ln.too_long || parse_transition(&pc, ln.buf, ln.len) < 0) {
			tool_io_reject(io, &ln, "%s", ln.too_long ? "line too long" : err);
			continue;
		}
		const struct trans *t = &ds.t[0];
		sc = xreallocarray(sc, t->nact, sizeof *sc);
		yl = xreallocarray(yl, t->nact, 1);
		forward_state(&lr, &ds, t, 0);
		double a = page_auc(&lr, &ds, t, sc, yl);
		if (a >= 0) {
			gs += a;
			np++;
		}
		n++;
		tool_io_done(io, &ln);
	}
	json_t *o = json_object();
	json_object_set_new(o, "model_version", json_integer(m->version));
	json_object_set_new(o, "transitions", json_integer((json_int_t)n));
	json_object_set_new(o, "gauc", np ? json_real(round(gs / (double)np * 1e4) / 1e4) : json_null());
	json_object_set_new(o, "unknown", json_integer((json_int_t)*n_unknown));
	tool_io_emit(io, NULL, o);
	json_decref(o);
	free(sc);
	free(yl);
	lr.net = NULL;
	learner_free(&lr);
	dataset_free(&ds);
	model_free(m);
	return 0;
}
