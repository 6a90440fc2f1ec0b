#include "flowlab/io/tensorboard.h"

#include <unistd.h>

#include <chrono>

#include "flowlab/error.h"
#include "flowlab/io/files.h"
#include "flowlab/io/tfrecord.h"
#ifdef FLOWLAB_HAVE_PROTOBUF
#include "tensorboard_event.pb.h"
#endif

namespace flowlab {
namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

#ifdef FLOWLAB_HAVE_PROTOBUF
void write_event(TFRecordWriter& out, tensorboard::Event& event, int64_t step) {
  event.set_wall_time(now_seconds());
  event.set_step(step);
  out.write(event.SerializeAsString());
}
#endif

// PNG header: the 8-byte signature, then the IHDR chunk (length, "IHDR", width, height, bit
// depth, colour type), integers big-endian.
struct PngSize {
  int width, height, channels;
};
PngSize png_size(const std::vector<uint8_t>& png) {
  static const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (png.size() < 26 || !std::equal(signature, signature + 8, png.begin()))
    throw Error("not a PNG image");
  auto be32 = [&](size_t at) {
    return static_cast<int>((uint32_t(png[at]) << 24) | (uint32_t(png[at + 1]) << 16) |
                            (uint32_t(png[at + 2]) << 8) | uint32_t(png[at + 3]));
  };
  static const int channels_of_colour_type[7] = {1, 0, 3, 1, 2, 0, 4};
  int colour_type = png[25] < 7 ? channels_of_colour_type[png[25]] : 0;
  return {be32(16), be32(20), colour_type};
}

}  // namespace

void TensorBoardWriter::check_available() {
#ifndef FLOWLAB_HAVE_PROTOBUF
  throw Error("training.tensorboard: this flowlab was built without protobuf (Debian: "
              "libprotobuf-dev and protobuf-compiler, which scripts/setup.sh installs); "
              "metrics.jsonl and scripts/results/plot_metrics.py hold the same figures");
#endif
}

TensorBoardWriter::TensorBoardWriter(const std::string& dir) {
  check_available();
  ensure_directory(dir);
  char host[256] = "localhost";
  gethostname(host, sizeof(host) - 1);
  records_ = std::make_unique<TFRecordWriter>(
      dir + "/events.out.tfevents." + std::to_string(static_cast<int64_t>(now_seconds())) + "." + host);
#ifdef FLOWLAB_HAVE_PROTOBUF
  tensorboard::Event event;
  event.set_file_version("brain.Event:2");
  write_event(*records_, event, 0);
#endif
}

TensorBoardWriter::~TensorBoardWriter() = default;

const std::string& TensorBoardWriter::path() const { return records_->path(); }

void TensorBoardWriter::add_scalar(const std::string& tag, double value, int64_t step) {
#ifdef FLOWLAB_HAVE_PROTOBUF
  tensorboard::Event event;
  auto* v = event.mutable_summary()->add_value();
  v->set_tag(tag);
  v->set_simple_value(static_cast<float>(value));
  write_event(*records_, event, step);
#else
  (void)tag, (void)value, (void)step;
#endif
}

void TensorBoardWriter::add_scalars(const std::string& prefix, const nlohmann::json& record,
                                    int64_t step) {
  for (const auto& item : record.items())
    if (item.key() != "step" && item.value().is_number())
      add_scalar(prefix + "/" + item.key(), item.value().get<double>(), step);
}

void TensorBoardWriter::add_png(const std::string& tag, const std::vector<uint8_t>& png, int64_t step) {
  auto size = png_size(png);
#ifdef FLOWLAB_HAVE_PROTOBUF
  tensorboard::Event event;
  auto* v = event.mutable_summary()->add_value();
  v->set_tag(tag);
  auto* image = v->mutable_image();
  image->set_height(size.height);
  image->set_width(size.width);
  image->set_colorspace(size.channels);
  image->set_encoded_image_string(png.data(), png.size());
  write_event(*records_, event, step);
#else
  (void)tag, (void)step, (void)size;
#endif
}

}  // namespace flowlab
