#include "flowlab/io/gif.h"

#include "flowlab/error.h"
#include "flowlab/io/files.h"

#ifdef FLOWLAB_HAVE_GIF
#include <gif_lib.h>

#include <cstring>
#include <memory>
#endif

namespace flowlab {

#ifdef FLOWLAB_HAVE_GIF
namespace {

// giflib writes through this into memory; the file is written in one piece at the end.
int append_bytes(GifFileType* gif, const GifByteType* bytes, int length) {
  auto* out = static_cast<std::string*>(gif->UserData);
  out->append(reinterpret_cast<const char*>(bytes), static_cast<size_t>(length));
  return length;
}

void check(int status, GifFileType* gif, const std::string& path) {
  if (status != GIF_OK) throw Error("cannot write " + path + ": " + GifErrorString(gif->Error));
}

struct Quantized {
  std::vector<GifByteType> indices;
  std::unique_ptr<ColorMapObject, void (*)(ColorMapObject*)> palette{nullptr, GifFreeMapObject};
};

// One frame as palette indices: grey images map each level to itself (exact), colour images go
// through giflib's median-cut quantizer.
Quantized quantize(const torch::Tensor& frame) {
  const auto channels = frame.size(0), height = frame.size(1), width = frame.size(2);
  const auto pixels = static_cast<size_t>(height * width);
  Quantized q;
  q.indices.resize(pixels);
  if (channels == 1) {
    q.palette.reset(GifMakeMapObject(256, nullptr));
    for (int i = 0; i < 256; ++i) q.palette->Colors[i] = {GifByteType(i), GifByteType(i), GifByteType(i)};
    std::memcpy(q.indices.data(), frame.contiguous().data_ptr<uint8_t>(), pixels);
    return q;
  }
  auto planes = frame.contiguous();
  std::vector<GifByteType> red(pixels), green(pixels), blue(pixels);
  std::memcpy(red.data(), planes[0].data_ptr<uint8_t>(), pixels);
  std::memcpy(green.data(), planes[1].data_ptr<uint8_t>(), pixels);
  std::memcpy(blue.data(), planes[2].data_ptr<uint8_t>(), pixels);
  int colors = 256;
  q.palette.reset(GifMakeMapObject(256, nullptr));
  if (GifQuantizeBuffer(static_cast<unsigned>(width), static_cast<unsigned>(height), &colors, red.data(),
                        green.data(), blue.data(), q.indices.data(), q.palette->Colors) != GIF_OK)
    throw Error("GIF colour quantization failed");
  return q;
}

}  // namespace

void check_gif_available() {}

void write_gif(const std::string& path, const std::vector<torch::Tensor>& frames, int delay_cs, int last_delay_cs) {
  if (frames.empty()) throw Error("cannot write " + path + ": no frames");
  const auto height = frames[0].size(1), width = frames[0].size(2);
  for (const auto& f : frames)
    if (f.dim() != 3 || f.scalar_type() != torch::kUInt8 || (f.size(0) != 1 && f.size(0) != 3) ||
        f.size(1) != height || f.size(2) != width)
      throw Error("cannot write " + path + ": frames must be uint8 (C, H, W) of one size, C 1 or 3");
  std::string bytes;
  int error = 0;
  GifFileType* gif = EGifOpen(&bytes, append_bytes, &error);
  if (!gif) throw Error("cannot write " + path + ": " + GifErrorString(error));
  std::unique_ptr<GifFileType, void (*)(GifFileType*)> closer(gif, [](GifFileType* g) { EGifCloseFile(g, nullptr); });
  EGifSetGifVersion(gif, true);  // GIF89a: delays and looping
  check(EGifPutScreenDesc(gif, static_cast<int>(width), static_cast<int>(height), 8, 0, nullptr), gif, path);
  // NETSCAPE2.0 application extension: loop forever.
  const GifByteType loop[] = {1, 0, 0};
  check(EGifPutExtensionLeader(gif, APPLICATION_EXT_FUNC_CODE), gif, path);
  check(EGifPutExtensionBlock(gif, 11, "NETSCAPE2.0"), gif, path);
  check(EGifPutExtensionBlock(gif, 3, loop), gif, path);
  check(EGifPutExtensionTrailer(gif), gif, path);
  for (size_t k = 0; k < frames.size(); ++k) {
    GraphicsControlBlock gcb{};
    gcb.DisposalMode = DISPOSE_DO_NOT;
    gcb.DelayTime = k + 1 == frames.size() ? last_delay_cs : delay_cs;
    gcb.TransparentColor = NO_TRANSPARENT_COLOR;
    GifByteType extension[4];
    auto length = EGifGCBToExtension(&gcb, extension);
    check(EGifPutExtension(gif, GRAPHICS_EXT_FUNC_CODE, static_cast<int>(length), extension), gif, path);
    auto q = quantize(frames[k]);
    check(EGifPutImageDesc(gif, 0, 0, static_cast<int>(width), static_cast<int>(height), false, q.palette.get()),
          gif, path);
    for (int64_t row = 0; row < height; ++row)
      check(EGifPutLine(gif, q.indices.data() + row * width, static_cast<int>(width)), gif, path);
  }
  closer.release();
  if (EGifCloseFile(gif, &error) != GIF_OK) throw Error("cannot write " + path + ": " + GifErrorString(error));
  write_file_atomic(path, bytes);
}

#else

void check_gif_available() {
  throw Error("this build has no GIF support: install libgif-dev (scripts/setup.sh) and rebuild");
}

void write_gif(const std::string&, const std::vector<torch::Tensor>&, int, int) { check_gif_available(); }

#endif

}  // namespace flowlab
