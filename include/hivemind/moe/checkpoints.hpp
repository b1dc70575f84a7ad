#pragma once
/// \file
/// Expert checkpoints on disk (hivemind/moe/server/checkpoints.py): per expert a folder
/// `<dir>/<uid>/` with timestamped `checkpoint_<UTC time>.pt` files and `checkpoint_last.pt`,
/// each written atomically (temp file, fsync, rename), so a crash never leaves a half-written
/// `checkpoint_last.pt`. Blocking file I/O; call from a worker thread, not a network thread.

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "hivemind/core/result.hpp"
#include "hivemind/moe/error.hpp"

namespace hivemind::moe {

class ExpertBackend;

/// How checkpoints are kept.
struct CheckpointOptions {
  /// Timestamped files kept per expert after each save (oldest deleted first); 0 keeps all, as
  /// hivemind does (which grows without bound: one file per expert every update_period).
  std::size_t keep_timestamped = 3;
};

/// Saves every backend's state (ExpertBackend::state_bytes) as
/// `<dir>/<uid>/checkpoint_YYYY-MM-DD_HH:MM:SS.ffffff.pt` (UTC; names sort by time) and as
/// `checkpoint_last.pt`, creating folders as needed, then prunes old timestamped files. Stops at
/// the first failure. Errors: kCheckpointError naming the file (also for a uid that is not a
/// safe folder name: empty, ".", "..", or holding '/' or NUL).
Result<void> save_checkpoints(const std::filesystem::path& dir,
                              const std::vector<std::shared_ptr<ExpertBackend>>& backends,
                              const CheckpointOptions& options = {});

/// Loads `<dir>/<uid>/checkpoint_last.pt` into each backend. A missing file is skipped with a
/// warning (logger "moe"), as hivemind does. Errors: kCheckpointError naming the file that is
/// corrupt or does not fit the expert (earlier backends stay loaded).
Result<void> load_checkpoints(const std::filesystem::path& dir,
                              const std::vector<std::shared_ptr<ExpertBackend>>& backends);

/// Uids of the sub-folders of `dir` that hold a `checkpoint_last.pt`, sorted (hivemind's server
/// takes its expert uids from here when given a checkpoint_dir and no uids). Empty when `dir`
/// does not exist or cannot be read.
std::vector<std::string> checkpointed_uids(const std::filesystem::path& dir);

}  // namespace hivemind::moe
