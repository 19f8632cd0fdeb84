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

// Contact.resolved_contacts(use_crm_v2:): the base set of the list and the filter.
bool in_base_set(const ApiCtx& c, const Contact& ct) {
    return c.modes.crm_v2 ? ct.contact_type == "lead" : is_resolved_contact(ct);
}

std::vector<const Contact*> account_contacts(ApiCtx& c, bool base_set_only) {
    std::vector<const Contact*> list;
    for (const auto& [id, ct] : c.s.contacts)
        if (ct.account_id == c.account_id() && (!base_set_only || in_base_set(c, ct))) list.push_back(&ct);
    return list;
}

HttpResponse missing_param(const char* what) {
    return unprocessable_error(std::string("param is missing or the value is empty: ") + what);
}

// ContactInboxBuilder#generate_source_id, or the error it raises. nullopt source: none
// (a Twilio inbox of another medium); the builder then creates no contact_inbox.
struct SourceId {
    std::optional<std::string> value;
    std::optional<HttpResponse> error;
};

SourceId builder_source_id(const Inbox& in, const Contact& ct, const Params& p) {
    json_t* given = p.raw("source_id");
    if (given && !json_is_null(given)) return {json_scalar_text(given).value_or(dump(given)), std::nullopt};
    const std::string& type = in.channel_type;
    if (type == "Channel::TwilioSms") {
        if (!ct.phone_number) return {std::nullopt, missing_param("contact phone number")};
        if (in.medium == "sms") return {*ct.phone_number, std::nullopt};
        if (in.medium == "whatsapp") return {"whatsapp:" + *ct.phone_number, std::nullopt};
        return {};
    }
    if (type == "Channel::Whatsapp") {
        if (!ct.phone_number) return {std::nullopt, missing_param("contact phone number")};
        std::string digits = *ct.phone_number;
        digits.erase(std::remove(digits.begin(), digits.end(), '+'), digits.end());
        return {digits, std::nullopt};
    }
    if (type == "Channel::Email") {
        if (!ct.email) return {std::nullopt, missing_param("contact email")};
        return {*ct.email, std::nullopt};
    }
    if (type == "Channel::Sms") {
        if (!ct.phone_number) return {std::nullopt, missing_param("contact phone number")};
        return {*ct.phone_number, std::nullopt};
    }
    if (type == "Channel::Api" || type == "Channel::WebWidget") return {uuid_v4(), std::nullopt};
    return {std::nullopt, internal_error()};  // raise "Unsupported operation for this channel: ..."
}

// ContactInboxBuilder#allowed_channels?: where a source_id taken by another contact is
// moved out of the way (update_old_contact_inbox) instead of failing.
bool renames_taken_source(const Inbox& in) {
    const std::string& t = in.channel_type;
    return t == "Channel::Email" || t == "Channel::Sms" || t == "Channel::TwilioSms" || t == "Channel::Whatsapp";
}

std::string moved_source_id(const Inbox& in, const std::string& source_id) {
    const std::string& t = in.channel_type;
    int r = static_cast<int>(random_unit() * 100);
    if (t == "Channel::Whatsapp" || t == "Channel::Sms" || t == "Channel::TwilioSms")
        return "whatsapp:" + source_id + std::to_string(r);
    return std::to_string(r % 10) + source_id;
}

// The outcome of ContactInboxBuilder#create_contact_inbox for `contact_id`, decided
// before anything is written: the existing row (find_or_create_by!), a row to add
// (after moving a taken source_id away), or the unhandled RecordNotUnique.
struct ContactInboxPlan {
    const ContactInbox* existing = nullptr;
    std::optional<std::int64_t> move_away;  // contact_inbox whose source_id is replaced first
    bool conflict = false;                  // 500
};

ContactInboxPlan plan_contact_inbox(const Store& s, std::int64_t contact_id, const Inbox& in,
                                    const std::string& source_id) {
    ContactInboxPlan plan;
    auto it = s.contact_inbox_by_source.find({in.id, source_id});
    if (it == s.contact_inbox_by_source.end()) return plan;
    const ContactInbox& found = s.contact_inboxes.at(it->second);
    if (found.contact_id == contact_id) plan.existing = &found;
    else if (renames_taken_source(in)) plan.move_away = found.id;
    else plan.conflict = true;
    return plan;
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
    if (a.contact_type != b.contact_type) cs.add("contact_type", jstr(a.contact_type), jstr(b.contact_type));
}

