/* test_model.c: the model store — round trips, refusal of corrupt files by name, atomic publish, pruning. */
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "model.h"

static char root[256];
static char err[512];

static void sh(const char *fmt, const char *a, const char *b)
{
	char cmd[1024];
	snprintf(cmd, sizeof cmd, fmt, a, b);
	if (system(cmd) != 0)
		fprintf(stderr, "command failed: %s\n", cmd);
}

/* Flips one bit of the byte at off (negative: from the end). */
static void flip(const char *path, long off)
{
	chmod(path, 0644);	/* published files are read-only */
	FILE *f = fopen(path, "r+b");
	if (!f)
		return;
	fseek(f, off, off < 0 ? SEEK_END : SEEK_SET);
	int c = fgetc(f);
	fseek(f, -1, SEEK_CUR);
	fputc(c ^ 0x10, f);
	fclose(f);
}

static long file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static struct qnet *small_net(uint32_t d)
{
	struct qnet_dims dm;
	qnet_dims_default(&dm, 4, 2);
	dm.d = d;
	dm.F = 8;
	dm.H = 16;
	struct qnet *net = qnet_new(&dm);
	qnet_init(net, 3);
	net->target = QNET_TARGET_SLATE;
	return net;
}

static struct emb *small_emb(uint32_t d, int n)
{
	struct emb *e = emb_new(d);
	char id[32];
	for (int i = 0; i < n; i++) {
		snprintf(id, sizeof id, "item%d", i);
		uint32_t r = emb_add(e, id, strlen(id));
		float *row = emb_row_mut(e, r);
		for (uint32_t c = 0; c < d; c++)
			row[c] = (float)i + (float)c / 100;
	}
	return e;
}

/*
 * emb_find_many() against emb_find() one by one: known ids, absent ones,
 * the empty id and repeats, over more than one chunk of probes and in a
 * table small enough that probes run into neighbouring slots.
 */
static int many_matches(const struct emb *e, int nitems)
{
	enum { N = 101 };
	char buf[N][24];
	const char *ids[N];
	size_t lens[N];
	int64_t rows[N];
	int ok = 1;

	for (int i = 0; i < N; i++) {
		if (i % 7 == 3)
			snprintf(buf[i], sizeof buf[i], "absent%d", i);
		else if (i == 50)
			buf[i][0] = '\0';
		else
			snprintf(buf[i], sizeof buf[i], "item%d", (i * 37) % (nitems + 5));
		ids[i] = buf[i];
		lens[i] = strlen(buf[i]);
	}
	for (size_t n = 0; n <= N; n += n < 40 ? 1 : 61 - 20 * (n > 40)) {
		for (size_t i = 0; i < n; i++)
			rows[i] = -2;
		emb_find_many(e, n, ids, lens, rows);
		for (size_t i = 0; i < n; i++)
			if (rows[i] != emb_find(e, ids[i], lens[i]))
				ok = 0;
		if (n < N && n > 0 && rows[n - 1] == -2)
			ok = 0;
	}
	return ok;
}

