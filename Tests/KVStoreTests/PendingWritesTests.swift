import NIOCore
import Testing

@testable import KVStore

@Suite struct PendingWritesTests {
    func value(_ entry: Keyspace.PendingEntry?) -> String? {
        guard case .record(let value, _, _, _, _) = entry else { return nil }
        return String(buffer: value)
    }

    @Test func storesOverwritesAndFindsManyKeysThroughGrowth() {
        var table = PendingWrites<Keyspace.PendingEntry>()
        for index in 0..<10_000 {
            table[ByteBuffer(string: "key:\(index)")] = .record(value: ByteBuffer(string: "v\(index)"), expireAt: 0, revision: .unknown, type: .string)
        }
        table[ByteBuffer(string: "key:42")] = .record(value: ByteBuffer(string: "new"), expireAt: 0, revision: .unknown, type: .string)
        table[ByteBuffer(string: "key:43")] = .deleted
        #expect(table.count == 10_000)
        #expect(value(table[ByteBuffer(string: "key:9999")]) == "v9999")
        #expect(value(table[ByteBuffer(string: "key:42")]) == "new")
        if case .deleted = table[ByteBuffer(string: "key:43")] {} else { Issue.record("key:43 should be deleted") }
        #expect(table[ByteBuffer(string: "key:10000")] == nil)
        // Keys of every length up to and past the 8-byte step, including the empty key.
        for length in 0..<20 {
            let key = ByteBuffer(bytes: [UInt8](repeating: 7, count: length))
            table[key] = .record(value: ByteBuffer(string: "\(length)"), expireAt: 0, revision: .unknown, type: .string)
        }
        for length in 0..<20 {
            #expect(value(table[ByteBuffer(bytes: [UInt8](repeating: 7, count: length))]) == "\(length)")
        }
    }

    @Test func removeAllForgetsEverything() {
        var table = PendingWrites<Keyspace.PendingEntry>()
        for index in 0..<100 { table[ByteBuffer(string: "\(index)")] = .deleted }
        table.removeAll()
        #expect(table.isEmpty)
        for index in 0..<100 { #expect(table[ByteBuffer(string: "\(index)")] == nil) }
        table[ByteBuffer(string: "again")] = .record(value: ByteBuffer(string: "x"), expireAt: 0, revision: .unknown, type: .string)
        #expect(value(table[ByteBuffer(string: "again")]) == "x")
    }
}
