// Progress lines for long loops: count, rate, ETA and the latest figures, at most every few seconds.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace flowlab {

class Progress {
 public:
  // `unit` names what the rate counts (img/s); `start` is where a resumed loop begins.
  Progress(std::string label, int64_t total, std::string unit = "it", int64_t start = 0,
           double interval_seconds = 5.0);

  // done: items finished so far (of total); extra: e.g. "loss 0.1234". Logs when due or at the end.
  void update(int64_t done, const std::string& extra = "");
  // Items per second since construction.
  double rate(int64_t done) const;

 private:
  std::string label_, unit_;
  int64_t total_, start_;
  double interval_;
  std::chrono::steady_clock::time_point begin_, last_print_;
};

std::string format_duration(double seconds);
// Seconds from t0 until now.
double seconds_since(std::chrono::steady_clock::time_point t0);

}  // namespace flowlab
