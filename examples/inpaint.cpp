// Fills the centre of an image with a flowlab model; writes the original beside the result.
// Usage: inpaint CHECKPOINT IMAGE OUT.png [CLASS]
#include <flowlab/flowlab.h>

#include <iostream>

int main(int argc, char** argv) try {
  if (argc < 4) {
    std::cerr << "usage: inpaint CHECKPOINT IMAGE OUT.png [CLASS]\n";
    return 2;
  }
  flowlab::Model model(argv[1]);
  const int64_t s = model.image_size();
  // The image at the model's size, as a batch of one.
  auto image = flowlab::load_image(argv[2], static_cast<int>(model.channels())).unsqueeze(0).to(torch::kFloat32);
  image = torch::nn::functional::interpolate(
      image, torch::nn::functional::InterpolateFuncOptions().size(std::vector<int64_t>{s, s}).mode(torch::kArea));
  image = image.round().clamp(0, 255).to(torch::kUInt8);
  auto known = torch::ones({s, s}, torch::kUInt8);
  known.slice(0, s / 4, 3 * s / 4).slice(1, s / 4, 3 * s / 4).zero_();  // the centre is unknown
  int64_t label = argc > 4 ? std::stoll(argv[4]) : model.num_classes();  // default: no class
  auto filled = model.inpaint(image, known, torch::full({1}, label, torch::kInt64));
  flowlab::save_png(argv[3], torch::cat({image, filled}));
  std::cout << "wrote " << argv[3] << "\n";
  return 0;
} catch (const std::exception& e) {
  std::cerr << "error: " << e.what() << "\n";
  return 1;
}
