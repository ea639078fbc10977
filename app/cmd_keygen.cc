#include <cstdio>
#include <ostream>

#include "anchor/keys.h"
#include "app/commands.h"

namespace fasten {

const char kKeygenHelp[] =
    R"(Usage: fasten-mcp keygen --out KEY [--name NAME]

Creates an Ed25519 signing key in the C2SP signed-note formats (https://c2sp.org/signed-note):
  KEY       the private key, PRIVATE+KEY+NAME+ID+..., mode 0600: keep it secret
  KEY.pub   the public key, NAME+ID+..., mode 0644: give it to whoever verifies your notes
ID is the key id: 8 hex digits derived from NAME and the public key. Neither file is ever
overwritten: if KEY or KEY.pub exists, keygen writes nothing and exits 2.

Options:
  --out KEY     where to write the private key (KEY.pub gets the public key)
  --name NAME   the signer's name in the key and in every signature line (default: fasten-mcp);
                1 to 256 bytes of UTF-8 without '+', spaces or control characters, e.g. a
                domain and path such as example.com/fasten

Exit status: 0 keys written, 2 usage error, an existing file, a bad name or an I/O error.
)";

namespace {

int Fail(CommandIo& io, const std::string& message) {
  io.err << "fasten-mcp keygen: " << message << "\n";
  return kExitUsage;
}

}  // namespace

int RunKeygen(int argc, char** argv, CommandIo io) {
  Result<Args> args = Args::Parse("keygen", argc, argv, 2, {{"out", true}, {"name", true}});
  if (!args.ok()) return Fail(io, args.status().message());
  if (args->Has("help")) {
    io.out << kKeygenHelp;
    return kExitOk;
  }
  if (!args->positionals().empty()) {
    return Fail(
        io, "unexpected argument '" + args->positionals()[0] + "' (see fasten-mcp keygen --help)");
  }
  const std::optional<std::string> out = args->Get("out");
  if (!out || out->empty()) {
    return Fail(io,
                "--out KEY is required: the file for the private key (see fasten-mcp keygen "
                "--help)");
  }
  const std::string name = args->Get("name").value_or("fasten-mcp");
  if (!anchor::ValidKeyName(name)) {
    std::string shown = name;
    for (char& c : shown) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = '?';
    }
    return Fail(io, "--name '" + shown +
                        "' is not a valid key name: use 1 to 256 bytes of UTF-8 without '+', "
                        "spaces or control characters (e.g. example.com/fasten)");
  }
  Result<anchor::PrivateKey> key = anchor::PrivateKey::Generate(name);
  if (!key.ok()) return Fail(io, key.status().message());
  Status st = anchor::WriteKeyPair(*key, *out);
  if (!st.ok()) return Fail(io, st.message());
  char id[9];
  std::snprintf(id, sizeof id, "%08x", key->id());
  io.out << key->Public().Text() << "\n";
  io.out << "key id:      " << id << "\n";
  io.out << "private key: " << *out << " (mode 0600; keep it secret)\n";
  io.out << "public key:  " << *out << ".pub (mode 0644)\n";
  return kExitOk;
}

}  // namespace fasten
