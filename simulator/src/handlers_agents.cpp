// /api/v1/accounts/{id}/agents (AgentsController, UserPolicy).
#include <algorithm>

#include "api_common.hpp"
#include "util.hpp"
#include "validation.hpp"
#include "views.hpp"

namespace sim {

// params.require(:agent) with wrap_parameters: flat bodies work, nested too.
static json_t* agent_params(ApiCtx& c) {
    json_t* nested = c.params.raw("agent");
    return json_is_object(nested) ? nested : c.params.object();
}

static std::optional<std::string> text(json_t* o, const char* k) { return json_scalar_text(json_object_get(o, k)); }

static bool valid_role(const std::string& r) { return r == "agent" || r == "administrator"; }
static bool valid_availability(const std::string& a) { return a == "online" || a == "busy" || a == "offline"; }

HttpResponse agents_index(ApiCtx& c) {
    std::vector<std::pair<const User*, const AccountUser*>> rows;
    for (const AccountUser& au : c.account->users) {
        auto u = c.s.users.find(au.user_id);
        if (u != c.s.users.end()) rows.emplace_back(&u->second, &au);
    }
    std::stable_sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.first->name < b.first->name; });
    json_t* arr = json_array();
    for (const auto& [u, au] : rows) json_array_append_new(arr, agent_json(*u, *au, c.account_id()));
    return json_response(200, arr);
}

HttpResponse agents_create(ApiCtx& c) {
    if (!c.admin()) return policy_denied();
    json_t* p = agent_params(c);
    std::string email = fold_case(strip(text(p, "email").value_or("")));
    std::string name = text(p, "name").value_or("");
    std::string role = text(p, "role").value_or("agent");
    std::string availability = text(p, "availability").value_or("online");
    if (!valid_role(role) || !valid_availability(availability)) return internal_error();  // enum ArgumentError
    ValidationErrors errors;
    if (email.empty()) errors.add("email", "Email can't be blank");
    else if (!email_matches_devise_regex(email)) errors.add("email", "Email is invalid");
    if (!errors.empty()) return errors.response();

    User* user = nullptr;
    for (auto& [id, u] : c.s.users)
        if (u.email == email) { user = &u; break; }
    if (user && c.account->member(user->id)) {
        ValidationErrors taken;
        taken.add("user_id", "User has already been taken");
        return taken.response();
    }
    if (!user) {
        if (is_blank(name)) name = email.substr(0, email.find('@'));
        user = &c.s.add_user(name, email, "");
    }
    AccountUser au;
    au.user_id = user->id;
    au.role = role;
    au.availability = availability;
    if (json_t* ao = json_object_get(p, "auto_offline")) au.auto_offline = json_truthy_cast(ao);
    c.account->users.push_back(au);
    return json_response(200, agent_json(*user, c.account->users.back(), c.account_id()));
}

HttpResponse agents_update(ApiCtx& c) {
    if (!c.admin()) return policy_denied();
    std::int64_t id = id_segment(c.seg[1]);
    AccountUser* au = c.account->member(id);
    User* user = c.s.user(id);
    if (!au || !user) return not_found();
    json_t* p = agent_params(c);
    std::optional<std::string> role = text(p, "role"), availability = text(p, "availability");
    if ((role && !valid_role(*role)) || (availability && !valid_availability(*availability))) return internal_error();
    if (auto name = text(p, "name")) user->name = *name;
    if (role) au->role = *role;
    if (availability) au->availability = *availability;
    if (json_t* ao = json_object_get(p, "auto_offline")) au->auto_offline = json_truthy_cast(ao);
    return json_response(200, agent_json(*user, *au, c.account_id()));
}

HttpResponse agents_destroy(ApiCtx& c) {
    if (!c.admin()) return policy_denied();
    std::int64_t id = id_segment(c.seg[1]);
    auto& members = c.account->users;
    auto it = std::find_if(members.begin(), members.end(), [&](const AccountUser& au) { return au.user_id == id; });
    if (it == members.end()) return not_found();
    members.erase(it);
    // Conversations keep no assignee from a removed agent.
    for (auto& [cid, conv] : c.s.conversations)
        if (conv.account_id == c.account_id() && conv.assignee_id == id) conv.assignee_id.reset();
    bool elsewhere = false;
    for (const auto& [aid, a] : c.s.accounts)
        if (a.member(id)) elsewhere = true;
    if (!elsewhere) {
        // The user (and its token) goes when it belongs to no account.
        if (User* u = c.s.user(id)) c.s.user_by_token.erase(u->token);
        c.s.users.erase(id);
    }
    return HttpResponse::empty(200);
}

}  // namespace sim
