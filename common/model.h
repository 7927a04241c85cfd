/* model.h: the version store — versioned directories of network, embedding table (emb.h) and manifest; atomic publish; a validating loader. */
#ifndef MODEL_H
#define MODEL_H
#include <stddef.h>
#include <stdint.h>

#include "emb.h"
#include "qnet.h"

/*
 * MODELDIR/<version>/, the version zero-padded to 10 digits
 * ("0000000013"), increasing. Each version directory holds
 *
 *   qnet.bin        the network (struct qnet): dims and named tensors
 *   emb.bin         the item embeddings with their id -> row index (emb.h);
 *                   a copy of the parent version's when unchanged, never a link
 *   manifest.json   struct model_info as JSON
 *   warmup.ndjson   a few recorded score requests (q-score's warm-up), may be empty
 *
 * Both binary files are checksummed tensor files (tfile.h). See
 * pageturn-model(5).
 *
 * A version directory is written under MODELDIR/.tmp-… (every file written,
 * fsynced, made read-only, the directory fsynced) and then renamed into
 * place, so a reader sees a version whole or not at all. Readers ignore
 * names that are not 10 digits. A version with a parameter that is not
 * finite is never published, and never loaded.
 *
 * Errors: every function that can fail writes one line into err (errlen
 * bytes) naming the file and the problem ("…/qnet.bin: tensor 'fc.w':
 * checksum mismatch", "…/emb.bin: truncated: 4096 bytes, header says 8192",
 * "…/qnet.bin: bad magic", "…/qnet.bin: tensor 'a.W': shape 64×16, want
 * 64×32").
 */

#define MODEL_FORMAT_VERSION 1
#define MODEL_NET_FILE "qnet.bin"
#define MODEL_EMB_FILE "emb.bin"
#define MODEL_MANIFEST_FILE "manifest.json"
#define MODEL_WARMUP_FILE "warmup.ndjson"
#define MODEL_NET_MAGIC "PTQNET\0\1"	/* 8 bytes */

/* ---- The network file ---- */

/* Writes net to path atomically. 0, or -1 with the reason in err. */
int model_net_write(const struct qnet *net, const char *path, char *err, size_t errlen);
/*
 * Reads and validates a network file; want (may be NULL) are the dimensions
 * the caller needs (a mismatch is refused naming the dimension). NULL with
 * the reason in err.
 */
struct qnet *model_net_load(const char *path, const struct qnet_dims *want, char *err, size_t errlen);

/* ---- Versions ---- */

/*
 * The manifest's "rows": how the embedding rows were made ("" reads as
 * learned). Under the two kinds of feature rows, an item the table lacks
 * gets emb_feature_row() of its features.
 */
#define MODEL_ROWS_LEARNED "learned"
#define MODEL_ROWS_FEATURES "features"			/* each row built by emb_feature_row() */
#define MODEL_ROWS_INIT_FEATURES "init+features"	/* the rows of an initial file, the other items' by emb_feature_row() */
#define MODEL_ROWS_INIT "init"				/* the rows of an initial file as it gives them, none learned */

/* The manifest. */
struct model_info {
	uint32_t version;	/* set by model_publish */
	uint32_t parent;	/* the version this one was trained from, 0 for none */
	char mode[16];		/* "offline" or "online" */
	char target[16];	/* "slateq" or "item" */
	char rows[16];		/* MODEL_ROWS_LEARNED, MODEL_ROWS_FEATURES, MODEL_ROWS_INIT_FEATURES or MODEL_ROWS_INIT */
	int64_t created_ms;	/* set by model_publish */
	double gamma, w_click, w_pay;
	uint64_t transitions;	/* transitions learned from (cumulative over parents) */
	uint64_t items;		/* item examples learned from (cumulative) */
	uint64_t unknown;	/* item lookups that fell on the unknown row */
	uint64_t updates;	/* optimiser steps (cumulative) */
};

/* A Kafka input position a version covers: it learned every record of topic/partition before offset. */
struct model_input_pos {
	const char *topic;
	int32_t partition;
	int64_t offset;			/* the next offset to read */
};

