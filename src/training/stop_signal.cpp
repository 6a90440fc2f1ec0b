#include "flowlab/training/stop_signal.h"

#include <csignal>

namespace flowlab {
namespace {

volatile std::sig_atomic_t g_stop = 0;

extern "C" void on_stop_signal(int signal) {
  if (g_stop) {
    // A second signal means "now": restore the default action and re-raise.
    std::signal(signal, SIG_DFL);
    std::raise(signal);
  }
  g_stop = 1;
}

}  // namespace

void install_stop_handlers() {
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
}

bool stop_requested() { return g_stop != 0; }

}  // namespace flowlab
