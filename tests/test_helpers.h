// Shared test utilities: temporary directories, small files, running the app binaries.
#pragma once
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fcntl.h>
#include <ftw.h>
#include <spawn.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "flowlab/error.h"

extern char** environ;

namespace flowlab::testing {

// A fresh directory under /tmp, removed when the object goes away.
class TempDir {
 public:
  TempDir() {
    char pattern[] = "/tmp/flowlab_test_XXXXXX";
    const char* made = ::mkdtemp(pattern);
    if (!made) throw std::runtime_error("mkdtemp failed");
    path_ = made;
  }
  // nftw rather than std::filesystem::remove_all: a pip torch 2.x's libtorch.so exports a broken
  // copy of remove_all that the test binary would bind to.
  ~TempDir() {
    ::nftw(
        path_.c_str(),
        [](const char* p, const struct stat*, int, struct FTW*) { return std::remove(p); }, 16,
        FTW_DEPTH | FTW_PHYS);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

inline void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
}

struct CommandResult {
  int exit_code;
  std::string output;  // stdout and stderr together
};

// Runs `command` through the shell, capturing stdout and stderr.
inline CommandResult run_command(const std::string& command) {
  CommandResult result{0, ""};
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  char buffer[4096];
  while (pipe && std::fgets(buffer, sizeof(buffer), pipe)) result.output += buffer;
  int status = pipe ? ::pclose(pipe) : -1;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

// The message of the flowlab::Error that f throws, or "" when it throws none.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const flowlab::Error& e) {
    return e.what();
  }
  return "";
}

inline std::string app(const std::string& name) { return std::string(FLOWLAB_APPS_DIR) + "/" + name; }

// A seconds-long real run of `program` (train_cfm, train_ddpm, ...) on the quickstart recipe cut
// down (base 8, batch 8, no grids) into output_dir; `flags` are appended.
inline CommandResult train_quickstart(const std::string& program, const std::string& output_dir, int steps,
                                      const std::string& flags = "") {
  return run_command(app(program) + " --config " + FLOWLAB_CONFIGS_DIR + "/quickstart.yaml --steps " +
                     std::to_string(steps) + " --batch_size 8 --threads 1 --set model.base_channels=8" +
                     " --set training.sample_every=0 --output_dir " + output_dir + " " + flags);
}

// Starts an app binary with arguments, stdout and stderr appended to `log`, with this process's
// environment plus `extra_env` ("NAME=value"); returns its pid.
inline pid_t spawn(const std::vector<std::string>& args, const std::string& log,
                   const std::vector<std::string>& extra_env = {}) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  std::vector<char*> argv, envp;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (char** e = environ; *e != nullptr; ++e) envp.push_back(*e);
  for (const auto& e : extra_env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("posix_spawn failed for " + args[0]);
  return pid;
}

// Waits for `pid`; its exit code, or 128 + the signal that ended it.
inline int wait_exit_code(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// The sum of `key` over the records of a metrics.jsonl; key "records" counts them.
inline int64_t sum_of_field(const std::string& jsonl, const std::string& key) {
  std::ifstream in(jsonl);
  std::string line;
  int64_t total = 0;
  while (std::getline(in, line)) {
    auto record = nlohmann::json::parse(line, nullptr, false);  // a line being written: skipped
    if (!record.is_discarded()) total += key == "records" ? 1 : record.value(key, int64_t{0});
  }
  return total;
}

}  // namespace flowlab::testing
