// train_meanflow: train a MeanFlow model (one-step generation) (see --help).
#include "flowlab/cli/commands.h"
#include "flowlab/error.h"

int main(int argc, char** argv) {
  return flowlab::run_guarded(
      "train_meanflow", [](int c, char** v) { return flowlab::train_command(c, v, "meanflow"); }, argc, argv);
}
