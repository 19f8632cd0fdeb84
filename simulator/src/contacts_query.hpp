// Listing helpers for contacts: resolved-contacts scope, Sift sorting and the
// POST /contacts/filter evaluator (Contacts::FilterService semantics).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "json_util.hpp"
#include "state.hpp"

namespace sim {

// Contact.resolved_contacts: a non-empty email, phone_number or identifier.
bool is_resolved_contact(const Contact& c);
// Applies ?sort=name|-name|email|phone_number|last_activity_at|created_at|company_name|city|country.
void sort_contacts(std::vector<const Contact*>& list, const std::optional<std::string>& sort);

// Filters `list` in place; returns an error text (422 {"error":..}) on bad input.
std::optional<std::string> filter_contacts(std::vector<const Contact*>& list, json_t* payload);

}  // namespace sim
