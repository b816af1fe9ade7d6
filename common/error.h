#pragma once
// Two kinds of failure, kept apart on purpose:
//  - UserError: bad input from a person (config, data file, flags, checkpoint). Its message is
//    one sentence naming what and where; the binary prints it and exits non-zero.
//  - QR_CHECK: a broken internal invariant. It aborts with file and line, because continuing
//    would produce wrong numbers silently.
#include <stdexcept>
#include <string>

namespace qosroute {

class UserError : public std::runtime_error {
 public:
  explicit UserError(const std::string& message) : std::runtime_error(message) {}
};

[[noreturn]] void FailCheck(const char* condition, const char* file, int line,
                            const std::string& detail);

}  // namespace qosroute

#define QR_CHECK(cond)                                                            \
  do {                                                                            \
    if (!(cond)) ::qosroute::FailCheck(#cond, __FILE__, __LINE__, std::string()); \
  } while (0)

#define QR_CHECK_MSG(cond, msg)                                           \
  do {                                                                    \
    if (!(cond)) ::qosroute::FailCheck(#cond, __FILE__, __LINE__, (msg)); \
  } while (0)
