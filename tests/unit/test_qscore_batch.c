/* test_qscore_batch.c: a batch body answered in one pass — the same answers as its elements sent alone, and a refused batch (bad JSON, too many elements) leaves the answer, the random draws and the counters as they were. */
/* test-links: q-score */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "qscore.h"

static struct model m;
static struct qs_counters ct;
static struct qs_config cf;
static char err[320];

/* A small network and the items a..e; softmax exploration, so that every answer draws. */
static void
setup(void)
{
	struct qnet_dims dm = { .d = 4, .L = 3, .nkern = 2, .kw = { 1, 2 }, .F = 2, .C = 0, .X = 0, .H = 4 };
	static const char *const ids[] = { "a", "b", "c", "d", "e" };

	m.version = 3;
	m.net = qnet_new(&dm);
	qnet_init(m.net, 5);
	m.emb = emb_new(dm.d);
	for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
		float *row = emb_row_mut(m.emb, emb_add(m.emb, ids[i], 1));
		for (uint32_t k = 0; k < dm.d; k++)
			row[k] = (float)(i + 1) / (float)(k + 2) - 0.7f;
	}
	cf.explore.policy = QS_SOFTMAX;
	cf.explore.param = 0.5;
	cf.seed = 9;
	cf.max_candidates = 100;
	cf.counters = &ct;
}

/* The counters as one comparable row. */
static void
counts(uint64_t c[5])
{
	c[0] = atomic_load(&ct.unknown_items);
	c[1] = atomic_load(&ct.feature_rows);
	c[2] = atomic_load(&ct.unknown_hist);
	c[3] = atomic_load(&ct.hist_from_store);
	c[4] = atomic_load(&ct.no_model);
}

/* The elements of the batches below, alone: their answers (an error object for a refused one), comma-joined, into out. */
static void
alone(struct qs_worker *w, const char *const *el, size_t n, struct jbuf *out)
{
	char id[257];

	jbuf_puts(out, "[");
	for (size_t i = 0; i < n; i++) {
		if (i)
			jbuf_puts(out, ",");
		if (qs_score_text(w, &cf, &m, el[i], strlen(el[i]), out, id, err, sizeof err) != 0)
			qs_error_response(out, id, err);
	}
	jbuf_puts(out, "]");
}

static const char *const good[] = {
	"{\"request_id\":\"r1\",\"hist\":[\"a\",\"zz\"],\"candidates\":[{\"item_id\":\"b\"},{\"item_id\":\"c\"},{\"item_id\":\"q\"}]}",
	"{\"request_id\":\"r2\",\"candidates\":3}",
	"17",
	"{\"candidates\":[{\"item_id\":\"d\"}],\"request_id\":\"r4\",\"x\":[{\"y\":null}],\"k\":1}",
	"{\"request_id\":\"r5\",\"hist\":[\"e\"],\"candidates\":[{\"item_id\":\"a\"},{\"item_id\":\"e\"},{\"item_id\":\"b\"}]}",
};
#define NGOOD (sizeof good / sizeof good[0])

