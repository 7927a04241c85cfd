/* event.h: online-join's view of a canonical event — read with common/jscan, or from a jansson object when it cannot. */
#ifndef EVENT_H
#define EVENT_H
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#define JEV_MAX_ITEMS		1000	/* items of one impression */
#define JEV_MAX_FEATURES	1024	/* numbers in an item's features */
#define JEV_MAX_CONTEXT		1024	/* numbers in an impression's context */

enum { JEV_IMPRESSION, JEV_CLICK, JEV_PAY };

/* A string that is not NUL-terminated; p NULL when absent. */
struct jstr {
	const char *p;
	size_t n;
};

struct jev_item {
	struct jstr id;
	int32_t pos;
	float prop;		/* NAN when absent */
	uint32_t feat_off;	/* its features: floats[feat_off .. feat_off + nfeat) */
	uint16_t nfeat;
};

/*
 * One event, valid until the next read with the same reader (and, from
 * jev_from_json(), while the json_t lives). Strings point into the line or
 * the object.
 */
struct jev {
	int type;
	int64_t ts;
	struct jstr rid, uid, sid, pol, item, eid;	/* sid, pol, eid: optional */
	int32_t page;
	size_t ctx_off, nctx;	/* the context: floats[ctx_off .. ctx_off + nctx) */
	size_t nitems;
	struct jev_item *items;
	float *floats;
};

struct jev_reader;

/* Never NULL. */
struct jev_reader *jev_reader_new(void);

/*
 * The fast path: reads one line with common/jscan. Returns 1 with *ev
 * filled; 0 when the line is anything but a plain valid event (escapes in
 * the strings it reads, integer ids, RFC 3339 times, a number jansson cannot
 * hold, invalid JSON, a missing or mistyped field...): then the caller reads
 * it with jev_from_json(), which either accepts it or says why not.
 */
int jev_parse(struct jev_reader *r, const char *buf, size_t len, struct jev *ev);

/*
 * NULL when the line is a valid JSON object; else the reason, jscan's first
 * fault in the line (the reason every tool gives for that text) or "not a
 * JSON object", valid until the next read with r.
 */
const char *jev_check(struct jev_reader *r, const char *buf, size_t len);

/* The full path, from a parsed object (borrowed). 0, or -1 with a reason in err. */
int jev_from_json(struct jev_reader *r, const json_t *obj, struct jev *ev, char *err, size_t errlen);

/* NULL is a no-op. */
void jev_reader_free(struct jev_reader *r);

#endif
