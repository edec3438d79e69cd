/* sandbox.c: the syscall filter, in a child process so the test runner
 * itself stays unfiltered. A call on the list still works under it; one
 * off the list (a TCP socket, a fork, an exec) kills the process with
 * SIGSYS after one JSON log line naming the system call. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sandbox.h"
#include "suites.h"

typedef void (*act_fn)(void);

/* Runs act in a filtered child with stderr captured; its wait status. */
static int run_filtered(act_fn act, char *log, size_t cap)
{
	int pfd[2], status;
	pid_t pid;
	ssize_t n;
	size_t len = 0;

	ck_assert_int_eq(pipe(pfd), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char err[256];

		dup2(pfd[1], 2);
		close(pfd[0]);
		if (sandbox_install(err, sizeof(err))) {
			fprintf(stderr, "install: %s\n", err);
			_exit(100);
		}
		act();
		_exit(0); /* no exit handlers: they are not under test */
	}
	close(pfd[1]);
	while (len + 1 < cap && (n = read(pfd[0], log + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	log[len] = '\0';
	close(pfd[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return status;
}

/* What a relay does all day: memory, files, time, a notify socket. */
static void allowed_calls(void)
{
	char buf[64];
	int fd = open("/proc/self/statm", O_RDONLY);
	void *p = malloc(1 << 20);
	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || read(fd, buf, sizeof(buf)) <= 0 || !p || s < 0)
		_exit(1);
	free(p);
	close(fd);
	close(s);
	if (getpid() <= 0 || time(NULL) == (time_t)-1)
		_exit(2);
}

static void tcp_socket(void)
{
	(void)socket(AF_INET, SOCK_STREAM, 0);
}

static void do_fork(void)
{
	(void)syscall(SYS_fork);
}

static void do_exec(void)
{
	char *argv[] = { "/bin/true", NULL };
	execv("/bin/true", argv);
}

START_TEST(test_allowed)
{
	char log[1024];
	int st = run_filtered(allowed_calls, log, sizeof(log));

	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status 0x%x, log: %s", st, log);
	ck_assert_msg(strstr(log, "seccomp_violation") == NULL, "%s", log);
}
END_TEST

static const struct {
	const char *name;
	act_fn act;
	long nr;
} forbidden[] = {
	{ "socket(AF_INET)", tcp_socket, SYS_socket },
	{ "fork", do_fork, SYS_fork },
	{ "execve", do_exec, SYS_execve },
};

START_TEST(test_forbidden)
{
	char log[1024], want[64];
	int st = run_filtered(forbidden[_i].act, log, sizeof(log));

	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS, "%s: status 0x%x, log: %s",
		      forbidden[_i].name, st, log);
	snprintf(want, sizeof(want), "\"syscall\":%ld,", forbidden[_i].nr);
	ck_assert_msg(strstr(log, "\"event\":\"seccomp_violation\"") && strstr(log, want),
		      "%s: log: %s", forbidden[_i].name, log);
}
END_TEST

Suite *sandbox_suite(void)
{
	Suite *s = suite_create("sandbox");
	TCase *tc = tcase_create("filter");

	tcase_add_test(tc, test_allowed);
	tcase_add_loop_test(tc, test_forbidden, 0, (int)(sizeof(forbidden) / sizeof(forbidden[0])));
	suite_add_tcase(s, tc);
	return s;
}
