// Brazilian phone numbers as the Zattar app stores them (area code and number in
// separate, free-form columns) turned into E.164 for Chatwoot, through
// libphonenumber with Brazil as the default region.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chatwoot::core {

enum class PhoneKind { mobile, landline, other };

struct NormalizedPhone {
    std::string e164;                     // "+5511987654321"
    PhoneKind kind = PhoneKind::other;
    bool ninth_digit_added = false;       // an old 8-digit mobile was given its leading 9
    // Both Brazilian mobile forms, with and without the ninth digit, for finding a
    // contact someone saved the old way. A landline has only its own form.
    std::vector<std::string> lookup_forms;
};

struct PhoneResult {
    std::optional<NormalizedPhone> phone;
    std::string error;                    // Portuguese, set when `phone` is empty and input was not blank
    bool blank = false;                   // nothing was given: not an error
};

// `area_code` and `number` as typed ("(61)", "055 21", "9 9123-4567", a whole
// number in either field...). A full international number in `number` is accepted too.
PhoneResult normalize_brazilian_phone(std::string_view area_code, std::string_view number);

}  // namespace chatwoot::core