// What an UPDATE of `next` (loaded as `loaded`) writes over `current`: ActiveRecord's
// partial writes send only the columns that changed since the record was loaded.
Contact apply_changed_columns(const Contact& loaded, const Contact& next, Contact current) {
    if (loaded.name != next.name) current.name = next.name;
    if (loaded.email != next.email) current.email = next.email;
    if (loaded.phone_number != next.phone_number) current.phone_number = next.phone_number;
    if (loaded.identifier != next.identifier) current.identifier = next.identifier;
    if (loaded.blocked != next.blocked) current.blocked = next.blocked;
    if (loaded.contact_type != next.contact_type) current.contact_type = next.contact_type;
    if (!json_equal(loaded.additional_attributes.get(), next.additional_attributes.get()))
        current.additional_attributes = next.additional_attributes;
    if (!json_equal(loaded.custom_attributes.get(), next.custom_attributes.get()))
        current.custom_attributes = next.custom_attributes;
    return current;
}

// Saves `next` over the stored contact, emitting contact_updated when something changed.
void save_contact(ApiCtx& c, Contact& stored, Contact next) {
    sync_contact_type(next);
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
    std::vector<const Contact*> list = account_contacts(c, true);  // resolved_contacts
    return paged(c, list);
}

HttpResponse contacts_search(ApiCtx& c) {
    auto q = c.params.str("q");
    if (!q || is_blank(*q)) return unprocessable_error("Specify search string with parameter q");
    std::string needle = strip(*q);
    std::string pattern = "%" + needle + "%";
    // Released Chatwoot (v4.15.1 ContactsController#search) matches name, e-mail and phone
    // with ILIKE and the identifier with LIKE ('_' and '%' in q are wildcards); no match
    // on the contact id (that is only in an open pull request's branch).
    std::vector<const Contact*> list;
    for (const Contact* ct : account_contacts(c, false)) {
        bool hit = sql_like(ct->name, pattern, true) || (ct->email && sql_like(*ct->email, pattern, true)) ||
                   (ct->phone_number && sql_like(*ct->phone_number, pattern, true)) ||
                   (ct->identifier && sql_like(*ct->identifier, pattern, false));
        if (hit) list.push_back(ct);
    }
    // No ORDER BY: PostgreSQL returns heap order, and an UPDATE writes the row's new
    // version further on. Modelled as the order of the last write (oldest first), so a
    // contact updated after its siblings is not the first on page 1.
    std::stable_sort(list.begin(), list.end(),
                     [](const Contact* a, const Contact* b) { return a->updated_us < b->updated_us; });
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
// sync client sends to find a contact) is answered from the contact indexes, so
// lookups stay fast with many contacts. The full evaluator then runs on the few
// candidates, so the answer is exactly what the scan would give. Phone and
// lower-cased identifier keys may hold several contacts; all are candidates.
std::optional<std::vector<const Contact*>> indexed_candidates(ApiCtx& c, json_t* payload) {
    if (!json_is_array(payload) || json_array_size(payload) == 0) return std::nullopt;
    std::vector<std::int64_t> ids;
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
        if (key == "identifier") {
            if (const auto* found = c.s.contact_identifier_lower_idx.find(Store::key(c.account_id(), fold_case(*value))))
                ids.insert(ids.end(), found->begin(), found->end());
        } else if (key == "email") {
            auto it = c.s.contact_email_idx.find(Store::key(c.account_id(), fold_case(*value)));
            if (it != c.s.contact_email_idx.end()) ids.push_back(it->second);
        } else if (key == "phone_number") {
            std::string digits = *value;
            digits.erase(std::remove(digits.begin(), digits.end(), '+'), digits.end());
            if (const auto* found = c.s.contact_phone_idx.find(Store::key(c.account_id(), "+" + digits)))
                ids.insert(ids.end(), found->begin(), found->end());
        } else {
            return std::nullopt;
        }
    }
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    std::vector<const Contact*> found;
    for (std::int64_t id : ids) {
        const Contact* ct = c.s.contact(c.account_id(), id);
        if (ct && in_base_set(c, *ct)) found.push_back(ct);
    }
    return found;
}

