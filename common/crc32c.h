#pragma once
// CRC32C (Castagnoli) as TFRecord framing needs it. A 256-entry software table is enough:
// event files hold a few records per logged step, so a hardware (SSE4.2) path would buy
// nothing and cost a CPU-feature dependency.
#include <cstddef>
#include <cstdint>

namespace qosroute {

// Plain CRC32C (reflected polynomial 0x82F63B78, init and final xor 0xFFFFFFFF).
// Crc32c("123456789") == 0xE3069283.
uint32_t Crc32c(const void* data, size_t n);

// TFRecord stores CRCs masked, because a CRC over bytes that themselves embed CRCs is weak;
// mask = rotate right by 15, then add 0xa282ead8 (uint32 arithmetic).
uint32_t MaskCrc32c(uint32_t crc);

// MaskCrc32c(Crc32c(data, n)).
uint32_t MaskedCrc32c(const void* data, size_t n);

}  // namespace qosroute
