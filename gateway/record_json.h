// The JSON shapes of CONTRACT.md, shared by `vigil --json` and the HTTP API
// so both always say the same thing.
#pragma once

#include <nlohmann/json.hpp>

#include "storage/metadata_store.h"

namespace vigil::gateway {

// {id,user,target,protocol,state,started_at,ended_at,duration_ms,width,height,video_bytes,end_reason}
// (+ client_addr, node; refusals for refused attempts). `live_bytes`: the
// recording's size on disk so far, for a live session whose record still says 0.
nlohmann::json toJson(const storage::SessionRecord& s, long long live_bytes = 0);
// {t_ms,kind,text} (+ window when known)
nlohmann::json toJson(const Event& e);
// {session_id,t_ms,kind,text,user,target,started_at}
nlohmann::json toJson(const storage::SearchHit& h);
// {session_id,t_ms,rule,severity,text,user,target} (+ at, when it was raised)
nlohmann::json toJson(const storage::AlertRecord& a);
// {at,actor,action,object,detail} (+ seq, the entry's place in the chain)
nlohmann::json toJson(const storage::AuditEntry& a);

}  // namespace vigil::gateway
