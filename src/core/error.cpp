#include "flowlab/error.h"

#include <c10/util/Exception.h>

#include <cstdio>

namespace flowlab {

std::string one_line_message(const std::exception& e) {
  std::string msg;
  if (auto* c10_error = dynamic_cast<const c10::Error*>(&e)) {
    msg = c10_error->what_without_backtrace();
  } else {
    msg = e.what();
  }
  auto newline = msg.find('\n');
  if (newline != std::string::npos) msg.resize(newline);
  return msg;
}

int run_guarded(const char* program, int (*body)(int, char**), int argc, char** argv) {
  try {
    return body(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", program, one_line_message(e).c_str());
    return 1;
  }
}

}  // namespace flowlab
