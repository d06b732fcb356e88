// Deterministic, serialisable random numbers for training (shuffling, dropout, init).
//
// Rng is xoshiro256** (Blackman & Vigna, 2018) seeded through splitmix64: the same seed gives
// the same stream on every platform and build (integer arithmetic only; the float helpers below
// are built from integers with exactly rounded operations). The whole state is four uint64
// words: state() / set_state() save and restore it bit-exactly (checkpoints store it).
// Not thread-safe: give each thread its own Rng (e.g. Rng(seed, stream)).
#pragma once
#include <array>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

namespace janus::train {

// One splitmix64 step: advances *x and returns the mixed output.
inline uint64_t splitmix64(uint64_t* x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

class Rng {
 public:
  using State = std::array<uint64_t, 4>;

  // `stream` selects an independent stream for the same seed (e.g. epoch, worker, purpose).
  explicit Rng(uint64_t seed = 0, uint64_t stream = 0) {
    uint64_t x = seed ^ (stream * 0xd1b54a32d192ed03ull);
    for (auto& w : s_) w = splitmix64(&x);
  }

  uint64_t next_u64() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return double(next_u64() >> 11) * 0x1.0p-53; }
  // Uniform in [0, 1) with 24 random bits (exact in float).
  float uniform_f32() { return float(next_u64() >> 40) * 0x1.0p-24f; }
  // Uniform integer in [0, n) without modulo bias (Lemire's method with rejection). n > 0.
  uint64_t below(uint64_t n) {
    unsigned __int128 m = (unsigned __int128)next_u64() * n;
    uint64_t low = uint64_t(m);
    if (low < n) {
      const uint64_t threshold = (0 - n) % n;
      while (low < threshold) {
        m = (unsigned __int128)next_u64() * n;
        low = uint64_t(m);
      }
    }
    return uint64_t(m >> 64);
  }
  // Standard normal (Box-Muller, one value per call, no cached second value so the state stays
  // four words). Uses std::log/std::cos/std::sqrt: identical on one platform + libm.
  double normal() {
    double u1 = 1.0 - uniform();  // (0, 1]
    double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
  // Fisher-Yates shuffle (in place).
  template <typename T>
  void shuffle(std::vector<T>& v) {
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[below(i)]);
  }

  const State& state() const { return s_; }
  void set_state(const State& s) { s_ = s; }
  bool operator==(const Rng& o) const { return s_ == o.s_; }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  State s_{};
};

}  // namespace janus::train
