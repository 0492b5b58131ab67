// Loops timed inside a container for tests/bench/bench_monitor.sh. Built static
// (the container has no libraries). Prints one number: nanoseconds per iteration.
//   exec BIN N     fork + execve(BIN) + wait, N times
//   open FILE N    open + read(4 KiB) + close of the same file, N times
//   first DIR N    open + read + close of DIR/0 .. DIR/N-1, each once
#include <fcntl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

static long long now_ns() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void read_once(const char* path) {
  static char buf[1 << 16];
  int fd = open(path, O_RDONLY);
  if (fd < 0) { perror(path); exit(1); }
  while (read(fd, buf, sizeof buf) > 0) {}
  close(fd);
}

int main(int argc, char** argv) {
  if (argc != 4) { fprintf(stderr, "usage: %s exec|open|first PATH N\n", argv[0]); return 2; }
  std::string mode = argv[1];
  long n = atol(argv[3]);
  long long t0 = now_ns();
  for (long i = 0; i < n; ++i) {
    if (mode == "exec") {
      pid_t p = fork();
      if (p == 0) { execl(argv[2], argv[2], "true", (char*)nullptr); _exit(127); }
      int st;
      waitpid(p, &st, 0);
      if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) { fprintf(stderr, "exec failed\n"); return 1; }
    } else if (mode == "open") {
      read_once(argv[2]);
    } else {
      read_once((std::string(argv[2]) + "/" + std::to_string(i)).c_str());
    }
  }
  printf("%lld\n", (now_ns() - t0) / n);
  return 0;
}
