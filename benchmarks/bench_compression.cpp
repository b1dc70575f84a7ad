// hm-bench-compression: hivemind's benchmarks/benchmark_tensor_compression.py in C++. A float32
// tensor of --size values from randn with --seed; for every codec, the time to encode it into a
// runtime.proto Tensor message and decode it back (median of --iters runs), the mean squared
// error and the message size, each next to a plain memcpy of the same tensor timed just before
// every codec run (DESIGN.md §9). Throughput figures are MB/s of float32 input (10^6 bytes per
// second).
//
// Destinations are treated alike on both sides. By default they are reused, as in a training
// loop that sends the same tensors every step: the codec encodes into the same message Bytes and
// decodes into the same tensor every run (the reusing overloads of serialization.hpp), and
// memcpy copies into the same touched buffer. With --fresh every run gets new memory: the
// value-returning overloads (a new message and a new tensor each run), and memcpy into a new
// allocation advised to use huge pages as the codecs' large buffers are (memory.cpp).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/Tensor.h>
#include <ATen/ops/randn.h>

#include "hivemind/compression/serialization.hpp"
#include "memory.hpp"  // src/compression: the codecs' huge-page advice, applied to memcpy too

namespace {

using hivemind::compression::CompressionType;
using Clock = std::chrono::steady_clock;

struct Options {
  std::int64_t size = 10'000'000;
  std::uint64_t seed = 7348;
  int iters = 30;
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  bool fresh = false;
};

void usage() {
  std::puts(
      "hm-bench-compression [--size=N] [--seed=N] [--iters=N] [--threads=N] [--fresh] [--quick]\n"
      "  Encodes and decodes a randn float32 tensor with every hivemind codec and prints one\n"
      "  JSON line per codec with its encode+decode throughput next to memcpy of the same data.\n"
      "  --size     values in the tensor (default 10000000, as hivemind's benchmark)\n"
      "  --seed     generator seed (default 7348)\n"
      "  --iters    timed runs per codec, the median is reported (default 30)\n"
      "  --threads  codec threads, the caller included (default: hardware threads)\n"
      "  --fresh    new output memory every run, for the codecs and for memcpy (default: both\n"
      "             reuse their destinations: the same message Bytes, tensor and copy buffer)\n"
      "  --quick    --size=1000000 --iters=3 (a smoke run)");
}

bool parse(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](const char* name) -> const char* {
      const std::string prefix = std::string(name) + "=";
      return arg.rfind(prefix, 0) == 0 ? argv[i] + prefix.size() : nullptr;
    };
    if (arg == "--help" || arg == "-h") {
      usage();
      std::exit(0);
    } else if (arg == "--fresh") {
      o.fresh = true;
    } else if (arg == "--quick") {
      o.size = 1'000'000;
      o.iters = 3;
    } else if (const char* size = value("--size")) {
      o.size = std::atoll(size);
    } else if (const char* seed = value("--seed")) {
      o.seed = std::strtoull(seed, nullptr, 10);
    } else if (const char* iters = value("--iters")) {
      o.iters = std::atoi(iters);
    } else if (const char* threads = value("--threads")) {
      o.threads = static_cast<unsigned>(std::atoi(threads));
    } else {
      std::fprintf(stderr, "unknown argument %s (see --help)\n", argv[i]);
      return false;
    }
  }
  return o.size > 0 && o.iters > 0 && o.threads > 0;
}

// CPU time of the whole process (all threads), seconds: on a loaded machine this shows the work
// done, where wall time also shows the waiting.
double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Goals of issue 4: at least 1/4 of memcpy, QUANTILE_8BIT at least 1/10.
double goal(CompressionType type) {
  return type == CompressionType::kQuantile8Bit ? 0.1 : 0.25;
}

}  // namespace

