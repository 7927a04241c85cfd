/* emit.c: experience-collect's output — the transition of a session's first open page, and the history it carries on. */
#include <stdlib.h>
#include <string.h>

#include "jbuf.h"
#include "xalloc.h"

#include "ec.h"
#include "emit.h"
#include "session.h"

/* Appends a double as a JSON real (always with a '.' or an exponent). */
static void
put_real(struct jbuf *b, double d)
{
	size_t start = b->len, i;

	jbuf_printf(b, "%.10g", d);
	for (i = start; i < b->len; i++)
		if (b->p[i] == '.' || b->p[i] == 'e')
			return;
	jbuf_lit(b, ".0");
}

/* Whether item i of p enters the history: clicked or paid, and not already by a copy of it shown earlier on p. */
static int
hist_worthy(const struct page *p, uint32_t i)
{
	uint32_t j;

	if (!(p->items[i].click || p->items[i].pay))
		return 0;
	for (j = 0; j < i; j++)
		if ((p->items[j].click || p->items[j].pay) &&
		    strcmp(p->str + p->items[j].id_off, p->str + p->items[i].id_off) == 0)
			return 0;
	return 1;
}

/* Appends the hist of s followed by the clicked or paid items of p (NULL: none), the last --hist-len. */
static void
put_hist(struct jbuf *b, const struct session *s, const struct page *p)
{
	size_t nclick = 0, skip, k = 0;
	uint32_t i;

	if (p)
		for (i = 0; i < p->nitems; i++)
			nclick += hist_worthy(p, i);
	skip = s->hist_n + nclick > C.hist_len ? s->hist_n + nclick - C.hist_len : 0;
	jbuf_lit(b, "[");
	for (k = skip; k < s->hist_n; k++) {
		if (k > skip)
			jbuf_lit(b, ",");
		jbuf_strz(b, s->hist[(s->hist_head + k) % C.hist_len]);
	}
	k = skip < s->hist_n ? s->hist_n - skip : 0;
	skip = skip > s->hist_n ? skip - s->hist_n : 0;
	for (i = 0; p && i < p->nitems; i++) {
		if (!hist_worthy(p, i))
			continue;
		if (skip) {
			skip--;
			continue;
		}
		if (k++)
			jbuf_lit(b, ",");
		jbuf_strz(b, p->str + p->items[i].id_off);
	}
	jbuf_lit(b, "]");
}

static void
put_items(struct jbuf *b, const struct page *p, int full)
{
	const struct item *it;
	uint32_t i;

	jbuf_lit(b, "[");
	for (i = 0; i < p->nitems; i++) {
		it = &p->items[i];
		if (i)
			jbuf_lit(b, ",");
		jbuf_lit(b, "{\"item_id\":");
		jbuf_strz(b, p->str + it->id_off);
		if (full) {
			jbuf_lit(b, ",\"pos\":");
			jbuf_i64(b, it->pos);
		}
		jbuf_lit(b, ",\"features\":");
		jbuf_floats(b, p->fl + it->feat_off, it->nfeat);
		if (full) {
			if (it->has_propensity) {
				jbuf_lit(b, ",\"propensity\":");
				jbuf_num7(b, it->propensity);
			}
			jbuf_lit(b, ",\"click\":");
			jbuf_i64(b, it->click);
			jbuf_lit(b, ",\"pay\":");
			jbuf_i64(b, it->pay);
		}
		jbuf_lit(b, "}");
	}
	jbuf_lit(b, "]");
}

/*
 * Emits the transition of p0, the first open page of s, with p1 the page
 * after it (NULL: none); when_last is the end to report when there is no
 * next page. Then removes p0 and carries its clicks into the history.
 */
void
emit_first(struct session *s, enum chain_end when_last)
{
	struct page *p0 = session_first(s), *p1 = session_second(s);
	enum chain_end end = END_NONE;
	struct jbuf *b = &C.out;
	double clicks = 0, pays = 0;
	uint32_t i;

	if (p1 == NULL)
		end = when_last;
	else if (p1->ts - p0->ts > C.gap)
		end = END_SESSION_GAP;
	else if (p1->page > p0->page + 1)
		end = END_PAGE_GAP;
	qsort(p0->items, p0->nitems, sizeof *p0->items, item_cmp_pos);
	if (p1)
		qsort(p1->items, p1->nitems, sizeof *p1->items, item_cmp_pos);
	if (s->mdp_id == NULL) {
		if (p0->page == 0)
			s->mdp_id = xasprintf("%s/%s", session_user(s), session_id(s));
		else
			s->mdp_id = xasprintf("%s/%s/%s", session_user(s), session_id(s), p0->str);
		s->seq = 0;
	}
	for (i = 0; i < p0->nitems; i++) {
		clicks += p0->items[i].click;
		pays += p0->items[i].pay;
	}

	b->len = 0;
	jbuf_lit(b, "{\"mdp_id\":");
	jbuf_strz(b, s->mdp_id);
	jbuf_lit(b, ",\"seq\":");
	jbuf_i64(b, (int64_t)s->seq);
	jbuf_lit(b, ",\"user_id\":");
	jbuf_strz(b, session_user(s));
	jbuf_lit(b, ",\"session_id\":");
	jbuf_strz(b, session_id(s));
	jbuf_lit(b, ",\"request_id\":");
	jbuf_strz(b, p0->str);
	jbuf_lit(b, ",\"page\":");
	jbuf_i64(b, p0->page);
	jbuf_lit(b, ",\"ts\":");
	jbuf_i64(b, p0->ts);
	if (p0->policy_off != UINT32_MAX) {
		jbuf_lit(b, ",\"policy\":");
		jbuf_strz(b, p0->str + p0->policy_off);
	}
	jbuf_lit(b, ",\"state\":{\"hist\":");
	put_hist(b, s, NULL);
	jbuf_lit(b, ",\"context\":");
	jbuf_floats(b, p0->fl, p0->nctx);
	jbuf_lit(b, "},\"action\":");
	put_items(b, p0, 1);
	jbuf_lit(b, ",\"reward\":");
	put_real(b, C.w_click * clicks + C.w_pay * pays);
	if (end == END_NONE) {
		jbuf_lit(b, ",\"next_state\":{\"hist\":");
		put_hist(b, s, p0);
		jbuf_lit(b, ",\"context\":");
		jbuf_floats(b, p1->fl, p1->nctx);
		jbuf_lit(b, "},\"next_action\":");
		put_items(b, p1, 0);
		jbuf_lit(b, ",\"done\":false}");
	} else {
		jbuf_lit(b, ",\"next_state\":null,\"next_action\":[],\"done\":true,\"end\":");
		jbuf_strz(b, end_names[end]);
		jbuf_lit(b, "}");
		(*C.n_end[end])++;
	}
	C.emit(C.io, session_user(s), b->p, b->len);

	for (i = 0; i < p0->nitems; i++)
		if (hist_worthy(p0, i))
			hist_push(s, p0->str + p0->items[i].id_off);
	s->seq++;
	s->emitted = 1;
	s->front_page = end == END_NONE ? p1->page : p0->page;
	s->front_ts = end == END_NONE ? p1->ts : p0->ts;
	if (end != END_NONE) {
		free(s->mdp_id);
		s->mdp_id = NULL;
		if (end == END_SESSION_GAP)
			hist_clear(s);
	}
	session_drop_first(s);
}
