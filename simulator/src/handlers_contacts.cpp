// /api/v1/accounts/{id}/contacts (ContactsController and friends).
#include <algorithm>

#include "api_common.hpp"
#include "contacts_query.hpp"
#include "util.hpp"
#include "validation.hpp"
#include "views.hpp"

namespace sim {

namespace {

constexpr std::size_t kPerPage = 15;

bool include_contact_inboxes(const Params& p) {
    auto v = p.str("include_contact_inboxes");
    if (!v || is_blank(*v)) return true;
    return *v == "true";
}

// Reads the permitted contact columns present in the request into `c`.
void assign_contact_params(const Params& p, Contact& c) {
    if (p.has("name")) c.name = p.str("name").value_or("");
    if (p.has("email")) {
        // prepare_email_attribute: lower-cased, blank becomes NULL.
        auto e = p.str("email");
        c.email = e && !is_blank(*e) ? std::optional<std::string>(fold_case(*e)) : std::nullopt;
    }
    if (p.has("phone_number")) c.phone_number = p.str("phone_number");
    if (p.has("identifier")) c.identifier = p.str("identifier");
    if (p.has("blocked")) c.blocked = p.boolean("blocked").value_or(false);
}

// contact_update_params: the two hashes are merged, not replaced.
void merge_attributes(const Params& p, Contact& c) {
    if (json_t* ca = p.raw("custom_attributes"); json_is_object(ca)) {
        Json merged = Json::adopt(jobject_copy(c.custom_attributes.get()));
        json_object_update(merged.get(), ca);
        c.custom_attributes = merged;
    }
    if (json_t* aa = p.raw("additional_attributes"); json_is_object(aa)) {
        Json merged = Json::adopt(jobject_copy(c.additional_attributes.get()));
        json_object_update(merged.get(), aa);
        c.additional_attributes = merged;
    }
}

HttpResponse payload_list(json_t* meta, std::vector<const Contact*>::const_iterator begin,
                          std::vector<const Contact*>::const_iterator end, const Store& s, bool with_inboxes) {
    json_t* arr = json_array();
    for (auto it = begin; it != end; ++it) json_array_append_new(arr, contact_json(s, **it, with_inboxes));
    json_t* o = json_object();
    json_object_set_new(o, "meta", meta);
    json_object_set_new(o, "payload", arr);
    return json_response(200, o);
}

HttpResponse paged(ApiCtx& c, std::vector<const Contact*>& list) {
    sort_contacts(list, c.params.str("sort"));
    std::size_t page = static_cast<std::size_t>(page_number(c.params));
    std::size_t from = std::min(list.size(), (page - 1) * kPerPage);
    std::size_t to = std::min(list.size(), from + kPerPage);
    json_t* meta = json_object();
    json_object_set_new(meta, "count", json_integer(static_cast<json_int_t>(list.size())));
    json_object_set_new(meta, "current_page", current_page_json(c.params));
    return payload_list(meta, list.begin() + from, list.begin() + to, c.s, include_contact_inboxes(c.params));
}

std::vector<const Contact*> account_contacts(ApiCtx& c, bool resolved_only) {
    std::vector<const Contact*> list;
    for (const auto& [id, ct] : c.s.contacts)
        if (ct.account_id == c.account_id() && (!resolved_only || is_resolved_contact(ct))) list.push_back(&ct);
    return list;
}

Contact* fetch(ApiCtx& c) { return c.s.contact(c.account_id(), id_segment(c.seg[1])); }

HttpResponse contact_payload(ApiCtx& c, const Contact& ct) {
    json_t* o = json_object();
    json_object_set_new(o, "payload", contact_json(c.s, ct, include_contact_inboxes(c.params)));
    return json_response(200, o);
}

// Records what changed between two versions of a contact, for contact_updated.
void diff_contacts(const Contact& a, const Contact& b, ChangeSet& cs) {
    if (a.name != b.name) cs.add("name", jstr(a.name), jstr(b.name));
    if (a.email != b.email) cs.add("email", jstr_opt(a.email), jstr_opt(b.email));
    if (a.phone_number != b.phone_number) cs.add("phone_number", jstr_opt(a.phone_number), jstr_opt(b.phone_number));
    if (!json_equal(a.additional_attributes.get(), b.additional_attributes.get()))
        cs.add("additional_attributes", jobject_copy(a.additional_attributes.get()),
               jobject_copy(b.additional_attributes.get()));
    if (a.identifier != b.identifier) cs.add("identifier", jstr_opt(a.identifier), jstr_opt(b.identifier));
    if (!json_equal(a.custom_attributes.get(), b.custom_attributes.get()))
        cs.add("custom_attributes", jobject_copy(a.custom_attributes.get()), jobject_copy(b.custom_attributes.get()));
    if (a.blocked != b.blocked) cs.add("blocked", json_boolean(a.blocked), json_boolean(b.blocked));
}

// Saves `next` over the stored contact, emitting contact_updated when something changed.
void save_contact(ApiCtx& c, Contact& stored, Contact next) {
    ChangeSet cs;
    diff_contacts(stored, next, cs);
    if (cs.empty()) return;
    std::int64_t now = now_us();
    cs.add("updated_at", jstr(iso8601(stored.updated_us)), jstr(iso8601(now)));
    next.updated_us = now;
    c.s.unindex_contact(stored);
    stored = std::move(next);
    c.s.index_contact(stored);
    emit_contact_updated(c.s, stored, cs, c.jobs);
}

}  // namespace

HttpResponse contacts_index(ApiCtx& c) {
    std::vector<const Contact*> list = account_contacts(c, true);
    return paged(c, list);
}

HttpResponse contacts_search(ApiCtx& c) {
    auto q = c.params.str("q");
    if (!q || is_blank(*q)) return unprocessable_error("Specify search string with parameter q");
    std::string needle = strip(*q);
    std::string pattern = "%" + needle + "%";
    std::optional<std::int64_t> as_id;
    if (!needle.empty() && std::all_of(needle.begin(), needle.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
        as_id = ruby_to_i(needle);
    std::vector<const Contact*> list;
    for (const Contact* ct : account_contacts(c, false)) {
        bool hit = sql_like(ct->name, pattern, true) || (ct->email && sql_like(*ct->email, pattern, true)) ||
                   (ct->phone_number && sql_like(*ct->phone_number, pattern, true)) ||
                   (ct->identifier && sql_like(*ct->identifier, pattern, false)) || (as_id && ct->id == *as_id);
        if (hit) list.push_back(ct);
    }
    sort_contacts(list, c.params.str("sort"));
    std::size_t page = static_cast<std::size_t>(page_number(c.params));
    std::size_t from = std::min(list.size(), (page - 1) * kPerPage);
    std::size_t to = std::min(list.size(), from + kPerPage);
    bool has_more = list.size() > to;
    json_t* meta = json_object();
    json_object_set_new(meta, "count", json_integer(static_cast<json_int_t>(to - from)));  // this page only
    json_object_set_new(meta, "current_page", current_page_json(c.params));
    json_object_set_new(meta, "has_more", json_boolean(has_more));
    return payload_list(meta, list.begin() + from, list.begin() + to, c.s, include_contact_inboxes(c.params));
}

// A filter that only ORs equal_to conditions on identifier, e-mail and phone (what a
// sync client sends to find a contact) is answered from the unique-key indexes, so
// lookups stay fast with many contacts. The full evaluator then runs on the few
// candidates, so the answer is exactly what the scan would give.
std::optional<std::vector<const Contact*>> indexed_candidates(ApiCtx& c, json_t* payload) {
    if (!json_is_array(payload) || json_array_size(payload) == 0) return std::nullopt;
    std::vector<const Contact*> found;
    size_t i;
    json_t* h;
    json_array_foreach(payload, i, h) {
        if (!json_is_object(h)) return std::nullopt;
        auto key = json_scalar_text(json_object_get(h, "attribute_key")).value_or("");
        auto op = json_scalar_text(json_object_get(h, "filter_operator")).value_or("");
        auto qo = json_scalar_text(json_object_get(h, "query_operator"));
        json_t* values = json_object_get(h, "values");
        if (op != "equal_to" || !json_is_array(values) || json_array_size(values) == 0) return std::nullopt;
        if (qo && *qo != "OR" && *qo != "or") return std::nullopt;
        auto value = json_scalar_text(json_array_get(values, 0));
        if (!value) return std::nullopt;
        const std::unordered_map<std::string, std::int64_t>* index = nullptr;
        std::string wanted;
        if (key == "identifier") {
            index = &c.s.contact_identifier_lower_idx;
            wanted = fold_case(*value);
        } else if (key == "email") {
            index = &c.s.contact_email_idx;
            wanted = fold_case(*value);
        } else if (key == "phone_number") {
            index = &c.s.contact_phone_idx;
            std::string digits = *value;
            digits.erase(std::remove(digits.begin(), digits.end(), '+'), digits.end());
            wanted = "+" + digits;
        } else {
            return std::nullopt;
        }
        auto it = index->find(Store::key(c.account_id(), wanted));
        if (it == index->end()) continue;
        const Contact* ct = c.s.contact(c.account_id(), it->second);
        if (ct && std::find(found.begin(), found.end(), ct) == found.end()) found.push_back(ct);
    }
    std::sort(found.begin(), found.end(), [](const Contact* a, const Contact* b) { return a->id < b->id; });
    return found;
}

HttpResponse contacts_filter(ApiCtx& c) {
    json_t* payload = c.params.raw("payload");
    auto fast = indexed_candidates(c, payload);
    std::vector<const Contact*> list = fast ? *fast : account_contacts(c, true);
    if (auto err = filter_contacts(list, payload)) return unprocessable_error(*err);
    return paged(c, list);
}

HttpResponse contacts_create(ApiCtx& c) {
    Contact ct;
    ct.account_id = c.account_id();
    assign_contact_params(c.params, ct);
    merge_attributes(c.params, ct);
    ct.id = 0;
    ValidationErrors errors;
    validate_contact(c.s, ct, errors);
    if (!errors.empty()) return errors.response();

    // ContactInboxBuilder runs inside the same transaction: a bad inbox rolls back.
    Inbox* inbox = nullptr;
    std::string source_id;
    if (auto inbox_id = c.params.integer("inbox_id")) {
        inbox = c.s.inbox(c.account_id(), *inbox_id);
        if (!inbox) return not_found();
        auto sid = c.params.str("source_id");
        source_id = sid && !is_blank(*sid) ? *sid : uuid_v4();
        if (c.s.contact_inbox_by_source.count({inbox->id, source_id})) return internal_error();  // RecordNotUnique
    }
    ct.id = c.s.next_contact_id++;
    ct.created_us = ct.updated_us = now_us();
    Contact& stored = c.s.contacts[ct.id] = ct;
    c.s.index_contact(stored);
    const ContactInbox* ci = inbox ? &c.s.add_contact_inbox(stored.id, inbox->id, source_id) : nullptr;
    emit_contact_created(c.s, stored, c.jobs);

    json_t* cinbox = json_object();
    json_object_set_new(cinbox, "inbox", inbox ? inbox_record_json(*inbox) : json_null());
    json_object_set_new(cinbox, "source_id", ci ? jstr(ci->source_id) : json_null());
    json_t* payload = json_object();
    json_object_set_new(payload, "contact", contact_json(c.s, stored, true));
    json_object_set_new(payload, "contact_inbox", cinbox);
    json_t* o = json_object();
    json_object_set_new(o, "payload", payload);
    return json_response(200, o);
}

HttpResponse contacts_show(ApiCtx& c) {
    Contact* ct = fetch(c);
    if (!ct) return not_found();
    return contact_payload(c, *ct);
}

HttpResponse contacts_update(ApiCtx& c) {
    Contact* ct = fetch(c);
    if (!ct) return not_found();
    Contact next = *ct;
    assign_contact_params(c.params, next);
    merge_attributes(c.params, next);
    ValidationErrors errors;
    validate_contact(c.s, next, errors);
    if (!errors.empty()) return errors.response();
    save_contact(c, *ct, std::move(next));
    return contact_payload(c, *ct);
}

HttpResponse contacts_destroy(ApiCtx& c) {
    if (!c.admin()) return policy_denied();  // Pundit runs before the record lookup
    Contact* ct = fetch(c);
    if (!ct) return not_found();
    c.s.delete_contact(ct->id);
    return HttpResponse::empty(200);
}

HttpResponse contacts_conversations(ApiCtx& c) {
    Contact* ct = fetch(c);
    if (!ct) return not_found();
    std::vector<const Conversation*> list;
    for (const auto& [id, conv] : c.s.conversations)
        if (conv.account_id == c.account_id() && conv.contact_id == ct->id) list.push_back(&conv);
    std::stable_sort(list.begin(), list.end(),
                     [](const Conversation* a, const Conversation* b) { return a->last_activity_us > b->last_activity_us; });
    if (list.size() > 20) list.resize(20);
    json_t* arr = json_array();
    for (const Conversation* conv : list) json_array_append_new(arr, conversation_json(c.s, *conv));
    json_t* o = json_object();
    json_object_set_new(o, "payload", arr);
    return json_response(200, o);
}

HttpResponse contacts_contact_inboxes_create(ApiCtx& c) {
    Contact* ct = fetch(c);
    if (!ct) return not_found();
    auto inbox_id = c.params.integer("inbox_id");
    Inbox* inbox = inbox_id ? c.s.inbox(c.account_id(), *inbox_id) : nullptr;
    if (!inbox) return not_found();
    auto sid = c.params.str("source_id");
    std::string source_id = sid && !is_blank(*sid) ? *sid : uuid_v4();
    const ContactInbox* ci = nullptr;
    auto existing = c.s.contact_inbox_by_source.find({inbox->id, source_id});
    if (existing != c.s.contact_inbox_by_source.end()) {
        const ContactInbox& found = c.s.contact_inboxes.at(existing->second);
        if (found.contact_id != ct->id) return internal_error();  // RecordNotUnique on (inbox_id, source_id)
        ci = &found;  // first_or_create!: same triple is idempotent
    } else {
        ci = &c.s.add_contact_inbox(ct->id, inbox->id, source_id);
    }
    json_t* o = json_object();
    json_object_set_new(o, "source_id", jstr(ci->source_id));
    json_object_set_new(o, "inbox", inbox_slim_json(*inbox));
    return json_response(200, o);
}

HttpResponse contacts_contactable_inboxes(ApiCtx& c) {
    Contact* ct = fetch(c);
    if (!ct) return not_found();
    json_t* arr = json_array();
    for (const auto& [id, in] : c.s.inboxes) {
        if (in.account_id != c.account_id() || in.channel_type != "Channel::Api") continue;
        std::string source_id;
        for (const ContactInbox* ci : c.s.contact_inboxes_of(ct->id))
            if (ci->inbox_id == in.id) { source_id = ci->source_id; break; }
        if (source_id.empty()) source_id = uuid_v4();  // generated, not saved
        json_t* e = json_object();
        json_object_set_new(e, "source_id", jstr(source_id));
        json_object_set_new(e, "inbox", inbox_slim_json(in));
        json_array_append_new(arr, e);
    }
    json_t* o = json_object();
    json_object_set_new(o, "payload", arr);
    return json_response(200, o);
}

HttpResponse contacts_destroy_custom_attributes(ApiCtx& c) {
    Contact* ct = fetch(c);
    if (!ct) return not_found();
    Contact next = *ct;
    json_t* keys = c.params.raw("custom_attributes");
    Json attrs = Json::adopt(jobject_copy(next.custom_attributes.get()));
    if (json_is_array(keys)) {
        size_t i;
        json_t* k;
        json_array_foreach(keys, i, k) if (json_is_string(k)) json_object_del(attrs.get(), json_string_value(k));
    }
    next.custom_attributes = attrs;
    save_contact(c, *ct, std::move(next));
    return contact_payload(c, *ct);
}

}  // namespace sim
