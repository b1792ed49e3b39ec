import NIOCore

/// A list's end: LEFT (the head) or RIGHT (the tail).
public enum ListEnd: Sendable, Equatable {
    case head, tail

    /// The other end.
    public var opposite: ListEnd { self == .head ? .tail : .head }
}

/// Lists on the collection layout (docs/storage-format.md, Lists): item `i` of a list is the element
/// `'l' + BE64(head + i)`, with `head` and `tail` (one past the last item) in the collection's metadata. Positions
/// start in the middle of the 64-bit range (`origin`), so both ends grow without renumbering: a push, a pop, LINDEX
/// and LSET are one lookup or write, LRANGE is one seek then one step per item. Only LINSERT and LREM move items,
/// and only those between the change and the nearer end (LINSERT) or the removed ones' span (LREM).
public enum ListLayout {
    /// The position of a new list's first item: 2⁶³, so 2⁶³ pushes fit at each end.
    public static let origin: UInt64 = 1 << 63

    /// The element bytes of a position (big-endian, so element order is position order).
    @inlinable
    static func withPosition<R>(_ position: UInt64, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeBytes(of: position.bigEndian, body)
    }

    /// The position an element's bytes encode.
    static func position(_ element: UnsafeRawBufferPointer) -> UInt64 {
        element.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }
}

extension StoredCollection {
    /// A list's first and one-past-last positions.
    public var listEnds: CollectionMetadata.Ends {
        metadata.ends ?? CollectionMetadata.Ends(head: ListLayout.origin, tail: ListLayout.origin)
    }
}

extension Keyspace {
    static let listItem = ElementLayout.listItem

    /// A new, empty list for `key` (which must not exist); `save` stores it once it has items.
    public func createList(_ key: ByteBuffer) -> StoredCollection {
        var list = createCollection(key, .list)
        list.metadata.ends = CollectionMetadata.Ends(head: ListLayout.origin, tail: ListLayout.origin)
        return list
    }

    /// Hands item `index` (0-based from the head, within `0..<count`) to `body`.
    public func listItem<R>(
        _ list: StoredCollection, at index: Int, _ body: (_ item: UnsafeRawBufferPointer) throws -> R
    ) throws -> R? {
        guard index >= 0, index < list.count else { return nil }
        return try ListLayout.withPosition(list.listEnds.head &+ UInt64(index)) {
            try element(of: list, kind: Self.listItem, $0, body)
        }
    }

    /// Item `index` as a buffer.
    public func listItem(_ list: StoredCollection, at index: Int) throws -> ByteBuffer? {
        try listItem(list, at: index) { ByteBuffer(bytes: $0) }
    }

    /// Visits items `first...last` (indices, clamped by the caller) head to tail, or tail to head with `.descending`.
    /// - Parameter body: the item's index and bytes; returns false to stop.
    public func forEachItem(
        of list: StoredCollection, from first: Int, through last: Int, order: IterationOrder = .ascending,
        _ body: (_ index: Int, _ item: UnsafeRawBufferPointer) throws -> Bool
    ) throws {
        guard first <= last, list.count > 0 else { return }
        let head = list.listEnds.head
        let lower = withUnsafeBytes(of: (head &+ UInt64(first)).bigEndian) { Array($0) }
        let upper = withUnsafeBytes(of: (head &+ UInt64(last)).bigEndian) { Array($0) }
        let range = KeyRange(lower: .init(lower, inclusive: true), upper: .init(upper, inclusive: true))
        try forEachElement(of: list, kind: Self.listItem, in: range, order: order) { element, item in
            try body(Int(truncatingIfNeeded: ListLayout.position(element) &- head), item)
        }
    }

    /// Pushes `item` at `end`, logged as `lpush`/`rpush`.
    public func pushItem(_ list: inout StoredCollection, _ item: ByteBuffer, at end: ListEnd) {
        var ends = list.listEnds
        let position: UInt64
        if end == .head {
            ends.head &-= 1
            position = ends.head
        } else {
            position = ends.tail
            ends.tail &+= 1
        }
        list.metadata.ends = ends
        list.count += 1
        writeItem(&list, at: position, item)
        logListEvent(&list, end == .head ? .listLeftPush : .listRightPush, element: item, value: nil)
    }

    /// Pops the item at `end`, logged as `lpop`/`rpop`; nil for an empty list.
    public func popItem(_ list: inout StoredCollection, from end: ListEnd) throws -> ByteBuffer? {
        guard list.count > 0 else { return nil }
        var ends = list.listEnds
        let position = end == .head ? ends.head : ends.tail &- 1
        guard let item = try ListLayout.withPosition(position, { bytes in
            try element(of: list, kind: Self.listItem, bytes) { ByteBuffer(bytes: $0) }
        }) else { throw CorruptCollectionError(key: Array(list.key.readableBytesView)) }
        if end == .head { ends.head &+= 1 } else { ends.tail &-= 1 }
        list.metadata.ends = ends
        list.count -= 1
        writeItem(&list, at: position, nil)
        logListEvent(&list, end == .head ? .listLeftPop : .listRightPop, element: item, value: nil)
        return item
    }

