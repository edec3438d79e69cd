#include "sandbox.h"

#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "zkerr.h"

/* Allowed without conditions. */
static const int allowed[] = {
	/* memory */
	SCMP_SYS(brk), SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(mprotect),
	SCMP_SYS(madvise),
	/* files: reloads, the audit trail, /proc/self for the metrics, stderr */
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev), SCMP_SYS(pread64),
	SCMP_SYS(close), SCMP_SYS(openat), SCMP_SYS(open), SCMP_SYS(newfstatat), SCMP_SYS(fstat),
	SCMP_SYS(stat), SCMP_SYS(lstat), SCMP_SYS(statx), SCMP_SYS(lseek), SCMP_SYS(getdents64),
	SCMP_SYS(fcntl), SCMP_SYS(fsync), SCMP_SYS(fdatasync), SCMP_SYS(dup), SCMP_SYS(dup3),
	SCMP_SYS(access), SCMP_SYS(faccessat), SCMP_SYS(faccessat2), SCMP_SYS(readlink),
	/* sockets that already exist or are accepted */
	SCMP_SYS(accept), SCMP_SYS(accept4), SCMP_SYS(recvfrom), SCMP_SYS(recvmsg),
	SCMP_SYS(sendto), SCMP_SYS(sendmsg), SCMP_SYS(sendmmsg), SCMP_SYS(getsockopt),
	SCMP_SYS(setsockopt), SCMP_SYS(getsockname), SCMP_SYS(getpeername), SCMP_SYS(shutdown),
	/* the event loop */
	SCMP_SYS(epoll_create1), SCMP_SYS(epoll_ctl), SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait),
	SCMP_SYS(epoll_pwait2), SCMP_SYS(eventfd2), SCMP_SYS(pipe2), SCMP_SYS(poll),
	SCMP_SYS(ppoll),
	/* time */
	SCMP_SYS(clock_gettime), SCMP_SYS(clock_getres), SCMP_SYS(gettimeofday),
	SCMP_SYS(nanosleep), SCMP_SYS(clock_nanosleep), SCMP_SYS(time),
	/* signals (libuv forwards them through a pipe) and threads */
	SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn),
	SCMP_SYS(sigaltstack), SCMP_SYS(tgkill), SCMP_SYS(getpid), SCMP_SYS(gettid),
	SCMP_SYS(futex), SCMP_SYS(set_robust_list), SCMP_SYS(rseq), SCMP_SYS(sched_yield),
	SCMP_SYS(sched_getaffinity), SCMP_SYS(restart_syscall),
	/* process figures, identity, randomness, the end */
	SCMP_SYS(getrusage), SCMP_SYS(getrlimit), SCMP_SYS(prlimit64), SCMP_SYS(uname),
	SCMP_SYS(getuid), SCMP_SYS(geteuid), SCMP_SYS(getgid), SCMP_SYS(getegid),
	SCMP_SYS(getrandom), SCMP_SYS(exit), SCMP_SYS(exit_group),
};

/* ioctl only for what libuv, libwebsockets and stdio ask: non-blocking
 * and close-on-exec flags, bytes readable, "is this a terminal". */
static const unsigned long ioctls[] = { FIONBIO, FIOCLEX, FIONCLEX, FIONREAD, TCGETS };

/* Writes "prefix<n>suffix" to stderr with async-signal-safe calls only. */
static void say_number(const char *prefix, long n, const char *suffix)
{
	char num[24];
	size_t i = sizeof(num);
	unsigned long v = n < 0 ? 0 : (unsigned long)n;

	do {
		num[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v && i > 0);
	if (write(2, prefix, strlen(prefix)) < 0 ||
	    write(2, num + i, sizeof(num) - i) < 0 || write(2, suffix, strlen(suffix)) < 0)
		return; /* nothing left to tell it to */
}

/* A system call outside the list: say which, then die of SIGSYS. */
static void on_sigsys(int sig, siginfo_t *si, void *ctx)
{
	sigset_t set;

	say_number("{\"level\":\"error\",\"event\":\"seccomp_violation\",\"syscall\":",
		   si->si_syscall,
		   ",\"hint\":\"a system call outside the relay's seccomp allow-list "
		   "(relay/sandbox.c); name it with ausyscall, or set [relay] seccomp = off "
		   "to confirm\"}\n");
	signal(SIGSYS, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, SIGSYS);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(SIGSYS);
}

static int add_rules(scmp_filter_ctx f)
{
	int rc = 0;

	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]) && !rc; i++)
		rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, allowed[i], 0);
	for (size_t i = 0; i < sizeof(ioctls) / sizeof(ioctls[0]) && !rc; i++)
		rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				      SCMP_A1(SCMP_CMP_EQ, ioctls[i]));
	/* New sockets only for systemd notifications. */
	if (!rc)
		rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
				      SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
	/* Threads (none today; a library may start one), never processes:
	 * clone only with CLONE_THREAD; clone3 hides its flags in memory, so
	 * it fails with ENOSYS and the C library falls back to clone. */
	if (!rc)
		rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
				      SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
	if (!rc)
		rc = seccomp_rule_add(f, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	return rc;
}

int sandbox_install(char *err, size_t errlen)
{
	struct sigaction sa;
	scmp_filter_ctx f;
	int rc;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL))
		return zk_errf(err, errlen, -ZK_EIO, "sigaction SIGSYS: %s", strerror(errno));
	f = seccomp_init(SCMP_ACT_TRAP);
	if (!f)
		return zk_errf(err, errlen, -ZK_ENOMEM, "seccomp_init failed");
	rc = seccomp_attr_set(f, SCMP_FLTATR_CTL_NNP, 1);
	if (!rc)
		rc = seccomp_attr_set(f, SCMP_FLTATR_CTL_TSYNC, 1);
	if (!rc)
		rc = add_rules(f);
	if (!rc)
		rc = seccomp_load(f);
	seccomp_release(f);
	if (rc)
		return zk_errf(err, errlen, -ZK_EIO, "seccomp: %s", strerror(-rc));
	return 0;
}
