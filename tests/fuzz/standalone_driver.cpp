// Runs an LLVMFuzzerTestOneInput target without libFuzzer: every file of the given corpus
// directories (or files), then --iterations=N deterministic mutations of them (bit flips, byte
// insertions and deletions, truncations, splices). Exits non-zero only if the target crashes,
// which sanitizers turn into an abort; used as a CTest regression test for every parser.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

using Input = std::vector<std::uint8_t>;

void add_file(const std::filesystem::path& p, std::vector<Input>& corpus) {
  std::ifstream in(p, std::ios::binary);
  corpus.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

Input mutate(const std::vector<Input>& corpus, std::mt19937_64& rng) {
  Input x = corpus[rng() % corpus.size()];
  const int rounds = 1 + static_cast<int>(rng() % 4);
  for (int r = 0; r < rounds; ++r) {
    switch (rng() % 6) {
      case 0:  // flip a bit
        if (!x.empty()) x[rng() % x.size()] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
        break;
      case 1:  // set a byte to an interesting value
        if (!x.empty()) {
          static constexpr std::uint8_t kValues[] = {0, 1, 0x7f, 0x80, 0xff, 0x0a, 0x2f};
          x[rng() % x.size()] = kValues[rng() % std::size(kValues)];
        }
        break;
      case 2:  // insert random bytes
        x.insert(x.begin() + static_cast<std::ptrdiff_t>(rng() % (x.size() + 1)), 1 + rng() % 8,
                 static_cast<std::uint8_t>(rng()));
        break;
      case 3:  // erase a range
        if (!x.empty()) {
          std::size_t at = rng() % x.size();
          std::size_t n = 1 + rng() % (x.size() - at);
          x.erase(x.begin() + static_cast<std::ptrdiff_t>(at),
                  x.begin() + static_cast<std::ptrdiff_t>(at + n));
        }
        break;
      case 4:  // truncate
        x.resize(x.empty() ? 0 : rng() % x.size());
        break;
      default: {  // splice with another input
        const Input& other = corpus[rng() % corpus.size()];
        if (!other.empty()) {
          std::size_t from = rng() % other.size();
          x.insert(x.end(), other.begin() + static_cast<std::ptrdiff_t>(from), other.end());
        }
      }
    }
  }
  return x;
}

}  // namespace

int main(int argc, char** argv) {
  long iterations = 10000;
  std::vector<Input> corpus;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--iterations=", 0) == 0) {
      iterations = std::strtol(arg.c_str() + 13, nullptr, 10);
    } else if (std::filesystem::is_directory(arg)) {
      for (const auto& e : std::filesystem::directory_iterator(arg)) add_file(e.path(), corpus);
    } else if (std::filesystem::exists(arg)) {
      add_file(arg, corpus);
    }
  }
  if (corpus.empty()) corpus.emplace_back();
  for (const auto& input : corpus) LLVMFuzzerTestOneInput(input.data(), input.size());
  std::mt19937_64 rng(0x5eed);
  for (long i = 0; i < iterations; ++i) {
    Input x = mutate(corpus, rng);
    LLVMFuzzerTestOneInput(x.data(), x.size());
  }
  std::printf("ran %zu corpus inputs and %ld mutations\n", corpus.size(), iterations);
  return 0;
}
