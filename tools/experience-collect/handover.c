/* handover.c: experience-collect's Kafka hand-over — the position committed per partition with what was open, and its replay by the next reader. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "jbuf.h"
#include "kafka.h"
#include "lineio.h"
#include "toolio.h"
#include "xalloc.h"

#include "chain.h"
#include "ec.h"
#include "handover.h"
#include "session.h"

/*
 * What a partition's committed position says, in its commit metadata, to
 * the reader that takes the partition over: "ec2 R W D1 D2 ... / L1 L2 ...",
 * decimal numbers. The position is never past the first sample of a session
 * still open; the reader before had read up to the position plus R, where
 * its watermark of the partition was W (WATERMARK_NONE: none yet); the
 * sessions open then began at the position plus D1, then D2 after that, and
 * so on; in those sessions it had rejected as late the samples at the
 * position plus L1, then L2 after that, and so on (the part from "/" is
 * left out when there are none). Every other session met before that end
 * was closed and written: its samples are skipped. A description longer
 * than META_MAX is not stored. "ec1 R D1 D2 ..." (no watermark, no late
 * samples) is read too.
 */
#define META_MAGIC	"ec2"
#define META_MAGIC_1	"ec1"
#define META_MAX	4000	/* under the brokers' default offset.metadata.max.bytes, 4096 */

/* The partition-table index of partition of topic, added when new. */
int32_t
part_index(const char *topic, int32_t partition)
{
	size_t i;

	for (i = 0; i < C.nparts; i++)
		if (C.parts[i].partition == partition && strcmp(C.parts[i].topic, topic) == 0)
			return (int32_t)i;
	C.parts = xreallocarray(C.parts, C.nparts + 1, sizeof *C.parts);
	memset(&C.parts[i], 0, sizeof C.parts[i]);
	C.parts[i].topic = xstrdup(topic);
	C.parts[i].partition = partition;
	C.parts[i].replay_end = -1;
	C.parts[i].wm_now = WATERMARK_NONE;
	session_heap_init(&C.parts[i].heap);
	C.nparts++;
	return (int32_t)i;
}

/* Ends the replay of partition pi: its rebuilt sessions go on under the watermark. */
void
replay_end(int32_t pi)
{
	struct part *pt = &C.parts[pi];
	struct session *s;

	pt->replay_end = -1;
	free(pt->pend);
	pt->pend = NULL;
	pt->npend = pt->ipend = 0;
	free(pt->plate);
	pt->plate = NULL;
	pt->nplate = pt->iplate = 0;
	for (s = C.lru_head; s; s = s->lru_next)
		if (s->part == pi && s->frozen) {
			s->frozen = 0;
			session_rewake(s);
		}
}

/* Appends offset to the array *v of *n offsets (room for *cap). */
static void
offsets_add(int64_t **v, size_t *n, size_t *cap, int64_t offset)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		*v = xreallocarray(*v, *cap, sizeof **v);
	}
	(*v)[(*n)++] = offset;
}

static int
offset_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Gathers, per partition, the first offsets of its open sessions and the
 * offsets of their late samples (with those of a replay not met yet), and
 * the oldest offset held.
 */
static void
gather_open(void)
{
	struct session *s;
	struct page *p;
	struct part *pt;
	size_t i, k;

	for (i = 0; i < C.nparts; i++) {
		pt = &C.parts[i];
		pt->nstarts = pt->nlates = 0;
		pt->held = pt->next_read;
		for (k = pt->ipend; k < pt->npend; k++)
			offsets_add(&pt->starts, &pt->nstarts, &pt->capstarts, pt->pend[k]);
		for (k = pt->iplate; k < pt->nplate; k++)
			offsets_add(&pt->lates, &pt->nlates, &pt->caplates, pt->plate[k]);
	}
	for (s = C.lru_head; s; s = s->lru_next) {
		if (s->part >= 0) {
			pt = &C.parts[s->part];
			offsets_add(&pt->starts, &pt->nstarts, &pt->capstarts, s->start_offset);
			for (k = 0; k < s->nlate; k++)
				offsets_add(&pt->lates, &pt->nlates, &pt->caplates, s->late[k]);
		}
		for (k = 0; k < s->pages.n; k++)
			if ((p = s->pages.v[k])->part >= 0 && p->first_offset < C.parts[p->part].held)
				C.parts[p->part].held = p->first_offset;
	}
	/* (qsort's array may not be NULL, even empty) */
	for (i = 0; i < C.nparts; i++) {
		if (C.parts[i].nstarts)
			qsort(C.parts[i].starts, C.parts[i].nstarts, sizeof *C.parts[i].starts, offset_cmp);
		if (C.parts[i].nlates)
			qsort(C.parts[i].lates, C.parts[i].nlates, sizeof *C.parts[i].lates, offset_cmp);
	}
}

