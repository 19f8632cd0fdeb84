// GET /api/v1/profile
#include "api_common.hpp"
#include "views.hpp"

namespace sim {

HttpResponse profile_show(ApiCtx& c) { return json_response(200, profile_json(c.s, *c.user)); }

}  // namespace sim
