/* A progress bar on stderr for large transfers:
 *   "get  [##########          ]  50%   10.0 / 20.0 MiB"
 * drawn only for transfers of PROGRESS_MIN bytes or more, and redrawn
 * only when the percentage changes, so a slow terminal never slows the
 * transfer. */
#ifndef ZK_PROGRESS_H
#define ZK_PROGRESS_H

#include <stdint.h>

#define PROGRESS_MIN (4u << 20)

typedef struct {
	const char *label;
	int enabled;  /* not --quiet */
	int shown;    /* a line is on the terminal */
	int last_pct;
	uint64_t total; /* of the transfer drawn */
} progress_t;

void progress_init(progress_t *p, const char *label, int enabled);
void progress_update(progress_t *p, uint64_t done, uint64_t total);
/* Ends the line, if one was drawn, showing 100% when complete. */
void progress_end(progress_t *p, int complete);

#endif