    /// Replaces item `index` (within `0..<count`), logged as `lset index item`.
    public func setItem(_ list: inout StoredCollection, at index: Int, _ item: ByteBuffer) {
        writeItem(&list, at: list.listEnds.head &+ UInt64(index), item)
        var digits = ByteBuffer()
        digits.writeString(String(index))
        logListEvent(&list, .listSet, element: digits, value: item)
    }

    /// Inserts `item` so that it becomes item `index` (`0...count`), beside the first `pivot` (LINSERT; logged as
    /// `linsert key BEFORE|AFTER pivot item`). The items between `index` and the nearer end move by one position:
    /// O(min(index, count - index)) reads and writes, and as many items held at once.
    public func insertItem(
        _ list: inout StoredCollection, _ item: ByteBuffer, at index: Int, pivot: ByteBuffer, after: Bool
    ) throws {
        var ends = list.listEnds
        let count = list.count
        if index <= count - index {
            // Items 0..<index move one position toward the head.
            let moved = try items(of: list, from: 0, through: index - 1)
            for (offset, moving) in moved.enumerated() { writeItem(&list, at: ends.head &- 1 &+ UInt64(offset), moving) }
            ends.head &-= 1
        } else {
            // Items index..<count move one position toward the tail.
            let moved = try items(of: list, from: index, through: count - 1)
            for (offset, moving) in moved.enumerated() {
                writeItem(&list, at: ends.head &+ UInt64(index + offset + 1), moving)
            }
            ends.tail &+= 1
        }
        list.metadata.ends = ends
        list.count += 1
        writeItem(&list, at: ends.head &+ UInt64(index), item)
        logListEvent(&list, after ? .listInsertAfter : .listInsertBefore, element: pivot, value: item)
    }

    /// Removes the items at `indices` (ascending, each holding `item`), as LREM found them from the head or, with
    /// `fromTail`, from the tail; logged as one `lrem key 1|-1 item` per item. The items kept between the removed
    /// ones and the end LREM started from close the gaps: O(span) reads and writes, where span is the distance from
    /// that end to the farthest removed item.
    public func removeItems(
        _ list: inout StoredCollection, at indices: [Int], item: ByteBuffer, fromTail: Bool
    ) throws {
        guard let first = indices.first, let last = indices.last else { return }
        var ends = list.listEnds
        let count = list.count
        let removed = Set(indices)
        if fromTail {
            // Items after `first` that stay move toward the head; the tail shrinks.
            let span = try items(of: list, from: first, through: count - 1)
            var target = first
            for (offset, kept) in span.enumerated() where !removed.contains(first + offset) {
                writeItem(&list, at: ends.head &+ UInt64(target), kept)
                target += 1
            }
            for position in (ends.tail &- UInt64(indices.count))..<ends.tail { writeItem(&list, at: position, nil) }
            ends.tail &-= UInt64(indices.count)
        } else {
            // Items before `last` that stay move toward the tail; the head shrinks.
            let span = try items(of: list, from: 0, through: last)
            var target = last
            for (offset, kept) in span.enumerated().reversed() where !removed.contains(offset) {
                writeItem(&list, at: ends.head &+ UInt64(target), kept)
                target -= 1
            }
            for position in ends.head..<(ends.head &+ UInt64(indices.count)) { writeItem(&list, at: position, nil) }
            ends.head &+= UInt64(indices.count)
        }
        list.metadata.ends = ends
        list.count -= indices.count
        var direction = ByteBuffer()
        direction.writeString(fromTail ? "-1" : "1")
        for _ in indices { logListEvent(&list, .listRemove, element: direction, value: item) }
    }

    /// Deletes `head` items from the head and `tail` from the tail (LTRIM), logged as one `lpop`/`rpop` each:
    /// O(items removed).
    public func trimList(_ list: inout StoredCollection, head: Int, tail: Int) throws {
        for _ in 0..<head { _ = try popItem(&list, from: .head) }
        for _ in 0..<tail { _ = try popItem(&list, from: .tail) }
    }

    /// Items `first...last`, copied.
    private func items(of list: StoredCollection, from first: Int, through last: Int) throws -> [ByteBuffer] {
        var found: [ByteBuffer] = []
        guard first <= last else { return found }
        found.reserveCapacity(last - first + 1)
        try forEachItem(of: list, from: first, through: last) { _, item in
            found.append(ByteBuffer(bytes: item))
            return true
        }
        guard found.count == last - first + 1 else { throw CorruptCollectionError(key: Array(list.key.readableBytesView)) }
        return found
    }

    /// Stages the item at `position` (nil deletes it), unlogged.
    private func writeItem(_ list: inout StoredCollection, at position: UInt64, _ item: ByteBuffer?) {
        _ = touch(&list)
        ListLayout.withPosition(position) { stageElement(list, kind: Self.listItem, $0, value: item) }
    }

    private func logListEvent(
        _ list: inout StoredCollection, _ operation: ChangeOperation, element: ByteBuffer, value: ByteBuffer?
    ) {
        let revision = touch(&list)
        element.withUnsafeReadableBytes { logElementEvent(operation, list, revision, element: $0, value: value) }
    }
}
