#pragma once
/// \file
/// `HM_CHECK(cond, message)`: throws `std::invalid_argument` on API misuse (like TORCH_CHECK).
/// Never use it for conditions that hostile network input can trigger; return an error instead.

#include <stdexcept>
#include <string>

namespace hivemind::detail {
[[noreturn]] void check_failed(const char* condition,
                               const char* file,
                               int line,
                               const std::string& message);
}  // namespace hivemind::detail

#define HM_CHECK(cond, message)                                               \
  do {                                                                        \
    if (!(cond)) [[unlikely]]                                                 \
      ::hivemind::detail::check_failed(#cond, __FILE__, __LINE__, (message)); \
  } while (false)