int main(int argc, char** argv) {
  namespace hc = hivemind::compression;
  Options o;
  if (!parse(argc, argv, o))
    return 2;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(o.seed);
  const at::Tensor x = at::randn({o.size}, gen, at::kFloat);
  const auto bytes = static_cast<double>(x.numel() * 4);
  hc::WorkerPool pool(o.threads);
  const hc::CodecOptions codec{.pool = &pool};

  // The bound: one memcpy of the tensor on one thread, into the same touched buffer every time
  // (default) or into new memory (--fresh; allocation and page faults timed, the free not, as
  // for the codecs). It is timed right before every codec run, so that each codec is compared
  // with copies made under the same machine load (these machines are shared and noisy).
  const auto nbytes = static_cast<std::size_t>(bytes);
  std::vector<std::uint8_t> dst(o.fresh ? 0 : nbytes, 1);
  auto time_memcpy = [&] {
    if (!o.fresh) {
      const auto t0 = Clock::now();
      std::memcpy(dst.data(), x.data_ptr(), nbytes);
      return seconds(t0, Clock::now());
    }
    const auto t0 = Clock::now();
    std::unique_ptr<std::uint8_t[]> fresh(new std::uint8_t[nbytes]);
    hivemind::compression::detail::advise_huge_pages(fresh.get(), nbytes);
    std::memcpy(fresh.get(), x.data_ptr(), nbytes);
    const double t = seconds(t0, Clock::now());
    volatile std::uint8_t sink = fresh[nbytes / 2];  // keep the copy
    (void)sink;
    return t;
  };
  std::vector<double> all_copies;
  hivemind::Bytes message;  // reused destinations (default mode)
  at::Tensor y;

  for (const CompressionType type : hc::kAllCompressionTypes) {
    std::vector<double> copy_times, encode_times, decode_times, total_times, cpu_times;
    double mse = 0;
    std::size_t message_bytes = 0;
    for (int i = 0; i < o.iters + 1; ++i) {  // the first run warms up and is not timed
      const double copy = time_memcpy();
      hivemind::Result<void> encoded = hivemind::ok();
      hivemind::Result<void> decoded = hivemind::ok();
      if (o.fresh) {  // a new message and a new tensor every run; the old ones freed untimed
        message = hivemind::Bytes();
        y = at::Tensor();
      }
      const double cpu0 = process_cpu_seconds();
      const auto t0 = Clock::now();
      if (o.fresh) {
        auto m = hc::serialize_tensor_message(x, type, codec);
        if (m)
          message = std::move(*m);
        else
          encoded = hivemind::Err(m.error());
      } else {
        encoded = hc::serialize_tensor_message(x, type, message, codec);
      }
      const auto t1 = Clock::now();
      if (encoded) {
        if (o.fresh) {
          auto t = hc::deserialize_tensor_message(message, codec);
          if (t)
            y = std::move(*t);
          else
            decoded = hivemind::Err(t.error());
        } else {
          decoded = hc::deserialize_tensor_message(message, y, codec);
        }
      }
      const auto t2 = Clock::now();
      const double cpu = process_cpu_seconds() - cpu0;
      if (!encoded || !decoded) {
        std::fprintf(stderr, "%s failed\n", std::string(hc::compression_type_name(type)).c_str());
        return 1;
      }
      if (i == 0) {
        mse = x.sub(y).pow(2).mean().item<double>();
        message_bytes = message.size();
        continue;
      }
      copy_times.push_back(copy);
      encode_times.push_back(seconds(t0, t1));
      decode_times.push_back(seconds(t1, t2));
      total_times.push_back(seconds(t0, t2));
      cpu_times.push_back(cpu);
    }
    all_copies.insert(all_copies.end(), copy_times.begin(), copy_times.end());
    const double memcpy_mbs = bytes / median(copy_times) / 1e6;
    const double mbs = bytes / median(total_times) / 1e6;
    std::printf(
        "{\"bench\":\"compression\",\"case\":\"%s\",\"value\":%.1f,\"unit\":\"MB/s\","
        "\"against\":\"memcpy\",\"against_value\":%.1f,\"ratio\":%.3f,\"params\":{\"numel\":%lld,"
        "\"threads\":%u,\"iters\":%d,\"encode_ms\":%.2f,\"decode_ms\":%.2f,\"mse\":%.3g,"
        "\"cpu_ms\":%.2f,\"bytes\":%zu,\"goal_ratio\":%.2f,\"dest\":\"%s\"}}\n",
        std::string(hc::compression_type_name(type)).c_str(),
        mbs,
        memcpy_mbs,
        mbs / memcpy_mbs,
        static_cast<long long>(o.size),
        o.threads,
        o.iters,
        median(encode_times) * 1e3,
        median(decode_times) * 1e3,
        mse,
        median(cpu_times) * 1e3,
        message_bytes,
        goal(type),
        o.fresh ? "fresh" : "reused");
    std::fflush(stdout);
  }
  std::printf(
      "{\"bench\":\"compression\",\"case\":\"memcpy\",\"value\":%.1f,\"unit\":\"MB/s\","
      "\"params\":{\"numel\":%lld,\"threads\":1,\"runs\":%zu,\"dest\":\"%s\"}}\n",
      bytes / median(all_copies) / 1e6,
      static_cast<long long>(o.size),
      all_copies.size(),
      o.fresh ? "fresh" : "reused");
  return 0;
}
