// The observers of a session. One pipeline serves both protocols: the RDP and
// VNC adapters call these; the recorder, keystroke log, OCR and live view
// implement them and never learn which protocol they serve.
#pragma once

#include "core/event.h"
#include "core/frame.h"
#include "core/input.h"

namespace vigil {

// Called on the target leg's thread after each update batch. `fb` is the
// session's framebuffer, valid only during the call: copy what you need,
// queue the work, return. Must not block.
class FrameSink {
 public:
  virtual ~FrameSink() = default;
  virtual void onFrame(const Frame& fb, const DirtyRegion& changed, Millis t) = 0;
  // The framebuffer changed size; the next onFrame() carries the new size.
  virtual void onResize(int width, int height, Millis t) { (void)width; (void)height; (void)t; }
};

// Called for every input event the client sends (and clipboard both ways),
// before it is relayed. Must not block.
class InputSink {
 public:
  virtual ~InputSink() = default;
  virtual void onInput(const InputEvent& e, Millis t) = 0;
};

}  // namespace vigil
