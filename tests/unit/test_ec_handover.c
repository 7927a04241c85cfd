/* test_ec_handover.c: experience-collect's commit metadata for a Kafka hand-over — "ec2" and the older "ec1" read back, and what is refused. */
/* test-links: experience-collect */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ec.h"
#include "handover.h"

/* Reads meta as committed at offset into a fresh partition; its result, the partition in *pt. */
static int
described(struct part *pt, const char *meta, int64_t offset)
{
	free(pt->pend);
	free(pt->plate);
	memset(pt, 0, sizeof *pt);
	pt->wm_now = WATERMARK_NONE;
	pt->replay_end = -1;
	return read_description(pt, meta, strlen(meta), offset);
}

static int
offsets_are(const int64_t *v, size_t n, const int64_t *want, size_t nwant)
{
	return n == nwant && (n == 0 || memcmp(v, want, n * sizeof *v) == 0);
}

int
main(void)
{
	struct part pt = { 0 };
	static const int64_t two[] = { 100, 103 }, late[] = { 101, 103 }, one[] = { 100 };
	static const char *const refused[] = {
		"", "ec1", "ec1 ", "ec3 5 0", "ec1 -5 0", "ec1 5 x", "ec1 5 0 -3", "ec1 5 0 3 junk",
		"ec1 5 0 / 1",		/* late samples are ec2's */
		"ec2 5", "ec2 5 ", "ec2 5 w 0", "ec2 5 7 0 /", "ec2 5 7 0 / ", "ec2 5 7 0 / x",
		"EC2 5 7 0",
	};
	size_t i;

	CHECK(described(&pt, "ec1 5 0 3", 100) == 0, "ec1 with two open sessions");
	CHECK(pt.replay_end == 105, "ec1: read to the position plus R: %lld", (long long)pt.replay_end);
	CHECK(offsets_are(pt.pend, pt.npend, two, 2), "ec1: sessions at the position plus D1, then D2 after it");
	CHECK(pt.nplate == 0 && pt.wm_now == WATERMARK_NONE, "ec1: no late samples, no watermark");

	CHECK(described(&pt, "ec1 0", 7) == 0 && pt.replay_end == 7 && pt.npend == 0, "ec1 with nothing open");

	CHECK(described(&pt, "ec2 5 1700000000000 0 3 / 1 2", 100) == 0, "ec2 with late samples");
	CHECK(pt.replay_end == 105 && pt.wm_now == 1700000000000LL, "ec2: its end and watermark");
	CHECK(offsets_are(pt.pend, pt.npend, two, 2), "ec2: the open sessions");
	CHECK(offsets_are(pt.plate, pt.nplate, late, 2), "ec2: the late samples, each after the one before");

	CHECK(described(&pt, "ec2 1 -9223372036854775808 0", 100) == 0 && pt.wm_now == WATERMARK_NONE &&
	    offsets_are(pt.pend, pt.npend, one, 1), "ec2 with no watermark yet, one session, no late part");

	for (i = 0; i < sizeof refused / sizeof refused[0]; i++)
		CHECK(described(&pt, refused[i], 100) != 0, "refused: \"%s\"", refused[i]);

	free(pt.pend);
	free(pt.plate);
	return check_done();
}
