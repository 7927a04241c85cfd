/* test_qscore_features.c: feature rows — emb_feature_row(), the manifest's "rows", and q-score giving a candidate the table lacks the row of its features (scored as the forward pass, counted), while history items keep the unknown row. */
/* test-links: q-score */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "qscore.h"

static char err[512];

/* A small network over X = d = 3 features and 2 context numbers. */
static struct qnet *
feature_net(uint32_t d, uint32_t X)
{
	struct qnet_dims dm;
	struct qnet *net;

	qnet_dims_default(&dm, 2, X);
	dm.d = d;
	dm.L = 4;
	dm.F = 4;
	dm.H = 8;
	net = qnet_new(&dm);
	qnet_init(net, 7);
	net->target = QNET_TARGET_SLATE;
	return net;
}

static const float fa[3] = { 0.25f, -1.5f, 0.75f }, fb[3] = { -0.5f, 2.0f, 1.25f }, fh[3] = { 1.0f, 0.5f, -0.25f };

/* Publishes a version: items "a" (features fa) and "h" (fh), rows built from their features; rows says which kind the manifest names. */
static struct model *
publish(const char *md, const struct qnet *net, const char *rows)
{
	struct emb *e = emb_new(net->dm.d);
	struct model_publication pub = { .net = net, .emb = e };
	struct model *m;
	uint32_t v;

	CHECK(emb_feature_row(emb_row_mut(e, emb_add(e, "a", 1)), net->dm.d, fa, 3) == 0, "row of a");
	CHECK(emb_feature_row(emb_row_mut(e, emb_add(e, "h", 1)), net->dm.d, fh, 3) == 0, "row of h");
	strcpy(pub.info.mode, "offline");
	strcpy(pub.info.target, "slateq");
	strcpy(pub.info.rows, rows);
	CHECK(model_publish(md, &pub, &v, err, sizeof err) == 0, "publish: %s", err);
	emb_free(e);
	m = model_load(md, v, err, sizeof err);
	CHECK(m != NULL, "load: %s", err);
	return m;
}

/* The q of item id in a one-line answer (NAN when absent). */
static double
answer_q(const struct jbuf *out, const char *id)
{
	char key[64];
	const char *p;

	snprintf(key, sizeof key, "\"item_id\":\"%s\",\"q\":", id);
	p = strstr(out->p, key);
	return p ? strtod(p + strlen(key), NULL) : NAN;
}

/* The forward pass: state from the given rows, q of row e with features x. */
static float
forward(const struct qnet *net, const float *const *hist, size_t nh, const float *ctx, const float *e, const float *x)
{
	struct qnet_ws *ws = qnet_ws_new(&net->dm);
	float q;

	qnet_state(net, ws, hist, nh, ctx);
	q = qnet_q(net, ws, e, x);
	qnet_ws_free(ws);
	return q;
}

static void
row_tests(void)
{
	float row[3] = { 9, 9, 9 };

	CHECK(emb_feature_row(row, 3, fb, 3) == 0 && memcmp(row, fb, sizeof row) == 0, "the row is the features");
	row[0] = 9;
	CHECK(emb_feature_row(row, 3, fb, 2) == -1 && row[0] == 9, "a feature count other than d is refused, the row untouched");
}

static void
manifest_tests(const char *root)
{
	char md[300], path[400];
	struct qnet *net = feature_net(3, 3), *wide = feature_net(4, 3);
	struct model *m;
	FILE *fp;

	snprintf(md, sizeof md, "%s/old", root);
	m = publish(md, net, "");
	CHECK(m && strcmp(m->info.rows, MODEL_ROWS_LEARNED) == 0 && !m->feature_rows, "no rows given: learned");
	model_free(m);
	/* a manifest without "rows" (written before there were feature rows) reads as learned */
	snprintf(path, sizeof path, "%s/0000000001/%s", md, MODEL_MANIFEST_FILE);
	fp = fopen(path, "w");
	CHECK(fp != NULL, "rewrite %s", path);
	if (fp) {
		fputs("{\"format\":1,\"version\":1,\"mode\":\"offline\",\"target\":\"slateq\"}\n", fp);
		fclose(fp);
	}
	m = model_load(md, 1, err, sizeof err);
	CHECK(m && !m->feature_rows && strcmp(m->info.rows, "learned") == 0, "a manifest without rows: learned (%s)", err);
	model_free(m);
	fp = fopen(path, "w");
	if (fp) {
		fputs("{\"format\":1,\"version\":1,\"mode\":\"offline\",\"rows\":\"hashed\"}\n", fp);
		fclose(fp);
	}
	CHECK(model_load(md, 1, err, sizeof err) == NULL && strstr(err, "rows \"hashed\""), "an unknown row kind refused: %s", err);

	snprintf(md, sizeof md, "%s/wide", root);
	{
		/* d 4 over 3 features cannot be feature rows: published by hand, refused on load */
		struct emb *e = emb_new(4);
		struct model_publication pub = { .net = wide, .emb = e };
		uint32_t v;

		strcpy(pub.info.mode, "offline");
		strcpy(pub.info.target, "slateq");
		strcpy(pub.info.rows, MODEL_ROWS_FEATURES);
		CHECK(model_publish(md, &pub, &v, err, sizeof err) == 0, "publish: %s", err);
		CHECK(model_load(md, v, err, sizeof err) == NULL && strstr(err, "with d 4, the features X 3"),
		    "feature rows of another width than the features refused: %s", err);
		emb_free(e);
	}
	qnet_free(net);
	qnet_free(wide);
}

