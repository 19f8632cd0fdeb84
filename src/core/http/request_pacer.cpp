#include "core/http/request_pacer.hpp"

#include "core/http/shared_budget.hpp"

#include <algorithm>

namespace chatwoot::core {

namespace {
using std::chrono::duration_cast;
using std::chrono::milliseconds;
using std::chrono::seconds;
}  // namespace

RequestPacer::RequestPacer(Budget budget) : budget_(budget) {
    if (budget_.window.count() < 1) budget_.window = seconds(1);
}

void RequestPacer::configure(Budget budget) {
    if (budget.window.count() < 1) budget.window = seconds(1);
    if (budget.window != budget_.window) {
        learned_ = 0;
        ok_by_window_.clear();
        throttled_windows_.clear();
        current_window_ = {};
    }
    budget_ = budget;
    if (learned_ > 0 && budget_.limit > 0 && learned_ >= budget_.limit) learned_ = 0;
    if (limit() == 0) in_flight_.clear(), answered_.clear(), probe_.reset();
}

int RequestPacer::limit() const {
    if (learned_ > 0 && (budget_.limit == 0 || learned_ < budget_.limit)) return learned_;
    return budget_.limit;
}

milliseconds RequestPacer::margin() const {
    return std::min(milliseconds(20), duration_cast<milliseconds>(budget_.window) / 100);
}

milliseconds RequestPacer::clock_margin() const {
    return std::min(milliseconds(1000), duration_cast<milliseconds>(budget_.window) / 20);
}

RequestPacer::TimePoint RequestPacer::window_start(TimePoint t) const {
    auto since_epoch = duration_cast<seconds>(t.time_since_epoch()).count();
    auto w = budget_.window.count();
    return TimePoint(seconds(since_epoch - (since_epoch % w + w) % w));
}

void RequestPacer::prune(TimePoint now) {
    auto span = budget_.window + margin();
    while (!answered_.empty() && *answered_.begin() + span <= now) answered_.erase(answered_.begin());
}

// A new clock window began: forget what is older than the previous one.
void RequestPacer::close_windows(TimePoint now) {
    TimePoint current = window_start(now);
    if (current == current_window_) return;
    current_window_ = current;
    starts_in_window_ = 0;
    for (auto it = ok_by_window_.begin(); it != ok_by_window_.end();)
        it = it->first + budget_.window < current ? ok_by_window_.erase(it) : std::next(it);
    for (auto it = throttled_windows_.begin(); it != throttled_windows_.end();)
        it = *it + budget_.window < current ? throttled_windows_.erase(it) : std::next(it);
}

bool RequestPacer::may_start(TimePoint now) {
    close_windows(now);
    if (now < paused_until_) return false;
    int lim = limit();
    if (lim == 0) return true;
    prune(now);
    if (static_cast<int>(in_flight_.size() + answered_.size()) < lim) return reserve_shared(now, lim);
    // A learned budget spent in this clock window is probed, one request at a time:
    // spent in the sliding span only, Chatwoot's window may not be full yet, and a
    // success there would prove nothing. The probe may pass the learned limit in the
    // shared count too, never the configured one.
    return learned_ > 0 && !probe_ && starts_in_window_ >= learned_ && now >= probe_not_before_ &&
           reserve_shared(now, budget_.limit);
}

void RequestPacer::share(SharedRequestWindow* shared) {
    shared_ = shared;
    held_.reset();
}

// The start's place in the shared count, reserved once and held until on_start (the
// engine may ask may_start again before it starts anything).
bool RequestPacer::reserve_shared(TimePoint now, int most) {
    if (!shared_) return true;
    TimePoint window = window_start(now);
    shared_->publish_terms(limit(), static_cast<int>(budget_.window.count()));
    if (held_ && *held_ == window) return true;
    auto start_s = std::chrono::duration_cast<seconds>(window.time_since_epoch()).count();
    if (!shared_->reserve_own(start_s, most)) return false;
    held_ = window;
    return true;
}

int RequestPacer::external(TimePoint now) const {
    if (!shared_) return 0;
    return shared_->usage(duration_cast<seconds>(window_start(now).time_since_epoch()).count()).external;
}

RequestPacer::TimePoint RequestPacer::next_start(TimePoint now) {
    TimePoint at = std::max(now, paused_until_);
    int lim = limit();
    if (lim > 0) {
        prune(now);
        // The answers that must leave the span for a start; with too many in flight,
        // the next reply (which wakes the engine) is the earliest news.
        long over = static_cast<long>(in_flight_.size() + answered_.size()) - lim;
        if (over >= 0)
            at = over < static_cast<long>(answered_.size())
                     ? std::max(at, *std::next(answered_.begin(), over) + budget_.window + margin())
                     : std::max(at, now + budget_.window);
        // Others filled the shared count of this clock window: the next one.
        TimePoint window = window_start(at);
        if (shared_ && !(held_ && *held_ == window) &&
            shared_->usage(duration_cast<seconds>(window.time_since_epoch()).count()).used >= lim)
            at = std::max(at, window + budget_.window);
    }
    return at;
}

RequestPacer::Start RequestPacer::on_start(TimePoint now) {
    Start start{now, next_ticket_++};
    if (shared_) shared_->count_sent();
    close_windows(now);
    ++starts_in_window_;
    int lim = limit();
    if (lim == 0) return start;
    if (shared_) {
        TimePoint window = window_start(now);
        if (!(held_ && *held_ == window))  // started without asking (or in a later window): counted anyway
            shared_->add_own(duration_cast<seconds>(window.time_since_epoch()).count());
        held_.reset();
    }
    prune(now);
    if (learned_ > 0 && static_cast<int>(in_flight_.size() + answered_.size()) >= lim) probe_ = start.ticket;
    in_flight_.insert(start.ticket);
    return start;
}

void RequestPacer::count_reply(long status) {
    if (shared_ && status == 429) shared_->count_throttled();
}

void RequestPacer::on_done(const Start& started, TimePoint now) {
    if (probe_ && *probe_ == started.ticket) probe_.reset();
    auto it = in_flight_.find(started.ticket);
    if (it == in_flight_.end()) return;  // started with no budget in force
    in_flight_.erase(it);
    answered_.insert(now);
}

void RequestPacer::on_response(const Start& started, long status, std::optional<seconds> retry_after,
                               TimePoint now) {
    close_windows(now);
    bool was_probe = probe_ && *probe_ == started.ticket;
    on_done(started, now);
    TimePoint window = window_start(started.at);
    if (status != 429) {
        if (status > 0) ++ok_by_window_[window];
        if (was_probe && status > 0 && learned_ > 0) {  // one more fits: the budget grows by one
            ++learned_;
            if (learned_ >= edge_) probe_rest_ = 0;  // past the last edge: the limit moved up
            if (budget_.limit > 0 && learned_ >= budget_.limit) learned_ = 0;
        }
        return;
    }
    ++throttled_;
    if (retry_after) {
        paused_until_ = std::max(paused_until_, now + std::min(*retry_after, budget_.max_pause));
        return;
    }
    paused_until_ = std::max(paused_until_, window + budget_.window + clock_margin());
    TimePoint previous = window - budget_.window;
    // One throttled window alone teaches nothing (a stray 429, a burst of a proxy's):
    // waiting out the window is enough. Two in a row mean the limit is really lower; so
    // does a 429 while a learned budget is in force (its probe found the edge).
    bool confirmed = throttled_windows_.count(previous) > 0 || learned_ > 0;
    throttled_windows_.insert(window);
    if (learned_ > 0 && window != learned_in_window_) {
        // The edge is where it was: probe again only 2, 4, 8 or 16 windows later, so
        // that a low limit does not pay a 429 every window.
        probe_rest_ = std::min(kMostWindowsBetweenProbes, probe_rest_ ? probe_rest_ * 2 : 2);
        probe_not_before_ = window + budget_.window * probe_rest_;
    }
    if (was_probe) {  // the learned budget fitted, one more did not: it stays
        edge_ = learned_ + 1;
        return;
    }
    if (!confirmed || window == learned_in_window_) return;
    // What fit in this window before Chatwoot said no is the real budget (replies still
    // on their way are missed: it errs low, and probing wins them back).
    int fitted = ok_by_window_.count(window) ? ok_by_window_[window] : 0;
    // Others' requests in that window fitted too (they are in Chatwoot's count), and
    // the shared count keeps them under the learned budget from now on.
    if (window == window_start(now)) fitted += external(now);
    learned_ = std::max(1, fitted);
    if (budget_.limit > 0) learned_ = std::min(learned_, budget_.limit - 1);
    if (learned_ < 1) learned_ = 0;  // a budget of 1 cannot be learned below
    learned_in_window_ = window;
}

}  // namespace chatwoot::core
