/* modelbus.c: model versions over a Kafka topic — chunked, checksummed publishing with tombstones for old versions, and a follower that assembles them into a cache directory. */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <zlib.h>

#include "diag.h"
#include "kafka.h"
#include "model.h"
#include "modelbus.h"
#include "tfile.h"
#include "xalloc.h"

#define NFILES 3
static const char *const bus_files[NFILES] = { MODEL_NET_FILE, MODEL_EMB_FILE, MODEL_WARMUP_FILE };

#define HEADER_MAX 1024		/* a chunk's header line is shorter */
#define FILE_MAX ((uint64_t)1 << 40)	/* a larger file_size is no model's */
#define SCAN_IDLE_MS 10000	/* the publisher's first read of the topic gives up after this long without a record */

static int
file_index(const char *name)
{
	int i;

	for (i = 0; i < NFILES; i++)
		if (strcmp(name, bus_files[i]) == 0)
			return i;
	return -1;
}

/* The version a key names ("0000000013/..."), or 0. */
static uint32_t
key_version(const char *key, size_t len)
{
	uint64_t v = 0;
	size_t i;

	if (key == NULL || len < 11 || key[10] != '/')
		return 0;
	for (i = 0; i < 10; i++) {
		if (key[i] < '0' || key[i] > '9')
			return 0;
		v = v * 10 + (uint64_t)(key[i] - '0');
	}
	return v <= UINT32_MAX ? (uint32_t)v : 0;
}

static uint32_t
crc_of(const void *buf, size_t n)
{
	uLong c = crc32(0L, Z_NULL, 0);
	const unsigned char *p = buf;
	size_t k;

	while (n > 0) {
		k = n > (1u << 30) ? (1u << 30) : n;
		c = crc32(c, p, (uInt)k);
		p += k;
		n -= k;
	}
	return (uint32_t)c;
}

/* ---- publishing ---- */

/* A key the topic holds (its newest record has a value). */
struct bus_key {
	char *key;
	uint32_t version;
	int complete;		/* the key is a completion record */
};

struct modelbus_pub {
	struct kafka_opts opts;
	char **conf;			/* opts.conf with the publisher's defaults first */
	char *topic;
	struct kafka_sink *snk;
	struct bus_key *keys;		/* what the topic holds, as far as this process knows */
	size_t nkeys;
};

static void pub_scan(struct modelbus_pub *p);

struct modelbus_pub *
modelbus_pub_open(const struct kafka_opts *opts, const char *topic)
{
	static char *defaults[] = { "message.timeout.ms=30000", "compression.codec=lz4" };
	struct modelbus_pub *p = xcalloc(1, sizeof *p);
	size_t i, nd = sizeof defaults / sizeof *defaults;

	p->opts = *opts;
	p->opts.txn = NULL;
	p->conf = xreallocarray(NULL, opts->nconf + nd, sizeof *p->conf);
	for (i = 0; i < nd; i++)
		p->conf[i] = defaults[i];
	for (i = 0; i < opts->nconf; i++)
		p->conf[nd + i] = opts->conf[i];
	p->opts.conf = p->conf;
	p->opts.nconf = opts->nconf + nd;
	p->topic = xstrdup(topic);
	p->snk = kafka_sink_open(&p->opts, topic);
	if (p->snk == NULL) {
		modelbus_pub_close(p);
		return NULL;
	}
	pub_scan(p);
	return p;
}

/* Notes that the topic holds key (value 1) or no longer does (a tombstone). */
static void
pub_note(struct modelbus_pub *p, const char *key, size_t len, int live)
{
	uint32_t v = key_version(key, len);
	size_t i;

	if (v == 0)
		return;
	for (i = 0; i < p->nkeys; i++)
		if (strlen(p->keys[i].key) == len && memcmp(p->keys[i].key, key, len) == 0)
			break;
	if (i < p->nkeys && !live) {
		free(p->keys[i].key);
		p->keys[i] = p->keys[--p->nkeys];
		return;
	}
	if (i < p->nkeys || !live)
		return;
	p->keys = xreallocarray(p->keys, p->nkeys + 1, sizeof *p->keys);
	p->keys[p->nkeys].key = xstrndup(key, len);
	p->keys[p->nkeys].version = v;
	p->keys[p->nkeys].complete = len == 18 && memcmp(key + 10, "/version", 8) == 0;
	p->nkeys++;
}

