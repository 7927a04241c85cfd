/* test_store.c: the version store under bad parameters, lying manifests, files changed under a reader, and several writers. */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

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

/* Rewrites key of the manifest of version v with the JSON text val. */
static void
manifest_set(const char *md, uint32_t v, const char *key, const char *val)
{
	const char *path = vpath(md, v, MODEL_MANIFEST_FILE);
	json_t *o = json_load_file(path, 0, NULL), *x = json_loads(val, JSON_DECODE_ANY, NULL);
	char *dot = strchr(key, '.'), k0[64];

	snprintf(k0, sizeof k0, "%.*s", dot ? (int)(dot - key) : (int)strlen(key), key);
	if (dot)
		json_object_set_new(json_object_get(o, k0), dot + 1, x);
	else
		json_object_set_new(o, k0, x);
	unlink(path);
	CHECK(o && json_dump_file(o, path, 0) == 0, "rewrite %s", path);
	json_decref(o);
}

/* A manifest's dims and files are checked against what the version holds. */
static void
manifest_tests(void)
{
	static const struct {
		const char *key, *val, *want;
	} lies[] = {
		{ "dims.d", "16", "d is 16" },
		{ "dims.H", "64", "H is 64" },
		{ "dims.kernels", "[2, 4]", "kernels" },
		{ "dims.C", "\"4\"", "dims" },
		{ "dims", "[]", "dims" },
		{ "files.emb", "\"other.bin\"", "other.bin" },
		{ "files.net", "\"../0000000001/qnet.bin\"", "qnet.bin" },
		{ "files.warmup", "7", "files" },
		{ "files", "\"x\"", "files" },
	};
	struct qnet *net = small_net(8, 2);
	struct emb *e = small_emb(8, 20);
	struct model *m;
	char md[300];
	size_t i;
	uint32_t v;

	snprintf(md, sizeof md, "%s/lies", root);
	for (i = 0; i < sizeof lies / sizeof *lies; i++) {
		v = publish(md, net, e, NULL, 0);
		CHECK(v > 0, "publish: %s", err);
		m = model_load(md, v, err, sizeof err);
		CHECK(m != NULL, "the version as published loads: %s", err);
		model_free(m);
		manifest_set(md, v, lies[i].key, lies[i].val);
		m = model_load(md, v, err, sizeof err);
		CHECK(!m && strstr(err, MODEL_MANIFEST_FILE) && strstr(err, lies[i].want),
		    "a manifest whose %s is %s is refused: %s", lies[i].key, lies[i].val, m ? "loaded" : err);
		model_free(m);
	}
	/* the warm-up file a manifest names must be there */
	v = publish(md, net, e, NULL, 0);
	unlink(vpath(md, v, MODEL_WARMUP_FILE));
	m = model_load(md, v, err, sizeof err);
	CHECK(!m && strstr(err, MODEL_WARMUP_FILE), "a version without the warm-up file it names is refused: %s",
	    m ? "loaded" : err);
	model_free(m);
	qnet_free(net);
	emb_free(e);
}

/* Published files are read-only and none is shared with another version. */
static void
file_tests(void)
{
	static const char *const files[] = { MODEL_NET_FILE, MODEL_EMB_FILE, MODEL_MANIFEST_FILE, MODEL_WARMUP_FILE };
	struct qnet *net = small_net(8, 3);
	struct emb *e = small_emb(8, 20);
	struct stat a, b;
	char md[300], link[512];
	uint32_t v1, v2;
	size_t i;
	int ro = 1;

	snprintf(md, sizeof md, "%s/files", root);
	v1 = publish(md, net, e, NULL, 0);
	snprintf(link, sizeof link, "%s", vpath(md, v1, MODEL_EMB_FILE));
	v2 = publish(md, net, NULL, link, 0);
	CHECK(v1 == 1 && v2 == 2, "two versions, the second with the first's table: %s", err);
	for (i = 0; i < sizeof files / sizeof *files; i++)
		if (stat(vpath(md, v2, files[i]), &a) < 0 || (a.st_mode & 07777) != 0444)
			ro = 0;
	CHECK(ro, "every published file is read-only (0444)");
	CHECK(stat(link, &a) == 0 && stat(vpath(md, v2, MODEL_EMB_FILE), &b) == 0 &&
	    (a.st_ino != b.st_ino || a.st_dev != b.st_dev) && a.st_nlink == 1 && b.st_nlink == 1,
	    "an unchanged table is a file of its own, not a hard link (links %lu, %lu)",
	    (unsigned long)a.st_nlink, (unsigned long)b.st_nlink);
	qnet_free(net);
	emb_free(e);
}

