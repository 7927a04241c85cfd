/* watermark.c: event-time progress over input partitions — max ts seen minus the allowed delay, min over partitions. */
#include <stdlib.h>
#include <time.h>

#include "watermark.h"
#include "xalloc.h"

struct wm_part {
	int32_t id;
	int64_t max_ts;		/* largest event time seen, outliers ahead apart */
	int64_t last_wall;	/* monotonic ms of the last record */
	int64_t run_min;	/* the earliest of the current run of outliers ahead */
	unsigned run;		/* outliers ahead in a row */
};

struct watermark {
	int64_t max_delay;
	int64_t idle_timeout;	/* 0: partitions never go idle */
	int64_t cur;		/* the last value returned, for monotony */
	int64_t max_ahead;	/* 0: no outliers */
	unsigned confirm;	/* outliers in a row that move the progress */
	int64_t last_any;	/* monotonic ms of the last record of any partition; -1 none */
	struct wm_part *parts;
	size_t nparts, cap;
	size_t last;		/* index of the last partition observed (a cache) */
};

static int64_t
wm_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct watermark *
watermark_new(int64_t max_delay_ms, int64_t idle_timeout_ms)
{
	struct watermark *wm = xcalloc(1, sizeof(*wm));

	wm->max_delay = max_delay_ms < 0 ? 0 : max_delay_ms;
	wm->idle_timeout = idle_timeout_ms < 0 ? 0 : idle_timeout_ms;
	wm->cur = WATERMARK_NONE;
	wm->last_any = -1;
	return wm;
}

void
watermark_set_max_ahead(struct watermark *wm, int64_t max_ahead_ms, unsigned confirm)
{
	wm->max_ahead = max_ahead_ms < 0 ? 0 : max_ahead_ms;
	wm->confirm = confirm < 1 ? 1 : confirm;
}

/* The slot of partition, created when absent. */
static struct wm_part *
wm_part(struct watermark *wm, int32_t partition)
{
	size_t i;

	if (wm->last < wm->nparts && wm->parts[wm->last].id == partition)
		return &wm->parts[wm->last];
	for (i = 0; i < wm->nparts; i++)
		if (wm->parts[i].id == partition)
			break;
	if (i == wm->nparts) {
		if (wm->nparts == wm->cap) {
			wm->cap = wm->cap ? wm->cap * 2 : 4;
			wm->parts = xreallocarray(wm->parts, wm->cap, sizeof(*wm->parts));
		}
		wm->parts[i].id = partition;
		wm->parts[i].max_ts = INT64_MIN;
		wm->parts[i].last_wall = 0;
		wm->parts[i].run = 0;
		wm->nparts++;
	}
	wm->last = i;
	return &wm->parts[i];
}

int
watermark_observe(struct watermark *wm, int32_t partition, int64_t ts_ms)
{
	struct wm_part *p = wm_part(wm, partition);

	p->last_wall = wm->last_any = wm_clock_ms();
	if (wm->max_ahead > 0 && p->max_ts != INT64_MIN && ts_ms > p->max_ts &&
	    ts_ms - p->max_ts > wm->max_ahead) {
		if (p->run == 0 || ts_ms < p->run_min)
			p->run_min = ts_ms;
		if (++p->run < wm->confirm)
			return WATERMARK_AHEAD;
		/* The stream moved on: its progress resumes from the earliest of the run. */
		ts_ms = p->run_min;
	}
	p->run = 0;
	if (ts_ms > p->max_ts)
		p->max_ts = ts_ms;
	return 0;
}

int64_t
watermark_quiet_ms(const struct watermark *wm)
{
	return wm->last_any < 0 ? -1 : wm_clock_ms() - wm->last_any;
}

/* max_ts - delay without overflow. */
static int64_t
wm_candidate(const struct watermark *wm, const struct wm_part *p)
{
	if (p->max_ts < WATERMARK_NONE + 1 + wm->max_delay)
		return WATERMARK_NONE;
	return p->max_ts - wm->max_delay;
}

/*
 * The minimum over active partitions. When every partition is idle, none holds
 * the others back: the watermark is then the maximum over them, so that
 * windows still close when all traffic stops.
 */
int64_t
watermark_get(struct watermark *wm)
{
	int64_t now = 0, lo = INT64_MAX, hi = WATERMARK_NONE, c;
	int active = 0;
	size_t i;

	if (wm->nparts == 0)
		return wm->cur;
	if (wm->idle_timeout > 0)
		now = wm_clock_ms();
	for (i = 0; i < wm->nparts; i++) {
		c = wm_candidate(wm, &wm->parts[i]);
		if (c > hi)
			hi = c;
		if (wm->idle_timeout > 0 && now - wm->parts[i].last_wall >= wm->idle_timeout)
			continue;
		active = 1;
		if (c < lo)
			lo = c;
	}
	c = active ? lo : hi;
	if (c > wm->cur)
		wm->cur = c;
	return wm->cur;
}

int64_t
watermark_get_part(struct watermark *wm, int32_t partition)
{
	int64_t c = wm_candidate(wm, wm_part(wm, partition)), all;
	int idle = wm->idle_timeout > 0 &&
	    wm_clock_ms() - wm_part(wm, partition)->last_wall >= wm->idle_timeout;

	if (idle && (all = watermark_get(wm)) > c)
		c = all;
	return c;
}

void
watermark_forget(struct watermark *wm, int32_t partition)
{
	size_t i;

	for (i = 0; i < wm->nparts; i++) {
		if (wm->parts[i].id == partition) {
			wm->parts[i] = wm->parts[--wm->nparts];
			wm->last = 0;
			return;
		}
	}
}

void
watermark_free(struct watermark *wm)
{
	if (wm == NULL)
		return;
	free(wm->parts);
	free(wm);
}
