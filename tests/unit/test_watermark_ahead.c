/* test_watermark_ahead.c: unit tests of the watermark's bound on outliers ahead and of its quiet time (common/watermark.c). */
#include "check.h"
#include "watermark.h"

#define MIN 60000LL
#define HOUR (60 * MIN)

int
main(void)
{
	struct watermark *wm;
	int64_t t = 1732345200000LL;
	int i, r;

	/* Without the bound (the default), one event 12 h ahead moves it: the old behaviour, kept. */
	wm = watermark_new(MIN, 0);
	watermark_observe(wm, -1, t);
	CHECK(watermark_observe(wm, -1, t + 12 * HOUR) == 0, "no bound: nothing is an outlier");
	CHECK(watermark_get(wm) == t + 12 * HOUR - MIN, "no bound: moved 12 h");
	watermark_free(wm);

	/* With it, the outlier is reported and the progress follows the rest of the stream. */
	wm = watermark_new(MIN, 0);
	watermark_set_max_ahead(wm, 10 * MIN, 4);
	CHECK(watermark_quiet_ms(wm) == -1, "quiet before any event: %lld", (long long)watermark_quiet_ms(wm));
	watermark_observe(wm, -1, t);
	CHECK(watermark_quiet_ms(wm) >= 0 && watermark_quiet_ms(wm) < 1000, "quiet just after an event: %lld",
	    (long long)watermark_quiet_ms(wm));
	CHECK(watermark_observe(wm, -1, t + 12 * HOUR) == WATERMARK_AHEAD, "12 h ahead: an outlier");
	CHECK(watermark_get(wm) == t - MIN, "outlier does not move it: %lld", (long long)(watermark_get(wm) - t));
	for (i = 1; i <= 100; i++)
		CHECK(watermark_observe(wm, -1, t + i * 1000) == 0, "the stream goes on: %d", i);
	CHECK(watermark_get(wm) == t + 100000 - MIN, "follows the stream: %lld", (long long)(watermark_get(wm) - t));
	CHECK(watermark_observe(wm, -1, t + 109 * 1000 + 9 * MIN) == 0, "just within the bound: not an outlier");

	/* Outliers interleaved with the stream never confirm; a run of them does (a gap, the stream moved on). */
	for (i = 0; i < 10; i++) {
		CHECK(watermark_observe(wm, -1, t + 12 * HOUR + i) == WATERMARK_AHEAD, "interleaved outlier %d", i);
		watermark_observe(wm, -1, t + 10 * MIN + i);
	}
	CHECK(watermark_get(wm) < t + HOUR, "interleaved outliers hold it back: %lld", (long long)(watermark_get(wm) - t));
	r = 0;
	for (i = 0; i < 4; i++)
		r += watermark_observe(wm, -1, t + 2 * HOUR + (3 - i) * 1000) == WATERMARK_AHEAD;
	CHECK(r == 3, "the run's first three are outliers, the fourth confirms: %d", r);
	CHECK(watermark_get(wm) == t + 2 * HOUR - MIN, "moved to the earliest of the run: %lld",
	    (long long)(watermark_get(wm) - t));
	watermark_free(wm);

	/* Per partition: an outlier in one does not count towards another's run. */
	wm = watermark_new(0, 0);
	watermark_set_max_ahead(wm, MIN, 2);
	watermark_observe(wm, 0, t);
	watermark_observe(wm, 1, t);
	CHECK(watermark_observe(wm, 0, t + HOUR) == WATERMARK_AHEAD, "partition 0 outlier");
	CHECK(watermark_observe(wm, 1, t + HOUR) == WATERMARK_AHEAD, "partition 1 outlier");
	CHECK(watermark_get(wm) == t, "neither moved: %lld", (long long)(watermark_get(wm) - t));
	watermark_free(wm);
	return check_done();
}