HttpResponse contacts_filter(ApiCtx& c) {
    json_t* payload = c.params.raw("payload");
    auto fast = indexed_candidates(c, payload);
    std::vector<const Contact*> list = fast ? *fast : account_contacts(c, true);
    if (auto err = filter_contacts(list, payload)) return unprocessable_error(*err);
    return paged(c, list);
}

namespace {

// The INSERT and what follows it in ContactsController#create's transaction: the
// unique indexes, then ContactInboxBuilder. Any failure rolls the contact back.
HttpResponse commit_create(ApiCtx& c, Contact ct) {
    if (violates_unique_index(c.s, ct)) return internal_error();  // ActiveRecord::RecordNotUnique
    Inbox* inbox = nullptr;
    std::optional<std::string> source_id;
    ContactInboxPlan plan;
    if (c.params.has("inbox_id") && !c.params.is_null("inbox_id")) {
        std::string raw = c.params.str("inbox_id").value_or("");
        if (!is_blank(raw)) {  // build_contact_inbox: return if params[:inbox_id].blank?
            inbox = c.s.inbox(c.account_id(), ruby_to_i(raw));
            if (!inbox) return not_found();
            SourceId sid = builder_source_id(*inbox, ct, c.params);
            if (sid.error) return std::move(*sid.error);
            if (sid.value && !is_blank(*sid.value)) {  // create_contact_inbox if source_id.present?
                source_id = sid.value;
                plan = plan_contact_inbox(c.s, 0, *inbox, *source_id);
                if (plan.conflict) return internal_error();  // RecordNotUnique on (inbox_id, source_id)
            }
        }
    }
    ct.id = c.s.next_contact_id++;
    ct.created_us = ct.updated_us = now_us();
    sync_contact_type(ct);
    Contact& stored = c.s.contacts[ct.id] = ct;
    c.s.index_contact(stored);
    const ContactInbox* ci = nullptr;
    if (source_id) {
        if (plan.move_away) c.s.rename_contact_inbox(*plan.move_away, moved_source_id(*inbox, *source_id));
        ci = &c.s.add_contact_inbox(stored.id, inbox->id, *source_id);
    }
    emit_contact_created(c.s, stored, c.jobs);

    json_t* cinbox = json_object();
    json_object_set_new(cinbox, "inbox", ci ? inbox_record_json(*inbox) : json_null());
    json_object_set_new(cinbox, "source_id", ci ? jstr(ci->source_id) : json_null());
    json_t* payload = json_object();
    json_object_set_new(payload, "contact", contact_json(c.s, stored, true));
    json_object_set_new(payload, "contact_inbox", cinbox);
    json_t* o = json_object();
    json_object_set_new(o, "payload", payload);
    return json_response(200, o);
}

// The UPDATE of a contact loaded as `loaded` and assigned `next`.
HttpResponse commit_update(ApiCtx& c, const Contact& loaded, const Contact& next) {
    Contact* stored = c.s.contact(c.account_id(), loaded.id);
    if (!stored) {
        // Deleted meanwhile: the UPDATE matches no row, which Rails does not notice.
        return contact_payload(c, next);
    }
    Contact merged = apply_changed_columns(loaded, next, *stored);
    if (violates_unique_index(c.s, merged)) return internal_error();  // ActiveRecord::RecordNotUnique
    ChangeSet cs;
    diff_contacts(loaded, next, cs);
    if (!cs.empty()) {
        std::int64_t now = now_us();
        cs.add("updated_at", jstr(iso8601(loaded.updated_us)), jstr(iso8601(now)));
        merged.updated_us = now;
        c.s.unindex_contact(*stored);
        *stored = std::move(merged);
        c.s.index_contact(*stored);
        emit_contact_updated(c.s, *stored, cs, c.jobs);
    }
    return contact_payload(c, *stored);
}

}  // namespace

