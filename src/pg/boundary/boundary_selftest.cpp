// boundary: c++-style
// chatwoot._testar_fronteira(modo): proves the error boundary in the regression
// tests. Each mode fails in a different way while C++ objects are alive; the
// backend must survive with a clean ERROR and every destructor must have run.
#include "core/error.hpp"
#include "pg/boundary/boundary.hpp"

#include <string>
#include <vector>

using namespace chatwoot::pg;

namespace {

int64 destructors_run = 0;

// Stands for any resource a C++ frame owns (a curl handle, a JSON value).
struct TrackedResource {
    std::vector<std::string> payload{"a", "b", "c"};
    ~TrackedResource() { ++destructors_run; }
};

}  // namespace

CHATWOOT_FUNCTION(chatwoot_testar_fronteira) {
    char* mode_cstr = text_to_cstring(PG_GETARG_TEXT_PP(0));  // before any C++ object exists
    std::string mode(mode_cstr);
    TrackedResource resource;
    if (mode == "excecao_cpp") throw chatwoot::core::CoreError("falha simulada no núcleo C++");
    if (mode == "bad_alloc") throw std::bad_alloc();
    if (mode == "excecao_desconhecida") throw 42;
    if (mode == "erro_pg") {
        // A PostgreSQL ERROR raised below a C++ frame: pg_call converts it, the
        // resource's destructor runs, and the original error (SQLSTATE 22012) reaches SQL.
        pg_call([] { return DirectFunctionCall2(int4div, Int32GetDatum(1), Int32GetDatum(0)); });
    }
    if (mode == "pilhas_pg") {
        // A frame below left PostgreSQL's stacks pointing into itself (an error context
        // it pushed, a handler it set) and threw: cpp_entry must put both back before it
        // raises the ERROR, or the report would call a dead callback and the longjmp
        // would land in a dead frame.
        ErrorContextCallback abandoned;
        abandoned.previous = error_context_stack;
        abandoned.callback = +[](void*) { errcontext("contexto abandonado"); };
        abandoned.arg = nullptr;
        error_context_stack = &abandoned;
        sigjmp_buf dead_handler;
        PG_exception_stack = &dead_handler;
        throw chatwoot::core::CoreError("falha com as pilhas do PostgreSQL deixadas para trás");
    }
    if (mode == "ok") {
        std::string answer = "ok: " + std::to_string(resource.payload.size());
        return pg_call([&] { return CStringGetTextDatum(answer.c_str()); });
    }
    throw chatwoot::core::CoreError("modo desconhecido: " + mode);
}

CHATWOOT_FUNCTION(chatwoot_fronteira_destrutores) {
    PG_RETURN_INT64(destructors_run);
}
