#pragma once
/// \file
/// Logging through spdlog. One logger per layer ("core", "net", ...), created on first use and
/// safe to use from any thread. Levels follow spdlog ("trace" ... "off").

#include <memory>
#include <string_view>

#include <spdlog/spdlog.h>

namespace hivemind {

/// The logger named `name` (created with the project's format on first use). Thread-safe.
std::shared_ptr<spdlog::logger> logger(std::string_view name);

/// Sets the level of every project logger, existing and future ("info", "debug", ...).
/// Returns false for an unknown level name. Thread-safe.
bool set_log_level(std::string_view level);

}  // namespace hivemind
