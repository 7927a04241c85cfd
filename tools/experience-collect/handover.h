/* handover.h: experience-collect's Kafka hand-over — positions committed with what is open, and their replay by the next reader. */
#ifndef EC_HANDOVER_H
#define EC_HANDOVER_H
#include <stddef.h>
#include <stdint.h>

#include "ec.h"

/* The partition-table index of partition of topic, added when new. */
int32_t part_index(const char *topic, int32_t partition);
/* Ends the replay of partition pi: its rebuilt sessions go on under the watermark. */
void replay_end(int32_t pi);
/* Stores, per assigned partition, the position from which a new reader rebuilds what is open, with its description (a checkpoint hook). */
void store_positions(void *arg);
/*
 * Reads the description committed with partition pt's start position
 * (offset) into its replay: its end, the sessions to rebuild, the late
 * samples in them, and the watermark it starts from. 0 when valid, -1 when
 * not understood.
 */
int read_description(struct part *pt, const char *meta, size_t len, int64_t offset);
/*
 * Hands over the partitions marked revoking: those whose open sessions can
 * be described are committed at a position from which the next reader
 * rebuilds them, and dropped unwritten; the others have their sessions
 * closed and written (end "revoked") first.
 */
void hand_over(void);
/* The rebalance hook: a revoked partition is handed over, an assigned one taken over. */
void on_rebalance(void *arg, int assigned, const char *topic, const int32_t *partitions, size_t n);

#endif
