// metrics.jsonl: one JSON object per line, appended and flushed as it is written.
#pragma once
#include <nlohmann/json.hpp>

#include <fstream>
#include <string>

namespace flowlab {

class MetricsWriter {
 public:
  // append = false starts the file afresh.
  MetricsWriter(const std::string& path, bool append);
  void write(const nlohmann::json& record);

 private:
  std::ofstream out_;
};

}  // namespace flowlab
