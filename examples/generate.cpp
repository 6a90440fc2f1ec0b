// One image per class from any flowlab checkpoint, written as one PNG row. A MeanFlow checkpoint
// samples in one network evaluation; give a CFM one 50 steps.
// Usage: generate CHECKPOINT OUT.png [STEPS] [SEED]
#include <flowlab/flowlab.h>

#include <iostream>

int main(int argc, char** argv) try {
  if (argc < 3) {
    std::cerr << "usage: generate CHECKPOINT OUT.png [STEPS] [SEED]\n";
    return 2;
  }
  flowlab::Model model(argv[1]);
  flowlab::GenerateOptions options;
  if (argc > 3) options.steps = std::stoi(argv[3]);
  if (argc > 4) options.seed = std::stoull(argv[4]);
  // Classes 0 .. K-1; an unconditional model's only label, 0, means "no class".
  auto labels = torch::arange(std::max<int64_t>(model.num_classes(), 1));
  auto images = model.generate(labels, options);
  flowlab::save_png(argv[2], images);
  std::cout << "wrote " << argv[2] << ": " << images.size(0) << " images of " << model.image_size()
            << " pixels from a " << model.method() << " model\n";
  return 0;
} catch (const std::exception& e) {
  std::cerr << "error: " << e.what() << "\n";
  return 1;
}
