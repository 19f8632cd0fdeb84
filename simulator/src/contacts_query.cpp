#include "contacts_query.hpp"

#include <algorithm>
#include <cstring>
#include <ctime>
#include <functional>

#include "util.hpp"

namespace sim {

bool is_resolved_contact(const Contact& c) {
    auto filled = [](const std::optional<std::string>& v) { return v && !v->empty(); };
    return filled(c.email) || filled(c.phone_number) || filled(c.identifier);
}

static std::optional<std::string> attr_text(const Json& obj, const char* key) {
    return json_scalar_text(json_object_get(obj.get(), key));
}

void sort_contacts(std::vector<const Contact*>& list, const std::optional<std::string>& sort) {
    if (!sort || sort->empty()) return;  // no ORDER BY: the simulator keeps id order
    bool desc = (*sort)[0] == '-';
    std::string key = desc ? sort->substr(1) : *sort;
    using Key = std::optional<std::string>;
    std::function<Key(const Contact*)> text_key;
    if (key == "name") text_key = [](const Contact* c) -> Key { return fold_case(c->name); };
    else if (key == "email") text_key = [](const Contact* c) -> Key { return c->email; };
    else if (key == "phone_number") text_key = [](const Contact* c) -> Key { return c->phone_number; };
    else if (key == "company_name") text_key = [](const Contact* c) { return attr_text(c->additional_attributes, "company_name"); };
    else if (key == "city") text_key = [](const Contact* c) { return attr_text(c->additional_attributes, "city"); };
    else if (key == "country") text_key = [](const Contact* c) { return attr_text(c->additional_attributes, "country"); };
    if (text_key) {
        // NULLS LAST in both directions, as the order_on_* scopes do.
        std::stable_sort(list.begin(), list.end(), [&](const Contact* a, const Contact* b) {
            Key ka = text_key(a), kb = text_key(b);
            if (!ka || !kb) return ka.has_value() && !kb.has_value();
            return desc ? *ka > *kb : *ka < *kb;
        });
        return;
    }
    if (key == "last_activity_at" || key == "created_at") {
        bool activity = key == "last_activity_at";
        std::stable_sort(list.begin(), list.end(), [&](const Contact* a, const Contact* b) {
            std::optional<std::int64_t> ka = activity ? a->last_activity_us : std::optional<std::int64_t>(a->created_us);
            std::optional<std::int64_t> kb = activity ? b->last_activity_us : std::optional<std::int64_t>(b->created_us);
            if (!ka || !kb) return ka.has_value() && !kb.has_value();
            return desc ? *ka > *kb : *ka < *kb;
        });
    }
}

namespace {

struct KeySpec {
    const char* key;
    std::vector<const char*> ops;
};

const std::vector<KeySpec>& standard_keys() {
    static const std::vector<KeySpec> keys = {
        {"name", {"equal_to", "not_equal_to", "contains", "does_not_contain"}},
        {"phone_number", {"equal_to", "not_equal_to", "contains", "does_not_contain", "starts_with"}},
        {"email", {"equal_to", "not_equal_to", "contains", "does_not_contain"}},
        {"identifier", {"equal_to", "not_equal_to"}},
        {"country_code", {"equal_to", "not_equal_to"}},
        {"city", {"equal_to", "not_equal_to", "contains", "does_not_contain"}},
        {"company_name", {"equal_to", "not_equal_to", "contains", "does_not_contain"}},
        {"labels", {"equal_to", "not_equal_to", "is_present", "is_not_present"}},
        {"created_at", {"is_greater_than", "is_less_than", "days_before"}},
        {"last_activity_at", {"is_greater_than", "is_less_than", "days_before"}},
        {"referer", {"equal_to", "not_equal_to", "contains", "does_not_contain"}},
        {"blocked", {"equal_to", "not_equal_to"}},
    };
    return keys;
}

// Custom attributes are treated as text definitions (the simulator keeps none).
const std::vector<const char*> kCustomOps = {"equal_to", "not_equal_to", "contains", "does_not_contain", "is_present",
                                             "is_not_present"};

struct Condition {
    std::string key;
    std::string op;
    std::vector<std::string> values;
    bool first_value_bool = false;
    bool custom = false;
    std::string query_operator;  // upper-cased, may be empty
};

std::optional<std::string> field_of(const Contact& c, const std::string& key, bool custom) {
    if (custom) return attr_text(c.custom_attributes, key.c_str());
    if (key == "name") return c.name;
    if (key == "email") return c.email;
    if (key == "phone_number") return c.phone_number;
    if (key == "identifier") return c.identifier;
    if (key == "country_code") return attr_text(c.additional_attributes, "country_code");
    if (key == "city") return attr_text(c.additional_attributes, "city");
    if (key == "company_name") return attr_text(c.additional_attributes, "company_name");
    if (key == "referer") return attr_text(c.additional_attributes, "referer");
    return std::nullopt;
}

// "YYYY-MM-DD..." -> epoch microseconds at 00:00 UTC.
std::optional<std::int64_t> parse_date_us(const std::string& v) {
    int y, m, d;
    if (std::sscanf(v.c_str(), "%d-%d-%d", &y, &m, &d) != 3) return std::nullopt;
    std::tm tm{};
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    tm.tm_mday = d;
    return static_cast<std::int64_t>(timegm(&tm)) * 1000000;
}

bool matches(const Contact& c, const Condition& q) {
    if (q.key == "labels") {  // the simulator keeps no labels
        return q.op == "not_equal_to" || q.op == "is_not_present";
    }
    if (q.key == "blocked") {
        bool eq = c.blocked == q.first_value_bool;
        return q.op == "equal_to" ? eq : !eq;
    }
    if (q.key == "created_at" || q.key == "last_activity_at") {
        std::optional<std::int64_t> t =
            q.key == "created_at" ? std::optional<std::int64_t>(c.created_us) : c.last_activity_us;
        if (!t) return false;
        std::optional<std::int64_t> ref;
        std::string op = q.op;
        if (op == "days_before") {
            std::int64_t days = ruby_to_i(q.values[0]);
            std::int64_t today = (now_us() / 86400000000LL) * 86400000000LL;
            ref = today - days * 86400000000LL;
            op = "is_less_than";
        } else {
            ref = parse_date_us(q.values[0]);
        }
        if (!ref) return false;
        return op == "is_greater_than" ? *t > *ref : *t < *ref;
    }
    std::optional<std::string> f = field_of(c, q.key, q.custom);
    if (q.op == "is_present") return f && !f->empty();
    if (q.op == "is_not_present") return !f || f->empty();
    if (q.op == "equal_to" || q.op == "not_equal_to") {
        const std::string& v = q.values[0];
        if (!f) return q.op == "not_equal_to" && q.custom;  // NULL != x is NULL, except the custom "OR IS NULL"
        bool eq;
        if (q.key == "phone_number") eq = *f == "+" + v;  // Contacts::FilterService prepends '+'
        else eq = fold_case(*f) == fold_case(v);
        return q.op == "equal_to" ? eq : !eq;
    }
    if (q.op == "contains" || q.op == "does_not_contain") {
        if (!f) return false;
        bool any = false;
        for (const auto& v : q.values) any = any || sql_like(*f, "%" + strip(v) + "%", true);
        return q.op == "contains" ? any : !any;
    }
    if (q.op == "starts_with") {
        if (!f) return false;
        for (const auto& v : q.values)
            if (sql_like(*f, "+" + strip(v) + "%", false)) return true;
        return false;
    }
    return false;
}

std::string join_ops(const std::vector<const char*>& ops) {
    std::string s;
    for (std::size_t i = 0; i < ops.size(); ++i) s += (i ? "," : "") + std::string(ops[i]);
    return s;
}

}  // namespace

std::optional<std::string> filter_contacts(std::vector<const Contact*>& list, json_t* payload) {
    if (!json_is_array(payload) || json_array_size(payload) == 0)
        return std::string("param is missing or the value is empty: payload");
    std::vector<Condition> conds;
    size_t n = json_array_size(payload);
    // Query operators first, as FilterService#validate_query_operator does.
    for (size_t i = 0; i < n; ++i) {
        json_t* h = json_array_get(payload, i);
        json_t* qo = json_is_object(h) ? json_object_get(h, "query_operator") : nullptr;
        if (!qo || json_is_null(qo)) continue;
        std::string op = json_is_string(qo) ? json_string_value(qo) : "";
        for (char& ch : op) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        if ((op != "AND" && op != "OR") || i + 1 == n) return std::string("Query operator must be either \"AND\" or \"OR\".");
    }
    for (size_t i = 0; i < n; ++i) {
        json_t* h = json_array_get(payload, i);
        if (!json_is_object(h)) return std::string("Invalid attribute key - []. The key should be a contact attribute.");
        Condition q;
        q.key = json_scalar_text(json_object_get(h, "attribute_key")).value_or("");
        q.op = json_scalar_text(json_object_get(h, "filter_operator")).value_or("");
        if (auto qo = json_scalar_text(json_object_get(h, "query_operator"))) {
            q.query_operator = *qo;
            for (char& ch : q.query_operator) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        }
        const std::vector<const char*>* ops = nullptr;
        for (const auto& k : standard_keys())
            if (q.key == k.key) ops = &k.ops;
        if (!ops) {
            q.custom = true;
            ops = &kCustomOps;
        }
        if (std::none_of(ops->begin(), ops->end(), [&](const char* o) { return q.op == o; }))
            return "Invalid operator. The allowed operators for " + q.key + " are [" + join_ops(*ops) + "].";
        json_t* values = json_object_get(h, "values");
        if (json_is_array(values)) {
            size_t j;
            json_t* v;
            json_array_foreach(values, j, v) {
                if (j == 0) q.first_value_bool = json_truthy_cast(v);
                if (auto t = json_scalar_text(v)) q.values.push_back(*t);
            }
        } else if (auto t = json_scalar_text(values)) {
            q.values.push_back(*t);
            q.first_value_bool = json_truthy_cast(values);
        }
        bool needs_value = q.op != "is_present" && q.op != "is_not_present";
        bool blank = q.values.empty() || (q.values.size() == 1 && is_blank(q.values[0]));
        if (needs_value && blank) return "Invalid value. The values provided for " + q.key + " are invalid";
        conds.push_back(std::move(q));
    }
    // SQL precedence: AND binds tighter than OR.
    std::vector<const Contact*> kept;
    for (const Contact* c : list) {
        bool any_group = false, group = true;
        for (std::size_t i = 0; i < conds.size(); ++i) {
            group = group && matches(*c, conds[i]);
            bool group_ends = i + 1 == conds.size() || conds[i].query_operator == "OR";
            if (group_ends) {
                any_group = any_group || group;
                group = true;
            }
        }
        if (any_group) kept.push_back(c);
    }
    list.swap(kept);
    return std::nullopt;
}

}  // namespace sim
