/* line.h: one newline-delimited record as a reader hands it out, with where it came from. */
#ifndef LINE_H
#define LINE_H
#include <stddef.h>
#include <stdint.h>

/* One record. Every pointer is owned by the reader and valid until the next line_reader_next(). */
struct line {
	char *buf;		/* the bytes without the newline, NUL-terminated */
	size_t len;		/* bytes in buf (when too_long: the kept prefix) */
	int too_long;		/* longer than max_line: buf holds a prefix only */
	size_t full_len;	/* the record's real length (also when too_long) */
	const char *source;	/* "path:LINE", "-:LINE" or "kafka:TOPIC/PARTITION/OFFSET" */
	const char *topic;	/* Kafka topic, NULL for files and stdio */
	int32_t partition;	/* Kafka partition, -1 otherwise */
	int64_t offset;		/* Kafka offset, -1 otherwise */
	const char *key;	/* Kafka key or NULL */
	size_t keylen;
};

#define LINE_MAX_DEFAULT (1024 * 1024)

#endif
