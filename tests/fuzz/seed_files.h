#pragma once
// What the seed programs (<target>_fuzz_seeds, run at build time) share: the directory they are given,
// and one file per seed.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

namespace archer::fuzz {

// argv[1], the directory to write the seeds into; exits 2 with the usage when it is not given.
inline std::string seed_dir(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    std::exit(2);
  }
  return argv[1];
}

// Writes `bytes` (any contiguous container of chars or bytes) as the seed `name` in `dir`.
template <class Bytes>
void write_seed(const std::string& dir, const std::string& name, const Bytes& bytes) {
  std::ofstream out(dir + "/" + name, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace archer::fuzz
