// jansson helpers and a Rails-like view of request parameters.
#pragma once
#include <jansson.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/json/json.hpp"

namespace sim {

using chatwoot::core::Json;

// New references, ready for json_object_set_new / json_array_append_new.
json_t* jstr(std::string_view s);
json_t* jstr_opt(const std::optional<std::string>& s);
json_t* jint_opt(const std::optional<std::int64_t>& v);
// A deep copy of `v`, or an empty object when `v` is null / not an object.
json_t* jobject_copy(const json_t* v);

// Compact dump; `dump_steal` also releases the value.
std::string dump(const json_t* v);
std::string dump_steal(json_t* v);
// ActiveSupport's JSON encoding with escape_html_entities_in_json (Rails' default):
// '<', '>', '&', U+2028 and U+2029 become \u003c, \u003e, \u0026, \u2028, \u2029.
// Applied to compact JSON text; those characters only occur inside strings there.
std::string rails_escape_json(const std::string& json);

// Request parameters as Rails sees them: the JSON body merged with the query
// string (query wins, as in ActionDispatch). Scalars are read leniently the way
// Rails casts them (ids may come as "3" or 3).
class Params {
public:
    Params(json_t* body, const std::vector<std::pair<std::string, std::string>>& query);
    bool has(const char* key) const { return json_object_get(merged_.get(), key) != nullptr; }
    bool is_null(const char* key) const;
    json_t* raw(const char* key) const { return json_object_get(merged_.get(), key); }
    // Strings as is, numbers and booleans in their text form, null/absent -> nullopt.
    std::optional<std::string> str(const char* key) const;
    // Integers, or strings via Ruby's to_i (as ActiveRecord casts ids).
    std::optional<std::int64_t> integer(const char* key) const;
    // ActiveModel boolean cast: false, "false", "0", "f", "off" are false.
    std::optional<bool> boolean(const char* key) const;
    json_t* object() const { return merged_.get(); }

private:
    Json merged_;
};

std::optional<std::string> json_scalar_text(const json_t* v);
bool json_truthy_cast(const json_t* v);

}  // namespace sim
