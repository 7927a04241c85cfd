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

/*
 * The progress line on a terminal, redrawn at most 4 times a second (the
 * first call of a stage always draws): the stage, its epoch of epochs (0:
 * none), done of total examples of the epoch (total 0: unknown), the rate,
 * the loss so far (< 0: none yet) and, when the total is known, the time left
 * in the stage: the rest of this epoch and the epochs after it at this rate.
 * Each redraw clears what the last one left.
 */
void
progress(const char *stage, long epoch, long epochs, uint64_t done, uint64_t total, double rate, double loss)
{
	char ep[48] = "", lo[32] = "", eta[48] = "";
	double t = now_s();

	if (!progress_tty || (progress_last > 0 && t - progress_last < 0.25))
		return;
	progress_last = t;
	if (epochs > 0)
		snprintf(ep, sizeof ep, " epoch %ld/%ld", epoch, epochs);
	if (loss >= 0)
		snprintf(lo, sizeof lo, ", loss %.4f", loss);
	if (total > 0 && rate > 0)
		snprintf(eta, sizeof eta, ", %s left %.0fs", epochs > 0 ? "stage" : "input",
		    ((double)(epochs > epoch ? epochs - epoch : 0) * (double)total + (double)(total - done)) / rate);
	if (total > 0)
		fprintf(stderr, "\r%s%s: %" PRIu64 "/%" PRIu64 " examples, %.0f/s%s%s\033[K", stage, ep, done, total,
		    rate, lo, eta);
	else
		fprintf(stderr, "\r%s%s: %" PRIu64 " examples, %.0f/s%s\033[K", stage, ep, done, rate, lo);
}

/*
 * The reading stage's line: the examples read in elapsed seconds and their
 * rate and, when the input's size is known (bytes_total > 0: regular files),
 * the share of the input read and the time left in it at that pace.
 */
void
progress_reading(uint64_t examples, double elapsed, uint64_t bytes_done, uint64_t bytes_total)
{
	double t = now_s(), rate = elapsed > 0 ? (double)examples / elapsed : 0;

	if (!progress_tty || (progress_last > 0 && t - progress_last < 0.25))
		return;
	/* the line that opens the stage leaves the next one free to draw at once */
	if (examples > 0)
		progress_last = t;
	if (bytes_total == 0 || bytes_done == 0) {
		fprintf(stderr, "\rreading: %" PRIu64 " examples, %.0f/s\033[K", examples, rate);
		return;
	}
	if (bytes_done > bytes_total)
		bytes_done = bytes_total;
	fprintf(stderr, "\rreading: %" PRIu64 " examples, %.0f/s, %.0f%% of the input, input left %.0fs\033[K",
	    examples, rate, 100.0 * (double)bytes_done / (double)bytes_total,
	    elapsed * (double)(bytes_total - bytes_done) / (double)bytes_done);
}

/* Ends a stage's progress: the line is cleared, so that what follows starts on a clean line. */
void
progress_end(void)
{
	if (progress_tty && progress_last > 0)
		fputs("\r\033[K", stderr);
	progress_last = 0;
}

/* Shows the progress line (on: stderr is a terminal and not -q) or not. */
void
progress_enable(int on)
{
	progress_tty = on;
}
