// swift-tools-version:6.1
import PackageDescription

/// Settings every target of ours shares: Swift 6 mode plus the upcoming features the Swift server
/// ecosystem has settled on.
let swiftSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    // Release builds skip the run-time exclusivity checks on class properties: profiling showed them at ~13% of a
    // pipelined SET (AccessSet::insert, swift_beginAccess, TLS lookups). Debug builds and tests keep them, so an
    // overlapping access still traps there. Bounds and overflow checks stay on (-O, not -Ounchecked).
    // Cross-module optimisation lets the generic read paths (Keyspace.read, Store.readCommitted,
    // Database.withValue) be specialised in the server module instead of looking up generic metadata on every GET.
    .unsafeFlags(["-enforce-exclusivity=unchecked", "-cross-module-optimization"], .when(configuration: .release)),
]

let package = Package(
    name: "kvnode",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "kvnode-server", targets: ["kvnode-server"]),
        .executable(name: "kvnode-dump", targets: ["kvnode-dump"]),
        .library(name: "KVServer", targets: ["KVServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        // Debian's libleveldb-dev ships no .pc file, so the module map links the library by name.
        .systemLibrary(name: "CLevelDB", providers: [.apt(["libleveldb-dev"]), .brew(["leveldb"])]),
        .target(name: "LevelDB", dependencies: ["CLevelDB"], swiftSettings: swiftSettings),
        // gzip for snapshots; Debian's zlib1g-dev.
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]),
        // XXH3 for DIGEST and the IFDEQ/IFDNE conditions; Debian's libxxhash-dev.
        .systemLibrary(name: "CXXHash", providers: [.apt(["libxxhash-dev"]), .brew(["xxhash"])]),
        // Lua 5.1 with cjson and bit, for scripts (EVAL); Debian's liblua5.1-0-dev, lua-cjson-dev, lua-bitop-dev.
        .systemLibrary(
            name: "CLua", providers: [.apt(["liblua5.1-0-dev", "lua-cjson-dev", "lua-bitop-dev"]), .brew(["lua@5.1"])]),
        .target(
            name: "RESP",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KVStore",
            dependencies: [
                "LevelDB",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KVSnapshot",
            dependencies: ["CZlib", "KVStore", "LevelDB"],
            swiftSettings: swiftSettings
        ),
        // The command engine: executor, command table, command families, Pub/Sub, transactions, CONFIG, INFO. Knows
        // nothing of sockets.
        .target(
            name: "KVEngine",
            dependencies: [
                "RESP", "KVStore", "LevelDB", "KVSnapshot", "CXXHash", "CLua",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The network server: bootstrap, the connection state machine, push delivery, durable replies, and the
        // background services around the store.
        .target(
            name: "KVServer",
            dependencies: [
                "KVEngine", "RESP", "KVStore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                // TLS/ only: plain TCP and Unix socket connections never pass through it.
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "kvnode-server",
            dependencies: [
                "KVServer", "KVEngine", "KVStore", "KVSnapshot",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "kvnode-dump",
            dependencies: [
                "KVSnapshot", "KVStore", "LevelDB",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "LevelDBTests", dependencies: ["LevelDB"], swiftSettings: swiftSettings),
        .testTarget(
            name: "RESPTests",
            dependencies: ["RESP", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KVStoreTests",
            dependencies: ["KVStore", "LevelDB", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KVSnapshotTests",
            dependencies: ["KVSnapshot", "KVStore", "LevelDB", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KVEngineTests",
            dependencies: [
                "KVEngine", "KVStore", "RESP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The request path in-process: EmbeddedChannel connections to an engine over a temporary store and a clock
        // the tests move.
        .testTarget(
            name: "KVServerTests",
            dependencies: [
                "KVServer", "KVEngine", "KVStore", "LevelDB", "RESP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "IntegrationTests", dependencies: [], swiftSettings: swiftSettings),
    ]
)

// Micro-benchmarks (Benchmarks/, with ordo-one/benchmark, formerly package-benchmark) exist only when KVNODE_BENCHMARKS
// is set, so a plain `swift build`, `swift test` and CI never resolve it. scripts/microbench sets it and runs them.
// MallocInterposer alone: the default RuntimeInterposer trait would pull in swift-runtime-interposer on Linux.
if Context.environment["KVNODE_BENCHMARKS"] != nil {
    package.dependencies.append(
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.0", traits: ["MallocInterposer"])
    )
    package.targets.append(
        .executableTarget(
            name: "KVNodeBenchmarks",
            dependencies: [
                "RESP", "KVStore", "KVEngine", "KVServer", "KVSnapshot", "LevelDB",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/KVNodeBenchmarks",
            swiftSettings: swiftSettings,
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    )
}
