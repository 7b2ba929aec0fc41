// A MetadataStore holding only access codes, in memory. Unlike Redis it does
// not drop expired codes by itself, so expiry checks in the code under test
// are exercised.
#pragma once

#include <map>
#include <mutex>

#include "storage/metadata_store.h"

namespace vigil::gateway::auth::testing {

class FakeCodeStore final : public storage::MetadataStore {
 public:
  Status ping() override { return Status::Ok(); }
  Status putSession(const storage::SessionRecord&) override { return unsupported(); }
  Result<std::optional<storage::SessionRecord>> getSession(const std::string&) override {
    return unsupported();
  }
  Result<std::vector<storage::SessionRecord>> listSessions(const storage::SessionFilter&) override {
    return unsupported();
  }
  Status appendEvents(const std::string&, const std::vector<Event>&) override {
    return unsupported();
  }
  Result<std::vector<Event>> events(const std::string&, const std::vector<EventKind>&) override {
    return unsupported();
  }
  Result<std::vector<storage::SearchHit>> search(const std::string&,
                                                 const storage::SessionFilter&) override {
    return unsupported();
  }
  Status putCode(const storage::CodeRecord& c) override {
    std::lock_guard lock(mu_);
    codes_[c.id] = c;
    return Status::Ok();
  }
  Result<std::optional<storage::CodeRecord>> takeCode(const std::string& id) override {
    std::lock_guard lock(mu_);
    auto it = codes_.find(id);
    if (it == codes_.end()) return std::optional<storage::CodeRecord>{};
    storage::CodeRecord c = it->second;
    codes_.erase(it);
    return std::optional<storage::CodeRecord>{c};
  }
  Result<std::vector<storage::CodeRecord>> codesForTarget(const std::string& target) override {
    std::lock_guard lock(mu_);
    std::vector<storage::CodeRecord> out;
    for (const auto& [id, c] : codes_)
      if (c.target == target) out.push_back(c);
    return out;
  }
  Status appendAudit(const storage::AuditEntry&) override { return unsupported(); }
  Result<std::vector<storage::AuditEntry>> audit(std::size_t) override { return unsupported(); }

  std::vector<storage::CodeRecord> all() {
    std::lock_guard lock(mu_);
    std::vector<storage::CodeRecord> out;
    for (const auto& [id, c] : codes_) out.push_back(c);
    return out;
  }

 private:
  static Status unsupported() { return Status::Error("not in the fake store"); }
  std::mutex mu_;
  std::map<std::string, storage::CodeRecord> codes_;
};

}  // namespace vigil::gateway::auth::testing
