// A Session joins one client's leg to one target's leg and owns everything
// recorded for it. It is protocol-neutral: a protocol adapter (vnc/, rdp/)
// implements Relay, and feeds frames, input and lifecycle into the Session's
// pipeline, which fans them out to the observers (recorder, keystroke lines,
// OCR, live view). Thread-safe unless a method says otherwise.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/config.h"
#include "core/sinks.h"
#include "core/status.h"

namespace vigil::gateway {

// The protocol-specific part of a session: both legs of one connection.
class Relay {
 public:
  virtual ~Relay() = default;
  // Closes both legs (idempotent, any thread, returns without waiting);
  // the adapter then ends the session with Session::finish().
  virtual void close(const std::string& reason) = 0;
  // A watcher joined: call Session::frame() soon with the current screen (an
  // empty region is enough) even if nothing changes, because a still screen
  // sends no updates. Any thread; returns without waiting and without calling
  // into the Session.
  virtual void refreshScreen() = 0;
};

// Who was let in, to what, on which grant.
struct AccessGrant {
  std::string user;
  const TargetConfig* target = nullptr;  // owned by the Config
  std::string via;                        // "password" | "access code"
  std::optional<EpochMillis> not_after;   // the session ends when this passes
  std::string code_issuer;                // via an access code: who issued it ("" unknown)
};

// The session's `authenticated` lifecycle text: "authenticated vendor1 by
// password", "authenticated vendor1 by access code issued by security1".
inline std::string authenticatedText(const AccessGrant& g) {
  std::string text = "authenticated " + g.user + " by " + g.via;
  if (!g.code_issuer.empty()) text += " issued by " + g.code_issuer;
  return text;
}

class Session {
 public:
  virtual ~Session() = default;

  virtual const std::string& id() const = 0;
  virtual const AccessGrant& grant() const = 0;
  virtual Millis now() const = 0;  // the session's clock (video and events)

  // --- called by the protocol adapter (relay threads); none of these block ---
  // The target's screen changed: `fb` is the session framebuffer.
  virtual void frame(const Frame& fb, const DirtyRegion& changed) = 0;
  virtual void resized(int width, int height) = 0;
  // Input from the client (and clipboard from either side), before relaying.
  // Returns whether to relay it: false when a rule holds it back (the key
  // that would run a line a `terminate` rule matches, and its release) and
  // for everything after the session was terminated. The one filter on the
  // relay path: bounded (RE2), never waits on I/O.
  [[nodiscard]] virtual bool input(const InputEvent& e) = 0;
  // A lifecycle event ("connected to target 10.0.0.5:3389", ...).
  virtual void lifecycle(const std::string& text) = 0;
  // The adapter attaches its relay once both legs are up (before that,
  // terminate() refuses the connection instead).
  virtual void attach(Relay* relay) = 0;
  // Both legs are closed: flushes the recording and events, marks the
  // session ended. Call exactly once, from the adapter, after the legs are
  // down. Blocks for the flush (not on a relay thread that serves others).
  virtual void finish(const std::string& end_reason) = 0;

  // --- control ---
  // Ends the session: closes both legs within 1 s, records who did it.
  virtual void terminate(const std::string& reason) = 0;
  virtual bool terminated() const = 0;

  // --- live view ---
  // From now on `frames` gets every frame (the first call carries the whole
  // screen) and `events` every event, on relay threads: they must not block.
  // Unsubscribe before destroying them.
  virtual void subscribe(FrameSink* frames, EventSink* events) = 0;
  virtual void unsubscribe(FrameSink* frames, EventSink* events) = 0;
};

}  // namespace vigil::gateway
