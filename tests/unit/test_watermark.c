/* test_watermark.c: unit tests of the event-time watermark (common/watermark.c). */
#include <time.h>

#include "check.h"
#include "watermark.h"

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0)
		;
}

int
main(void)
{
	struct watermark *wm;

	/* One partition (files and pipes). */
	wm = watermark_new(1000, 0);
	CHECK(watermark_get(wm) == WATERMARK_NONE, "empty: %lld", (long long)watermark_get(wm));
	watermark_observe(wm, -1, 10000);
	CHECK(watermark_get(wm) == 9000, "max - delay: %lld", (long long)watermark_get(wm));
	watermark_observe(wm, -1, 9500);
	CHECK(watermark_get(wm) == 9000, "older event does not move it: %lld", (long long)watermark_get(wm));
	watermark_observe(wm, -1, 12001);
	CHECK(watermark_get(wm) == 11001, "advances: %lld", (long long)watermark_get(wm));
	watermark_free(wm);

	/* Several partitions: the minimum; a late-joining partition cannot move it back. */
	wm = watermark_new(0, 0);
	watermark_observe(wm, 0, 5000);
	watermark_observe(wm, 1, 7000);
	CHECK(watermark_get(wm) == 5000, "min over partitions: %lld", (long long)watermark_get(wm));
	watermark_observe(wm, 0, 8000);
	CHECK(watermark_get(wm) == 7000, "min moves: %lld", (long long)watermark_get(wm));
	watermark_observe(wm, 2, 100);
	CHECK(watermark_get(wm) == 7000, "monotone: %lld", (long long)watermark_get(wm));
	watermark_observe(wm, 2, 9000);
	CHECK(watermark_get(wm) == 7000, "partition 2 caught up, 1 holds: %lld", (long long)watermark_get(wm));

	/* Forgetting a revoked partition releases it. */
	watermark_observe(wm, 0, 20000);
	watermark_observe(wm, 2, 20000);
	CHECK(watermark_get(wm) == 7000, "held by partition 1: %lld", (long long)watermark_get(wm));
	watermark_forget(wm, 1);
	CHECK(watermark_get(wm) == 20000, "partition 1 forgotten: %lld", (long long)watermark_get(wm));
	watermark_forget(wm, 42);
	CHECK(watermark_get(wm) == 20000, "unknown partition forgotten: %lld", (long long)watermark_get(wm));
	watermark_free(wm);

	/* Idle partitions stop holding it back; when all are idle, the maximum holds. */
	wm = watermark_new(100, 40);
	watermark_observe(wm, 0, 1000);
	watermark_observe(wm, 1, 5000);
	CHECK(watermark_get(wm) == 900, "both active: %lld", (long long)watermark_get(wm));
	sleep_ms(60);
	watermark_observe(wm, 1, 6000);
	CHECK(watermark_get(wm) == 5900, "partition 0 idle: %lld", (long long)watermark_get(wm));
	sleep_ms(60);
	CHECK(watermark_get(wm) == 5900, "all idle: %lld", (long long)watermark_get(wm));
	watermark_observe(wm, 0, 1200);
	CHECK(watermark_get(wm) == 5900, "woken partition does not move it back: %lld",
	    (long long)watermark_get(wm));
	watermark_free(wm);

	/* One partition's own progress: its max - delay while it is active, whatever the others do. */
	wm = watermark_new(100, 40);
	watermark_observe(wm, 0, 1000);
	watermark_observe(wm, 1, 5000);
	watermark_observe(wm, 2, INT64_MIN);
	CHECK(watermark_get_part(wm, 1) == 4900, "own progress: %lld", (long long)watermark_get_part(wm, 1));
	CHECK(watermark_get_part(wm, 0) == 900, "own progress, behind: %lld", (long long)watermark_get_part(wm, 0));
	CHECK(watermark_get_part(wm, 2) == WATERMARK_NONE, "nothing delivered: %lld",
	    (long long)watermark_get_part(wm, 2));
	sleep_ms(60);
	watermark_observe(wm, 1, 6000);
	CHECK(watermark_get_part(wm, 0) == 5900, "idle: at least all partitions': %lld",
	    (long long)watermark_get_part(wm, 0));
	CHECK(watermark_get_part(wm, 1) == 5900, "active: its own: %lld", (long long)watermark_get_part(wm, 1));
	watermark_free(wm);

	/* Extreme values do not overflow. */
	wm = watermark_new(INT64_MAX / 2, 0);
	watermark_observe(wm, 3, INT64_MIN + 5);
	CHECK(watermark_get(wm) == WATERMARK_NONE, "no overflow: %lld", (long long)watermark_get(wm));
	watermark_free(wm);
	watermark_free(NULL);

	return check_done();
}