/*
 * Reads the keys the topic holds, once, so that the versions other
 * processes published can be removed too. A topic that cannot be read only
 * means those stay.
 */
static void
pub_scan(struct modelbus_pub *p)
{
	struct kafka_reader *r;
	struct kafka_record rec;
	int64_t idle = 0;
	int rc;

	r = kafka_reader_open(&p->opts, p->topic, 0, KAFKA_READER_BEGINNING);
	if (r == NULL)
		return;
	while (idle < SCAN_IDLE_MS && (rc = kafka_reader_next(r, &rec, 200)) != 2) {
		if (rc != 1) {
			idle += 200;
			continue;
		}
		idle = 0;
		pub_note(p, rec.key, rec.keylen, rec.value != NULL);
	}
	if (idle >= SCAN_IDLE_MS)
		diag_warn("kafka:%s: not read to its end: the versions other writers left there stay", p->topic);
	kafka_reader_close(r);
}

static int
cmp_u32_desc(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x > y ? -1 : x < y;
}

/* Whether the topic holds the completion record of version v. */
static int
pub_complete(const struct modelbus_pub *p, uint32_t v)
{
	size_t i;

	for (i = 0; i < p->nkeys; i++)
		if (p->keys[i].complete && p->keys[i].version == v)
			return 1;
	return 0;
}

/*
 * Tombstones every key of the versions older than version but for the
 * newest MODELBUS_KEEP complete ones: older complete versions, and
 * incomplete ones (a writer that died half-way). 0, or -1 when one could
 * not be queued.
 */
static int
pub_remove_old(struct modelbus_pub *p, uint32_t version)
{
	uint32_t *done = NULL, floor = 0;
	size_t n = 0, i;
	int rc = 0;

	for (i = 0; i < p->nkeys; i++)
		if (p->keys[i].complete) {
			done = xreallocarray(done, n + 1, sizeof *done);
			done[n++] = p->keys[i].version;
		}
	if (n > 0)
		qsort(done, n, sizeof *done, cmp_u32_desc);
	if (n >= MODELBUS_KEEP)
		floor = done[MODELBUS_KEEP - 1];
	free(done);
	for (i = 0; i < p->nkeys;) {
		struct bus_key *k = &p->keys[i];
		if (k->version >= version || (k->version >= floor && pub_complete(p, k->version))) {
			i++;
			continue;
		}
		if (kafka_sink_put_at(p->snk, 0, k->key, strlen(k->key), NULL, 0) < 0)
			rc = -1;
		free(k->key);
		p->keys[i] = p->keys[--p->nkeys];
	}
	return rc;
}

/* The whole file at path, malloc'd (*len bytes); NULL with the reason in err. */
static char *
slurp_file(const char *path, size_t *len, char *err, size_t errlen)
{
	struct stat sb;
	char *buf;
	FILE *fp;

	fp = fopen(path, "rb");
	if (fp == NULL || fstat(fileno(fp), &sb) < 0) {
		tfile_errf(err, errlen, "%s: %s", path, strerror(errno));
		if (fp)
			fclose(fp);
		return NULL;
	}
	*len = (size_t)sb.st_size;
	buf = xmalloc(*len + 1);
	if (fread(buf, 1, *len, fp) != *len) {
		tfile_errf(err, errlen, "%s: short read", path);
		free(buf);
		buf = NULL;
	}
	fclose(fp);
	return buf;
}