/*
 * Appends " d1 d2 ...", the ascending offsets of v from prev on, each less
 * the one before (the first less prev), to b while it fits.
 */
static void
describe_offsets(struct jbuf *b, const int64_t *v, size_t n, int64_t prev)
{
	size_t k;

	for (k = 0; k < n && b->len <= META_MAX; k++) {
		if (v[k] < prev)
			continue;
		jbuf_lit(b, " ");
		jbuf_i64(b, v[k] - prev);
		prev = v[k];
	}
}

/*
 * The position to commit for partition pi (after gather_open) with its
 * description in b; returns 1 when described, 0 when the description is too
 * long, and the position is then that of the oldest open page.
 */
static int
describe_part(size_t pi, struct jbuf *b, int64_t *pos)
{
	struct part *pt = &C.parts[pi];
	int64_t end = pt->next_read, c = pt->held;

	b->len = 0;
	if (pt->replay_end > end)
		end = pt->replay_end;
	if (pt->nstarts > 0 && pt->starts[0] < c)
		c = pt->starts[0];
	*pos = c;
	if (c == end && pt->nstarts == 0 && pt->wm_now == WATERMARK_NONE)
		return 1;
	jbuf_lit(b, META_MAGIC " ");
	jbuf_i64(b, end - c);
	jbuf_lit(b, " ");
	jbuf_i64(b, pt->wm_now);
	describe_offsets(b, pt->starts, pt->nstarts, c);
	if (pt->nlates > 0 && pt->lates[pt->nlates - 1] >= c) {
		jbuf_lit(b, " /");
		describe_offsets(b, pt->lates, pt->nlates, c);
	}
	if (b->len <= META_MAX)
		return 1;
	b->len = 0;
	*pos = pt->held;
	return 0;
}

/* Stores, per assigned partition, the position from which a new reader rebuilds what is open, with its description. */
void
store_positions(void *arg)
{
	struct jbuf b = { 0 };
	int64_t pos;
	size_t i;

	if (C.nparts == 0)
		return;
	gather_open();
	for (i = 0; i < C.nparts; i++) {
		if (!C.parts[i].active)
			continue;
		if (!(C.parts[i].described = describe_part(i, &b, &pos)))
			(*C.n_undescribed)++;
		line_reader_store_meta(C.io->in, C.parts[i].topic, C.parts[i].partition, pos, b.p, b.len);
	}
	free(b.p);
}

/*
 * Reads " d1 d2 ..." at *p, differences of offsets from offset, into the
 * array *v of *n; leaves *p after them. 0, or -1 on a negative or missing
 * number.
 */
static int
read_offsets(char **p, int64_t offset, int64_t **v, size_t *n)
{
	char *e;
	long long d;

	for (; **p == ' ' && (*p)[1] != '/'; *p = e) {
		d = strtoll(++*p, &e, 10);
		if (e == *p || d < 0)
			return -1;
		offset += d;
		*v = xreallocarray(*v, *n + 1, sizeof **v);
		(*v)[(*n)++] = offset;
	}
	return 0;
}

/*
 * Reads the description committed with partition pi's start position
 * (offset) into its replay: its end, the sessions to rebuild, the late
 * samples in them, and the watermark it starts from. 0 when valid.
 */
int
read_description(struct part *pt, const char *meta, size_t len, int64_t offset)
{
	char *t = xmalloc(len + 1), *p, *e;
	long long v;
	int64_t wm = WATERMARK_NONE;
	int rv = -1, v1;

	memcpy(t, meta, len);
	t[len] = '\0';
	v1 = strncmp(t, META_MAGIC_1 " ", sizeof META_MAGIC_1) == 0;
	if (!v1 && strncmp(t, META_MAGIC " ", sizeof META_MAGIC) != 0)
		goto out;
	p = t + (v1 ? sizeof META_MAGIC_1 : sizeof META_MAGIC);
	v = strtoll(p, &e, 10);
	if (e == p || v < 0)
		goto out;
	pt->replay_end = offset + v;
	if (!v1) {
		p = e;
		v = strtoll(p, &e, 10);
		if (e == p || *p != ' ')
			goto out;
		wm = v;
	}
	p = e;
	if (read_offsets(&p, offset, &pt->pend, &pt->npend) != 0)
		goto out;
	if (!v1 && strncmp(p, " /", 2) == 0) {
		p += 2;
		if (read_offsets(&p, offset, &pt->plate, &pt->nplate) != 0 || pt->nplate == 0)
			goto out;
	}
	if (*p != '\0')
		goto out;
	if (wm > pt->wm_now)
		pt->wm_now = wm;
	rv = 0;
out:
	free(t);
	return rv;
}

