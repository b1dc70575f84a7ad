#include "hivemind/core/log.hpp"

#include <cstdlib>
#include <mutex>
#include <string>

#include <spdlog/sinks/stdout_color_sinks.h>

namespace hivemind {
namespace {

std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}

spdlog::level::level_enum& default_level() {
  // HIVEMIND_LOG_LEVEL lets a user raise verbosity without touching code.
  static spdlog::level::level_enum level = [] {
    const char* env = std::getenv("HIVEMIND_LOG_LEVEL");
    return env != nullptr ? spdlog::level::from_str(env) : spdlog::level::info;
  }();
  return level;
}

}  // namespace

std::shared_ptr<spdlog::logger> logger(std::string_view name) {
  std::lock_guard lock(registry_mutex());
  const std::string full = "hivemind." + std::string(name);
  if (auto existing = spdlog::get(full))
    return existing;
  auto created = spdlog::stderr_color_mt(full);
  created->set_pattern("[%H:%M:%S.%e] [%n] [%^%l%$] %v");
  created->set_level(default_level());
  return created;
}

bool set_log_level(std::string_view level) {
  const auto parsed = spdlog::level::from_str(std::string(level));
  if (parsed == spdlog::level::off && level != "off")
    return false;
  std::lock_guard lock(registry_mutex());
  default_level() = parsed;
  spdlog::apply_all([parsed](const std::shared_ptr<spdlog::logger>& l) { l->set_level(parsed); });
  return true;
}

}  // namespace hivemind
