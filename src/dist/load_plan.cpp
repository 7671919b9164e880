// Planning a distributed load: strategies per tensor, then one rank's reads and exchanges.
#include "dist/load_plan.hpp"

#include <algorithm>
#include <cmath>
#include <string>

namespace sft::detail {

namespace {

__extension__ typedef unsigned __int128 u128;

// preadv takes at most IOV_MAX (1024 on Linux) buffers per call.
constexpr std::size_t max_segments = 1024;

std::uint64_t align_up(std::uint64_t v, std::uint64_t a) noexcept { return (v + a - 1) / a * a; }
std::uint64_t ceil_div(std::uint64_t a, std::uint64_t b) noexcept { return b ? a / b + (a % b != 0) : 0; }
std::uint64_t share(std::uint64_t total, std::uint64_t i, std::uint64_t n) noexcept {
  return static_cast<std::uint64_t>(static_cast<u128>(total) * i / n);
}

std::uint64_t product(std::span<const std::uint64_t> dims) noexcept {
  std::uint64_t n = 1;
  for (auto d : dims) n *= d;
  return n;
}

// The geometry of a split that the planner needs for every rank.
struct SplitGeometry {
  std::uint64_t rows = 0;       // product of the dimensions before d
  std::uint64_t row_bytes = 0;  // one row: dimension d and everything after it
  std::uint64_t inner_bits = 0; // one index of dimension d
  std::uint64_t n = 0;          // entries of dimension d
};

SplitGeometry geometry(const TensorInfo& t, std::uint32_t d) noexcept {
  SplitGeometry g;
  g.rows = product(t.shape.first(d));
  g.inner_bits = product(t.shape.subspan(d + 1)) * bits(t.dtype);
  g.n = t.shape[d];
  g.row_bytes = g.n * g.inner_bits / 8;
  return g;
}

// Per tensor, equal on every rank.
struct Decision {
  TensorAssignment a;
  LoadStrategy strategy = LoadStrategy::none;
  bool per_world = false;   // striped over all ranks rather than over each node
  std::uint32_t round = 0;
};

// A redistributed tensor's rows read straight into place: per column block
// (one per rank) its run and the index of its place holder in send[q]
// (~0 for this rank's own columns, which go to the output).
struct ScatterRead {
  std::uint32_t round = 0, shard = 0, tensor = 0;
  std::uint64_t offset = 0;  // file offset of row r0
  std::uint64_t r0 = 0, r1 = 0, row_bytes = 0, out_at = 0;
  struct Column { std::uint64_t run; std::size_t send_index; };
  std::vector<Column> columns;
};

struct Costs {
  double latency, storage, network, collective;
  std::uint64_t max_request;
  double reads(std::uint64_t requests) const { return static_cast<double>(requests) * latency; }
};

// The requests of a scatter read: whole rows, each row cut into its column
// blocks, each landing in its receiver's send block (or this rank's output).
// A request holds at most max_segments segments and, unless one row is
// larger, max_request_bytes.
// copy_at[q][i]: where round.send[q][i] starts in the round's send buffer.
void add_scatter_requests(const ScatterRead& sr, Round& round, const std::vector<std::vector<std::uint64_t>>& copy_at,
                          std::uint32_t world, const CoalesceOptions& c) {
  std::vector<std::uint64_t> at(world, 0);  // where each column block starts in its buffer
  for (std::uint32_t q = 0; q < world; ++q) {
    const auto& col = sr.columns[q];
    at[q] = col.send_index == ~std::size_t{0} ? sr.out_at + sr.r0 * col.run : copy_at[q][col.send_index];
  }
  std::size_t nonzero = 0;
  for (const auto& col : sr.columns) nonzero += col.run != 0;
  const std::uint64_t by_segments = std::max<std::uint64_t>(1, max_segments / std::max<std::size_t>(1, nonzero));
  const std::uint64_t by_bytes = std::max<std::uint64_t>(1, c.max_request_bytes / sr.row_bytes);
  const std::uint64_t rows_per_request = std::min(by_segments, by_bytes);
  for (std::uint64_t k = 0; k < sr.r1 - sr.r0; k += rows_per_request) {
    const std::uint64_t n = std::min(rows_per_request, sr.r1 - sr.r0 - k);
    Request q;
    q.shard = sr.shard;
    q.tensor = sr.tensor;
    q.offset = sr.offset + k * sr.row_bytes;
    q.length = q.useful = n * sr.row_bytes;
    q.segments.reserve(n * nonzero);
    for (std::uint64_t j = k; j < k + n; ++j)
      for (std::uint32_t p = 0; p < world; ++p) {
        const auto& col = sr.columns[p];
        if (col.run)
          q.segments.push_back({col.run, col.send_index == ~std::size_t{0} ? Buf::output : Buf::send, at[p] + j * col.run});
      }
    round.requests.push_back(std::move(q));
  }
}

}  // namespace

std::uint64_t runs_per_request(std::uint64_t run, std::uint64_t stride, std::uint64_t count,
                               const CoalesceOptions& c) noexcept {
  if (count <= 1 || stride <= run) return count ? count : 1;
  const std::uint64_t gap = stride - run;
  // k runs throw away (k - 1) x gap bytes; allowed: max(gap_floor, ratio x k x run).
  std::uint64_t k = c.gap_floor / gap + 1;
  const double ratio_bytes = c.over_read_ratio * static_cast<double>(run);
  if (static_cast<double>(gap) <= ratio_bytes) {
    k = count;
  } else if (ratio_bytes > 0) {
    const double by_ratio = std::floor(static_cast<double>(gap) / (static_cast<double>(gap) - ratio_bytes));
    if (by_ratio > static_cast<double>(k)) k = by_ratio >= static_cast<double>(count) ? count : static_cast<std::uint64_t>(by_ratio);
  }
  // The span (k - 1) x stride + run stays within max_request_bytes.
  const std::uint64_t by_span = run >= c.max_request_bytes ? 1 : (c.max_request_bytes - run) / stride + 1;
  k = std::min({k, by_span, count});
  return k ? k : 1;
}

std::vector<Request> coalesce(std::vector<Range> ranges, const CoalesceOptions& c) {
  const std::uint64_t max_request = c.max_request_bytes ? c.max_request_bytes : 1;
  // Cut long ranges so that the read threads share them.
  std::vector<Range> pieces;
  pieces.reserve(ranges.size());
  for (const Range& r : ranges) {
    for (std::uint64_t done = 0; done < r.length; done += max_request) {
      Range p = r;
      p.offset += done;
      p.at += done;
      p.length = std::min(max_request, r.length - done);
      pieces.push_back(p);
    }
  }
  std::sort(pieces.begin(), pieces.end(), [](const Range& a, const Range& b) {
    return a.shard != b.shard ? a.shard < b.shard : a.offset < b.offset;
  });
  std::vector<Request> out;
  for (const Range& r : pieces) {
    if (!out.empty()) {
      Request& cur = out.back();
      const std::uint64_t end = cur.offset + cur.length;
      if (r.shard == cur.shard && r.offset >= end) {
        const std::uint64_t span = r.offset + r.length - cur.offset;
        const std::uint64_t useful = cur.useful + r.length;
        const double allowed = std::max(static_cast<double>(c.gap_floor), c.over_read_ratio * static_cast<double>(useful));
        if (span <= max_request && static_cast<double>(span - useful) <= allowed &&
            cur.segments.size() + 2 <= max_segments) {
          if (r.offset > end) cur.segments.push_back({r.offset - end, Buf::sink, 0});
          cur.segments.push_back({r.length, r.buf, r.at});
          cur.length = span;
          cur.useful = useful;
          continue;
        }
      }
    }
    Request q;
    q.shard = r.shard;
    q.tensor = r.tensor;
    q.offset = r.offset;
    q.length = r.length;
    q.useful = r.length;
    q.segments.push_back({r.length, r.buf, r.at});
    out.push_back(std::move(q));
  }
  return out;
}

Result<RankPlan> plan_rank(std::span<const CheckpointTensor> tensors, const TensorParallelPlan& plan, std::uint32_t rank, std::span<const std::uint32_t> nodes,
                           const LoadOptions& o) {
  const auto world = static_cast<std::uint32_t>(nodes.size());
  if (world == 0 || rank >= world)
    return Error(Errc::invalid_argument, "rank " + std::to_string(rank) + " of a group of " + std::to_string(world));

  // Ranks by node, in rank order.
  std::vector<std::vector<std::uint32_t>> members;
  for (std::uint32_t r = 0; r < world; ++r) {
    if (nodes[r] >= world)
      return Error(Errc::invalid_argument, "node " + std::to_string(nodes[r]) + " of rank " + std::to_string(r) +
                                               " is not below the group size " + std::to_string(world));
    if (members.size() <= nodes[r]) members.resize(nodes[r] + 1);
    members[nodes[r]].push_back(r);
  }
  std::size_t per_node = 0;
  for (const auto& m : members) per_node = std::max(per_node, m.size());
  const double L = static_cast<double>(per_node);
  const double w = world;
  const Costs cost{o.cost.request_latency_s / std::max(1u, o.read_threads ? o.read_threads : 1u),
                   o.cost.storage_bytes_per_s > 0 ? o.cost.storage_bytes_per_s : 1,
                   o.cost.network_bytes_per_s > 0 ? o.cost.network_bytes_per_s : 1, o.cost.collective_latency_s,
                   o.coalesce.max_request_bytes ? o.coalesce.max_request_bytes : 1};

  // --- pass 1: the strategy of every tensor (the same on every rank) ---------------------
  std::vector<Decision> decisions(tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const TensorInfo& t = *tensors[i].info;
    SFT_TRY_ASSIGN(decisions[i].a, plan.assign(t, world));
    Decision& d = decisions[i];
    const std::uint64_t B = t.byte_size();
    const double b = static_cast<double>(B);
    switch (d.a.placement) {
      case Placement::skip: d.strategy = LoadStrategy::none; break;
      case Placement::expert: d.strategy = LoadStrategy::direct; break;
      case Placement::replicate: {
        ReplicaStrategy mode = o.replicated;
        if (mode == ReplicaStrategy::automatic) {
          const double every = cost.reads(ceil_div(B, cost.max_request)) + L * b / cost.storage;
          const double striped = cost.reads(ceil_div(B, cost.max_request * per_node)) + b / cost.storage +
                                 b * (L - 1) / L / cost.network + cost.collective;
          mode = per_node > 1 && striped < every ? ReplicaStrategy::per_node : ReplicaStrategy::every_rank;
        }
        const bool group = mode == ReplicaStrategy::per_world ? world > 1
                                                              : mode == ReplicaStrategy::per_node && per_node > 1;
        d.strategy = B > 0 && group ? LoadStrategy::striped : LoadStrategy::direct;
        d.per_world = mode == ReplicaStrategy::per_world;
        break;
      }
      case Placement::split: {
        const SplitGeometry g = geometry(t, d.a.dim);
        const std::uint64_t run0 = ceil_div(g.n, world) * g.inner_bits / 8;
        const bool strided = world > 1 && g.rows > 1 && B > 0 && run0 < g.row_bytes;
        if (!strided) {
          d.strategy = LoadStrategy::direct;
          break;
        }
        SplitStrategy mode = o.split;
        if (mode == SplitStrategy::automatic) {
          const std::uint64_t k = runs_per_request(run0, g.row_bytes, g.rows, o.coalesce);
          const std::uint64_t requests = ceil_div(g.rows, k);
          const double direct_bytes = k > 1 ? static_cast<double>(requests) * static_cast<double>((k - 1) * g.row_bytes + run0)
                                            : static_cast<double>(g.rows) * static_cast<double>(run0);
          const double direct = cost.reads(requests) + L * direct_bytes / cost.storage;
          const double rows_bytes = static_cast<double>(ceil_div(g.rows, world) * g.row_bytes);
          const double redistribute = cost.reads(ceil_div(ceil_div(g.rows, world) * g.row_bytes, cost.max_request)) +
                                      L * rows_bytes / cost.storage + rows_bytes * (w - 1) / w / cost.network +
                                      cost.collective;
          mode = redistribute < direct ? SplitStrategy::redistribute : SplitStrategy::direct;
        }
        d.strategy = mode == SplitStrategy::redistribute ? LoadStrategy::redistribute : LoadStrategy::direct;
        break;
      }
    }
  }

  // Exchange rounds: tensors that need one, in checkpoint order, grouped while
  // an upper bound of their staging + send + receive bytes per rank fits.
  std::uint32_t rounds = 1;
  {
    std::uint64_t used = 0;
    bool any = false;
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      Decision& d = decisions[i];
      if (d.strategy != LoadStrategy::redistribute && d.strategy != LoadStrategy::striped) continue;
      const TensorInfo& t = *tensors[i].info;
      std::uint64_t need = 0;
      if (d.strategy == LoadStrategy::redistribute) {
        const SplitGeometry g = geometry(t, d.a.dim);
        const std::uint64_t staging = ceil_div(g.rows, world) * g.row_bytes;
        need = 2 * staging + ceil_div(t.byte_size(), world) + g.rows;
      } else {
        const std::uint64_t G = d.per_world ? world : per_node;
        need = ceil_div(t.byte_size(), G) * (G - 1) + t.byte_size();
      }
      if (any && used + need > o.max_round_bytes) {
        ++rounds;
        used = 0;
      }
      any = true;
      used += need;
      d.round = rounds - 1;
    }
  }

