/* progress.c: q-train's progress line on a terminal, and its clock. */
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

double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int progress_tty;
static double progress_last;

/* A progress line on a terminal: done of total (0: unknown) examples, the rate, the loss, the ETA. */
void
progress(const char *stage, uint64_t done, uint64_t total, double rate, double loss)
{
	double t = now_s();
	if (!progress_tty || t - progress_last < 0.25)
		return;
	progress_last = t;
	if (total && rate > 0)
		fprintf(stderr, "\r%s: %" PRIu64 "/%" PRIu64 " examples, %.0f/s, loss %.4f, ETA %.0fs   ", stage,
		    done, total, rate, loss, (double)(total - done) / rate);
	else
		fprintf(stderr, "\r%s: %" PRIu64 " examples, %.0f/s, loss %.4f   ", stage, done, rate, loss);
}

void
progress_end(void)
{
	if (progress_tty && progress_last > 0)
		fputc('\n', stderr);
	progress_last = 0;
}

/* Shows the progress line (on: stderr is a terminal and not -q) or not. */
void
progress_enable(int on)
{
	progress_tty = on;
}