/* Sends one file of dir as chunks; its entry of the completion record into files. 0 or -1 with err. */
static int
pub_file(struct modelbus_pub *p, const char *dir, uint32_t version, const char *name, json_t *files, char *err,
    size_t errlen)
{
	char *path = xasprintf("%s/%s", dir, name), *rec = NULL, *buf, key[64];
	uint32_t fcrc, chunks, c;
	size_t len = 0, off, n, hl;
	int rc = -1;

	buf = slurp_file(path, &len, err, errlen);
	if (buf == NULL)
		goto done;
	fcrc = crc_of(buf, len);
	chunks = len == 0 ? 1 : (uint32_t)((len + MODELBUS_CHUNK - 1) / MODELBUS_CHUNK);
	rec = xmalloc(HEADER_MAX + MODELBUS_CHUNK);
	for (c = 0; c < chunks; c++) {
		off = (size_t)c * MODELBUS_CHUNK;
		n = len - off < MODELBUS_CHUNK ? len - off : MODELBUS_CHUNK;
		hl = (size_t)snprintf(rec, HEADER_MAX, "{\"version\":%u,\"file\":\"%s\",\"chunk\":%u,\"chunks\":%u,"
		    "\"offset\":%zu,\"size\":%zu,\"crc32\":%u,\"file_size\":%zu,\"file_crc32\":%u}\n",
		    version, name, c, chunks, off, n, crc_of(buf + off, n), len, fcrc);
		memcpy(rec + hl, buf + off, n);
		snprintf(key, sizeof key, "%010u/%s/%06u", version, name, c);
		if (kafka_sink_put_at(p->snk, 0, key, strlen(key), rec, hl + n) < 0) {
			tfile_errf(err, errlen, "kafka:%s: %s chunk %u not sent", p->topic, name, c);
			goto done;
		}
		pub_note(p, key, strlen(key), 1);
	}
	json_array_append_new(files, json_pack("{s:s,s:I,s:I,s:i}", "name", name, "size", (json_int_t)len,
	    "crc32", (json_int_t)fcrc, "chunks", (int)chunks));
	rc = 0;
done:
	free(rec);
	free(buf);
	free(path);
	return rc;
}

int
modelbus_publish(struct modelbus_pub *p, const char *modeldir, uint32_t version, char *err, size_t errlen)
{
	char *dir = model_version_dir(modeldir, version), *mpath, *s = NULL, key[32];
	json_t *files = json_array(), *manifest, *o = NULL;
	json_error_t je;
	uint64_t failed = kafka_sink_failures(p->snk);
	int i, rc = -1;

	mpath = xasprintf("%s/%s", dir, MODEL_MANIFEST_FILE);
	manifest = json_load_file(mpath, JSON_REJECT_DUPLICATES, &je);
	if (manifest == NULL) {
		tfile_errf(err, errlen, "%s: %s", mpath, je.text);
		goto done;
	}
	for (i = 0; i < NFILES; i++)
		if (pub_file(p, dir, version, bus_files[i], files, err, errlen) < 0)
			goto done;
	o = json_pack("{s:I,s:O,s:O}", "version", (json_int_t)version, "files", files, "manifest", manifest);
	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
	snprintf(key, sizeof key, "%010u/version", version);
	if (kafka_sink_put_at(p->snk, 0, key, strlen(key), s, strlen(s)) < 0) {
		tfile_errf(err, errlen, "kafka:%s: the completion record of version %u not sent", p->topic, version);
		goto done;
	}
	if (kafka_sink_flush(p->snk) < 0 || kafka_sink_failures(p->snk) != failed) {
		tfile_errf(err, errlen, "kafka:%s: version %u not delivered whole", p->topic, version);
		goto done;
	}
	pub_note(p, key, strlen(key), 1);
	if (pub_remove_old(p, version) < 0 || kafka_sink_flush(p->snk) < 0)
		diag_warn("kafka:%s: older versions not all removed", p->topic);
	rc = 0;
done:
	free(s);
	json_decref(o);
	json_decref(files);
	json_decref(manifest);
	free(mpath);
	free(dir);
	return rc;
}

int
modelbus_pub_close(struct modelbus_pub *p)
{
	size_t i;
	int rc;

	if (p == NULL)
		return 0;
	rc = kafka_sink_close(p->snk);
	for (i = 0; i < p->nkeys; i++)
		free(p->keys[i].key);
	free(p->keys);
	free(p->conf);
	free(p->topic);
	free(p);
	return rc;
}

/* ---- following ---- */

/* A version being assembled. */
struct assembly {
	uint32_t version;
	char *tmp;			/* cachedir/.tmp-PID-bus-VERSION */
	struct {
		int fd;
		uint32_t chunks, crc;
		uint64_t size;
		unsigned char *got;	/* chunks received */
	} f[NFILES];
	int bad;
	char why[300];
	json_t *done;			/* the completion record, held while catching up */
	struct assembly *next;
};

struct modelbus_follower {
	char *topic, *cache;
	struct kafka_reader *r;
	modelbus_refuse_fn *refuse;
	void *arg;
	struct assembly *as;
	uint32_t *refused;		/* versions refused: their later records are ignored */
	size_t nrefused;
	pthread_mutex_t mu;		/* guards st */
	struct modelbus_stats st;
};

