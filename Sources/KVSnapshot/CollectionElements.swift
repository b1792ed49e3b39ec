import KVStore

extension KeyspaceSnapshot {
    /// Calls `body` with every element of a collection, in the form snapshots and the command stream hold it: a hash
    /// field and its value, a set member, a list item, a sorted set member and its score. The one place that knows how
    /// each type's elements are stored (`ElementLayout`).
    /// - Throws: `SnapshotError` for a type whose elements this version cannot read, or what `body` throws.
    public func forEachSnapshotElement(
        of type: ValueType, metadata: CollectionMetadata,
        _ body: (_ element: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, _ score: Double) throws -> Void
    ) throws {
        let empty = UnsafeRawBufferPointer(start: nil, count: 0)
        switch type {
        case .hash:
            try forEachElement(generation: metadata.generation, kind: ElementLayout.hashField) { field, value in
                try body(field, value, 0)
                return true
            }
        case .set:
            try forEachElement(generation: metadata.generation, kind: ElementLayout.setMember) { member, _ in
                try body(member, empty, 0)
                return true
            }
        case .list:
            // Head to tail: positions sort as the items' order.
            try forEachElement(generation: metadata.generation, kind: ElementLayout.listItem) { _, item in
                try body(item, empty, 0)
                return true
            }
        case .sortedSet:
            try forEachElement(generation: metadata.generation, kind: ElementLayout.sortedSetMember) { member, text in
                guard let score = SortedSetScore.parse(text) else {
                    throw SnapshotError(.corrupt, "a sorted set member's score is not a number")
                }
                try body(member, empty, score)
                return true
            }
        case .string:
            throw SnapshotError(.corrupt, "keys of type \(type.name) cannot be exported by this version")
        }
    }
}
