/* test_store.c: the version store under bad parameters: a version with one that is not finite is never published, never loaded. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "model.h"

static char root[256];
static char err[512];

static struct qnet *
small_net(uint32_t d, uint64_t seed)
{
	struct qnet_dims dm;
	struct qnet *net;

	qnet_dims_default(&dm, 4, 2);
	dm.d = d;
	dm.F = 8;
	dm.H = 16;
	net = qnet_new(&dm);
	qnet_init(net, seed);
	net->target = QNET_TARGET_SLATE;
	return net;
}

static struct emb *
small_emb(uint32_t d, int n)
{
	struct emb *e = emb_new(d);
	char id[32];
	float *row;
	uint32_t c;
	int i;

	for (i = 0; i < n; i++) {
		snprintf(id, sizeof id, "item%d", i);
		row = emb_row_mut(e, emb_add(e, id, strlen(id)));
		for (c = 0; c < d; c++)
			row[c] = (float)i + (float)c / 100;
	}
	return e;
}

/* Publishes net and e (or a copy of the file link) into md; the version, or 0 with err. */
static uint32_t
publish(const char *md, const struct qnet *net, const struct emb *e, const char *link, unsigned keep)
{
	struct model_publication pub = { .net = net, .emb = e, .emb_link = link, .keep = keep };
	uint32_t v = 0;

	strcpy(pub.info.mode, link ? "online" : "offline");
	strcpy(pub.info.target, "slateq");
	if (model_publish(md, &pub, &v, err, sizeof err) < 0)
		return 0;
	return v;
}

static char *
vpath(const char *md, uint32_t v, const char *file)
{
	static char p[512];

	snprintf(p, sizeof p, "%s/%010u/%s", md, v, file);
	return p;
}

static int
count_versions(const char *md)
{
	uint32_t *v;
	size_t n;

	if (model_versions(md, &v, &n, err, sizeof err) < 0)
		return -1;
	free(v);
	return (int)n;
}

/* A version with a non-finite parameter is never published, and never loaded. */
static void
nonfinite_tests(void)
{
	struct qnet *net = small_net(8, 1), *bad = small_net(8, 1);
	struct emb *e = small_emb(8, 50), *be = small_emb(8, 50);
	struct model *m;
	char md[300];
	uint32_t v;

	snprintf(md, sizeof md, "%s/nan", root);
	bad->p[bad->off[QNET_A_W] + 3] = NAN;
	v = publish(md, bad, e, NULL, 0);
	CHECK(v == 0 && strstr(err, "a.W") && strstr(err, "not finite"), "a NaN in the network is not published: %s",
	    v ? "published" : err);
	emb_row_mut(be, 7)[2] = INFINITY;
	v = publish(md, net, be, NULL, 0);
	CHECK(v == 0 && strstr(err, "emb") && strstr(err, "not finite"),
	    "an infinite embedding row is not published: %s", v ? "published" : err);
	CHECK(count_versions(md) == 0, "nothing published (%d versions)", count_versions(md));

	/* files written past the store: the loaders refuse them */
	v = publish(md, net, e, NULL, 0);
	CHECK(v == 1, "a finite version is published: %s", err);
	CHECK(model_net_write(bad, vpath(md, v, MODEL_NET_FILE), err, sizeof err) == 0, "write: %s", err);
	m = model_load(md, v, err, sizeof err);
	CHECK(!m && strstr(err, "qnet.bin") && strstr(err, "a.W") && strstr(err, "not finite"),
	    "a network with a NaN is not loaded: %s", m ? "loaded" : err);
	model_free(m);
	CHECK(model_net_load(vpath(md, v, MODEL_NET_FILE), NULL, err, sizeof err) == NULL,
	    "model_net_load refuses it too");
	CHECK(model_net_write(net, vpath(md, v, MODEL_NET_FILE), err, sizeof err) == 0, "write: %s", err);
	CHECK(emb_write(be, vpath(md, v, MODEL_EMB_FILE), err, sizeof err) == 0, "write: %s", err);
	m = model_load(md, v, err, sizeof err);
	CHECK(!m && strstr(err, "emb.bin") && strstr(err, "row 7") && strstr(err, "not finite"),
	    "an embedding file with an infinite row is not loaded: %s", m ? "loaded" : err);
	model_free(m);
	qnet_free(net);
	qnet_free(bad);
	emb_free(e);
	emb_free(be);
}

int
main(void)
{
	char cmd[600];

	snprintf(root, sizeof root, "%s/test_store.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	nonfinite_tests();
	snprintf(cmd, sizeof cmd, "chmod -R u+w %s; rm -rf %s", root, root);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", root);
	return check_done();
}
