/* promote.h: the model store's promotion record — which version the gate lets serve, and its last decision. */
#ifndef PROMOTE_H
#define PROMOTE_H
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

/* The record's name in the model store (pageturn-model(5)). */
#define PROMOTE_FILE "PROMOTED"

struct promotion {
	uint32_t version;	/* the promoted version */
	uint32_t examined;	/* the newest version the gate has decided on */
	json_t *doc;		/* the whole record (a reference of its own) */
};

/*
 * Reads modeldir's promotion record: 1 with *p filled (free with
 * promote_free()), 0 when the store has none, -1 with the reason in err
 * when it cannot be read or is malformed.
 */
int promote_read(const char *modeldir, struct promotion *p, char *err, size_t errlen);
/* NULL members are a no-op. */
void promote_free(struct promotion *p);
/*
 * Replaces modeldir's promotion record with doc, which must hold "version"
 * and "examined": written to a temporary file, fsync-ed, renamed over the
 * record and the directory fsync-ed, so that a reader sees the old record
 * or the new one, and the new one survives a crash once this returns 0.
 * -1 with the reason in err.
 */
int promote_write(const char *modeldir, const json_t *doc, char *err, size_t errlen);

#endif
