/* publish.c: q-train's publisher thread — writes the newest snapshot of the heads into the model store, and commits the input it covers. */
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
#include "modelbus.h"
#include "qnet.h"
#include "sig.h"
#include "stats.h"
#include "toolio.h"
#include "xalloc.h"
#include "qtrain.h"

void *
publisher_main(void *arg)
{
	struct publisher *pb = arg;
	char err[512];
	pthread_mutex_lock(&pb->mu);
	for (;;) {
		while (!pb->pending && !pb->stop)
			pthread_cond_wait(&pb->cv, &pb->mu);
		if (!pb->pending)
			break;
		struct qnet *net = pb->pending;
		struct model_info info = pb->info;
		struct positions pos = pb->pending_pos;
		pb->pending = NULL;
		pb->pending_pos = (struct positions){ 0 };
		pb->writing = 1;
		pthread_cond_signal(&pb->taken);
		char *link = xstrdup(pb->emb_link);
		pthread_mutex_unlock(&pb->mu);

		/*
		 * A version learned what its parent did: a partition this process
		 * has not read (not assigned to it, or nothing new in it) keeps the
		 * parent's position in the manifest.
		 */
		struct positions covers;
		positions_copy(&covers, &pb->covers);
		for (size_t i = 0; i < pos.n; i++)
			positions_note(&covers, pos.p[i].topic, pos.p[i].partition, pos.p[i].offset);
		struct model_publication pub = { .net = net, .emb_link = link, .info = info, .warmup = pb->warmup,
			.warmup_len = pb->warmup_len, .keep = (unsigned)pb->o->keep, .input = covers.p, .ninput = covers.n };
		uint32_t v = 0;
		int r = model_publish(pb->o->modeldir, &pub, &v, err, sizeof err);
		if (r < 0)
			diag_warn("publish: %s", err);
		else
			diag_info(2, "published version %u", v);
		qnet_free(net);
		free(link);

		pthread_mutex_lock(&pb->mu);
		pb->writing = 0;
		pthread_cond_signal(&pb->taken);
		if (r < 0) {
			pb->failed = 1;
			positions_free(&pos);
			positions_free(&covers);
		} else {
			positions_free(&pb->covers);
			pb->covers = covers;
			positions_free(&pb->published_pos);
			pb->published_pos = pos;
			__atomic_store_n(&pb->published_new, 1, __ATOMIC_RELEASE);
			char *dir = model_version_dir(pb->o->modeldir, v);
			free(pb->emb_link);
			pb->emb_link = xasprintf("%s/%s", dir, MODEL_EMB_FILE);
			free(dir);
			pb->last = v;
			pb->info.parent = v;
			__atomic_store_n(g_version, (int64_t)v, __ATOMIC_RELAXED);
			__atomic_add_fetch(n_published, 1, __ATOMIC_RELAXED);
		}
		if (r == 0)
			publish_remote(pb->o, v);
	}
	pthread_mutex_unlock(&pb->mu);
	return NULL;
}

/*
 * How many parameters of net and of the embedding table emb (may be NULL) are
 * not finite; says so when any is. A version holding one is never published.
 */
size_t
nonfinite_params(const struct qnet *net, const struct emb *emb)
{
	size_t n = qnet_nonfinite(net), r, c, d;
	const float *row;

	if (emb != NULL) {
		d = emb_dim(emb);
		for (r = 0; r < emb_rows(emb); r++)
			for (row = emb_row(emb, (uint32_t)r), c = 0; c < d; c++)
				if (!isfinite(row[c]))
					n++;
	}
	if (n > 0)
		diag_warn("%zu parameters are not finite (the training diverged): no version published", n);
	return n;
}

/*
 * Hands a snapshot of net, covering the input up to pos, to the publisher:
 * it replaces one the thread has not started on, or with every_snapshot
 * waits until the thread has taken that one. -1 after a diagnostic, and
 * nothing handed over, when a parameter of net is not finite.
 */
