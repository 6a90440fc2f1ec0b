// SIGINT / SIGTERM ask a running job to stop: the training loop finishes its step, checkpoints and
// returns; a long phase between steps (a sample grid, an evaluation, reference statistics) is
// abandoned at its next check, so a scheduler's SIGTERM-then-SIGKILL grace period is enough.
// A second SIGINT stops at once; further SIGTERMs change nothing (they often come in pairs).
#pragma once
#include <string>

#include "flowlab/error.h"

namespace flowlab {

void install_stop_handlers();
bool stop_requested();
// What a signal does, for code that stops a job itself (and tests); clear_stop_request() undoes it
// for a job run again in the same process.
void request_stop();
void clear_stop_request();

// Thrown by a long phase that a stop request abandons.
class StopRequested : public Error {
 public:
  explicit StopRequested(const std::string& phase) : Error("stop requested during " + phase) {}
};

// Throws StopRequested when a stop was requested: called at every step of a long phase.
void throw_if_stop_requested(const std::string& phase);

}  // namespace flowlab