static void emb_tests(void)
{
	struct emb *e = small_emb(8, 1000);
	CHECK(emb_rows(e) == 1001, "rows %u", emb_rows(e));
	CHECK(emb_add(e, "item5", 5) == emb_find(e, "item5", 5), "add of a known id returns its row");
	CHECK(emb_find(e, "nope", 4) == -1, "absent id");
	CHECK(emb_find(e, "", 0) == -1, "the empty id is the unknown row, not indexed");
	CHECK(many_matches(e, 1000), "emb_find_many finds what emb_find finds (growable table)");
	{
		struct emb *tiny = small_emb(2, 40);	/* 41 rows in 128 slots: runs of probes */
		CHECK(many_matches(tiny, 40), "emb_find_many on a small, crowded index");
		emb_free(tiny);
	}
	char path[300];
	snprintf(path, sizeof path, "%s/e.bin", root);
	CHECK(emb_write(e, path, err, sizeof err) == 0, "write: %s", err);
	struct emb *m = emb_load(path, 8, err, sizeof err);
	CHECK(m != NULL, "load: %s", err);
	if (m) {
		int ok = 1;
		char id[32];
		for (int i = 0; i < 1000 && ok; i++) {
			snprintf(id, sizeof id, "item%d", i);
			int known;
			const float *row = emb_lookup(m, id, strlen(id), &known);
			ok = known && row[0] == (float)i && row[7] == (float)i + 0.07f;
		}
		CHECK(ok, "every id maps to its row after the round trip");
		CHECK(many_matches(m, 1000), "emb_find_many finds what emb_find finds (mapped table)");
		int known = 1;
		const float *u = emb_lookup(m, "item1000", 8, &known);
		CHECK(!known && u == emb_row(m, 0), "an unknown id gets row 0");
		CHECK(emb_row_mut(m, 1) == NULL, "a mapped table is read-only");
		CHECK(emb_add(m, "x", 1) == 0, "a mapped table does not grow");
		struct emb *c = emb_dup(m);
		CHECK(emb_rows(c) == 1001 && emb_find(c, "item999", 7) == emb_find(m, "item999", 7) &&
		    emb_row(c, 500)[3] == emb_row(m, 500)[3], "dup copies ids and rows");
		emb_free(c);
		emb_free(m);
	}
	CHECK(emb_load(path, 16, err, sizeof err) == NULL && strstr(err, "wrong dims"), "wrong d refused: %s", err);
	flip(path, -1000);
	CHECK(emb_load(path, 8, err, sizeof err) == NULL && strstr(err, "checksum mismatch"),
	    "flipped byte refused: %s", err);
	emb_free(e);
}

static void net_tests(void)
{
	struct qnet *net = small_net(8);
	char path[300], copy[300];
	snprintf(path, sizeof path, "%s/n.bin", root);
	snprintf(copy, sizeof copy, "%s/n2.bin", root);
	CHECK(model_net_write(net, path, err, sizeof err) == 0, "write: %s", err);
	struct qnet *l = model_net_load(path, &net->dm, err, sizeof err);
	CHECK(l != NULL, "load: %s", err);
	if (l) {
		CHECK(l->nparam == net->nparam && memcmp(l->p, net->p, net->nparam * sizeof(float)) == 0,
		    "parameters round-trip");
		CHECK(memcmp(&l->dm, &net->dm, sizeof l->dm) == 0 && l->target == QNET_TARGET_SLATE,
		    "dims and target round-trip");
		qnet_free(l);
	}

	/* wrong dims: the caller wants d = 16 */
	struct qnet_dims want = net->dm;
	want.d = 16;
	CHECK(model_net_load(path, &want, err, sizeof err) == NULL && strstr(err, "wrong dims: d is 8, want 16"),
	    "wrong dims refused by name: %s", err);
	want = net->dm;
	want.H = 32;
	CHECK(model_net_load(path, &want, err, sizeof err) == NULL && strstr(err, "H is 16"),
	    "wrong H refused by name: %s", err);

	/* a flipped byte in a tensor: the tensor is named (15 entries: conv0.w starts at 1600) */
	sh("cp %s %s", path, copy);
	flip(copy, 1610);
	CHECK(model_net_load(copy, NULL, err, sizeof err) == NULL &&
	    strstr(err, "tensor 'conv0.w': checksum mismatch"), "flipped data byte refused: %s", err);
	/* any flipped byte anywhere is refused */
	long size = file_size(path), missed = -1;
	unsigned char *bytes = malloc((size_t)size);
	FILE *fp = fopen(path, "rb");
	CHECK(fp && fread(bytes, 1, (size_t)size, fp) == (size_t)size, "read %s", path);
	if (fp)
		fclose(fp);
	for (long off = 0; off < size; off++) {
		bytes[off] ^= 0x10;
		fp = fopen(copy, "wb");
		fwrite(bytes, 1, (size_t)size, fp);
		fclose(fp);
		bytes[off] ^= 0x10;
		struct qnet *bad = model_net_load(copy, NULL, err, sizeof err);
		if (bad) {
			missed = off;
			qnet_free(bad);
		}
	}
	CHECK(missed < 0, "a flipped byte at %ld went unnoticed", missed);
	free(bytes);
	/* a flipped byte in the directory */
	sh("cp %s %s", path, copy);
	flip(copy, 64 + 60);
	CHECK(model_net_load(copy, NULL, err, sizeof err) == NULL && strstr(err, "directory checksum"),
	    "flipped directory byte refused: %s", err);
	/* truncated */
	sh("cp %s %s", path, copy);
	CHECK(truncate(copy, file_size(path) - 10) == 0, "truncate");
	CHECK(model_net_load(copy, NULL, err, sizeof err) == NULL && strstr(err, "truncated"),
	    "truncated file refused: %s", err);
	CHECK(truncate(copy, 20) == 0, "truncate");
	CHECK(model_net_load(copy, NULL, err, sizeof err) == NULL && strstr(err, "truncated"),
	    "file shorter than its header refused: %s", err);
	/* wrong magic */
	sh("cp %s %s", path, copy);
	flip(copy, 0);
	CHECK(model_net_load(copy, NULL, err, sizeof err) == NULL && strstr(err, "bad magic"),
	    "wrong magic refused: %s", err);
	/* an embedding file is not a network file */
	sh("cp %s/e.bin %s", root, copy);
	CHECK(model_net_load(copy, NULL, err, sizeof err) == NULL && strstr(err, "bad magic"),
	    "embedding file as network refused: %s", err);
	CHECK(strstr(err, copy) != NULL, "the message names the file: %s", err);
	qnet_free(net);
}

