#pragma once

// An output file that appears whole or not at all: the command writes a temporary file
// beside the target and renames it over the target only when commit() is called, so an
// error or a crash half-way never leaves a partial report behind.

#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>

#include <unistd.h>

namespace memloc::cli {

class atomic_file {
 public:
  explicit atomic_file(std::string path)
      : path_(std::move(path)), temporary_(path_ + ".tmp." + std::to_string(::getpid())) {
    stream_.open(temporary_, std::ios::binary | std::ios::trunc);
    if (!stream_) throw std::runtime_error(path_ + ": cannot open for writing");
  }
  atomic_file(const atomic_file&) = delete;
  atomic_file& operator=(const atomic_file&) = delete;
  ~atomic_file() {
    if (!committed_) {
      stream_.close();
      std::remove(temporary_.c_str());
    }
  }

  std::ostream& stream() noexcept { return stream_; }

  void commit() {
    stream_.flush();
    stream_.close();
    if (!stream_) throw std::runtime_error(path_ + ": writing failed");
    if (std::rename(temporary_.c_str(), path_.c_str()) != 0) throw std::runtime_error(path_ + ": cannot replace the file");
    committed_ = true;
  }

 private:
  std::string path_;
  std::string temporary_;
  std::ofstream stream_;
  bool committed_ = false;
};

}  // namespace memloc::cli
