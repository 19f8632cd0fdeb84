#include "core/json/json.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace chatwoot::core {

json_t* Json::new_jansson_object() {
    using Constructor = json_t* (*)();
    static const Constructor constructor = [] {
        void* library = dlopen("libjansson.so.4", RTLD_NOW | RTLD_NOLOAD);
        void* symbol = library ? dlsym(library, "json_object") : nullptr;
        return symbol ? reinterpret_cast<Constructor>(symbol) : &json_object;
    }();
    return constructor();
}

namespace {

// A text jansson reads through json_load_callback, asking `aborted` before each piece.
struct Feed {
    std::string_view text;
    std::size_t position;
    const std::function<bool()>* aborted;
    bool stopped;
};

std::size_t read_piece(void* buffer, std::size_t size, void* data) {
    auto* feed = static_cast<Feed*>(data);
    if ((*feed->aborted)()) {
        feed->stopped = true;
        return static_cast<std::size_t>(-1);  // jansson's "read error": it stops
    }
    std::size_t n = std::min(size, feed->text.size() - feed->position);
    std::memcpy(buffer, feed->text.data() + feed->position, n);
    feed->position += n;
    return n;
}

// Below this, a parse takes well under a millisecond: not worth the pieces.
constexpr std::size_t kAbortableFrom = 64 * 1024;

}  // namespace

Json Json::parse(std::string_view text, std::string* error, const std::function<bool()>& aborted,
                 Strictness strictness) {
    const std::size_t flags =
        JSON_DECODE_ANY | JSON_ALLOW_NUL | (strictness == reject_duplicate_keys ? JSON_REJECT_DUPLICATES : 0);
    json_error_t err;
    if (!aborted || text.size() < kAbortableFrom) {
        json_t* value = json_loadb(text.data(), text.size(), flags, &err);
        if (!value && error) *error = err.text;
        return adopt(value);
    }
    Feed feed{text, 0, &aborted, false};
    json_t* value = json_load_callback(read_piece, &feed, flags, &err);
    if (!value && error) *error = feed.stopped ? "aborted" : err.text;
    return adopt(value);
}

Json Json::operator[](const char* key) const {
    if (!json_is_object(value_)) return Json();
    return borrow(json_object_get(value_, key));
}

Json Json::at(std::size_t index) const {
    if (!json_is_array(value_)) return Json();
    return borrow(json_array_get(value_, index));
}

std::size_t Json::size() const {
    if (json_is_array(value_)) return json_array_size(value_);
    if (json_is_object(value_)) return json_object_size(value_);
    return 0;
}

std::optional<std::string> Json::as_string() const {
    if (!json_is_string(value_)) return std::nullopt;
    return std::string(json_string_value(value_), json_string_length(value_));
}

std::optional<std::int64_t> Json::as_integer() const {
    if (!json_is_integer(value_)) return std::nullopt;
    return static_cast<std::int64_t>(json_integer_value(value_));
}

std::optional<bool> Json::as_bool() const {
    if (!json_is_boolean(value_)) return std::nullopt;
    return json_is_true(value_);
}

Json& Json::set(const char* key, Json value) {
    if (json_is_object(value_)) json_object_set(value_, key, value.get() ? value.get() : json_null());
    return *this;
}

Json& Json::append(Json value) {
    if (json_is_array(value_)) json_array_append(value_, value.get() ? value.get() : json_null());
    return *this;
}

void Json::append_string_literal(std::string& out, std::string_view value) {
    Json literal = string(value);
    if (!literal) {
        out += "null";
        return;
    }
    auto append = [](const char* buffer, std::size_t size, void* target) {
        static_cast<std::string*>(target)->append(buffer, size);
        return 0;
    };
    json_dump_callback(literal.get(), append, &out, JSON_COMPACT | JSON_ENCODE_ANY);
}

std::string Json::dump() const {
    if (!value_) return "null";
    std::unique_ptr<char, decltype(&std::free)> text(
        json_dumps(value_, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER), &std::free);
    return text ? std::string(text.get()) : std::string("null");
}

}  // namespace chatwoot::core