static int count_tmp(const char *dir)
{
	char cmd[400];
	snprintf(cmd, sizeof cmd, "ls -A %s | grep -c '^\\.tmp-' >/dev/null", dir);
	return system(cmd) == 0;
}

static void store_tests(void)
{
	char md[300], path[400], path2[400];
	snprintf(md, sizeof md, "%s/models", root);
	uint32_t v = 99;
	CHECK(model_latest(md, &v, err, sizeof err) == 0, "no store yet: no version");
	CHECK(model_load(md, 0, err, sizeof err) == NULL && strstr(err, "no model version"), "load of empty store: %s", err);

	struct qnet *net = small_net(8);
	struct emb *e = small_emb(8, 50);
	struct model_publication pub = { .net = net, .emb = e, .keep = 3 };
	strcpy(pub.info.mode, "offline");
	strcpy(pub.info.target, "slateq");
	pub.info.gamma = 0.9;
	pub.info.transitions = 123;
	pub.warmup = "{\"request_id\":\"w1\"}\n";
	pub.warmup_len = strlen(pub.warmup);
	CHECK(model_publish(md, &pub, &v, err, sizeof err) == 0 && v == 1, "publish v1: %s", err);
	CHECK(!count_tmp(md), "no temporary directory left");

	struct model *m = model_load(md, 0, err, sizeof err);
	CHECK(m != NULL, "load newest: %s", err);
	if (m) {
		CHECK(m->version == 1 && m->info.transitions == 123 && m->info.gamma == 0.9 &&
		    !strcmp(m->info.mode, "offline") && !strcmp(m->info.target, "slateq"), "manifest round-trips");
		CHECK(emb_find(m->emb, "item7", 5) == emb_find(e, "item7", 5), "embeddings load");
		CHECK(m->net->dm.d == 8 && m->net->target == QNET_TARGET_SLATE, "network loads");
		snprintf(path, sizeof path, "%s/%s", m->dir, MODEL_WARMUP_FILE);
		CHECK(file_size(path) == (long)pub.warmup_len, "warm-up file written");
	}

	/* v2: heads only, the embeddings a copy of v1's, not a link to them */
	snprintf(path, sizeof path, "%s/0000000001/%s", md, MODEL_EMB_FILE);
	pub.emb = NULL;
	pub.emb_link = path;
	pub.info.parent = 1;
	strcpy(pub.info.mode, "online");
	CHECK(model_publish(md, &pub, &v, err, sizeof err) == 0 && v == 2, "publish v2: %s", err);
	snprintf(path2, sizeof path2, "%s/0000000002/%s", md, MODEL_EMB_FILE);
	struct stat s1, s2;
	char cmp[1024];
	snprintf(cmp, sizeof cmp, "cmp -s %s %s", path, path2);
	CHECK(stat(path, &s1) == 0 && stat(path2, &s2) == 0 && s1.st_ino != s2.st_ino && s2.st_nlink == 1 &&
	    system(cmp) == 0, "unchanged embeddings are copied: the same bytes in a file of their own");

	/* a publish that fails leaves nothing behind */
	pub.emb_link = NULL;
	CHECK(model_publish(md, &pub, &v, err, sizeof err) == -1, "publish without embeddings fails");
	CHECK(model_latest(md, &v, err, sizeof err) == 1 && v == 2, "the failed publish made no version");
	CHECK(!count_tmp(md), "the failed publish left no temporary directory");

	/* a dead writer's half-written directory is invisible and pruned */
	snprintf(path2, sizeof path2, "%s/.tmp-999999999-3-0", md);
	mkdir(path2, 0755);
	sh("cp %s/0000000001/qnet.bin %s/", md, path2);
	CHECK(model_latest(md, &v, err, sizeof err) == 1 && v == 2, "a temporary directory is not a version");
	snprintf(path2, sizeof path2, "%s/0000000002/%s", md, MODEL_NET_FILE);
	flip(path2, -2);
	CHECK(model_load(md, 0, err, sizeof err) == NULL && strstr(err, "0000000002/qnet.bin") &&
	    strstr(err, "checksum mismatch"), "a corrupt newest version is refused: %s", err);
	m = m ? (model_free(m), NULL) : NULL;
	m = model_load(md, 1, err, sizeof err);
	CHECK(m != NULL, "the older version still loads: %s", err);
	model_free(m);

	/* keep 3: publishing v3..v5 leaves v3, v4, v5 */
	pub.emb = e;
	for (int i = 0; i < 3; i++)
		CHECK(model_publish(md, &pub, &v, err, sizeof err) == 0, "publish: %s", err);
	uint32_t *vs;
	size_t n;
	CHECK(model_versions(md, &vs, &n, err, sizeof err) == 0 && n == 3 && vs[0] == 3 && vs[2] == 5,
	    "keep 3 prunes to versions 3..5 (%zu left)", n);
	free(vs);
	CHECK(!count_tmp(md), "the dead writer's temporary directory is pruned");
	/* the unmapped embeddings stay valid while loaded even if the version is pruned */
	m = model_load(md, 3, err, sizeof err);
	CHECK(m != NULL, "load v3: %s", err);
	CHECK(model_prune(md, 1, err, sizeof err) == 0, "prune to 1");
	CHECK(m && emb_find(m->emb, "item9", 5) > 0, "a loaded version survives its pruning");
	model_free(m);
	CHECK(model_latest(md, &v, err, sizeof err) == 1 && v == 5, "newest kept");

	/* a network and embeddings of different d are refused */
	struct qnet *wide = small_net(16);
	pub.net = wide;
	CHECK(model_publish(md, &pub, &v, err, sizeof err) == 0, "publish mismatched dims");
	CHECK(model_load(md, v, err, sizeof err) == NULL && strstr(err, "wrong dims: d is 8, want 16"),
	    "embeddings of the wrong dimension refused: %s", err);
	qnet_free(wide);
	qnet_free(net);
	emb_free(e);
}

