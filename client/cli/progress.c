#include "progress.h"

#include <stdio.h>

#define WIDTH 30
#define MIB (1024.0 * 1024.0)

void progress_init(progress_t *p, const char *label, int enabled)
{
	p->label = label;
	p->enabled = enabled;
	p->shown = 0;
	p->last_pct = -1;
	p->total = 0;
}

void progress_update(progress_t *p, uint64_t done, uint64_t total)
{
	char bar[WIDTH + 1];
	int pct, fill;

	if (!p->enabled || total < PROGRESS_MIN || done > total)
		return;
	pct = (int)(done * 100 / total);
	if (pct == p->last_pct)
		return;
	p->last_pct = pct;
	p->total = total;
	fill = pct * WIDTH / 100;
	for (int i = 0; i < WIDTH; i++)
		bar[i] = i < fill ? '#' : ' ';
	bar[WIDTH] = '\0';
	fprintf(stderr, "\r%-4s [%s] %3d%% %7.1f / %.1f MiB", p->label, bar, pct,
		(double)done / MIB, (double)total / MIB);
	fflush(stderr);
	p->shown = 1;
}

void progress_end(progress_t *p, int complete)
{
	/* The last acknowledgement may come after the answer: a transfer
	 * that succeeded is shown complete. */
	if (complete && p->shown && p->total)
		progress_update(p, p->total, p->total);
	if (p->shown)
		fputc('\n', stderr);
	p->shown = 0;
}