struct modelbus_follower *
modelbus_follow_open(const struct kafka_opts *opts, const char *topic, const char *cachedir,
    modelbus_refuse_fn *refuse, void *arg)
{
	struct modelbus_follower *f;
	char err[512];
	uint32_t v = 0;

	if (mkdir(cachedir, 0755) < 0 && errno != EEXIST) {
		diag_warn("%s:", cachedir);
		return NULL;
	}
	if (model_latest(cachedir, &v, err, sizeof err) < 0) {
		diag_warn("%s", err);
		return NULL;
	}
	f = xcalloc(1, sizeof *f);
	f->topic = xstrdup(topic);
	f->cache = xstrdup(cachedir);
	f->refuse = refuse;
	f->arg = arg;
	f->st.newest = v;
	f->st.up = 1;
	pthread_mutex_init(&f->mu, NULL);
	f->r = kafka_reader_open(opts, topic, 0, KAFKA_READER_BEGINNING);
	if (f->r == NULL) {
		modelbus_follow_close(f);
		return NULL;
	}
	return f;
}

static void
remove_dir(const char *dir)
{
	int i;
	char *p;

	for (i = 0; i < NFILES + 1; i++) {
		p = xasprintf("%s/%s", dir, i < NFILES ? bus_files[i] : MODEL_MANIFEST_FILE);
		unlink(p);
		free(p);
	}
	rmdir(dir);
}

static void
assembly_free(struct assembly *a, int remove)
{
	int i;

	for (i = 0; i < NFILES; i++) {
		if (a->f[i].fd >= 0)
			close(a->f[i].fd);
		free(a->f[i].got);
	}
	if (remove)
		remove_dir(a->tmp);
	free(a->tmp);
	json_decref(a->done);
	free(a);
}

/* Drops the assemblies of versions up to v (all with v = UINT32_MAX). */
static void
drop_upto(struct modelbus_follower *f, uint32_t v)
{
	struct assembly **pp = &f->as, *a;

	while ((a = *pp) != NULL) {
		if (a->version <= v) {
			*pp = a->next;
			assembly_free(a, 1);
		} else
			pp = &a->next;
	}
}

static int
was_refused(struct modelbus_follower *f, uint32_t v)
{
	size_t i;

	for (i = 0; i < f->nrefused; i++)
		if (f->refused[i] == v)
			return 1;
	return 0;
}

/* Refuses version v: counted, told, its assembly dropped. */
static void
refuse_version(struct modelbus_follower *f, uint32_t v, const char *why)
{
	struct assembly **pp = &f->as, *a;

	while ((a = *pp) != NULL) {
		if (a->version == v) {
			*pp = a->next;
			assembly_free(a, 1);
		} else
			pp = &a->next;
	}
	f->refused = xreallocarray(f->refused, f->nrefused + 1, sizeof *f->refused);
	f->refused[f->nrefused++] = v;
	pthread_mutex_lock(&f->mu);
	f->st.refused++;
	pthread_mutex_unlock(&f->mu);
	if (f->refuse)
		f->refuse(f->arg, v, why);
	else
		diag_warn("kafka:%s: version %u refused: %s", f->topic, v, why);
}

static struct assembly *
assembly_get(struct modelbus_follower *f, uint32_t v)
{
	static unsigned seq;
	struct assembly *a;
	int i;

	for (a = f->as; a != NULL; a = a->next)
		if (a->version == v)
			return a;
	a = xcalloc(1, sizeof *a);
	a->version = v;
	for (i = 0; i < NFILES; i++)
		a->f[i].fd = -1;
	a->tmp = xasprintf("%s/.tmp-%ld-bus-%u-%u", f->cache, (long)getpid(), v, seq++);
	if (mkdir(a->tmp, 0755) < 0) {
		a->bad = 1;
		snprintf(a->why, sizeof a->why, "%s: %s", a->tmp, strerror(errno));
	}
	a->next = f->as;
	f->as = a;
	return a;
}

