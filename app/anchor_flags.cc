#include "app/anchor_flags.h"

#include "app/launch_scopes.h"

namespace fasten {

Result<std::optional<anchor::AnchorConfig>> ReadAnchorFlags(const Args& args,
                                                            const anchor::PublicKey* extra_key,
                                                            const std::string& log_flag) {
  std::vector<std::string> pubkeys = args.GetAll("pubkey");
  if (!args.Has(log_flag)) {
    if (!pubkeys.empty() || args.Has("tsa-ca")) {
      return InvalidArgumentError("--pubkey and --tsa-ca go with --" + log_flag +
                                  " FILE (the checkpoint log to verify)");
    }
    return std::optional<anchor::AnchorConfig>();
  }
  anchor::AnchorConfig config;
  config.log = *args.Get(log_flag);
  config.scope = app::LaunchScopes::AllTenants();  // a checkpoint covers every tenant's chains
  if (pubkeys.empty() && extra_key == nullptr) {
    return InvalidArgumentError(
        "--" + log_flag +
        " needs the public key of the checkpoints' signer: add --pubkey KEY.pub (repeat it "
        "for rotated keys)");
  }
  Result<std::vector<anchor::PublicKey>> keys = anchor::LoadPublicKeys(pubkeys);
  if (!keys.ok()) return keys.status();
  config.check.keys = std::move(keys.value());
  if (extra_key) config.check.keys.push_back(*extra_key);
  if (auto ca = args.Get("tsa-ca")) config.check.tsa_ca = *ca;
  return std::optional<anchor::AnchorConfig>(std::move(config));
}

}  // namespace fasten
