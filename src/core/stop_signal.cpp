#include "flowlab/stop_signal.h"

#include <csignal>

namespace flowlab {
namespace {

volatile std::sig_atomic_t g_stop = 0;

extern "C" void on_stop_signal(int signal) {
  // A second Ctrl-C means "now": restore the default action and re-raise. A repeated SIGTERM does
  // not: GNU timeout sends it to the process and again to its process group, and launchers forward
  // it to processes that also get it from the scheduler, so one stop request often arrives twice.
  if (g_stop && signal == SIGINT) {
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

void request_stop() { g_stop = 1; }

void clear_stop_request() { g_stop = 0; }

void throw_if_stop_requested(const std::string& phase) {
  if (g_stop) throw StopRequested(phase);
}

}  // namespace flowlab