static void
score_tests(const char *root)
{
	char md[300], id[257];
	struct qnet *net = feature_net(3, 3);
	struct qs_counters ct = { 0 };
	struct qs_config cf = { .explore = { QS_GREEDY, 0 }, .max_candidates = 1000, .counters = &ct };
	struct qs_worker *w = qs_worker_new(1, 0);
	struct jbuf out = { 0 };
	struct model *m, *lm;
	const float ctx[2] = { 0.5f, -0.25f };
	const float *hist[1] = { fh };
	const float *unk[1];
	/* "a" is known; "z" is not, with a's features; "y" is not, with others; the history "h" is known */
	const char *req = "{\"request_id\":\"r\",\"hist\":[\"h\"],\"context\":[0.5,-0.25],\"candidates\":["
	    "{\"item_id\":\"a\",\"features\":[0.25,-1.5,0.75]},{\"item_id\":\"z\",\"features\":[0.25,-1.5,0.75]},"
	    "{\"item_id\":\"y\",\"features\":[-0.5,2,1.25]}]}";
	/* the history item "g" is not in the table and has no features: the unknown row */
	const char *hreq = "{\"request_id\":\"h\",\"hist\":[\"g\"],\"context\":[0.5,-0.25],\"candidates\":["
	    "{\"item_id\":\"y\",\"features\":[-0.5,2,1.25]}]}";
	double qa, qz, qy, want;
	int rc;

	snprintf(md, sizeof md, "%s/features", root);
	m = publish(md, net, MODEL_ROWS_FEATURES);
	if (m == NULL)
		return;
	CHECK(m->feature_rows, "the manifest's rows load as feature rows");
	rc = qs_score_text(w, &cf, m, req, strlen(req), &out, id, err, sizeof err);
	CHECK(rc == 0, "scored: %s", err);
	jbuf_put(&out, "", 1);
	qa = answer_q(&out, "a");
	qz = answer_q(&out, "z");
	qy = answer_q(&out, "y");
	CHECK(qa == qz, "an unseen candidate with a seen one's features scores as it: %g %g", qa, qz);
	want = forward(net, hist, 1, ctx, fb, fb);
	CHECK(fabs(qy - want) <= 1e-5 * fmax(1, fabs(want)), "an unseen candidate: the forward pass on its features' row: %g %g",
	    qy, want);
	want = forward(net, hist, 1, ctx, emb_row(m->emb, 0), fb);
	CHECK(fabs(qy - want) > 1e-3, "not what the unknown row gives: %g %g", qy, want);
	CHECK(atomic_load(&ct.feature_rows) == 2 && atomic_load(&ct.unknown_items) == 0 && atomic_load(&ct.unknown_hist) == 0,
	    "counted: %ju feature rows, %ju unknown, %ju unknown history", (uintmax_t)atomic_load(&ct.feature_rows),
	    (uintmax_t)atomic_load(&ct.unknown_items), (uintmax_t)atomic_load(&ct.unknown_hist));

	/* the worker's rows are reused: a second request with more unseen candidates, then the first again */
	{
		char big[4096];
		size_t n = (size_t)snprintf(big, sizeof big, "{\"request_id\":\"b\",\"context\":[0,0],\"candidates\":[");
		for (int i = 0; i < 40; i++)
			n += (size_t)snprintf(big + n, sizeof big - n, "%s{\"item_id\":\"n%d\",\"features\":[%d,0.5,-1]}", i ? "," : "",
			    i, i);
		snprintf(big + n, sizeof big - n, "]}");
		out.len = 0;
		CHECK(qs_score_text(w, &cf, m, big, strlen(big), &out, id, err, sizeof err) == 0, "40 unseen: %s", err);
		jbuf_put(&out, "", 1);
		const float x7[3] = { 7, 0.5f, -1 };
		want = forward(net, NULL, 0, (const float[2]){ 0, 0 }, x7, x7);
		CHECK(fabs(answer_q(&out, "n7") - want) <= 1e-5 * fmax(1, fabs(want)), "n7: %g %g", answer_q(&out, "n7"), want);
		out.len = 0;
		CHECK(qs_score_text(w, &cf, m, req, strlen(req), &out, id, err, sizeof err) == 0, "again: %s", err);
		jbuf_put(&out, "", 1);
		CHECK(answer_q(&out, "z") == qz && answer_q(&out, "y") == qy, "the same answer again");
		CHECK(atomic_load(&ct.feature_rows) == 2 + 40 + 2, "counted: %ju", (uintmax_t)atomic_load(&ct.feature_rows));
	}

	/* history items carry no features: an unseen one keeps the unknown row, counted */
	out.len = 0;
	CHECK(qs_score_text(w, &cf, m, hreq, strlen(hreq), &out, id, err, sizeof err) == 0, "scored: %s", err);
	jbuf_put(&out, "", 1);
	unk[0] = emb_row(m->emb, 0);
	want = forward(net, unk, 1, ctx, fb, fb);
	CHECK(fabs(answer_q(&out, "y") - want) <= 1e-5 * fmax(1, fabs(want)), "history on the unknown row: %g %g",
	    answer_q(&out, "y"), want);
	CHECK(atomic_load(&ct.unknown_hist) == 1, "the unseen history item counted");

	/* the same table named init+features (rows from an initial file, the others' from features): as features */
	snprintf(md, sizeof md, "%s/init-features", root);
	lm = publish(md, net, MODEL_ROWS_INIT_FEATURES);
	CHECK(lm && lm->feature_rows && strcmp(lm->info.rows, "init+features") == 0, "init+features load as feature rows");
	if (lm) {
		memset(&ct, 0, sizeof ct);
		out.len = 0;
		CHECK(qs_score_text(w, &cf, lm, req, strlen(req), &out, id, err, sizeof err) == 0, "scored: %s", err);
		jbuf_put(&out, "", 1);
		CHECK(answer_q(&out, "z") == qz && answer_q(&out, "y") == qy, "init+features: unseen candidates as under features");
		CHECK(atomic_load(&ct.feature_rows) == 2 && atomic_load(&ct.unknown_items) == 0, "init+features: counted feature rows");
		model_free(lm);
	}

	/* the same table named learned, or init (an initial file's rows, none learned): unseen candidates get the unknown row */
	static const char *const tables[] = { MODEL_ROWS_LEARNED, MODEL_ROWS_INIT };
	for (size_t k = 0; k < sizeof tables / sizeof *tables; k++) {
		snprintf(md, sizeof md, "%s/%s", root, tables[k]);
		lm = publish(md, net, tables[k]);
		CHECK(lm && !lm->feature_rows && strcmp(lm->info.rows, tables[k]) == 0, "%s rows load as table rows", tables[k]);
		if (!lm)
			continue;
		memset(&ct, 0, sizeof ct);
		out.len = 0;
		CHECK(qs_score_text(w, &cf, lm, req, strlen(req), &out, id, err, sizeof err) == 0, "scored: %s", err);
		jbuf_put(&out, "", 1);
		want = forward(net, hist, 1, ctx, emb_row(lm->emb, 0), fb);
		CHECK(fabs(answer_q(&out, "y") - want) <= 1e-5 * fmax(1, fabs(want)), "%s rows: the unknown row: %g %g",
		    tables[k], answer_q(&out, "y"), want);
		CHECK(atomic_load(&ct.unknown_items) == 2 && atomic_load(&ct.feature_rows) == 0, "%s rows: counted unknown",
		    tables[k]);
		model_free(lm);
	}
	model_free(m);
	jbuf_free(&out);
	qs_worker_free(w);
	qnet_free(net);
}

int
main(void)
{
	char root[] = "/tmp/test_qscore_features.XXXXXX", cmd[300];

	if (mkdtemp(root) == NULL)
		return 1;
	row_tests();
	manifest_tests(root);
	score_tests(root);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", root);
	return check_done();
}
