#include "json_util.hpp"

#include <cstdio>

#include "util.hpp"

namespace sim {

json_t* jstr(std::string_view s) {
    json_t* v = json_stringn(s.data(), s.size());
    // jansson refuses invalid UTF-8; keep the key present rather than crash.
    return v ? v : json_string("");
}

json_t* jstr_opt(const std::optional<std::string>& s) { return s ? jstr(*s) : json_null(); }

json_t* jint_opt(const std::optional<std::int64_t>& v) { return v ? json_integer(*v) : json_null(); }

json_t* jobject_copy(const json_t* v) {
    if (!v || !json_is_object(v)) return json_object();
    return json_deep_copy(v);
}

std::string dump(const json_t* v) {
    if (!v) return "null";
    char* text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    std::string out = text ? text : "null";
    free(text);
    return out;
}

std::string rails_escape_json(const std::string& json) {
    std::string out;
    out.reserve(json.size() + 16);
    for (std::size_t i = 0; i < json.size(); ++i) {
        char ch = json[i];
        if (ch == '<') out += "\\u003c";
        else if (ch == '>') out += "\\u003e";
        else if (ch == '&') out += "\\u0026";
        else if (ch == '\xE2' && i + 2 < json.size() && json[i + 1] == '\x80' && (json[i + 2] == '\xA8' || json[i + 2] == '\xA9')) {
            out += json[i + 2] == '\xA8' ? "\\u2028" : "\\u2029";
            i += 2;
        } else {
            out.push_back(ch);
        }
    }
    return out;
}

std::string dump_steal(json_t* v) {
    std::string out = dump(v);
    json_decref(v);
    return out;
}

Params::Params(json_t* body, const std::vector<std::pair<std::string, std::string>>& query)
    : merged_(Json::object()) {
    if (body && json_is_object(body)) json_object_update(merged_.get(), body);
    for (const auto& [k, v] : query) json_object_set_new(merged_.get(), k.c_str(), jstr(v));
}

bool Params::is_null(const char* key) const {
    json_t* v = raw(key);
    return v && json_is_null(v);
}

std::optional<std::string> json_scalar_text(const json_t* v) {
    if (!v) return std::nullopt;
    if (json_is_string(v)) return std::string(json_string_value(v), json_string_length(v));
    if (json_is_integer(v)) return std::to_string(json_integer_value(v));
    if (json_is_real(v)) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%g", json_real_value(v));
        return std::string(buf);
    }
    if (json_is_true(v)) return std::string("true");
    if (json_is_false(v)) return std::string("false");
    return std::nullopt;
}

std::optional<std::string> Params::str(const char* key) const { return json_scalar_text(raw(key)); }

std::optional<std::int64_t> Params::integer(const char* key) const {
    json_t* v = raw(key);
    if (!v || json_is_null(v)) return std::nullopt;
    if (json_is_integer(v)) return json_integer_value(v);
    if (json_is_real(v)) return static_cast<std::int64_t>(json_real_value(v));
    if (json_is_string(v)) {
        if (is_blank(json_string_value(v))) return std::nullopt;
        return ruby_to_i(json_string_value(v));
    }
    return std::nullopt;
}

bool json_truthy_cast(const json_t* v) {
    if (!v || json_is_null(v) || json_is_false(v)) return false;
    if (json_is_string(v)) {
        std::string s = ascii_lower(json_string_value(v));
        return !(s == "false" || s == "0" || s == "f" || s == "off" || s.empty());
    }
    if (json_is_integer(v)) return json_integer_value(v) != 0;
    return true;
}

std::optional<bool> Params::boolean(const char* key) const {
    json_t* v = raw(key);
    if (!v || json_is_null(v)) return std::nullopt;
    return json_truthy_cast(v);
}

}  // namespace sim
