// show_dataset: what the loader sees, as counts, labels and a grid (see --help).
#include "flowlab/cli/commands.h"
#include "flowlab/error.h"

int main(int argc, char** argv) {
  return flowlab::run_guarded("show_dataset", flowlab::show_dataset_command, argc, argv);
}