static int
get_u64(json_t *o, const char *k, uint64_t *out)
{
	json_t *v = json_object_get(o, k);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -1;
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

static void
bad_record(struct modelbus_follower *f, int64_t offset, const char *why)
{
	pthread_mutex_lock(&f->mu);
	f->st.bad_records++;
	pthread_mutex_unlock(&f->mu);
	diag_warn("kafka:%s/0/%" PRId64 ": %s: ignored", f->topic, offset, why);
}

/* A chunk record: checked and written into its version's assembly. */
static void
on_chunk(struct modelbus_follower *f, const struct kafka_record *rec, uint32_t v)
{
	uint64_t ver, chunk, chunks, off, size, crc, fsize, fcrc;
	const char *nl = memchr(rec->value, '\n', rec->len < HEADER_MAX ? rec->len : HEADER_MAX);
	const char *data;
	struct assembly *a;
	json_error_t je;
	json_t *h;
	char *p;
	int fi;

	if (nl == NULL || (h = json_loadb(rec->value, (size_t)(nl - rec->value), 0, &je)) == NULL) {
		bad_record(f, rec->offset, "a chunk without a header line");
		return;
	}
	fi = json_is_string(json_object_get(h, "file")) ? file_index(json_string_value(json_object_get(h, "file"))) : -1;
	if (get_u64(h, "version", &ver) < 0 || get_u64(h, "chunk", &chunk) < 0 || get_u64(h, "chunks", &chunks) < 0 ||
	    get_u64(h, "offset", &off) < 0 || get_u64(h, "size", &size) < 0 || get_u64(h, "crc32", &crc) < 0 ||
	    get_u64(h, "file_size", &fsize) < 0 || get_u64(h, "file_crc32", &fcrc) < 0 || fi < 0 || ver != v ||
	    fsize > FILE_MAX || chunks == 0 || chunks > fsize / 1024 + 1 || chunk >= chunks || off + size > fsize ||
	    size > MODELBUS_CHUNK) {
		json_decref(h);
		bad_record(f, rec->offset, "a chunk header that does not fit its key");
		return;
	}
	json_decref(h);
	a = assembly_get(f, v);
	if (a->bad)
		return;
	if (a->f[fi].got == NULL) {
		a->f[fi].chunks = (uint32_t)chunks;
		a->f[fi].size = fsize;
		a->f[fi].crc = (uint32_t)fcrc;
		a->f[fi].got = xcalloc(chunks, 1);
		p = xasprintf("%s/%s", a->tmp, bus_files[fi]);
		a->f[fi].fd = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		free(p);
		if (a->f[fi].fd < 0) {
			a->bad = 1;
			snprintf(a->why, sizeof a->why, "%s/%s: %s", a->tmp, bus_files[fi], strerror(errno));
			return;
		}
	} else if (a->f[fi].chunks != chunks || a->f[fi].size != fsize || a->f[fi].crc != fcrc) {
		a->bad = 1;
		snprintf(a->why, sizeof a->why, "%s chunk %" PRIu64 ": the file's size or checksum differs from its other chunks'",
		    bus_files[fi], chunk);
		return;
	}
	data = nl + 1;
	if ((size_t)(rec->value + rec->len - data) != size) {
		a->bad = 1;
		snprintf(a->why, sizeof a->why, "%s chunk %" PRIu64 ": %zu bytes, its header says %" PRIu64,
		    bus_files[fi], chunk, (size_t)(rec->value + rec->len - data), size);
		return;
	}
	if (crc_of(data, size) != crc) {
		a->bad = 1;
		snprintf(a->why, sizeof a->why, "%s chunk %" PRIu64 " of %" PRIu64 ": checksum mismatch", bus_files[fi],
		    chunk, chunks);
		return;
	}
	if (pwrite(a->f[fi].fd, data, size, (off_t)off) != (ssize_t)size) {
		a->bad = 1;
		snprintf(a->why, sizeof a->why, "%s/%s: %s", a->tmp, bus_files[fi], strerror(errno));
		return;
	}
	a->f[fi].got[chunk] = 1;
}

/* The crc32 of the first n bytes of fd. 0 with *crc set, or -1. */
static int
fd_crc(int fd, uint64_t n, uint32_t *crc)
{
	unsigned char buf[65536];
	uLong c = crc32(0L, Z_NULL, 0);
	uint64_t off = 0;
	ssize_t r;

	while (off < n) {
		r = pread(fd, buf, n - off < sizeof buf ? (size_t)(n - off) : sizeof buf, (off_t)off);
		if (r <= 0)
			return -1;
		c = crc32(c, buf, (uInt)r);
		off += (uint64_t)r;
	}
	*crc = (uint32_t)c;
	return 0;
}

/*
 * Checks an assembly against its completion record done, writes its
 * manifest, loads it as a reader would and renames it into the cache. 0,
 * or -1 with the reason in why.
 */
static int
assembly_check(struct modelbus_follower *f, struct assembly *a, json_t *done, char *why, size_t whylen)
{
	json_t *files = json_object_get(done, "files"), *e, *man = json_object_get(done, "manifest");
	uint64_t size, crc, chunks, mv;
	int seen[NFILES] = { 0 }, fi;
	uint32_t got;
	struct model *m;
	char *p;
	size_t i, c;

	if (a->bad) {
		snprintf(why, whylen, "%s", a->why);
		return -1;
	}
	if (!json_is_array(files) || !json_is_object(man)) {
		snprintf(why, whylen, "the completion record lacks its files or manifest");
		return -1;
	}
	json_array_foreach(files, i, e) {
		fi = json_is_string(json_object_get(e, "name")) ? file_index(json_string_value(json_object_get(e, "name"))) : -1;
		if (fi < 0 || get_u64(e, "size", &size) < 0 || get_u64(e, "crc32", &crc) < 0 ||
		    get_u64(e, "chunks", &chunks) < 0) {
			snprintf(why, whylen, "the completion record's file %zu is malformed", i);
			return -1;
		}
		if (a->f[fi].got == NULL) {
			snprintf(why, whylen, "incomplete: no chunk of %s", bus_files[fi]);
			return -1;
		}
		if (a->f[fi].chunks != chunks || a->f[fi].size != size || a->f[fi].crc != crc) {
			snprintf(why, whylen, "%s: the completion record and the chunks disagree", bus_files[fi]);
			return -1;
		}
		for (c = 0, got = 0; c < chunks; c++)
			got += a->f[fi].got[c];
		if (got != chunks) {
			snprintf(why, whylen, "incomplete: %u of the %" PRIu64 " chunks of %s", got, chunks, bus_files[fi]);
			return -1;
		}
		if (fd_crc(a->f[fi].fd, size, &got) < 0 || got != crc || ftruncate(a->f[fi].fd, (off_t)size) < 0) {
			snprintf(why, whylen, "%s: checksum mismatch of the assembled file", bus_files[fi]);
			return -1;
		}
		if (fsync(a->f[fi].fd) < 0 || fchmod(a->f[fi].fd, 0444) < 0) {
			snprintf(why, whylen, "%s/%s: %s", a->tmp, bus_files[fi], strerror(errno));
			return -1;
		}
		seen[fi] = 1;
	}
	for (fi = 0; fi < NFILES; fi++)
		if (!seen[fi]) {
			snprintf(why, whylen, "incomplete: the completion record lacks %s", bus_files[fi]);
			return -1;
		}
	if (get_u64(man, "version", &mv) < 0 || mv != a->version) {
		snprintf(why, whylen, "the manifest is not version %u's", a->version);
		return -1;
	}
	p = xasprintf("%s/%s", a->tmp, MODEL_MANIFEST_FILE);
	if (json_dump_file(man, p, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17)) < 0 ||
	    chmod(p, 0444) < 0) {
		snprintf(why, whylen, "%s: cannot be written", p);
		free(p);
		return -1;
	}
	free(p);
	tfile_fsync_dir(a->tmp);
	m = model_load_dir(a->tmp, why, whylen);
	if (m == NULL)
		return -1;
	model_free(m);
	return 0;
}

