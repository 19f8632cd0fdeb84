// The one exception type the core throws for expected failures. Anything else
// (std::bad_alloc, std::logic_error) is a bug or resource exhaustion; the
// PostgreSQL boundary turns both kinds into a clean ERROR.
#pragma once
#include <stdexcept>
#include <string>

namespace chatwoot::core {

class CoreError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

}  // namespace chatwoot::core
