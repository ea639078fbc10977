#include "mcp/stdio_transport.h"

#include <istream>
#include <map>
#include <memory>
#include <mutex>
#include <ostream>
#include <thread>
#include <vector>

#include "mcp/log.h"
#include "tools/row_json.h"
#include "util/line_reader.h"
#include "util/work_queue.h"

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

struct Task {
  json request;
  std::shared_ptr<std::atomic<bool>> cancelled;
  std::string key;  // the request id, serialised
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

  WorkQueue<Task> queue;
  std::mutex mu;  // guards in_flight
  std::map<std::string, std::shared_ptr<std::atomic<bool>>> in_flight;

  auto worker = [&](int index) {
    StoreSet stores;
    Status opened = OpenStoreSet(options.stores, /*need_streams=*/true, &stores);
    if (!opened.ok())
      log.Write(Level::kError, "worker " + std::to_string(index) + ": " + opened.ToString());
    while (true) {
      Task task;
      if (!queue.Pop(&task)) return;
      CallContext ctx{options.scope};
      ctx.connection = &connection;
      ctx.stores = opened.ok() ? &stores : nullptr;
      ctx.cancelled = task.cancelled.get();
      ctx.notify = [&](const json& n) {
        if (!task.cancelled->load()) writer.Send(n);
      };
      if (ctx.stores) stores.SetInterrupt(task.cancelled.get());
      std::string response;
      try {
        response = dispatcher.HandleRequestText(task.request, ctx);
      } catch (const std::exception& e) {
        log.Write(Level::kError, std::string("request failed: ") + e.what());
        response = DumpJson(ErrorResponse(&task.request["id"], kInternalError, "internal error"));
      }
      if (ctx.stores) stores.SetInterrupt(nullptr);
      {
        std::lock_guard<std::mutex> lock(mu);
        in_flight.erase(task.key);
      }
      if (task.cancelled->load()) {
        log.Write(Level::kDebug, "request " + task.key + " cancelled; no response sent");
      } else {
        writer.Send(std::move(response));
      }
      queue.Done();
    }
  };
  std::vector<std::thread> workers;
  for (int i = 0; i < std::max(1, options.workers); ++i) workers.emplace_back(worker, i);

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
          listens.erase(DumpJson(*target));  // a cancelled listen ends without a response
          std::lock_guard<std::mutex> lock(mu);
          auto it = in_flight.find(DumpJson(*target));
          if (it != in_flight.end()) it->second->store(true);
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
        if (Dispatcher::NeedsStores(message)) {
          std::string key = DumpJson(message["id"]);
          Task task{std::move(message), std::make_shared<std::atomic<bool>>(false), std::move(key)};
          {
            std::lock_guard<std::mutex> lock(mu);
            in_flight[task.key] = task.cancelled;
          }
          queue.Push(std::move(task));
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
  queue.Close();
  for (std::thread& t : workers) t.join();
  for (const auto& [key, id] : listens) {  // teardown ends every open listen
    writer.Send(Dispatcher::ListenCancelled(id));
    writer.Send(dispatcher.ListenResult(id));
  }
  log.Write(Level::kInfo, "end of input; exiting");
  return 0;
}

}  // namespace fasten::mcp