/* Installs version a (its completion record done) into the cache, or refuses it. */
static void
finish(struct modelbus_follower *f, struct assembly *a, json_t *done)
{
	char why[512], *final;
	uint32_t v = a->version;

	if (assembly_check(f, a, done, why, sizeof why) < 0) {
		refuse_version(f, v, why);
		return;
	}
	final = model_version_dir(f->cache, v);
	if (rename(a->tmp, final) < 0 && errno != EEXIST && errno != ENOTEMPTY) {
		snprintf(why, sizeof why, "%s: rename: %s", final, strerror(errno));
		free(final);
		refuse_version(f, v, why);
		return;
	}
	free(final);
	tfile_fsync_dir(f->cache);
	diag_info(1, "kafka:%s: version %u assembled in %s", f->topic, v, f->cache);
	pthread_mutex_lock(&f->mu);
	f->st.installed++;
	if (v > f->st.newest)
		f->st.newest = v;
	pthread_mutex_unlock(&f->mu);
	drop_upto(f, v);
	if (model_prune(f->cache, MODELBUS_KEEP, why, sizeof why) < 0)
		diag_warn("%s", why);
}

/* A completion record: the version installed now, or, while catching up, held until the end of the topic. */
static void
on_complete(struct modelbus_follower *f, const struct kafka_record *rec, uint32_t v)
{
	struct assembly *a, *b;
	json_error_t je;
	json_t *o;
	uint64_t ver;

	o = json_loadb(rec->value, rec->len, JSON_REJECT_DUPLICATES, &je);
	if (o == NULL || get_u64(o, "version", &ver) < 0 || ver != v) {
		json_decref(o);
		bad_record(f, rec->offset, "a completion record that does not fit its key");
		return;
	}
	a = assembly_get(f, v);
	if (!f->st.caught_up) {
		json_decref(a->done);
		a->done = o;
		return;
	}
	/* a version older than this one that never completed is not coming */
	do {
		for (b = f->as; b != NULL && !(b->version < v && !b->done); b = b->next)
			;
		if (b != NULL)
			refuse_version(f, b->version, "incomplete: no completion record before a newer version's");
	} while (b != NULL);
	a = assembly_get(f, v);
	finish(f, a, o);
	json_decref(o);
}

