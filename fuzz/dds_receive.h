// Cyclone DDS 0.10.2's receive-side deserialization of one sample, for the DDS fuzz targets
// (fuzz_dds_control, fuzz_dds_image) and their seed writer (write_dds_seeds.cc).
//
// A reader never sees a peer's bytes before Cyclone has turned them into the generated C
// type; what a hostile peer can make our conversion see is whatever Cyclone accepts. So the
// targets take a serialized payload as a peer would send it (the 4-byte encapsulation
// header, then the CDR data) and put it through the same steps as Cyclone's receive path,
// with the functions libddsc exports (dds/ddsi/ddsi_cdrstream.h):
//   serdata_default_from_ser_common / _from_ser_iov_common (ddsi_serdata_default.c):
//     the header's identifier must be one of the XCDR ones (CDR_LE/BE, CDR2_LE/BE, ...),
//     its encoding format (plain, delimited, parameter list) the type's; the data is
//     copied, dds_stream_normalize checks it against the type's ops and swaps it to native
//     byte order (a big-endian sender: the byte-swap case), the key is extracted
//     (dds_stream_extract_key_from_data, XCDR2 key stream) for a keyed type;
//   serdata_default_to_sample_cdr: dds_stream_read_sample into the reader's sample, which
//     dds_take lends zeroed and dds_return_loan frees (contents) and zeroes again
//     (dds_read.c, dds_return_reader_loan).
// The type is the sertype dds_create_topic builds from the idlc descriptor
// (ddsi_sertype_default_init, ddsi_sertype_default.c), filled here with the same exported
// helpers; ddsi_sertype_default_init itself and the serdata pool are not exported, and
// nothing here needs a domain. Only the fields the stream functions read are set (type,
// encoding_format, opt_size_xcdr1/2).
//
// Cyclone itself (libddsc.so) is not instrumented: its own bugs are not what this finds,
// but anything it accepts reaches our code, which is. Not thread-safe (one per thread).
#pragma once

#include <dds/dds.h>
#include <dds/ddsi/ddsi_cdrstream.h>
#include <dds/ddsi/ddsi_serdata_default.h>
#include <dds/ddsi/q_protocol.h>
#include <dds/ddsrt/bswap.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

namespace coedge::fuzz {

// Encapsulation identifiers as they appear on the wire (big-endian 16 bits).
inline constexpr uint8_t kXcdr1Be = 0x00, kXcdr1Le = 0x01, kXcdr2Be = 0x06, kXcdr2Le = 0x07;

class ReceivedType {
 public:
  explicit ReceivedType(const dds_topic_descriptor_t* desc) : desc_(desc) {
    std::memset(&st_, 0, sizeof st_);
    enum ddsi_sertype_extensibility ext;
    if (!dds_stream_extensibility(desc->m_ops, &ext)) throw std::runtime_error(std::string("no extensibility: ") + desc->m_typename);
    st_.encoding_format = ddsi_sertype_extensibility_enc_format(ext);
    st_.write_encoding_version = CDR_ENC_VERSION_1;
    st_.type.size = desc->m_size;
    st_.type.align = desc->m_align;
    st_.type.flagset = desc->m_flagset;
    st_.type.keys.nkeys = desc->m_nkeys;
    keys_ = static_cast<ddsi_sertype_default_desc_key_t*>(std::calloc(desc->m_nkeys + 1, sizeof *keys_));
    for (uint32_t i = 0; i < desc->m_nkeys; i++) {
      keys_[i].ops_offs = desc->m_keys[i].m_offset;
      keys_[i].idx = desc->m_keys[i].m_idx;
    }
    st_.type.keys.keys = keys_;
    st_.type.ops.nops = dds_stream_countops(desc->m_ops, desc->m_nkeys, desc->m_keys);
    st_.type.ops.ops = const_cast<uint32_t*>(desc->m_ops);
    // Our types are final with no optional members: both XCDR1 and XCDR2 are allowed
    // (ddsi_sertype_default_init computes each only when its representation is allowed).
    st_.opt_size_xcdr1 = dds_stream_check_optimize(&st_.type, CDR_ENC_VERSION_1);
    st_.opt_size_xcdr2 = dds_stream_check_optimize(&st_.type, CDR_ENC_VERSION_2);
  }
  ~ReceivedType() { std::free(keys_); }
  ReceivedType(const ReceivedType&) = delete;
  ReceivedType& operator=(const ReceivedType&) = delete;

  const dds_topic_descriptor_t* descriptor() const { return desc_; }
  const struct ddsi_sertype_default* sertype() const { return &st_; }

