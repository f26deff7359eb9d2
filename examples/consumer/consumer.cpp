// Minimal downstream program: compiles only if the installed headers and the
// exported memloc::memloc target are complete.
#include <memloc/memloc.hpp>

#include <cstdio>

int main() {
    std::printf("%s\n", memloc::version_string());
    return 0;
}