/*
 * A loaded version survives its files being cut short under it: in a child,
 * so that a SIGBUS is seen as such.
 */
static void
shrink_tests(void)
{
	struct qnet *net = small_net(8, 4);
	struct emb *e = small_emb(8, 5000), *small = small_emb(8, 3);
	struct model *m;
	char md[300], other[400], cmd[2048];
	volatile float sum = 0;
	uint32_t v, r;
	pid_t pid;
	int st = 0;

	snprintf(md, sizeof md, "%s/shrink", root);
	v = publish(md, net, e, NULL, 0);
	CHECK(v == 1, "publish: %s", err);
	m = model_load(md, v, err, sizeof err);
	CHECK(m != NULL, "load: %s", err);
	if (!m)
		return;
	/* cp other/emb.bin models/0000000001/emb.bin: the file rewritten in place, shorter */
	snprintf(other, sizeof other, "%s/other-emb.bin", root);
	CHECK(emb_write(small, other, err, sizeof err) == 0, "write: %s", err);
	snprintf(cmd, sizeof cmd, "chmod u+w %s && cp %s %s", vpath(md, v, MODEL_EMB_FILE), other,
	    vpath(md, v, MODEL_EMB_FILE));
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		if (system(cmd) != 0)
			_exit(3);
		for (r = 0; r < emb_rows(m->emb); r++)
			sum += emb_row(m->emb, r)[7];
		_exit(sum > 0 && emb_find(m->emb, "item4999", 8) == 5000 ? 0 : 4);
	}
	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid, "fork: %s", strerror(errno));
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "a loaded table whose file shrinks keeps its rows (child %s %d)",
	    WIFSIGNALED(st) ? "killed by signal" : "exit", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	model_free(m);
	qnet_free(net);
	emb_free(e);
	emb_free(small);
}

/*
 * Two writers on one store, each with --keep: one prunes the version the
 * other learns from, and the other still publishes with that table.
 */
static void
writer_tests(void)
{
	struct qnet *net = small_net(8, 5), *other = small_net(8, 6);
	struct emb *e = small_emb(8, 30), *e2 = small_emb(8, 10);
	struct model *b, *m;
	char md[300], link[512];
	uint32_t v, i;

	snprintf(md, sizeof md, "%s/writers", root);
	v = publish(md, net, e, NULL, 0);
	CHECK(v == 1, "publish: %s", err);
	/* writer B loads version 1 and will publish heads over its table */
	b = model_load(md, 1, err, sizeof err);
	CHECK(b != NULL, "load: %s", err);
	if (!b)
		return;
	snprintf(link, sizeof link, "%s/%s", b->dir, MODEL_EMB_FILE);
	/* writer A publishes three versions, keeping 2: version 1 is pruned */
	for (i = 0; i < 3; i++)
		CHECK(publish(md, other, e2, NULL, 2) > 0, "writer A publishes: %s", err);
	CHECK(access(link, F_OK) < 0, "version 1 pruned by writer A");
	v = publish(md, b->net, NULL, link, 2);
	CHECK(v == 5, "writer B publishes after its parent was pruned: %s", v ? "" : err);
	m = v ? model_load(md, v, err, sizeof err) : NULL;
	CHECK(m && emb_rows(m->emb) == 31 && emb_find(m->emb, "item29", 6) == emb_find(b->emb, "item29", 6) &&
	    emb_row(m->emb, 30)[7] == emb_row(b->emb, 30)[7], "with its parent's table: %s", m ? "" : err);
	model_free(m);
	/* and again, from the version it published last (pruned too by then) */
	for (i = 0; i < 2; i++)
		CHECK(publish(md, other, e2, NULL, 2) > 0, "writer A publishes: %s", err);
	snprintf(link, sizeof link, "%s", vpath(md, v, MODEL_EMB_FILE));
	CHECK(access(link, F_OK) < 0, "writer B's version pruned by writer A");
	v = publish(md, b->net, NULL, link, 2);
	CHECK(v == 8, "writer B publishes again: %s", v ? "" : err);
	m = v ? model_load(md, v, err, sizeof err) : NULL;
	CHECK(m && emb_rows(m->emb) == 31, "with the same table: %s", m ? "" : err);
	model_free(m);
	model_free(b);
	qnet_free(net);
	qnet_free(other);
	emb_free(e);
	emb_free(e2);
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
	manifest_tests();
	file_tests();
	writer_tests();
	shrink_tests();
	snprintf(cmd, sizeof cmd, "chmod -R u+w %s; rm -rf %s", root, root);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", root);
	return check_done();
}