int
main(void)
{
	struct qs_worker *w, *ref;
	struct jbuf out = { 0 }, want = { 0 };
	char body[4096];
	size_t n, nerr, len = 0;
	uint64_t c0[5], c1[5], c2[5], d[5];

	setup();
	w = qs_worker_new(cf.seed, 1);
	ref = qs_worker_new(cf.seed, 1);
	len += (size_t)snprintf(body + len, sizeof body - len, " [");
	for (size_t i = 0; i < NGOOD; i++)
		len += (size_t)snprintf(body + len, sizeof body - len, "%s%s", i ? " ,\n" : "", good[i]);
	len += (size_t)snprintf(body + len, sizeof body - len, "] ");

	/* answered: the same bytes as the elements alone, from a worker with the same seed */
	counts(c0);
	CHECK(qs_score_batch(w, &cf, &m, body, len, 10, &out, &n, &nerr, err, sizeof err) == 0 && n == NGOOD && nerr == 2,
	    "a batch answered: %zu elements, %zu errors (%s)", n, nerr, err);
	counts(c1);
	alone(ref, good, NGOOD, &want);
	counts(c2);
	CHECK(out.len == want.len && memcmp(out.p, want.p, out.len) == 0, "the answers of its elements alone:\n%.*s\n%.*s",
	    (int)out.len, out.p, (int)want.len, want.p);
	CHECK(c1[0] - c0[0] == 1 && c1[2] - c0[2] == 1, "the batch counted its unknown item and history item");
	for (int i = 0; i < 5; i++)
		d[i] = c1[i] - c0[i];
	CHECK(c2[0] - c1[0] == c1[0] - c0[0] && c2[2] - c1[2] == c1[2] - c0[2], "as many as its elements alone");

	/* refused: bad JSON after four good elements; more elements than the limit */
	static const char *const refused[] = { "bad JSON", "too many" };
	for (int k = 0; k < 2; k++) {
		char bad[4096];
		size_t blen;
		int r;

		if (k == 0) {
			blen = (size_t)snprintf(bad, sizeof bad, "%.*s,{\"request_id\":}]", (int)(len - 2), body);
			r = qs_score_batch(w, &cf, &m, bad, blen, 10, &out, &n, &nerr, err, sizeof err);
			CHECK(r == -1 && strstr(err, "bad JSON at column"), "%s: -1 (%d, %s)", refused[k], r, err);
		} else {
			r = qs_score_batch(w, &cf, &m, body, len, 3, &out, &n, &nerr, err, sizeof err);
			CHECK(r == -2 && n == NGOOD && strcmp(err, "batch of 5 requests, at most 3") == 0, "%s: -2 (%d, %s)",
			    refused[k], r, err);
		}
		counts(c0);
		CHECK(memcmp(c0, c2, sizeof c0) == 0, "%s: the counters as they were", refused[k]);
		CHECK(out.len == want.len && memcmp(out.p, want.p, out.len) == 0, "%s: the answer as it was", refused[k]);
	}
	/* the draws as they were: the next batch answers as the reference's next does */
	out.len = want.len = 0;
	CHECK(qs_score_batch(w, &cf, &m, body, len, 10, &out, &n, &nerr, err, sizeof err) == 0, "answered again: %s", err);
	alone(ref, good, NGOOD, &want);
	CHECK(out.len == want.len && memcmp(out.p, want.p, out.len) == 0, "after the refusals, the same draws as without them");
	counts(c1);
	for (int i = 0; i < 5; i++)
		c1[i] -= c2[i] + 2 * d[i];
	CHECK(c1[0] == 0 && c1[1] == 0 && c1[2] == 0 && c1[3] == 0 && c1[4] == 0,
	    "the counters then grow by one batch's worth and the reference's (nothing left of the refusals)");

	/* an empty batch; not an array */
	out.len = 0;
	CHECK(qs_score_batch(w, &cf, &m, "[ ]", 3, 10, &out, &n, &nerr, err, sizeof err) == 0 && n == 0 &&
	    out.len == 2 && memcmp(out.p, "[]", 2) == 0, "an empty batch: []");
	CHECK(qs_score_batch(w, &cf, &m, "{}", 2, 10, &out, &n, &nerr, err, sizeof err) == -1 && strstr(err, "'[' expected"),
	    "not an array: %s", err);
	/* no model: every element an error, counted */
	out.len = 0;
	counts(c0);
	CHECK(qs_score_batch(w, &cf, NULL, body, len, 10, &out, &n, &nerr, err, sizeof err) == 0 && nerr == NGOOD,
	    "no model: %zu errors of %zu", nerr, n);
	counts(c1);
	CHECK(c1[4] - c0[4] == 3, "no model counted for the 3 well-formed requests (%llu)", (unsigned long long)(c1[4] - c0[4]));

	jbuf_free(&out);
	jbuf_free(&want);
	qs_worker_free(w);
	qs_worker_free(ref);
	qnet_free(m.net);
	emb_free(m.emb);
	return check_done();
}
