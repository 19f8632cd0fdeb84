// Text the extension stores or shows: always valid UTF-8, never a NUL byte, bounded,
// and free of secrets. Chatwoot's replies, proxies' pages and the app's own data can
// hold anything; what reaches a PostgreSQL text column must survive pg_dump and
// restore, and must not hand the API key to a role that can read error columns.
#pragma once
#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>

namespace chatwoot::core {

// `text` with every invalid UTF-8 sequence and every NUL byte replaced by U+FFFD.
std::string valid_utf8(std::string_view text);

// At most `max_bytes` bytes of valid UTF-8, cut at a character boundary; "…" marks a cut
// (and is counted in `max_bytes`).
std::string cut_utf8(std::string_view text, std::size_t max_bytes);

// The length of the longest prefix of `text` of at most `max_bytes` bytes that does not
// end inside a UTF-8 character: for copies into fixed buffers (shared memory, trigger
// state), which must not be cut mid-character either. No allocation.
std::size_t utf8_prefix(std::string_view text, std::size_t max_bytes) noexcept;

// Copies into `dst` (of `size` bytes, NUL-terminated) as much of `src` as fits,
// cut at a character boundary by utf8_prefix. No allocation.
void copy_utf8(char* dst, std::size_t size, std::string_view src) noexcept;

// A short quotation of untrusted input inside a message: valid UTF-8, at most
// `max_chars` characters, "…" when cut.
std::string excerpt(std::string_view input, std::size_t max_chars = 40);

// Lower case beyond ASCII, as Ruby's String#downcase and PostgreSQL's LOWER() under a
// UTF-8 collation fold what Chatwoot compares (e-mails, identifiers): Latin-1, Latin
// Extended-A, Greek and Cyrillic capitals; other characters are kept. Invalid UTF-8
// is kept byte for byte.
std::string fold_case(std::string_view text);

// Every text the worker records (ultimo_erro, erro_sincronizacao, worker errors) goes
// through here, and so does every excerpt of a reply, at the point it is made (the
// 300 bytes of a 422's message, the 200 of a 401's error, a redirect's Location):
// each secret, and each piece of 8+ of its first characters, is replaced by
// "[redacted]" over the WHOLE text, and only then is the text made valid UTF-8 and
// cut to `max_bytes`. Cutting first would keep all but the last characters of a key
// a reply echoed across the cut, where no redaction can find it any more.
constexpr std::size_t kRecordedTextLimit = 1000;
std::string recorded_text(std::string_view text, std::initializer_list<std::string_view> secrets,
                          std::size_t max_bytes = kRecordedTextLimit);

}  // namespace chatwoot::core