/* The end of the topic reached the first time: installs the newest complete version held (or an older one). */
static void
caught_up(struct modelbus_follower *f)
{
	struct assembly *a, *best;
	json_t *done;
	uint32_t v;

	pthread_mutex_lock(&f->mu);
	f->st.caught_up = 1;
	pthread_mutex_unlock(&f->mu);
	for (;;) {
		best = NULL;
		for (a = f->as; a != NULL; a = a->next)
			if (a->done && a->version > f->st.newest && (best == NULL || a->version > best->version))
				best = a;
		if (best == NULL)
			break;
		v = best->version;
		done = json_incref(best->done);
		finish(f, best, done);	/* frees best when it refuses it */
		json_decref(done);
		if (f->st.newest == v)
			break;
	}
	/* what is older than the version served is not needed; complete versions being assembled are kept */
	drop_upto(f, f->st.newest);
	for (a = f->as; a != NULL; a = a->next) {
		json_decref(a->done);
		a->done = NULL;
	}
}

void
modelbus_follow_step(struct modelbus_follower *f, int timeout_ms)
{
	struct kafka_record rec;
	uint64_t downs;
	uint32_t v;
	int rc, up;

	rc = kafka_reader_next(f->r, &rec, timeout_ms);
	up = kafka_reader_up(f->r, &downs);
	if (up != f->st.up && !up)
		diag_warn("kafka:%s: no broker answers: the versions in %s stay served", f->topic, f->cache);
	else if (up != f->st.up)
		diag_warn("kafka:%s: the brokers answer again", f->topic);
	pthread_mutex_lock(&f->mu);
	f->st.up = up;
	f->st.downs = downs;
	if (rc == 1)
		f->st.records++;
	pthread_mutex_unlock(&f->mu);
	if (rc == 2 && !f->st.caught_up)
		caught_up(f);
	if (rc != 1 || rec.value == NULL)
		return;		/* nothing, an error (retried by the reader) or a tombstone */
	v = key_version(rec.key, rec.keylen);
	if (v == 0) {
		bad_record(f, rec.offset, "a record whose key is not a version's");
		return;
	}
	if (v <= f->st.newest || was_refused(f, v))
		return;
	if (rec.keylen == 18 && memcmp(rec.key + 10, "/version", 8) == 0)
		on_complete(f, &rec, v);
	else
		on_chunk(f, &rec, v);
}

void
modelbus_follow_stats(struct modelbus_follower *f, struct modelbus_stats *st)
{
	pthread_mutex_lock(&f->mu);
	*st = f->st;
	pthread_mutex_unlock(&f->mu);
}

void
modelbus_follow_close(struct modelbus_follower *f)
{
	if (f == NULL)
		return;
	kafka_reader_close(f->r);
	drop_upto(f, UINT32_MAX);
	free(f->refused);
	pthread_mutex_destroy(&f->mu);
	free(f->topic);
	free(f->cache);
	free(f);
}
