#include "core/contacts/phone.hpp"

#include "core/text/text.hpp"

#include <phonenumbers/phonenumberutil.h>

#include <cctype>
#include <string>

namespace chatwoot::core {

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;

namespace {

std::string digits_of(std::string_view text) {
    std::string out;
    for (char c : text)
        if (std::isdigit(static_cast<unsigned char>(c))) out.push_back(c);
    return out;
}

bool is_blank(std::string_view text) {
    for (char c : text)
        if (!std::isspace(static_cast<unsigned char>(c))) return false;
    return true;
}

// The national significant number (area code + subscriber) from what was typed:
// drops trunk zeros ("011"), a country code typed into either field ("55 11",
// "+55"), and keeps the rest for libphonenumber to judge.
std::string national_digits(std::string_view area_code, std::string_view number) {
    std::string area = digits_of(area_code);
    std::string local = digits_of(number);
    std::string all = area + local;
    while (!all.empty() && all.front() == '0') all.erase(0, 1);
    // 55 + DDD + 8 or 9 digits. (A bare "55" DDD, Santa Maria/RS, gives 10-11 digits and stays.)
    if ((all.size() == 12 || all.size() == 13) && all.compare(0, 2, "55") == 0) all.erase(0, 2);
    return all;
}

// What was typed, as quoted in an error: a short excerpt (a field may hold a megabyte).
std::string typed(std::string_view area_code, std::string_view number) {
    return excerpt(std::string(area_code) + " " + std::string(number));
}

std::string e164_of(const PhoneNumber& number) {
    std::string out;
    PhoneNumberUtil::GetInstance()->Format(number, PhoneNumberUtil::E164, &out);
    return out;
}

}  // namespace

PhoneResult normalize_brazilian_phone(std::string_view area_code, std::string_view number) {
    PhoneResult result;
    if (is_blank(area_code) && is_blank(number)) {
        result.blank = true;
        return result;
    }
    std::string national = national_digits(area_code, number);
    if (national.size() < 10) {
        result.error = national.size() == 8 || national.size() == 9
                           ? "telefone sem DDD: " + national
                           : "telefone com dígitos de menos: '" + typed(area_code, number) + "'";
        return result;
    }
    if (national.size() > 11) {
        result.error = "telefone com dígitos demais: '" + typed(area_code, number) + "'";
        return result;
    }

    const PhoneNumberUtil* util = PhoneNumberUtil::GetInstance();
    bool added_ninth = false;
    // An old 8-digit mobile (subscriber starts with 6-9): mobiles have had a leading 9
    // everywhere in Brazil since 2016. Landlines (2-5) never get one.
    if (national.size() == 10 && national[2] >= '6' && national[2] <= '9') {
        national.insert(2, "9");
        added_ninth = true;
    }
    // The digits are already the national significant number (the fields are
    // structured, and national_digits dropped punctuation, trunk zeros and a typed
    // country code), so the number is built directly instead of through Parse, whose
    // free-text handling (regular expressions for punctuation, prefixes, extensions)
    // was most of the cost of a party's draft. libphonenumber still judges it: a
    // number is valid when its type is known (what IsValidNumber checks), asked once.
    PhoneNumber parsed;
    parsed.set_country_code(55);
    parsed.set_national_number(std::stoull(national));
    PhoneNumberUtil::PhoneNumberType type = util->GetNumberType(parsed);
    std::string region;
    if (type != PhoneNumberUtil::UNKNOWN) util->GetRegionCodeForNumber(parsed, &region);
    if (type == PhoneNumberUtil::UNKNOWN || region != "BR") {
        result.error = "telefone inválido para o Brasil: '" + typed(area_code, number) + "'";
        return result;
    }

    NormalizedPhone phone;
    phone.e164 = e164_of(parsed);
    phone.ninth_digit_added = added_ninth;
    switch (type) {
        case PhoneNumberUtil::MOBILE: phone.kind = PhoneKind::mobile; break;
        case PhoneNumberUtil::FIXED_LINE: phone.kind = PhoneKind::landline; break;
        default: phone.kind = PhoneKind::other; break;
    }
    phone.lookup_forms.push_back(phone.e164);
    if (phone.kind == PhoneKind::mobile && phone.e164.size() == 14) {
        // +55 DD 9XXXXXXXX -> also +55 DD XXXXXXXX, the form saved before the ninth digit.
        phone.lookup_forms.push_back(phone.e164.substr(0, 5) + phone.e164.substr(6));
    }
    result.phone = phone;
    return result;
}

}  // namespace chatwoot::core
