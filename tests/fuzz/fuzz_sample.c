/* fuzz_sample.c: libFuzzer target — sample lines through experience-collect's parsing and sessions; every transition it writes must be one q-train reads. */
/* fuzz-dict: records.dict */
/* fuzz-sources: tests/fuzz/aux_qtrain.c tools/experience-collect/chain.c tools/experience-collect/emit.c */
/* fuzz-sources: tools/experience-collect/handover.c tools/experience-collect/sample.c */
/* fuzz-sources: tools/experience-collect/session.c */
/* fuzz-cflags: -Itools/experience-collect */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "fuzz.h"
#include "stats.h"
#include "toolio.h"

#include "chain.h"
#include "ec.h"
#include "sample.h"

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
	/*
	 * q-train may refuse a transition for its dimensions (they vary from page to page here) and
	 * for a feature beyond its --max-feature bound (a dead letter there, by design), nothing else.
	 */
	if (!fuzz_qtrain_accepts(buf, len, err, sizeof err) && strstr(err, "numbers, want") == NULL &&
	    strstr(err, "out of range") == NULL) {
		fprintf(stderr, "q-train refuses a transition (%s): %.*s\n", err, (int)len, buf);
		abort();
	}
	emitted++;
	return 0;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	diag_verbosity = 0;
	st = stats_new("experience-collect", NULL, NULL, 10);
	/* experience-collect's writes are caught here */
	C.emit = fuzz_emit_raw;
	C.reject = fuzz_reject;
	collector_init(st);
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
	C.max_pages = (size & 16) ? 2 : 10000;
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
