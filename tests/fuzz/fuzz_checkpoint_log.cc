// Fuzzes the checkpoint log's parsers (anchor/checkpoint.h): one log line (ParseLogLine: the
// JSON envelope, its base64 TSA token, the C2SP note inside, the checkpoint body inside that)
// and the body text alone (CheckpointBody::Parse).
//
// Input: one log line or body text (any bytes). Checks:
// - a body that parses re-renders to exactly the input text (Text() is the one spelling), its
//   nodes are in strictly ascending order and at most kMaxCheckpointNodes, its index >= 1, and
//   prev is "genesis" exactly at index 1;
// - a line that parses holds a note whose text is the body's Text(), and re-rendering the line
//   (LogLine) parses back to the same note, token and body.
#include <string>

#include "anchor/checkpoint.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

void CheckBody(const fasten::anchor::CheckpointBody& b, const std::string& text) {
  FUZZ_CHECK_MSG(b.Text() == text, "the body does not re-render to its text");
  FUZZ_CHECK(b.index >= 1);
  FUZZ_CHECK((b.index == 1) == (b.prev == "genesis"));
  FUZZ_CHECK(b.nodes.size() <= fasten::anchor::kMaxCheckpointNodes);
  for (size_t i = 1; i < b.nodes.size(); ++i) FUZZ_CHECK(b.nodes[i - 1].node < b.nodes[i].node);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(fasten::fuzz::AsText(data, size));
  fasten::Result<fasten::anchor::CheckpointBody> body =
      fasten::anchor::CheckpointBody::Parse(input);
  if (body.ok()) CheckBody(body.value(), input);
  fasten::Result<fasten::anchor::LogEntry> e = fasten::anchor::ParseLogLine(input, 1);
  if (e.ok()) {
    CheckBody(e->body, e->parsed.text);
    const std::string again = fasten::anchor::LogLine(e->note, e->tsa_token);
    fasten::Result<fasten::anchor::LogEntry> back = fasten::anchor::ParseLogLine(again, 1);
    FUZZ_CHECK_MSG(back.ok(), back.status().message());
    FUZZ_CHECK(back->note == e->note);
    FUZZ_CHECK(back->tsa_token == e->tsa_token);
    FUZZ_CHECK(back->body.Text() == e->body.Text());
  }
  return 0;
}
