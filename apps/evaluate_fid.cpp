// evaluate_fid: FID/KID of a checkpoint's samples or an image folder (see --help).
#include "flowlab/cli/commands.h"
#include "flowlab/error.h"

int main(int argc, char** argv) {
  return flowlab::run_guarded("evaluate_fid", flowlab::evaluate_command, argc, argv);
}
