// The public headers compile as C++ and link from C++.
#include <weft/weft.h>
#include <cstdio>
#include <cstring>

int main() {
  if (std::strcmp(weft_version(), WEFT_VERSION_STRING) != 0) return 1;
  if (std::strcmp(weft_err_name(WEFT_EQUIT), "WEFT_EQUIT") != 0) return 1;
  std::printf("weft %s from C++: ok\n", weft_version());
  return 0;
}
