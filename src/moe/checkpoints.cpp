// Expert checkpoints (hivemind/moe/server/checkpoints.py store_experts / load_experts). hivemind
// writes into a temp folder, symlinks checkpoint_last.pt and copies the tree over; we write each
// file atomically in place instead: checkpoint_<time>.pt via temp file + fsync + rename, then
// checkpoint_last.pt as an atomic hard link to it (a copy where links are not supported).
// Timestamps are UTC (hivemind: local time), formatted like Python's isoformat(sep="_") so names
// sort by time. Unlike hivemind, old timestamped files are pruned (CheckpointOptions).
#include "hivemind/moe/checkpoints.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <system_error>

#include "atomic_file.hpp"
#include "hivemind/core/log.hpp"
#include "hivemind/moe/expert_backend.hpp"

namespace hivemind::moe {
namespace {

namespace fs = std::filesystem;

constexpr const char* kLastName = "checkpoint_last.pt";
constexpr std::string_view kPrefix = "checkpoint_";
constexpr std::string_view kSuffix = ".pt";

bool safe_folder_name(const std::string& uid) {
  return !uid.empty() && uid != "." && uid != ".." && uid.find('/') == std::string::npos
         && uid.find('\0') == std::string::npos;
}

std::string timestamp_name(std::chrono::system_clock::time_point t) {
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(micros / 1'000'000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[64];
  std::snprintf(buffer,
                sizeof buffer,
                "checkpoint_%04d-%02d-%02d_%02d:%02d:%02d.%06lld.pt",
                utc.tm_year + 1900,
                utc.tm_mon + 1,
                utc.tm_mday,
                utc.tm_hour,
                utc.tm_min,
                utc.tm_sec,
                static_cast<long long>(micros % 1'000'000));
  return buffer;
}

bool is_timestamped(const std::string& name) {
  return name != kLastName && name.size() > kPrefix.size() + kSuffix.size()
         && name.starts_with(kPrefix) && name.ends_with(kSuffix);
}

/// Deletes the oldest timestamped files of `folder` beyond `keep` (0: keep all).
void prune(const fs::path& folder, std::size_t keep) {
  if (keep == 0)
    return;
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(folder, ec))
    if (entry.is_regular_file(ec) && is_timestamped(entry.path().filename().string()))
      names.push_back(entry.path().filename().string());
  if (names.size() <= keep)
    return;
  std::sort(names.begin(), names.end());
  for (std::size_t i = 0; i + keep < names.size(); ++i)
    fs::remove(folder / names[i], ec);
}

Result<void> save_one(const fs::path& dir,
                      ExpertBackend& backend,
                      const CheckpointOptions& options) {
  const std::string& uid = backend.uid();
  if (!safe_folder_name(uid))
    return Err(MoeErrc::kCheckpointError, "expert uid '" + uid + "' is not a safe folder name");
  const fs::path folder = dir / uid;
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (ec)
    return Err(MoeErrc::kCheckpointError, folder.string() + ": " + ec.message());
  HM_TRY(const Bytes bytes, backend.state_bytes());
  auto now = std::chrono::system_clock::now();
  fs::path path = folder / timestamp_name(now);
  while (fs::exists(path, ec)) {  // two saves within a microsecond: keep both
    now += std::chrono::microseconds(1);
    path = folder / timestamp_name(now);
  }
  HM_TRY_VOID(write_file_atomically(path, bytes));
  HM_TRY_VOID(replace_with_link(path, folder / kLastName, bytes));
  prune(folder, options.keep_timestamped);
  return {};
}

}  // namespace

Result<void> save_checkpoints(const fs::path& dir,
                              const std::vector<std::shared_ptr<ExpertBackend>>& backends,
                              const CheckpointOptions& options) {
  for (const auto& backend : backends)
    HM_TRY_VOID(save_one(dir, *backend, options));
  return {};
}

Result<void> load_checkpoints(const fs::path& dir,
                              const std::vector<std::shared_ptr<ExpertBackend>>& backends) {
  for (const auto& backend : backends) {
    const std::string& uid = backend->uid();
    if (!safe_folder_name(uid))
      return Err(MoeErrc::kCheckpointError, "expert uid '" + uid + "' is not a safe folder name");
    const fs::path path = dir / uid / kLastName;
    std::error_code ec;
    if (!fs::exists(path, ec)) {
      logger("moe")->warn(
          "no checkpoint for expert '{}' at {}; starting from scratch", uid, path.string());
      continue;
    }
    HM_TRY_VOID(backend->load_state(path));
  }
  return {};
}

std::vector<std::string> checkpointed_uids(const fs::path& dir) {
  std::vector<std::string> uids;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::error_code entry_ec;
    if (entry.is_directory(entry_ec) && fs::exists(entry.path() / kLastName, entry_ec))
      uids.push_back(entry.path().filename().string());
  }
  std::sort(uids.begin(), uids.end());
  return uids;
}

}  // namespace hivemind::moe
