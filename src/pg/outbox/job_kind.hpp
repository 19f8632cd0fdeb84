// boundary: c++-style
// The outbox drains job kinds. A kind is what one value of chatwoot.fila.tipo means:
//   load    in the claim transaction, read what its jobs need (JobData);
//   plan    after that commit, with no SQL: turn each job into an HTTP operation for
//           the HTTP thread, or into "nothing to do", or into a failure;
//   record  in the record transaction, write what its successes changed (the outbox
//           itself marks them done, retries failures and keeps the dead letters).
// Adding a kind is a file that defines a JobKind and registers it:
//   static const bool registered = register_job_kind(std::make_unique<MyKind>());
// (and the value of tipo in the schema's CHECK).
#pragma once
#include "core/chatwoot/chatwoot_api.hpp"
#include "core/chatwoot/request_factory.hpp"
#include "core/outbox/retry_policy.hpp"
#include "core/contacts/contact_sync.hpp"  // InboxTarget
#include "core/http/blocking_runner.hpp"
#include "pg/connections/connection.hpp"
#include "pg/outbox/job.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace chatwoot::pg {

// How a planned job ended, in the outbox's terms.
struct JobResult {
    core::Outcome outcome = core::Outcome::permanent;
    std::string error;                       // why it failed
    std::string note;                        // success: why nothing was sent (kept in ultimo_erro)
    int requests = 0;
    bool sent = false;                       // success: it sent requests
    bool throttled = false;                  // a 429 reached the job
    bool aborted = false;                    // cut by the worker itself: no evidence against the job
    bool failed_before_sending = false;      // the job could not be planned (its rows unreadable)
    std::optional<std::chrono::seconds> retry_after;
};

// What one job turned into.
class PlannedJob {
public:
    explicit PlannedJob(Job job) : job(std::move(job)) {}
    virtual ~PlannedJob() = default;
    // The operation for the HTTP thread; nullptr when the job ended while planned.
    virtual core::HttpOperation* operation() { return nullptr; }
    // Once the operation finished (at once when there is none).
    virtual JobResult result() const = 0;
    Job job;
};

// Ended without a request: nothing to do (a success, with its reason)...
std::unique_ptr<PlannedJob> nothing_to_do(Job job, std::string why);
// ...or must wait, at no attempt's cost (the app holds its table locked): pending again
// after `delay`...
std::unique_ptr<PlannedJob> must_wait(Job job, std::string why, std::chrono::seconds delay);
// ...or cannot run now (retried with backoff, like a transient failure).
std::unique_ptr<PlannedJob> cannot_run(Job job, std::string why);

// What planning may use: the claim's connection and requests, and what the worker
// learned of the default inbox.
struct PlanContext {
    const Connection& conn;
    const core::RequestFactory& requests;
    const std::optional<core::InboxTarget>& inbox;
};

class JobKind {
public:
    virtual ~JobKind() = default;
    // The values of chatwoot.fila.tipo this kind drains.
    virtual std::vector<std::string> tipos() const = 0;
    // In the claim transaction (SPI connected): fill each job's `data`. A failure to
    // read must fail only the jobs concerned (put it in their data), not the claim.
    virtual void load(std::vector<Job*>& jobs, const Connection& conn) = 0;
    // No SQL: the connection's transaction has committed.
    virtual std::unique_ptr<PlannedJob> plan(Job job, const PlanContext& context) = 0;
    // In the record transaction: the jobs of this kind that sent requests and
    // succeeded, of one claim (so of one connection). The outbox marks them done.
    virtual void record_successes(const std::vector<const PlannedJob*>& jobs, const Connection& conn) = 0;
    // In the record transaction: the job failed for good (morto); `error` is recorded.
    virtual void record_dead_letter(const Job& job, const std::string& error) {
        (void)job;
        (void)error;
    }
};

// Registers a kind (at load time; returns true for a static initializer).
bool register_job_kind(std::unique_ptr<JobKind> kind);
// The kind that drains `tipo`; nullptr when none does.
JobKind* job_kind(const std::string& tipo);

}  // namespace chatwoot::pg