  // Deserializes `payload` (header + CDR) into `*sample` (zeroed, of the descriptor's type)
  // as Cyclone's receive path does; false where Cyclone drops the sample. On true the
  // sample owns memory: release it with free_contents().
  bool read(const uint8_t* payload, size_t size, void* sample) const {
    if (size < 4) return false;  // serdata_default_from_ser_iov_common: no CDR header
    struct CDRHeader hdr;
    std::memcpy(&hdr, payload, sizeof hdr);
    if (!valid_xcdr_id(hdr.identifier)) return false;
    // The data, copied into a buffer laid out as the serdata's: serdata_default_new_size
    // allocates room for the whole payload, header included, and the data goes in without
    // its header, so 4 bytes follow the data inside the allocation (stale heap in Cyclone,
    // zeroed here so that runs are reproducible). Beyond them, a canary: Cyclone 0.10.2
    // checks 4 bytes for each 8-byte value of an XCDR2 stream, and then reads, and in the
    // byte-swapped case swaps, all 8 (fuzz/README.md, "Finding in Cyclone DDS 0.10.2"):
    // up to twice the data's length. A sample that makes it touch memory past its own
    // allocation is refused here (counted in cyclone_overruns()): Cyclone would have read or
    // corrupted someone else's heap, and what it then delivers is not what this target is
    // for. One that stays within the 4 bytes is delivered, as Cyclone does.
    const uint32_t len = static_cast<uint32_t>(size - 4);
    const size_t alloc = static_cast<size_t>(len) + 4;
    const size_t total = 2 * alloc + 16;
    unsigned char* data = static_cast<unsigned char*>(std::calloc(total, 1));
    if (len > 0) std::memcpy(data, payload + 4, len);
    for (size_t i = alloc; i < total; ++i) data[i] = canary(i);
    const bool needs_bswap = !CDR_ENC_IS_NATIVE(hdr.identifier);
    hdr.identifier = static_cast<unsigned short>(CDR_ENC_TO_NATIVE(hdr.identifier));
    const uint32_t pad = ddsrt_fromBE2u(hdr.options) & 2;  // sic (0.10.2)
    const uint32_t xcdr_version = ddsi_sertype_enc_id_xcdr_version(hdr.identifier);
    const uint32_t encoding_format = ddsi_sertype_enc_id_enc_format(hdr.identifier);
    bool ok = encoding_format == st_.encoding_format && len >= pad;
    uint32_t actual_size = 0;
    if (ok) ok = dds_stream_normalize(data, len - pad, needs_bswap, xcdr_version, &st_, false, &actual_size);
    // Read (and, in the byte-swapped case, written) past its allocation.
    bool overrun = !canary_intact(data, alloc, total) || (ok && actual_size > alloc);
    if (ok && !overrun && st_.type.keys.nkeys > 0) {
      // gen_serdata_key: the key in XCDR2, from the (normalized) data.
      dds_istream_t is;
      dds_istream_init(&is, actual_size, data, xcdr_version);
      dds_ostream_t os;
      dds_ostream_init(&os, 0, CDR_ENC_VERSION_2);
      ok = dds_stream_extract_key_from_data(&is, &os, &st_);
      dds_ostream_fini(&os);
      dds_istream_fini(&is);
    }
    if (ok && !overrun) {
      dds_istream_t is;
      dds_istream_init(&is, len, data, xcdr_version);
      dds_stream_read_sample(&is, sample, &st_);
      dds_istream_fini(&is);
    }
    std::free(data);
    if (overrun) ++overruns_;
    return ok && !overrun;
  }

  // How many samples read() refused because Cyclone stepped past the serdata's allocation.
  uint64_t cyclone_overruns() const { return overruns_; }

  // dds_return_loan: frees what the sample owns (DDS_FREE_CONTENTS) and zeroes it.
  void free_contents(void* sample) const {
    dds_stream_free_sample(sample, desc_->m_ops);
    std::memset(sample, 0, desc_->m_size);
  }

 private:
  // Not invariant under swapping bytes within a word, so a byte-swap shows.
  static unsigned char canary(size_t i) { return static_cast<unsigned char>(i * 37 + 11); }
  static bool canary_intact(const unsigned char* data, size_t from, size_t to) {
    for (size_t i = from; i < to; ++i)
      if (data[i] != canary(i)) return false;
    return true;
  }

  static bool valid_xcdr_id(unsigned short id) {
    // is_valid_xcdr_id: PL_CDR (version 1) is for discovery data only.
    return id == CDR_LE || id == CDR_BE || id == CDR2_LE || id == CDR2_BE || id == D_CDR2_LE ||
           id == D_CDR2_BE || id == PL_CDR2_LE || id == PL_CDR2_BE;
  }

  const dds_topic_descriptor_t* desc_;
  struct ddsi_sertype_default st_;
  ddsi_sertype_default_desc_key_t* keys_ = nullptr;
  mutable uint64_t overruns_ = 0;
};

// A zeroed sample of T (a generated C type) that frees its contents when it goes, as a
// returned loan does.
template <typename T>
class Sample {
 public:
  explicit Sample(const ReceivedType& type) : type_(type) { std::memset(&value_, 0, sizeof value_); }
  ~Sample() { type_.free_contents(&value_); }
  Sample(const Sample&) = delete;
  Sample& operator=(const Sample&) = delete;
  bool read(const uint8_t* payload, size_t size) { return type_.read(payload, size, &value_); }
  const ReceivedType& type() const { return type_; }
  const T& get() const { return value_; }

 private:
  const ReceivedType& type_;
  T value_;
};

}  // namespace coedge::fuzz
