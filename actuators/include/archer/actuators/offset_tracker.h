#pragma once
// How far a gateway may commit its command log: per partition, up to (not including) the oldest
// command taken and not yet finished. A command is finished once its outcome is in the event log, so
// after any crash the gateway reads again exactly the commands that may still need work.
// Pure bookkeeping, owned by one thread (the actuator loop).
#include <cstdint>
#include <map>
#include <set>
#include <utility>
#include <vector>

namespace archer::actuators {

class OffsetTracker {
 public:
  using Offsets = std::vector<std::pair<std::int32_t, std::int64_t>>;  // (partition, next offset to read)

  // Where the group's committed offsets were when reading began (nothing below them is taken again).
  void start_at(std::int32_t partition, std::int64_t next_offset);
  void taken(std::int32_t partition, std::int64_t offset);
  void finished(std::int32_t partition, std::int64_t offset);

  // The partitions whose committable offset moved since the last call, with that offset.
  Offsets advance();
  // The committable offset of `partition`: everything below it is finished (-1: nothing known).
  std::int64_t committed(std::int32_t partition) const;
  std::map<std::int32_t, std::int64_t> committed() const;
  std::size_t unfinished() const;

 private:
  struct Partition {
    std::set<std::int64_t> unfinished;
    std::int64_t next = -1;       // one past the highest offset taken (or the start)
    std::int64_t committed = -1;  // as of the last advance()
  };
  std::int64_t committable(const Partition& partition) const;
  std::map<std::int32_t, Partition> partitions_;
};

}  // namespace archer::actuators
