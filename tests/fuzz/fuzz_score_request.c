/* fuzz_score_request.c: libFuzzer target — a POST /v1/score body (one request or a batch) through q-score's parser and scorer. */
/* fuzz-dict: records.dict */
/* fuzz-sources: tools/q-score/*.c */
/* fuzz-cflags: -Itools/q-score -Dmain=q_score_main */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "fuzz.h"
#include "model.h"
#include "qnet.h"
#include "qscore.h"

#define MAX_BATCH 16

static struct qs_worker *w;
static struct model m;
static struct qs_counters counters;
static struct qs_config cf;
static unsigned long long n_scored, n_refused;

/* A small network and a few known items: enough for every path of the scorer. */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct qnet_dims dm = { .d = 4, .L = 3, .nkern = 2, .kw = { 1, 2 }, .F = 2, .C = 2, .X = 2, .H = 4 };
	static const char *const ids[] = { "i1", "i2", "i3", "i10", "item-\xc3\xa9" };
	size_t i;
	uint32_t k;

	(void)argc;
	(void)argv;
	diag_verbosity = 0;
	m.version = 7;
	m.net = qnet_new(&dm);
	qnet_init(m.net, 1);
	m.emb = emb_new(dm.d);
	for (i = 0; i < sizeof ids / sizeof ids[0]; i++) {
		float *row = emb_row_mut(m.emb, emb_add(m.emb, ids[i], strlen(ids[i])));
		for (k = 0; k < dm.d; k++)
			row[k] = (float)(i + 1) / (float)(k + 2);
	}
	w = qs_worker_new(1, 0);
	cf.seed = 1;
	cf.max_candidates = 64;
	cf.counters = &counters;
	cf.history = qs_hstore_memory(8, 3);
	cf.history->ops->click(cf.history->st, "u1", "r0", "i1");
	cf.history->ops->click(cf.history->st, "u1", "r0", "i2");
	return 0;
}

/* Scores one request into out (an error object when it fails), as the server does. */
static void
one(const char *buf, size_t len, struct jbuf *out)
{
	char id[257], err[320];

	if (qs_score_text(w, &cf, &m, buf, len, out, id, err, sizeof err) == 0)
		n_scored++;
	else {
		n_refused++;
		if (err[0] == '\0')
			abort();	/* every refusal says why */
		qs_error_response(out, id, err);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct jbuf out = { 0 };
	char err[320];
	size_t skip = 0;

	/* The exploration policy and k's default follow the size, so that every one is reached. */
	cf.explore.policy = (enum rank_policy)(size % 3);
	cf.explore.param = cf.explore.policy == RANK_EPSILON ? 0.3 : 0.5;
	cf.default_k = size % 5;
	while (skip < size && (buf[skip] == ' ' || buf[skip] == '\t' || buf[skip] == '\n' || buf[skip] == '\r'))
		skip++;
	if (skip < size && buf[skip] == '[') {
		size_t n, nerr;
		int r;

		err[0] = '\0';
		r = qs_score_batch(w, &cf, &m, buf, size, MAX_BATCH, &out, &n, &nerr, err, sizeof err);
		if (r < 0) {
			if (err[0] == '\0' || out.len != 0)
				abort();	/* a refused batch says why and answers nothing */
			goto done;
		}
		if (nerr > n || n > MAX_BATCH)
			abort();
		n_scored += n - nerr;
		n_refused += nerr;
	} else
		one(buf, size, &out);
	/* Whatever the request, the answer is JSON. */
	fuzz_want_json(out.p, out.len, "the answer");
done:
	jbuf_free(&out);
	if (getenv("FUZZ_VERBOSE") != NULL)
		fprintf(stderr, "%llu requests scored, %llu refused so far\n", n_scored, n_refused);
	return 0;
}
