/* Searching the whole memory of a live process for a byte string.
 *
 * The zero-knowledge tests use it to show that a document's plaintext
 * never reached the relay: every readable mapping listed in /proc/PID/maps
 * is read through /proc/PID/mem and searched. The same scan run on the
 * data-safe, which does hold the plaintext, must find it, so a scanner
 * that silently reads nothing cannot pass the relay's test.
 *
 * Reading another process's /proc/PID/mem takes ptrace read access: the
 * caller is the target's parent (enough under Yama ptrace_scope 1) or the
 * same user under scope 0, and the target has not made itself
 * non-dumpable. The target keeps running; scan right after the event of
 * interest, since freed memory may be reused.
 *
 * What is not read, and why:
 *   - mappings without read permission (guard pages, reserved address
 *     space): the process itself cannot read them either;
 *   - pages the kernel refuses to read ([vvar], a file mapping past the
 *     end of its file): counted in skipped_bytes;
 *   - anonymous mappings larger than MEMSCAN_MAX_REGION: no process here
 *     has a data mapping that large; only sanitizer shadow memory is
 *     (AddressSanitizer maps terabytes of it, holding one state byte per
 *     eight bytes of the program's memory, never the memory's contents).
 *     Also counted in skipped_bytes.
 * Kernel socket buffers are not process memory and are not searched. */
#ifndef ZK_MEMSCAN_H
#define ZK_MEMSCAN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MEMSCAN_MAX_REGION ((uint64_t)64 << 30)

typedef struct {
	uint64_t regions;       /* mappings read (in part or whole) */
	uint64_t bytes;         /* bytes read */
	uint64_t skipped_bytes; /* readable per the maps but not read (see above) */
	uint64_t hits;          /* occurrences of the needle */
	uint64_t first_hit;     /* address of the first one */
	char first_map[200];    /* the maps line that holds it */
} memscan_t;

/* Searches pid's memory for needle (n bytes, 1 <= n <= 4096). 0 with *res
 * filled, or -1 with errno set (maps or mem could not be opened, or a
 * bad argument). Overlapping occurrences are counted once each. */
int memscan_find(pid_t pid, const void *needle, size_t n, memscan_t *res);

/* One line for a test's message: "N hits in R regions, B MiB read, S MiB
 * skipped; first at 0x... in <maps line>". Returns buf. */
const char *memscan_describe(const memscan_t *res, char *buf, size_t cap);

#endif