int
publish_snapshot(struct publisher *pb, const struct qnet *net, const struct model_info *info,
    const struct positions *pos)
{
	if (nonfinite_params(net, NULL) > 0)
		return -1;
	struct qnet *snap = qnet_clone(net);
	struct positions snappos;
	positions_copy(&snappos, pos);
	pthread_mutex_lock(&pb->mu);
	while (pb->every_snapshot && pb->pending)
		pthread_cond_wait(&pb->taken, &pb->mu);
	qnet_free(pb->pending);
	positions_free(&pb->pending_pos);
	pb->pending = snap;
	pb->pending_pos = snappos;
	uint32_t parent = pb->info.parent;
	pb->info = *info;
	pb->info.parent = parent;
	pthread_cond_signal(&pb->cv);
	pthread_mutex_unlock(&pb->mu);
	return 0;
}

/*
 * Commits the input positions of the newest version published since the last
 * call: the heads learned from the input before them are in the store, so a
 * restart loads that version and reads on from there.
 */
void
commit_published(struct publisher *pb)
{
	struct positions pos;
	if (!__atomic_load_n(&pb->published_new, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&pb->mu);
	pos = pb->published_pos;
	pb->published_pos = (struct positions){ 0 };
	__atomic_store_n(&pb->published_new, 0, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&pb->mu);
	for (size_t i = 0; i < pos.n; i++)
		line_reader_store(io->in, pos.p[i].topic, pos.p[i].partition, pos.p[i].offset);
	tool_io_checkpoint(io);
	positions_free(&pos);
}

/* The contents of a small file (malloc'd, *len set), or NULL when it cannot be read. */
char *
read_small_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	*len = 0;
	if (!f)
		return NULL;
	size_t cap = 0;
	char tmp[8192];
	size_t n;
	while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) {
		buf = xrealloc(buf, cap + n);
		memcpy(buf + cap, tmp, n);
		cap += n;
	}
	fclose(f);
	*len = cap;
	return buf;
}

/*
 * Makes m (a newer offline version) the parent of the versions to come, its
 * embedding file the one they link and its warm-up requests theirs. Waits
 * until the thread has written every snapshot handed to it.
 */
void
publisher_rebase(struct publisher *pb, const struct model *m)
{
	char *wp = xasprintf("%s/%s", m->dir, MODEL_WARMUP_FILE);

	pthread_mutex_lock(&pb->mu);
	while (pb->pending || pb->writing)
		pthread_cond_wait(&pb->taken, &pb->mu);
	free(pb->emb_link);
	pb->emb_link = xasprintf("%s/%s", m->dir, MODEL_EMB_FILE);
	pb->info = m->info;
	pb->info.parent = m->version;
	free(pb->warmup);
	pb->warmup = read_small_file(wp, &pb->warmup_len);
	pthread_mutex_unlock(&pb->mu);
	free(wp);
}

static struct modelbus_pub *remote;
static uint64_t *n_remote, *n_remote_failed;

/*
 * With --publish kafka:TOPIC, opens the producer (with -b and -X) and the
 * counters of publish_remote(). 0, or -1 after a diagnostic when the
 * configuration is refused.
 */
int
publish_remote_open(const struct qt_opts *o)
{
	if (o->publish == NULL)
		return 0;
	n_remote = stats_counter(io->st, "published_kafka");
	n_remote_failed = stats_counter(io->st, "published_kafka_failed");
	remote = modelbus_pub_open(&io->opts->kafka, o->publish + 6);
	return remote ? 0 : -1;
}

/*
 * Sends version of the store to the topic of --publish (nothing without
 * it). 0, or -1 after a diagnostic (counted): the version stays in the
 * store all the same.
 */
int
publish_remote(const struct qt_opts *o, uint32_t version)
{
	char err[512];

	if (remote == NULL)
		return 0;
	if (modelbus_publish(remote, o->modeldir, version, err, sizeof err) < 0) {
		diag_warn("publish: version %u: %s", version, err);
		__atomic_add_fetch(n_remote_failed, 1, __ATOMIC_RELAXED);
		return -1;
	}
	diag_info(1, "published version %u to %s", version, o->publish);
	__atomic_add_fetch(n_remote, 1, __ATOMIC_RELAXED);
	return 0;
}

/* Closes the producer of --publish. */
void
publish_remote_close(void)
{
	modelbus_pub_close(remote);
	remote = NULL;
}
