#include "mcp/stdio_transport.h"

#include <istream>
#include <map>
#include <mutex>
#include <ostream>

#include "mcp/call_runner.h"
#include "mcp/log.h"
#include "tools/row_json.h"
#include "util/line_reader.h"

namespace fasten::mcp {
namespace {

using json = nlohmann::json;

class Writer {
 public:
  explicit Writer(std::ostream& out) : out_(out) {}
  void Send(const json& message) { Send(DumpJson(message)); }
  // `line`: one compact JSON message (compact JSON never contains a raw newline).
  void Send(std::string line) {
    line.push_back('\n');
    std::lock_guard<std::mutex> lock(mu_);
    out_.write(line.data(), static_cast<std::streamsize>(line.size()));
    out_.flush();
  }

 private:
  std::mutex mu_;
  std::ostream& out_;
};

}  // namespace

int RunStdio(const Dispatcher& dispatcher, const StdioOptions& options, std::istream& in,
             std::ostream& out, std::ostream& log_stream) {
  using Level = StdioOptions::LogLevel;
  // std::cin and std::cerr are tied to std::cout: every read (and every log line) would flush
  // stdout from this thread while a worker writes a response under the writer's lock, splitting
  // lines. Only the Writer may touch `out`.
  in.tie(nullptr);
  log_stream.tie(nullptr);
  Writer writer(out);
  Log log(log_stream, options.log_level);
  Connection connection;
  CallRunner runner(
      dispatcher,
      CallRunnerOptions{options.stores, options.workers, options.call_timeout, options.store_retry},
      log);
  auto spec_for = [&](std::string key) {
    CallSpec spec{options.scope};
    spec.key = std::move(key);
    spec.connection = &connection;
    spec.notify = [&writer](const json& n) { writer.Send(n); };
    return spec;
  };
  auto finish = [&writer, &log](const json& request, CallOutcome outcome) {
    if (outcome.cancelled && !outcome.timed_out) {
      log.Write(Level::kDebug,
                "request " + DumpJson(request["id"]) + " cancelled; no response sent");
      return;
    }
    writer.Send(std::move(outcome.text));
  };

  log.Write(Level::kInfo, "serving MCP on stdio; store " + options.stores.audit.Display() + "; " +
                              options.scope.Describe());
  std::map<std::string, json> listens;  // open subscriptions/listen streams, by serialised id
  std::string line;
  int64_t line_no = 0;
  while (true) {
    // One line; a line beyond the limit is refused (and drained), never buffered whole.
    bool too_long = false;
    if (!ReadBoundedLine(in, options.max_line_bytes, &line, &too_long)) break;
    ++line_no;
    if (too_long) {
      log.Write(Level::kWarn, "line " + std::to_string(line_no) + " longer than " +
                                  std::to_string(options.max_line_bytes) + " bytes refused");
      writer.Send(ErrorResponse(nullptr, kInvalidRequest,
                                "invalid request: message too large (the limit is " +
                                    std::to_string(options.max_line_bytes) + " bytes per line)"));
      if (in.eof()) break;
      continue;
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) {
      if (in.eof()) break;
      continue;
    }
    json message;
    Incoming kind = Dispatcher::ParseAndClassify(line, &message);
    switch (kind.kind) {
      case Incoming::Kind::kInvalid:
        log.Write(Level::kWarn, "line " + std::to_string(line_no) + ": " +
                                    kind.error["error"]["message"].get<std::string>());
        writer.Send(kind.error);
        break;
      case Incoming::Kind::kResponse:
        break;  // we never send requests; ignore
      case Incoming::Kind::kNotification:
        if (auto target = Dispatcher::CancelTarget(message)) {
          const std::string key = DumpJson(*target);
          listens.erase(key);  // a cancelled listen ends without a response
          runner.Cancel(key);
        }
        break;
      case Incoming::Kind::kRequest: {
        if (Dispatcher::IsListen(message)) {
          json ack;
          if (auto error = dispatcher.Listen(message, &ack)) {
            writer.Send(*error);
          } else {
            writer.Send(ack);  // and nothing more until cancelled or shut down
            listens[DumpJson(message["id"])] = message["id"];
          }
          break;
        }
        if (CallRunner::RunsInline(message)) {
          finish(message, runner.RunInline(message, spec_for(DumpJson(message["id"]))));
        } else if (Dispatcher::NeedsStores(message)) {
          std::string key = DumpJson(message["id"]);
          runner.Post(std::move(message), spec_for(std::move(key)), finish);
        } else {
          CallContext ctx{options.scope};
          ctx.connection = &connection;
          writer.Send(dispatcher.HandleRequestText(message, ctx));
        }
        break;
      }
    }
    if (in.eof()) break;
  }
  runner.Stop();
  for (const auto& [key, id] : listens) {  // teardown ends every open listen
    writer.Send(Dispatcher::ListenCancelled(id));
    writer.Send(dispatcher.ListenResult(id));
  }
  log.Write(Level::kInfo, "end of input; exiting");
  return 0;
}

}  // namespace fasten::mcp
