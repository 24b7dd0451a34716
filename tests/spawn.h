/* spawn.h - runs a peer program for the benchmarks and tests without a
 * shell: fork, chdir and execv with an argument vector, so that no path
 * or datum is ever parsed by a shell. Header-only. */
#ifndef RKIN_TESTS_SPAWN_H
#define RKIN_TESTS_SPAWN_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* Starts argv[0] (an absolute path) with argv in directory dir (NULL:
 * here), its stdout readable from the returned stream (NULL when it cannot
 * start), its stderr to /dev/null when quiet. */
static inline FILE *spawn_read(const char *dir, char *const argv[],
                               int quiet, pid_t *pid)
{
  int fd[2];
  FILE *in;
  if (pipe(fd)) return NULL;
  *pid = fork();
  if (*pid == 0) {
    dup2(fd[1], 1);
    close(fd[0]);
    close(fd[1]);
    if (quiet) {
      int null = open("/dev/null", O_WRONLY);
      if (null >= 0) dup2(null, 2);
    }
    if (dir && chdir(dir)) _exit(127);
    execv(argv[0], argv);
    _exit(127);
  }
  close(fd[1]);
  if (*pid < 0 || !(in = fdopen(fd[0], "r"))) {
    close(fd[0]);
    return NULL;
  }
  return in;
}

/* Closes the stream and waits: the exit status, or -1. */
static inline int spawn_wait(FILE *in, pid_t pid)
{
  int status = 0;
  fclose(in);
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Runs argv in dir, its stdout passed through to ours: the exit status. */
static inline int spawn_run(const char *dir, char *const argv[], int quiet)
{
  char line[1024];
  pid_t pid;
  FILE *in = spawn_read(dir, argv, quiet, &pid);
  if (!in) return -1;
  while (fgets(line, sizeof line, in)) fputs(line, stdout);
  fflush(stdout);
  return spawn_wait(in, pid);
}

#endif
