#pragma once
/// \file
/// The JSON result line every hm-bench-* program prints (DESIGN.md section 9). Single-threaded
/// value type; print() writes one line to stdout and flushes.

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace hivemind::bench {

/// One result line: {"bench":...,"case":...,"value":...,"unit":...,["against","against_value",
/// "ratio"],[fields...],"params":{...}}. Build it with the chained setters, then print().
class JsonLine {
 public:
  /// `bench` names the program's topic ("net", "dht", "moe"); `case_name` the figure.
  JsonLine(std::string bench, std::string case_name);
  JsonLine& value(double v, std::string unit);
  /// The bound or baseline measured in the same run; sets ratio = value / against_value.
  JsonLine& against(std::string name, double against_value);
  JsonLine& param(const std::string& key, double v);
  JsonLine& param(const std::string& key, const std::string& v);

  JsonLine& param(const std::string& key, const char* v) { return param(key, std::string(v)); }

  /// A top-level string field (e.g. "skipped" with its reason, or "status").
  JsonLine& field(const std::string& key, const std::string& v);
  void print() const;

 private:
  std::string bench_;
  std::string case_;
  std::optional<double> value_;
  std::string unit_;
  std::string against_;
  double against_value_ = 0;
  std::vector<std::pair<std::string, std::string>> fields_;  // key, JSON text
  std::vector<std::pair<std::string, std::string>> params_;  // key, JSON text
};

/// libgomp reads OMP_WAIT_POLICY when it is loaded, before main: when it is unset, sets it to
/// PASSIVE (spinning OpenMP threads fight the benchmark's own threads on small machines) and
/// re-executes the program with `argv`; returns only when it is already set or the exec failed
/// (then it says so on stderr and the run goes on). Call first thing in main.
void reexec_with_passive_openmp(char** argv);

}  // namespace hivemind::bench
