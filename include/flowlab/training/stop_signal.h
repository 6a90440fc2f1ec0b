// SIGINT / SIGTERM ask a running loop to finish its step, checkpoint and return.
#pragma once

namespace flowlab {

void install_stop_handlers();
bool stop_requested();

}  // namespace flowlab
