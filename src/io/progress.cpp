#include "flowlab/io/progress.h"

#include <spdlog/spdlog.h>

#include <cmath>

namespace flowlab {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  auto s = static_cast<int64_t>(std::llround(seconds));
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof(buf), "%lldh%02lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
  else if (s >= 60)
    std::snprintf(buf, sizeof(buf), "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
  else
    std::snprintf(buf, sizeof(buf), "%llds", (long long)s);
  return buf;
}

Progress::Progress(std::string label, int64_t total, std::string unit, int64_t start,
                   double interval_seconds)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      start_(start),
      interval_(interval_seconds),
      begin_(std::chrono::steady_clock::now()),
      last_print_(begin_) {}

double Progress::rate(int64_t done) const {
  double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - begin_).count();
  return elapsed > 0 ? static_cast<double>(done - start_) / elapsed : 0.0;
}

void Progress::update(int64_t done, const std::string& extra) {
  auto now = std::chrono::steady_clock::now();
  bool finished = done >= total_;
  if (!finished && std::chrono::duration<double>(now - last_print_).count() < interval_) return;
  last_print_ = now;
  double r = rate(done);
  double eta = r > 0 ? static_cast<double>(total_ - done) / r : NAN;
  double pct = total_ > 0 ? 100.0 * static_cast<double>(done) / static_cast<double>(total_) : 100.0;
  spdlog::info("{} {}/{} ({:.1f}%) | {:.1f} {}/s | ETA {}{}{}", label_, done, total_, pct, r, unit_,
               finished ? "0s" : format_duration(eta), extra.empty() ? "" : " | ", extra);
}

}  // namespace flowlab
