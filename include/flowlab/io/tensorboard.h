// TensorBoard event files (training.tensorboard): scalars and PNG images as TensorBoard's Event
// and Summary protocol buffers (proto/tensorboard_event.proto) in TFRecord framing, in
// DIR/events.out.tfevents.<unix seconds>.<host name>.
#pragma once
#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace flowlab {

class TFRecordWriter;

class TensorBoardWriter {
 public:
  // Throws the reason when this build cannot write them (it was built without protobuf).
  static void check_available();

  // Creates DIR and a new event file in it, whose first event names the file version.
  explicit TensorBoardWriter(const std::string& dir);
  ~TensorBoardWriter();

  void add_scalar(const std::string& tag, double value, int64_t step);
  // Every number of a metrics.jsonl record but "step" as the scalar PREFIX/KEY.
  void add_scalars(const std::string& prefix, const nlohmann::json& record, int64_t step);
  // png: a whole PNG file; its size and channels come from its header.
  void add_png(const std::string& tag, const std::vector<uint8_t>& png, int64_t step);

  const std::string& path() const;

 private:
  std::unique_ptr<TFRecordWriter> records_;
};

}  // namespace flowlab
