// ima-runc: runc-compatible OCI runtime. The runtime module fills this in.
#include <unistd.h>

#include <cstdio>

int main(int, char** argv) {
  ::execvp("runc", argv);
  std::perror("ima-runc: exec runc");
  return 127;
}
