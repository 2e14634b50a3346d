// The streaming packer of packed_pixels.h: one pass over the bytes, counts patched in place.
#include "data/packed_pixels.h"

#include <algorithm>
#include <limits>

namespace edgetrain::data {

PixelPacker::PixelPacker(std::vector<uint8_t>& packed, std::vector<uint64_t>& offsets,
                         size_t image_size)
    : packed_(packed), offsets_(offsets), image_size_(image_size) {
  assert(image_size > 0 && !offsets.empty() && offsets.back() == packed.size());
}

void PixelPacker::open_pair() {
  pair_ = packed_.size();
  packed_.push_back(0);
  packed_.push_back(0);
}

void PixelPacker::add(const uint8_t* bytes, size_t n) {
  while (n > 0) {
    if (done_ == 0) open_pair();
    const size_t take = std::min(n, image_size_ - done_);
    const uint8_t* p = bytes;
    const uint8_t* const end = bytes + take;
    while (p < end) {
      if (*p == 0) {
        const uint8_t* run_end = std::find_if(p, end, [](uint8_t v) { return v != 0; });
        while (p < run_end) {
          if (packed_[pair_ + 1] != 0 || packed_[pair_] == 255) open_pair();
          const size_t count = std::min<size_t>(size_t(run_end - p), 255 - packed_[pair_]);
          packed_[pair_] = uint8_t(packed_[pair_] + count);
          p += count;
        }
      } else {
        const uint8_t* run_end = std::find(p, end, uint8_t(0));
        while (p < run_end) {
          if (packed_[pair_ + 1] == 255) open_pair();
          const size_t count = std::min<size_t>(size_t(run_end - p), 255 - packed_[pair_ + 1]);
          packed_[pair_ + 1] = uint8_t(packed_[pair_ + 1] + count);
          packed_.insert(packed_.end(), p, p + count);
          p += count;
        }
      }
    }
    done_ += take;
    bytes += take;
    n -= take;
    if (done_ == image_size_) finish_image();
  }
}

void PixelPacker::finish_image() {
  const size_t start = offsets_.back();
  // Pairs that save nothing: keep the image's own bytes instead (so it never grows).
  if (packed_.size() - start >= image_size_) {
    std::vector<uint8_t> image(image_size_);
    unpack_pairs(packed_.data() + start, packed_.size() - start, image_size_, image.data(),
                 [](uint8_t v) { return v; });
    packed_.resize(start);
    packed_.insert(packed_.end(), image.begin(), image.end());
  }
  // Readers accept at most 2 GiB of pixels, and an image never packs larger than itself.
  offsets_.push_back(uint64_t(packed_.size()));
  done_ = 0;
}

}  // namespace edgetrain::data
