// ima-oci-hook: the runtime module fills this in.
#include <cstdio>

int main() {
  std::fputs("ima-oci-hook: not built yet\n", stderr);
  return 1;
}
