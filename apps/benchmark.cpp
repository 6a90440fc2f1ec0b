// benchmark: throughput of training, sampling, FID features and data loading (see --help).
#include "flowlab/cli/commands.h"
#include "flowlab/error.h"

int main(int argc, char** argv) { return flowlab::run_guarded("benchmark", flowlab::benchmark_command, argc, argv); }
