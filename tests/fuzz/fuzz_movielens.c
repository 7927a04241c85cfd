/* fuzz_movielens.c: libFuzzer target — a movies.csv and a ratings.csv (split at a line "%%") through feed-sim's MovieLens world builder. */
/* fuzz-sources: tools/feed-sim/world.c */
/* fuzz-cflags: -Itools/feed-sim */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diag.h"
#include "feedsim.h"

static char movies[64], ratings[64];

/* Writes n bytes to path; 0 or -1. */
static int
put(const char *path, const uint8_t *p, size_t n)
{
	FILE *fp = fopen(path, "wb");

	if (fp == NULL)
		return -1;
	if (n > 0 && fwrite(p, 1, n, fp) != n) {
		fclose(fp);
		return -1;
	}
	return fclose(fp) == 0 ? 0 : -1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *sep = memmem(data, size, "\n%%\n", 4);
	size_t nm = sep != NULL ? (size_t)(sep - data) + 1 : size;
	struct fs_params p;
	struct fs_world *w;

	diag_verbosity = 0;
	if (movies[0] == '\0') {
		snprintf(movies, sizeof movies, "/tmp/pageturn-fuzz-movies.%ld", (long)getpid());
		snprintf(ratings, sizeof ratings, "/tmp/pageturn-fuzz-ratings.%ld", (long)getpid());
	}
	if (put(movies, data, nm) != 0 ||
	    (sep != NULL ? put(ratings, sep + 4, size - nm - 3) : put(ratings, data, size)) != 0)
		return 0;
	fs_params_default(&p);
	p.dim = 3;
	p.ml_iters = 2;
	p.ml_min_ratings = (double)(size % 3);
	if ((w = fs_world_movielens(&p, ratings, movies, (int)(size % 7), 1)) != NULL) {
		/* Every item number leads to one item, and each item has one number. */
		int n, found = 0;

		if (w->nitem < 2 || w->nuser < 0)
			abort();
		for (n = 0; n <= w->max_num; n++)
			if (w->by_num[n] != -1) {
				if (w->by_num[n] < 0 || w->by_num[n] >= w->nitem)
					abort();
				found++;
			}
		if (found != w->nitem)
			abort();
		fs_world_free(w);
	}
	return 0;
}
