// boundary: c++-style
#include "pg/outbox/job_kind.hpp"

#include <map>

namespace chatwoot::pg {

namespace {

class Concluded final : public PlannedJob {
public:
    Concluded(Job job, JobResult result) : PlannedJob(std::move(job)), result_(std::move(result)) {}
    JobResult result() const override { return result_; }

private:
    JobResult result_;
};

// Built on first use: kinds register from static initializers of other files.
std::map<std::string, JobKind*>& kinds_by_tipo() {
    static std::map<std::string, JobKind*> kinds;
    return kinds;
}

std::vector<std::unique_ptr<JobKind>>& kinds_owned() {
    static std::vector<std::unique_ptr<JobKind>> kinds;
    return kinds;
}

}  // namespace

std::unique_ptr<PlannedJob> nothing_to_do(Job job, std::string why) {
    JobResult r;
    r.outcome = core::Outcome::success;
    r.note = std::move(why);
    return std::make_unique<Concluded>(std::move(job), std::move(r));
}

std::unique_ptr<PlannedJob> must_wait(Job job, std::string why, std::chrono::seconds delay) {
    JobResult r;
    r.outcome = core::Outcome::retry;
    r.error = std::move(why);
    r.aborted = true;  // no evidence against the job: the attempt is given back
    r.retry_after = delay;
    return std::make_unique<Concluded>(std::move(job), std::move(r));
}

std::unique_ptr<PlannedJob> cannot_run(Job job, std::string why) {
    JobResult r;
    r.outcome = core::Outcome::retry;
    r.error = std::move(why);
    r.failed_before_sending = true;
    return std::make_unique<Concluded>(std::move(job), std::move(r));
}

bool register_job_kind(std::unique_ptr<JobKind> kind) {
    for (const std::string& tipo : kind->tipos()) kinds_by_tipo()[tipo] = kind.get();
    kinds_owned().push_back(std::move(kind));
    return true;
}

JobKind* job_kind(const std::string& tipo) {
    auto it = kinds_by_tipo().find(tipo);
    return it == kinds_by_tipo().end() ? nullptr : it->second;
}

}  // namespace chatwoot::pg