HttpResponse contacts_create(ApiCtx& c) {
    Contact ct;
    ct.account_id = c.account_id();
    assign_contact_params(c.params, ct);
    merge_attributes(c.params, ct);
    ct.id = 0;
    // Rails' validations, uniqueness included, are SELECTs before the INSERT.
    ValidationErrors errors;
    validate_contact(c.s, ct, errors);
    if (!errors.empty()) return errors.response();
    return commit_or_defer(c, [ct](ApiCtx& c2) { return commit_create(c2, ct); });
}

HttpResponse contacts_show(ApiCtx& c) {
    Contact* ct = fetch(c);
    if (!ct) return not_found();
    return contact_payload(c, *ct);
}

HttpResponse contacts_update(ApiCtx& c) {
    Contact* ct = fetch(c);
    if (!ct) return not_found();
    Contact loaded = *ct;
    Contact next = *ct;
    assign_contact_params(c.params, next);
    merge_attributes(c.params, next);
    sync_contact_type(next);
    ValidationErrors errors;
    validate_contact(c.s, next, errors);
    if (!errors.empty()) return errors.response();
    return commit_or_defer(c, [loaded, next](ApiCtx& c2) { return commit_update(c2, loaded, next); });
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
    if (!c.sees(*inbox)) return policy_denied();  // ContactInboxesController: authorize @inbox, :show?
    SourceId sid = builder_source_id(*inbox, *ct, c.params);
    if (sid.error) return std::move(*sid.error);
    // No source_id: the builder returns nil and the view calls nil.source_id.
    if (!sid.value || is_blank(*sid.value)) return internal_error();
    ContactInboxPlan plan = plan_contact_inbox(c.s, ct->id, *inbox, *sid.value);
    if (plan.conflict) return internal_error();  // RecordNotUnique on (inbox_id, source_id)
    const ContactInbox* ci = plan.existing;      // find_or_create_by!: the same triple is idempotent
    if (!ci) {
        if (plan.move_away) c.s.rename_contact_inbox(*plan.move_away, moved_source_id(*inbox, *sid.value));
        ci = &c.s.add_contact_inbox(ct->id, inbox->id, *sid.value);
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

// POST /actions/contact_merge {base_contact_id, mergee_contact_id}
// (Actions::ContactMergesController, no Pundit check; ContactMergeAction): the mergee's
// conversations, messages and contact inboxes move to the base, the mergee is
// destroyed, then the base is updated with mergee.deep_merge(base) over identifier,
// name, email, phone_number, additional and custom attributes, blank values left out:
// the base keeps its own, and inherits the mergee's where its own are blank.
HttpResponse contacts_merge(ApiCtx& c) {
    auto base_id = c.params.integer("base_contact_id");
    auto mergee_id = c.params.integer("mergee_contact_id");
    Contact* base = base_id ? c.s.contact(c.account_id(), *base_id) : nullptr;
    if (!base) return not_found();
    Contact* mergee = mergee_id ? c.s.contact(c.account_id(), *mergee_id) : nullptr;
    if (!mergee) return not_found();
    if (base->id == mergee->id) return json_response(200, contact_json(c.s, *base, false));
    Contact next = *base;
    auto blank = [](const std::optional<std::string>& v) { return !v || is_blank(*v); };
    if (is_blank(next.name) && !is_blank(mergee->name)) next.name = mergee->name;
    if (blank(next.email) && !blank(mergee->email)) next.email = mergee->email;
    if (blank(next.phone_number) && !blank(mergee->phone_number)) next.phone_number = mergee->phone_number;
    if (blank(next.identifier) && !blank(mergee->identifier)) next.identifier = mergee->identifier;
    // Hash#deep_merge one level down: the base's keys win, the mergee's others are added.
    for (Json* attrs : {&next.additional_attributes, &next.custom_attributes}) {
        const Json& theirs = attrs == &next.custom_attributes ? mergee->custom_attributes : mergee->additional_attributes;
        Json merged = Json::adopt(jobject_copy(theirs.get()));
        const char* key;
        json_t* value;
        json_object_foreach(attrs->get(), key, value) json_object_set(merged.get(), key, value);
        *attrs = merged;
    }
    c.s.move_contact_records(mergee->id, base->id);
    c.s.delete_contact(mergee->id);
    base = c.s.contact(c.account_id(), next.id);
    save_contact(c, *base, std::move(next));
    return json_response(200, contact_json(c.s, *base, false));
}

}  // namespace sim
