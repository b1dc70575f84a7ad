// The JSON result line shared by the hm-bench-* programs.
#include "bench_json.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>
#include <unistd.h>

namespace hivemind::bench {
namespace {

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20)
          out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
        else
          out += c;
    }
  }
  return out + "\"";
}

std::string json_number(double v) {
  if (!std::isfinite(v))
    return "null";
  if (v == std::floor(v) && std::fabs(v) < 1e15)
    return fmt::format("{:.0f}", v);
  return std::fabs(v) >= 100 ? fmt::format("{:.1f}", v) : fmt::format("{:.4g}", v);
}

}  // namespace

JsonLine::JsonLine(std::string bench, std::string case_name)
    : bench_(std::move(bench)), case_(std::move(case_name)) {}

JsonLine& JsonLine::value(double v, std::string unit) {
  value_ = v;
  unit_ = std::move(unit);
  return *this;
}

JsonLine& JsonLine::against(std::string name, double against_value) {
  against_ = std::move(name);
  against_value_ = against_value;
  return *this;
}

JsonLine& JsonLine::param(const std::string& key, double v) {
  params_.emplace_back(key, json_number(v));
  return *this;
}

JsonLine& JsonLine::param(const std::string& key, const std::string& v) {
  params_.emplace_back(key, json_string(v));
  return *this;
}

JsonLine& JsonLine::field(const std::string& key, const std::string& v) {
  fields_.emplace_back(key, json_string(v));
  return *this;
}

void JsonLine::print() const {
  std::string out = R"({"bench":)" + json_string(bench_) + R"(,"case":)" + json_string(case_);
  if (value_) {
    out += R"(,"value":)" + json_number(*value_) + R"(,"unit":)" + json_string(unit_);
    if (!against_.empty()) {
      out += R"(,"against":)" + json_string(against_) + R"(,"against_value":)"
             + json_number(against_value_);
      const double ratio = against_value_ != 0 ? *value_ / against_value_ : NAN;
      out += R"(,"ratio":)" + (std::isfinite(ratio) ? fmt::format("{:.3f}", ratio) : "null");
    }
  }
  for (const auto& [key, text] : fields_)
    out += "," + json_string(key) + ":" + text;
  out += R"(,"params":{)";
  for (std::size_t i = 0; i < params_.size(); ++i)
    out += (i ? "," : "") + json_string(params_[i].first) + ":" + params_[i].second;
  out += "}}\n";
  std::fputs(out.c_str(), stdout);
  std::fflush(stdout);
}

void reexec_with_passive_openmp(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr)
    return;
  ::setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  ::execv("/proc/self/exe", argv);
  std::perror("re-exec with OMP_WAIT_POLICY=PASSIVE failed; going on without it");
}

}  // namespace hivemind::bench
