// hm-bench-moe-throughput: JSON result lines and small helpers.
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>

#include "bench_moe.hpp"

namespace hivemind::bench {
namespace {

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
    } else {
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

MoeJsonLine::MoeJsonLine(std::string case_name) : case_(std::move(case_name)) {}

MoeJsonLine& MoeJsonLine::value(double v, std::string unit) {
  value_ = v;
  unit_ = std::move(unit);
  return *this;
}

MoeJsonLine& MoeJsonLine::against(std::string name, double against_value) {
  against_ = std::move(name);
  against_value_ = against_value;
  return *this;
}

MoeJsonLine& MoeJsonLine::param(const std::string& key, double v) {
  params_.emplace_back(key, json_number(v));
  return *this;
}

MoeJsonLine& MoeJsonLine::param(const std::string& key, const std::string& v) {
  params_.emplace_back(key, json_string(v));
  return *this;
}

MoeJsonLine& MoeJsonLine::field(const std::string& key, const std::string& v) {
  fields_.emplace_back(key, json_string(v));
  return *this;
}

void MoeJsonLine::print() const {
  std::string out = R"({"bench":"moe","case":)" + json_string(case_);
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

void add_case_params(MoeJsonLine& line, const MoeCase& c, const MoeThreads& threads) {
  line.param("preset", c.preset)
      .param("expert_cls", c.expert_cls)
      .param("num_experts", static_cast<double>(c.num_experts))
      .param("num_clients", static_cast<double>(c.num_clients))
      .param("num_handlers", static_cast<double>(c.handlers()))
      .param("hid_dim", static_cast<double>(c.hid_dim))
      .param("batch_size", static_cast<double>(c.batch_size))
      .param("max_batch_size", static_cast<double>(c.max_batch()))
      .param("num_batches_per_client", static_cast<double>(c.num_batches_per_client))
      .param("backprop", c.backprop ? "true" : "false")
      .param("security", c.security == net::Security::kNoise ? "noise" : "plaintext")
      .param("torch_threads", threads.torch_threads)
      .param("compute_threads", static_cast<double>(threads.compute_threads))
      .param("codec_threads", static_cast<double>(threads.codec_threads))
      .param("client_threads", static_cast<double>(threads.client_threads));
  const char* wait = std::getenv("OMP_WAIT_POLICY");
  line.param("omp_wait_policy", wait ? wait : "unset");
}

double load_average() {
  double loads[1] = {-1};
  return ::getloadavg(loads, 1) == 1 ? loads[0] : -1;
}

}  // namespace hivemind::bench
