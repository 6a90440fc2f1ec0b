// inpaint: fill masked regions with a trained model (demo) and score it (evaluate); see --help.
#include "flowlab/cli/commands.h"
#include "flowlab/error.h"

int main(int argc, char** argv) {
  return flowlab::run_guarded("inpaint", flowlab::inpaint_command, argc, argv);
}