  // --- pass 2: this rank's work ---------------------------------------------------------
  RankPlan out;
  RankLoadPlan& sum = out.summary;
  sum.rank = rank;
  sum.world = world;
  sum.rounds = rounds;
  sum.tensors.resize(tensors.size());
  out.output_at.assign(tensors.size(), 0);
  out.rounds.resize(rounds);
  std::vector<std::vector<Range>> ranges(rounds);
  std::vector<ScatterRead> scatter_reads;
  for (Round& r : out.rounds) {
    r.send.resize(world);
    r.receive.resize(world);
  }

  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const CheckpointTensor& ct = tensors[i];
    const TensorInfo& t = *ct.info;
    const Decision& d = decisions[i];
    PlannedTensor& pt = sum.tensors[i];
    pt.index = i;
    pt.name.assign(t.name);
    pt.assignment = d.a;
    pt.strategy = d.strategy;
    pt.round = d.round;
    pt.part = tensor_part(t, d.a, rank, world);
    if (pt.part.held) {
      out.output_at[i] = out.output_bytes;
      out.output_bytes = align_up(out.output_bytes + pt.part.byte_size(), output_alignment);
      sum.bytes_held += pt.part.byte_size();
    }
    const auto shard = static_cast<std::uint32_t>(ct.shard);
    const auto ti = static_cast<std::uint32_t>(i);
    const std::uint64_t base = ct.file->header().data_start() + t.data_offsets.begin;
    const std::uint64_t out_at = out.output_at[i];
    Round& round = out.rounds[d.round];

