// The flags that name a checkpoint log and the keys that verify it, read the same way by
// `verify`, `serve` and `pack`: --checkpoints FILE, --pubkey PUB (repeatable), --tsa-ca PEM.
#pragma once

#include <optional>
#include <string>

#include "anchor/checkpoint.h"
#include "app/cli.h"
#include "util/status.h"

namespace fasten {

inline const FlagSpec kAnchorFlags[] = {{"checkpoints", true}, {"pubkey", true}, {"tsa-ca", true}};

// nullopt when --checkpoints is absent (then --pubkey and --tsa-ca must be absent too, unless
// `extra_key` is given: serve's own checkpoint key verifies its log). InvalidArgument saying
// what to add or remove; a key file that does not load is named.
Result<std::optional<anchor::AnchorConfig>> ReadAnchorFlags(
    const Args& args, const anchor::PublicKey* extra_key = nullptr,
    const std::string& log_flag = "checkpoints");

}  // namespace fasten
