// A small owning handle over jansson's json_t, so JSON values are released by
// destructors and never leak on an early return or a thrown exception.
#pragma once
#include <jansson.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace chatwoot::core {

class Json {
public:
    Json() = default;
    // Takes ownership of a new reference (what jansson's constructors return).
    static Json adopt(json_t* value) { return Json(value); }
    // Shares a borrowed reference (what json_object_get returns).
    static Json borrow(json_t* value) { return Json(value ? json_incref(value) : nullptr); }

    static Json object() { return adopt(new_jansson_object()); }
    static Json array() { return adopt(json_array()); }
    static Json string(std::string_view s) { return adopt(json_stringn(s.data(), s.size())); }
    static Json integer(std::int64_t v) { return adopt(json_integer(v)); }
    static Json boolean(bool v) { return adopt(json_boolean(v)); }
    static Json null() { return adopt(json_null()); }

    // Parses text; returns an empty handle and fills `error` when it is not JSON. With
    // `aborted`, a long text is fed to jansson in pieces and `aborted` is asked before
    // each: when it says so the parse stops (error "aborted"), so a backend's cancel
    // and statement_timeout are honoured while a large reply is parsed.
    // With reject_duplicate_keys, an object naming a key twice is not JSON either: for
    // replies read to decide a write, where "the last one wins" would be a guess.
    enum Strictness { lenient, reject_duplicate_keys };
    static Json parse(std::string_view text, std::string* error = nullptr,
                      const std::function<bool()>& aborted = {}, Strictness strictness = lenient);

    Json(const Json& other) : value_(other.value_ ? json_incref(other.value_) : nullptr) {}
    Json(Json&& other) noexcept : value_(other.value_) { other.value_ = nullptr; }
    Json& operator=(Json other) noexcept {
        std::swap(value_, other.value_);
        return *this;
    }
    ~Json() { json_decref(value_); }

    explicit operator bool() const { return value_ != nullptr; }
    json_t* get() const { return value_; }

    bool is_object() const { return json_is_object(value_); }
    bool is_array() const { return json_is_array(value_); }
    bool is_string() const { return json_is_string(value_); }
    bool is_integer() const { return json_is_integer(value_); }
    bool is_null() const { return value_ == nullptr || json_is_null(value_); }

    // Member access on objects; an empty handle when absent or not an object.
    Json operator[](const char* key) const;
    Json at(std::size_t index) const;
    std::size_t size() const;

    std::optional<std::string> as_string() const;
    std::optional<std::int64_t> as_integer() const;
    std::optional<bool> as_bool() const;

    // Setters for building request bodies (objects only).
    Json& set(const char* key, Json value);
    Json& set(const char* key, std::string_view value) { return set(key, string(value)); }
    Json& set(const char* key, std::int64_t value) { return set(key, integer(value)); }
    Json& append(Json value);

    std::string dump() const;  // compact, keys in insertion order

    // Appends `value` encoded by jansson as a JSON string literal ("null" if it is not
    // valid UTF-8, as a tree holding it would dump). For bodies whose shape is fixed:
    // written as text around their encoded values they cost a fifth of a jansson tree
    // built and dumped for each one, and the worker writes two per contact.
    static void append_string_literal(std::string& out, std::string_view value);

    // jansson's json_object(). Inside a PostgreSQL backend a plain call would bind
    // to the server's own exported SQL function json_object() (same symbol name)
    // and crash; this resolves jansson's explicitly.
    static json_t* new_jansson_object();

private:
    explicit Json(json_t* value) : value_(value) {}
    json_t* value_ = nullptr;
};

}  // namespace chatwoot::core
