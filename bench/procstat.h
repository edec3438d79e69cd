/* Readings of another process from /proc: what the relay under load costs.
 *
 * Both functions read the files afresh on every call and return 0, or -1
 * when the process is gone or the file does not parse. */
#ifndef ZK_BENCH_PROCSTAT_H
#define ZK_BENCH_PROCSTAT_H

#include <stdint.h>
#include <sys/types.h>

/* User plus system CPU time of all threads of pid, in microseconds. The
 * kernel counts in clock ticks (sysconf(_SC_CLK_TCK), usually 100 a
 * second), so a reading is exact only to one tick. */
int procstat_cpu_us(pid_t pid, uint64_t *us);

/* Peak resident set size since the process started (VmHWM), in KiB. */
int procstat_peak_rss_kib(pid_t pid, uint64_t *kib);
/* Resident set size now (VmRSS), in KiB. */
int procstat_rss_kib(pid_t pid, uint64_t *kib);

#endif
