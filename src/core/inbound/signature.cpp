#include "core/inbound/signature.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cctype>
#include <cstdlib>
#include <stdexcept>

namespace chatwoot::core {

std::string hmac_sha256_hex(std::string_view key, std::string_view message) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
             reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest,
             &digest_len) == nullptr) {
        throw std::runtime_error("HMAC-SHA256 failed");
    }
    static const char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(digest_len * 2);
    for (unsigned int i = 0; i < digest_len; ++i) {
        out.push_back(hex[digest[i] >> 4]);
        out.push_back(hex[digest[i] & 0x0f]);
    }
    return out;
}

std::string chatwoot_signature_header(std::string_view secret, std::int64_t timestamp,
                                      std::string_view raw_body) {
    std::string signed_text = std::to_string(timestamp);
    signed_text.push_back('.');
    signed_text.append(raw_body);
    return "sha256=" + hmac_sha256_hex(secret, signed_text);
}

bool constant_time_equals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

static bool parse_epoch(std::string_view text, std::int64_t& out) {
    if (text.empty() || text.size() > 18) return false;
    std::int64_t value = 0;
    for (char c : text) {
        if (!std::isdigit(static_cast<unsigned char>(c))) return false;
        value = value * 10 + (c - '0');
    }
    out = value;
    return true;
}

SignatureVerdict verify_chatwoot_signature(std::string_view secret, std::string_view timestamp_header,
                                           std::string_view signature_header, std::string_view raw_body,
                                           std::int64_t now, std::int64_t tolerance_seconds) {
    if (timestamp_header.empty() || signature_header.empty()) return SignatureVerdict::missing;
    std::int64_t timestamp = 0;
    if (!parse_epoch(timestamp_header, timestamp)) return SignatureVerdict::malformed;
    constexpr std::string_view prefix = "sha256=";
    if (signature_header.substr(0, prefix.size()) != prefix || signature_header.size() != prefix.size() + 64)
        return SignatureVerdict::malformed;
    // Compare the MAC before looking at the clock so a forged request learns nothing from timing.
    std::string expected = chatwoot_signature_header(secret, timestamp, raw_body);
    std::string given(signature_header);
    for (auto& c : given) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!constant_time_equals(expected, given)) return SignatureVerdict::mismatch;
    if (std::llabs(now - timestamp) > tolerance_seconds) return SignatureVerdict::stale;
    return SignatureVerdict::valid;
}

const char* to_string(SignatureVerdict verdict) {
    switch (verdict) {
        case SignatureVerdict::valid: return "valid";
        case SignatureVerdict::missing: return "missing signature headers";
        case SignatureVerdict::malformed: return "malformed signature headers";
        case SignatureVerdict::mismatch: return "signature does not match";
        case SignatureVerdict::stale: return "timestamp outside the accepted window";
    }
    return "unknown";
}

}  // namespace chatwoot::core
