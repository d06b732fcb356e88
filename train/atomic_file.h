// Crash-safe small-file writing for train/ (checkpoint markers, metrics rewrites, plots).
//
// write_file_atomic writes `path + ".tmp.<pid>"`, fsyncs it, renames it over `path` and fsyncs the
// folder: after a crash `path` holds either its old contents or the new ones, never a mix.
// On failure the temporary file is removed and std::runtime_error names `path` and errno's text.
#pragma once
#include <string>

namespace janus::train {

void write_file_atomic(const std::string& path, const std::string& contents);
// Renames an already written file `tmp` over `path` atomically (fsync tmp, rename, fsync folder).
void commit_file_atomic(const std::string& tmp, const std::string& path);
// fsyncs a folder so renames/unlinks in it are durable. Throws std::runtime_error on failure.
void fsync_dir(const std::string& dir);
// Whole file as bytes; throws std::runtime_error naming `path` when it cannot be read.
std::string read_file(const std::string& path);

}  // namespace janus::train
