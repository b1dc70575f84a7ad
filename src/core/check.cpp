#include "hivemind/core/check.hpp"

namespace hivemind::detail {

void check_failed(const char* condition, const char* file, int line, const std::string& message) {
  throw std::invalid_argument(message + " (check `" + condition + "` failed at " + file + ":"
                              + std::to_string(line) + ")");
}

}  // namespace hivemind::detail
