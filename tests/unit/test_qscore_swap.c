/* test_qscore_swap.c: q-score's model swap — readers hammer acquire/release while versions are swapped in; no version goes backwards, none is freed in use, all are freed. */
/* test-links: q-score */
#include <pthread.h>
#include <string.h>

#include "check.h"
#include "qscore.h"
#include "xalloc.h"

#define READERS 4
#define SWAPS 20000

static struct qs_models *ms;
static atomic_int done;

struct result {
	long reads, backwards, torn;
};

static void *
reader(void *arg)
{
	struct result *r = arg;
	uint32_t last = 0, v;
	struct qs_model *qm;
	int i;

	while (!atomic_load(&done)) {
		qm = qs_model_acquire(ms);
		if (qm == NULL)
			continue;
		v = qm->m->version;
		/* the version's canary must hold for as long as the reference is held */
		for (i = 0; i < 20; i++)
			if (qm->m->info.updates != (uint64_t)v * 7 || atomic_load(&qm->refs) < 1)
				r->torn++;
		if (v < last)
			r->backwards++;
		last = v;
		r->reads++;
		qs_model_release(ms, qm);
	}
	return NULL;
}

static struct qs_model *
fake(uint32_t v)
{
	struct qs_model *qm = xcalloc(1, sizeof *qm);

	qm->m = xcalloc(1, sizeof *qm->m);
	qm->m->version = v;
	qm->m->info.updates = (uint64_t)v * 7;
	return qm;
}

int
main(void)
{
	struct qs_counters ct = { 0 };
	struct qs_config cf = { .counters = &ct, .max_candidates = 10 };
	struct qs_models_opts o = { .dir = "/nonexistent", .poll_ms = 1000, .cf = &cf };
	struct result res[READERS] = { { 0 } };
	pthread_t tid[READERS];
	struct qs_model *qm;
	long reads = 0, backwards = 0, torn = 0;
	uint32_t v;
	int i;

	ms = qs_models_new(&o);
	CHECK(qs_model_acquire(ms) == NULL, "nothing served at first");
	qs_models_swap_in(ms, fake(1));
	for (i = 0; i < READERS; i++)
		pthread_create(&tid[i], NULL, reader, &res[i]);
	for (v = 2; v <= SWAPS; v++) {
		qs_models_swap_in(ms, fake(v));
		if (v % 16 == 0)
			qs_models_free_retired(ms);	/* as the loader does when woken */
	}
	atomic_store(&done, 1);
	for (i = 0; i < READERS; i++) {
		pthread_join(tid[i], NULL);
		reads += res[i].reads;
		backwards += res[i].backwards;
		torn += res[i].torn;
	}
	CHECK(reads > SWAPS, "readers ran alongside the swaps (%ld reads)", reads);
	CHECK(backwards == 0, "%ld reads saw a version older than one seen before", backwards);
	CHECK(torn == 0, "%ld reads saw a model changed or freed under them", torn);
	qm = qs_model_acquire(ms);
	CHECK(qm != NULL && qm->m->version == SWAPS && atomic_load(&qm->refs) == 2, "the last version is served, one reference ours");
	qs_model_release(ms, qm);
	CHECK(qs_models_swaps(ms) == SWAPS, "every swap counted");
	qs_models_free_retired(ms);
	CHECK(qs_models_pending(ms) == 0, "no hazard slot held, every replaced version freed");
	qs_models_free(ms);	/* frees the served one; ASan builds report any leak or double free */
	return check_done();
}