    switch (d.strategy) {
      case LoadStrategy::none: break;
      case LoadStrategy::direct: {
        const TensorPart& p = pt.part;
        if (!p.held || p.byte_size() == 0) break;
        if (p.count == 1) {
          ranges[d.round].push_back({shard, ti, base + p.first, p.run_bytes, Buf::output, out_at});
          pt.bytes_read = p.run_bytes;
        } else {
          StridedRead s{shard, ti, base + p.first, p.run_bytes, p.count, p.stride, out_at,
                        runs_per_request(p.run_bytes, p.stride, p.count, o.coalesce)};
          const std::uint64_t full = p.count / s.per_request, rest = p.count % s.per_request;
          auto span = [&](std::uint64_t k) { return (k - 1) * s.stride + s.run; };
          pt.bytes_read = full * span(s.per_request) + (rest ? span(rest) : 0);
          sum.requests.push_back({ct.shard, s.offset, pt.bytes_read, p.byte_size(), full + (rest != 0),
                                  s.per_request * s.stride});
          round.strided.push_back(s);
        }
        break;
      }
      case LoadStrategy::redistribute: {
        const SplitGeometry g = geometry(t, d.a.dim);
        const std::uint64_t r0 = share(g.rows, rank, world), r1 = share(g.rows, rank + 1, world);
        const std::uint64_t mine_run = pt.part.held ? pt.part.run_bytes : 0;
        if (r1 > r0) {
          pt.bytes_read = (r1 - r0) * g.row_bytes;
          // Read straight into the receivers' send blocks when runs are wide
          // enough; otherwise through staging.
          const bool scatter = g.row_bytes >= min_scatter_run * world;
          ScatterRead sr{d.round, shard, ti, base + r0 * g.row_bytes, r0, r1, g.row_bytes, out_at, {}};
          std::uint64_t st = 0;
          if (!scatter) {
            st = round.staging_bytes;
            round.staging_bytes = align_up(st + (r1 - r0) * g.row_bytes, output_alignment);
            ranges[d.round].push_back({shard, ti, sr.offset, (r1 - r0) * g.row_bytes, Buf::staging, st});
          }
          for (std::uint32_t q = 0; q < world; ++q) {
            const IndexRange cols = chunk_range(g.n, q, world);
            const std::uint64_t run = (cols.stop - cols.start) * g.inner_bits / 8;
            sr.columns.push_back({run, q == rank ? ~std::size_t{0} : round.send[q].size()});
            if (run == 0) continue;
            Copy c{scatter ? Buf::send : Buf::staging, st + cols.start * g.inner_bits / 8, run, r1 - r0, g.row_bytes, 0};
            if (q != rank) round.send[q].push_back(c);
            else if (!scatter) round.self.push_back({c.src, c.src_at, c.run, c.count, c.stride, out_at + r0 * run});
          }
          if (scatter) scatter_reads.push_back(std::move(sr));
        }
        if (mine_run > 0) {
          for (std::uint32_t p = 0; p < world; ++p) {
            const std::uint64_t p0 = share(g.rows, p, world), p1 = share(g.rows, p + 1, world);
            if (p != rank && p1 > p0) round.receive[p].push_back({out_at + p0 * mine_run, (p1 - p0) * mine_run});
          }
        }
        break;
      }
      case LoadStrategy::striped: {
        const std::vector<std::uint32_t>* group_ptr = &members[nodes[rank]];
        std::vector<std::uint32_t> everyone;
        if (d.per_world) {
          everyone.resize(world);
          for (std::uint32_t r = 0; r < world; ++r) everyone[r] = r;
          group_ptr = &everyone;
        }
        const auto& group = *group_ptr;
        const std::uint64_t B = t.byte_size(), G = group.size();
        const auto me = static_cast<std::uint64_t>(std::find(group.begin(), group.end(), rank) - group.begin());
        const std::uint64_t s0 = share(B, me, G), s1 = share(B, me + 1, G);
        if (s1 > s0) {
          ranges[d.round].push_back({shard, ti, base + s0, s1 - s0, Buf::output, out_at + s0});
          pt.bytes_read = s1 - s0;
        }
        for (std::uint64_t j = 0; j < G; ++j) {
          if (j == me) continue;
          if (s1 > s0) round.send[group[j]].push_back({Buf::output, out_at + s0, s1 - s0, 1, s1 - s0, 0});
          const std::uint64_t p0 = share(B, j, G), p1 = share(B, j + 1, G);
          if (p1 > p0) round.receive[group[j]].push_back({out_at + p0, p1 - p0});
        }
        break;
      }
    }
    if (d.strategy == LoadStrategy::redistribute || d.strategy == LoadStrategy::striped) round.exchange = true;
  }

  for (std::uint32_t k = 0; k < rounds; ++k) {
    Round& r = out.rounds[k];
    r.requests = coalesce(std::move(ranges[k]), o.coalesce);
    r.send_counts.assign(world, 0);
    r.receive_counts.assign(world, 0);
    for (std::uint32_t q = 0; q < world; ++q) {
      for (const Copy& c : r.send[q]) r.send_counts[q] += c.bytes();
      for (const Receive& v : r.receive[q]) r.receive_counts[q] += v.length;
      sum.bytes_to_send += r.send_counts[q];
      sum.bytes_to_receive += r.receive_counts[q];
    }
  }
  if (!scatter_reads.empty()) {
    std::vector<std::vector<std::vector<std::uint64_t>>> copy_at(rounds);
    for (std::uint32_t k = 0; k < rounds; ++k) {
      std::uint64_t at = 0;
      copy_at[k].resize(world);
      for (std::uint32_t q = 0; q < world; ++q)
        for (const Copy& c : out.rounds[k].send[q]) {
          copy_at[k][q].push_back(at);
          at += c.bytes();
        }
    }
    for (const ScatterRead& sr : scatter_reads)
      add_scatter_requests(sr, out.rounds[sr.round], copy_at[sr.round], world, o.coalesce);
  }
  for (const Round& r : out.rounds)
    for (const Request& q : r.requests) sum.requests.push_back({q.shard, q.offset, q.length, q.useful, 1, 0});
  for (const PlannedRead& q : sum.requests) sum.bytes_read += q.length;

  // The fingerprint: everything the collectives' pairing depends on.
  Xxh3Hasher h;
  auto put = [&](const void* p, std::size_t n) { h.update({static_cast<const std::byte*>(p), n}); };
  auto put64 = [&](std::uint64_t v) { put(&v, sizeof v); };
  put64(world);
  for (auto n : nodes) put64(n);
  put64(tensors.size());
  put64(rounds);
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const TensorInfo& t = *tensors[i].info;
    const Decision& d = decisions[i];
    put64(t.name.size());
    put(t.name.data(), t.name.size());
    put64(static_cast<std::uint64_t>(t.dtype));
    put64(t.shape.size());
    for (auto s : t.shape) put64(s);
    put64(t.byte_size());
    put64(static_cast<std::uint64_t>(d.strategy) | static_cast<std::uint64_t>(d.a.placement) << 8 |
          static_cast<std::uint64_t>(d.per_world) << 16 | static_cast<std::uint64_t>(d.round) << 32);
    put64(d.a.dim);
    put64(d.a.expert);
    put64(d.a.experts);
  }
  out.fingerprint = h.digest();
  return out;
}

}  // namespace sft::detail
