"""Arithmetic on IP ranges: sizes, free addresses and overlaps in O(n log n), never address by address
(a range 0.0.0.0-255.255.255.255 holds 2**32 of them) nor pair by pair (a spec may list many ranges)."""

from bisect import bisect_right
from ipaddress import IPv4Address


def intervals(ranges) -> list[tuple[int, int]]:
    """The ranges as sorted, merged [start, end] integer intervals (reversed ranges left out)."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted((int(r.start), int(r.end)) for r in ranges if r.end >= r.start):
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def address_count(ranges) -> int:
    """How many distinct addresses the ranges hold."""
    return sum(end - start + 1 for start, end in intervals(ranges))


def _as_int(address) -> int | None:
    try:
        return int(IPv4Address(address))
    except ValueError:
        return None


def free_in_ranges(ranges, taken) -> int:
    """Distinct addresses of the ranges that are not in `taken` (addresses as text or IPv4Address)."""
    merged = intervals(ranges)
    starts = [start for start, _ in merged]
    inside = 0
    for value in {v for v in map(_as_int, taken) if v is not None}:
        index = bisect_right(starts, value) - 1
        if index >= 0 and value <= merged[index][1]:
            inside += 1
    return sum(end - start + 1 for start, end in merged) - inside


def overlapping_pairs(ranges) -> list[tuple[int, int]]:
    """(index, index of a range it overlaps) for each range that overlaps one before it in address order;
    the first index is the later of the two in the list, as a reader would fix it."""
    order = sorted((i for i, r in enumerate(ranges) if r.end >= r.start), key=lambda i: (int(ranges[i].start), i))
    pairs = []
    widest = None  # the range reaching furthest so far
    for index in order:
        if widest is not None and int(ranges[index].start) <= int(ranges[widest].end):
            pairs.append((max(index, widest), min(index, widest)))
        if widest is None or int(ranges[index].end) > int(ranges[widest].end):
            widest = index
    return sorted(pairs)


def cross_overlaps(ranges, others) -> list[tuple[int, int]]:
    """(index in ranges, index in others) for each range of `ranges` overlapping some range of `others`."""
    order = sorted((i for i, r in enumerate(others) if r.end >= r.start), key=lambda i: int(others[i].start))
    starts = [int(others[i].start) for i in order]
    reach: list[int] = []  # reach[k]: the index (in others) reaching furthest among order[:k + 1]
    for i in order:
        reach.append(i if not reach or int(others[i].end) > int(others[reach[-1]].end) else reach[-1])
    pairs = []
    for index, r in enumerate(ranges):
        if r.end < r.start:
            continue
        count = bisect_right(starts, int(r.end))  # others starting at or before this range's end
        if count and int(others[reach[count - 1]].end) >= int(r.start):
            pairs.append((index, reach[count - 1]))
    return pairs