/* The input positions a manifest records read back as published; a malformed "input" is refused. */
static void input_tests(void)
{
	char md[300], path[400];
	snprintf(md, sizeof md, "%s/models-input", root);
	struct qnet *net = small_net(8);
	struct emb *e = small_emb(8, 20);
	const struct model_input_pos in[] = { { "transitions", 0, 1585 }, { "transitions", 1, 1515 }, { "other", 7, 0 } };
	struct model_publication pub = { .net = net, .emb = e, .input = in, .ninput = 3 };
	strcpy(pub.info.mode, "online");
	strcpy(pub.info.target, "slateq");
	uint32_t v;
	CHECK(model_publish(md, &pub, &v, err, sizeof err) == 0, "publish with input: %s", err);
	struct model_input_pos *got;
	size_t n;
	snprintf(path, sizeof path, "%s/%010u/%s", md, v, MODEL_MANIFEST_FILE);
	CHECK(model_input_read(path, &got, &n, err, sizeof err) == 0 && n == 3, "read input: %s", err);
	int same = n == 3;
	for (size_t i = 0; same && i < n; i++)
		same = !strcmp(got[i].topic, in[i].topic) && got[i].partition == in[i].partition &&
		    got[i].offset == in[i].offset;
	CHECK(same, "the positions round-trip in order");
	model_input_free(got, n);
	uint32_t v_in = v;
	struct model *m = model_load(md, v_in, err, sizeof err);
	same = m && m->ninput == 3;
	for (size_t i = 0; same && i < m->ninput; i++)
		same = !strcmp(m->input[i].topic, in[i].topic) && m->input[i].partition == in[i].partition &&
		    m->input[i].offset == in[i].offset;
	CHECK(same, "model_load gives the positions too: %s", m ? "" : err);
	model_free(m);

	pub.ninput = 0;
	CHECK(model_publish(md, &pub, &v, err, sizeof err) == 0, "publish without input: %s", err);
	snprintf(path, sizeof path, "%s/%010u/%s", md, v, MODEL_MANIFEST_FILE);
	CHECK(model_input_read(path, &got, &n, err, sizeof err) == 0 && n == 0 && got == NULL,
	    "a manifest without input reads as none");

	static const char *bad[] = {
		"{\"input\": {}}", "{\"input\": [{\"topic\": \"t\", \"partition\": 0}]}",
		"{\"input\": [{\"topic\": \"t\", \"partition\": -1, \"offset\": 3}]}",
		"{\"input\": [{\"topic\": \"t\", \"partition\": 0, \"offset\": 3}, {\"topic\": 5, \"partition\": 0, \"offset\": 3}]}",
		"{\"input\": [{\"topic\": \"t\", \"partition\": 0, \"offset\": -3}]}", "[]", "{",
	};
	snprintf(path, sizeof path, "%s/bad-manifest.json", root);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		FILE *f = fopen(path, "w");
		CHECK(f && fputs(bad[i], f) >= 0 && fclose(f) == 0, "write %s", path);
		got = (void *)1;
		CHECK(model_input_read(path, &got, &n, err, sizeof err) == -1 && got == NULL && n == 0 &&
		    strstr(err, path), "malformed input %zu refused: %s", i, err);
	}
	/* a version whose manifest has a malformed "input" is refused whole, naming its manifest */
	snprintf(path, sizeof path, "%s/%010u/%s", md, v_in, MODEL_MANIFEST_FILE);
	json_t *o = json_load_file(path, 0, NULL);
	chmod(path, 0644);
	CHECK(o && json_object_set_new(o, "input", json_object()) == 0 && json_dump_file(o, path, 0) == 0,
	    "rewrite %s", path);
	json_decref(o);
	m = model_load(md, v_in, err, sizeof err);
	CHECK(!m && strstr(err, path) && strstr(err, "input"), "a version with a malformed input refused: %s", err);
	model_free(m);
	qnet_free(net);
	emb_free(e);
}

int main(void)
{
	snprintf(root, sizeof root, "%s/test_model.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	emb_tests();
	net_tests();
	store_tests();
	input_tests();
	sh("rm -rf %s%s", root, "");
	return check_done();
}
