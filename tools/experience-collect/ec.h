/* ec.h: experience-collect's records and state — pages, sessions, input partitions and the collector that holds them. */
#ifndef EC_H
#define EC_H
#include <stddef.h>
#include <stdint.h>

#include "heap.h"
#include "jbuf.h"
#include "jscan.h"
#include "stats.h"
#include "toolio.h"
#include "watermark.h"

#define MAX_CONTEXT	1024	/* numbers in a sample's context */
#define MAX_FEATURES	4096	/* numbers in an item's features */
#define MAX_POS		65535	/* largest position on a page */
#define MAX_PAGE	1000000000	/* largest page number */
#define MAX_HIST	10000	/* largest --hist-len */
#define MAX_TS		253402300799999LL	/* 9999-12-31T23:59:59.999Z */

/* Why a chain of pages ended (the "end" field of a done transition). */
enum chain_end {
	END_NONE,
	END_SESSION_GAP,	/* no next page within --session-gap: the user left */
	END_PAGE_GAP,		/* the next page number is missing: the chain is cut */
	END_EOF,		/* end of input: the session may go on elsewhere */
	END_EVICTED,		/* closed early to honour --max-open (or --max-pages, with no next page) */
	END_REVOKED,		/* its Kafka partition was revoked in a rebalance */
	END_IDLE		/* closed because the Kafka input was silent for --idle-close */
};

/* The "end" names of enum chain_end, "" for END_NONE. */
extern const char *const end_names[];

/* One shown item of a page; its strings and numbers live in the page's arrays. */
struct item {
	uint32_t id_off;	/* item id in page->str */
	uint32_t feat_off;	/* first feature in page->fl */
	uint16_t nfeat;
	uint16_t pos;
	uint8_t click, pay;
	uint8_t has_propensity;	/* the sample gave one */
	float propensity;
};

/* One request of a session: the samples gathered so far. */
struct page {
	struct session *s;
	uint64_t seq;		/* arrival order: of two pages with one (page, ts), the later comes first */
	struct page *hnext;	/* in the request table */
	uint64_t hash;		/* of the request id */
	int64_t ts;
	int64_t page;
	int64_t first_offset;	/* Kafka offset of the first sample, -1 for files */
	int32_t part;		/* index into the partition table, -1 for files */
	uint32_t policy_off;	/* in str, or UINT32_MAX when absent */
	uint16_t nctx;		/* context: fl[0..nctx) */
	uint8_t ahead;		/* its ts was past --max-ahead: held out of the watermark */
	struct item *items;	/* in arrival order until emitted */
	uint32_t nitems, capitems;
	float *fl;
	uint32_t nfl, capfl;
	char *str;		/* request id at 0, then policy and item ids, each NUL-ended */
	uint32_t nstr, capstr;
};

/* One (user, session): its open pages and the state carried from emitted ones. */
struct session {
	char *key;		/* user_id NUL session_id NUL */
	size_t userlen;
	uint64_t hash;
	struct session *hnext;
	struct session *lru_prev, *lru_next;	/* least recently fed first */
	size_t heap_idx;	/* in the wake-up heap of its partition or of file input */
	int64_t wake;		/* watermark at which it may progress */
	struct heap pages;	/* open, by (page, ts): its first two are the next to chain */
	char **hist;		/* ring of --hist-len item ids, oldest at hist_head */
	size_t hist_n, hist_head;
	char *mdp_id;		/* of the running episode, NULL between episodes */
	uint64_t seq;		/* of the next transition in the episode */
	int emitted;		/* some page was emitted */
	/* a new page must come after this one: the last emitted, or the next page it chained to */
	int64_t front_page, front_ts;
	int32_t part;		/* partition-table index of its first sample, -1 for files */
	int64_t start_offset;	/* Kafka offset of its first sample, -1 for files */
	int frozen;		/* rebuilt from a replay not yet read to its end: waits */
	int64_t *late;		/* Kafka offsets of the samples of its partition rejected as late while it was open, ascending */
	size_t nlate;
};

/* A string-keyed chained hash table of sessions or pages. */
struct table {
	void **b;
	size_t nb, n;
};

/* A Kafka partition seen on input, for committing positions. */
struct part {
	char *topic;
	int32_t partition;
	int64_t next_read;	/* offset after the last record read */
	int64_t wm_now;		/* its own event-time progress (see advance) */
	struct heap heap;	/* its sessions, by the watermark at which they may progress */
	int64_t held;		/* scratch: oldest offset still held */
	int64_t *starts;	/* scratch: first offsets of its open sessions */
	size_t nstarts, capstarts;
	int revoking;		/* scratch: being handed over */
	int active;		/* assigned: its position is stored at checkpoints */
	int described;		/* its last stored position carries the open sessions (see store_part) */
	int64_t replay_end;	/* the previous reader had read up to here; -1 when not replaying */
	int64_t *pend;		/* first offsets of the sessions it held open, not met yet, ascending */
	size_t npend, ipend;
	int64_t *plate;		/* offsets of the samples it rejected as late in those sessions, not met yet, ascending */
	size_t nplate, iplate;
	int64_t *lates;		/* scratch: offsets of the late samples of its open sessions (with plate's) */
	size_t nlates, caplates;
};

struct collector {
	struct tool_io *io;
	/* where transitions and rejected lines go: tool_io_emit_raw and tool_io_reject, or a test's own */
	int (*emit)(struct tool_io *io, const char *key, const char *buf, size_t len);
	void (*reject)(struct tool_io *io, const struct line *ln, const char *fmt, ...);
	struct watermark *wm;
	int64_t wm_now;
	/* options */
	double w_click, w_pay;
	size_t hist_len;
	int64_t gap, grace;
	size_t max_open;
	size_t max_pages;	/* open pages a session holds at most */
	/* state */
	struct table sessions, requests;
	struct session *lru_head, *lru_tail;
	struct heap heap;	/* sessions read from files */
	struct part *parts;
	size_t nparts;
	struct jbuf out;
	struct jscan js;	/* checks each sample line before jansson reads it */
	float ctx[MAX_CONTEXT], feat[MAX_FEATURES];
	/* counters */
	uint64_t *n_pages, *n_late, *n_evicted, *n_revoked;
	uint64_t *n_replayed, *n_replay_skipped, *n_undescribed;
	uint64_t *n_no_propensity;	/* samples filed without a propensity */
	uint64_t *n_evicted_pages;	/* pages written early to honour --max-pages */
	uint64_t *n_page_steps;	/* comparisons made ordering the open pages of sessions */
	uint64_t *n_ahead;	/* samples of pages held out of the watermark as too far ahead */
	uint64_t page_seq;	/* pages opened so far */
	uint64_t *n_idle_close;	/* times the open sessions were closed on a silent input */
	uint64_t *n_end[END_IDLE + 1];
	int64_t *g_open, *g_open_peak, *g_pages_open, *g_pages_peak;
};

/* The collector's options, state and counters: one a process. */
extern struct collector C;

/* Sets up the collector's heap of file input and registers its counters and gauges in st. */
void collector_init(struct stats *st);

/* a + b, saturating at INT64_MAX (b >= 0). */
static inline int64_t
sat_add(int64_t a, int64_t b)
{
	return a > INT64_MAX - b ? INT64_MAX : a + b;
}

#endif