/* A loaded version: everything a scorer needs. Read-only once loaded; shareable between threads. */
struct model {
	uint32_t version;
	char *dir;		/* MODELDIR/<version> */
	struct qnet *net;
	struct emb *emb;	/* loaded: read-only, in memory of its own */
	struct model_info info;
	int feature_rows;	/* info.rows is a kind of feature rows: an item the table lacks gets emb_feature_row() of its features */
	struct model_input_pos *input;	/* the manifest's "input": what the version covers (NULL, 0 for none) */
	size_t ninput;
};

/* malloc'd "MODELDIR/<10-digit version>". */
char *model_version_dir(const char *modeldir, uint32_t version);
/*
 * The newest version in modeldir: 1 with *version set, 0 when there is none
 * (or modeldir does not exist), -1 with the reason in err.
 */
int model_latest(const char *modeldir, uint32_t *version, char *err, size_t errlen);
/*
 * Every version in modeldir, increasing, into a malloc'd array (*n entries;
 * NULL when none). -1 with the reason in err, else 0.
 */
int model_versions(const char *modeldir, uint32_t **out, size_t *n, char *err, size_t errlen);

/*
 * Loads and validates version (0 means the newest) of modeldir: manifest
 * (with the input it covers; its dims and files must match the version),
 * network and embeddings, read into memory (the files may change or go
 * afterwards), whose dimension must equal the network's (and, with feature
 * rows, its features X). NULL with the reason in err.
 */
struct model *model_load(const char *modeldir, uint32_t version, char *err, size_t errlen);
/* Loads a version directory given by its path. NULL with the reason in err. */
struct model *model_load_dir(const char *dir, char *err, size_t errlen);
/* NULL is a no-op. */
void model_free(struct model *m);

/* What model_publish() writes. */
struct model_publication {
	const struct qnet *net;
	const struct emb *emb;		/* written unless emb_link is set */
	const char *emb_link;		/* an existing embedding file to carry over unchanged (see model_publish), or NULL */
	struct model_info info;		/* version and created_ms are filled in */
	const char *warmup;		/* newline-delimited score requests, or NULL */
	size_t warmup_len;
	unsigned keep;			/* then keep only the newest keep versions; 0 keeps all */
	const struct model_input_pos *input;	/* written as the manifest's "input"; NULL for none */
	size_t ninput;
};

/*
 * Publishes a new version (the newest + 1) atomically, creating modeldir
 * when needed, then prunes to pub->keep. Returns 0 with *version set, or -1
 * with the reason in err (nothing half-written stays visible); a network or
 * table holding a value that is not finite is refused before anything is
 * written.
 *
 * pub->emb_link: when it is the emb.bin of a version this process holds
 * loaded (model_load), or of the newest version it published from such a
 * one, the table is written from memory, so that file need not exist any
 * more (another writer may have pruned it); else the file is copied (a
 * reflink where possible, never a hard link), else pub->emb is written.
 * Thread-safe against model_load and model_free in other threads.
 */
int model_publish(const char *modeldir, const struct model_publication *pub, uint32_t *version,
    char *err, size_t errlen);
/*
 * Checks, before any work, that a version could be published in modeldir:
 * an existing directory this process may write, or a missing one whose
 * parent it may write. 0, or -1 with the reason in err.
 */
int model_store_check(const char *modeldir, char *err, size_t errlen);
/* Removes all but the newest keep versions (and stale .tmp-* directories of dead writers). 0 or -1. */
int model_prune(const char *modeldir, unsigned keep, char *err, size_t errlen);

/* Reads a manifest file. 0, or -1 with the reason in err. */
int model_info_read(const char *path, struct model_info *info, char *err, size_t errlen);
/*
 * Reads the input positions a manifest file records ("input") into a
 * malloc'd array of *n entries, each topic malloc'd (NULL and 0 when it
 * records none). 0, or -1 with the reason in err.
 */
int model_input_read(const char *path, struct model_input_pos **in, size_t *n, char *err, size_t errlen);
/* Frees what model_input_read() returned. */
void model_input_free(struct model_input_pos *in, size_t n);

#endif
