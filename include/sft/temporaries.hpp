// sft/temporaries.hpp — the temporary files sft writes, and removing them when a program is killed.
//
// Every file sft writes (Writer, write_checkpoint, compress/decompress, .npy,
// the embedded-digest copy) is written to a temporary beside its target and
// renamed over the target only when complete, so a failed or interrupted
// write never leaves a partial target. The temporary's name is the target's
// name with a dot in front and a random suffix:
//
//   DIR/.NAME.sft-tmp-XXXXXXXXXXXX        (12 lowercase hex digits)
//
// (NAME cut to its first 200 bytes). A failed write removes its temporary.
// A process killed while writing leaves it, unless the program removes it:
// the library never installs a signal handler (it never prints, never exits
// and does not own the process), so it offers the one call such a handler
// needs. The sft command-line tool installs handlers for SIGINT, SIGTERM and
// SIGHUP that call remove_temporaries() and then die of the same signal.
// SIGKILL (and a power cut) cannot be handled by anyone: such a leftover is
// recognised by the pattern above and may be deleted once no sft process is
// writing to that directory.
#pragma once

#include <cstddef>
#include <string_view>

namespace sft {

// What every temporary's name holds, between the target's name and the suffix.
inline constexpr std::string_view temporary_marker = ".sft-tmp-";

// Remove (unlink) every temporary file that sft is writing right now, in any
// thread of the process. Async-signal-safe: meant to be called from a signal
// handler, after which the process should end (the writes whose temporaries
// were removed fail with write_failed if they go on). Lock-free; touches no
// heap; temporaries already renamed into place are not affected.
void remove_temporaries() noexcept;

// How many temporaries are registered for remove_temporaries() right now
// (for tests).
std::size_t live_temporaries() noexcept;

}  // namespace sft
