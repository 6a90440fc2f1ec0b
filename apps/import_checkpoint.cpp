// import_checkpoint: a published DiT, SiT or REPA file as a flowlab checkpoint (see --help).
#include "flowlab/cli/commands.h"
#include "flowlab/error.h"

int main(int argc, char** argv) {
  return flowlab::run_guarded("import_checkpoint", flowlab::import_checkpoint_command, argc, argv);
}
