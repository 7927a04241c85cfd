/* fuzz_sample.c: libFuzzer target — sample lines through experience-collect's parsing and sessions; every transition it writes must be one q-train reads. */
/* fuzz-dict: records.dict */
/* fuzz-sources: tests/fuzz/aux_qtrain.c */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "fuzz.h"
#include "toolio.h"

/* experience-collect's static functions, with its writes caught here. */
static int fuzz_emit_raw(struct tool_io *io, const char *key, const char *buf, size_t len);
#define main experience_collect_main
#define tool_io_emit_raw fuzz_emit_raw
#define tool_io_reject fuzz_reject
#include "../../tools/experience-collect/main.c"
#undef tool_io_emit_raw
#undef tool_io_reject
#undef main

int fuzz_qtrain_accepts(const char *buf, size_t len, char *err, size_t errlen);

static struct stats *st;
static uint64_t emitted;

static int
fuzz_emit_raw(struct tool_io *io, const char *key, const char *buf, size_t len)
{
	char err[256];

	(void)io;
	if (key == NULL || key[0] == '\0')
		abort();	/* a transition is keyed by its user */
	fuzz_want_json(buf, len, "a transition");
	/* q-train may refuse a transition for its dimensions only (they vary from page to page here). */
	if (!fuzz_qtrain_accepts(buf, len, err, sizeof err) && strstr(err, "numbers, want") == NULL) {
		fprintf(stderr, "q-train refuses a transition (%s): %.*s\n", err, (int)len, buf);
		abort();
	}
	emitted++;
	return 0;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	enum chain_end e;

	(void)argc;
	(void)argv;
	diag_verbosity = 0;
	st = stats_new("experience-collect", NULL, NULL, 10);
	C.n_pages = stats_counter(st, "pages");
	C.n_late = stats_counter(st, "late");
	C.n_evicted = stats_counter(st, "evicted_sessions");
	C.n_revoked = stats_counter(st, "revoked_sessions");
	C.n_replayed = stats_counter(st, "replayed_sessions");
	C.n_replay_skipped = stats_counter(st, "replay_skipped");
	C.n_undescribed = stats_counter(st, "undescribed_positions");
	for (e = END_SESSION_GAP; e <= END_REVOKED; e++) {
		char name[32];

		snprintf(name, sizeof name, "end_%s", end_names[e]);
		C.n_end[e] = stats_counter(st, name);
	}
	C.g_open = stats_gauge(st, "open_sessions");
	C.g_open_peak = stats_gauge(st, "open_sessions_peak");
	C.g_pages_open = stats_gauge(st, "open_pages");
	C.g_pages_peak = stats_gauge(st, "open_pages_peak");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data;
	size_t left = size;
	struct line ln;

	/* The options follow the size, so that each is reached. */
	C.w_click = 1.0;
	C.w_pay = (size & 1) ? 1.0 : -0.5;
	C.hist_len = size % 4;
	C.gap = 30 * 60 * 1000;
	C.grace = (size & 4) ? 1000 : 0;
	C.max_open = (size & 8) ? 2 : 1000000;
	C.wm = watermark_new(60 * 1000, 0);
	C.wm_now = WATERMARK_NONE;
	while (fuzz_next_line(&p, &left, &ln, -1)) {
		take_sample(&ln);
		advance();
		if ((size_t)*C.g_open > C.max_open)
			abort();
		free(ln.buf);
	}
	flush_all();
	/* Nothing is left open: every table, heap and gauge is back to empty. */
	if (*C.g_open != 0 || *C.g_pages_open != 0 || C.heap.n != 0 || C.sessions.n != 0 || C.requests.n != 0 ||
	    C.lru_head != NULL)
		abort();
	watermark_free(C.wm);
	C.wm = NULL;
	if (getenv("FUZZ_VERBOSE") != NULL)
		fprintf(stderr, "%llu transitions so far\n", (unsigned long long)emitted);
	return 0;
}