/* Takes partition of topic on: notes where it starts and what the reader before left open. */
static void
take_over(const char *topic, int32_t partition)
{
	int32_t pi = part_index(topic, partition);
	struct part *pt = &C.parts[pi];
	const char *meta;
	int64_t offset;
	size_t len;

	replay_end(pi);
	pt->wm_now = WATERMARK_NONE;
	if ((meta = line_reader_start(C.io->in, topic, partition, &offset, &len)) == NULL) {
		diag_info(1, "kafka:%s/%" PRId32 ": no committed position known", topic, partition);
		return;
	}
	pt->active = 1;
	pt->next_read = offset;
	if (len == 0)
		return;
	if (read_description(pt, meta, len, offset) != 0) {
		diag_warn("kafka:%s/%" PRId32 ": commit metadata not understood; reading on from offset %" PRId64,
		    topic, partition, offset);
		replay_end(pi);
		return;
	}
	diag_info(2, "kafka:%s/%" PRId32 ": replaying from %" PRId64 " to %" PRId64 ", %zu open session(s), "
	    "%zu late sample(s), watermark %" PRId64, topic, partition, offset, pt->replay_end, pt->npend, pt->nplate,
	    pt->wm_now);
	if (pt->replay_end <= offset)
		replay_end(pi);
}

/*
 * Hands over the partitions marked revoking: those whose open sessions can
 * be described are committed at a position from which the next reader
 * rebuilds them, and dropped unwritten; the others have their sessions
 * closed and written (end "revoked") first.
 */
void
hand_over(void)
{
	struct jbuf b = { 0 };
	struct session *s, *nx;
	struct page *p;
	int64_t pos;
	size_t i, k;
	int hit;

	gather_open();
	for (i = 0; i < C.nparts; i++)
		if (C.parts[i].revoking)
			C.parts[i].described = describe_part(i, &b, &pos);
	free(b.p);
	for (s = C.lru_head; s; s = nx) {
		nx = s->lru_next;
		hit = 0;
		for (k = 0; k < s->pages.n && !hit; k++)
			hit = (p = s->pages.v[k])->part >= 0 && C.parts[p->part].revoking && !C.parts[p->part].described;
		if (hit) {
			(*C.n_revoked)++;
			session_progress(s, END_REVOKED);
		}
	}
	for (i = 0; i < C.nparts; i++)
		if (C.parts[i].revoking)
			watermark_forget(C.wm, C.parts[i].partition);
	tool_io_checkpoint(C.io);
	for (s = C.lru_head; s; s = nx) {
		nx = s->lru_next;
		if (s->part >= 0 && C.parts[s->part].revoking) {
			(*C.n_revoked)++;
			session_free(s);
		}
	}
	for (i = 0; i < C.nparts; i++)
		if (C.parts[i].revoking) {
			C.parts[i].revoking = 0;
			C.parts[i].active = 0;
			replay_end((int32_t)i);
		}
}

/*
 * A revoked partition is handed over (see hand_over). An assigned partition
 * is taken over, and joins the watermark at once, so that the samples of a
 * partition that delivers later are not taken for late ones.
 */
void
on_rebalance(void *arg, int assigned, const char *topic, const int32_t *partitions, size_t n)
{
	size_t i, j;

	diag_info(2, "%s %zu partition(s) of %s", assigned ? "assigned" : "revoking", n, topic);
	if (assigned) {
		for (j = 0; j < n; j++) {
			take_over(topic, partitions[j]);
			/* An assigned partition holds the watermark back until it delivers or goes idle. */
			watermark_observe(C.wm, partitions[j], INT64_MIN);
		}
		return;
	}
	for (i = 0; i < C.nparts; i++)
		for (j = 0; j < n; j++)
			if (C.parts[i].partition == partitions[j] && strcmp(C.parts[i].topic, topic) == 0)
				C.parts[i].revoking = 1;
	hand_over();
}
