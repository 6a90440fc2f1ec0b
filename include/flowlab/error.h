// The library's exception type and the one-line message apps print for any exception.
#pragma once
#include <exception>
#include <stdexcept>
#include <string>

namespace flowlab {

// Thrown for bad input: files, configs, checkpoints, flags. The message is one line that names
// what was wrong and what is allowed.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// First line of an exception's message, without LibTorch's backtrace.
std::string one_line_message(const std::exception& e);

// Runs `body`, printing "error: <one line>" and returning 1 on any exception.
int run_guarded(const char* program, int (*body)(int, char**), int argc, char** argv);

}  // namespace flowlab
