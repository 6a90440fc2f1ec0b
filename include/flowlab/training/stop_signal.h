// SIGINT / SIGTERM ask a running loop to finish its step, checkpoint and return.
#pragma once

namespace flowlab {

void install_stop_handlers();
bool stop_requested();
void request_stop();
void clear_stop_request();

}  // namespace flowlab
