#pragma once
/// \file
/// Crash-safe file writes for checkpoints: write a temp file in the target's folder, fsync it,
/// rename it over the target, fsync the folder. Readers see the old file or the new one, never a
/// mix. Blocking POSIX I/O; thread-safe for distinct targets. Private to hivemind::moe.

#include <filesystem>

#include "hivemind/core/bytes.hpp"
#include "hivemind/core/result.hpp"

namespace hivemind::moe {

/// Replaces `path` with `data` atomically. Errors: kCheckpointError naming the file and errno.
Result<void> write_file_atomically(const std::filesystem::path& path, BytesView data);

/// Makes `target` an atomic replacement holding the same bytes as the existing file `source`:
/// a hard link when the filesystem allows it, else a copy of `data` (the bytes of `source`).
Result<void> replace_with_link(const std::filesystem::path& source,
                               const std::filesystem::path& target,
                               BytesView data);

/// The whole file. Errors: kCheckpointError naming the file.
Result<Bytes> read_whole_file(const std::filesystem::path& path);

}  // namespace hivemind::moe
