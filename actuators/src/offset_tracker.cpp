#include "archer/actuators/offset_tracker.h"

#include <algorithm>

namespace archer::actuators {

void OffsetTracker::start_at(std::int32_t partition, std::int64_t next_offset) {
  Partition& p = partitions_[partition];
  p.next = std::max(p.next, next_offset);
  p.committed = std::max(p.committed, next_offset);
}

void OffsetTracker::taken(std::int32_t partition, std::int64_t offset) {
  Partition& p = partitions_[partition];
  if (p.committed < 0) p.committed = offset;  // not started: nothing below the first command is ours
  p.unfinished.insert(offset);
  p.next = std::max(p.next, offset + 1);
}

void OffsetTracker::finished(std::int32_t partition, std::int64_t offset) {
  auto found = partitions_.find(partition);
  if (found != partitions_.end()) found->second.unfinished.erase(offset);
}

std::int64_t OffsetTracker::committable(const Partition& partition) const {
  return partition.unfinished.empty() ? partition.next : *partition.unfinished.begin();
}

OffsetTracker::Offsets OffsetTracker::advance() {
  Offsets moved;
  for (auto& [partition, p] : partitions_) {
    const std::int64_t next = committable(p);
    if (next > p.committed) {
      p.committed = next;
      moved.emplace_back(partition, next);
    }
  }
  return moved;
}

std::int64_t OffsetTracker::committed(std::int32_t partition) const {
  auto found = partitions_.find(partition);
  return found == partitions_.end() ? -1 : found->second.committed;
}

std::map<std::int32_t, std::int64_t> OffsetTracker::committed() const {
  std::map<std::int32_t, std::int64_t> out;
  for (const auto& [partition, p] : partitions_) out.emplace(partition, p.committed);
  return out;
}

std::size_t OffsetTracker::unfinished() const {
  std::size_t total = 0;
  for (const auto& [partition, p] : partitions_) total += p.unfinished.size();
  return total;
}

}  // namespace archer::actuators
